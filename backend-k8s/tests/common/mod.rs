//! What the k8s tests share: a client of the test cluster, and a namespace of their own,
//! ready for pods.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

/// A client of the cluster of kubeconfig `path`, in `context` (else its current one).
pub(crate) async fn client(path: &str, context: Option<String>) -> Result<Client, String> {
    let kc = Kubeconfig::read_from(path).map_err(|e| format!("{path}: {e}"))?;
    let options = KubeConfigOptions {
        context,
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| e.to_string())?;
    Client::try_from(config).map_err(|e| e.to_string())
}

/// Creates namespace `name` with `labels` and waits (10 s at most) for its default service
/// account, which a controller creates and pods need.
pub(crate) async fn create_namespace(
    client: &Client,
    name: &str,
    labels: BTreeMap<String, String>,
) -> Result<(), String> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: (!labels.is_empty()).then_some(labels),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .map_err(|e| format!("create namespace {name}: {e}"))?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), name);
    for _ in 0..100 {
        if accounts.get_opt("default").await.ok().flatten().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
