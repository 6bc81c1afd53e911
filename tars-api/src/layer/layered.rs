//! [`Layered`]: a backend with a [`Layer`] around every call.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Call, Checkable, Layer, Operation};
use crate::api::{
    ApplyOptions, ApplyOutcome, Backend, ContainerGroups, CronJobs, DeleteOptions, Deployments,
    KindApi, ListParams, LogOptions, ObjectApi, ObjectList, WatchStream,
};
use crate::capability::Capabilities;
use crate::cronjob::{CronJobSpec, CronRun};
use crate::deployment::{DeploymentSpec, RevisionInfo};
use crate::error::Result;
use crate::group::ContainerGroupSpec;
use crate::object::Object;
use crate::selector::LabelSelector;

/// `inner` with `layer` applied to every call. Implements [`Backend`] itself, so layers stack.
pub struct Layered<L: Layer> {
    inner: Arc<dyn Backend>,
    layer: Arc<L>,
    groups: LayeredApi<L, ContainerGroupSpec>,
    deployments: LayeredApi<L, DeploymentSpec>,
    cron_jobs: LayeredApi<L, CronJobSpec>,
}

impl<L: Layer> Layered<L> {
    /// Wraps `inner` in `layer`.
    pub fn new(inner: Arc<dyn Backend>, layer: L) -> Self {
        let layer = Arc::new(layer);
        Layered {
            groups: LayeredApi::new(&inner, &layer),
            deployments: LayeredApi::new(&inner, &layer),
            cron_jobs: LayeredApi::new(&inner, &layer),
            inner,
            layer,
        }
    }

    /// The layer.
    pub fn layer(&self) -> &L {
        &self.layer
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &Arc<dyn Backend> {
        &self.inner
    }
}

/// One kind's API of a [`Layered`] backend.
pub struct LayeredApi<L: Layer, S> {
    inner: Arc<dyn Backend>,
    layer: Arc<L>,
    _kind: PhantomData<fn() -> S>,
}

impl<L: Layer, S: KindApi> LayeredApi<L, S> {
    fn new(inner: &Arc<dyn Backend>, layer: &Arc<L>) -> Self {
        LayeredApi {
            inner: inner.clone(),
            layer: layer.clone(),
            _kind: PhantomData,
        }
    }

    fn call<'a>(
        &'a self,
        operation: Operation,
        name: Option<&'a str>,
        object: Option<&'a dyn Checkable>,
    ) -> Call<'a> {
        Call {
            backend: self.inner.name(),
            kind: Some(S::KIND),
            operation,
            name,
            object,
        }
    }

    fn api(&self) -> &dyn ObjectApi<S> {
        S::api(&*self.inner)
    }
}

#[async_trait]
impl<L: Layer, S: KindApi> ObjectApi<S> for LayeredApi<L, S> {
    async fn apply(&self, object: &Object<S>, options: ApplyOptions) -> Result<ApplyOutcome<S>> {
        let op = if options.dry_run {
            Operation::DryRun
        } else {
            Operation::Apply
        };
        let call = self.call(op, Some(object.name()), Some(object));
        self.layer
            .call(call, &|| self.api().apply(object, options))
            .await
    }

    async fn get(&self, name: &str) -> Result<Object<S>> {
        let call = self.call(Operation::Get, Some(name), None);
        self.layer.call(call, &|| self.api().get(name)).await
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<S>> {
        let call = self.call(Operation::List, None, None);
        self.layer.call(call, &|| self.api().list(params)).await
    }

    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()> {
        let call = self.call(Operation::Delete, Some(name), None);
        self.layer
            .call(call, &|| self.api().delete(name, options))
            .await
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<S>> {
        let call = self.call(Operation::Watch, None, None);
        self.layer.call(call, &|| self.api().watch(selector)).await
    }
}

#[async_trait]
impl<L: Layer> ContainerGroups for LayeredApi<L, ContainerGroupSpec> {
    async fn logs(&self, name: &str, container: &str, options: &LogOptions) -> Result<String> {
        let call = self.call(Operation::Logs, Some(name), None);
        self.layer
            .call(call, &|| {
                self.inner.container_groups().logs(name, container, options)
            })
            .await
    }
}

#[async_trait]
impl<L: Layer> Deployments for LayeredApi<L, DeploymentSpec> {
    async fn scale(&self, name: &str, replicas: u32) -> Result<Object<DeploymentSpec>> {
        let call = self.call(Operation::Scale, Some(name), None);
        self.layer
            .call(call, &|| self.inner.deployments().scale(name, replicas))
            .await
    }

    async fn pause(&self, name: &str) -> Result<Object<DeploymentSpec>> {
        let call = self.call(Operation::Pause, Some(name), None);
        self.layer
            .call(call, &|| self.inner.deployments().pause(name))
            .await
    }

    async fn resume(&self, name: &str) -> Result<Object<DeploymentSpec>> {
        let call = self.call(Operation::Resume, Some(name), None);
        self.layer
            .call(call, &|| self.inner.deployments().resume(name))
            .await
    }

    async fn rollback(&self, name: &str, to: Option<u64>) -> Result<Object<DeploymentSpec>> {
        let call = self.call(Operation::Rollback, Some(name), None);
        self.layer
            .call(call, &|| self.inner.deployments().rollback(name, to))
            .await
    }

    async fn history(&self, name: &str) -> Result<Vec<RevisionInfo>> {
        let call = self.call(Operation::History, Some(name), None);
        self.layer
            .call(call, &|| self.inner.deployments().history(name))
            .await
    }
}

#[async_trait]
impl<L: Layer> CronJobs for LayeredApi<L, CronJobSpec> {
    async fn trigger(&self, name: &str) -> Result<String> {
        let call = self.call(Operation::Trigger, Some(name), None);
        self.layer
            .call(call, &|| self.inner.cron_jobs().trigger(name))
            .await
    }

    async fn runs(&self, name: &str) -> Result<Vec<CronRun>> {
        let call = self.call(Operation::Runs, Some(name), None);
        self.layer
            .call(call, &|| self.inner.cron_jobs().runs(name))
            .await
    }
}

#[async_trait]
impl<L: Layer> Backend for Layered<L> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn instance(&self) -> &str {
        self.inner.instance()
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        let call = Call {
            backend: self.inner.name(),
            kind: None,
            operation: Operation::Capabilities,
            name: None,
            object: None,
        };
        self.layer.call(call, &|| self.inner.capabilities()).await
    }

    fn container_groups(&self) -> &dyn ContainerGroups {
        &self.groups
    }

    fn deployments(&self) -> &dyn Deployments {
        &self.deployments
    }

    fn cron_jobs(&self) -> &dyn CronJobs {
        &self.cron_jobs
    }

    async fn shutdown(&self) -> Result<()> {
        self.inner.shutdown().await
    }
}
