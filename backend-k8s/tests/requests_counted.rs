//! Every HTTP request backend-k8s sends to the apiserver is counted in
//! `tars_backend_requests_total{backend="k8s"}`: creating a group's pod is a POST, and an apply
//! that changes nothing reads the pod and writes nothing.
//!
//! Runs only when `TARS_K8S_KUBECONFIG` names a cluster (scripts/test starts one); otherwise it
//! is reported as ignored (not run), never as passed.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::DeleteParams;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tars_api::api::{ApplyOptions, Change, DeleteOptions};
use tars_api::{Backend, Container, ContainerGroup, ContainerGroupSpec};
use tars_backend_k8s::{K8sBackend, K8sConfig};
use tars_engine::metrics::BACKEND_REQUESTS_TOTAL;

mod common;
use common::{client, create_namespace};

type Res<T> = Result<T, String>;

/// Requests counted since the last call, by method (the recorder's counters start again at 0).
fn requests(snapshotter: &Snapshotter) -> Res<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key().clone();
        if key.name() != BACKEND_REQUESTS_TOTAL {
            continue;
        }
        let label = |k: &str| {
            key.labels()
                .find(|l| l.key() == k)
                .map(|l| l.value().to_owned())
        };
        if label("backend").as_deref() != Some("k8s") {
            return Err(format!("{key:?}: not the k8s backend"));
        }
        let DebugValue::Counter(n) = value else {
            return Err(format!("{key:?} is not a counter"));
        };
        if n > 0 {
            out.insert(label("method").unwrap_or_default(), n);
        }
    }
    Ok(out)
}

async fn exercise(backend: &K8sBackend, snapshotter: &Snapshotter) -> Res<()> {
    let groups = backend.container_groups();
    let group = ContainerGroup::new(
        "counted",
        ContainerGroupSpec::new(vec![Container::new("main", "busybox", &["sleep", "3600"])]),
    );
    requests(snapshotter)?;
    let created = groups
        .apply(&group, ApplyOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    if !matches!(created.change, Change::Created) {
        return Err(format!("first apply: {:?}", created.change));
    }
    let sent = requests(snapshotter)?;
    if sent.get("POST").copied().unwrap_or(0) < 1 || sent.contains_key("DELETE") {
        return Err(format!("creating a pod: {sent:?}, not a POST"));
    }
    let again = groups
        .apply(&group, ApplyOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    if !matches!(again.change, Change::Unchanged) {
        return Err(format!("second apply: {:?}", again.change));
    }
    let sent = requests(snapshotter)?;
    if sent.get("GET").copied().unwrap_or(0) < 1 || sent.keys().any(|m| m != "GET") {
        return Err(format!(
            "an apply that changes nothing should only read: {sent:?}"
        ));
    }
    Ok(())
}

fn run(path: &str, context: Option<String>) -> Res<()> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .map_err(|_| "a metrics recorder is installed already".to_owned())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = client(path, context.clone()).await?;
        let namespace = format!("tars-q-{:08x}", fastrand::u32(..));
        create_namespace(&client, &namespace, BTreeMap::new()).await?;
        let mut config = K8sConfig::new()
            .kubeconfig(path)
            .namespace(namespace.clone())
            .instance(format!("counted{:08x}", fastrand::u32(..)));
        if let Some(c) = context {
            config = config.context(c);
        }
        let result = async {
            let backend = K8sBackend::connect(config)
                .await
                .map_err(|e| e.to_string())?;
            let checked = exercise(&backend, &snapshotter).await;
            let _ = backend
                .container_groups()
                .delete("counted", DeleteOptions::default())
                .await;
            let _ = backend.shutdown().await;
            checked
        }
        .await;
        let _ = Api::<Namespace>::all(client)
            .delete(&namespace, &DeleteParams::default())
            .await;
        result
    })
}

fn main() {
    common::run_on_cluster("the_requests_of_a_pod_are_counted", run)
}
