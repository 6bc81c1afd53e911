//! Deployments as apps/v1 Deployments: Kubernetes' Deployment controller rolls them
//! (maxSurge / maxUnavailable, minReadySeconds, progressDeadlineSeconds, `spec.paused`);
//! tars adds what it lacks: rollback to a revision as `kubectl rollout undo` does (the
//! ReplicaSet's template re-applied, the cause recorded), and the automatic rollback on
//! `ProgressDeadlineExceeded` that `auto_rollback` asks for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment as K8sDeployment, ReplicaSet};
use kube::api::{DeleteParams, ListParams as KubeListParams, PropagationPolicy};
use tars_api::api::{
    ApplyOptions, ApplyOutcome, Change, DeleteOptions, Deployments, ListParams, ObjectApi,
    ObjectList, WatchEvent, WatchStream,
};
use tars_api::deployment::RevisionInfo;
use tars_api::meta::Kind;
use tars_api::{Deployment, DeploymentSpec, Error, LabelSelector, Result, diff};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::client::{Sent, apply_object, wait_gone, wire};
use crate::context::Context;
use crate::convert::deployment::{
    CHANGE_CAUSE_ANNOTATION, deployment, deployment_from_k8s, history, rollback_template,
    selector_labels, spec_from_template,
};
use crate::mirror::Holder;

const KIND: Kind = Kind::Deployment;

/// How often a delete looks whether the deployment and its pods are gone.
const GONE_POLL: Duration = Duration::from_millis(250);

/// How long an apply waits for a deployment of the same name that is being deleted.
const TERMINATING_LIMIT: Duration = Duration::from_secs(120);

/// The deployments of a [`crate::K8sBackend`].
pub(crate) struct K8sDeployments {
    pub(crate) ctx: Arc<Context>,
    auto_rollback: Mutex<Option<JoinHandle<()>>>,
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: KIND,
        name: name.to_owned(),
    }
}

fn conflict(name: &str) -> Error {
    Error::Conflict {
        kind: KIND,
        name: name.to_owned(),
        reason: "a Deployment of that name exists that this tars instance did not create".into(),
    }
}

