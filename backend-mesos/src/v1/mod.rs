//! The Mesos v1 HTTP API types tars uses, written from the Mesos 1.11 protos
//! (`include/mesos/v1/mesos.proto`, `scheduler/scheduler.proto`, `executor/executor.proto`,
//! `master/master.proto`).
//!
//! JSON as Mesos speaks it: field names exactly as in the protos (snake_case), enums by name,
//! `bytes` fields as base64 text (kept as `String`: tars only echoes them back), optional fields
//! absent when unset. Unknown fields are ignored when decoding (newer Mesos versions add fields);
//! unknown enum names decode to an `Unknown` variant where the proto has an `UNKNOWN` value.

pub mod executor;
pub mod master;
pub mod mesos;
pub mod scheduler;

#[cfg(test)]
mod tests {
    use super::mesos::*;
    use super::scheduler::*;
    use serde_json::Value;

    /// `value` with every number as a float, so that `15` and `15.0` compare equal (the protos'
    /// doubles come back as floats).
    fn normalized(value: Value) -> Value {
        match value {
            Value::Number(n) => n
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Number(n), Value::Number),
            Value::Array(items) => Value::Array(items.into_iter().map(normalized).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, normalized(v))).collect())
            }
            other => other,
        }
    }

    /// Decodes `text` as `T`, encodes it again and checks that nothing changed (numbers compared
    /// as floats).
    pub(super) fn round_trip<T>(text: &str) -> T
    where
        T: serde::de::DeserializeOwned + serde::Serialize,
    {
        let decoded: T = serde_json::from_str(text).expect("decodes");
        let original: Value = serde_json::from_str(text).expect("valid JSON");
        let encoded = serde_json::to_value(&decoded).expect("encodes");
        assert_eq!(
            normalized(encoded),
            normalized(original),
            "round trip of {text}"
        );
        decoded
    }

    // The samples are the JSON examples of apache/mesos `docs/scheduler-http-api.md` (1.11.0),
    // unchanged.

    #[test]
    fn doc_subscribe_call() {
        let call: Call = round_trip(include_str!("testdata/call-subscribe.json"));
        assert_eq!(call.kind, CallType::Subscribe);
        assert_eq!(call.framework_id, None);
        let subscribe = call.subscribe.expect("subscribe set");
        let info = &subscribe.framework_info;
        assert_eq!(
            (info.user.as_str(), info.name.as_str()),
            ("foo", "Example HTTP Framework")
        );
        assert_eq!(info.roles, ["test1", "test2"]);
        assert_eq!(
            info.capabilities,
            [FrameworkCapability::new(FrameworkCapabilityType::MultiRole)]
        );
        assert_eq!(subscribe.suppressed_roles, ["test2"]);
        assert!(subscribe.offer_constraints.is_some());
    }

    #[test]
    fn doc_subscribed_event() {
        let event: Event = round_trip(include_str!("testdata/event-subscribed.json"));
        assert_eq!(event.kind, EventType::Subscribed);
        let subscribed = event.subscribed.expect("subscribed set");
        assert_eq!(
            subscribed.framework_id,
            FrameworkId::new("12220-3440-12532-2345")
        );
        assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
    }

    #[test]
    fn doc_teardown_call() {
        let call: Call = round_trip(include_str!("testdata/call-teardown.json"));
        assert_eq!(
            call,
            Call::teardown(FrameworkId::new("12220-3440-12532-2345"))
        );
    }

    #[test]
    fn doc_accept_call_with_launch() {
        let call: Call = round_trip(include_str!("testdata/call-accept.json"));
        assert_eq!(call.kind, CallType::Accept);
        let accept = call.accept.expect("accept set");
        assert_eq!(accept.offer_ids, [OfferId::new("12220-3440-12532-O12")]);
        assert_eq!(
            accept.filters,
            Some(Filters {
                refuse_seconds: Some(5.0)
            })
        );
        let [operation] = &accept.operations[..] else {
            panic!("one operation: {:?}", accept.operations)
        };
        assert_eq!(operation.kind, OfferOperationType::Launch);
        let tasks = &operation.launch.as_ref().expect("launch set").task_infos;
        assert_eq!(tasks.len(), 1);
        let task = &tasks[0];
        assert_eq!(task.task_id, TaskId::new("12220-3440-12532-my-task"));
        assert_eq!(task.agent_id, AgentId::new("12220-3440-12532-S1233"));
        let executor = task.executor.as_ref().expect("executor set");
        assert_eq!(
            executor.executor_id,
            ExecutorId::new("12214-23523-my-executor")
        );
        let command = executor.command.as_ref().expect("command set");
        assert_eq!(
            (command.shell, command.value.as_deref()),
            (Some(true), Some("sleep 1000"))
        );
        let mem = &task.resources[1];
        assert_eq!((mem.name.as_str(), mem.kind), ("mem", ValueType::Scalar));
        assert_eq!(mem.scalar, Some(Scalar { value: 128.0 }));
        assert_eq!(
            mem.allocation_info.as_ref().and_then(|a| a.role.as_deref()),
            Some("engineering")
        );
        assert_eq!(task.limits["cpus"], Value::from("Infinity"));
        assert_eq!(task.limits["mem"], Value::from(512.0));
    }

    #[test]
    fn doc_decline_call() {
        let call: Call = round_trip(include_str!("testdata/call-decline.json"));
        let framework = FrameworkId::new("12220-3440-12532-2345");
        let offers = vec![
            OfferId::new("12220-3440-12532-O12"),
            OfferId::new("12220-3440-12532-O13"),
        ];
        let filters = Some(Filters {
            refuse_seconds: Some(5.0),
        });
        assert_eq!(call, Call::decline(framework, offers, filters));
    }

    #[test]
    fn doc_kill_call() {
        let call: Call = round_trip(include_str!("testdata/call-kill.json"));
        assert_eq!(
            call,
            Call::kill(
                FrameworkId::new("12220-3440-12532-2345"),
                TaskId::new("12220-3440-12532-my-task"),
                Some(AgentId::new("12220-3440-12532-S1233")),
            )
        );
    }

    #[test]
    fn doc_shutdown_call() {
        let call: Call = round_trip(include_str!("testdata/call-shutdown.json"));
        let shutdown = call.shutdown.expect("shutdown set");
        assert_eq!(
            shutdown.executor_id,
            ExecutorId::new("123450-2340-1232-my-executor")
        );
        assert_eq!(shutdown.agent_id, AgentId::new("12220-3440-12532-S1233"));
    }

    #[test]
    fn doc_acknowledge_call_matches_the_constructor() {
        let call: Call = round_trip(include_str!("testdata/call-acknowledge.json"));
        let status = TaskStatus {
            task_id: TaskId::new("12220-3440-12532-my-task"),
            state: TaskState::TaskRunning,
            message: None,
            source: None,
            reason: None,
            data: None,
            agent_id: Some(AgentId::new("12220-3440-12532-S1233")),
            executor_id: None,
            timestamp: None,
            uuid: Some("jhadf73jhakdlfha723adf".into()),
            healthy: None,
            check_status: None,
            labels: None,
            container_status: None,
            unreachable_time: None,
            limitation: None,
        };
        let framework = FrameworkId::new("12220-3440-12532-2345");
        assert_eq!(Some(call), Call::acknowledge(framework.clone(), &status));
        let unacknowledgeable = TaskStatus {
            uuid: None,
            ..status
        };
        assert_eq!(Call::acknowledge(framework, &unacknowledgeable), None);
    }

    #[test]
    fn doc_reconcile_call() {
        let call: Call = round_trip(include_str!("testdata/call-reconcile.json"));
        let task = ReconcileTask {
            task_id: TaskId::new("312325"),
            agent_id: Some(AgentId::new("123535")),
        };
        assert_eq!(
            call,
            Call::reconcile(FrameworkId::new("12220-3440-12532-2345"), vec![task])
        );
    }

    #[test]
    fn doc_offers_event_in_the_proto_shape() {
        // The doc's example has `"offers": [ … ]`; scheduler.proto has `Event.offers` as an
        // `Offers` message whose `offers` field is the list, and Mesos 1.11 sends
        // `"offers": {"offers": [ … ]}` (seen from the real master, see smoke.sh). The doc's shape is
        // refused; its offer, in the proto's shape, round-trips.
        let text = include_str!("testdata/event-offers.json");
        assert!(serde_json::from_str::<Event>(text).is_err());
        let mut doc: Value = serde_json::from_str(text).expect("valid JSON");
        let list = doc["offers"].take();
        doc["offers"] = serde_json::json!({ "offers": list });
        let event: Event = round_trip(&doc.to_string());
        assert_eq!(event.kind, EventType::Offers);
        let offers = event.offers.expect("offers set").offers;
        let [offer] = &offers[..] else {
            panic!("one offer: {offers:?}")
        };
        assert_eq!(offer.id, OfferId::new("12214-23523-O235235"));
        assert_eq!(offer.framework_id, FrameworkId::new("12124-235325-32425"));
        assert_eq!(offer.agent_id, AgentId::new("12325-23523-S23523"));
        assert_eq!(offer.hostname, "agent.host");
        assert_eq!(offer.resources[0].name, "cpus");
        assert_eq!(offer.resources[0].scalar, Some(Scalar { value: 2.0 }));
        assert_eq!(offer.resources[0].role.as_deref(), Some("*"));
        assert_eq!(offer.attributes[0].kind, ValueType::Text);
        assert_eq!(
            offer.attributes[0].text,
            Some(Text {
                value: "ubuntu16.04".into()
            })
        );
        assert_eq!(
            offer.executor_ids,
            [ExecutorId::new("12214-23523-my-executor")]
        );
    }

    #[test]
    fn doc_rescind_event() {
        let event: Event = round_trip(include_str!("testdata/event-rescind.json"));
        assert_eq!(
            event.rescind,
            Some(Rescind {
                offer_id: OfferId::new("12214-23523-O235235")
            })
        );
    }

    #[test]
    fn doc_update_event_drops_the_field_the_proto_does_not_have() {
        // The doc's example carries `"bytes"`, which TaskStatus does not have (its field is
        // `data`): decoded as Mesos would, by ignoring it.
        let text = include_str!("testdata/event-update.json");
        let event: Event = serde_json::from_str(text).expect("decodes");
        let status = &event.update.as_ref().expect("update set").status;
        assert_eq!(status.task_id, TaskId::new("12344-my-task"));
        assert_eq!(status.state, TaskState::TaskRunning);
        assert_eq!(status.source, Some(TaskStatusSource::SourceExecutor));
        assert_eq!(status.uuid.as_deref(), Some("adfadfadbhgvjayd23r2uahj"));
        assert_eq!(status.data, None);
        let mut original: Value = serde_json::from_str(text).expect("valid JSON");
        if let Some(status) = original
            .pointer_mut("/update/status")
            .and_then(Value::as_object_mut)
        {
            status.remove("bytes");
        }
        assert_eq!(serde_json::to_value(&event).expect("encodes"), original);
    }

    #[test]
    fn doc_message_event() {
        let event: Event = round_trip(include_str!("testdata/event-message.json"));
        assert_eq!(
            event.message.expect("message set").data,
            "adfadf3t2wa3353dfadf"
        );
    }

    #[test]
    fn doc_failure_event() {
        let event: Event = round_trip(include_str!("testdata/event-failure.json"));
        let failure = event.failure.expect("failure set");
        assert_eq!(failure.status, Some(1));
        assert_eq!(
            failure.executor_id,
            Some(ExecutorId::new("12214-23523-my-executor"))
        );
    }

    #[test]
    fn error_event_as_the_proto_defines_it_and_as_the_doc_shows_it() {
        // scheduler.proto: `optional Error error = 8` with `required string message`. The doc's
        // example puts `message` at the top level instead.
        let proto_form = r#"{"type":"ERROR","error":{"message":"Framework is not authorized"}}"#;
        let event: Event = round_trip(proto_form);
        assert_eq!(
            event.error.map(|e| e.message).as_deref(),
            Some("Framework is not authorized")
        );
        // The doc's top-level `message` is `Event.message`, the MESSAGE event's field (an object),
        // so the doc's form is refused rather than misread.
        assert!(serde_json::from_str::<Event>(include_str!("testdata/event-error.json")).is_err());
    }

    #[test]
    fn doc_heartbeat_event() {
        let event: Event = round_trip(include_str!("testdata/event-heartbeat.json"));
        assert_eq!(event.kind, EventType::Heartbeat);
    }

    #[test]
    fn unknown_names_decode_to_unknown_where_the_proto_has_one() {
        let event: Event =
            serde_json::from_str(r#"{"type":"SOMETHING_NEW","x":1}"#).expect("decodes");
        assert_eq!(event.kind, EventType::Unknown);
        let status: TaskStatus = serde_json::from_str(
            r#"{"task_id":{"value":"t"},"state":"TASK_FAILED","reason":"REASON_NEW"}"#,
        )
        .expect("decodes");
        assert_eq!(status.reason, Some(TaskStatusReason::Unknown));
        assert!(status.state.is_terminal());
        // TaskState has no UNKNOWN = 0 value: an unknown state is an error, not a guess.
        assert!(serde_json::from_str::<TaskState>(r#""TASK_NEW""#).is_err());
    }

    #[test]
    fn launch_group_is_encoded_with_the_proto_names() {
        let agent = AgentId::new("a1");
        let task = |name: &str| TaskInfo {
            name: name.into(),
            task_id: TaskId::new(name),
            agent_id: agent.clone(),
            resources: vec![Resource::scalar("cpus", 0.1), Resource::scalar("mem", 32.0)],
            executor: None,
            command: Some(CommandInfo {
                value: Some("sleep 1".into()),
                ..CommandInfo::default()
            }),
            container: None,
            health_check: None,
            check: None,
            kill_policy: None,
            data: None,
            labels: None,
            discovery: None,
            max_completion_time: None,
            limits: Default::default(),
        };
        let executor = ExecutorInfo {
            kind: Some(ExecutorType::Custom),
            executor_id: ExecutorId::new("e1"),
            framework_id: Some(FrameworkId::new("f1")),
            command: Some(CommandInfo {
                value: Some("tars-executor".into()),
                shell: Some(false),
                ..CommandInfo::default()
            }),
            container: None,
            resources: vec![Resource::ranges(
                "ports",
                vec![Range {
                    begin: 31000,
                    end: 31001,
                }],
            )],
            name: None,
            source: None,
            data: None,
            discovery: None,
            shutdown_grace_period: None,
            labels: None,
        };
        let group = TaskGroupInfo {
            tasks: vec![task("web"), task("sidecar")],
        };
        let call = Call::accept(
            FrameworkId::new("f1"),
            vec![OfferId::new("o1")],
            vec![OfferOperation::launch_group(executor, group)],
            Some(Filters {
                refuse_seconds: Some(1.0),
            }),
        );
        let json = serde_json::to_value(&call).expect("encodes");
        assert_eq!(json["type"], "ACCEPT");
        let operation = &json["accept"]["operations"][0];
        assert_eq!(operation["type"], "LAUNCH_GROUP");
        assert_eq!(operation["launch_group"]["executor"]["type"], "CUSTOM");
        assert_eq!(
            operation["launch_group"]["executor"]["resources"][0]["ranges"]["range"][0]["end"],
            31001
        );
        assert_eq!(
            operation["launch_group"]["task_group"]["tasks"][1]["task_id"]["value"],
            "sidecar"
        );
        assert_eq!(
            operation["launch_group"]["task_group"]["tasks"][0]["resources"][0],
            serde_json::json!({"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}})
        );
        let back: Call = serde_json::from_value(json).expect("decodes");
        assert_eq!(back, call);
    }
}

/// Samples captured from the Mesos 1.11.0 of `scripts/engines/mesos` (`testdata/mesos-1.11/`):
/// event streams as the master sent them (RecordIO), and operator API responses.
#[cfg(test)]
mod real_samples {
    use super::master::{Response, ResponseType};
    use super::mesos::*;
    use super::scheduler::*;
    use crate::recordio::Decoder;
    use serde_json::Value;

    /// Paths (`/a/b/0/c`) present in `original` but not in `encoded`, or different there; empty
    /// arrays count as absent (Mesos writes some, the encoder omits them) and numbers are compared
    /// as floats.
    fn lost(original: &Value, encoded: &Value, path: &str, out: &mut Vec<String>) {
        match (original, encoded) {
            (Value::Object(a), Value::Object(b)) => {
                for (key, value) in a {
                    let here = format!("{path}/{key}");
                    match b.get(key) {
                        Some(other) => lost(value, other, &here, out),
                        None if value.as_array().is_some_and(Vec::is_empty) => {}
                        None => out.push(here),
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    lost(x, y, &format!("{path}/{i}"), out);
                }
            }
            (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => {}
            (x, y) if x == y => {}
            _ => out.push(path.to_owned()),
        }
    }

    /// What re-encoding `text` as `T` loses.
    fn lost_in_round_trip<T>(text: &[u8]) -> (T, Vec<String>)
    where
        T: serde::de::DeserializeOwned + serde::Serialize,
    {
        let decoded: T = serde_json::from_slice(text).expect("decodes");
        let original: Value = serde_json::from_slice(text).expect("valid JSON");
        let encoded = serde_json::to_value(&decoded).expect("encodes");
        let mut out = Vec::new();
        lost(&original, &encoded, "", &mut out);
        (decoded, out)
    }

    fn events(stream: &[u8]) -> Vec<Event> {
        // Fed in 7-byte chunks: records arrive split, as over HTTP.
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        for chunk in stream.chunks(7) {
            for record in decoder.decode(chunk).expect("valid RecordIO") {
                let (event, lost) = lost_in_round_trip::<Event>(&record);
                assert_eq!(
                    lost,
                    Vec::<String>::new(),
                    "{}",
                    String::from_utf8_lossy(&record)
                );
                events.push(event);
            }
        }
        decoder.finish().expect("the capture ends between records");
        events
    }

    #[test]
    fn subscribe_stream() {
        let events = events(include_bytes!(
            "testdata/mesos-1.11/subscribe-stream.recordio"
        ));
        let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventType::Subscribed,
                EventType::Heartbeat,
                EventType::Offers
            ]
        );
        let subscribed = events[0].subscribed.as_ref().expect("subscribed set");
        assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
        let master = subscribed.master_info.as_ref().expect("master_info");
        assert_eq!(
            (master.port, master.version.as_deref()),
            (5151, Some("1.11.0"))
        );
        let offer = &events[2].offers.as_ref().expect("offers set").offers[0];
        assert_eq!(offer.framework_id, subscribed.framework_id);
        assert_eq!(offer.hostname, "127.0.0.1");
        let ports = offer
            .resources
            .iter()
            .find(|r| r.name == "ports")
            .expect("ports");
        assert_eq!(
            ports.ranges.as_ref().map(|r| r.range.clone()),
            Some(vec![Range {
                begin: 31000,
                end: 32000
            }])
        );
        let mem = offer
            .resources
            .iter()
            .find(|r| r.name == "mem")
            .expect("mem");
        assert_eq!(mem.scalar, Some(Scalar { value: 2048.0 }));
    }

    #[test]
    fn launch_group_without_executor_disk_is_refused_by_the_master() {
        // A LAUNCH_GROUP whose executor has cpus and mem but no disk: the master answers each
        // task with TASK_ERROR / REASON_TASK_GROUP_INVALID ("Executor '…' uses no disk").
        let events = events(include_bytes!(
            "testdata/mesos-1.11/launch-group-invalid-stream.recordio"
        ));
        let updates: Vec<_> = events.iter().filter_map(|e| e.update.as_ref()).collect();
        assert_eq!(updates.len(), 2);
        for update in updates {
            let status = &update.status;
            assert_eq!(status.state, TaskState::TaskError);
            assert_eq!(
                status.reason,
                Some(TaskStatusReason::ReasonTaskGroupInvalid)
            );
            assert_eq!(status.source, Some(TaskStatusSource::SourceMaster));
            assert!(
                status
                    .message
                    .as_deref()
                    .is_some_and(|m| m.contains("uses no disk"))
            );
            // Master-generated updates carry no uuid and are not acknowledged.
            assert_eq!(status.uuid, None);
            assert_eq!(Call::acknowledge(FrameworkId::new("f"), status), None);
        }
    }

    #[test]
    fn launch_group_whose_executor_cannot_start() {
        // With disk, the agent takes the group; without a `mesos-containerizer` in its launcher
        // directory the executor never starts: FAILURE for the executor, then TASK_FAILED for
        // every task of the group, each with a uuid to acknowledge.
        let events = events(include_bytes!(
            "testdata/mesos-1.11/launch-group-failed-stream.recordio"
        ));
        let failure = events
            .iter()
            .find_map(|e| e.failure.as_ref())
            .expect("FAILURE");
        assert_eq!(failure.executor_id, Some(ExecutorId::new("tars-exec-1")));
        let statuses: Vec<_> = events
            .iter()
            .filter_map(|e| e.update.as_ref())
            .map(|u| &u.status)
            .collect();
        let tasks: Vec<_> = statuses.iter().map(|s| s.task_id.value.as_str()).collect();
        assert_eq!(tasks, ["web", "sidecar"]);
        for status in statuses {
            assert_eq!(status.state, TaskState::TaskFailed);
            assert_eq!(
                status.reason,
                Some(TaskStatusReason::ReasonExecutorTerminated)
            );
            assert_eq!(status.executor_id, Some(ExecutorId::new("tars-exec-1")));
            let ack = Call::acknowledge(FrameworkId::new("f"), status).expect("acknowledgeable");
            let acknowledge = ack.acknowledge.expect("acknowledge set");
            assert_eq!(Some(acknowledge.uuid), status.uuid.clone());
        }
    }

    fn response(text: &[u8], kind: ResponseType, expected_losses: &[&str]) -> Response {
        let (response, lost) = lost_in_round_trip::<Response>(text);
        assert_eq!(response.kind, kind);
        assert_eq!(
            lost, expected_losses,
            "fields not in the protos (or not typed) were dropped"
        );
        response
    }

    #[test]
    fn operator_get_version() {
        let r = response(
            include_bytes!("testdata/mesos-1.11/get-version.json"),
            ResponseType::GetVersion,
            &[],
        );
        let version = r.get_version.expect("get_version").version_info;
        assert_eq!(
            (version.version.as_str(), version.git_tag.as_deref()),
            ("1.11.0", Some("1.11.0"))
        );
    }

    #[test]
    fn operator_get_agents() {
        // `agent_info.checkpoint` is not in v1 AgentInfo (Mesos copies it from the internal
        // SlaveInfo): it is ignored.
        let r = response(
            include_bytes!("testdata/mesos-1.11/get-agents.json"),
            ResponseType::GetAgents,
            &["/get_agents/agents/0/agent_info/checkpoint"],
        );
        let agents = r.get_agents.expect("get_agents").agents;
        let [agent] = &agents[..] else {
            panic!("one agent: {agents:?}")
        };
        assert!(agent.active);
        assert_eq!(agent.version, "1.11.0");
        assert_eq!(agent.agent_info.hostname, "127.0.0.1");
        assert_eq!(agent.agent_info.resources.len(), 4);
    }

    #[test]
    fn operator_get_tasks_and_frameworks() {
        let r = response(
            include_bytes!("testdata/mesos-1.11/get-tasks.json"),
            ResponseType::GetTasks,
            &[],
        );
        assert_eq!(r.get_tasks.expect("get_tasks").tasks, []);
        let r = response(
            include_bytes!("testdata/mesos-1.11/get-frameworks.json"),
            ResponseType::GetFrameworks,
            &[],
        );
        let frameworks = r.get_frameworks.expect("get_frameworks").frameworks;
        assert_eq!(frameworks.len(), 1);
        assert_eq!(frameworks[0].framework_info.name, "capture");
        assert_eq!(frameworks[0].offers.len(), 1);
    }

    #[test]
    fn operator_get_state() {
        for (text, completed) in [
            (&include_bytes!("testdata/mesos-1.11/get-state.json")[..], 0),
            (
                &include_bytes!("testdata/mesos-1.11/get-state-after-teardown.json")[..],
                2,
            ),
        ] {
            let r = response(
                text,
                ResponseType::GetState,
                &["/get_state/get_agents/agents/0/agent_info/checkpoint"],
            );
            let state = r.get_state.expect("get_state");
            let tasks = state.get_tasks.expect("get_tasks");
            assert_eq!(tasks.completed_tasks.len(), completed);
            for task in &tasks.completed_tasks {
                assert_eq!(task.executor_id, Some(ExecutorId::new("tars-exec-1")));
                assert!(task.state.is_terminal());
            }
            assert_eq!(state.get_agents.expect("get_agents").agents.len(), 1);
        }
    }
}

// Executor API: the JSON examples of apache/mesos `docs/executor-http-api.md` (1.11.0),
// unchanged; where the doc departs from executor.proto (and from what the real agent sends),
// the test says so.

#[cfg(test)]
mod executor_api {
    use super::tests::round_trip;
    use crate::v1::executor::*;
    use crate::v1::mesos::*;
    use serde_json::Value;

    #[test]
    fn doc_update_call() {
        let call: Call = round_trip(include_str!("testdata/executor-call-update.json"));
        assert_eq!(call.kind, CallType::Update);
        let status = call.update.clone().expect("update set").status;
        assert_eq!(status.state, TaskState::TaskRunning);
        assert_eq!(status.source, Some(TaskStatusSource::SourceExecutor));
        assert_eq!(
            status.uuid.as_deref(),
            Some("ZDQwZjNmM2UtYmJlMy00NGFmLWEyMzAtNGNiMWVhZTcyZjY3Cg==")
        );
        let rebuilt = Call::update(call.framework_id.clone(), call.executor_id.clone(), status);
        assert_eq!(rebuilt, call);
    }

    #[test]
    fn doc_message_call() {
        let call: Call = round_trip(include_str!("testdata/executor-call-message.json"));
        assert_eq!(
            call,
            Call::message(
                FrameworkId::new("9aaa9d0d-e00d-444f-bfbd-23dd197939a0-0000"),
                ExecutorId::new("387aa966-8fc5-4428-a794-5a868a60d3eb"),
                "t+Wonz5fRFKMzCnEptlv5A==".into()
            )
        );
    }

    #[test]
    fn doc_subscribe_call_with_unacknowledged_tasks_and_updates() {
        // The doc puts a `framework_id` into each unacknowledged update; executor.proto's
        // `Call.Update` has only `status`, so it is dropped and the rest round-trips.
        let text = include_str!("testdata/executor-call-subscribe.json");
        let call: Call = serde_json::from_str(text).expect("decodes");
        let mut doc: Value = serde_json::from_str(text).expect("valid JSON");
        doc["subscribe"]["unacknowledged_updates"][0]
            .as_object_mut()
            .expect("an update")
            .remove("framework_id");
        let reencoded: Call = round_trip(&doc.to_string());
        assert_eq!(reencoded, call);
        assert_eq!(call.kind, CallType::Subscribe);
        let subscribe = call.subscribe.expect("subscribe set");
        let [task] = &subscribe.unacknowledged_tasks[..] else {
            panic!("one task: {:?}", subscribe.unacknowledged_tasks)
        };
        assert_eq!(
            task.task_id,
            TaskId::new("d40f3f3e-bbe3-44af-a230-4cb1eae72f67")
        );
        let command = task.command.as_ref().expect("command");
        assert_eq!(command.arguments, ["-l", "/tmp"]);
        let [update] = &subscribe.unacknowledged_updates[..] else {
            panic!("one update")
        };
        assert_eq!(update.status.state, TaskState::TaskRunning);
        // The constructor builds the same call.
        let built = Call::subscribe(
            FrameworkId::new("49154f1b-8cf6-4421-bf13-8bd11dccd1f1"),
            ExecutorId::new("387aa966-8fc5-4428-a794-5a868a60d3eb"),
            subscribe.unacknowledged_tasks.clone(),
            subscribe.unacknowledged_updates.clone(),
        );
        assert_eq!(built, reencoded);
        // A first SUBSCRIBE has an empty `subscribe` object.
        let first = Call::subscribe(built.framework_id, built.executor_id, vec![], vec![]);
        assert_eq!(
            serde_json::to_value(&first).expect("encodes")["subscribe"],
            serde_json::json!({})
        );
    }

    #[test]
    fn doc_subscribed_event_differs_from_the_proto() {
        // The doc's SUBSCRIBED has `agent_id` beside `agent_info` and an AgentInfo with
        // `host`; the proto's AgentInfo requires `hostname` (what the agent sends), so the
        // doc's example is refused. In the proto's shape it round-trips.
        let text = include_str!("testdata/executor-event-subscribed.json");
        assert!(serde_json::from_str::<Event>(text).is_err());
        let mut doc: Value = serde_json::from_str(text).expect("valid JSON");
        let subscribed = doc["subscribed"].as_object_mut().expect("subscribed");
        subscribed.remove("agent_id");
        subscribed["agent_info"] = serde_json::json!({"hostname": "agenthost", "port": 5051});
        let event: Event = round_trip(&doc.to_string());
        assert_eq!(event.kind, EventType::Subscribed);
        let subscribed = event.subscribed.expect("subscribed set");
        assert_eq!(
            subscribed.executor_info.executor_id,
            ExecutorId::new("387aa966-8fc5-4428-a794-5a868a60d3eb")
        );
        assert_eq!(subscribed.framework_info.name, "my_framework");
        assert_eq!(subscribed.agent_info.port, Some(5051));
    }

    #[test]
    fn doc_launch_event() {
        // The doc's LAUNCH carries a `framework_info` that executor.proto's `Event.Launch`
        // does not have: ignored.
        let text = include_str!("testdata/executor-event-launch.json");
        let event: Event = serde_json::from_str(text).expect("decodes");
        let mut doc: Value = serde_json::from_str(text).expect("valid JSON");
        doc["launch"]
            .as_object_mut()
            .expect("launch")
            .remove("framework_info");
        assert_eq!(round_trip::<Event>(&doc.to_string()), event);
        let task = event.launch.expect("launch set").task;
        assert_eq!(task.name, "dummy-task");
        assert_eq!(task.command.and_then(|c| c.value).as_deref(), Some("sleep"));
    }

    #[test]
    fn doc_launch_group_event() {
        let event: Event = round_trip(include_str!("testdata/executor-event-launch-group.json"));
        assert_eq!(event.kind, EventType::LaunchGroup);
        let tasks = event
            .launch_group
            .expect("launch_group set")
            .task_group
            .tasks;
        assert_eq!(tasks.len(), 1);
        assert_eq!(
            tasks[0].agent_id,
            AgentId::new("f1c9cdc5-195e-41a7-a0d7-adaa9af07f81")
        );
        assert!(tasks[0].resources.is_empty());
    }

    #[test]
    fn doc_kill_acknowledged_message_shutdown_error_events() {
        let kill: Event = round_trip(include_str!("testdata/executor-event-kill.json"));
        assert_eq!(kill.kind, EventType::Kill);
        let kill = kill.kill.expect("kill set");
        assert_eq!(
            kill.task_id,
            TaskId::new("d40f3f3e-bbe3-44af-a230-4cb1eae72f67")
        );
        assert_eq!(kill.kill_policy, None);

        let ack: Event = round_trip(include_str!("testdata/executor-event-acknowledged.json"));
        let ack = ack.acknowledged.expect("acknowledged set");
        assert_eq!(
            ack.uuid,
            "ZDQwZjNmM2UtYmJlMy00NGFmLWEyMzAtNGNiMWVhZTcyZjY3Cg=="
        );

        let message: Event = round_trip(include_str!("testdata/executor-event-message.json"));
        assert_eq!(
            message.message.expect("message set").data,
            "c2FtcGxlIGRhdGE="
        );

        let shutdown: Event = round_trip(include_str!("testdata/executor-event-shutdown.json"));
        assert_eq!(shutdown.kind, EventType::Shutdown);

        let error: Event = round_trip(include_str!("testdata/executor-event-error.json"));
        assert_eq!(
            error.error.expect("error set").message,
            "Unrecoverable error"
        );

        let unknown: Event = serde_json::from_str(r#"{"type":"SOMETHING_NEW"}"#).expect("decodes");
        assert_eq!(unknown.kind, EventType::Unknown);
    }

    #[test]
    fn health_check_defaults_are_the_protos() {
        let check: HealthCheck = serde_json::from_value(serde_json::json!({
            "type": "HTTP", "http": {"port": 8080, "path": "/health"}
        }))
        .expect("decodes");
        assert_eq!(check.kind, Some(HealthCheckType::Http));
        assert_eq!(check.http.as_ref().map(|h| h.port), Some(8080));
        assert_eq!(
            (
                check.delay(),
                check.interval(),
                check.timeout(),
                check.grace_period()
            ),
            (15.0, 10.0, 20.0, 10.0)
        );
        assert_eq!(check.max_consecutive_failures(), 3);
        let tcp: HealthCheck = serde_json::from_value(serde_json::json!({
            "type": "TCP", "tcp": {"port": 1}, "delay_seconds": 0, "consecutive_failures": 1
        }))
        .expect("decodes");
        assert_eq!((tcp.delay(), tcp.max_consecutive_failures()), (0.0, 1));
    }
}
