use super::*;
use crate::v1::mesos::{Scalar, Text};
use std::collections::BTreeSet;
use tars_api::group::{Constraint, ConstraintOp, GroupPhase};
use tars_api::{Container, Probe};

fn group() -> ContainerGroup {
    let server = Container::new("server", "img", &["python3", "-m", "http.server"])
        .with_port("http", Some(8080))
        .with_env("MODE", "test")
        .with_readiness(Probe::new(ProbeAction::HttpGet {
            port: PortRef::Name("http".into()),
            path: "/".into(),
        }));
    let sidecar = Container::new("sidecar", "img", &["sh", "-c", "sleep 1000"]);
    let mut g = ContainerGroup::new("web", ContainerGroupSpec::new(vec![server, sidecar]))
        .with_label("tier", "front");
    g.metadata.stamp_owner("svc");
    g.metadata.uid = Some("00000000000000ab".into());
    g.metadata.generation = Some(3);
    g.metadata.created_at = Some(jiff::Timestamp::from_second(1_700_000_000).expect("ts"));
    g
}

fn launch(g: &ContainerGroup) -> (OfferOperation, Vec<Endpoint>) {
    launch_group(
        "svc",
        &FrameworkId::new("fw-1"),
        g,
        &AgentId::new("agent-1"),
        "10.0.0.7",
        vec![31000],
        &Sizing::default(),
        0,
    )
    .expect("launch")
}

#[test]
fn a_group_is_one_launch_group_with_one_task_per_container_and_an_executor_with_disk() {
    let (op, endpoints) = launch(&group());
    let lg = op.launch_group.expect("LAUNCH_GROUP");
    let names: Vec<&str> = lg
        .task_group
        .tasks
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["server", "sidecar"]);
    let ids: BTreeSet<&str> = lg
        .task_group
        .tasks
        .iter()
        .map(|t| t.task_id.value.as_str())
        .collect();
    assert_eq!(ids.len(), 2, "task ids are unique");
    assert_eq!(
        lg.executor.executor_id.value,
        "tars.svc.web.00000000000000ab.g3.r0"
    );
    assert!(
        lg.executor.resources.iter().any(|r| r.name == "disk"),
        "the master refuses an executor without disk"
    );
    assert_eq!(lg.executor.kind, Some(ExecutorType::Default));
    assert_eq!(
        lg.executor.command, None,
        "a DEFAULT executor has no command"
    );
    assert_eq!(
        endpoints,
        [Endpoint {
            container: "server".into(),
            port_name: "http".into(),
            address: "10.0.0.7".into(),
            port: 31000,
        }]
    );
    let server = &lg.task_group.tasks[0];
    let env = &server
        .command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .expect("env")
        .variables;
    let var = |n: &str| {
        env.iter()
            .find(|v| v.name == n)
            .and_then(|v| v.value.clone())
    };
    assert_eq!(var("PORT_HTTP").as_deref(), Some("31000"));
    assert_eq!(var("MODE").as_deref(), Some("test"));
    let ports = server
        .resources
        .iter()
        .find(|r| r.name == "ports")
        .expect("ports");
    assert_eq!(
        ports.ranges.as_ref().map(|r| r.range.clone()),
        Some(vec![Range {
            begin: 31000,
            end: 31000
        }])
    );
    let check = server.check.as_ref().expect("readiness as a general check");
    assert_eq!(
        check.pointer("/http/port").and_then(Json::as_u64),
        Some(31000)
    );
    assert_eq!(
        server.health_check, None,
        "no liveness probe, no health check"
    );
    // The sidecar sees the group's ports too, but takes none.
    assert!(
        lg.task_group.tasks[1]
            .resources
            .iter()
            .all(|r| r.name != "ports")
    );
}

#[test]
fn the_stamp_on_a_task_gives_back_the_group() {
    let g = group();
    let (op, endpoints) = launch(&g);
    let task = &op.launch_group.expect("group").task_group.tasks[1];
    assert!(owned(&task.labels, "svc"));
    assert!(!owned(&task.labels, "other-instance"));
    let s = stamped(&task.labels, "svc").expect("stamped");
    assert_eq!(s.container, "sidecar");
    assert_eq!(s.endpoints, endpoints);
    assert_eq!(s.host, "10.0.0.7");
    assert_eq!(s.group.spec, g.spec);
    assert_eq!(s.group.metadata.uid, g.metadata.uid);
    assert_eq!(s.group.metadata.generation, Some(3));
    assert_eq!(s.group.metadata.created_at, g.metadata.created_at);
    assert_eq!(s.group.metadata.labels, g.metadata.labels);
    assert!(stamped(&None, "svc").is_none());
}

