//! The secrets of an OpenStack configuration — a password or an application credential secret,
//! from a `clouds.yaml` or from `OS_*` variables — never appear in what tars shows: the
//! configuration's `Debug`, the errors of a failed authentication (Keystone on a closed
//! loopback port: no cloud needed), errors of a `clouds.yaml` tars cannot use, or the logs at
//! TRACE level (tars' and, through `log`, those of osauth and reqwest).

use tars_backend_openstack::{OpenStackBackend, OpenStackConfig};
use tars_conformance::shown::{Captured, closed_port};
use tracing_subscriber::util::SubscriberInitExt;

const PASSWORD: &str = "tars-sentinel-password-6e0b2c";
const APP_SECRET: &str = "tars-sentinel-appcred-91d4fa";
/// A password YAML reads as a number.
const NUMERIC_PASSWORD: &str = "6021409173";

fn clouds_yaml(port: u16) -> String {
    format!(
        "clouds:
  pw:
    auth:
      auth_url: http://127.0.0.1:{port}/v3
      username: tars
      password: {PASSWORD}
      project_name: tars
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://127.0.0.1:{port}/v3
      application_credential_id: 6cb5fa6a13184e6fab65ba2108adf50c
      application_credential_secret: {APP_SECRET}
"
    )
}

/// `Debug` of `config`, then the error of connecting with it to a Keystone that does not answer.
async fn debug_and_error(config: OpenStackConfig, shown: &mut Vec<(String, String)>, what: &str) {
    shown.push((format!("{what}: Debug"), format!("{config:?}")));
    let err = OpenStackBackend::connect(config)
        .await
        .expect_err("nothing listens there");
    let text = format!("{err} {err:?}");
    assert!(
        err.is_retryable(),
        "{what}: an unreachable Keystone is Unavailable: {text}"
    );
    shown.push((format!("{what}: error"), text));
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_and_application_credential_secrets_never_reach_debug_errors_or_logs() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish()
        // Also forwards `log` records (osauth logs through `log`).
        .try_init()
        .expect("the only subscriber");

    let port = closed_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clouds.yaml");
    std::fs::write(&path, clouds_yaml(port)).expect("write");
    let mut shown = Vec::new();

    for cloud in ["pw", "appcred"] {
        let config = OpenStackConfig::from_clouds_yaml(&path, cloud).expect("config");
        debug_and_error(config, &mut shown, &format!("clouds.yaml {cloud}")).await;
    }
    let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let auth_url = format!("http://127.0.0.1:{port}/v3");
    let config = OpenStackConfig::from_env_vars(vars(&[
        ("OS_AUTH_URL", &auth_url),
        ("OS_USERNAME", "tars"),
        ("OS_PASSWORD", PASSWORD),
        ("OS_PROJECT_NAME", "tars"),
    ]))
    .expect("config");
    debug_and_error(config, &mut shown, "OS_PASSWORD").await;
    let config = OpenStackConfig::from_env_vars(vars(&[
        ("OS_AUTH_URL", &auth_url),
        ("OS_AUTH_TYPE", "v3applicationcredential"),
        (
            "OS_APPLICATION_CREDENTIAL_ID",
            "6cb5fa6a13184e6fab65ba2108adf50c",
        ),
        ("OS_APPLICATION_CREDENTIAL_SECRET", APP_SECRET),
    ]))
    .expect("config");
    debug_and_error(config, &mut shown, "OS_APPLICATION_CREDENTIAL_SECRET").await;

    // clouds.yaml files tars refuses: their errors.
    for (what, yaml) in [
        // A secret YAML reads as a number or a list rather than a string.
        (
            "numeric password",
            format!(
                "clouds: {{c: {{auth: {{auth_url: 'http://h/v3', username: u, password: {NUMERIC_PASSWORD}}}}}}}"
            ),
        ),
        (
            "password list",
            format!(
                "clouds: {{c: {{auth: {{auth_url: 'http://h/v3', username: u, password: [{PASSWORD}]}}}}}}"
            ),
        ),
        // Malformed YAML right after the secret.
        (
            "malformed",
            format!("clouds:\n  c:\n    auth:\n      password: {PASSWORD}\n     - x: [\n"),
        ),
    ] {
        let err = OpenStackConfig::from_clouds_yaml_str(&yaml, "c").map(|c| c.check());
        let text = format!("{err:?}");
        assert!(
            matches!(err, Err(_) | Ok(Err(_))),
            "{what}: refused: {text}"
        );
        shown.push((format!("{what}: error"), text));
    }

    let logs = logs.text();
    assert!(
        logs.contains(&port.to_string()),
        "the logs show the calls to Keystone: {logs}"
    );
    shown.push(("logs".to_owned(), logs));
    for (what, text) in &shown {
        for secret in [PASSWORD, APP_SECRET, NUMERIC_PASSWORD] {
            assert!(
                !text.contains(secret),
                "a secret leaked into the {what}: {text}"
            );
        }
    }
}
