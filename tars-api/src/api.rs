//! The object-safe traits every backend implements, and their parameter and result types.
//!
//! A [`Backend`] hands out one API per kind ([`ContainerGroups`], [`Deployments`], [`CronJobs`]);
//! each is an [`ObjectApi`] (apply, get, list, delete, watch) plus the verbs of that kind. All are
//! `dyn`-compatible, so `tars::connect(url)` can return an `Arc<dyn Backend>` and decorators
//! (validation, call counting, retries) wrap any backend.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::capability::Capabilities;
use crate::cronjob::{CronJobSpec, CronRun};
use crate::deployment::{DeploymentSpec, RevisionInfo};
use crate::error::Result;
use crate::group::ContainerGroupSpec;
use crate::object::{Object, Spec};
use crate::selector::LabelSelector;

/// Options of [`ObjectApi::apply`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Validate and compute the change without making it.
    pub dry_run: bool,
}

impl ApplyOptions {
    /// Options for a dry run.
    pub fn dry_run() -> Self {
        ApplyOptions { dry_run: true }
    }
}

/// What an apply did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The object did not exist and was created.
    Created,
    /// The object existed; these field paths of its user part (metadata labels, annotations,
    /// spec) changed.
    Updated {
        /// Changed field paths, such as `spec.containers[0].args`.
        fields: Vec<String>,
    },
    /// The object existed with the same spec, labels and annotations: nothing was done and no
    /// new generation was created.
    Unchanged,
}

/// The result of [`ObjectApi::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyOutcome<S: Spec> {
    /// The object as stored (or as it would be stored, in a dry run).
    pub object: Object<S>,
    /// What changed.
    pub change: Change,
}

/// Parameters of [`ObjectApi::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Only objects whose labels match.
    pub selector: LabelSelector,
    /// At most this many objects in one page.
    pub limit: Option<u32>,
    /// The token of the previous page's [`ObjectList::continue_token`].
    pub continue_token: Option<String>,
}

impl ListParams {
    /// Everything, in one page.
    pub fn all() -> Self {
        Self::default()
    }

    /// Objects matching `selector`.
    pub fn matching(selector: LabelSelector) -> Self {
        ListParams {
            selector,
            ..Default::default()
        }
    }

    /// Sets the page size (builder style).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// One page of a list, sorted by name.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectList<S: Spec> {
    /// The objects.
    pub items: Vec<Object<S>>,
    /// Pass this in [`ListParams::continue_token`] for the next page; `None` on the last page.
    pub continue_token: Option<String>,
}

impl<S: Spec> ObjectList<S> {
    /// The page `params` asks for out of `sorted` (every object, sorted by name): the objects
    /// after `params.continue_token` that match the selector, at most `params.limit`, with the
    /// token of the next page when more match.
    pub fn page<'a>(sorted: impl IntoIterator<Item = &'a Object<S>>, params: &ListParams) -> Self {
        let after = params.continue_token.as_deref();
        let limit = params.limit.map_or(usize::MAX, |l| l as usize);
        let mut items: Vec<Object<S>> = sorted
            .into_iter()
            .skip_while(|o| after.is_some_and(|a| o.name() <= a))
            .filter(|o| params.selector.matches(&o.metadata.labels))
            .take(limit.saturating_add(1))
            .cloned()
            .collect();
        let continue_token = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|o| o.name().to_owned())
        } else {
            None
        };
        ObjectList {
            items,
            continue_token,
        }
    }
}

/// Options of [`ObjectApi::delete`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Overrides the spec's termination grace period.
    pub grace_period: Option<Duration>,
}

/// An event of [`ObjectApi::watch`]: first the snapshot (`Existing` for each object, then
/// `SnapshotDone`), then changes in the order they happened.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent<S: Spec> {
    /// An object that existed when the watch (re)started.
    Existing(Object<S>),
    /// The snapshot is complete. Sent again after the watch re-lists by itself (when the
    /// engine said its position expired); the objects of the new snapshot are sent before it.
    SnapshotDone,
    /// An object was created.
    Added(Object<S>),
    /// An object's spec or status changed.
    Modified(Object<S>),
    /// An object was deleted; its last known state.
    Deleted(Object<S>),
}

impl<S: Spec> WatchEvent<S> {
    /// The object the event is about, if any.
    pub fn object(&self) -> Option<&Object<S>> {
        match self {
            WatchEvent::Existing(o)
            | WatchEvent::Added(o)
            | WatchEvent::Modified(o)
            | WatchEvent::Deleted(o) => Some(o),
            WatchEvent::SnapshotDone => None,
        }
    }
}

/// The stream [`ObjectApi::watch`] returns.
pub type WatchStream<S> = BoxStream<'static, Result<WatchEvent<S>>>;

/// Options of [`ContainerGroups::logs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last this many lines.
    pub tail: Option<usize>,
}

