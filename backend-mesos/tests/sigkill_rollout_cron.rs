//! On a real Mesos master (`TARS_MESOS_MASTER=HOST:PORT`; without it the test is reported
//! ignored, with the reason): the tars process — a Mesos framework running tars' rollout and
//! cron engines — is killed with SIGKILL twenty times while a Deployment rolls from one revision
//! to the next and a per-second CronJob fires (`tars_conformance::kills`); each time a new
//! process fails over to the same framework from the same state directory. At the end the
//! Deployment has converged on the last revision applied (exactly its replicas live on the
//! master, one task each, all of that revision), every slot of the CronJob is one run or one
//! `Missed` record (none started twice, none vanished), and after deleting both no task of the
//! framework is alive.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed};
use tars_backend_mesos::convert::{group_name, owned};
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::v1::master::CallType;
use tars_backend_mesos::{MesosBackend, MesosConfig};
use tars_conformance::kills::{self, Every};

const KILLS: u64 = 20;
const INSTANCE: &str = "kills";
const MASTER_ENV: &str = "TARS_MESOS_MASTER";

fn config(master: &str, state: &Path) -> MesosConfig {
    MesosConfig::new(master)
        .state_dir(state.join("tars"))
        .instance(INSTANCE)
        .failover_timeout(Duration::from_secs(600))
}

/// The live tasks of this test's framework, by group: (task id, group name).
async fn live_tasks(operator: &OperatorClient, framework: &str) -> BTreeMap<String, Vec<String>> {
    let tasks = operator
        .call(CallType::GetTasks)
        .await
        .expect("GET_TASKS")
        .get_tasks
        .unwrap_or_default();
    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in tasks.tasks {
        if t.framework_id.value != framework || !owned(&t.labels, INSTANCE) || t.state.is_terminal()
        {
            continue;
        }
        let group = group_name(&t).unwrap_or("?").to_owned();
        by_group.entry(group).or_default().push(t.task_id.value);
    }
    by_group
}

/// The tars process the parent kills.
fn child(master: &str) -> Result<(), Failed> {
    let Some(state) = kills::child_state() else {
        return Ok(());
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| Failed::from(e.to_string()))?;
    runtime.block_on(async move {
        let backend = MesosBackend::connect(config(master, &state))
            .await
            .expect("connect");
        kills::child(&backend, &state).await;
    });
    Ok(())
}

fn parent(master: &str) -> Result<(), Failed> {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state");
    let mid_rollout = kills::kill_children("rollout_child", &state, KILLS, &[]);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let operator = OperatorClient::new(master).expect("operator");
        let backend = MesosBackend::connect(config(master, &state))
            .await
            .expect("final connect");
        let rev = kills::converged_revision(&backend, &state).await;
        let framework = backend.framework_id().expect("subscribed by now");

        // Exactly REPLICAS groups of the Deployment are alive on the master, one task each,
        // every one of the converged revision; none after deleting.
        let history = kills::end_state(&backend, rev, Every::Second, 1, Duration::ZERO, || {
            live_tasks(&operator, &framework)
        })
        .await;
        backend.teardown().await.expect("teardown");
        eprintln!(
            "{}",
            kills::summary(KILLS, mid_rollout, &state, rev, &history)
        );
    });
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let master = std::env::var(MASTER_ENV).map_err(|_| {
        format!("no Mesos master: set {MASTER_ENV}=HOST:PORT (scripts/engines/mesos/up.sh)")
    });
    libtest_mimic::run(&args, kills::trials(master, child, parent)).exit()
}
