//! # tars-backend-k8s
//!
//! The Kubernetes backend, through kube-rs: a ContainerGroup is a Pod, a Deployment an
//! apps/v1 Deployment, a CronJob a CronJob (batch/v1, or batch/v1beta1 on servers before
//! 1.21), so that Kubernetes' own controllers do the work. Deployments and CronJobs are sent
//! by server-side apply with the field manager `tars`, each first checked by a server-side dry
//! run; a pod is created by one POST (which the server refuses for a taken name) and its labels
//! and annotations changed by a merge patch. Every object carries
//! the ownership labels of [`tars_api::meta`]: tars refuses with `Error::Conflict` to change or
//! delete an object of the same name that this instance does not own. Which names exist and
//! who owns them comes from one watch per kind, so the check costs no round trip.
//!
//! ```no_run
//! # async fn demo() -> tars_api::Result<()> {
//! use tars_api::Backend;
//! let backend = tars_backend_k8s::K8sBackend::connect(
//!     tars_backend_k8s::K8sConfig::new().context("kind-dev").namespace("apps"),
//! ).await?;
//! println!("{:?}", backend.capabilities().await?);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod client;
mod config;
mod context;
mod convert;
mod cron_jobs;
mod deployments;
mod groups;
mod mirror;

use std::sync::Arc;

use async_trait::async_trait;
use kube::Api;
use tars_api::capability::{Capabilities, Feature, Support};
use tars_api::{Backend, ContainerGroups, CronJobs, Deployments, Result};

pub use config::{DEFAULT_INSTANCE, K8sConfig};

use context::Context;
use convert::Stamp;
use cron_jobs::K8sCronJobs;
use deployments::K8sDeployments;
use groups::K8sGroups;
use mirror::Mirror;

/// The backend's name in errors and metrics.
pub(crate) const BACKEND: &str = "k8s";

/// A connection to a Kubernetes cluster, one namespace, one tars instance.
pub struct K8sBackend {
    ctx: Arc<Context>,
    groups: K8sGroups,
    deployments: Arc<K8sDeployments>,
    cron_jobs: K8sCronJobs,
}

impl std::fmt::Debug for K8sBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K8sBackend")
            .field("namespace", &self.ctx.stamp.namespace)
            .field("instance", &self.ctx.stamp.instance)
            .field("server", &self.ctx.server)
            .finish()
    }
}

impl K8sBackend {
    /// Connects: reads the kubeconfig (or the in-cluster account), asks the server its version
    /// and API groups, and starts the watches of the namespace.
    pub async fn connect(config: K8sConfig) -> Result<Self> {
        let (client, namespace) = client::connect(&config).await?;
        let server = client::discover(&client).await?;
        let stamp = Stamp {
            instance: config.instance_id().to_owned(),
            namespace: namespace.clone(),
        };
        let pods = Api::namespaced(client.clone(), &namespace);
        let groups = Mirror::start(pods.clone(), stamp.clone(), convert::group::group_from_pod);
        let deployments_api = Api::namespaced(client.clone(), &namespace);
        let replica_sets = Api::namespaced(client.clone(), &namespace);
        let deployments = Mirror::start(deployments_api.clone(), stamp.clone(), |d| {
            convert::deployment::deployment_from_k8s(d, &[])
        });
        let cron_api = cron_jobs::api(&client, &namespace, &server);
        let jobs = Api::namespaced(client.clone(), &namespace);
        let cron_jobs = Mirror::start(
            cron_api.clone(),
            stamp.clone(),
            cron_jobs::cron_job_from_dynamic,
        );
        let ctx = Arc::new(Context {
            client,
            stamp,
            server,
            check_with_dry_run: !config.skip_dry_run,
            pods,
            groups,
            deployments_api,
            replica_sets,
            deployments,
            cron_api,
            jobs,
            cron_jobs,
        });
        tracing::info!(
            backend = BACKEND,
            namespace,
            server = ?ctx.server.version,
            "connected"
        );
        Ok(K8sBackend {
            groups: K8sGroups { ctx: ctx.clone() },
            deployments: K8sDeployments::new(ctx.clone()),
            cron_jobs: K8sCronJobs { ctx: ctx.clone() },
            ctx,
        })
    }
}

#[async_trait]
impl Backend for K8sBackend {
    fn name(&self) -> &str {
        BACKEND
    }

    fn instance(&self) -> &str {
        &self.ctx.stamp.instance
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(capabilities(&self.ctx.server))
    }

    fn container_groups(&self) -> &dyn ContainerGroups {
        &self.groups
    }

    fn deployments(&self) -> &dyn Deployments {
        &*self.deployments
    }

    fn cron_jobs(&self) -> &dyn CronJobs {
        &self.cron_jobs
    }

    async fn shutdown(&self) -> Result<()> {
        self.deployments.stop();
        self.ctx.stop();
        Ok(())
    }
}

/// What the Kubernetes backend supports against a server speaking `server`.
pub(crate) fn capabilities(server: &convert::ServerInfo) -> Capabilities {
    use Feature::*;
    Capabilities::new()
        .native(&[
            ContainerGroups,
            Watch,
            DryRun,
            Selectors,
            Paging,
            Logs,
            ImageEntrypoint,
            Secrets,
            ReadinessChecks,
            LivenessChecks,
            PlacementConstraints,
            Spread,
            CpuLimits,
            MemoryLimits,
            RestartPolicy,
        ])
        .native(&[Deployments, RollingUpdate, Rollback, PauseResume, Scale])
        .with(
            Batches,
            Support::Unsupported(
                "Kubernetes Deployments roll by maxSurge/maxUnavailable; batch patterns are \
                 not supported on this backend"
                    .into(),
            ),
        )
        .native(&[CronJobs, Concurrency, Retries, Trigger])
        .with(
            Gates,
            Support::Unsupported("gates belong to batch patterns, which this backend lacks".into()),
        )
        .with(AutoRollback, Support::Emulated)
        .with(
            TimeZones,
            if server.cron_time_zone() {
                Support::Native
            } else {
                Support::Unsupported(format!(
                    "this server ({}.{}) has no CronJob timeZone field (Kubernetes 1.25+)",
                    server.version.0, server.version.1
                ))
            },
        )
        .with(
            SecondsSchedules,
            Support::Unsupported(
                "Kubernetes CronJobs fire at most once a minute, on the minute".into(),
            ),
        )
        .with(
            Iso8601Schedules,
            // Translated to cron when a cron expression fires at exactly the same instants.
            Support::Emulated,
        )
        .with(
            Parents,
            Support::Unsupported("Kubernetes CronJobs have no dependencies between jobs".into()),
        )
}
