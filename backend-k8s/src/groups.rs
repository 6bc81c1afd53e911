//! ContainerGroups as Pods. A pod's spec cannot change, so a changed group spec replaces the
//! pod (the old one is gone before the new one is created, as on the embedded backend).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, LogParams};
use tars_api::api::{
    ApplyOptions, ApplyOutcome, Change, ContainerGroups, DeleteOptions, ListParams, LogOptions,
    ObjectApi, ObjectList, WatchStream,
};
use tars_api::meta::Kind;
use tars_api::{ContainerGroup, ContainerGroupSpec, Error, LabelSelector, Result, diff};

use crate::client::{Sent, create_object, patch_metadata, wait_gone, wire};
use crate::context::Context;
use crate::convert::group::{group_from_pod, pod};
use crate::mirror::Holder;

const KIND: Kind = Kind::ContainerGroup;

/// How long an apply waits for a pod of the same name that is being deleted.
const TERMINATING_LIMIT: Duration = Duration::from_secs(120);

/// The container groups of a [`crate::K8sBackend`].
pub(crate) struct K8sGroups {
    pub(crate) ctx: Arc<Context>,
}

impl K8sGroups {
    fn conflict(name: &str) -> Error {
        Error::Conflict {
            kind: KIND,
            name: name.to_owned(),
            reason: "a pod of that name exists that this tars instance did not create".into(),
        }
    }

    /// Creates the pod of `group` (see [`create_object`]: one request, no dry run first);
    /// `None` when the name is taken.
    async fn create(
        &self,
        group: &ContainerGroup,
        dry_run: bool,
    ) -> Result<Option<ContainerGroup>> {
        let body = pod(group, &self.ctx.stamp)?;
        let Sent::Done(sent) =
            create_object(&self.ctx.pods, group.name(), &body, KIND, dry_run).await?
        else {
            return Ok(None);
        };
        self.sent(sent, dry_run).map(Some)
    }

    /// Changes the labels and annotations of pod `current` (as read from the server) to
    /// those of `group` in place (see [`patch_metadata`]).
    async fn relabel(
        &self,
        current: &Pod,
        group: &ContainerGroup,
        dry_run: bool,
    ) -> Result<ContainerGroup> {
        let body = pod(group, &self.ctx.stamp)?;
        let sent = patch_metadata(
            &self.ctx.pods,
            group.name(),
            &current.metadata,
            &body.metadata,
            KIND,
            dry_run,
            self.ctx.check_with_dry_run,
        )
        .await?;
        self.sent(sent, dry_run)
    }

    /// The group of a pod the server returned; remembered unless in a dry run.
    fn sent(&self, sent: Pod, dry_run: bool) -> Result<ContainerGroup> {
        let object = group_from_pod(&sent)?;
        if !dry_run {
            self.ctx.groups.wrote(object.clone());
        }
        Ok(object)
    }

    /// Deletes the pod and waits until it is gone (at most its grace period plus a minute).
    async fn remove(&self, name: &str, grace: Duration) -> Result<()> {
        let params = DeleteParams {
            grace_period_seconds: Some(u32::try_from(grace.as_secs()).unwrap_or(u32::MAX)),
            ..DeleteParams::default()
        };
        match self.ctx.pods.delete(name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => return Err(wire(e, KIND, name)),
        }
        self.ctx.groups.deleting(name);
        wait_gone(
            &self.ctx.pods,
            &self.ctx.groups,
            name,
            KIND,
            grace + Duration::from_secs(60),
        )
        .await?;
        self.ctx.groups.deleted(name);
        Ok(())
    }

    /// The pod named `name`, whoever owns it, read from the server.
    async fn fetch_any(&self, name: &str) -> Result<Option<Pod>> {
        self.ctx
            .pods
            .get_opt(name)
            .await
            .map_err(|e| wire(e, KIND, name))
    }

    /// The pod of this instance named `name`, read from the server; one being deleted is
    /// gone already for tars.
    async fn fetch(&self, name: &str) -> Result<Option<Pod>> {
        let pod = self.fetch_any(name).await?;
        Ok(pod.filter(|p| {
            self.ctx.stamp.owns(p.metadata.labels.as_ref())
                && p.metadata.deletion_timestamp.is_none()
        }))
    }
}

