//! The planner as a table of situations, and as a simulated cluster driven to completion
//! while checking the rollout bounds after every step.

use std::time::Duration;

use tars_api::deployment::{BatchPattern, DeploymentSpec, Gate, IntOrPercent, Strategy};
use tars_api::group::GroupTemplate;
use tars_api::{Container, ContainerGroupSpec};

use super::plan::{Plan, PlanInput, Replica, plan, replica_name};
use super::progress::{EventKind, Intent, Progress};

const OLD: &str = "aaaaaaaaaaaaaaaa";
const NEW: &str = "bbbbbbbbbbbbbbbb";

fn spec(replicas: u32, strategy: Strategy) -> DeploymentSpec {
    DeploymentSpec {
        replicas,
        template: GroupTemplate {
            labels: Default::default(),
            annotations: Default::default(),
            spec: ContainerGroupSpec::new(vec![Container::new("app", "img", &["sleep"])]),
        },
        strategy,
        min_ready: Duration::ZERO,
        progress_deadline: None,
        auto_rollback: false,
        paused: false,
        revision_history_limit: 10,
    }
}

fn rolling(surge: u32, unavailable: u32) -> Strategy {
    Strategy::Rolling {
        max_surge: IntOrPercent::Int(surge),
        max_unavailable: IntOrPercent::Int(unavailable),
    }
}

fn replica(hash: &str, ordinal: u64, ready_since: Option<u64>) -> Replica {
    Replica {
        name: replica_name("web", hash, ordinal),
        hash: hash.to_owned(),
        ordinal,
        ready: ready_since.is_some(),
        ready_since_ms: ready_since,
    }
}

/// A deployment whose `count` replicas of `OLD` are available and whose rollout of `OLD`
/// completed.
fn settled(count: u64) -> (Vec<Replica>, Progress) {
    let replicas = (0..count).map(|i| replica(OLD, i, Some(0))).collect();
    let progress = Progress {
        update_hash: OLD.to_owned(),
        stable_hash: Some(OLD.to_owned()),
        complete: true,
        next_ordinal: count,
        marker: (count as u32, count as u32, 0),
        ..Default::default()
    };
    (replicas, progress)
}

fn run(spec: &DeploymentSpec, replicas: &[Replica], progress: &Progress, now: u64) -> Plan {
    plan(&PlanInput {
        name: "web",
        spec,
        generation: 2,
        update_hash: NEW,
        update_number: 2,
        stable_number: 1,
        replicas,
        progress,
        now_ms: now,
    })
}

fn kinds(plan: &Plan) -> Vec<EventKind> {
    plan.events.iter().map(|(k, _)| *k).collect()
}

#[test]
fn a_new_deployment_starts_every_replica_and_persists_the_intents() {
    let s = spec(3, rolling(1, 0));
    let p = run(&s, &[], &Progress::default(), 1_000);
    let names: Vec<&str> = p.start.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["web-bbbbbbbb-0", "web-bbbbbbbb-1", "web-bbbbbbbb-2"]
    );
    assert!(p.stop.is_empty());
    assert_eq!(p.progress.intents.len(), 3);
    assert!(
        matches!(&p.progress.intents[0], Intent::Start { name, .. } if name == "web-bbbbbbbb-0")
    );
    assert_eq!(p.progress.next_ordinal, 3);
    assert_eq!(kinds(&p), [EventKind::RolloutStarted, EventKind::ScalingUp]);
    assert_eq!(p.status.unavailable, 3);
}

#[test]
fn replica_names_stay_dns_labels_for_long_deployment_names() {
    let long = "a".repeat(63);
    let name = replica_name(&long, NEW, 12345);
    assert!(name.len() <= 63, "{name}");
    assert!(name.ends_with("-bbbbbbbb-12345"));
}

#[test]
fn rolling_with_max_unavailable_zero_surges_first_and_stops_only_after_availability() {
    let s = spec(3, rolling(1, 0));
    let (mut replicas, progress) = settled(3);
    let p = run(&s, &replicas, &progress, 1_000);
    assert_eq!(p.start.len(), 1, "one surge replica");
    assert!(
        p.stop.is_empty(),
        "nothing stopped before a new replica is available"
    );
    // The new replica exists but is not ready: nothing more happens.
    replicas.push(replica(NEW, 3, None));
    let p2 = run(&s, &replicas, &p.progress, 2_000);
    assert!(p2.start.is_empty() && p2.stop.is_empty(), "{p2:?}");
    // Once it is available, one old replica goes.
    replicas[3].ready = true;
    replicas[3].ready_since_ms = Some(2_000);
    let p3 = run(&s, &replicas, &p2.progress, 3_000);
    assert_eq!(p3.stop.len(), 1);
    assert!(
        p3.start.is_empty(),
        "the surge is used up until the old replica is gone"
    );
}