fn selector(name: &str, ctx: &Context) -> String {
    selector_labels(name, &ctx.stamp)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl K8sDeployments {
    pub(crate) fn new(ctx: Arc<Context>) -> Arc<Self> {
        let this = Arc::new(K8sDeployments {
            ctx,
            auto_rollback: Mutex::new(None),
        });
        let task = tokio::spawn(auto_rollback(Arc::downgrade(&this)));
        *this
            .auto_rollback
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(task);
        this
    }

    /// Ends the automatic rollbacks.
    pub(crate) fn stop(&self) {
        if let Some(task) = self
            .auto_rollback
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }

    async fn replica_sets(&self, name: &str) -> Result<Vec<ReplicaSet>> {
        let params = KubeListParams::default().labels(&selector(name, &self.ctx));
        Ok(self
            .ctx
            .replica_sets
            .list(&params)
            .await
            .map_err(|e| wire(e, KIND, name))?
            .items)
    }

    /// The Deployment of this instance named `name`, read from the server.
    async fn fetch(&self, name: &str) -> Result<Option<K8sDeployment>> {
        let d = self
            .ctx
            .deployments_api
            .get_opt(name)
            .await
            .map_err(|e| wire(e, KIND, name))?;
        Ok(d.filter(|d| {
            self.ctx.stamp.owns(d.metadata.labels.as_ref())
                && d.metadata.deletion_timestamp.is_none()
        }))
    }

    async fn current(&self, name: &str) -> Result<Deployment> {
        let d = self.fetch(name).await?.ok_or_else(|| not_found(name))?;
        let rs = self.replica_sets(name).await?;
        deployment_from_k8s(&d, &rs)
    }

    /// Sends `desired` (see [`apply_object`]), with `cause` recorded as the change cause;
    /// `None` when creating found the name taken.
    async fn send(
        &self,
        desired: &Deployment,
        creating: bool,
        dry_run: bool,
        cause: Option<String>,
    ) -> Result<Option<Deployment>> {
        let name = desired.name();
        let mut body = deployment(desired, &self.ctx.stamp)?;
        if let Some(cause) = cause {
            body.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(CHANGE_CAUSE_ANNOTATION.to_owned(), cause);
        }
        let sent = apply_object(
            &self.ctx.deployments_api,
            name,
            &body,
            KIND,
            creating,
            dry_run,
            self.ctx.check_with_dry_run,
        )
        .await?;
        let Sent::Done(sent) = sent else {
            return Ok(None);
        };
        let rs = if creating {
            Vec::new()
        } else {
            self.replica_sets(name).await?
        };
        let object = deployment_from_k8s(&sent, &rs)?;
        if !dry_run {
            self.ctx.deployments.wrote(deployment_from_k8s(&sent, &[])?);
        }
        Ok(Some(object))
    }

    /// Applies `desired` over the current object (an update of ours).
    async fn update(
        &self,
        desired: Deployment,
        dry_run: bool,
        cause: Option<String>,
    ) -> Result<ApplyOutcome<DeploymentSpec>> {
        let name = desired.name().to_owned();
        let current = match self.ctx.deployments_api.get_opt(&name).await {
            Ok(Some(d)) if self.ctx.stamp.owns(d.metadata.labels.as_ref()) => {
                deployment_from_k8s(&d, &self.replica_sets(&name).await?)?
            }
            Ok(Some(_)) => return Err(conflict(&name)),
            Ok(None) => return Err(not_found(&name)),
            Err(e) => return Err(wire(e, KIND, &name)),
        };
        let fields = diff::changed_fields(&current, &desired);
        if fields.is_empty() && cause.is_none() {
            return Ok(ApplyOutcome {
                object: current,
                change: Change::Unchanged,
            });
        }
        let mut object = self
            .send(&desired, false, dry_run, cause)
            .await?
            .ok_or_else(|| conflict(&name))?;
        if dry_run && current.spec.template != desired.spec.template {
            // The Deployment controller numbers the new revision after the newest it kept.
            let newest = history(&self.replica_sets(&name).await?)
                .last()
                .map_or(0, |r| r.revision);
            if let Some(s) = object.status.as_mut() {
                s.revision = newest.max(s.revision) + 1;
            }
        }
        Ok(ApplyOutcome {
            object,
            change: Change::Updated { fields },
        })
    }

    /// The current object with `change` made to its spec, applied.
    async fn change_spec(
        &self,
        name: &str,
        change: impl FnOnce(&mut DeploymentSpec),
    ) -> Result<Deployment> {
        let current = self.current(name).await?;
        let mut desired = self
            .ctx
            .stamp
            .desired(&current.metadata, current.spec.clone());
        change(&mut desired.spec);
        Ok(self.update(desired, false, None).await?.object)
    }
}

#[async_trait]
impl ObjectApi<DeploymentSpec> for K8sDeployments {
    async fn apply(
        &self,
        object: &Deployment,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<DeploymentSpec>> {
        self.ctx.deployments.synced().await?;
        let name = object.name();
        let desired = self
            .ctx
            .stamp
            .desired(&object.metadata, object.spec.clone());
        match self.ctx.deployments.holder(name) {
            Some(Holder::Foreign) => return Err(conflict(name)),
            Some(Holder::Terminating) | None => {
                if self.ctx.deployments.holder(name) == Some(Holder::Terminating) {
                    // A delete of ours is being finished: the new deployment comes after it.
                    wait_gone(
                        &self.ctx.deployments_api,
                        &self.ctx.deployments,
                        name,
                        KIND,
                        TERMINATING_LIMIT,
                    )
                    .await?;
                    self.ctx.deployments.deleted(name);
                }
                if let Some(created) = self.send(&desired, true, options.dry_run, None).await? {
                    return Ok(ApplyOutcome {
                        object: created,
                        change: Change::Created,
                    });
                }
                // Taken meanwhile: ours (the watch lags) or someone else's (update says).
            }
            Some(Holder::Ours) => {}
        }
        self.update(desired, options.dry_run, None).await
    }

    async fn get(&self, name: &str) -> Result<Deployment> {
        self.current(name).await
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<DeploymentSpec>> {
        self.ctx.deployments.synced().await?;
        Ok(self.ctx.deployments.page(params))
    }

    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()> {
        self.ctx.deployments.synced().await?;
        match self.ctx.deployments.holder(name) {
            Some(Holder::Foreign) => return Err(conflict(name)),
            None | Some(Holder::Terminating) => return Err(not_found(name)),
            Some(Holder::Ours) => {}
        }
        let grace = match options.grace_period {
            Some(g) => g,
            None => {
                self.current(name)
                    .await?
                    .spec
                    .template
                    .spec
                    .termination_grace_period
            }
        };
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            ..DeleteParams::default()
        };
        match self.ctx.deployments_api.delete(name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => return Err(wire(e, KIND, name)),
        }
        self.ctx.deployments.deleting(name);
        // Gone when the Deployment and every pod of it are.
        let limit = grace + Duration::from_secs(90);
        let deadline = tokio::time::Instant::now() + limit;
        let pods = KubeListParams::default().labels(&selector(name, &self.ctx));
        loop {
            let deployment = self
                .ctx
                .deployments_api
                .get_opt(name)
                .await
                .map_err(|e| wire(e, KIND, name))?;
            let left = self
                .ctx
                .pods
                .list(&pods)
                .await
                .map_err(|e| wire(e, KIND, name))?
                .items
                .len();
            if deployment.is_none() && left == 0 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    operation: format!("deletion of Deployment {name} ({left} pods left)"),
                    after: limit,
                });
            }
            tokio::time::sleep(GONE_POLL).await;
        }
        self.ctx.deployments.deleted(name);
        Ok(())
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<DeploymentSpec>> {
        self.ctx.deployments.synced().await?;
        Ok(tars_engine::watcher::stream(
            &self.ctx.deployments,
            selector.clone(),
            "Deployment",
        ))
    }
}

