//! [`RolloutEngine`]: the deployments of one tars instance, each driven by its own
//! controller task, persisted in the engine's store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tars_api::api::WatchEvent;
use tars_api::deployment::Strategy;
use tars_api::events::{Event, EventHooks};
use tars_api::meta::Kind;
use tars_api::{Deployment, Error, Result};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use super::persist::{self, Record};
use super::progress::{DeploymentEvent, EventKind};
use super::watch::Change as Delta;
use super::{controller, now_ms};
use crate::driver::GroupDriver;
use crate::store::{Batch, Store};

/// How many changes or events a slow receiver may fall behind.
const BUFFER: usize = 1024;

/// What the engine needs to know of its backend.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The backend's name, for errors (`local`, `mesos`, `openstack`).
    pub backend: String,
    /// The tars instance id: deployments are stamped with it and only those are touched.
    pub instance: String,
    /// How often a deployment is reconciled while a rollout is in progress, besides watch
    /// events (for `min_ready`, pauses between batches and the progress deadline).
    pub active_tick: Duration,
    /// How often a settled deployment is reconciled, besides watch events.
    pub idle_tick: Duration,
    /// Receive the rollouts' events (started, failed, rolled back, ...); none by default.
    pub hooks: EventHooks,
}

impl EngineConfig {
    /// Defaults for `backend` and `instance`: ticks of 100 ms and 1 s.
    pub fn new(backend: impl Into<String>, instance: impl Into<String>) -> Self {
        EngineConfig {
            backend: backend.into(),
            instance: instance.into(),
            active_tick: Duration::from_millis(100),
            idle_tick: Duration::from_secs(1),
            hooks: EventHooks::new(),
        }
    }

    /// Sends the rollouts' events to `hooks` too (builder style).
    pub fn hooks(mut self, hooks: EventHooks) -> Self {
        self.hooks = hooks;
        self
    }
}

/// One deployment and its controller.
pub(crate) struct Slot {
    pub(crate) record: Record,
    pub(crate) wake: Arc<Notify>,
    pub(crate) task: Option<JoinHandle<()>>,
}

pub(crate) struct Inner {
    pub(crate) driver: Arc<dyn GroupDriver>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: EngineConfig,
    slots: Mutex<BTreeMap<String, Slot>>,
    pub(crate) changes: broadcast::Sender<Delta>,
    events: broadcast::Sender<DeploymentEvent>,
    pub(super) version: AtomicU64,
    pub(crate) shutdown: watch::Sender<bool>,
}

impl Inner {
    pub(crate) fn slots(&self) -> MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn not_found(name: &str) -> Error {
        Error::NotFound {
            kind: Kind::Deployment,
            name: name.to_owned(),
        }
    }

    pub(crate) fn emit_events(&self, name: &str, events: Vec<(EventKind, String)>, now: u64) {
        for (kind, message) in events {
            tracing::info!(deployment = name, event = ?kind, %message, "rollout");
            // No receiver is not an error: nobody listens.
            let _ = self.events.send(DeploymentEvent {
                deployment: name.to_owned(),
                kind,
                message,
                at_ms: now,
            });
        }
    }

    /// Sets the [`crate::metrics::OBJECTS`] gauge of deployments.
    pub(crate) fn count_objects(&self, count: usize) {
        crate::metrics::set_objects(&self.config.backend, "Deployment", count);
    }

