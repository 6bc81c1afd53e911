//! The controller of one deployment: observe its replica groups, plan, persist, act; again on
//! every change of its groups or spec, and on a short tick while a rollout is in progress.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tars_api::meta::OWNER_LABEL;
use tars_api::selector::Requirement;
use tars_api::{
    ContainerGroup, ContainerGroupSpec, GroupPhase, LabelSelector, Result, WatchStream,
};
use tokio::sync::Notify;

use super::engine::Inner;
use super::plan::{PlanInput, Replica, plan};
use super::progress::{EventKind, Intent};
use super::revision::{self, Revision};
use super::{REVISION_LABEL, now_ms};

/// Wait after a failed step before trying again.
const RETRY: Duration = Duration::from_millis(500);

/// The replica groups of deployment `name`.
pub(crate) fn replica_selector(name: &str) -> LabelSelector {
    LabelSelector::everything()
        .eq(OWNER_LABEL, name)
        .and(Requirement::Exists(REVISION_LABEL.to_owned()))
}

/// Replica `name` of `revision` of deployment `deployment`: the template's labels and
/// annotations, plus the owner and revision labels.
pub fn replica_group(deployment: &str, revision: &Revision, name: &str) -> ContainerGroup {
    let mut group = ContainerGroup::new(name, revision.template.spec.clone());
    group.metadata.labels = revision.template.labels.clone();
    group.metadata.annotations = revision.template.annotations.clone();
    group
        .metadata
        .labels
        .insert(OWNER_LABEL.to_owned(), deployment.to_owned());
    group
        .metadata
        .labels
        .insert(REVISION_LABEL.to_owned(), revision.hash.clone());
    group
}

/// What the planner needs of the observed groups. `first_ready` remembers when a group was
/// first seen ready, for backends that report no transition time.
fn observe(
    groups: &[ContainerGroup],
    now: u64,
    first_ready: &mut HashMap<String, u64>,
) -> Vec<Replica> {
    groups
        .iter()
        .filter_map(|g| {
            let hash = g.metadata.labels.get(REVISION_LABEL)?.clone();
            let name = g.name().to_owned();
            let ordinal = name
                .rsplit('-')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let status = g.status.as_ref();
            let ready = status.is_some_and(|s| s.ready && s.phase == GroupPhase::Running);
            let ready_since_ms = if ready {
                let reported = status
                    .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready" && c.status))
                    .and_then(|c| c.last_transition)
                    .and_then(|t| u64::try_from(t.as_millisecond()).ok());
                Some(reported.unwrap_or_else(|| *first_ready.entry(name.clone()).or_insert(now)))
            } else {
                first_ready.remove(&name);
                None
            };
            Some(Replica {
                name,
                hash,
                ordinal,
                ready,
                ready_since_ms,
            })
        })
        .collect()
}

enum Next {
    Stop,
    After(Duration),
}

/// Runs until the deployment is deleted or the engine shuts down.
pub(crate) async fn run(inner: Arc<Inner>, name: String, wake: Arc<Notify>) {
    let mut shutdown = inner.shutdown.subscribe();
    let selector = replica_selector(&name);
    let mut watch: Option<WatchStream<ContainerGroupSpec>> = None;
    let mut first_ready = HashMap::new();
    // After a restart, first finish what the previous process decided and may not have done.
    let mut redo = true;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if watch.is_none() {
            match inner.driver.watch(&selector).await {
                Ok(w) => watch = Some(w),
                Err(e) => tracing::warn!(deployment = %name, error = %e, "cannot watch replicas"),
            }
        }
        let result = if redo {
            redo_intents(&inner, &name).await
        } else {
            step(&inner, &name, &mut first_ready).await
        };
        let wait = match result {
            Ok(Next::Stop) => return,
            Ok(Next::After(d)) => {
                redo = false;
                d
            }
            Err(e) => {
                tracing::warn!(deployment = %name, error = %e, "reconcile step failed; retrying");
                RETRY
            }
        };
        if wait.is_zero() {
            continue;
        }
        let ended = tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = wake.notified() => false,
            _ = shutdown.changed() => return,
            ended = next_change(&mut watch) => ended,
        };
        if ended {
            watch = None;
        } else if let Some(w) = watch.as_mut() {
            // One step covers a burst of changes.
            loop {
                match w.next().now_or_never() {
                    Some(Some(Ok(_))) => continue,
                    Some(None) | Some(Some(Err(_))) => {
                        watch = None;
                        break;
                    }
                    None => break,
                }
            }
        }
    }
}

/// Waits for the next change of the replicas; true when the watch ended.
async fn next_change(watch: &mut Option<WatchStream<ContainerGroupSpec>>) -> bool {
    match watch {
        Some(w) => !matches!(w.next().await, Some(Ok(_))),
        None => std::future::pending().await,
    }
}

