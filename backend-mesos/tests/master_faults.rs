//! Fault test: the Mesos process (master and agent share it) is killed with SIGKILL and
//! restarted (`scripts/engines/mesos/kill-mesos.sh`) in the middle of a rolling update and of a
//! per-second CronJob, again and again (`TARS_MESOS_FAULT_ROUNDS`, default 20). The master's
//! registry is in memory: after each restart tars' framework re-subscribes with its id, the
//! agent recovers the checkpointed executors and re-registers their tasks, and tars reconciles.
//! In each round the next revision is applied just before the kill; the rollout must complete
//! after the restart. At the end the Deployment has converged on the last revision (exactly its
//! replicas live on the master, one task each, all of that revision), every slot of the CronJob
//! from the first to the last is one run or one `Missed` record, and after deleting both no
//! task of the framework is alive. Through all the kills a call is made every 250 ms (any that
//! fails must fail with `Unavailable`), and a watch of the groups opened before the first kill
//! must still be delivering at the end, showing the last revision's replicas.
//!
//! Runs only when `TARS_MESOS_MASTER` (`127.0.0.1:PORT`) and `TARS_MESOS_STATE_DIR` (the
//! STATE_DIR of `scripts/engines/mesos/up.sh`, whose Mesos it restarts) are both set; otherwise
//! it is reported as ignored (not run), never as passed.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use libtest_mimic::{Arguments, Failed, Trial};
use tars_api::api::{ApplyOptions, DeleteOptions};
use tars_api::{Backend, Deployment};
use tars_backend_mesos::convert::{group_name, owned};
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::v1::master::CallType;
use tars_backend_mesos::{MesosBackend, MesosConfig};
use tars_conformance::kills::{self, DEPLOYMENT, JOB, REPLICAS};
use tars_conformance::outage::{Probes, WatchedGroups};

const MASTER_ENV: &str = "TARS_MESOS_MASTER";
const STATE_ENV: &str = "TARS_MESOS_STATE_DIR";
const ROUNDS_ENV: &str = "TARS_MESOS_FAULT_ROUNDS";
const INSTANCE: &str = "master-faults";

type Res<T> = Result<T, String>;

fn kill_mesos(state_dir: &str, port: &str, down: f64) -> Res<String> {
    kills::fault_script(
        "scripts/engines/mesos/kill-mesos.sh",
        &[state_dir, &format!("{down:.1}")],
        &[("TARS_MESOS_PORT", port)],
    )
}

/// The live tasks of the framework, by group.
async fn live_tasks(operator: &OperatorClient, framework: &str) -> Res<BTreeMap<String, usize>> {
    let tasks = operator
        .call(CallType::GetTasks)
        .await
        .map_err(|e| format!("GET_TASKS: {e}"))?
        .get_tasks
        .unwrap_or_default();
    let mut by_group = BTreeMap::new();
    for t in tasks.tasks {
        if t.framework_id.value == framework && owned(&t.labels, INSTANCE) && !t.state.is_terminal()
        {
            *by_group
                .entry(group_name(&t).unwrap_or("?").to_owned())
                .or_insert(0) += 1;
        }
    }
    Ok(by_group)
}

async fn apply(backend: &MesosBackend, d: &Deployment) -> Res<()> {
    backend
        .deployments()
        .apply(d, ApplyOptions::default())
        .await
        .map(drop)
        .map_err(|e| format!("apply: {e}"))
}

fn run(master: &str, state_dir: &str, rounds: u32) -> Result<(), Failed> {
    let port = master
        .rsplit_once(':')
        .map(|(_, p)| p)
        .unwrap_or("5050")
        .to_owned();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let state: PathBuf = dir.path().to_owned();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime
        .block_on(async {
            let operator = OperatorClient::new(master).map_err(|e| e.to_string())?;
            let backend = Arc::new(
                MesosBackend::connect(
                    MesosConfig::new(master)
                        .state_dir(state.join("tars"))
                        .instance(INSTANCE)
                        .failover_timeout(Duration::from_secs(600)),
                )
                .await
                .map_err(|e| e.to_string())?,
            );
            // Whatever happens, the framework goes (its tasks with it): a failed run must not
            // leave tasks holding the agent's resources for the next test.
            let result = AssertUnwindSafe(rounds_then_check(
                backend.clone(),
                &operator,
                state_dir,
                &port,
                rounds,
            ))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(panic
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| "the check panicked".to_owned()))
            });
            let _ = backend.teardown().await;
            result
        })
        .map_err(Failed::from)
}

/// A run that failed because the engine was killed under it (the job's program, `true`, never
/// fails by itself): it has no exit code, and Mesos gave the reason — lost with its agent,
/// dropped by the restarting agent before it started, its executor terminated while launching.
/// The slot was still recorded once and started once; the run is not retried (retries 0).
fn lost_to_the_fault(r: &tars_api::CronRun) -> bool {
    r.exit_code.is_none()
        && r.reason
            .as_deref()
            .is_some_and(|why| why.contains("container main"))
}

