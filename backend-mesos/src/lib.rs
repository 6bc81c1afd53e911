//! # tars-backend-mesos
//!
//! tars' Apache Mesos backend: tars is a Mesos framework (v1 scheduler HTTP API), and a
//! ContainerGroup is one `LAUNCH_GROUP`: one task per container under one tars executor.
//!
//! The crate reads top to bottom as [`config`](MesosConfig) (how to reach the master, where
//! tars' state is) → `convert` (tars ⇄ Mesos, pure) → the wire ([`scheduler`], [`operator`],
//! [`recordio`], [`v1`]) → the framework (one task owning the subscription) → the trait impls.
//!
//! ```no_run
//! # async fn demo() -> tars_api::Result<()> {
//! use tars_api::Backend;
//! let backend = tars_backend_mesos::MesosBackend::connect(
//!     tars_backend_mesos::MesosConfig::new("127.0.0.1:5050").state_dir("/var/lib/tars"),
//! )
//! .await?;
//! println!("{:?}", backend.capabilities().await?);
//! # Ok(()) }
//! ```
//!
//! Ownership: every task carries tars' stamp (`app.kubernetes.io/managed-by=tars`,
//! `tars.dev/instance`) and the object itself in its labels; tars only ever lists, kills or
//! reads tasks of its own framework with its own stamp, and refuses a name a task of someone
//! else goes by with `Error::Conflict`.
//!
//! The tars executor (crate `tars-mesos-executor`, over the v1 executor HTTP API) runs the
//! groups; it uses this crate's RecordIO and types.
#![forbid(unsafe_code)]

mod backoff;
pub mod chronos;
mod config;
pub mod convert;
mod framework;
mod groups;
mod logs;
mod master_view;
pub mod operator;
pub mod recordio;
mod registry;
pub mod scheduler;
mod tls;
pub mod v1;

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tars_api::capability::{Capabilities, Feature};
use tars_api::{Backend, ContainerGroups, CronJobs, Deployments, Result};
use tars_engine::api::{EngineCronJobs, EngineDeployments, SupportCheck};
use tars_engine::cron::CronConfig;
use tars_engine::driver::ApiDriver;
use tars_engine::rollout::EngineConfig;
use tars_engine::store::{MemoryStore, RedbStore, Store};
use tokio::task::JoinHandle;

pub use config::{DEFAULT_INSTANCE, MesosConfig};
pub use tls::TlsSettings;

use framework::Framework;
use groups::MesosGroups;

/// The backend's name in errors and metrics.
pub(crate) const BACKEND: &str = "mesos";

/// A tars framework on one Mesos cluster, one tars instance.
pub struct MesosBackend {
    fw: Arc<Framework>,
    groups: Arc<MesosGroups>,
    deployments: EngineDeployments,
    cron_jobs: EngineCronJobs,
    /// Cron jobs through Chronos, when one is configured.
    chronos: Option<chronos::ChronosCronJobs>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for MesosBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MesosBackend")
            .field(
                "master",
                &tars_api::redact::url_credentials(self.fw.config.master()),
            )
            .field("instance", &self.fw.instance)
            .field("framework_id", &self.fw.framework_id().map(|i| i.value))
            .finish()
    }
}

/// What this backend supports.
fn capabilities() -> Capabilities {
    let caps = Capabilities::new()
        .native(&[
            Feature::ContainerGroups,
            Feature::Watch,
            Feature::DryRun,
            Feature::Selectors,
            Feature::Paging,
            Feature::Logs,
            Feature::ReadinessChecks,
            Feature::LivenessChecks,
            Feature::PlacementConstraints,
            Feature::CpuLimits,
            Feature::MemoryLimits,
            Feature::RestartPolicy,
        ])
        .unsupported(
            &[Feature::ImageEntrypoint],
            "the tars executor runs host processes: give each container a command",
        )
        .unsupported(
            &[Feature::Secrets],
            "environment variables from secrets are not implemented on Mesos yet",
        )
        .unsupported(
            &[Feature::Spread],
            "spreading replicas over agents is not implemented on Mesos yet (offers are matched group by group)",
        );
    // tars' rollout and cron engines over task groups, inside the framework.
    tars_engine::api::with_engine_features(caps)
}