fn host(cpus: f64, attrs: &[(&str, &str)]) -> Host {
    let resources = vec![
        Resource::scalar("cpus", cpus),
        Resource::scalar("mem", 1024.0),
        Resource::scalar("disk", 1024.0),
        Resource::ranges(
            "ports",
            vec![Range {
                begin: 31000,
                end: 31002,
            }],
        ),
    ];
    let attributes: Vec<Attribute> = attrs
        .iter()
        .map(|(k, v)| Attribute {
            name: (*k).into(),
            kind: ValueType::Text,
            scalar: None,
            ranges: None,
            set: None,
            text: Some(Text { value: (*v).into() }),
        })
        .collect();
    Host::new("agent-host", &resources, &attributes)
}

#[test]
fn offers_are_matched_on_resources_ports_and_attribute_constraints() {
    let mut g = group();
    assert!(host(1.0, &[]).fits(&g.spec, &Sizing::default()).is_ok());
    let short = host(0.01, &[]).fits(&g.spec, &Sizing::default());
    assert!(short.expect_err("too few cpus").contains("cpus"));
    g.spec.placement.constraints.push(Constraint {
        attribute: "rack".into(),
        operator: ConstraintOp::Eq,
        values: vec!["a".into()],
    });
    let why = host(1.0, &[("rack", "b")])
        .fits(&g.spec, &Sizing::default())
        .expect_err("wrong rack");
    assert!(why.contains("spec.placement.constraints[0]"), "{why}");
    assert!(
        host(1.0, &[("rack", "a")])
            .fits(&g.spec, &Sizing::default())
            .is_ok()
    );
    // `hostname` is an attribute of every agent.
    g.spec.placement.constraints[0] = Constraint {
        attribute: "hostname".into(),
        operator: ConstraintOp::In,
        values: vec!["agent-host".into()],
    };
    assert!(host(1.0, &[]).fits(&g.spec, &Sizing::default()).is_ok());
    // Scalar attributes compare as their text.
    let a = Attribute {
        name: "gen".into(),
        kind: ValueType::Scalar,
        scalar: Some(Scalar { value: 2.0 }),
        ranges: None,
        set: None,
        text: None,
    };
    assert_eq!(attribute_text(&a), "2");
}

#[test]
fn consuming_an_offer_leaves_the_rest_for_the_next_group() {
    let mut h = host(1.0, &[]);
    let g = group();
    let d = demand(&g.spec, &Sizing::default());
    let ports = h.take_ports(2);
    assert_eq!(ports, [31000, 31001]);
    h.consume(&d, &ports);
    assert_eq!(h.take_ports(5), [31002]);
    assert!((h.cpus - (1.0 - d.cpus)).abs() < 1e-9);
}

fn status(task: &str, state: TaskState, timestamp: f64) -> TaskStatus {
    serde_json::from_value(serde_json::json!({
        "task_id": {"value": task},
        "state": state,
        "timestamp": timestamp,
    }))
    .expect("status")
}

#[test]
fn task_views_keep_the_first_start_and_stay_terminal() {
    let mut v = TaskView::staging(TaskId::new("t"), None);
    assert!(v.observe(&status("t", TaskState::TaskRunning, 10.0)));
    let mut healthy = status("t", TaskState::TaskRunning, 20.0);
    healthy.healthy = Some(true);
    v.observe(&healthy);
    assert_eq!(v.started_at, Some(10.0));
    assert_eq!(v.healthy, Some(true));
    v.observe(&status("t", TaskState::TaskKilled, 30.0));
    assert!(!v.observe(&status("t", TaskState::TaskRunning, 40.0)));
    assert_eq!(v.state, TaskState::TaskKilled);
}

fn views(states: &[(&str, TaskState)]) -> BTreeMap<String, TaskView> {
    states
        .iter()
        .map(|(c, s)| {
            let mut v = TaskView::staging(TaskId::new(*c), None);
            v.observe(&status(c, *s, 1.0));
            ((*c).to_owned(), v)
        })
        .collect()
}