async fn rounds_then_check(
    shared: Arc<MesosBackend>,
    operator: &OperatorClient,
    state_dir: &str,
    port: &str,
    rounds: u32,
) -> Res<()> {
    let backend = &*shared;
    backend
        .cron_jobs()
        .apply(&kills::tick(false), ApplyOptions::default())
        .await
        .map_err(|e| format!("cron job: {e}"))?;
    apply(backend, &kills::deployment(1)).await?;
    kills::wait_rollout(backend, Duration::from_secs(60)).await?;

    // A watch opened before the first kill must still deliver at the end; calls made through
    // the kills may fail only with `Unavailable` (the groups are tars' own here: none need fail).
    let watched = WatchedGroups::open(backend).await?;
    let probes = Probes::start(shared.clone());

    let mut outages = Vec::new();
    let mut round_times = Vec::new();
    for round in 1..=rounds {
        let t = Instant::now();
        let rev = u64::from(round) + 1;
        apply(backend, &kills::deployment(rev)).await?;
        // The kill lands at varied points of the rollout (deterministic, 0.1–1.0 s).
        tokio::time::sleep(Duration::from_millis(100 + u64::from(round * 373) % 900)).await;
        let line = tokio::task::spawn_blocking({
            let (s, p) = (state_dir.to_owned(), port.to_owned());
            move || kill_mesos(&s, &p, 1.0)
        })
        .await
        .map_err(|e| e.to_string())??;
        eprintln!("round {round}: {line}");
        outages.push(line);
        let done = kills::wait_rollout(backend, Duration::from_secs(90)).await?;
        if done != rev {
            return Err(format!(
                "round {round}: completed on revision {done}, not {rev}"
            ));
        }
        round_times.push(t.elapsed().as_secs_f64());
    }

    let probed = probes.stop(false).await?;
    watched
        .saw_revision(u64::from(rounds) + 1, Duration::from_secs(30))
        .await?;
    eprintln!(
        "calls through the kills: {} ok, {} Unavailable, no other failure; the watch opened \
         before the first kill showed the last revision",
        probed.ok, probed.unavailable
    );

    let framework = backend.framework_id().ok_or("not subscribed")?;
    let live = live_tasks(operator, &framework).await?;
    let web: BTreeMap<&String, &usize> =
        live.iter().filter(|(n, _)| n.starts_with("web-")).collect();
    if web.len() != REPLICAS as usize || web.values().any(|n| **n != 1) {
        return Err(format!("live groups of the Deployment: {web:?}"));
    }
    let last = u64::from(rounds) + 1;
    for name in web.keys() {
        let group = backend
            .container_groups()
            .get(name)
            .await
            .map_err(|e| format!("live task of group {name} without the group: {e}"))?;
        if kills::revision_of(&group.spec) != Some(last) {
            return Err(format!("group {name} is of an older revision"));
        }
    }
    let history = kills::cron_history_settled_allowing(backend, lost_to_the_fault).await;
    backend
        .deployments()
        .delete(DEPLOYMENT, DeleteOptions::default())
        .await
        .map_err(|e| format!("delete: {e}"))?;
    backend
        .cron_jobs()
        .delete(JOB, DeleteOptions::default())
        .await
        .map_err(|e| format!("delete: {e}"))?;
    let left = live_tasks(operator, &framework).await?;
    if !left.is_empty() {
        return Err(format!("live tasks after deleting: {left:?}"));
    }
    round_times.sort_by(f64::total_cmp);
    let count = |o| history.iter().filter(|r| r.outcome == o).count();
    eprintln!(
        "{rounds} SIGKILLs of Mesos mid-rollout and mid-cron: converged on revision \
         {last} every round; round time median {:.1} s (max {:.1} s); cron: {} slots, \
         {} succeeded once, {} failed (lost or dropped with the killed agent), {} \
         missed, none twice",
        round_times[round_times.len() / 2],
        round_times.last().copied().unwrap_or_default(),
        history.len(),
        count(tars_api::RunOutcome::Succeeded),
        count(tars_api::RunOutcome::Failed),
        count(tars_api::RunOutcome::Missed),
    );
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let name = "mesos_killed_mid_rollout_and_mid_cron_converges_with_nothing_lost";
    let trial = match (std::env::var(MASTER_ENV), std::env::var(STATE_ENV)) {
        (Ok(master), Ok(state)) => {
            let rounds = std::env::var(ROUNDS_ENV)
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(20);
            Trial::test(name, move || run(&master, &state, rounds))
        }
        _ => {
            eprintln!(
                "{MASTER_ENV} and {STATE_ENV} are not both set (scripts/engines/mesos/up.sh \
                 STATE_DIR): not run"
            );
            Trial::test(name, || Ok(())).with_ignored_flag(true)
        }
    };
    libtest_mimic::run(&args, vec![trial]).exit()
}