#[test]
fn min_ready_delays_availability_and_asks_to_be_woken() {
    let mut s = spec(1, rolling(1, 0));
    s.min_ready = Duration::from_millis(300);
    let replicas = vec![replica(NEW, 0, Some(1_000))];
    let p = run(&s, &replicas, &Progress::default(), 1_100);
    assert_eq!(p.status.available, 0);
    assert_eq!(p.status.ready, 1);
    assert_eq!(p.wake_in, Some(Duration::from_millis(200)));
    let p2 = run(&s, &replicas, &p.progress, 1_300);
    assert_eq!(p2.status.available, 1);
    assert!(kinds(&p2).contains(&EventKind::RolloutComplete));
    assert_eq!(p2.progress.stable_hash.as_deref(), Some(NEW));
    assert_eq!(p2.status.current_revision, 2);
}

/// Drives a simulated cluster (a started replica is ready one step later) to completion and
/// returns the most replicas and the fewest available replicas seen after any step.
fn simulate(s: &DeploymentSpec, initial: usize) -> (usize, usize, Vec<EventKind>) {
    let (mut replicas, mut progress) = settled(initial as u64);
    let (mut most, mut fewest) = (replicas.len(), replicas.len());
    let mut events = Vec::new();
    let mut now = 1_000;
    for _ in 0..200 {
        let p = run(s, &replicas, &progress, now);
        events.extend(kinds(&p));
        // Replicas that existed before this step become ready (started a step earlier).
        for r in replicas.iter_mut().filter(|r| !r.ready) {
            r.ready = true;
            r.ready_since_ms = Some(now);
        }
        replicas.retain(|r| !p.stop.contains(&r.name));
        let available = replicas.iter().filter(|r| r.ready).count();
        for st in &p.start {
            let ordinal = st
                .name
                .rsplit('-')
                .next()
                .and_then(|o| o.parse().ok())
                .unwrap_or(0);
            replicas.push(replica(&st.hash, ordinal, None));
        }
        most = most.max(replicas.len());
        fewest = fewest.min(available);
        progress = p.progress;
        if progress.complete && progress.update_hash == NEW {
            break;
        }
        now += 1_000;
    }
    assert!(
        progress.complete,
        "the rollout never completed: {progress:?}"
    );
    assert!(replicas.iter().all(|r| r.hash == NEW) && replicas.len() == s.replicas as usize);
    (most, fewest, events)
}

#[test]
fn rolling_bounds_hold_at_every_step() {
    for (replicas, surge, unavailable) in [(3, 1, 0), (6, 2, 0), (10, 3, 2), (5, 0, 1), (1, 1, 0)] {
        let s = spec(replicas, rolling(surge, unavailable));
        let (most, fewest, _) = simulate(&s, replicas as usize);
        assert!(
            most <= (replicas + surge) as usize,
            "{replicas}/{surge}/{unavailable}: {most} replicas at once"
        );
        assert!(
            fewest >= (replicas - unavailable) as usize,
            "{replicas}/{surge}/{unavailable}: only {fewest} available"
        );
    }
}

#[test]
fn recreate_stops_every_old_replica_before_starting_new_ones() {
    let s = spec(3, Strategy::Recreate);
    let (replicas, progress) = settled(3);
    let p = run(&s, &replicas, &progress, 1_000);
    assert_eq!(p.stop.len(), 3);
    assert!(p.start.is_empty());
    let (most, _, _) = simulate(&s, 3);
    assert!(most <= 3);
}

fn batches(pattern: &str, gate: Gate) -> Strategy {
    Strategy::Batches {
        pattern: pattern.parse::<BatchPattern>().expect("pattern"),
        pause_between: Duration::ZERO,
        gate,
    }
}

#[test]
fn batches_without_gate_run_through_and_keep_everything_available() {
    let s = spec(6, batches("34%+33%+33%", Gate::None));
    let (most, fewest, events) = simulate(&s, 6);
    assert_eq!(fewest, 6);
    assert!(most <= 9, "{most}");
    let started = events
        .iter()
        .filter(|k| **k == EventKind::BatchStarted)
        .count();
    assert_eq!(started, 3, "{events:?}");
}

#[test]
fn a_canary_gate_waits_after_the_first_batch_until_resumed() {
    let s = spec(4, batches("25%+75%", Gate::Canary));
    let (mut replicas, progress) = settled(4);
    let p = run(&s, &replicas, &progress, 1_000);
    assert_eq!(p.start.len(), 1, "the canary");
    assert_eq!(p.status.batch, Some(1));
    replicas.push(replica(NEW, 4, Some(1_000)));
    let p2 = run(&s, &replicas, &p.progress, 2_000);
    assert_eq!(p2.stop.len(), 1, "one old replica makes room");
    replicas.retain(|r| !p2.stop.contains(&r.name));
    let p3 = run(&s, &replicas, &p2.progress, 3_000);
    assert!(p3.progress.gated);
    assert!(p3.status.paused);
    assert!(kinds(&p3).contains(&EventKind::BatchGated));
    assert!(p3.start.is_empty());
    let p4 = run(&s, &replicas, &p3.progress, 60_000);
    assert!(
        p4.start.is_empty() && p4.stop.is_empty(),
        "still gated: {p4:?}"
    );
    let mut resumed = p4.progress.clone();
    resumed.gated = false;
    let p5 = run(&s, &replicas, &resumed, 61_000);
    assert_eq!(p5.progress.batch, 1);
    assert!(kinds(&p5).contains(&EventKind::BatchStarted));
}

