//! The tars process is killed with SIGKILL twenty times while a Deployment rolls from one
//! revision to the next and a per-second CronJob fires; each time a new process takes over
//! the same state and starts the next rollout. At the end the Deployment has converged on the
//! last revision applied (exactly its replicas, each running exactly its own processes, none
//! of an older revision left), and every slot of the CronJob from the first to the last is
//! one run or one `Missed` record: none started twice, none vanished.

mod common;
use common::processes_by_group;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tars_api::api::{ApplyOptions, DeleteOptions};
use tars_api::conditions::is_deployment_complete;
use tars_api::group::GroupTemplate;
use tars_api::{
    Backend, Container, ContainerGroupSpec, CronJob, CronJobSpec, Deployment, DeploymentSpec,
    RestartPolicy, RunOutcome, Strategy,
};
use tars_backend_local::{LocalBackend, LocalConfig};
use tars_conformance::cases::cron::check_every_slot_once;

const STATE_ENV: &str = "TARS_ROLLOUT_KILL_STATE";
const KILLS: u64 = 20;
const REPLICAS: u32 = 4;

fn config(state: &Path) -> LocalConfig {
    LocalConfig::new(state).instance("kills")
}

/// Revision `rev` of the Deployment: the sleep length tells the revisions apart.
fn deployment(rev: u64) -> Deployment {
    let mut c = Container::new("main", "busybox", &["sleep"]);
    c.args = vec![format!("{}", 10_000 + rev)];
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.termination_grace_period = Duration::from_secs(2);
    Deployment::new(
        "web",
        DeploymentSpec {
            replicas: REPLICAS,
            template: GroupTemplate {
                labels: [("app".to_owned(), "web".to_owned())].into(),
                annotations: Default::default(),
                spec,
            },
            // A rollout of 4 replicas, one at a time, takes well over a second: the kills
            // land in the middle of one most of the time.
            min_ready: Duration::from_millis(400),
            strategy: Strategy::default(),
            progress_deadline: None,
            auto_rollback: false,
            paused: false,
            revision_history_limit: 3,
        },
    )
}

fn tick(suspend: bool) -> CronJob {
    let mut spec = ContainerGroupSpec::new(vec![Container::new("main", "none", &["true"])]);
    spec.restart_policy = RestartPolicy::Never;
    CronJob::new(
        "tick",
        CronJobSpec {
            suspend,
            successful_history_limit: 1000,
            failed_history_limit: 1000,
            ..CronJobSpec::new(Some("* * * * * *"), spec)
        },
    )
}

/// The revisions the journal says were begun and finished, in order.
fn journal(state: &Path) -> (Vec<u64>, Vec<u64>) {
    let text = std::fs::read_to_string(state.join("journal")).unwrap_or_default();
    let (mut begun, mut ended) = (Vec::new(), Vec::new());
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("begin", r)) => begun.extend(r.parse::<u64>().ok()),
            Some(("end", r)) => ended.extend(r.parse::<u64>().ok()),
            _ => {}
        }
    }
    (begun, ended)
}

/// The child: opens the backend on the state and rolls the Deployment from revision to
/// revision until it is killed. Each rollout is journaled before and after, fsynced.
#[test]
fn rollout_child() {
    let Some(state) = std::env::var_os(STATE_ENV) else {
        return; // run by the parent only
    };
    let state = PathBuf::from(state);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let backend = LocalBackend::open(config(&state)).await.expect("open");
        backend
            .cron_jobs()
            .apply(&tick(false), ApplyOptions::default())
            .await
            .expect("cron job");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(state.join("journal"))
            .expect("journal");
        let mut note = |line: String| {
            writeln!(file, "{line}").expect("journal write");
            file.sync_data().expect("journal sync");
        };
        println!("tars-rollout-opened");
        let mut rev = journal(&state).0.last().copied().unwrap_or(0);
        loop {
            rev += 1;
            note(format!("begin {rev}"));
            backend
                .deployments()
                .apply(&deployment(rev), ApplyOptions::default())
                .await
                .expect("apply");
            tars_engine::wait::wait_for(
                backend.deployments(),
                "web",
                is_deployment_complete(),
                Duration::from_secs(60),
                |_| {},
            )
            .await
            .expect("rollout");
            note(format!("end {rev}"));
        }
    });
}

