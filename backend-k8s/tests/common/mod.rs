//! What the k8s tests share: a client of the test cluster, a namespace of their own, ready for
//! pods, and (for the single-test binaries) the test that runs only when there is a cluster.

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

/// The variable naming the test cluster's kubeconfig (scripts/test starts a cluster).
pub(crate) const KUBECONFIG_ENV: &str = "TARS_K8S_KUBECONFIG";
/// The variable naming the kubeconfig's context to use (else its current one).
pub(crate) const CONTEXT_ENV: &str = "TARS_K8S_CONTEXT";

/// Runs test `name` of a single-test binary (`harness = false`): `run(kubeconfig, context)` when
/// `TARS_K8S_KUBECONFIG` names a cluster, else the test is reported as ignored (not run), never
/// as passed. Exits with the result.
#[allow(dead_code)] // the conformance and fault binaries have harnesses of their own
pub(crate) fn run_on_cluster(
    name: &'static str,
    run: fn(&str, Option<String>) -> Result<(), String>,
) -> ! {
    use libtest_mimic::{Arguments, Failed, Trial};
    let args = Arguments::from_args();
    let trial = match std::env::var(KUBECONFIG_ENV) {
        Ok(path) => {
            let context = std::env::var(CONTEXT_ENV).ok();
            Trial::test(name, move || run(&path, context).map_err(Failed::from))
        }
        Err(_) => {
            eprintln!("{KUBECONFIG_ENV} is not set (scripts/test starts a cluster): not run");
            Trial::test(name, || Ok(())).with_ignored_flag(true)
        }
    };
    libtest_mimic::run(&args, vec![trial]).exit()
}
