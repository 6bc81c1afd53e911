//! [`UnsupportedApi`]: the API of a kind a backend does not offer. Every call returns
//! `Error::Unsupported` — never a silent no-op.

use std::marker::PhantomData;

use async_trait::async_trait;

use crate::api::{
    ApplyOptions, ApplyOutcome, ContainerGroups, CronJobs, DeleteOptions, Deployments, ListParams,
    LogOptions, ObjectApi, ObjectList, WatchStream,
};
use crate::capability::Feature;
use crate::cronjob::{CronJobSpec, CronRun};
use crate::deployment::{DeploymentSpec, RevisionInfo};
use crate::error::{Error, Result};
use crate::group::ContainerGroupSpec;
use crate::object::{Object, Spec};
use crate::selector::LabelSelector;

/// A kind's API that refuses every call with `Error::Unsupported { feature, backend, reason }`.
#[derive(Debug, Clone)]
pub struct UnsupportedApi<S> {
    feature: Feature,
    backend: String,
    reason: String,
    _kind: PhantomData<fn() -> S>,
}

impl<S> UnsupportedApi<S> {
    /// Refuses with `feature`, `backend` and `reason`.
    pub fn new(feature: Feature, backend: &str, reason: &str) -> Self {
        UnsupportedApi {
            feature,
            backend: backend.to_owned(),
            reason: reason.to_owned(),
            _kind: PhantomData,
        }
    }

    fn refuse<T>(&self) -> Result<T> {
        Err(Error::unsupported(
            self.feature,
            &self.backend,
            &self.reason,
        ))
    }
}

#[async_trait]
impl<S: Spec> ObjectApi<S> for UnsupportedApi<S> {
    async fn apply(&self, _: &Object<S>, _: ApplyOptions) -> Result<ApplyOutcome<S>> {
        self.refuse()
    }
    async fn get(&self, _: &str) -> Result<Object<S>> {
        self.refuse()
    }
    async fn list(&self, _: &ListParams) -> Result<ObjectList<S>> {
        self.refuse()
    }
    async fn delete(&self, _: &str, _: DeleteOptions) -> Result<()> {
        self.refuse()
    }
    async fn watch(&self, _: &LabelSelector) -> Result<WatchStream<S>> {
        self.refuse()
    }
}

#[async_trait]
impl ContainerGroups for UnsupportedApi<ContainerGroupSpec> {
    async fn logs(&self, _: &str, _: &str, _: &LogOptions) -> Result<String> {
        self.refuse()
    }
}

#[async_trait]
impl Deployments for UnsupportedApi<DeploymentSpec> {
    async fn scale(&self, _: &str, _: u32) -> Result<Object<DeploymentSpec>> {
        self.refuse()
    }
    async fn pause(&self, _: &str) -> Result<Object<DeploymentSpec>> {
        self.refuse()
    }
    async fn resume(&self, _: &str) -> Result<Object<DeploymentSpec>> {
        self.refuse()
    }
    async fn rollback(&self, _: &str, _: Option<u64>) -> Result<Object<DeploymentSpec>> {
        self.refuse()
    }
    async fn history(&self, _: &str) -> Result<Vec<RevisionInfo>> {
        self.refuse()
    }
}

#[async_trait]
impl CronJobs for UnsupportedApi<CronJobSpec> {
    async fn trigger(&self, _: &str) -> Result<String> {
        self.refuse()
    }

    async fn runs(&self, _: &str) -> Result<Vec<CronRun>> {
        self.refuse()
    }
}
