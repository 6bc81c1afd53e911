//! The pure planning step: from what a deployment asks for, what runs, and the persisted
//! progress, decide what to start and stop, the status, and the events. No I/O and no clock:
//! the caller passes `now`, so every decision can be tested on tables and benchmarked.

use std::time::Duration;

use tars_api::deployment::{DeploymentSpec, DeploymentStatus, Gate, Strategy};
use tars_api::group::Condition;

use super::progress::{EventKind, Intent, Progress};

/// What the planner needs to know of one replica group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// The group's name.
    pub name: String,
    /// Template hash of the revision it runs.
    pub hash: String,
    /// Its ordinal (the number at the end of its name), to prefer stopping newer replicas.
    pub ordinal: u64,
    /// Whether its readiness checks pass now.
    pub ready: bool,
    /// Since when it has been ready, in ms since the epoch (`None` when not ready).
    pub ready_since_ms: Option<u64>,
}

/// Everything one planning step looks at.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The deployment's name (replica names start with it).
    pub name: &'a str,
    /// What the deployment asks for.
    pub spec: &'a DeploymentSpec,
    /// The spec's generation.
    pub generation: u64,
    /// Template hash of the update revision (the template of `spec`).
    pub update_hash: &'a str,
    /// Its revision number.
    pub update_number: u64,
    /// The number of the revision `progress.stable_hash` names, 0 when none.
    pub stable_number: u64,
    /// The replica groups that exist, of any revision.
    pub replicas: &'a [Replica],
    /// The progress persisted by the previous step.
    pub progress: &'a Progress,
    /// The time of this step, in ms since the epoch.
    pub now_ms: u64,
}

/// A replica to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The new group's name.
    pub name: String,
    /// Template hash of the revision it runs.
    pub hash: String,
}

/// The decisions of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Replicas to start.
    pub start: Vec<Start>,
    /// Replicas to stop.
    pub stop: Vec<String>,
    /// The progress to persist before acting (its `intents` are `start` and `stop`).
    pub progress: Progress,
    /// The deployment's status as observed by this step.
    pub status: DeploymentStatus,
    /// What happened, for the event stream.
    pub events: Vec<(EventKind, String)>,
    /// Roll back to the revision of this template hash (the progress deadline was exceeded
    /// and `auto_rollback` is set).
    pub rollback_to: Option<String>,
    /// Plan again after this long even if nothing is observed to change (a replica becoming
    /// available, a pause between batches or a deadline ending).
    pub wake_in: Option<Duration>,
}

/// Per-replica facts the strategies look at; `index` into the input's replicas.
#[derive(Clone, Copy)]
struct View {
    index: usize,
    ordinal: u64,
    ready: bool,
    new: bool,
    available: bool,
}

/// The replica name for `ordinal` of revision `hash`: `<deployment>-<hash8>-<ordinal>`, the
/// deployment's name shortened so the whole stays a DNS-1123 label of at most 63 characters.
pub fn replica_name(deployment: &str, hash: &str, ordinal: u64) -> String {
    let short = hash.get(..8).unwrap_or(hash);
    let suffix = format!("-{short}-{ordinal}");
    let keep = deployment.len().min(63usize.saturating_sub(suffix.len()));
    let prefix = deployment.get(..keep).unwrap_or(deployment);
    format!("{}{suffix}", prefix.trim_end_matches('-'))
}

/// The least valuable replicas first: not ready, then ready but not yet available, then
/// available; newer (higher ordinal) before older within each.
fn stop_order(views: &mut [View]) {
    views.sort_by(|a, b| {
        (a.available, a.ready)
            .cmp(&(b.available, b.ready))
            .then(b.ordinal.cmp(&a.ordinal))
    });
}

/// New replicas beyond `r` (after a scale down), least valuable first.
fn excess_new(views: &[View], new: u32, r: u32, stop: &mut Vec<View>) {
    if new > r {
        let mut cands: Vec<View> = views.iter().filter(|v| v.new).copied().collect();
        stop_order(&mut cands);
        stop.extend(cands.into_iter().take((new - r) as usize));
    }
}