    /// Records the metrics of a step's events and hands them to the hooks: `prev` is the
    /// record before the step, `next` after it.
    fn observe(&self, prev: &Record, next: &Record, events: &[(EventKind, String)], now: u64) {
        use crate::metrics::{ROLLOUT_DURATION_SECONDS, ROLLOUTS_TOTAL};
        let name = next.object.name();
        let hooks = &self.config.hooks;
        let backend = &self.config.backend;
        let number = |r: &Record| r.update().map_or(0, |u| u.number);
        // From the creation of the revision rolled out to now.
        let took = |r: &Record| {
            r.update().map_or(0.0, |u| {
                Duration::from_millis(now.saturating_sub(u.created_at_ms)).as_secs_f64()
            })
        };
        for (kind, _) in events {
            let (outcome, duration, event) = match kind {
                EventKind::RolloutStarted => (
                    Some("started"),
                    None,
                    Some(Event::RolloutStarted {
                        deployment: name.to_owned(),
                        revision: number(next),
                    }),
                ),
                EventKind::BatchStarted => {
                    let spec = &next.object.spec;
                    let batch = next.progress.batch + 1;
                    let target = match &spec.strategy {
                        Strategy::Batches { pattern, .. } => pattern
                            .targets(spec.replicas)
                            .get(next.progress.batch as usize)
                            .copied()
                            .unwrap_or(spec.replicas),
                        _ => spec.replicas,
                    };
                    let event = Event::BatchStarted {
                        deployment: name.to_owned(),
                        batch,
                        target,
                    };
                    (None, None, Some(event))
                }
                EventKind::BatchGated => (
                    None,
                    None,
                    Some(Event::BatchGated {
                        deployment: name.to_owned(),
                        batch: next.progress.batch + 1,
                    }),
                ),
                EventKind::RolloutComplete => (
                    Some("complete"),
                    Some(took(next)),
                    Some(Event::RolloutComplete {
                        deployment: name.to_owned(),
                        revision: number(next),
                    }),
                ),
                // The failed revision is the one rolled out before the step (an automatic
                // rollback in the same step adds a newer one).
                EventKind::RolloutFailed => (
                    Some("failed"),
                    Some(took(prev)),
                    Some(Event::RolloutFailed {
                        deployment: name.to_owned(),
                        revision: number(prev),
                        reason: "ProgressDeadlineExceeded".to_owned(),
                    }),
                ),
                EventKind::RolledBack => {
                    let reason = if prev.progress.failed || next.progress.failed {
                        "auto-rollback: ProgressDeadlineExceeded"
                    } else {
                        "manual"
                    };
                    let event = Event::RolledBack {
                        deployment: name.to_owned(),
                        from: number(prev),
                        to: number(next),
                        reason: reason.to_owned(),
                    };
                    (Some("rolled_back"), None, Some(event))
                }
                _ => (None, None, None),
            };
            if let Some(outcome) = outcome {
                metrics::counter!(
                    ROLLOUTS_TOTAL,
                    "backend" => backend.clone(),
                    "deployment" => name.to_owned(),
                    "outcome" => outcome
                )
                .increment(1);
                if let Some(seconds) = duration {
                    metrics::histogram!(
                        ROLLOUT_DURATION_SECONDS,
                        "backend" => backend.clone(),
                        "deployment" => name.to_owned(),
                        "outcome" => outcome
                    )
                    .record(seconds);
                }
            }
            if let Some(event) = event
                && !hooks.is_empty()
            {
                hooks.emit(&event);
            }
        }
    }

    /// Replaces the slot's record with `next` when it differs: persisted first, then
    /// published to watchers. Call with the slots lock held, so changes keep their order.
    pub(crate) fn commit(
        &self,
        slot: &mut Slot,
        mut next: Record,
        events: Vec<(EventKind, String)>,
        now: u64,
    ) -> Result<()> {
        let name = next.object.name().to_owned();
        let object_changed = next.object != slot.record.object;
        if object_changed {
            next.object.metadata.resource_version =
                Some(self.version.fetch_add(1, Ordering::SeqCst).to_string());
        }
        if object_changed
            || next.progress != slot.record.progress
            || next.revisions != slot.record.revisions
        {
            self.store.write(next.save(Batch::new())?)?;
        }
        self.observe(&slot.record, &next, &events, now);
        let previous_labels = slot.record.object.metadata.labels.clone();
        slot.record = next;
        if object_changed {
            let _ = self.changes.send(Delta {
                event: WatchEvent::Modified(slot.record.object.clone()),
                previous_labels: Some(previous_labels),
            });
        }
        self.emit_events(&name, events, now);
        Ok(())
    }

    /// Changes deployment `name` with `f` (which may return events), persists, publishes and
    /// wakes its controller. A spec change increases the generation.
    pub(super) fn mutate(
        &self,
        name: &str,
        f: impl FnOnce(&mut Record, u64) -> Result<Vec<(EventKind, String)>>,
    ) -> Result<Deployment> {
        let now = now_ms();
        let mut slots = self.slots();
        let slot = slots.get_mut(name).ok_or_else(|| Self::not_found(name))?;
        if slot.record.progress.deleting {
            return Err(deleting(name));
        }
        let mut next = slot.record.clone();
        let events = f(&mut next, now)?;
        if next.object.spec != slot.record.object.spec {
            next.object.validate()?;
            next.object.metadata.generation =
                Some(slot.record.object.metadata.generation.unwrap_or(0) + 1);
        }
        self.commit(slot, next, events, now)?;
        slot.wake.notify_one();
        Ok(slot.record.object.clone())
    }
}

pub(super) fn deleting(name: &str) -> Error {
    Error::Conflict {
        kind: Kind::Deployment,
        name: name.to_owned(),
        reason: "the deployment is being deleted".to_owned(),
    }
}

