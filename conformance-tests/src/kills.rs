//! The crash test every backend with tars' own engines runs: the tars process is killed with
//! SIGKILL again and again while a Deployment rolls from one revision to the next and a
//! per-second CronJob fires (every minute where schedules fire on whole minutes: [`Every`]);
//! each time a new process takes over the same state and starts the next rollout. At the end the Deployment has converged on the last revision applied and every
//! slot of the CronJob from the first to the last is one run or one `Missed` record: none
//! started twice, none vanished.
//!
//! A backend's test binary holds two tests: the child ([`child`], which returns at once unless
//! [`STATE_ENV`] is set) and the parent, which calls [`kill_children`], then
//! [`converged_revision`] and [`end_state`] with its own look at the engine (processes, tasks,
//! servers). [`trials`] makes the two for a binary whose engine may be missing.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use libtest_mimic::{Failed, Trial};
use tars_api::api::{ApplyOptions, DeleteOptions};
use tars_api::conditions::is_deployment_complete;
use tars_api::group::GroupTemplate;
use tars_api::{
    Backend, Container, ContainerGroupSpec, CronJob, CronJobSpec, CronRun, Deployment,
    DeploymentSpec, RestartPolicy, RunOutcome, Strategy,
};

/// The variable that makes the child test run: the state directory.
pub const STATE_ENV: &str = "TARS_ROLLOUT_KILL_STATE";

/// The Deployment's name.
pub const DEPLOYMENT: &str = "web";

/// The CronJob's name.
pub const JOB: &str = "tick";

/// The Deployment's replicas.
pub const REPLICAS: u32 = 4;

/// What the child prints once its backend is open.
const OPENED: &str = "tars-rollout-opened";

/// How often the CronJob fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// `* * * * * *`.
    Second,
    /// `* * * * *`: for a backend whose schedules fire on whole minutes only (no
    /// `Feature::SecondsSchedules`).
    Minute,
}

impl Every {
    /// The CronJob's schedule.
    pub fn schedule(self) -> &'static str {
        match self {
            Every::Second => "* * * * * *",
            Every::Minute => "* * * * *",
        }
    }

    /// The time between two slots.
    pub fn step(self) -> Duration {
        match self {
            Every::Second => Duration::from_secs(1),
            Every::Minute => Duration::from_secs(60),
        }
    }
}

