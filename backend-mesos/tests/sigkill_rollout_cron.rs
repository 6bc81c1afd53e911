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

use libtest_mimic::{Arguments, Failed, Trial};
use tars_api::Backend;
use tars_api::api::DeleteOptions;
use tars_backend_mesos::convert::{group_name, owned};
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::v1::master::CallType;
use tars_backend_mesos::{MesosBackend, MesosConfig};
use tars_conformance::kills::{self, DEPLOYMENT, JOB, REPLICAS};

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
        // every one of the converged revision.
        let live = live_tasks(&operator, &framework).await;
        let web: BTreeMap<&String, &Vec<String>> = live
            .iter()
            .filter(|(name, _)| name.starts_with("web-"))
            .collect();
        assert_eq!(
            web.len(),
            REPLICAS as usize,
            "live groups of the Deployment: {web:?}"
        );
        for (name, tasks) in &web {
            assert_eq!(tasks.len(), 1, "group {name} runs tasks {tasks:?}");
            let group = backend
                .container_groups()
                .get(name)
                .await
                .unwrap_or_else(|e| panic!("live task of group {name} without the group: {e}"));
            assert_eq!(
                kills::revision_of(&group.spec),
                Some(rev),
                "group {name} is of an older revision"
            );
        }

        let history = kills::cron_history_settled(&backend).await;
        backend
            .deployments()
            .delete(DEPLOYMENT, DeleteOptions::default())
            .await
            .expect("delete");
        backend
            .cron_jobs()
            .delete(JOB, DeleteOptions::default())
            .await
            .expect("delete");
        let left = live_tasks(&operator, &framework).await;
        assert!(left.is_empty(), "live tasks after deleting: {left:?}");
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
    let master = std::env::var(MASTER_ENV).ok();
    let trials = match master {
        Some(master) => {
            let m = master.clone();
            vec![
                Trial::test("rollout_child", move || child(&m)),
                Trial::test(
                    "sigkill_mid_rollout_and_mid_cron_converges_with_every_slot_once",
                    move || parent(&master),
                ),
            ]
        }
        None => {
            eprintln!(
                "no Mesos master: set {MASTER_ENV}=HOST:PORT (scripts/engines/mesos/up.sh); \
                 every test ignored"
            );
            vec![
                Trial::test("rollout_child", || Ok(())).with_ignored_flag(true),
                Trial::test(
                    "sigkill_mid_rollout_and_mid_cron_converges_with_every_slot_once",
                    || Ok(()),
                )
                .with_ignored_flag(true),
            ]
        }
    };
    libtest_mimic::run(&args, trials).exit()
}