async fn redo_intents(inner: &Arc<Inner>, name: &str) -> Result<Next> {
    let (starts, stops) = {
        let slots = inner.slots();
        let Some(slot) = slots.get(name) else {
            return Ok(Next::Stop);
        };
        if slot.record.progress.deleting {
            return Ok(Next::Stop);
        }
        let mut starts = Vec::new();
        let mut stops = Vec::new();
        for intent in &slot.record.progress.intents {
            match intent {
                Intent::Start {
                    name: replica,
                    hash,
                } => {
                    if let Some(rev) = slot.record.revision(hash) {
                        starts.push(replica_group(name, rev, replica));
                    }
                }
                Intent::Stop { name: replica } => stops.push(replica.clone()),
            }
        }
        (starts, stops)
    };
    if !starts.is_empty() || !stops.is_empty() {
        tracing::info!(
            deployment = name,
            starts = starts.len(),
            stops = stops.len(),
            "carrying out the actions persisted before a restart"
        );
    }
    execute(inner, starts, stops).await?;
    Ok(Next::After(Duration::ZERO))
}

async fn step(
    inner: &Arc<Inner>,
    name: &str,
    first_ready: &mut HashMap<String, u64>,
) -> Result<Next> {
    let groups = inner.driver.list(&replica_selector(name)).await?;
    let now = now_ms();
    let replicas = observe(&groups, now, first_ready);
    let (starts, stops, wait) = {
        let mut slots = inner.slots();
        let Some(slot) = slots.get_mut(name) else {
            return Ok(Next::Stop);
        };
        let rec = &slot.record;
        if rec.progress.deleting {
            return Ok(Next::Stop);
        }
        let Some(update) = rec.update() else {
            return Err(tars_api::Error::backend(
                inner.config.backend.clone(),
                format!("deployment {name} has no revision"),
            ));
        };
        let stable_number = rec
            .progress
            .stable_hash
            .as_deref()
            .and_then(|h| rec.revision(h))
            .map_or(0, |r| r.number);
        let plan = plan(&PlanInput {
            name,
            spec: &rec.object.spec,
            generation: rec.object.metadata.generation.unwrap_or(0),
            update_hash: &update.hash,
            update_number: update.number,
            stable_number,
            replicas: &replicas,
            progress: &rec.progress,
            now_ms: now,
        });
        let mut next = rec.clone();
        next.progress = plan.progress;
        next.object.status = Some(plan.status);
        let mut events = plan.events;
        if let Some(template) = plan
            .rollback_to
            .as_deref()
            .and_then(|h| rec.revision(h))
            .map(|r| r.template.clone())
        {
            // The planned actions are dropped: the next step plans for the restored template.
            next.progress.intents.clear();
            let stable = next.progress.stable_hash.clone();
            let number = revision::record(
                &mut next.revisions,
                &template,
                "auto-rollback: progress deadline exceeded",
                now,
                next.object.spec.revision_history_limit,
                stable.as_deref(),
            );
            next.object.spec.template = template;
            next.object.metadata.generation =
                Some(next.object.metadata.generation.unwrap_or(0) + 1);
            if let Some(status) = next.object.status.as_mut() {
                status.revision = number;
            }
            events.push((
                EventKind::RolledBack,
                format!(
                    "progress deadline exceeded: rolled back to the last complete template as revision {number}"
                ),
            ));
            inner.commit(slot, next, events, now)?;
            return Ok(Next::After(Duration::ZERO));
        }
        let mut starts = Vec::new();
        for s in &plan.start {
            if let Some(rev) = rec.revision(&s.hash) {
                starts.push(replica_group(name, rev, &s.name));
            }
        }
        // A rollout waiting for a person is woken by resume(); it needs no fast tick.
        let waiting = next.progress.complete || next.progress.gated || next.object.spec.paused;
        let tick = if waiting {
            inner.config.idle_tick
        } else {
            inner.config.active_tick
        };
        let wait = plan.wake_in.map_or(tick, |w| w.min(tick));
        // Persisted before acting: a crash in between repeats these actions, never more.
        inner.commit(slot, next, events, now)?;
        (starts, plan.stop, wait)
    };
    execute(inner, starts, stops).await?;
    Ok(Next::After(wait))
}

async fn execute(
    inner: &Arc<Inner>,
    starts: Vec<ContainerGroup>,
    stops: Vec<String>,
) -> Result<()> {
    let stopping = futures::future::join_all(stops.iter().map(|n| inner.driver.stop(n, None)));
    let starting = futures::future::join_all(starts.iter().map(|g| inner.driver.start(g)));
    let (stopped, started) = futures::future::join(stopping, starting).await;
    stopped
        .into_iter()
        .chain(started)
        .collect::<Result<Vec<()>>>()?;
    Ok(())
}
