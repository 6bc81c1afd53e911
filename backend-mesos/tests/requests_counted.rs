//! Every HTTP request backend-mesos sends to the master is counted in
//! `tars_backend_requests_total{backend="mesos"}` (`TARS_MESOS_MASTER=HOST:PORT`; without it the
//! test says so and checks nothing): a group's launch takes at least an `ACCEPT` and the
//! acknowledgements of its tasks' updates.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tars_api::conditions::{is_deleted, is_group_running};
use tars_api::{
    ApplyOptions, Backend, Container, ContainerGroup, ContainerGroupSpec, DeleteOptions,
};
use tars_backend_mesos::{MesosBackend, MesosConfig};
use tars_engine::metrics::BACKEND_REQUESTS_TOTAL;
use tars_engine::wait::wait_for;

/// Requests counted since the last call, by method (the recorder's counters start again at 0).
fn requests(snapshotter: &Snapshotter) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key().clone();
            if key.name() != BACKEND_REQUESTS_TOTAL {
                return None;
            }
            let label = |k: &str| {
                key.labels()
                    .find(|l| l.key() == k)
                    .map(|l| l.value().to_owned())
            };
            assert_eq!(label("backend").as_deref(), Some("mesos"), "{key:?}");
            let DebugValue::Counter(n) = value else {
                panic!("{key:?} is not a counter")
            };
            Some((label("method").expect("method label"), n))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_requests_of_a_group_are_counted() {
    let Ok(master) = std::env::var("TARS_MESOS_MASTER") else {
        eprintln!("TARS_MESOS_MASTER is not set: nothing checked");
        return;
    };
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");

    let state = tempfile::tempdir().expect("tempdir");
    let backend = MesosBackend::connect(
        MesosConfig::new(master)
            .state_dir(state.path())
            .instance(format!("req-test-{:04x}", fastrand::u16(..))),
    )
    .await
    .expect("connect");
    let groups = backend.container_groups();
    wait_for(
        groups,
        "counted",
        is_deleted(),
        Duration::from_secs(30),
        |_| {},
    )
    .await
    .expect("subscribed and synced");
    let connected = requests(&snapshotter);
    assert!(
        connected.iter().any(|(m, n)| m == "POST" && *n >= 1),
        "SUBSCRIBE is a POST: {connected:?}"
    );

    let group = ContainerGroup::new(
        "counted",
        ContainerGroupSpec::new(vec![Container::new("main", "none", &["sleep", "60"])]),
    );
    groups
        .apply(&group, ApplyOptions::default())
        .await
        .expect("apply");
    wait_for(
        groups,
        "counted",
        is_group_running(),
        Duration::from_secs(60),
        |_| {},
    )
    .await
    .expect("running");
    let launched = requests(&snapshotter);
    // ACCEPT, and the ACKNOWLEDGE of TASK_STARTING and of TASK_RUNNING (REVIVE too, unless an
    // offer was there already; the create's own questions are answered from the operator
    // event stream once it is live, else GET_TASKS and GET_AGENTS): every call is a POST.
    assert_eq!(launched.len(), 1, "only POSTs: {launched:?}");
    assert!(launched[0].1 >= 3, "{launched:?}");

    groups
        .delete("counted", DeleteOptions::default())
        .await
        .expect("delete");
    wait_for(
        groups,
        "counted",
        is_deleted(),
        Duration::from_secs(60),
        |_| {},
    )
    .await
    .expect("gone");
    let deleted = requests(&snapshotter);
    assert!(
        deleted.iter().any(|(m, n)| m == "POST" && *n >= 1),
        "a KILL is a POST: {deleted:?}"
    );
    backend.teardown().await.expect("teardown");
}