/// Revision `rev` of the Deployment: the sleep length tells the revisions apart.
pub fn deployment(rev: u64) -> Deployment {
    let mut c = Container::new("main", "busybox", &["sleep"]);
    c.args = vec![format!("{}", 10_000 + rev)];
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.termination_grace_period = Duration::from_secs(2);
    Deployment::new(
        DEPLOYMENT,
        DeploymentSpec {
            replicas: REPLICAS,
            template: GroupTemplate {
                labels: [("app".to_owned(), DEPLOYMENT.to_owned())].into(),
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

/// The revision of a group or template of [`deployment`].
pub fn revision_of(spec: &ContainerGroupSpec) -> Option<u64> {
    spec.containers
        .first()?
        .args
        .first()?
        .parse::<u64>()
        .ok()?
        .checked_sub(10_000)
}

/// The per-second CronJob, suspended or not.
pub fn tick(suspend: bool) -> CronJob {
    tick_every(Every::Second, suspend)
}

/// The CronJob firing `every` second or minute, suspended or not.
pub fn tick_every(every: Every, suspend: bool) -> CronJob {
    let mut spec = ContainerGroupSpec::new(vec![Container::new("main", "none", &["true"])]);
    spec.restart_policy = RestartPolicy::Never;
    CronJob::new(
        JOB,
        CronJobSpec {
            suspend,
            successful_history_limit: 1000,
            failed_history_limit: 1000,
            ..CronJobSpec::new(Some(every.schedule()), spec)
        },
    )
}

/// The revisions the journal says were begun and finished, in order.
pub fn journal(state: &Path) -> (Vec<u64>, Vec<u64>) {
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

/// The child's work, on a backend opened on `state`: applies the per-second CronJob, then
/// rolls the Deployment from revision to revision until it is killed. Each rollout is journaled
/// before and after, fsynced.
pub async fn child(backend: &dyn Backend, state: &Path) {
    child_every(backend, state, Every::Second).await;
}

/// [`child`], with the CronJob firing `every` second or minute.
pub async fn child_every(backend: &dyn Backend, state: &Path, every: Every) {
    backend
        .cron_jobs()
        .apply(&tick_every(every, false), ApplyOptions::default())
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
    println!("{OPENED}");
    let mut rev = journal(state).0.last().copied().unwrap_or(0);
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
            DEPLOYMENT,
            is_deployment_complete(),
            Duration::from_secs(60),
            |_| {},
        )
        .await
        .expect("rollout");
        note(format!("end {rev}"));
    }
}

/// The state directory the parent gave the child, if this process is a child.
pub fn child_state() -> Option<PathBuf> {
    std::env::var_os(STATE_ENV).map(PathBuf::from)
}

/// Runs test `child_test` of this test binary as the tars process `kills` times, with
/// `envs` and [`STATE_ENV`] set to `state`, killing it with SIGKILL at varied moments
/// (deterministic, 0.3–2.5 s after it opened its backend). Returns how many kills landed in
/// the middle of a rollout.
pub fn kill_children(child_test: &str, state: &Path, kills: u64, envs: &[(&str, &str)]) -> u64 {
    kill_children_for(child_test, state, kills, Duration::ZERO, envs).mid_rollout
}

/// What [`kill_children_for`] did.
#[derive(Debug, Clone)]
pub struct Kills {
    /// How many children were killed.
    pub count: u64,
    /// How many kills landed in the middle of a rollout.
    pub mid_rollout: u64,
    /// When each kill was sent.
    pub at: Vec<jiff::Timestamp>,
}

/// [`kill_children`], going on killing after the first `kills` until `at_least` has passed
/// since the first child started (so that a minute schedule's slots fall among the kills).
pub fn kill_children_for(
    child_test: &str,
    state: &Path,
    kills: u64,
    at_least: Duration,
    envs: &[(&str, &str)],
) -> Kills {
    let exe = std::env::current_exe().expect("test binary");
    let started = std::time::Instant::now();
    let mut mid_rollout = 0;
    let mut kill = 0;
    let mut at = Vec::new();
    while kill < kills || started.elapsed() < at_least {
        let mut child = Command::new(&exe)
            .args([child_test, "--exact", "--nocapture", "--test-threads=1"])
            .env(STATE_ENV, state)
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().expect("stdout");
        let mut opened = false;
        for line in BufReader::new(stdout).lines() {
            // libtest may print "test NAME ... " before the output on the same line.
            if line.expect("read").trim_end().ends_with(OPENED) {
                opened = true;
                break;
            }
        }
        assert!(opened, "child {kill} never opened the backend");
        std::thread::sleep(Duration::from_millis(300 + (kill * 577) % 2200));
        at.push(jiff::Timestamp::now());
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let (begun, ended) = journal(state);
        if begun.len() > ended.len() {
            mid_rollout += 1;
        }
        kill += 1;
    }
    Kills {
        count: kill,
        mid_rollout,
        at,
    }
}

/// Waits for the Deployment to converge after the last kill and checks it is on the last
/// revision begun or the last finished (a rollout killed before its apply was stored leaves
/// the previous one). Returns the revision.
pub async fn converged_revision(backend: &dyn Backend, state: &Path) -> u64 {
    let (begun, ended) = journal(state);
    let last_begun = *begun.last().expect("a rollout began");
    let last_ended = ended.last().copied().unwrap_or(0);
    let done = tars_engine::wait::wait_for(
        backend.deployments(),
        DEPLOYMENT,
        is_deployment_complete(),
        Duration::from_secs(90),
        |_| {},
    )
    .await
    .expect("the Deployment converges after the last kill")
    .expect("the Deployment exists");
    let rev = revision_of(&done.spec.template.spec).expect("revision");
    assert!(
        rev == last_begun || rev == last_ended,
        "converged on revision {rev}; the journal's last begun is {last_begun}, last ended {last_ended}"
    );
    rev
}

/// Suspends the per-second CronJob, waits until no run is active, and checks that every slot
/// from the first to the last is one record, run to success or missed. Returns the history.
pub async fn cron_history_settled(backend: &dyn Backend) -> Vec<CronRun> {
    cron_history_settled_allowing(backend, |_| false).await
}

/// [`cron_history_settled`], where a run may also have failed when `allowed` says its failure
/// is the fault the test provokes.
pub async fn cron_history_settled_allowing(
    backend: &dyn Backend,
    allowed: impl Fn(&CronRun) -> bool,
) -> Vec<CronRun> {
    cron_history_settled_every(backend, Every::Second, allowed).await
}

/// [`cron_history_settled_allowing`] for the CronJob firing `every` second or minute.
pub async fn cron_history_settled_every(
    backend: &dyn Backend,
    every: Every,
    allowed: impl Fn(&CronRun) -> bool,
) -> Vec<CronRun> {
    backend
        .cron_jobs()
        .apply(&tick_every(every, true), ApplyOptions::default())
        .await
        .expect("suspend");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let history = loop {
        let h = backend.cron_jobs().runs(JOB).await.expect("runs");
        if h.iter().all(|r| r.outcome != RunOutcome::Running) {
            break h;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runs still active: {h:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    crate::cases::cron::check_slots_once(&history, every.step(), allowed)
        .unwrap_or_else(|e| panic!("{e}"));
    history
}

/// Waits until the Deployment's rollout is complete (within `within`) and returns the revision
/// it completed on.
pub async fn wait_rollout(backend: &dyn Backend, within: Duration) -> Result<u64, String> {
    let d = tars_engine::wait::wait_for(
        backend.deployments(),
        DEPLOYMENT,
        is_deployment_complete(),
        within,
        |_| {},
    )
    .await
    .map_err(|e| format!("rollout: {e}"))?
    .ok_or("the Deployment vanished")?;
    revision_of(&d.spec.template.spec).ok_or_else(|| "no revision".to_owned())
}

/// Runs an engine's fault script (`scripts/engines/<engine>/kill-*.sh`, from the repository root)
/// with `args` and `envs`, and returns the line it printed, or why it failed.
pub fn fault_script(script: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(script);
    let out = Command::new(&path)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .map_err(|e| format!("{script}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{script} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The summary line the parent prints.
pub fn summary(
    kills: u64,
    mid_rollout: u64,
    state: &Path,
    rev: u64,
    history: &[CronRun],
) -> String {
    let (begun, ended) = journal(state);
    let count = |o: RunOutcome| history.iter().filter(|r| r.outcome == o).count();
    format!(
        "{kills} kills ({mid_rollout} mid-rollout), {} rollouts begun, {} finished; \
         converged on revision {rev}; cron: {} slots, {} succeeded once, {} failed, {} missed, \
         none twice",
        begun.len(),
        ended.len(),
        history.len(),
        count(RunOutcome::Succeeded),
        count(RunOutcome::Failed),
        count(RunOutcome::Missed),
    )
}

/// The end of every backend's kill test, once tars has converged on revision `rev`: exactly
/// [`REPLICAS`] groups of the Deployment are live on the engine, each with `per_group` live
/// units (processes, tasks or servers, as `live` lists them by group name) and each a group of
/// revision `rev`; the CronJob's history settles with every slot once
/// ([`cron_history_settled_every`]); then both are deleted, and nothing of them is live on the
/// engine within `gone_within` (checked at least once). Returns the history.
pub async fn end_state<L, Fut, U>(
    backend: &dyn Backend,
    rev: u64,
    every: Every,
    per_group: usize,
    gone_within: Duration,
    live: L,
) -> Vec<CronRun>
where
    L: Fn() -> Fut,
    Fut: Future<Output = BTreeMap<String, Vec<U>>>,
    U: Debug,
{
    end_state_allowing(backend, rev, every, per_group, gone_within, live, |_| false).await
}

/// [`end_state`], where a cron run may also have failed when `allowed` says its failure is the
/// fault the test provokes (an engine killed under it): recorded once, not lost.
pub async fn end_state_allowing<L, Fut, U>(
    backend: &dyn Backend,
    rev: u64,
    every: Every,
    per_group: usize,
    gone_within: Duration,
    live: L,
    allowed: impl Fn(&CronRun) -> bool,
) -> Vec<CronRun>
where
    L: Fn() -> Fut,
    Fut: Future<Output = BTreeMap<String, Vec<U>>>,
    U: Debug,
{
    let now = live().await;
    let web: BTreeMap<&String, &Vec<U>> = now
        .iter()
        .filter(|(name, _)| name.starts_with(&format!("{DEPLOYMENT}-")))
        .collect();
    assert_eq!(
        web.len(),
        REPLICAS as usize,
        "live groups of the Deployment: {web:?}"
    );
    for (name, units) in &web {
        assert_eq!(units.len(), per_group, "group {name} runs {units:?}");
        let group = backend
            .container_groups()
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("{name} is live on the engine without its group: {e}"));
        assert_eq!(
            revision_of(&group.spec),
            Some(rev),
            "group {name} is of an older revision"
        );
    }

    let history = cron_history_settled_every(backend, every, allowed).await;
    backend
        .deployments()
        .delete(DEPLOYMENT, DeleteOptions::default())
        .await
        .expect("delete the Deployment");
    backend
        .cron_jobs()
        .delete(JOB, DeleteOptions::default())
        .await
        .expect("delete the CronJob");
    let deadline = tokio::time::Instant::now() + gone_within;
    loop {
        let left = live().await;
        if left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "live on the engine after deleting: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    history
}

/// The two trials of a kill test's binary, `rollout_child` and the parent: run with `engine`
/// (where the engine is: a master's address, a clouds.yaml), or both ignored, printing why, when
/// `engine` says there is none.
pub fn trials(
    engine: Result<String, String>,
    child: fn(&str) -> Result<(), Failed>,
    parent: fn(&str) -> Result<(), Failed>,
) -> Vec<Trial> {
    const PARENT: &str = "sigkill_mid_rollout_and_mid_cron_converges_with_every_slot_once";
    match engine {
        Ok(engine) => {
            let e = engine.clone();
            vec![
                Trial::test("rollout_child", move || child(&e)),
                Trial::test(PARENT, move || parent(&engine)),
            ]
        }
        Err(why) => {
            eprintln!("{why}; every test ignored");
            vec![
                Trial::test("rollout_child", || Ok(())).with_ignored_flag(true),
                Trial::test(PARENT, || Ok(())).with_ignored_flag(true),
            ]
        }
    }
}
