//! [`EngineDeployments`]: the Deployment API as tars' rollout engine over a backend's groups.

use std::sync::Arc;

use async_trait::async_trait;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, DeleteOptions, Deployments, ListParams, ObjectApi, ObjectList,
    WatchStream,
};
use tars_api::deployment::RevisionInfo;
use tars_api::{Deployment, DeploymentSpec, LabelSelector, Result};
use tokio::sync::broadcast;

use super::{SupportCheck, check_template};
use crate::driver::GroupDriver;
use crate::rollout::{DeploymentEvent, EngineConfig, RolloutEngine};
use crate::store::Store;

/// Deployments as replica groups of a backend, rolled out by tars' rollout engine with its
/// state in a store.
pub struct EngineDeployments {
    engine: RolloutEngine,
    check: SupportCheck,
}

impl std::fmt::Debug for EngineDeployments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineDeployments")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl EngineDeployments {
    /// Resumes the deployments of `config.instance` stored in `store` and drives their groups
    /// through `driver`; `check` refuses, at apply, a template this backend cannot run. Must run
    /// inside a tokio runtime.
    pub fn start(
        driver: Arc<dyn GroupDriver>,
        store: Arc<dyn Store>,
        config: EngineConfig,
        check: SupportCheck,
    ) -> Result<Self> {
        Ok(EngineDeployments {
            engine: RolloutEngine::start(driver, store, config)?,
            check,
        })
    }

    /// The rollout events of every deployment (ScalingUp, BatchGated, RolloutComplete, ...)
    /// from now on.
    pub fn events(&self) -> broadcast::Receiver<DeploymentEvent> {
        self.engine.events()
    }

    /// Stops the controllers; the groups keep running and are taken over again by the next
    /// engine on the same store.
    pub async fn shutdown(&self) {
        self.engine.shutdown().await;
    }

    /// Stops the controllers as a crash would (tests of recovery).
    pub async fn abandon(&self) {
        self.engine.abandon().await;
    }
}

#[async_trait]
impl ObjectApi<DeploymentSpec> for EngineDeployments {
    async fn apply(
        &self,
        object: &Deployment,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<DeploymentSpec>> {
        object.validate()?;
        check_template(&self.check, object.name(), &object.spec.template.spec)?;
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
impl Deployments for EngineDeployments {
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
