//! The conformance suite against a real Kubernetes cluster: the `k8s` column of the matrix.
//!
//! The cluster is the one `TARS_K8S_KUBECONFIG` names (with `TARS_K8S_CONTEXT`, else its
//! current context); `scripts/test` starts a local Kubernetes 1.20 for it. Without the variable
//! every case is ignored and the matrix reports the column as having no results. Each case runs
//! in a namespace of its own, created here and deleted afterwards, so any cluster will do.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Container, Namespace, Pod, PodSpec, Secret};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, PostParams,
};
use kube::{Api, Client};
use tars_api::Backend;
use tars_api::layer::{CallCounts, CountCalls, Layered, Validate};
use tars_backend_k8s::{K8sBackend, K8sConfig};
use tars_conformance::{Target, harness};

mod common;
use common::{client, create_namespace};

const INSTANCE: &str = "conformance";
const KUBECONFIG_ENV: &str = "TARS_K8S_KUBECONFIG";
const CONTEXT_ENV: &str = "TARS_K8S_CONTEXT";
const HOLLOW_ENV: &str = "TARS_K8S_HOLLOW";

/// One tars instance: the raw backend and the stack a user gets.
struct Instance {
    raw: Arc<K8sBackend>,
    backend: Arc<dyn Backend>,
    calls: CallCounts,
}

impl Instance {
    async fn open(config: K8sConfig) -> Result<Self, String> {
        let raw = Arc::new(
            K8sBackend::connect(config)
                .await
                .map_err(|e| e.to_string())?,
        );
        let counter = CountCalls::new();
        let calls = counter.counts();
        let counted: Arc<dyn Backend> = Arc::new(Layered::new(raw.clone(), counter));
        let backend: Arc<dyn Backend> = Arc::new(Layered::new(counted, Validate));
        Ok(Instance {
            raw,
            backend,
            calls,
        })
    }
}

struct K8sTarget {
    client: Client,
    namespace: String,
    config: K8sConfig,
    current: Mutex<Option<Instance>>,
}

/// Why programs do not run on the cluster's nodes, when `TARS_K8S_HOLLOW` says its nodes are
/// kubemark hollow nodes (as on the cluster `scripts/test` starts).
fn hollow() -> Option<String> {
    std::env::var_os(HOLLOW_ENV).map(|_| {
        "the test cluster's node is a kubemark hollow node: pods are scheduled and reported \
         running, but no program runs (no logs, exits or probes)"
            .to_owned()
    })
}

fn kubeconfig() -> Result<(String, Option<String>), String> {
    let path = std::env::var(KUBECONFIG_ENV).map_err(|_| {
        format!(
            "no Kubernetes cluster: set {KUBECONFIG_ENV} (and optionally {CONTEXT_ENV}); \
             scripts/test starts a local one"
        )
    })?;
    Ok((path, std::env::var(CONTEXT_ENV).ok()))
}

impl K8sTarget {
    async fn make() -> Result<Box<dyn Target>, String> {
        let (path, context) = kubeconfig()?;
        let client = client(&path, context.clone()).await?;
        let namespace = format!("tars-c-{:08x}", fastrand::u32(..));
        create_namespace(
            &client,
            &namespace,
            BTreeMap::from([("tars.dev/conformance".to_owned(), "true".to_owned())]),
        )
        .await?;
        let mut config = K8sConfig::new()
            .kubeconfig(path)
            .namespace(namespace.clone())
            .instance(INSTANCE);
        if let Some(c) = context {
            config = config.context(c);
        }
        let current = Mutex::new(Some(Instance::open(config.clone()).await?));
        Ok(Box::new(K8sTarget {
            client,
            namespace,
            config,
            current,
        }))
    }

    fn with<T>(&self, f: impl FnOnce(&Instance) -> T) -> T {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        f(current.as_ref().expect("no instance: a restart failed"))
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The API of `kind`'s Kubernetes object in the case's namespace, and the object a foreign
    /// owner would make of it named `name` (no tars label): a Deployment of one busybox replica,
    /// a suspended yearly CronJob (`batch/v1`, or `batch/v1beta1` before Kubernetes 1.21).
    async fn foreign(
        &self,
        kind: tars_api::Kind,
        name: &str,
    ) -> Result<(Api<DynamicObject>, serde_json::Value), String> {
        let pod = serde_json::json!({
            "metadata": {"labels": {"app": name}},
            "spec": {
                "restartPolicy": if kind == tars_api::Kind::CronJob { "Never" } else { "Always" },
                "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}],
            },
        });
        let (version, kind_name, spec) = match kind {
            tars_api::Kind::Deployment => (
                "apps/v1".to_owned(),
                "Deployment",
                serde_json::json!({
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": name}},
                    "template": pod,
                }),
            ),
            tars_api::Kind::CronJob => {
                let v1 = self
                    .client
                    .list_api_group_resources("batch/v1")
                    .await
                    .map_err(|e| e.to_string())?;
                let version = if v1.resources.iter().any(|r| r.name == "cronjobs") {
                    "batch/v1"
                } else {
                    "batch/v1beta1"
                };
                (
                    version.to_owned(),
                    "CronJob",
                    serde_json::json!({
                        "schedule": "0 0 1 1 *",
                        "suspend": true,
                        "jobTemplate": {"spec": {"template": pod}},
                    }),
                )
            }
            other => return Err(format!("no foreign {other} here")),
        };
        let gvk = match version.split_once('/') {
            Some((group, v)) => GroupVersionKind::gvk(group, v, kind_name),
            None => GroupVersionKind::gvk("", &version, kind_name),
        };
        let resource = ApiResource::from_gvk(&gvk);
        let object = serde_json::json!({
            "apiVersion": version,
            "kind": kind_name,
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": spec,
        });
        Ok((
            Api::namespaced_with(self.client.clone(), &self.namespace, &resource),
            object,
        ))
    }
}

#[async_trait]
impl Target for K8sTarget {
    fn column(&self) -> &str {
        "k8s"
    }

