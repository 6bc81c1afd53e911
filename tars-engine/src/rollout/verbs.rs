//! The verbs of [`RolloutEngine`]: apply, get, list, watch, scale, pause, resume, rollback,
//! history, delete.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tars_api::api::{ApplyOptions, ApplyOutcome, Change, ListParams, ObjectList, WatchEvent};
use tars_api::deployment::{DeploymentStatus, RevisionInfo};
use tars_api::meta::Kind;
use tars_api::{Deployment, DeploymentSpec, Error, LabelSelector, Result, WatchStream, diff};
use tokio::sync::Notify;

use super::engine::{Inner, RolloutEngine, Slot, deleting, finish_delete};
use super::persist::{self, Record};
use super::progress::{EventKind, Progress};
use super::watch::{self as dwatch, Change as Delta};
use super::{controller, now_ms, revision};
use crate::store::Batch;
use crate::uid::new_uid;

impl RolloutEngine {
    /// Creates or updates a deployment; a new template becomes a new revision and starts a
    /// rollout. Idempotent. A dry run returns the object as it would be, with the revision
    /// it would roll out in its status, and the changed fields.
    pub fn apply(
        &self,
        object: &Deployment,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<DeploymentSpec>> {
        object.validate()?;
        let inner = &self.inner;
        let name = object.name().to_owned();
        let now = now_ms();
        let mut desired = Deployment {
            metadata: object.metadata.user_part(),
            spec: object.spec.clone(),
            status: None,
        };
        desired.metadata.stamp_owner(&inner.config.instance);
        let limit = desired.spec.revision_history_limit;
        let mut slots = inner.slots();
        let Some(slot) = slots.get_mut(&name) else {
            if persist::load_object(&*inner.store, &name)?
                .is_some_and(|o| !o.metadata.is_owned_by(&inner.config.instance))
            {
                return Err(Error::Conflict {
                    kind: Kind::Deployment,
                    name,
                    reason: "a deployment of this name exists in the engine's store but was \
                             not created by this tars instance; tars never touches objects it \
                             does not own"
                        .to_owned(),
                });
            }
            let mut revisions = Vec::new();
            let number = revision::record(
                &mut revisions,
                &desired.spec.template,
                "apply",
                now,
                limit,
                None,
            );
            desired.metadata.uid = Some(new_uid());
            desired.metadata.generation = Some(1);
            desired.metadata.created_at = i64::try_from(now)
                .ok()
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok());
            desired.status = Some(DeploymentStatus {
                revision: number,
                ..Default::default()
            });
            if options.dry_run {
                return Ok(ApplyOutcome {
                    object: desired,
                    change: Change::Created,
                });
            }
            desired.metadata.resource_version =
                Some(inner.version.fetch_add(1, Ordering::SeqCst).to_string());
            let record = Record {
                object: desired.clone(),
                revisions,
                progress: Progress::default(),
            };
            inner.store.write(record.save(Batch::new())?)?;
            let wake = Arc::new(Notify::new());
            let task = tokio::spawn(controller::run(inner.clone(), name.clone(), wake.clone()));
            slots.insert(
                name.clone(),
                Slot {
                    record,
                    wake,
                    task: Some(task),
                },
            );
            inner.count_objects(slots.len());
            let _ = inner.changes.send(Delta {
                event: WatchEvent::Added(desired.clone()),
                previous_labels: None,
            });
            return Ok(ApplyOutcome {
                object: desired,
                change: Change::Created,
            });
        };
        if slot.record.progress.deleting {
            return Err(deleting(&name));
        }
        let fields = diff::changed_fields(&slot.record.object, &desired);
        if fields.is_empty() {
            return Ok(ApplyOutcome {
                object: slot.record.object.clone(),
                change: Change::Unchanged,
            });
        }
        let mut next = slot.record.clone();
        next.object.metadata.labels = desired.metadata.labels;
        next.object.metadata.annotations = desired.metadata.annotations;
        if next.object.spec != desired.spec {
            if next.object.spec.template != desired.spec.template {
                let stable = next.progress.stable_hash.clone();
                let number = revision::record(
                    &mut next.revisions,
                    &desired.spec.template,
                    "apply",
                    now,
                    limit,
                    stable.as_deref(),
                );
                if let Some(status) = next.object.status.as_mut() {
                    status.revision = number;
                }
            }
            next.object.spec = desired.spec;
            next.object.metadata.generation =
                Some(next.object.metadata.generation.unwrap_or(0) + 1);
        }
        let change = Change::Updated { fields };
        if options.dry_run {
            return Ok(ApplyOutcome {
                object: next.object,
                change,
            });
        }
        inner.commit(slot, next, Vec::new(), now)?;
        slot.wake.notify_one();
        Ok(ApplyOutcome {
            object: slot.record.object.clone(),
            change,
        })
    }

    /// The deployment with its last observed status.
    pub fn get(&self, name: &str) -> Result<Deployment> {
        self.inner
            .slots()
            .get(name)
            .map(|s| s.record.object.clone())
            .ok_or_else(|| Inner::not_found(name))
    }