/// The verbs every kind has.
#[async_trait]
pub trait ObjectApi<S: Spec>: Send + Sync {
    /// Creates the object, or updates it to this spec, labels and annotations. Idempotent: the
    /// same input twice changes nothing the second time.
    async fn apply(&self, object: &Object<S>, options: ApplyOptions) -> Result<ApplyOutcome<S>>;
    /// The object with its current status.
    async fn get(&self, name: &str) -> Result<Object<S>>;
    /// Objects matching the selector, one page at a time, sorted by name.
    async fn list(&self, params: &ListParams) -> Result<ObjectList<S>>;
    /// Deletes the object gracefully; returns when it and everything it started are gone.
    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()>;
    /// A snapshot of the matching objects, an end-of-snapshot marker, then their changes.
    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<S>>;
}

/// Container groups: the object verbs plus logs.
#[async_trait]
pub trait ContainerGroups: ObjectApi<ContainerGroupSpec> {
    /// The output of container `container` of group `name`, oldest first.
    async fn logs(&self, name: &str, container: &str, options: &LogOptions) -> Result<String>;
}

/// Deployments: the object verbs plus the rollout verbs.
#[async_trait]
pub trait Deployments: ObjectApi<DeploymentSpec> {
    /// Sets the replica count (also in the middle of a rollout).
    async fn scale(&self, name: &str, replicas: u32) -> Result<Object<DeploymentSpec>>;
    /// Stops the rollout where it is.
    async fn pause(&self, name: &str) -> Result<Object<DeploymentSpec>>;
    /// Continues a paused rollout or one waiting at a gate.
    async fn resume(&self, name: &str) -> Result<Object<DeploymentSpec>>;
    /// Re-applies an earlier revision's template as a new revision (the previous one when
    /// `to` is `None`).
    async fn rollback(&self, name: &str, to: Option<u64>) -> Result<Object<DeploymentSpec>>;
    /// The revisions kept, oldest first.
    async fn history(&self, name: &str) -> Result<Vec<RevisionInfo>>;
}

/// Cron jobs: the object verbs plus running now.
#[async_trait]
pub trait CronJobs: ObjectApi<CronJobSpec> {
    /// Starts a run now, outside the schedule; returns the run's group name.
    async fn trigger(&self, name: &str) -> Result<String>;
    /// The job's history kept within its limits (runs, and slots recorded as missed), oldest
    /// slot first.
    async fn runs(&self, name: &str) -> Result<Vec<CronRun>>;
}

/// An orchestration engine, seen through tars.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Short name of the backend (`local`, `k8s`, `mesos`, `openstack`), used in errors and as
    /// the conformance column.
    fn name(&self) -> &str;
    /// The id of this tars instance; only objects stamped with it are touched.
    fn instance(&self) -> &str;
    /// What this backend supports, feature by feature. May ask the engine (versions differ).
    async fn capabilities(&self) -> Result<Capabilities>;
    /// Container groups.
    fn container_groups(&self) -> &dyn ContainerGroups;
    /// Deployments.
    fn deployments(&self) -> &dyn Deployments;
    /// Cron jobs.
    fn cron_jobs(&self) -> &dyn CronJobs;
    /// Stops the backend's background tasks (watches, controllers, supervisors). Workloads keep
    /// running; a later backend on the same state takes them over.
    async fn shutdown(&self) -> Result<()>;
}

/// A spec whose API a [`Backend`] hands out: lets generic code (layers, the conformance suite)
/// reach the right [`ObjectApi`] for a kind.
pub trait KindApi: Spec {
    /// This kind's API of `backend`.
    fn api(backend: &dyn Backend) -> &dyn ObjectApi<Self>;
}

impl KindApi for ContainerGroupSpec {
    fn api(backend: &dyn Backend) -> &dyn ObjectApi<Self> {
        backend.container_groups()
    }
}

impl KindApi for DeploymentSpec {
    fn api(backend: &dyn Backend) -> &dyn ObjectApi<Self> {
        backend.deployments()
    }
}

impl KindApi for CronJobSpec {
    fn api(backend: &dyn Backend) -> &dyn ObjectApi<Self> {
        backend.cron_jobs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{Container, ContainerGroup};

    #[test]
    fn pages_follow_the_continue_token_and_the_selector() {
        let objects: Vec<ContainerGroup> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| {
                let g = ContainerGroup::new(
                    *n,
                    ContainerGroupSpec::new(vec![Container::new("m", "i", &["x"])]),
                );
                if *n == "c" {
                    g
                } else {
                    g.with_label("keep", "yes")
                }
            })
            .collect();
        let mut params =
            ListParams::matching(LabelSelector::everything().eq("keep", "yes")).limit(2);
        let first = ObjectList::page(&objects, &params);
        let names = |l: &ObjectList<ContainerGroupSpec>| {
            l.items
                .iter()
                .map(|o| o.name().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&first), ["a", "b"]);
        assert_eq!(first.continue_token.as_deref(), Some("b"));
        params.continue_token = first.continue_token;
        let second = ObjectList::page(&objects, &params);
        assert_eq!(names(&second), ["d"]);
        assert_eq!(second.continue_token, None);
    }
}