/// Old replicas to stop: those not available (stopping them costs no availability) up to
/// `free`, available ones up to `budget`, at most `limit` in all.
fn old_stops(views: &[View], free: u32, budget: u32, limit: u32, stop: &mut Vec<View>) {
    let mut cands: Vec<View> = views.iter().filter(|v| !v.new).copied().collect();
    stop_order(&mut cands);
    let (mut free, mut budget, mut left) = (free, budget, limit);
    for v in cands {
        if left == 0 {
            break;
        }
        if !v.available && free > 0 {
            free -= 1;
        } else if v.available && budget > 0 {
            budget -= 1;
        } else {
            continue;
        }
        left -= 1;
        stop.push(v);
    }
}

/// How many replicas above `replicas` a paused rollout keeps: the surge it may have made
/// (rolling), its current batch (batches), none (recreate).
fn paused_allowance(spec: &DeploymentSpec, targets: Option<&[u32]>, batch: u32) -> u32 {
    match (&spec.strategy, targets) {
        (Strategy::Rolling { max_surge, .. }, _) => max_surge.resolve(spec.replicas, true).max(1),
        (Strategy::Batches { .. }, Some(t)) if !t.is_empty() => {
            let b = (batch as usize).min(t.len() - 1);
            t[b] - if b == 0 { 0 } else { t[b - 1] }
        }
        _ => 0,
    }
}

fn count_available(stop: &[View]) -> u32 {
    u32::try_from(stop.iter().filter(|v| v.available).count()).unwrap_or(u32::MAX)
}

fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    now: Option<jiff::Timestamp>,
) {
    let reason = Some(reason.to_owned());
    let message = Some(message);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition = now;
            }
            c.status = status;
            c.reason = reason;
            c.message = message;
        }
        None => conditions.push(Condition {
            type_: type_.to_owned(),
            status,
            reason,
            message,
            last_transition: now,
        }),
    }
}

fn fmt_ms(ms: u64) -> String {
    tars_api::serde_duration::format(&Duration::from_millis(ms))
}

