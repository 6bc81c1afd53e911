//! tars never leaves its configured namespace: a tars instance (an id of its own) given a
//! namespace creates a group, a Deployment of two replicas and a CronJob with a manual run
//! there; then every kind of object tars makes (pods, ReplicaSets, Deployments, Jobs, CronJobs,
//! Services, Secrets, ConfigMaps) is listed across the whole cluster by the instance's label,
//! and each one must be in that namespace, none cluster-wide (no namespace carries the label).
//! The kinds tars is known to make must each be found there, so the check cannot pass empty.
//!
//! Runs only when `TARS_K8S_KUBECONFIG` names a cluster (scripts/test starts one); otherwise it
//! is reported as ignored (not run), never as passed.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client};
use tars_api::api::{ApplyOptions, DeleteOptions};
use tars_api::conditions::is_deployment_complete;
use tars_api::deployment::{DeploymentSpec, Strategy};
use tars_api::group::GroupTemplate;
use tars_api::{
    Backend, Container, ContainerGroup, ContainerGroupSpec, CronJob, CronJobSpec, Deployment,
    RestartPolicy,
};
use tars_backend_k8s::{K8sBackend, K8sConfig};

mod common;
use common::{client, create_namespace};

type Res<T> = Result<T, String>;

fn spec() -> ContainerGroupSpec {
    ContainerGroupSpec::new(vec![Container::new("main", "busybox", &["sleep", "3600"])])
}

/// The kinds listed across the cluster (group/version, kind, plural), and whether tars makes
/// one in this test (then at least one must be found).
const KINDS: [(&str, &str, &str, bool); 8] = [
    ("v1", "Pod", "pods", true),
    ("apps/v1", "ReplicaSet", "replicasets", true),
    ("apps/v1", "Deployment", "deployments", true),
    ("batch/v1", "Job", "jobs", true),
    ("batch/v1", "CronJob", "cronjobs", true),
    ("v1", "Service", "services", false),
    ("v1", "Secret", "secrets", false),
    ("v1", "ConfigMap", "configmaps", false),
];

/// The API of `plural` in `group_version` across all namespaces; CronJobs in `batch/v1beta1`
/// where the server has no `batch/v1` ones (before Kubernetes 1.21).
async fn all_of(
    client: &Client,
    group_version: &str,
    kind: &str,
    plural: &str,
) -> Res<Api<DynamicObject>> {
    let mut version = group_version.to_owned();
    if plural == "cronjobs" {
        let v1 = client
            .list_api_group_resources("batch/v1")
            .await
            .map_err(|e| e.to_string())?;
        if !v1.resources.iter().any(|r| r.name == "cronjobs") {
            version = "batch/v1beta1".to_owned();
        }
    }
    let gvk = match version.split_once('/') {
        Some((group, v)) => GroupVersionKind::gvk(group, v, kind),
        None => GroupVersionKind::gvk("", &version, kind),
    };
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    Ok(Api::all_with(client.clone(), &resource))
}

async fn exercise(backend: &K8sBackend) -> Res<()> {
    backend
        .container_groups()
        .apply(
            &ContainerGroup::new("scope-group", spec()),
            ApplyOptions::default(),
        )
        .await
        .map_err(|e| format!("group: {e}"))?;
    let deployment = Deployment::new(
        "scope-web",
        DeploymentSpec {
            replicas: 2,
            template: GroupTemplate {
                labels: [("app".to_owned(), "scope-web".to_owned())].into(),
                annotations: Default::default(),
                spec: spec(),
            },
            strategy: Strategy::default(),
            min_ready: Duration::ZERO,
            progress_deadline: None,
            auto_rollback: false,
            paused: false,
            revision_history_limit: 3,
        },
    );
    backend
        .deployments()
        .apply(&deployment, ApplyOptions::default())
        .await
        .map_err(|e| format!("deployment: {e}"))?;
    tars_engine::wait::wait_for(
        backend.deployments(),
        "scope-web",
        is_deployment_complete(),
        Duration::from_secs(120),
        |_| {},
    )
    .await
    .map_err(|e| format!("rollout: {e}"))?;
    let mut run = spec();
    run.restart_policy = RestartPolicy::Never;
    backend
        .cron_jobs()
        .apply(
            &CronJob::new("scope-cron", CronJobSpec::new(Some("0 0 1 1 *"), run)),
            ApplyOptions::default(),
        )
        .await
        .map_err(|e| format!("cron job: {e}"))?;
    backend
        .cron_jobs()
        .trigger("scope-cron")
        .await
        .map_err(|e| format!("trigger: {e}"))?;
    Ok(())
}

async fn check(client: &Client, namespace: &str, instance: &str) -> Res<String> {
    let selector = ListParams::default().labels(&format!("tars.dev/instance={instance}"));
    let mut found = BTreeMap::new();
    let mut outside = Vec::new();
    for (version, kind, plural, made) in KINDS {
        let api = all_of(client, version, kind, plural).await?;
        // A run's pod comes a moment after its Job: wait a little for each kind tars makes.
        let mut items = Vec::new();
        for _ in 0..100 {
            items = api
                .list(&selector)
                .await
                .map_err(|e| format!("list {plural}: {e}"))?
                .items;
            if !made || !items.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for o in &items {
            let ns = o.metadata.namespace.as_deref().unwrap_or("");
            if ns != namespace {
                outside.push(format!(
                    "{kind} {ns}/{}",
                    o.metadata.name.as_deref().unwrap_or("?")
                ));
            }
        }
        if made && items.is_empty() {
            return Err(format!(
                "no {kind} of the instance found: the check would be empty"
            ));
        }
        found.insert(kind, items.len());
    }
    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&selector)
        .await
        .map_err(|e| e.to_string())?;
    outside.extend(
        namespaces
            .items
            .iter()
            .map(|n| format!("Namespace {}", n.metadata.name.as_deref().unwrap_or("?"))),
    );
    if outside.is_empty() {
        Ok(format!(
            "{found:?}, all in {namespace}; no namespace labelled"
        ))
    } else {
        Err(format!("outside namespace {namespace}: {outside:?}"))
    }
}

fn run(path: &str, context: Option<String>) -> Res<()> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = client(path, context.clone()).await?;
        let namespace = format!("tars-s-{:08x}", fastrand::u32(..));
        let instance = format!("scope{:08x}", fastrand::u32(..));
        let namespaces = Api::<Namespace>::all(client.clone());
        create_namespace(&client, &namespace, BTreeMap::new()).await?;
        let mut config = K8sConfig::new()
            .kubeconfig(path)
            .namespace(namespace.clone())
            .instance(instance.clone());
        if let Some(c) = context {
            config = config.context(c);
        }
        let result = async {
            let backend = K8sBackend::connect(config)
                .await
                .map_err(|e| e.to_string())?;
            let checked = match exercise(&backend).await {
                Ok(()) => check(&client, &namespace, &instance).await,
                Err(e) => Err(e),
            };
            for name in ["scope-web"] {
                let _ = backend
                    .deployments()
                    .delete(name, DeleteOptions::default())
                    .await;
            }
            let _ = backend.shutdown().await;
            checked
        }
        .await;
        let _ = namespaces
            .delete(&namespace, &DeleteParams::default())
            .await;
        let found = result?;
        eprintln!("objects of the instance: {found}");
        Ok(())
    })
}

fn main() {
    common::run_on_cluster("every_object_tars_makes_is_in_its_namespace", run)
}
