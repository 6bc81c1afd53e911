//! The state machine on a virtual clock: every `now` is given, nothing sleeps.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tars_api::group::{ContainerState, ContainerStatus, Termination};
use tars_api::{
    ConcurrencyPolicy, Container, ContainerGroup, ContainerGroupSpec, ContainerGroupStatus,
    CronJob, CronJobSpec, GroupPhase, RestartPolicy, RunOutcome,
};

use super::core::{Core, Effect};
use crate::store::{MemoryStore, Store};

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn job(name: &str, schedule: Option<&str>) -> CronJob {
    let mut spec = ContainerGroupSpec::new(vec![Container::new("main", "img", &["true"])]);
    spec.restart_policy = RestartPolicy::Never;
    let spec = CronJobSpec::new(schedule, spec);
    let mut j = CronJob::new(name, spec);
    j.metadata.created_at = Some(ts("2026-01-01T00:00:00Z"));
    j
}

fn started(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Start(g) => Some(g.name().to_owned()),
            Effect::Stop { .. } => None,
        })
        .collect()
}

fn stopped(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Stop { group, .. } => Some(group.clone()),
            Effect::Start(_) => None,
        })
        .collect()
}

fn ended(name: &str, exit: i32) -> ContainerGroup {
    let mut g = ContainerGroup::new(
        name,
        ContainerGroupSpec::new(vec![Container::new("main", "img", &["true"])]),
    );
    g.status = Some(ContainerGroupStatus {
        phase: if exit == 0 {
            GroupPhase::Succeeded
        } else {
            GroupPhase::Failed
        },
        containers: vec![ContainerStatus {
            name: "main".into(),
            state: ContainerState::Terminated(Termination {
                exit_code: Some(exit),
                signal: None,
                reason: if exit == 0 { "Completed" } else { "Error" }.into(),
                finished_at: None,
            }),
            ..Default::default()
        }],
        ..Default::default()
    });
    g
}

fn setup(jobs: &[CronJob], now: &str) -> (Arc<dyn Store>, Core) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut core = Core::load(store.clone(), ts(now), &|_| true).expect("load");
    for j in jobs {
        core.put(j.clone(), ts(now)).expect("put");
    }
    (store, core)
}

#[test]
fn a_slot_is_recorded_before_its_group_is_started() {
    let (_, mut core) = setup(
        &[job("tick", Some("*/2 * * * * *"))],
        "2026-01-01T00:00:00.5Z",
    );
    assert_eq!(core.next_due(), Some(ts("2026-01-01T00:00:02Z")));
    assert!(
        core.fire(ts("2026-01-01T00:00:01.9Z"))
            .expect("fire")
            .is_empty()
    );
    let effects = core.fire(ts("2026-01-01T00:00:02.001Z")).expect("fire");
    assert_eq!(started(&effects), ["tick-1767225602"]);
    let runs = core.runs("tick").expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, RunOutcome::Running);
    assert_eq!(runs[0].slot, ts("2026-01-01T00:00:02Z"));
    let status = core.object("tick").and_then(|o| o.status).expect("status");
    assert_eq!(status.active, ["tick-1767225602"]);
    assert_eq!(status.next_schedule, Some(ts("2026-01-01T00:00:04Z")));

    let effects = core
        .group_event(&ended("tick-1767225602", 0), ts("2026-01-01T00:00:03Z"))
        .expect("event");
    assert_eq!(
        stopped(&effects),
        ["tick-1767225602"],
        "finished group removed"
    );
    let status = core.object("tick").and_then(|o| o.status).expect("status");
    assert_eq!(status.success_count, 1);
    assert!(status.active.is_empty());
    assert_eq!(status.last_success, Some(ts("2026-01-01T00:00:03Z")));
}