#[test]
fn sigkill_mid_rollout_and_mid_cron_converges_with_every_slot_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state");
    let exe = std::env::current_exe().expect("test binary");
    let mut mid_rollout = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "rollout_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(STATE_ENV, &state)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().expect("stdout");
        let mut opened = false;
        for line in BufReader::new(stdout).lines() {
            // libtest may print "test rollout_child ... " before the output on the same line.
            if line
                .expect("read")
                .trim_end()
                .ends_with("tars-rollout-opened")
            {
                opened = true;
                break;
            }
        }
        assert!(opened, "child {kill} never opened the backend");
        // Kill it at varied moments (deterministic, spread over 0.3–2.5 s).
        std::thread::sleep(Duration::from_millis(300 + (kill * 577) % 2200));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let (begun, ended) = journal(&state);
        if begun.len() > ended.len() {
            mid_rollout += 1;
        }
    }
    let (begun, ended) = journal(&state);
    // A rollout killed before its apply was stored may leave the previous revision in place.
    let last_begun = *begun.last().expect("a rollout began");
    let last_ended = ended.last().copied().unwrap_or(0);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let backend = LocalBackend::open(config(&state))
            .await
            .expect("final open");
        let done = tars_engine::wait::wait_for(
            backend.deployments(),
            "web",
            is_deployment_complete(),
            Duration::from_secs(60),
            |_| {},
        )
        .await
        .expect("the Deployment converges after the last kill")
        .expect("the Deployment exists");
        let args = &done.spec.template.spec.containers[0].args;
        let rev: u64 = args[0].parse::<u64>().expect("sleep length") - 10_000;
        assert!(
            rev == last_begun || rev == last_ended,
            "converged on revision {rev}; the journal's last begun is {last_begun}, last ended {last_ended}"
        );

        // Exactly REPLICAS groups of the Deployment run, each with its wrapper and program.
        let procs = processes_by_group(&state);
        let web: BTreeMap<&String, &Vec<u32>> = procs
            .iter()
            .filter(|(name, _)| name.starts_with("web-"))
            .collect();
        assert_eq!(
            web.len(),
            REPLICAS as usize,
            "groups of the Deployment with processes: {web:?}"
        );
        for (name, pids) in &web {
            assert_eq!(pids.len(), 2, "group {name} runs {pids:?}");
            let group = backend
                .container_groups()
                .get(name)
                .await
                .unwrap_or_else(|e| panic!("process of group {name} without the group: {e}"));
            assert_eq!(
                group.spec.containers[0].args, *args,
                "group {name} is of an older revision"
            );
        }

        backend
            .cron_jobs()
            .apply(&tick(true), ApplyOptions::default())
            .await
            .expect("suspend");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let history = loop {
            let h = backend.cron_jobs().runs("tick").await.expect("runs");
            if h.iter().all(|r| r.outcome != RunOutcome::Running) {
                break h;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "runs still active: {h:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        check_every_slot_once(&history).unwrap_or_else(|e| panic!("{e}"));
        let ran = history
            .iter()
            .filter(|r| r.outcome == RunOutcome::Succeeded)
            .count();

        backend
            .deployments()
            .delete("web", DeleteOptions::default())
            .await
            .expect("delete");
        backend
            .cron_jobs()
            .delete("tick", DeleteOptions::default())
            .await
            .expect("delete");
        let left = processes_by_group(&state);
        assert!(left.is_empty(), "processes left after deleting: {left:?}");
        backend.shutdown().await.expect("shutdown");
        eprintln!(
            "{KILLS} kills ({mid_rollout} mid-rollout), {} rollouts begun, {} finished; \
             converged on revision {rev}; cron: {} slots, {ran} run once, {} missed, none twice",
            begun.len(),
            ended.len(),
            history.len(),
            history.len() - ran
        );
    });
}
