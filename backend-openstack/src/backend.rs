//! [`OpenStackBackend`]: the [`Backend`] of an OpenStack cloud.

use std::sync::Arc;

use async_trait::async_trait;
use tars_api::api::{ContainerGroups, CronJobs, Deployments};
use tars_api::{Backend, Capabilities, ContainerGroup, Feature, Result, Support};
use tars_engine::api::{EngineCronJobs, EngineDeployments, SupportCheck, with_engine_features};
use tars_engine::cron::CronConfig;
use tars_engine::driver::ApiDriver;
use tars_engine::rollout::EngineConfig;
use tars_engine::store::{MemoryStore, RedbStore, Store};

use crate::client::Client;
use crate::config::OpenStackConfig;
use crate::convert::Stamp;
use crate::convert::placement::check_spread;
use crate::cron_jobs::OpenStackCronJobs;
use crate::groups::{OpenStackGroups, check_group};

/// tars on an OpenStack cloud: each [`ContainerGroup`] is one Nova server (see the crate docs);
/// Deployments and CronJobs run on tars' rollout and cron engines over those servers, with
/// their state in [`OpenStackConfig::state_dir`] (in memory without one).
pub struct OpenStackBackend {
    instance: String,
    groups: Arc<OpenStackGroups>,
    deployments: EngineDeployments,
    cron_jobs: OpenStackCronJobs,
}

impl std::fmt::Debug for OpenStackBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStackBackend")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl OpenStackBackend {
    /// Opens tars' state (the state directory, refused with `Error::Unavailable` while another
    /// tars process holds it; else memory), authenticates with `config` (Keystone v3), finds
    /// Nova and Glance in the catalog, removes the empty server groups a crashed tars of this
    /// instance may have left, and resumes the stored deployments and cron jobs.
    pub async fn connect(config: OpenStackConfig) -> Result<Self> {
        let stamp = Stamp {
            instance: config.instance_id().to_owned(),
            secrets_in_user_data: config.secrets_in_user_data,
        };
        tars_api::validate::name(&stamp.instance, "instance")?;
        crate::convert::server::instance_tag(&stamp.instance)?;
        config.check()?;
        let store: Arc<dyn Store> = match &config.state_dir {
            Some(dir) => {
                let dir = dir.clone();
                Arc::new(
                    tokio::task::spawn_blocking(move || RedbStore::open(&dir))
                        .await
                        .map_err(|e| tars_api::Error::backend(crate::BACKEND, e))??,
                )
            }
            None => Arc::new(MemoryStore::new()),
        };
        let client = Arc::new(Client::connect(&config).await?);
        let groups = Arc::new(OpenStackGroups {
            client,
            stamp: stamp.clone(),
            server_groups: Arc::default(),
            poller: Arc::default(),
            names: Arc::default(),
        });
        groups.remove_empty_server_groups().await;
        // The engines drive the groups directly (their calls are not the user's).
        let deployments = EngineDeployments::start(
            Arc::new(ApiDriver::new(groups.clone())),
            store.clone(),
            EngineConfig::new(crate::BACKEND, stamp.instance.clone()),
            template_check(stamp.clone(), true),
        )?;
        let engine = EngineCronJobs::start(
            Arc::new(ApiDriver::new(groups.clone())),
            store,
            stamp.instance.clone(),
            CronConfig::new(crate::BACKEND),
            template_check(stamp.clone(), false),
        )?;
        let cron_jobs = OpenStackCronJobs { engine };
        Ok(OpenStackBackend {
            instance: stamp.instance,
            groups,
            deployments,
            cron_jobs,
        })
    }
}

/// What the engines check of a template at apply: what a server of it needs; a spread over
/// hosts for the replicas of a deployment (`spread`), none for the runs of a cron job (a run
/// has no sibling to keep apart from).
fn template_check(stamp: Stamp, spread: bool) -> SupportCheck {
    Arc::new(move |group: &ContainerGroup| {
        check_group(group, &stamp)?;
        match &group.spec.placement.spread {
            None => Ok(()),
            Some(_) if spread => check_spread(group, "spec.placement"),
            Some(_) => Err(crate::convert::unsupported(
                Feature::Spread,
                "spec.placement.spread",
                "a spread keeps the replicas of a deployment apart; a cron job's runs have none",
            )),
        }
    })
}

/// What the OpenStack backend does.
pub(crate) fn capabilities() -> Capabilities {
    use Feature::*;
    let caps = Capabilities::new()
        .native(&[ContainerGroups, CpuLimits, MemoryLimits])
        .with(Spread, Support::Native)
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
                ImageEntrypoint,
                ReadinessChecks,
                LivenessChecks,
                RestartPolicy,
            ],
            "the server's spec travels in user_data; nothing on the server acts on it yet",
        );
    // tars' rollout and cron engines over the servers; slots on whole minutes only.
    with_engine_features(caps).unsupported(
        &[SecondsSchedules],
        "each run is a Nova server, built in seconds: schedules fire on whole minutes here",
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
        &*self.groups
    }

    fn deployments(&self) -> &dyn Deployments {
        &self.deployments
    }

    fn cron_jobs(&self) -> &dyn CronJobs {
        &self.cron_jobs
    }

    async fn shutdown(&self) -> Result<()> {
        // The servers stay: the next tars process on the same state takes them over.
        self.cron_jobs.engine.shutdown().await;
        self.deployments.shutdown().await;
        Ok(())
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
        assert!(c.supports(Feature::Deployments));
        assert!(c.supports(Feature::CronJobs));
        assert!(c.supports(Feature::Spread));
        assert!(!c.supports(Feature::SecondsSchedules));
        assert_eq!(
            c.iter().count(),
            Feature::ALL.len(),
            "every feature is described"
        );
    }
}