#[test]
fn a_restart_never_starts_a_slot_twice_nor_loses_one() {
    let (store, mut core) = setup(
        &[job("tick", Some("* * * * * *"))],
        "2026-01-01T00:00:00.5Z",
    );
    let effects = core.fire(ts("2026-01-01T00:00:01Z")).expect("fire");
    assert_eq!(started(&effects), ["tick-1767225601"]);
    // Crash after the record, before the group was started; restart 3.5 s later.
    drop(core);
    let now = ts("2026-01-01T00:00:04.5Z");
    let mut core = Core::load(store.clone(), now, &|_| true).expect("reload");
    let effects = core
        .reconcile(&[], &core.active_groups(), now)
        .expect("reconcile");
    assert_eq!(
        started(&effects),
        ["tick-1767225601"],
        "the recorded run starts once, under its own name"
    );
    let effects = core.fire(now).expect("fire");
    assert_eq!(started(&effects), ["tick-1767225604"], "one catch-up run");
    let runs = core.runs("tick").expect("runs");
    let slots: Vec<(String, RunOutcome)> = runs
        .iter()
        .map(|r| (r.slot.to_string(), r.outcome))
        .collect();
    assert_eq!(
        slots,
        [
            ("2026-01-01T00:00:01Z".to_owned(), RunOutcome::Running),
            ("2026-01-01T00:00:03Z".to_owned(), RunOutcome::Missed),
            ("2026-01-01T00:00:04Z".to_owned(), RunOutcome::Running),
        ],
        "slot 2 was missed too, pruned by the failed history limit of 1"
    );
}

#[test]
fn missed_slots_after_an_outage_are_each_recorded() {
    let mut j = job("tick", Some("* * * * * *"));
    j.spec.failed_history_limit = 100;
    let (store, mut core) = setup(&[j], "2026-01-01T00:00:00.5Z");
    core.fire(ts("2026-01-01T00:00:01Z")).expect("fire");
    drop(core);
    let now = ts("2026-01-01T00:00:05.5Z");
    let mut core = Core::load(store, now, &|_| true).expect("reload");
    core.fire(now).expect("fire");
    let runs = core.runs("tick").expect("runs");
    let got: Vec<(i64, RunOutcome)> = runs
        .iter()
        .map(|r| (r.slot.as_second() - 1_767_225_600, r.outcome))
        .collect();
    assert_eq!(
        got,
        [
            (1, RunOutcome::Running),
            (2, RunOutcome::Missed),
            (3, RunOutcome::Missed),
            (4, RunOutcome::Missed),
            (5, RunOutcome::Running),
        ]
    );
    let status = core.object("tick").and_then(|o| o.status).expect("status");
    assert_eq!(status.missed_count, 3);
}

#[test]
fn forbid_skips_and_replace_stops_the_previous_run() {
    let mut forbid = job("forbid", Some("* * * * * *"));
    forbid.spec.concurrency = ConcurrencyPolicy::Forbid;
    forbid.spec.failed_history_limit = 10;
    let mut replace = job("replace", Some("* * * * * *"));
    replace.spec.concurrency = ConcurrencyPolicy::Replace;
    replace.spec.failed_history_limit = 10;
    let (store, mut core) = setup(&[forbid, replace], "2026-01-01T00:00:00.5Z");
    let first = core.fire(ts("2026-01-01T00:00:01Z")).expect("fire");
    assert_eq!(started(&first).len(), 2);
    let second = core.fire(ts("2026-01-01T00:00:02Z")).expect("fire");
    assert_eq!(started(&second), ["replace-1767225602"]);
    assert_eq!(stopped(&second), ["replace-1767225601"]);
    let forbid_runs = core.runs("forbid").expect("runs");
    assert_eq!(forbid_runs[1].outcome, RunOutcome::Missed);
    assert!(
        forbid_runs[1]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("Forbid"))
    );
    let replace_runs = core.runs("replace").expect("runs");
    assert_eq!(replace_runs[0].outcome, RunOutcome::Replaced);
    assert_eq!(replace_runs[1].outcome, RunOutcome::Running);
    let reloaded = Core::load(store, ts("2026-01-01T00:00:02.5Z"), &|_| true).expect("reload");
    let status = reloaded
        .object("forbid")
        .and_then(|o| o.status)
        .expect("status");
    assert_eq!(
        (status.missed_count, status.last_schedule),
        (1, Some(ts("2026-01-01T00:00:01Z"))),
        "counters are stored with the step"
    );
}