/// The deployments of one tars instance: the [`tars_api::Deployments`] verbs, carried out by
/// a controller task per deployment over a [`GroupDriver`], with everything that must survive
/// a crash in a [`Store`].
///
/// ```no_run
/// # async fn demo(driver: std::sync::Arc<dyn tars_engine::driver::GroupDriver>) -> tars_api::Result<()> {
/// use std::sync::Arc;
/// use tars_engine::rollout::{EngineConfig, RolloutEngine};
/// let store = Arc::new(tars_engine::store::MemoryStore::new());
/// let engine = RolloutEngine::start(driver, store, EngineConfig::new("local", "default"))?;
/// let mut events = engine.events();
/// # Ok(()) }
/// ```
pub struct RolloutEngine {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for RolloutEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolloutEngine")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl RolloutEngine {
    /// Loads the deployments of `config.instance` from `store` and resumes their rollouts
    /// (or their deletion) where they stood. Must run inside a tokio runtime.
    pub fn start(
        driver: Arc<dyn GroupDriver>,
        store: Arc<dyn Store>,
        config: EngineConfig,
    ) -> Result<Self> {
        let records = persist::load_all(&*store)?;
        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            driver,
            store,
            config,
            slots: Mutex::new(BTreeMap::new()),
            changes: broadcast::channel(BUFFER).0,
            events: broadcast::channel(BUFFER).0,
            // Versions stay increasing across restarts of the process.
            version: AtomicU64::new(now_ms().saturating_mul(1000)),
            shutdown,
        });
        let instance = inner.config.instance.clone();
        // Held while spawning: a controller that looked before its slot is in would think its
        // deployment deleted and end.
        let mut slots = inner.slots();
        for record in records {
            if !record.object.metadata.is_owned_by(&instance) {
                continue;
            }
            let name = record.object.name().to_owned();
            let wake = Arc::new(Notify::new());
            let task = if record.progress.deleting {
                let inner = inner.clone();
                let name = name.clone();
                tokio::spawn(async move {
                    if let Err(e) = finish_delete(&inner, &name, None).await {
                        tracing::warn!(deployment = %name, error = %e, "could not finish deleting");
                    }
                })
            } else {
                tokio::spawn(controller::run(inner.clone(), name.clone(), wake.clone()))
            };
            slots.insert(
                name,
                Slot {
                    record,
                    wake,
                    task: Some(task),
                },
            );
        }
        inner.count_objects(slots.len());
        drop(slots);
        Ok(RolloutEngine { inner })
    }

    /// The events of every deployment (ScalingUp, BatchGated, RolloutComplete, ...) from now
    /// on. A receiver that falls behind by more than 1024 events loses the oldest.
    pub fn events(&self) -> broadcast::Receiver<DeploymentEvent> {
        self.inner.events.subscribe()
    }

    /// Stops every controller after its current step. Replicas keep running; an engine
    /// started later on the same store takes over.
    pub async fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        for task in self.take_tasks() {
            let _ = task.await;
        }
    }

    /// Ends every controller at once, touching no replica, as a crash would.
    pub async fn abandon(&self) {
        for task in self.take_tasks() {
            task.abort();
            let _ = task.await;
        }
    }

    fn take_tasks(&self) -> Vec<JoinHandle<()>> {
        self.inner
            .slots()
            .values_mut()
            .filter_map(|s| s.task.take())
            .collect()
    }
}

/// A dropped engine ends its controllers as [`RolloutEngine::abandon`] does (replicas are not
/// touched): none outlives the backend that held it.
impl Drop for RolloutEngine {
    fn drop(&mut self) {
        for task in self.take_tasks() {
            task.abort();
        }
    }
}

/// Stops every replica of `name` until none is left, then removes its records.
pub(super) async fn finish_delete(
    inner: &Arc<Inner>,
    name: &str,
    grace: Option<Duration>,
) -> Result<()> {
    let selector = controller::replica_selector(name);
    for _ in 0..10 {
        let groups = inner.driver.list(&selector).await?;
        if groups.is_empty() {
            persist::remove(&*inner.store, name)?;
            let removed = {
                let mut slots = inner.slots();
                let removed = slots.remove(name);
                inner.count_objects(slots.len());
                removed
            };
            if let Some(slot) = removed {
                let labels = slot.record.object.metadata.labels.clone();
                let _ = inner.changes.send(Delta {
                    event: WatchEvent::Deleted(slot.record.object),
                    previous_labels: Some(labels),
                });
            }
            return Ok(());
        }
        let stops = groups.iter().map(|g| inner.driver.stop(g.name(), grace));
        for result in futures::future::join_all(stops).await {
            result?;
        }
    }
    Err(Error::backend(
        inner.config.backend.clone(),
        format!("replicas of deployment {name} kept reappearing while it was deleted"),
    ))
}
