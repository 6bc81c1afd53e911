//! The tars process is killed with SIGKILL twenty times while a Deployment rolls from one
//! revision to the next and a per-second CronJob fires (`tars_conformance::kills`); each time a
//! new process takes over the same state. At the end the Deployment has converged on the last
//! revision applied (exactly its replicas, each running exactly its own processes, none of an
//! older revision left), and every slot of the CronJob is one run or one `Missed` record.

mod common;
use common::processes_by_group;

use std::path::Path;
use std::time::Duration;

use tars_api::Backend;
use tars_backend_local::{LocalBackend, LocalConfig};
use tars_conformance::kills::{self, Every};

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

        // Exactly REPLICAS groups of the Deployment run, each with its wrapper and program;
        // none is left after deleting (a delete returns once its processes are gone).
        let history = kills::end_state(&backend, rev, Every::Second, 2, Duration::ZERO, || async {
            processes_by_group(&state)
        })
        .await;
        backend.shutdown().await.expect("shutdown");
        eprintln!(
            "{}",
            kills::summary(KILLS, mid_rollout, &state, rev, &history)
        );
    });
}