#[test]
fn a_failed_run_is_retried_with_backoff_then_counted_once() {
    let mut j = job("flaky", Some("0 * * * * *"));
    j.spec.retries = 2;
    j.spec.retry_backoff = Duration::from_secs(1);
    let (_, mut core) = setup(&[j], "2026-01-01T00:00:00.5Z");
    let e = core.fire(ts("2026-01-01T00:01:00Z")).expect("fire");
    assert_eq!(started(&e), ["flaky-1767225660"]);
    core.group_event(&ended("flaky-1767225660", 3), ts("2026-01-01T00:01:01Z"))
        .expect("fail 1");
    assert_eq!(
        core.next_due(),
        Some(ts("2026-01-01T00:01:02Z")),
        "1 s backoff"
    );
    let e = core.fire(ts("2026-01-01T00:01:02Z")).expect("retry 1");
    assert_eq!(started(&e), ["flaky-1767225660-2"]);
    core.group_event(&ended("flaky-1767225660-2", 3), ts("2026-01-01T00:01:03Z"))
        .expect("fail 2");
    assert_eq!(
        core.next_due(),
        Some(ts("2026-01-01T00:01:05Z")),
        "2 s backoff"
    );
    let e = core.fire(ts("2026-01-01T00:01:05Z")).expect("retry 2");
    assert_eq!(started(&e), ["flaky-1767225660-3"]);
    core.group_event(&ended("flaky-1767225660-3", 4), ts("2026-01-01T00:01:06Z"))
        .expect("fail 3");
    let runs = core.runs("flaky").expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, RunOutcome::Failed);
    assert_eq!(runs[0].attempt, 3);
    assert_eq!(runs[0].exit_code, Some(4));
    let status = core.object("flaky").and_then(|o| o.status).expect("status");
    assert_eq!((status.error_count, status.success_count), (1, 0));
    assert_eq!(status.last_error, Some(ts("2026-01-01T00:01:06Z")));
}

#[test]
fn an_overrunning_attempt_is_stopped_at_its_active_deadline() {
    let mut j = job("slow", Some("0 * * * * *"));
    j.spec.active_deadline = Some(Duration::from_secs(5));
    let (_, mut core) = setup(&[j], "2026-01-01T00:00:00.5Z");
    core.fire(ts("2026-01-01T00:01:00Z")).expect("fire");
    let e = core.fire(ts("2026-01-01T00:01:05Z")).expect("deadline");
    assert_eq!(stopped(&e), ["slow-1767225660"]);
    let runs = core.runs("slow").expect("runs");
    assert_eq!(runs[0].outcome, RunOutcome::Failed);
    assert!(
        runs[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("active deadline"))
    );
}

#[test]
fn a_child_runs_once_after_all_its_parents_succeed() {
    let a = job("a", None);
    let b = job("b", None);
    let mut child = job("child", None);
    child.spec.parents = vec!["a".into(), "b".into()];
    let (store, mut core) = setup(&[a, b, child], "2026-01-01T00:00:00.5Z");
    let (ga, _) = core.trigger("a", ts("2026-01-01T00:00:01Z")).expect("a");
    let (gb, _) = core.trigger("b", ts("2026-01-01T00:00:01Z")).expect("b");
    let e = core
        .group_event(&ended(&ga, 0), ts("2026-01-01T00:00:02Z"))
        .expect("a ok");
    assert!(started(&e).is_empty(), "b has not succeeded yet");
    let e = core
        .group_event(&ended(&gb, 0), ts("2026-01-01T00:00:03Z"))
        .expect("b ok");
    assert_eq!(started(&e), ["child-p1767225603000"]);
    let reloaded =
        Core::load(store.clone(), ts("2026-01-01T00:00:03.5Z"), &|_| true).expect("reload");
    let s = reloaded
        .object("child")
        .and_then(|o| o.status)
        .expect("status");
    assert_eq!(
        s.active,
        ["child-p1767225603000"],
        "the parent-started run is stored"
    );
    // a succeeds again: b has not succeeded since the child's run.
    let (ga, _) = core.trigger("a", ts("2026-01-01T00:00:04Z")).expect("a");
    let e = core
        .group_event(&ended(&ga, 0), ts("2026-01-01T00:00:05Z"))
        .expect("a ok");
    assert!(started(&e).is_empty());
}

