//! The credentials of the kubeconfig never appear in what tars shows: the configuration's
//! `Debug`, the errors of a failed connection, or the logs.

use std::io::Write;

use tars_backend_k8s::{K8sBackend, K8sConfig};
use tars_conformance::shown::{Captured, closed_port};

const SENTINEL: &str = "tars-sentinel-token-5d1f0c";

/// A kubeconfig for a server that does not answer (a closed port on loopback), with a bearer
/// token that must never be shown.
fn kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let port = closed_port();
    let path = dir.join("kubeconfig");
    let mut f = std::fs::File::create(&path).expect("create");
    write!(
        f,
        "apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:{port}
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    token: {SENTINEL}
contexts:
- name: ctx
  context: {{cluster: c, user: u, namespace: ns}}
current-context: ctx
"
    )
    .expect("write");
    path
}

#[tokio::test]
async fn the_kubeconfig_token_never_reaches_debug_errors_or_logs() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = K8sConfig::new()
        .kubeconfig(kubeconfig(dir.path()))
        .context("ctx")
        .insecure_skip_tls_verify_for_test_clusters();
    let shown = format!("{config:?}");
    let err = K8sBackend::connect(config)
        .await
        .expect_err("nothing listens there");
    let err_text = format!("{err} {err:?}");
    assert!(
        err.is_retryable(),
        "an unreachable server is Unavailable: {err_text}"
    );
    let logs = logs.text();
    assert!(
        logs.contains("TLS verification is OFF"),
        "the opt-out is announced loudly: {logs}"
    );
    for (what, text) in [("Debug", &shown), ("error", &err_text), ("logs", &logs)] {
        assert!(
            !text.contains(SENTINEL),
            "the token leaked into the {what}: {text}"
        );
    }
}