#[test]
fn a_paused_rollout_takes_no_step() {
    let mut s = spec(3, rolling(1, 0));
    s.paused = true;
    let (mut replicas, progress) = settled(3);
    replicas.push(replica(NEW, 3, Some(0)));
    let p = run(&s, &replicas, &progress, 1_000);
    assert!(p.start.is_empty() && p.stop.is_empty());
    assert!(p.status.paused);
}

#[test]
fn a_paused_rollout_still_scales_without_advancing() {
    let mut s = spec(5, rolling(1, 0));
    s.paused = true;
    let (mut replicas, progress) = settled(3);
    replicas.push(replica(NEW, 3, Some(0)));
    let up = run(&s, &replicas, &progress, 1_000);
    assert_eq!(up.start.len(), 1);
    assert_eq!(up.start[0].hash, OLD, "the paused rollout was advanced");
    s.replicas = 2;
    let down = run(&s, &replicas, &progress, 1_000);
    assert!(down.start.is_empty());
    assert_eq!(
        down.stop.len(),
        1,
        "down to replicas + max_surge: {:?}",
        down.stop
    );
    assert!(
        down.stop.iter().all(|n| n.contains("aaaaaaaa")),
        "{:?}",
        down.stop
    );
}

#[test]
fn scaling_down_mid_rollout_stops_surplus_new_replicas() {
    let s = spec(2, rolling(1, 0));
    let (mut replicas, progress) = settled(3);
    for i in 3..6 {
        replicas.push(replica(NEW, i, Some(0)));
    }
    let p = run(&s, &replicas, &progress, 1_000);
    assert!(p.start.is_empty());
    let new_stopped = p.stop.iter().filter(|n| n.contains("bbbbbbbb")).count();
    assert_eq!(new_stopped, 1, "{:?}", p.stop);
    assert_eq!(
        p.stop.len(),
        4,
        "and every old one, since enough stay available: {:?}",
        p.stop
    );
}

#[test]
fn the_progress_deadline_fails_the_rollout_and_asks_for_a_rollback() {
    let mut s = spec(2, rolling(1, 0));
    s.progress_deadline = Some(Duration::from_secs(5));
    s.auto_rollback = true;
    let (mut replicas, progress) = settled(2);
    let p = run(&s, &replicas, &progress, 1_000);
    replicas.push(replica(NEW, 2, None)); // never becomes ready
    // Its start is progress: the clock restarts.
    let p2 = run(&s, &replicas, &p.progress, 3_000);
    assert!(!p2.progress.failed);
    assert_eq!(p2.wake_in, Some(Duration::from_secs(5)));
    let p3 = run(&s, &replicas, &p2.progress, 7_900);
    assert!(!p3.progress.failed);
    let p3 = run(&s, &replicas, &p3.progress, 8_000);
    assert!(p3.progress.failed);
    assert_eq!(p3.rollback_to.as_deref(), Some(OLD));
    let progressing = p3
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .expect("condition");
    assert!(!progressing.status);
    assert_eq!(
        progressing.reason.as_deref(),
        Some("ProgressDeadlineExceeded")
    );
    assert!(kinds(&p3).contains(&EventKind::RolloutFailed));
    // Reported once.
    let p4 = run(&s, &replicas, &p3.progress, 9_000);
    assert!(p4.rollback_to.is_none() && !kinds(&p4).contains(&EventKind::RolloutFailed));
}

#[test]
fn condition_transition_times_change_only_with_their_status() {
    let s = spec(1, rolling(1, 0));
    let p = run(&s, &[], &Progress::default(), 1_000);
    let replicas = vec![replica(NEW, 0, None)];
    let p2 = run(&s, &replicas, &p.progress, 2_000);
    let t = |p: &Plan, ty: &str| {
        p.status
            .conditions
            .iter()
            .find(|c| c.type_ == ty)
            .and_then(|c| c.last_transition)
    };
    assert_eq!(t(&p, "Progressing"), t(&p2, "Progressing"));
    let ready = vec![replica(NEW, 0, Some(2_000))];
    let p3 = run(&s, &ready, &p2.progress, 3_000);
    assert_ne!(t(&p2, "Available"), t(&p3, "Available"));
}