#[test]
fn history_keeps_the_newest_within_each_limit() {
    let mut j = job("h", Some("* * * * * *"));
    j.spec.successful_history_limit = 2;
    j.spec.failed_history_limit = 1;
    let (_, mut core) = setup(&[j], "2026-01-01T00:00:00.5Z");
    for s in 1..=5 {
        let now = Timestamp::from_second(1_767_225_600 + s).expect("ts");
        let e = core.fire(now).expect("fire");
        let g = started(&e).pop().expect("started");
        let exit = if s % 2 == 0 { 1 } else { 0 };
        core.group_event(&ended(&g, exit), now).expect("end");
    }
    let kept: Vec<(i64, RunOutcome)> = core
        .runs("h")
        .expect("runs")
        .iter()
        .map(|r| (r.slot.as_second() - 1_767_225_600, r.outcome))
        .collect();
    assert_eq!(
        kept,
        [
            (3, RunOutcome::Succeeded),
            (4, RunOutcome::Failed),
            (5, RunOutcome::Succeeded),
        ]
    );
}

#[test]
fn a_suspended_job_fires_nothing_and_resumes_at_its_next_slot() {
    let mut j = job("s", Some("* * * * * *"));
    j.spec.suspend = true;
    let (_, mut core) = setup(&[j.clone()], "2026-01-01T00:00:00.5Z");
    assert_eq!(core.next_due(), None);
    j.spec.suspend = false;
    core.put(j, ts("2026-01-01T00:00:10.5Z")).expect("resume");
    assert_eq!(core.next_due(), Some(ts("2026-01-01T00:00:11Z")));
    let e = core.fire(ts("2026-01-01T00:00:11Z")).expect("fire");
    assert_eq!(started(&e), ["s-1767225611"]);
    assert_eq!(
        core.runs("s").expect("runs").len(),
        1,
        "no catch-up of suspended slots"
    );
}

#[test]
fn deleting_a_job_stops_its_runs_and_forgets_it() {
    let (store, mut core) = setup(&[job("d", Some("* * * * * *"))], "2026-01-01T00:00:00.5Z");
    core.fire(ts("2026-01-01T00:00:01Z")).expect("fire");
    let (_, effects) = core.remove("d").expect("remove");
    assert_eq!(stopped(&effects), ["d-1767225601"]);
    assert!(core.object("d").is_none());
    assert!(store.scan(super::state::RUNS, "").expect("scan").is_empty());
    assert!(
        core.fire(ts("2026-01-01T00:00:02Z"))
            .expect("fire")
            .is_empty()
    );
}

#[test]
fn suspending_disarms_the_slot_already_armed() {
    let mut j = job("s", Some("* * * * * *"));
    let (_, mut core) = setup(&[j.clone()], "2026-01-01T00:00:00.5Z");
    j.spec.suspend = true;
    core.put(j, ts("2026-01-01T00:00:00.6Z")).expect("suspend");
    assert!(
        core.fire(ts("2026-01-01T00:00:01Z"))
            .expect("fire")
            .is_empty()
    );
    assert!(core.runs("s").expect("runs").is_empty());
}

#[test]
fn a_group_started_after_its_run_ended_is_stopped() {
    let (_, mut core) = setup(&[job("r", Some("* * * * * *"))], "2026-01-01T00:00:00.5Z");
    core.fire(ts("2026-01-01T00:00:01Z")).expect("fire");
    let running = ended("r-1767225601", 0);
    assert_eq!(core.untracked(&running), None, "its run is active");
    core.remove("r").expect("remove");
    assert_eq!(
        core.untracked(&running).map(|e| stopped(&[e])),
        Some(vec!["r-1767225601".to_owned()])
    );
}