#[async_trait]
impl Deployments for K8sDeployments {
    async fn scale(&self, name: &str, replicas: u32) -> Result<Deployment> {
        self.change_spec(name, |s| s.replicas = replicas).await
    }

    async fn pause(&self, name: &str) -> Result<Deployment> {
        self.change_spec(name, |s| s.paused = true).await
    }

    async fn resume(&self, name: &str) -> Result<Deployment> {
        self.change_spec(name, |s| s.paused = false).await
    }

    async fn rollback(&self, name: &str, to: Option<u64>) -> Result<Deployment> {
        let d = self.fetch(name).await?.ok_or_else(|| not_found(name))?;
        let rs = self.replica_sets(name).await?;
        let current = deployment_from_k8s(&d, &rs)?;
        let revision = current.status.as_ref().map_or(0, |s| s.revision);
        let (target, template) = rollback_template(&rs, revision, to)?;
        let desired = self.ctx.stamp.desired(
            &current.metadata,
            spec_from_template(&current.spec, &template)?,
        );
        let cause = format!("rollback to {target}");
        tracing::info!(
            backend = crate::BACKEND,
            deployment = name,
            from = revision,
            to = target,
            "rolling back"
        );
        Ok(self.update(desired, false, Some(cause)).await?.object)
    }

    async fn history(&self, name: &str) -> Result<Vec<RevisionInfo>> {
        if self.fetch(name).await?.is_none() {
            return Err(not_found(name));
        }
        Ok(history(&self.replica_sets(name).await?))
    }
}

/// Rolls back every deployment with `auto_rollback` whose rollout exceeded its progress
/// deadline, to the last revision that completed, once per failed revision.
async fn auto_rollback(this: std::sync::Weak<K8sDeployments>) {
    let Some(rx) = this.upgrade().map(|t| {
        use tars_engine::watcher::Source;
        t.ctx.deployments.snapshot(&LabelSelector::everything()).1
    }) else {
        return;
    };
    let mut rx = rx;
    // Deployment name → the revision already rolled back from.
    let mut done: BTreeMap<String, u64> = BTreeMap::new();
    loop {
        let change = match rx.recv().await {
            Ok(c) => c,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let (WatchEvent::Added(o) | WatchEvent::Modified(o)) = change.event else {
            continue;
        };
        let exceeded = o.spec.auto_rollback
            && o.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == "Progressing"
                        && !c.status
                        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
                })
            });
        if !exceeded {
            continue;
        }
        let Some(this) = this.upgrade() else { return };
        let name = o.name().to_owned();
        let current = match this.current(&name).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(backend = crate::BACKEND, deployment = name, error = %e, "auto-rollback: cannot read the deployment");
                continue;
            }
        };
        let Some(status) = current.status.as_ref() else {
            continue;
        };
        if done.get(&name) == Some(&status.revision)
            || status.current_revision == 0
            || status.current_revision == status.revision
        {
            continue;
        }
        done.insert(name.clone(), status.revision);
        if let Err(e) = this.rollback(&name, Some(status.current_revision)).await {
            tracing::warn!(backend = crate::BACKEND, deployment = name, error = %e, "auto-rollback failed");
        }
    }
}
