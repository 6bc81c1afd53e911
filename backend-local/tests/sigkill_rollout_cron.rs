//! The tars process is killed with SIGKILL twenty times while a Deployment rolls from one
//! revision to the next and a per-second CronJob fires (`tars_conformance::kills`); each time a
//! new process takes over the same state. At the end the Deployment has converged on the last
//! revision applied (exactly its replicas, each running exactly its own processes, none of an
//! older revision left), and every slot of the CronJob is one run or one `Missed` record.

mod common;
use common::processes_by_group;

use std::collections::BTreeMap;
use std::path::Path;

use tars_api::Backend;
use tars_api::api::DeleteOptions;
use tars_backend_local::{LocalBackend, LocalConfig};
use tars_conformance::kills::{self, DEPLOYMENT, JOB, REPLICAS};

const KILLS: u64 = 20;

fn config(state: &Path) -> LocalConfig {
    LocalConfig::new(state).instance("kills")
}

/// The child: the tars process the parent kills (does nothing unless the parent runs it).
#[test]
fn rollout_child() {
    let Some(state) = kills::child_state() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let backend = LocalBackend::open(config(&state)).await.expect("open");
        kills::child(&backend, &state).await;
    });
}

#[test]
fn sigkill_mid_rollout_and_mid_cron_converges_with_every_slot_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state");
    let mid_rollout = kills::kill_children("rollout_child", &state, KILLS, &[]);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let backend = LocalBackend::open(config(&state))
            .await
            .expect("final open");
        let rev = kills::converged_revision(&backend, &state).await;

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
        let left = processes_by_group(&state);
        assert!(left.is_empty(), "processes left after deleting: {left:?}");
        backend.shutdown().await.expect("shutdown");
        eprintln!(
            "{}",
            kills::summary(KILLS, mid_rollout, &state, rev, &history)
        );
    });
}