#[test]
fn watch_events_end_many_runs_in_one_step() {
    let (_, mut core) = setup(
        &[job("a", Some("* * * * * *")), job("b", Some("* * * * * *"))],
        "2026-01-01T00:00:00.5Z",
    );
    core.fire(ts("2026-01-01T00:00:01Z")).expect("fire");
    let events = [
        tars_api::WatchEvent::Modified(ended("a-1767225601", 0)),
        tars_api::WatchEvent::Deleted(ended("b-1767225601", 0)),
        tars_api::WatchEvent::Added(ended("stray-1767225601", 0)),
        tars_api::WatchEvent::SnapshotDone,
    ];
    let effects = core
        .watch_events(&events, ts("2026-01-01T00:00:01.5Z"))
        .expect("events");
    assert_eq!(
        stopped(&effects),
        ["a-1767225601", "stray-1767225601"],
        "a's group cleaned up; the stray one stopped; b's is already gone"
    );
    let outcome = |j: &str| core.runs(j).expect("runs")[0].outcome;
    assert_eq!(outcome("a"), RunOutcome::Succeeded);
    assert_eq!(outcome("b"), RunOutcome::Failed);
}

#[test]
fn a_slot_prepared_ahead_is_recorded_before_its_instant_and_started_once() {
    let (store, mut core) = setup(
        &[job("tick", Some("* * * * * *"))],
        "2026-01-01T00:00:00.5Z",
    );
    let slot = ts("2026-01-01T00:00:01Z");
    // Prepared ahead: recorded now, under the slot's own name and start time.
    let effects = core.prepare(slot).expect("prepare");
    assert_eq!(started(&effects), ["tick-1767225601"]);
    assert!(core.is_active_group("tick-1767225601"));
    let runs = core.runs("tick").expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].outcome, runs[0].slot, runs[0].started_at),
        (RunOutcome::Running, slot, Some(slot))
    );
    assert_eq!(core.next_due(), Some(ts("2026-01-01T00:00:02Z")));
    // Nothing is fired twice at the instant itself.
    assert!(core.fire(slot).expect("fire").is_empty());
    // Crash between the record and the instant: the restarted engine starts it once.
    drop(core);
    let now = ts("2026-01-01T00:00:01.2Z");
    let mut core = Core::load(store, now, &|_| true).expect("reload");
    let effects = core
        .reconcile(&[], &core.active_groups(), now)
        .expect("reconcile");
    assert_eq!(started(&effects), ["tick-1767225601"]);
    assert!(core.fire(now).expect("fire").is_empty());
    assert_eq!(core.runs("tick").expect("runs").len(), 1);
}

#[test]
fn a_run_begun_while_the_groups_are_listed_is_not_started_twice() {
    let (_, mut core) = setup(&[job("manual", None)], "2026-01-01T00:00:00Z");
    // The engine asks for the run groups; a trigger starts a run before the answer comes.
    let listed_for = core.active_groups();
    let (group, effects) = core
        .trigger("manual", ts("2026-01-01T00:00:00.1Z"))
        .expect("trigger");
    assert_eq!(started(&effects), std::slice::from_ref(&group));
    // The listing, taken before the run's group was created, does not show it.
    let effects = core
        .reconcile(&[], &listed_for, ts("2026-01-01T00:00:00.2Z"))
        .expect("reconcile");
    assert!(
        started(&effects).is_empty(),
        "started again: {:?}",
        started(&effects)
    );
    // A listing asked for after the trigger that misses the group: recorded, never started.
    let effects = core
        .reconcile(&[], &core.active_groups(), ts("2026-01-01T00:00:00.3Z"))
        .expect("reconcile");
    assert_eq!(started(&effects), [group]);
}

