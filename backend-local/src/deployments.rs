//! The deployment API of the embedded backend: tars' rollout engine driving this backend's
//! own container groups, with its state in the backend's engine store.

use std::sync::Arc;

use async_trait::async_trait;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, DeleteOptions, Deployments, ListParams, ObjectApi, ObjectList,
    WatchStream,
};
use tars_api::deployment::RevisionInfo;
use tars_api::{ContainerGroup, Deployment, DeploymentSpec, LabelSelector, Result};
use tars_engine::driver::ApiDriver;
use tars_engine::rollout::{DeploymentEvent, EngineConfig, RolloutEngine};
use tokio::sync::broadcast;

use crate::BACKEND;
use crate::groups::{LocalGroups, check_supported};
use crate::shared::Shared;

/// Deployments as replica groups of this backend, rolled out by tars' rollout engine.
#[derive(Debug)]
pub struct LocalDeployments {
    engine: RolloutEngine,
}

impl LocalDeployments {
    /// Resumes the deployments stored in `shared.db` and drives them through `groups`.
    pub(crate) fn start(shared: &Shared, groups: Arc<LocalGroups>) -> Result<Self> {
        let config = EngineConfig::new(BACKEND, shared.config.instance_id())
            .hooks(shared.config.event_hooks().clone());
        let engine =
            RolloutEngine::start(Arc::new(ApiDriver::new(groups)), shared.db.clone(), config)?;
        Ok(LocalDeployments { engine })
    }

    /// The rollout events of every deployment (ScalingUp, BatchGated, RolloutComplete, ...)
    /// from now on.
    pub fn events(&self) -> broadcast::Receiver<DeploymentEvent> {
        self.engine.events()
    }

    pub(crate) async fn shutdown(&self) {
        self.engine.shutdown().await;
    }

    pub(crate) async fn abandon(&self) {
        self.engine.abandon().await;
    }
}

#[async_trait]
impl ObjectApi<DeploymentSpec> for LocalDeployments {
    async fn apply(
        &self,
        object: &Deployment,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<DeploymentSpec>> {
        object.validate()?;
        // What this backend cannot run is refused now, not replica by replica later.
        check_supported(&ContainerGroup::new(
            object.name(),
            object.spec.template.spec.clone(),
        ))?;
        self.engine.apply(object, options)
    }

    async fn get(&self, name: &str) -> Result<Deployment> {
        self.engine.get(name)
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<DeploymentSpec>> {
        self.engine.list(params)
    }

    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()> {
        self.engine.delete(name, options.grace_period).await
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<DeploymentSpec>> {
        Ok(self.engine.watch(selector))
    }
}

#[async_trait]
impl Deployments for LocalDeployments {
    async fn scale(&self, name: &str, replicas: u32) -> Result<Deployment> {
        self.engine.scale(name, replicas)
    }

    async fn pause(&self, name: &str) -> Result<Deployment> {
        self.engine.pause(name)
    }

    async fn resume(&self, name: &str) -> Result<Deployment> {
        self.engine.resume(name)
    }

    async fn rollback(&self, name: &str, to: Option<u64>) -> Result<Deployment> {
        self.engine.rollback(name, to)
    }

    async fn history(&self, name: &str) -> Result<Vec<RevisionInfo>> {
        self.engine.history(name)
    }
}