#[async_trait]
impl ObjectApi<ContainerGroupSpec> for K8sGroups {
    async fn apply(
        &self,
        object: &ContainerGroup,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<ContainerGroupSpec>> {
        self.ctx.groups.synced().await?;
        let name = object.name();
        let mut desired = self
            .ctx
            .stamp
            .desired(&object.metadata, object.spec.clone());
        match self.ctx.groups.holder(name) {
            Some(Holder::Foreign) => return Err(Self::conflict(name)),
            Some(Holder::Terminating) => {
                // A delete of ours is being finished: the new group comes after it.
                wait_gone(
                    &self.ctx.pods,
                    &self.ctx.groups,
                    name,
                    KIND,
                    TERMINATING_LIMIT,
                )
                .await?;
                self.ctx.groups.deleted(name);
            }
            _ => {}
        }
        if self.ctx.groups.holder(name).is_none() {
            desired.metadata.generation = Some(1);
            if let Some(created) = self.create(&desired, options.dry_run).await? {
                return Ok(ApplyOutcome {
                    object: created,
                    change: Change::Created,
                });
            }
            // Taken meanwhile: ours (the watch lags) or someone else's.
        }
        let (pod_now, current) = match self.fetch_any(name).await? {
            Some(p) if self.ctx.stamp.owns(p.metadata.labels.as_ref()) => {
                let group = group_from_pod(&p)?;
                (p, group)
            }
            Some(_) => return Err(Self::conflict(name)),
            None => {
                return Err(Error::Conflict {
                    kind: KIND,
                    name: name.to_owned(),
                    reason: "the pod changed while it was applied; apply again".into(),
                });
            }
        };
        let fields = diff::changed_fields(&current, &desired);
        if fields.is_empty() {
            return Ok(ApplyOutcome {
                object: current,
                change: Change::Unchanged,
            });
        }
        let generation = current.metadata.generation.unwrap_or(1);
        let spec_changed = current.spec != desired.spec;
        desired.metadata.generation = Some(if spec_changed {
            generation + 1
        } else {
            generation
        });
        let object = if !spec_changed {
            // Labels and annotations of a pod can change in place.
            self.relabel(&pod_now, &desired, options.dry_run).await?
        } else if options.dry_run {
            let mut would = desired.clone();
            would.metadata.uid = current.metadata.uid.clone();
            would
        } else {
            self.remove(name, current.spec.termination_grace_period)
                .await?;
            self.create(&desired, false)
                .await?
                .ok_or_else(|| Self::conflict(name))?
        };
        Ok(ApplyOutcome {
            object,
            change: Change::Updated { fields },
        })
    }

    async fn get(&self, name: &str) -> Result<ContainerGroup> {
        match self.fetch(name).await? {
            Some(p) => group_from_pod(&p),
            _ => Err(Error::NotFound {
                kind: KIND,
                name: name.to_owned(),
            }),
        }
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<ContainerGroupSpec>> {
        self.ctx.groups.synced().await?;
        Ok(self.ctx.groups.page(params))
    }

    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()> {
        self.ctx.groups.synced().await?;
        match self.ctx.groups.holder(name) {
            Some(Holder::Foreign) => return Err(Self::conflict(name)),
            None | Some(Holder::Terminating) => {
                return Err(Error::NotFound {
                    kind: KIND,
                    name: name.to_owned(),
                });
            }
            Some(Holder::Ours) => {}
        }
        let grace = match options.grace_period {
            Some(g) => g,
            None => match self.fetch(name).await? {
                Some(p) => group_from_pod(&p)?.spec.termination_grace_period,
                None => {
                    return Err(Error::NotFound {
                        kind: KIND,
                        name: name.to_owned(),
                    });
                }
            },
        };
        self.remove(name, grace).await
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
        self.ctx.groups.synced().await?;
        Ok(tars_engine::watcher::stream(
            &self.ctx.groups,
            selector.clone(),
            "ContainerGroup",
        ))
    }
}

#[async_trait]
impl ContainerGroups for K8sGroups {
    async fn logs(&self, name: &str, container: &str, options: &LogOptions) -> Result<String> {
        if self.fetch(name).await?.is_none() {
            return Err(Error::NotFound {
                kind: KIND,
                name: name.to_owned(),
            });
        }
        let params = LogParams {
            container: Some(container.to_owned()),
            tail_lines: options.tail.and_then(|t| i64::try_from(t).ok()),
            ..LogParams::default()
        };
        self.ctx
            .pods
            .logs(name, &params)
            .await
            .map_err(|e| wire(e, KIND, name))
    }
}