impl MesosBackend {
    /// Opens tars' state (the state directory, else memory), starts the framework and returns
    /// at once; calls wait (at most 30 s, then `Error::Unavailable`) for the first subscription.
    pub async fn connect(config: MesosConfig) -> Result<Self> {
        tars_api::validate::name(config.instance_id(), "instance")?;
        let store: Arc<dyn Store> = match &config.state_dir {
            Some(dir) => {
                let dir = dir.clone();
                Arc::new(
                    tokio::task::spawn_blocking(move || RedbStore::open(&dir))
                        .await
                        .map_err(|e| tars_api::Error::backend(BACKEND, e))??,
                )
            }
            None => Arc::new(MemoryStore::new()),
        };
        let chronos = match &config.chronos {
            Some(c) => Some(chronos::ChronosCronJobs::new(
                chronos::ChronosClient::new(&c.url)?,
                config.instance_id(),
                c.server,
            )),
            None => None,
        };
        config.tls.warn_if_insecure(&config.master);
        let http = config
            .tls
            .apply(reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)))?;
        let fw = Framework::new(config, store.clone())?;
        let http = http
            .build()
            .map_err(|e| tars_api::Error::backend(BACKEND, e))?;
        let groups = Arc::new(MesosGroups {
            fw: fw.clone(),
            caps: capabilities(),
            http,
        });
        // tars' engines drive the groups directly (their calls are not the user's) and keep
        // their state beside the framework's, in the same store.
        let caps = capabilities();
        let check: SupportCheck = Arc::new(move |g| convert::check_supported(&g.spec, &caps));
        let deployments = EngineDeployments::start(
            Arc::new(ApiDriver::new(groups.clone())),
            store.clone(),
            EngineConfig::new(BACKEND, fw.instance.clone()),
            check.clone(),
        )?;
        let cron_jobs = EngineCronJobs::start(
            Arc::new(ApiDriver::new(groups.clone())),
            store,
            fw.instance.clone(),
            CronConfig::new(BACKEND),
            check,
        )?;
        let driver = tokio::spawn(fw.clone().run());
        Ok(MesosBackend {
            groups,
            fw,
            deployments,
            cron_jobs,
            chronos,
            driver: Mutex::new(Some(driver)),
        })
    }

    /// The framework id, once subscribed.
    pub fn framework_id(&self) -> Option<String> {
        self.fw.framework_id().map(|i| i.value)
    }

    /// Removes the framework from Mesos (`TEARDOWN`): every task of it is killed and its id
    /// forgotten. Only on an explicit request — a tars process that exits or
    /// [`shutdown`](Backend::shutdown)s leaves its tasks running for the failover timeout.
    pub async fn teardown(&self) -> Result<()> {
        self.fw.synced(std::time::Duration::from_secs(30)).await?;
        self.cron_jobs.shutdown().await;
        self.deployments.shutdown().await;
        self.fw.teardown().await?;
        self.stop().await;
        Ok(())
    }

    /// Ends tars' engines and the subscription at once, touching no task, as a crash of the
    /// process would (tests of recovery); a backend connected later on the same state takes
    /// over.
    pub async fn abandon(&self) {
        self.deployments.abandon().await;
        self.cron_jobs.shutdown().await;
        self.stop().await;
    }

    async fn stop(&self) {
        let handle = self
            .driver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            h.abort();
            let _ = h.await;
        }
    }
}

#[async_trait]
impl Backend for MesosBackend {
    fn name(&self) -> &str {
        BACKEND
    }

    fn instance(&self) -> &str {
        &self.fw.instance
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(match &self.chronos {
            Some(_) => chronos::capabilities(capabilities()),
            None => capabilities(),
        })
    }

    fn container_groups(&self) -> &dyn ContainerGroups {
        &*self.groups
    }

    fn deployments(&self) -> &dyn Deployments {
        &self.deployments
    }

    fn cron_jobs(&self) -> &dyn CronJobs {
        match &self.chronos {
            Some(c) => c,
            None => &self.cron_jobs,
        }
    }

    async fn shutdown(&self) -> Result<()> {
        // The engines first, so that no run or replica starts while the framework lets go.
        // The subscription is dropped, not torn down: the tasks keep running and the next
        // tars process on the same state fails over to this framework.
        self.cron_jobs.shutdown().await;
        self.deployments.shutdown().await;
        self.stop().await;
        Ok(())
    }
}

impl Drop for MesosBackend {
    fn drop(&mut self) {
        if let Some(h) = self
            .driver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            h.abort();
        }
    }
}
