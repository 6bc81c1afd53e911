//! [`OpenStackBackend`]: the [`Backend`] of an OpenStack cloud.

use std::sync::Arc;

use async_trait::async_trait;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, ContainerGroups, CronJobs, DeleteOptions, Deployments, ListParams,
    ObjectApi, ObjectList, WatchStream,
};
use tars_api::deployment::RevisionInfo;
use tars_api::{
    Backend, Capabilities, CronJobSpec, CronRun, DeploymentSpec, Error, Feature, LabelSelector,
    Object, Result, Spec, Support,
};

use crate::client::Client;
use crate::config::OpenStackConfig;
use crate::convert::Stamp;
use crate::groups::OpenStackGroups;

/// tars on an OpenStack cloud: each [`ContainerGroup`](tars_api::ContainerGroup) is one Nova
/// server (see the crate docs). Deployments and CronJobs are not there yet
/// ([`Error::Unsupported`]).
pub struct OpenStackBackend {
    instance: String,
    groups: OpenStackGroups,
    deployments: NotYet,
    cron_jobs: NotYet,
}

impl std::fmt::Debug for OpenStackBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStackBackend")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl OpenStackBackend {
    /// Authenticates with `config` (Keystone v3) and finds Nova and Glance in the catalog.
    pub async fn connect(config: OpenStackConfig) -> Result<Self> {
        let client = Arc::new(Client::connect(&config).await?);
        let stamp = Stamp {
            instance: config.instance_id().to_owned(),
            secrets_in_user_data: config.secrets_in_user_data,
        };
        crate::convert::server::instance_tag(&stamp.instance)?;
        Ok(OpenStackBackend {
            instance: stamp.instance.clone(),
            groups: OpenStackGroups {
                client,
                stamp,
                server_groups: Arc::default(),
            },
            deployments: NotYet,
            cron_jobs: NotYet,
        })
    }
}

/// What the OpenStack backend does today.
pub(crate) fn capabilities() -> Capabilities {
    use Feature::*;
    Capabilities::new()
        .native(&[ContainerGroups, CpuLimits, MemoryLimits])
        .with(DryRun, Support::Emulated)
        .with(Selectors, Support::Emulated)
        .with(Paging, Support::Emulated)
        .with(Watch, Support::Emulated)
        .unsupported(
            &[Logs],
            "a Nova server has no container log (and the test cloud's fake driver runs nothing)",
        )
        .unsupported(
            &[Secrets],
            "secrets would travel in user_data; allow it with \
             OpenStackConfig::allow_secrets_in_user_data",
        )
        .unsupported(
            &[PlacementConstraints],
            "host attributes are not exposed to tenants by Nova",
        )
        .unsupported(
            &[
                Deployments,
                CronJobs,
                Spread,
                RollingUpdate,
                Batches,
                Gates,
                Rollback,
                AutoRollback,
                PauseResume,
                Scale,
                TimeZones,
                SecondsSchedules,
                Iso8601Schedules,
                Parents,
                Concurrency,
                Retries,
                Trigger,
            ],
            "deployments and cron jobs on OpenStack are not built yet (issue 9)",
        )
        .unsupported(
            &[
                ImageEntrypoint,
                ReadinessChecks,
                LivenessChecks,
                RestartPolicy,
            ],
            "the server's spec travels in user_data; nothing on the server acts on it yet",
        )
}

#[async_trait]
impl Backend for OpenStackBackend {
    fn name(&self) -> &str {
        crate::BACKEND
    }

    fn instance(&self) -> &str {
        &self.instance
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(capabilities())
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
        Ok(())
    }
}

/// Deployments and CronJobs: `Unsupported` until they are built.
struct NotYet;

fn not_yet(kind: &str, feature: Feature) -> Error {
    Error::unsupported(
        feature,
        crate::BACKEND,
        format!("{kind} on OpenStack are not built yet (issue 9)"),
    )
}

trait KindFeature {
    const FEATURE: Feature;
    const WORD: &'static str;
}

impl KindFeature for DeploymentSpec {
    const FEATURE: Feature = Feature::Deployments;
    const WORD: &'static str = "deployments";
}

impl KindFeature for CronJobSpec {
    const FEATURE: Feature = Feature::CronJobs;
    const WORD: &'static str = "cron jobs";
}

fn nope<S: KindFeature>() -> Error {
    not_yet(S::WORD, S::FEATURE)
}

#[async_trait]
impl<S: Spec + KindFeature + Send + Sync> ObjectApi<S> for NotYet {
    async fn apply(&self, _object: &Object<S>, _options: ApplyOptions) -> Result<ApplyOutcome<S>> {
        Err(nope::<S>())
    }

    async fn get(&self, _name: &str) -> Result<Object<S>> {
        Err(nope::<S>())
    }

    async fn list(&self, _params: &ListParams) -> Result<ObjectList<S>> {
        Err(nope::<S>())
    }

    async fn delete(&self, _name: &str, _options: DeleteOptions) -> Result<()> {
        Err(nope::<S>())
    }

    async fn watch(&self, _selector: &LabelSelector) -> Result<WatchStream<S>> {
        Err(nope::<S>())
    }
}

#[async_trait]
impl Deployments for NotYet {
    async fn scale(&self, _name: &str, _replicas: u32) -> Result<Object<DeploymentSpec>> {
        Err(nope::<DeploymentSpec>())
    }

    async fn pause(&self, _name: &str) -> Result<Object<DeploymentSpec>> {
        Err(nope::<DeploymentSpec>())
    }

    async fn resume(&self, _name: &str) -> Result<Object<DeploymentSpec>> {
        Err(nope::<DeploymentSpec>())
    }

    async fn rollback(&self, _name: &str, _to: Option<u64>) -> Result<Object<DeploymentSpec>> {
        Err(nope::<DeploymentSpec>())
    }

    async fn history(&self, _name: &str) -> Result<Vec<RevisionInfo>> {
        Err(nope::<DeploymentSpec>())
    }
}

#[async_trait]
impl CronJobs for NotYet {
    async fn trigger(&self, _name: &str) -> Result<String> {
        Err(nope::<CronJobSpec>())
    }

    async fn runs(&self, _name: &str) -> Result<Vec<CronRun>> {
        Err(nope::<CronJobSpec>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_say_what_works() {
        let c = capabilities();
        assert!(c.supports(Feature::ContainerGroups));
        assert!(c.supports(Feature::Watch));
        assert!(!c.supports(Feature::Logs));
        assert!(!c.supports(Feature::Deployments));
        assert!(!c.supports(Feature::CronJobs));
        assert_eq!(
            c.iter().count(),
            Feature::ALL.len(),
            "every feature is described"
        );
    }
}
