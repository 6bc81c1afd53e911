//! The operator event stream (`SUBSCRIBE` on `/api/v1`) of a real Mesos master, when
//! `TARS_MESOS_MASTER` (`host:port`) names one (without it the test says so and does nothing):
//! `SUBSCRIBED` carries the agents and a heartbeat interval; a tars group's launch, kill and its
//! framework's teardown come as `FRAMEWORK_ADDED`, `TASK_ADDED` (with the group's labels),
//! `TASK_UPDATED` up to `TASK_RUNNING` then `TASK_KILLED`, and `FRAMEWORK_REMOVED`: what
//! backend-mesos keeps its view of the cluster from, decoded by its own types.
#![allow(missing_docs)]

use std::time::Duration;

use tars_api::conditions::{is_deleted, is_group_running};
use tars_api::{
    ApplyOptions, Backend, Container, ContainerGroup, ContainerGroupSpec, DeleteOptions,
};
use tars_backend_mesos::operator::{OperatorClient, OperatorEvents};
use tars_backend_mesos::v1::master::{Event, EventType};
use tars_backend_mesos::v1::mesos::TaskState;
use tars_backend_mesos::{MesosBackend, MesosConfig, convert};
use tars_engine::wait::wait_for;

const WITHIN: Duration = Duration::from_secs(60);

/// Events until `done` says one is the awaited one (heartbeats and others' events skipped).
async fn until(
    events: &mut OperatorEvents,
    what: &str,
    mut done: impl FnMut(&Event) -> bool,
) -> Event {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let event = tokio::time::timeout_at(deadline, events.next_event())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {WITHIN:?}"))
            .unwrap_or_else(|e| panic!("operator stream, waiting for {what}: {e}"));
        if done(&event) {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_groups_life_is_on_the_operator_stream() {
    let Ok(master) = std::env::var("TARS_MESOS_MASTER") else {
        println!("TARS_MESOS_MASTER is not set: no Mesos master to test against, nothing done");
        return;
    };
    let operator = OperatorClient::new(&master).expect("master address");
    let mut events = operator.subscribe().await.expect("SUBSCRIBE");
    let first = until(&mut events, "SUBSCRIBED", |_| true).await;
    assert_eq!(first.kind, EventType::Subscribed, "{first:?}");
    let subscribed = first.subscribed.expect("subscribed set");
    let interval = subscribed
        .heartbeat_interval_seconds
        .expect("heartbeat interval");
    assert!(interval > 0.0, "{interval}");
    let state = subscribed.get_state.expect("the cluster's state");
    let agents = state.get_agents.expect("agents").agents;
    assert!(
        agents
            .iter()
            .any(|a| a.active && !a.total_resources.is_empty()),
        "an active agent with resources: {agents:?}"
    );

    let instance = format!("opstream-{:04x}", fastrand::u16(..));
    let state_dir = tempfile::tempdir().expect("tempdir");
    let backend = MesosBackend::connect(
        MesosConfig::new(&master)
            .state_dir(state_dir.path())
            .instance(&instance),
    )
    .await
    .expect("connect");
    let groups = backend.container_groups();
    let group = ContainerGroup::new(
        "streamed",
        ContainerGroupSpec::new(vec![Container::new("main", "none", &["sleep", "60"])]),
    );
    groups
        .apply(&group, ApplyOptions::default())
        .await
        .expect("apply");
    wait_for(groups, "streamed", is_group_running(), WITHIN, |_| {})
        .await
        .expect("running");
    let framework_id = backend.framework_id().expect("subscribed");

    let added = until(&mut events, "FRAMEWORK_ADDED of tars' framework", |e| {
        e.kind == EventType::FrameworkAdded
            && e.framework_added
                .as_ref()
                .and_then(|f| f.framework.framework_info.id.as_ref())
                .is_some_and(|id| id.value == framework_id)
    })
    .await;
    let framework = added.framework_added.expect("set").framework;
    assert!(framework.connected, "{framework:?}");

    let task = until(&mut events, "TASK_ADDED of the group", |e| {
        e.task_added
            .as_ref()
            .is_some_and(|t| t.task.framework_id.value == framework_id)
    })
    .await
    .task_added
    .expect("set")
    .task;
    assert_eq!(convert::group_name(&task), Some("streamed"), "{task:?}");
    assert!(convert::owned(&task.labels, &instance), "{task:?}");
    let task_id = task.task_id.clone();
    let is_update = |state: TaskState| {
        let task_id = task_id.clone();
        move |e: &Event| {
            e.task_updated
                .as_ref()
                .is_some_and(|u| u.status.task_id == task_id && u.state == state)
        }
    };
    until(
        &mut events,
        "TASK_UPDATED TASK_RUNNING",
        is_update(TaskState::TaskRunning),
    )
    .await;

    groups
        .delete("streamed", DeleteOptions::default())
        .await
        .expect("delete");
    wait_for(groups, "streamed", is_deleted(), WITHIN, |_| {})
        .await
        .expect("gone");
    until(
        &mut events,
        "TASK_UPDATED TASK_KILLED",
        is_update(TaskState::TaskKilled),
    )
    .await;

    backend.teardown().await.expect("teardown");
    until(&mut events, "FRAMEWORK_REMOVED of tars' framework", |e| {
        e.framework_removed
            .as_ref()
            .and_then(|r| r.framework_info.id.as_ref())
            .is_some_and(|id| id.value == framework_id)
    })
    .await;
}
