//! A group whose labels and annotations change (its spec does not) keeps its pod: the pod is
//! changed in place, a label or annotation dropped from the group is removed from the pod, and
//! `get` returns the new ones. backend-k8s creates a pod with a POST and changes its metadata
//! with a merge patch (a server-side apply would not remove what the POST set).
//!
//! Runs only when `TARS_K8S_KUBECONFIG` names a cluster (scripts/test starts one); otherwise it
//! is reported as ignored (not run), never as passed.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::DeleteParams;
use tars_api::api::{ApplyOptions, Change, DeleteOptions};
use tars_api::{Backend, Container, ContainerGroup, ContainerGroupSpec};
use tars_backend_k8s::{K8sBackend, K8sConfig};

mod common;
use common::{client, create_namespace};

type Res<T> = Result<T, String>;

fn group(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> ContainerGroup {
    let spec = ContainerGroupSpec::new(vec![Container::new("main", "busybox", &["sleep", "3600"])]);
    let mut g = ContainerGroup::new("relabelled", spec);
    let map = |kv: &[(&str, &str)]| {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    g.metadata.labels = map(labels);
    g.metadata.annotations = map(annotations);
    g
}

/// The pod as the server has it: its uid, labels and annotations.
async fn pod(pods: &Api<Pod>) -> Res<(String, BTreeMap<String, String>, BTreeMap<String, String>)> {
    let p = pods.get("relabelled").await.map_err(|e| e.to_string())?;
    Ok((
        p.metadata.uid.unwrap_or_default(),
        p.metadata.labels.unwrap_or_default(),
        p.metadata.annotations.unwrap_or_default(),
    ))
}

async fn exercise(backend: &K8sBackend, pods: &Api<Pod>) -> Res<()> {
    let groups = backend.container_groups();
    let first = group(&[("keep", "1"), ("gone", "x")], &[("note", "a")]);
    let created = groups
        .apply(&first, ApplyOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    if !matches!(created.change, Change::Created) {
        return Err(format!("first apply: {:?}", created.change));
    }
    let (uid, labels, annotations) = pod(pods).await?;
    if labels.get("gone").map(String::as_str) != Some("x") || !annotations.contains_key("note") {
        return Err(format!(
            "the pod lacks the group's metadata: {labels:?} {annotations:?}"
        ));
    }

    let second = group(&[("keep", "2")], &[]);
    let updated = groups
        .apply(&second, ApplyOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let Change::Updated { fields } = &updated.change else {
        return Err(format!("second apply: {:?}", updated.change));
    };
    if fields.iter().any(|f| f.starts_with("spec")) {
        return Err(format!("a metadata change named spec fields: {fields:?}"));
    }
    let (uid_after, labels, annotations) = pod(pods).await?;
    if uid_after != uid {
        return Err(format!(
            "the pod was replaced ({uid} → {uid_after}), not changed in place"
        ));
    }
    if labels.get("keep").map(String::as_str) != Some("2") {
        return Err(format!("label keep not changed: {labels:?}"));
    }
    if labels.contains_key("gone") || annotations.contains_key("note") {
        return Err(format!(
            "a label or annotation dropped from the group is still on the pod: {labels:?} {annotations:?}"
        ));
    }
    let got = groups.get("relabelled").await.map_err(|e| e.to_string())?;
    // tars' own ownership labels come with the group's.
    if got.metadata.labels.get("keep").map(String::as_str) != Some("2")
        || got.metadata.labels.contains_key("gone")
        || got.metadata.annotations.contains_key("note")
    {
        return Err(format!(
            "get returned labels {:?} annotations {:?}",
            got.metadata.labels, got.metadata.annotations
        ));
    }
    let again = groups
        .apply(&second, ApplyOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    if !matches!(again.change, Change::Unchanged) {
        return Err(format!("third apply: {:?}", again.change));
    }
    Ok(())
}

fn run(path: &str, context: Option<String>) -> Res<()> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = client(path, context.clone()).await?;
        let namespace = format!("tars-r-{:08x}", fastrand::u32(..));
        create_namespace(&client, &namespace, BTreeMap::new()).await?;
        let mut config = K8sConfig::new()
            .kubeconfig(path)
            .namespace(namespace.clone())
            .instance(format!("relabel{:08x}", fastrand::u32(..)));
        if let Some(c) = context {
            config = config.context(c);
        }
        let result = async {
            let backend = K8sBackend::connect(config)
                .await
                .map_err(|e| e.to_string())?;
            let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
            let checked = exercise(&backend, &pods).await;
            let _ = backend
                .container_groups()
                .delete("relabelled", DeleteOptions::default())
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
    common::run_on_cluster(
        "a_group_relabelled_keeps_its_pod_and_loses_dropped_keys",
        run,
    )
}
