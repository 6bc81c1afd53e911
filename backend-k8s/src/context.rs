//! What every API of the backend shares: the client, the namespace's typed handles, the
//! ownership stamp, what the server speaks, and the watch-fed mirrors.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment as K8sDeployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::DynamicObject;
use kube::{Api, Client};
use tars_api::{ContainerGroupSpec, CronJobSpec, DeploymentSpec};

use crate::convert::{ServerInfo, Stamp};
use crate::mirror::Mirror;

pub(crate) struct Context {
    #[allow(dead_code, reason = "kept for the APIs that build their handles later")]
    pub(crate) client: Client,
    pub(crate) stamp: Stamp,
    pub(crate) server: ServerInfo,
    /// Check every object with a server-side dry run before applying it.
    pub(crate) check_with_dry_run: bool,
    pub(crate) pods: Api<Pod>,
    pub(crate) groups: Arc<Mirror<ContainerGroupSpec>>,
    pub(crate) deployments_api: Api<K8sDeployment>,
    pub(crate) replica_sets: Api<ReplicaSet>,
    pub(crate) deployments: Arc<Mirror<DeploymentSpec>>,
    /// CronJobs, `batch/v1` or `batch/v1beta1` as the server speaks.
    pub(crate) cron_api: Api<DynamicObject>,
    /// The Jobs of cron jobs (`batch/v1` on every server).
    pub(crate) jobs: Api<Job>,
    pub(crate) cron_jobs: Arc<Mirror<CronJobSpec>>,
}

impl Context {
    /// Ends the watches.
    pub(crate) fn stop(&self) {
        self.groups.stop();
        self.deployments.stop();
        self.cron_jobs.stop();
    }
}