#[test]
fn a_forbid_slot_with_an_active_run_is_decided_at_its_instant_not_ahead() {
    let mut forbid = job("forbid", Some("* * * * * *"));
    forbid.spec.concurrency = ConcurrencyPolicy::Forbid;
    let (_, mut core) = setup(&[forbid], "2026-01-01T00:00:00.5Z");
    let first = core.prepare(ts("2026-01-01T00:00:01Z")).expect("prepare");
    assert_eq!(started(&first), ["forbid-1767225601"]);
    // The next slot is due while the run is active: not prepared.
    let ahead = core.prepare(ts("2026-01-01T00:00:02Z")).expect("prepare");
    assert!(ahead.is_empty());
    assert_eq!(core.next_due(), Some(ts("2026-01-01T00:00:02Z")));
    // The run ends within the lead time; at the instant the slot runs.
    core.group_event(
        &ended("forbid-1767225601", 0),
        ts("2026-01-01T00:00:01.95Z"),
    )
    .expect("event");
    let effects = core.fire(ts("2026-01-01T00:00:02Z")).expect("fire");
    assert_eq!(started(&effects), ["forbid-1767225602"]);
    let runs = core.runs("forbid").expect("runs");
    assert!(runs.iter().all(|r| r.outcome != RunOutcome::Missed));
}

/// Keeps every event it is given.
#[derive(Default)]
struct Recording(std::sync::Mutex<Vec<tars_api::events::Event>>);

impl tars_api::events::EventHook for Recording {
    fn emit(&self, event: &tars_api::events::Event) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event.clone());
    }
}

/// `name{label=value,...}` → value, from a debugging recorder's snapshot.
fn snapshot(
    snapshotter: &metrics_util::debugging::Snapshotter,
) -> std::collections::BTreeMap<String, metrics_util::debugging::DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (
                format!("{}{{{}}}", key.key().name(), labels.join(",")),
                value,
            )
        })
        .collect()
}

#[test]
fn runs_record_lateness_outcomes_and_misses_and_hooks_get_their_events_once_durable() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tars_api::events::{Event, EventHooks};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let hook = Arc::new(Recording::default());
    metrics::with_local_recorder(&recorder, || {
        let mut j = job("tick", Some("0 * * * * *"));
        j.spec.retries = 1;
        j.spec.retry_backoff = Duration::from_secs(1);
        j.spec.failed_history_limit = 10;
        let (_, mut core) = setup(&[j], "2026-01-01T00:00:00.5Z");
        core.set_hooks(EventHooks::new().with(hook.clone()));
        // A quarter of a second late.
        let e = core.fire(ts("2026-01-01T00:01:00.25Z")).expect("fire");
        assert_eq!(started(&e), ["tick-1767225660"]);
        // Fails after half a second: retried.
        core.group_event(&ended("tick-1767225660", 1), ts("2026-01-01T00:01:00.75Z"))
            .expect("event");
        let e = core.fire(ts("2026-01-01T00:01:02Z")).expect("retry");
        assert_eq!(started(&e), ["tick-1767225660-2"]);
        core.group_event(&ended("tick-1767225660-2", 1), ts("2026-01-01T00:01:03Z"))
            .expect("event");
        // Down from 00:01:03 to 00:03:30: slot 00:02 is missed, 00:03 runs 30 s late.
        let e = core.fire(ts("2026-01-01T00:03:30Z")).expect("catch up");
        assert_eq!(started(&e), ["tick-1767225780"]);
        core.group_event(&ended("tick-1767225780", 0), ts("2026-01-01T00:03:31Z"))
            .expect("event");
    });

    let m = snapshot(&snapshotter);
    let counter = |k: &str| match m.get(k) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{k}: {other:?} in {:?}", m.keys().collect::<Vec<_>>()),
    };
    let histogram = |k: &str| match m.get(k) {
        Some(DebugValue::Histogram(v)) => v.iter().map(|x| x.into_inner()).collect::<Vec<f64>>(),
        other => panic!("{k}: {other:?} in {:?}", m.keys().collect::<Vec<_>>()),
    };
    assert_eq!(counter("tars_cron_runs_started_total{attempt=first}"), 2);
    assert_eq!(counter("tars_cron_runs_started_total{attempt=retry}"), 1);
    assert_eq!(histogram("tars_cron_lateness_seconds{}"), [0.25, 30.0]);
    assert_eq!(counter("tars_cron_runs_total{outcome=retried}"), 1);
    assert_eq!(counter("tars_cron_runs_total{outcome=failed}"), 1);
    assert_eq!(counter("tars_cron_runs_total{outcome=succeeded}"), 1);
    assert_eq!(
        histogram("tars_cron_run_duration_seconds{outcome=retried}"),
        [0.5]
    );
    assert_eq!(
        histogram("tars_cron_run_duration_seconds{outcome=failed}"),
        [1.0]
    );
    assert_eq!(
        histogram("tars_cron_run_duration_seconds{outcome=succeeded}"),
        [1.0]
    );
    assert_eq!(counter("tars_cron_missed_slots_total{reason=caught_up}"), 1);
    for name in m.keys() {
        let base = name.split('{').next().unwrap_or_default();
        assert!(
            crate::metrics::ALL.contains(&base),
            "{name} is not documented"
        );
    }

    let events = hook.0.lock().expect("events").clone();
    let names: Vec<&str> = events.iter().map(Event::name).collect();
    assert_eq!(
        names,
        [
            "CronRunStarted",
            "CronRunFailed",
            "CronRunStarted",
            "CronRunFailed",
            "CronRunMissed",
            "CronRunStarted",
            "CronRunSucceeded"
        ]
    );
    assert!(matches!(
        &events[1],
        Event::CronRunFailed { job, attempt: 1, final_attempt: false, exit_code: Some(1), .. }
            if job == "tick"
    ));
    assert!(matches!(
        &events[3],
        Event::CronRunFailed {
            attempt: 2,
            final_attempt: true,
            ..
        }
    ));
    assert_eq!(
        events[4],
        Event::CronRunMissed {
            job: "tick".into(),
            slot: ts("2026-01-01T00:02:00Z"),
            reason: "tars was not running at this slot; only the latest passed slot was caught up"
                .into()
        }
    );
    assert!(events[3].is_alert() && events[4].is_alert() && !events[6].is_alert());
}