#[test]
fn task_states_become_the_group_phase() {
    let mut g = group();
    g.spec.containers[0].readiness = None;
    let launched = Placement::Launched {
        hostname: "h".into(),
        endpoints: vec![],
    };
    let phase = |states: &[(&str, TaskState)]| {
        group_status(&g.spec, &launched, &views(states), &Restarts::default())
    };
    use TaskState::*;
    assert_eq!(
        phase(&[("server", TaskStaging), ("sidecar", TaskStarting)]).phase,
        GroupPhase::Pending
    );
    let running = phase(&[("server", TaskRunning), ("sidecar", TaskRunning)]);
    assert_eq!(running.phase, GroupPhase::Running);
    assert!(running.ready);
    assert_eq!(running.host.as_deref(), Some("h"));
    assert_eq!(
        phase(&[("server", TaskFinished), ("sidecar", TaskFinished)]).phase,
        GroupPhase::Succeeded
    );
    let failed = phase(&[("server", TaskFailed), ("sidecar", TaskRunning)]);
    assert_eq!(failed.phase, GroupPhase::Failed);
    assert!(failed.message.expect("why").starts_with("TASK_FAILED"));
    assert_eq!(
        phase(&[("server", TaskKilled), ("sidecar", TaskKilled)]).phase,
        GroupPhase::Failed
    );
    // A readiness check gates ready until the executor reports it passing.
    let gated = group_status(
        &group().spec,
        &launched,
        &views(&[("server", TaskRunning), ("sidecar", TaskRunning)]),
        &Restarts::default(),
    );
    assert_eq!(gated.phase, GroupPhase::Running);
    assert!(!gated.ready);
    assert!(gated.endpoints.is_empty());
    let mut passing = views(&[("server", TaskRunning), ("sidecar", TaskRunning)]);
    let mut checked = status("server", TaskRunning, 2.0);
    checked.check_status = Some(serde_json::json!({"type": "HTTP", "http": {}}));
    passing.get_mut("server").expect("server").observe(&checked);
    let s = group_status(&group().spec, &launched, &passing, &Restarts::default());
    assert!(!s.ready, "no result yet");
    checked.check_status = Some(serde_json::json!({"type": "HTTP", "http": {"status_code": 200}}));
    passing.get_mut("server").expect("server").observe(&checked);
    let s = group_status(&group().spec, &launched, &passing, &Restarts::default());
    assert!(s.ready);
}

#[test]
fn a_group_no_agent_can_take_is_pending_and_unschedulable() {
    let s = group_status(
        &group().spec,
        &Placement::Pending(Some("no agent has rack=a".into())),
        &BTreeMap::new(),
        &Restarts::default(),
    );
    assert_eq!(s.phase, GroupPhase::Pending);
    let c = &s.conditions[0];
    assert!(!c.status);
    assert_eq!(c.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(s.message.as_deref(), Some("no agent has rack=a"));
    let waiting = group_status(
        &group().spec,
        &Placement::Pending(None),
        &BTreeMap::new(),
        &Restarts::default(),
    );
    assert_eq!(
        waiting.conditions[0].reason.as_deref(),
        Some("WaitingForOffer")
    );
}

#[test]
fn what_the_executor_cannot_run_is_refused_as_unsupported() {
    let caps = Capabilities::new().native(&[Feature::CpuLimits]);
    let mut g = group();
    g.spec.containers[0].command.clear();
    assert!(matches!(
        check_supported(&g.spec, &caps),
        Err(Error::Unsupported {
            feature: Feature::ImageEntrypoint,
            ..
        })
    ));
}

#[test]
fn exit_codes_and_signals_come_from_the_executors_message() {
    let mut v = TaskView::staging(TaskId::new("t"), None);
    let mut failed = status("t", TaskState::TaskFailed, 5.0);
    failed.message = Some("Command exited with status 3".into());
    v.observe(&failed);
    let t = termination(&v);
    assert_eq!(t.exit_code, Some(3));
    assert_eq!(t.signal, None);
    let mut w = TaskView::staging(TaskId::new("u"), None);
    let mut killed = status("u", TaskState::TaskFailed, 5.0);
    killed.message = Some("Command terminated with signal 9".into());
    w.observe(&killed);
    assert_eq!(termination(&w).signal, Some(9));
}

#[test]
fn a_group_waiting_to_restart_is_running_with_its_restart_count() {
    let restarts = Restarts {
        count: 2,
        last: BTreeMap::from([(
            "server".to_owned(),
            Termination {
                exit_code: Some(1),
                signal: None,
                reason: "Error".into(),
                finished_at: None,
            },
        )]),
    };
    let s = group_status(
        &group().spec,
        &Placement::Pending(None),
        &BTreeMap::new(),
        &restarts,
    );
    assert_eq!(s.phase, GroupPhase::Running);
    let c = &s.containers[0];
    assert_eq!(c.restart_count, 2);
    assert_eq!(
        c.last_termination.as_ref().and_then(|t| t.exit_code),
        Some(1)
    );
}
