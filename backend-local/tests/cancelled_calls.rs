//! A caller that gives up on a call (a timeout, a cancelled task) cuts nothing short: the
//! delete still completes, and a tars process ending meanwhile leaves no task of its own
//! behind, so the same state opens again at once and the delete is finished there.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use tars_api::api::{ApplyOptions, DeleteOptions, WatchEvent};
use tars_api::conditions::is_group_ready;
use tars_api::{Backend, Container, ContainerGroup, ContainerGroupSpec, Error, LabelSelector};
use tars_backend_local::{LocalBackend, LocalConfig};
use tars_engine::wait::wait_for;

/// A group whose program ignores SIGTERM, so a stop takes its whole grace period.
fn stubborn(pid_file: &Path) -> ContainerGroup {
    let script = format!(
        "echo $$ > {}; trap '' TERM; while :; do sleep 0.2; done",
        pid_file.display()
    );
    let mut spec =
        ContainerGroupSpec::new(vec![Container::new("main", "none", &["sh", "-c", &script])]);
    spec.termination_grace_period = Duration::from_secs(2);
    ContainerGroup::new("stubborn", spec)
}

async fn open(dir: &Path) -> LocalBackend {
    LocalBackend::open(LocalConfig::new(dir).instance("cancel"))
        .await
        .expect("open")
}

/// Applies the group and returns the pid of its program once it runs.
async fn start(backend: &LocalBackend, pid_file: &Path) -> i32 {
    let groups = backend.container_groups();
    groups
        .apply(&stubborn(pid_file), ApplyOptions::default())
        .await
        .expect("apply");
    wait_for(
        groups,
        "stubborn",
        is_group_ready(),
        Duration::from_secs(20),
        |_| {},
    )
    .await
    .expect("ready");
    for _ in 0..100 {
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the program never wrote its pid");
}

fn alive(pid: i32) -> bool {
    // A zombie has no command line left; a live process (even one ignoring SIGTERM) has one.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

async fn gone(backend: &LocalBackend) -> bool {
    matches!(
        backend.container_groups().get("stubborn").await,
        Err(Error::NotFound { .. })
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_whose_caller_gives_up_still_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let backend = open(&dir.path().join("state")).await;
    let pid = start(&backend, &pid_file).await;
    let mut watch = backend
        .container_groups()
        .watch(&LabelSelector::default())
        .await
        .expect("watch");

    let cut = tokio::time::timeout(
        Duration::from_millis(200),
        backend
            .container_groups()
            .delete("stubborn", DeleteOptions::default()),
    )
    .await;
    assert!(cut.is_err(), "the stop takes its 2 s grace: {cut:?}");
    assert!(alive(pid), "still within its grace period");

    // Grace 2 s, then SIGKILL: done well within 10 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !gone(&backend).await || alive(pid) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delete was cut short: group gone {}, process alive {}",
            gone(&backend).await,
            alive(pid)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Watchers are told, as for a delete that was waited for.
    let deleted = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(event) = watch.next().await {
            if let WatchEvent::Deleted(o) = event.expect("watch event") {
                return o.metadata.name;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("a Deleted event");
    assert_eq!(deleted, "stubborn");
    backend.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_cut_short_delete_leaves_nothing_holding_the_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let state = dir.path().join("state");
    let backend = open(&state).await;
    let pid = start(&backend, &pid_file).await;

    let cut = tokio::time::timeout(
        Duration::from_millis(200),
        backend
            .container_groups()
            .delete("stubborn", DeleteOptions::default()),
    )
    .await;
    assert!(cut.is_err(), "the stop takes its 2 s grace: {cut:?}");
    backend.abandon().await;
    drop(backend);

    // At once: no task of the first instance may still hold the state directory.
    let backend = LocalBackend::open(LocalConfig::new(&state).instance("cancel"))
        .await
        .expect("the state opens again as soon as the first instance is gone");
    assert!(
        gone(&backend).await,
        "the delete recorded before the crash is finished on recovery"
    );
    assert!(!alive(pid), "recovery stopped the group's process");
    backend.shutdown().await.expect("shutdown");
}