/// One planning step. See the module documentation.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let spec = input.spec;
    let now = input.now_ms;
    let r = spec.replicas;
    let min_ready = u64::try_from(spec.min_ready.as_millis()).unwrap_or(u64::MAX);
    let mut p = input.progress.clone();
    p.intents.clear();
    let mut events = Vec::new();
    let mut wake: Option<u64> = None;
    let mut wake_at = |at: u64| {
        let d = at.saturating_sub(now).max(1);
        wake = Some(wake.map_or(d, |w| w.min(d)));
    };

    let batches = match &spec.strategy {
        Strategy::Batches { pattern, .. } => {
            let t = pattern.targets(r);
            Some(if t.is_empty() { vec![r] } else { t })
        }
        _ => None,
    };

    if p.update_hash != input.update_hash {
        p.update_hash = input.update_hash.to_owned();
        p.batch = 0;
        p.gated = false;
        p.batch_done_at_ms = None;
        p.complete = false;
        p.failed = false;
        p.last_progress_ms = now;
        p.marker = (u32::MAX, u32::MAX, u32::MAX);
        events.push((
            EventKind::RolloutStarted,
            format!("rolling out revision {}", input.update_number),
        ));
        if let Some(t) = &batches
            && input.replicas.iter().any(|x| x.hash != input.update_hash)
        {
            events.push((
                EventKind::BatchStarted,
                format!(
                    "batch 1 of {}: up to {} of {r} replicas updated",
                    t.len(),
                    t[0]
                ),
            ));
        }
    }

    let views: Vec<View> = input
        .replicas
        .iter()
        .enumerate()
        .map(|(index, x)| {
            let available = x.ready
                && x.ready_since_ms
                    .is_some_and(|since| now >= since.saturating_add(min_ready));
            if x.ready
                && !available
                && let Some(since) = x.ready_since_ms
            {
                wake_at(since.saturating_add(min_ready));
            }
            View {
                index,
                ordinal: x.ordinal,
                ready: x.ready,
                new: x.hash == input.update_hash,
                available,
            }
        })
        .collect();
    let count = |f: &dyn Fn(&View) -> bool| -> u32 {
        u32::try_from(views.iter().filter(|v| f(v)).count()).unwrap_or(u32::MAX)
    };
    let total = u32::try_from(views.len()).unwrap_or(u32::MAX);
    let new = count(&|v| v.new);
    let new_avail = count(&|v| v.new && v.available);
    let old = total - new;
    let ready = count(&|v| v.ready);
    let avail = count(&|v| v.available);

    let marker = (new, new_avail, old);
    if marker != p.marker {
        p.marker = marker;
        p.last_progress_ms = now;
    }
    if !p.complete && new == r && new_avail == r && old == 0 {
        p.complete = true;
        p.failed = false;
        p.gated = false;
        p.stable_hash = Some(input.update_hash.to_owned());
        events.push((
            EventKind::RolloutComplete,
            format!(
                "revision {}: {r} of {r} replicas available",
                input.update_number
            ),
        ));
    }

    let mut start_n: u32 = 0;
    let mut start_hash = input.update_hash.to_owned();
    let mut stop: Vec<View> = Vec::new();
    let mut available_floor = r;
    if old == 0 {
        // Nothing to replace: create or scale directly.
        start_n = r.saturating_sub(new);
        excess_new(&views, new, r, &mut stop);
    } else if spec.paused {
        // Scaling still applies to a paused rollout without advancing it: missing replicas
        // come from the last complete revision; replicas beyond what the rollout itself may
        // add go least valuable first, old before new.
        if total < r {
            start_n = r - total;
            if let Some(stable) = &p.stable_hash {
                start_hash = stable.clone();
            }
        } else if total > r + paused_allowance(spec, batches.as_deref(), p.batch) {
            let surplus = total - r - paused_allowance(spec, batches.as_deref(), p.batch);
            let mut cands: Vec<View> = views.iter().filter(|v| !v.new).copied().collect();
            stop_order(&mut cands);
            let mut news: Vec<View> = views.iter().filter(|v| v.new).copied().collect();
            stop_order(&mut news);
            stop.extend(cands.into_iter().chain(news).take(surplus as usize));
        }
    } else {
        match &spec.strategy {
            Strategy::Rolling {
                max_surge,
                max_unavailable,
            } => {
                let mut surge = max_surge.resolve(r, true);
                let unavailable = max_unavailable.resolve(r, false);
                if surge == 0 && unavailable == 0 {
                    surge = 1;
                }
                let min_available = r.saturating_sub(unavailable);
                available_floor = min_available;
                if new > r {
                    excess_new(&views, new, r, &mut stop);
                } else {
                    start_n = (r - new).min((r + surge).saturating_sub(total));
                }
                let stopped_avail = count_available(&stop);
                let avail_after = avail - stopped_avail;
                let new_unavailable = new - new_avail;
                let free = total
                    .saturating_sub(min_available)
                    .saturating_sub(new_unavailable)
                    .min(old);
                let budget = avail_after.saturating_sub(min_available);
                old_stops(&views, free, budget, old, &mut stop);
            }
            Strategy::Batches {
                pause_between,
                gate,
                ..
            } => {
                let targets = batches.clone().unwrap_or_else(|| vec![r]);
                let b = (p.batch as usize).min(targets.len() - 1);
                let target = targets[b];
                if new > r {
                    excess_new(&views, new, r, &mut stop);
                } else {
                    start_n = target.saturating_sub(new);
                }
                let keep_old = r - target;
                let free = old.saturating_sub(keep_old);
                let avail_after = avail - count_available(&stop);
                let budget = avail_after.saturating_sub(r);
                old_stops(&views, free, budget, free, &mut stop);
                let batch_done = new >= target && new_avail >= target && old <= keep_old;
                if batch_done && b + 1 < targets.len() && !p.gated {
                    let done_at = match p.batch_done_at_ms {
                        Some(t) => t,
                        None => {
                            p.batch_done_at_ms = Some(now);
                            let gated = match gate {
                                Gate::None => false,
                                Gate::Canary => b == 0,
                                Gate::EveryBatch => true,
                            };
                            if gated {
                                p.gated = true;
                                events.push((
                                    EventKind::BatchGated,
                                    format!(
                                        "batch {} of {} complete; waiting for resume()",
                                        b + 1,
                                        targets.len()
                                    ),
                                ));
                            }
                            now
                        }
                    };
                    let pause = u64::try_from(pause_between.as_millis()).unwrap_or(u64::MAX);
                    if !p.gated {
                        if now >= done_at.saturating_add(pause) {
                            p.batch = u32::try_from(b + 1).unwrap_or(u32::MAX);
                            p.batch_done_at_ms = None;
                            events.push((
                                EventKind::BatchStarted,
                                format!(
                                    "batch {} of {}: up to {} of {r} replicas updated",
                                    b + 2,
                                    targets.len(),
                                    targets[b + 1]
                                ),
                            ));
                            wake_at(now);
                        } else {
                            wake_at(done_at.saturating_add(pause));
                        }
                    }
                }
            }
            Strategy::Recreate => {
                old_stops(&views, old, old, old, &mut stop);
                available_floor = 0;
            }
        }
    }

    // Deadline.
    let mut rollback_to = None;
    // A rollout waiting for a person is not stuck; `resume()` restarts the clock.
    if !p.complete
        && !p.failed
        && !spec.paused
        && !p.gated
        && let Some(deadline) = spec.progress_deadline
    {
        let deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX);
        let due = p.last_progress_ms.saturating_add(deadline_ms);
        if now >= due {
            p.failed = true;
            events.push((
                EventKind::RolloutFailed,
                format!(
                    "revision {} made no progress for {}",
                    input.update_number,
                    fmt_ms(deadline_ms)
                ),
            ));
            if spec.auto_rollback
                && let Some(stable) = &p.stable_hash
                && stable != input.update_hash
            {
                rollback_to = Some(stable.clone());
            }
        } else {
            wake_at(due);
        }
    }

    // Actions.
    let mut start = Vec::new();
    for _ in 0..start_n {
        let name = replica_name(input.name, &start_hash, p.next_ordinal);
        p.next_ordinal += 1;
        start.push(Start {
            name,
            hash: start_hash.clone(),
        });
    }
    let stop: Vec<String> = stop
        .iter()
        .map(|v| input.replicas[v.index].name.clone())
        .collect();
    if !start.is_empty() {
        events.push((
            EventKind::ScalingUp,
            format!(
                "starting {} replica(s) of revision {}",
                start.len(),
                input.update_number
            ),
        ));
    }
    if !stop.is_empty() {
        events.push((
            EventKind::ScalingDown,
            format!("stopping {} replica(s): {}", stop.len(), stop.join(", ")),
        ));
    }
    p.intents = start
        .iter()
        .map(|s| Intent::Start {
            name: s.name.clone(),
            hash: s.hash.clone(),
        })
        .chain(stop.iter().map(|n| Intent::Stop { name: n.clone() }))
        .collect();

    // Status and conditions.
    let stamp = i64::try_from(now)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok());
    let mut conditions = std::mem::take(&mut p.conditions);
    set_condition(
        &mut conditions,
        "Available",
        avail >= available_floor.min(r),
        if avail >= available_floor.min(r) {
            "MinimumReplicasAvailable"
        } else {
            "MinimumReplicasUnavailable"
        },
        format!("{avail} of {r} replicas available"),
        stamp,
    );
    let (status, reason, message) = if p.failed {
        (
            false,
            "ProgressDeadlineExceeded",
            format!(
                "revision {} made no progress within the progress deadline",
                input.update_number
            ),
        )
    } else if p.complete {
        (
            true,
            "NewRevisionAvailable",
            format!("revision {} is available", input.update_number),
        )
    } else if spec.paused {
        (
            true,
            "DeploymentPaused",
            "paused; resume() continues".into(),
        )
    } else if p.gated {
        (
            true,
            "BatchGated",
            format!("batch {} complete; resume() continues", p.batch + 1),
        )
    } else {
        (
            true,
            "RolloutInProgress",
            format!(
                "revision {}: {new} updated, {new_avail} available",
                input.update_number
            ),
        )
    };
    set_condition(
        &mut conditions,
        "Progressing",
        status,
        reason,
        message,
        stamp,
    );
    p.conditions = conditions.clone();
    let stable_number = if p.stable_hash.as_deref() == Some(input.update_hash) {
        input.update_number
    } else {
        input.stable_number
    };
    let status = DeploymentStatus {
        observed_generation: input.generation,
        revision: input.update_number,
        current_revision: stable_number,
        replicas: total,
        updated: new,
        ready,
        available: avail,
        unavailable: r.saturating_sub(avail),
        batch: batches.map(|_| p.batch + 1),
        paused: spec.paused || p.gated,
        conditions,
    };
    Plan {
        start,
        stop,
        progress: p,
        status,
        events,
        rollback_to,
        wake_in: wake.map(Duration::from_millis),
    }
}