    /// Deployments matching the selector, sorted by name, one page at a time.
    pub fn list(&self, params: &ListParams) -> Result<ObjectList<DeploymentSpec>> {
        let slots = self.inner.slots();
        Ok(ObjectList::page(
            slots.values().map(|s| &s.record.object),
            params,
        ))
    }

    /// A snapshot of the matching deployments, an end-of-snapshot marker, then their changes.
    pub fn watch(&self, selector: &LabelSelector) -> WatchStream<DeploymentSpec> {
        dwatch::stream(self.inner.clone(), selector.clone())
    }

    /// Sets the replica count, also in the middle of a rollout.
    pub fn scale(&self, name: &str, replicas: u32) -> Result<Deployment> {
        self.inner.mutate(name, |r, _| {
            let from = r.object.spec.replicas;
            r.object.spec.replicas = replicas;
            Ok(match replicas.cmp(&from) {
                std::cmp::Ordering::Greater => vec![(
                    EventKind::ScalingUp,
                    format!("scaled from {from} to {replicas} replicas"),
                )],
                std::cmp::Ordering::Less => vec![(
                    EventKind::ScalingDown,
                    format!("scaled from {from} to {replicas} replicas"),
                )],
                std::cmp::Ordering::Equal => Vec::new(),
            })
        })
    }

    /// Stops the rollout where it is (`spec.paused`); replicas keep running.
    pub fn pause(&self, name: &str) -> Result<Deployment> {
        self.inner.mutate(name, |r, _| {
            if r.object.spec.paused {
                return Ok(Vec::new());
            }
            r.object.spec.paused = true;
            Ok(vec![(EventKind::Paused, "paused".to_owned())])
        })
    }

    /// Continues a paused rollout, or one waiting at a gate.
    pub fn resume(&self, name: &str) -> Result<Deployment> {
        self.inner.mutate(name, |r, now| {
            if !r.object.spec.paused && !r.progress.gated {
                return Ok(Vec::new());
            }
            r.object.spec.paused = false;
            r.progress.gated = false;
            // The time spent waiting for a person does not count against the deadline.
            r.progress.last_progress_ms = now;
            Ok(vec![(EventKind::Resumed, "resumed".to_owned())])
        })
    }

    /// Re-applies revision `to`'s template (the previous revision's when `None`) as a new
    /// revision, which rolls out like any other.
    pub fn rollback(&self, name: &str, to: Option<u64>) -> Result<Deployment> {
        self.inner.mutate(name, |r, now| {
            let current = r.update().map_or(0, |u| u.number);
            let target = match to {
                Some(n) => r.revisions.iter().find(|x| x.number == n),
                None => r.revisions.iter().rev().find(|x| x.number < current),
            };
            let Some(target) = target.cloned() else {
                let kept: Vec<String> = r.revisions.iter().map(|x| x.number.to_string()).collect();
                return Err(Error::invalid(
                    "to",
                    match to {
                        Some(n) => format!(
                            "revision {n} is not in the history (kept: {})",
                            kept.join(", ")
                        ),
                        None => "there is no earlier revision to roll back to".to_owned(),
                    },
                ));
            };
            if target.number == current {
                return Ok(Vec::new());
            }
            let stable = r.progress.stable_hash.clone();
            let number = revision::record(
                &mut r.revisions,
                &target.template,
                &format!("rollback to {}", target.number),
                now,
                r.object.spec.revision_history_limit,
                stable.as_deref(),
            );
            r.object.spec.template = target.template;
            if let Some(status) = r.object.status.as_mut() {
                status.revision = number;
            }
            Ok(vec![(
                EventKind::RolledBack,
                format!(
                    "rolled back to revision {} as revision {number}",
                    target.number
                ),
            )])
        })
    }

    /// The revisions kept, oldest first.
    pub fn history(&self, name: &str) -> Result<Vec<RevisionInfo>> {
        let slots = self.inner.slots();
        let slot = slots.get(name).ok_or_else(|| Inner::not_found(name))?;
        Ok(slot.record.revisions.iter().map(|r| r.info()).collect())
    }

    /// Deletes the deployment: stops its controller and every replica (with `grace`, or each
    /// replica's own grace period), then forgets it. Returns when no replica is left. A crash
    /// in between finishes the deletion after the restart.
    pub async fn delete(&self, name: &str, grace: Option<Duration>) -> Result<()> {
        let inner = &self.inner;
        let task = {
            let mut slots = inner.slots();
            let Some(slot) = slots.get_mut(name) else {
                if persist::load_object(&*inner.store, name)?
                    .is_some_and(|o| !o.metadata.is_owned_by(&inner.config.instance))
                {
                    return Err(Error::Conflict {
                        kind: Kind::Deployment,
                        name: name.to_owned(),
                        reason: "the deployment was not created by this tars instance".to_owned(),
                    });
                }
                return Err(Inner::not_found(name));
            };
            if !slot.record.progress.deleting {
                let mut next = slot.record.clone();
                next.progress.deleting = true;
                inner.commit(slot, next, Vec::new(), now_ms())?;
            }
            slot.wake.notify_one();
            slot.task.take()
        };
        if let Some(task) = task {
            // The controller sees `deleting` and ends after its current step, so no replica
            // is started behind our back.
            let _ = task.await;
        }
        finish_delete(inner, name, grace).await
    }
}