    fn backend(&self) -> Arc<dyn Backend> {
        self.with(|i| i.backend.clone())
    }

    fn calls(&self) -> CallCounts {
        self.with(|i| i.calls.clone())
    }

    async fn leftovers(&self, name: &str) -> Result<Vec<String>, String> {
        let pods = self
            .pods()
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let prefix = format!("{name}-");
        Ok(pods
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .filter(|n| n == name || n.starts_with(&prefix))
            .map(|n| format!("pod {n}"))
            .collect())
    }

    async fn plant_foreign_group(&self, name: &str) -> Result<(), String> {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "main".into(),
                    image: Some("busybox".into()),
                    command: Some(vec!["sleep".into(), "3600".into()]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn foreign_objects(&self, kind: tars_api::Kind) -> Result<(), String> {
        match kind {
            tars_api::Kind::Deployment | tars_api::Kind::CronJob => Ok(()),
            other => Err(format!("no foreign {other} here")),
        }
    }

    async fn plant_foreign_object(&self, kind: tars_api::Kind, name: &str) -> Result<(), String> {
        let (api, object) = self.foreign(kind, name).await?;
        let object: DynamicObject = serde_json::from_value(object).map_err(|e| e.to_string())?;
        api.create(&PostParams::default(), &object)
            .await
            .map(drop)
            .map_err(|e| format!("create the foreign {kind}: {e}"))
    }

    async fn foreign_object_intact(&self, kind: tars_api::Kind, name: &str) -> Result<(), String> {
        let (api, planted) = self.foreign(kind, name).await?;
        let now = api
            .get(name)
            .await
            .map_err(|e| format!("the foreign {kind} is gone: {e}"))?;
        let labels = now.metadata.labels.clone().unwrap_or_default();
        if labels != BTreeMap::from([("app".to_owned(), name.to_owned())]) {
            return Err(format!(
                "the foreign {kind}'s labels were changed: {labels:?}"
            ));
        }
        // What was planted is still what it asks for (the server adds defaults around it).
        let spec = &now.data["spec"];
        let same = match kind {
            tars_api::Kind::Deployment => {
                spec["replicas"] == planted["spec"]["replicas"]
                    && spec["template"]["spec"]["containers"][0]["command"]
                        == planted["spec"]["template"]["spec"]["containers"][0]["command"]
            }
            _ => {
                spec["schedule"] == planted["spec"]["schedule"]
                    && spec["suspend"] == planted["spec"]["suspend"]
            }
        };
        if same {
            Ok(())
        } else {
            Err(format!("the foreign {kind} was changed: {spec}"))
        }
    }

    fn endpoints_reachable(&self) -> Result<(), String> {
        match hollow() {
            Some(why) => Err(why),
            None => Err("pod addresses are not routable from the test process".into()),
        }
    }

    fn programs_run(&self) -> Result<(), String> {
        hollow().map_or(Ok(()), Err)
    }

    async fn provide_secret(&self, name: &str, key: &str, value: &str) -> Result<(), String> {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            string_data: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
            ..Default::default()
        };
        Api::<Secret>::namespaced(self.client.clone(), &self.namespace)
            .create(&PostParams::default(), &secret)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn restart(&self) -> Result<(), String> {
        self.restart_after(Duration::ZERO).await
    }

    async fn restart_after(&self, down: Duration) -> Result<(), String> {
        let old = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or("no instance to restart")?;
        let _ = old.raw.shutdown().await;
        drop(old);
        tokio::time::sleep(down).await;
        let fresh = Instance::open(self.config.clone()).await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh);
        Ok(())
    }

    async fn close(&self) {
        let _ = self.backend().shutdown().await;
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.namespace, &DeleteParams::default())
            .await;
    }
}

fn main() {
    harness::run_with_engine("k8s", kubeconfig().map(drop), K8sTarget::make)
}
