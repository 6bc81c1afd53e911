//! The view against event sequences shaped as Mesos 1.11's operator stream sends them.

use super::*;
use serde_json::{Value, json};

const ME: &str = "inst-a";

/// A task as `TASK_ADDED` carries it: a tars group's (`group` = (instance, group)) or not.
fn task(id: &str, name: &str, fw: &str, state: &str, group: Option<(&str, &str)>) -> Value {
    let mut t = json!({
        "name": name,
        "task_id": {"value": id},
        "framework_id": {"value": fw},
        "agent_id": {"value": "S0"},
        "state": state,
    });
    if let Some((instance, group)) = group {
        t["labels"] = json!({"labels": [
            {"key": "app.kubernetes.io/managed-by", "value": "tars"},
            {"key": "tars.dev/instance", "value": instance},
            {"key": "tars.dev/kind", "value": "ContainerGroup"},
            {"key": "tars.dev/name", "value": group},
        ]});
    }
    t
}

fn framework(id: &str, connected: bool) -> Value {
    json!({"framework_info": {"user": "root", "name": id, "id": {"value": id}},
           "active": connected, "connected": connected, "recovered": false})
}

fn agent(id: &str) -> Value {
    json!({"agent_info": {"hostname": "127.0.0.1", "id": {"value": id}},
           "active": true, "version": "1.11.0"})
}

fn event(v: Value) -> Event {
    serde_json::from_value(v).expect("an event of the operator stream")
}

fn subscribed(tasks: Vec<Value>, completed: Vec<Value>, frameworks: Vec<Value>) -> State {
    let e = event(json!({"type": "SUBSCRIBED", "subscribed": {
        "get_state": {
            "get_tasks": {"tasks": tasks, "completed_tasks": completed},
            "get_frameworks": {"frameworks": frameworks},
            "get_agents": {"agents": [agent("S0")]},
        },
        "heartbeat_interval_seconds": 15.0,
    }}));
    State::of_snapshot(e.subscribed.and_then(|s| s.get_state).expect("a state"), ME)
}

fn added(t: Value) -> Event {
    event(json!({"type": "TASK_ADDED", "task_added": {"task": t}}))
}

fn updated(id: &str, fw: &str, state: &str) -> Event {
    event(json!({"type": "TASK_UPDATED", "task_updated": {
        "framework_id": {"value": fw},
        "status": {"task_id": {"value": id}, "state": state},
        "state": state,
    }}))
}