#[test]
fn a_step_whose_write_fails_sends_no_event() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tars_api::events::EventHooks;

    /// Refuses writes once `refuse` is set.
    #[derive(Default)]
    struct Refusing {
        inner: MemoryStore,
        refuse: AtomicBool,
    }
    impl Store for Refusing {
        fn get(&self, table: &str, key: &str) -> tars_api::Result<Option<Vec<u8>>> {
            self.inner.get(table, key)
        }
        fn scan(&self, table: &str, prefix: &str) -> tars_api::Result<Vec<(String, Vec<u8>)>> {
            self.inner.scan(table, prefix)
        }
        fn write(&self, batch: crate::store::Batch) -> tars_api::Result<()> {
            if self.refuse.load(Ordering::SeqCst) {
                return Err(tars_api::Error::backend("test", "disk full"));
            }
            self.inner.write(batch)
        }
    }
    let store = Arc::new(Refusing::default());
    let now = ts("2026-01-01T00:00:00.5Z");
    let mut core = Core::load(store.clone(), now, &|_| true).expect("load");
    core.put(job("tick", Some("* * * * * *")), now)
        .expect("put");
    let hook = Arc::new(Recording::default());
    core.set_hooks(EventHooks::new().with(hook.clone()));
    store.refuse.store(true, Ordering::SeqCst);
    assert!(core.fire(ts("2026-01-01T00:00:01Z")).is_err());
    assert!(
        hook.0.lock().expect("events").is_empty(),
        "not durable, not sent"
    );
    store.refuse.store(false, Ordering::SeqCst);
    core.trigger("tick", ts("2026-01-01T00:00:01.5Z"))
        .expect("trigger");
    let names: Vec<&str> = hook
        .0
        .lock()
        .expect("events")
        .iter()
        .map(|e| e.name())
        .collect();
    assert_eq!(names, ["CronRunStarted"]);
}