fn held(s: &State, name: &str) -> Vec<(String, TaskState)> {
    let mut v: Vec<_> = s
        .holders
        .values()
        .filter(|h| h.name == name)
        .map(|h| (h.task_id.clone(), h.state))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn a_live_task_holds_its_name_until_it_ends() {
    let mut s = subscribed(vec![], vec![], vec![framework("marathon", true)]);
    s.apply(
        added(task("web.1", "web", "marathon", "TASK_STAGING", None)),
        ME,
    );
    assert_eq!(held(&s, "web"), [("web.1".into(), TaskState::TaskStaging)]);
    s.apply(updated("web.1", "marathon", "TASK_RUNNING"), ME);
    assert_eq!(held(&s, "web"), [("web.1".into(), TaskState::TaskRunning)]);
    // Another framework's ended task holds nothing, and is not kept.
    s.apply(updated("web.1", "marathon", "TASK_FINISHED"), ME);
    assert!(held(&s, "web").is_empty());
    assert!(s.slots.is_empty(), "{:?}", s.slots);
}

#[test]
fn a_tars_task_holds_its_group_name_not_its_container_name() {
    let mut s = subscribed(vec![], vec![], vec![]);
    s.apply(
        added(task(
            "t.b.api.1.main",
            "main",
            "fw-b",
            "TASK_RUNNING",
            Some(("inst-b", "api")),
        )),
        ME,
    );
    assert_eq!(held(&s, "api").len(), 1);
    assert!(held(&s, "main").is_empty());
    let h = s.holders.values().next().expect("one holder");
    assert!(h.group && !h.owned, "{h:?}");
}

#[test]
fn a_group_that_failed_holds_its_name_until_its_next_task_is_killed() {
    let g = Some(("inst-b", "api"));
    let mut s = subscribed(vec![], vec![], vec![framework("fw-b", true)]);
    s.apply(
        added(task("api.r0.main", "main", "fw-b", "TASK_RUNNING", g)),
        ME,
    );
    s.apply(updated("api.r0.main", "fw-b", "TASK_FAILED"), ME);
    // Ended by itself: the other instance still lists the group.
    assert_eq!(
        held(&s, "api"),
        [("api.r0.main".into(), TaskState::TaskFailed)]
    );
    // Its restart replaces it; a delete kills the restart: nothing holds the name any more
    // (GET_TASKS would still list the failed first run among the completed tasks).
    s.apply(
        added(task("api.r1.main", "main", "fw-b", "TASK_STAGING", g)),
        ME,
    );
    assert_eq!(
        held(&s, "api"),
        [("api.r1.main".into(), TaskState::TaskStaging)]
    );
    s.apply(updated("api.r1.main", "fw-b", "TASK_KILLED"), ME);
    assert!(held(&s, "api").is_empty());
    assert!(s.holders.is_empty() && s.slots.is_empty());
}

#[test]
fn the_snapshot_keeps_the_latest_task_of_a_slot() {
    let g = Some(("inst-b", "api"));
    let mut old = task("api.r0.main", "main", "fw-b", "TASK_FAILED", g);
    old["statuses"] =
        json!([{"task_id": {"value": "api.r0.main"}, "state": "TASK_FAILED", "timestamp": 100.0}]);
    let mut new = task("api.r1.main", "main", "fw-b", "TASK_KILLED", g);
    new["statuses"] =
        json!([{"task_id": {"value": "api.r1.main"}, "state": "TASK_KILLED", "timestamp": 200.0}]);
    // Listed newest first: still the newest wins.
    let s = subscribed(vec![], vec![new.clone(), old.clone()], vec![]);
    assert!(held(&s, "api").is_empty(), "{:?}", held(&s, "api"));
    let live = task("api.r2.main", "main", "fw-b", "TASK_RUNNING", g);
    let s = subscribed(vec![live], vec![old, new], vec![]);
    assert_eq!(
        held(&s, "api"),
        [("api.r2.main".into(), TaskState::TaskRunning)]
    );
}

#[test]
fn frameworks_are_followed_and_a_removed_one_holds_nothing() {
    let mut s = subscribed(
        vec![task("x.1", "x", "fw-b", "TASK_RUNNING", None)],
        vec![],
        vec![framework("fw-b", true)],
    );
    assert_eq!(s.frameworks.get("fw-b"), Some(&true));
    s.apply(
        event(json!({"type": "FRAMEWORK_UPDATED",
                     "framework_updated": {"framework": framework("fw-b", false)}})),
        ME,
    );
    assert_eq!(s.frameworks.get("fw-b"), Some(&false));
    s.apply(
        event(json!({"type": "FRAMEWORK_ADDED",
                     "framework_added": {"framework": framework("fw-c", true)}})),
        ME,
    );
    assert_eq!(s.frameworks.get("fw-c"), Some(&true));
    s.apply(
        event(json!({"type": "FRAMEWORK_REMOVED",
                     "framework_removed": {"framework_info": {"user": "root", "name": "b", "id": {"value": "fw-b"}}}})),
        ME,
    );
    assert!(!s.frameworks.contains_key("fw-b"));
    assert!(held(&s, "x").is_empty());
    assert!(s.slots.is_empty());
}

#[test]
fn agents_come_and_go() {
    let mut s = subscribed(vec![], vec![], vec![]);
    assert_eq!(s.agents.len(), 1);
    s.apply(
        event(json!({"type": "AGENT_ADDED", "agent_added": {"agent": agent("S1")}})),
        ME,
    );
    assert_eq!(s.agents.len(), 2);
    s.apply(
        event(json!({"type": "AGENT_REMOVED", "agent_removed": {"agent_id": {"value": "S0"}}})),
        ME,
    );
    assert_eq!(s.agents.keys().collect::<Vec<_>>(), ["S1"]);
}

#[test]
fn an_update_of_an_unknown_task_and_unknown_events_change_nothing() {
    let mut s = subscribed(vec![], vec![], vec![]);
    s.apply(updated("nobody", "fw-x", "TASK_RUNNING"), ME);
    s.apply(event(json!({"type": "SOMETHING_NEW"})), ME);
    s.apply(event(json!({"type": "HEARTBEAT"})), ME);
    assert!(s.holders.is_empty() && s.slots.is_empty());
}

#[test]
fn the_view_reads_nothing_until_live() {
    let view = MasterView::new(ME);
    assert!(view.holders("x").is_none() && view.agents().is_none());
    view.set(Some(subscribed(
        vec![task("x.1", "x", "fw-b", "TASK_RUNNING", None)],
        vec![],
        vec![framework("fw-b", true)],
    )));
    let holders = view.holders("x").expect("live");
    assert_eq!(holders.len(), 1);
    assert!(holders[0].1, "fw-b is connected");
    assert_eq!(view.agents().expect("live").len(), 1);
}
