//! The wire: a kube-rs client for the configured context, what the server speaks, and the
//! translation of kube-rs errors into tars' errors.

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tars_api::meta::Kind;
use tars_api::{Error, Result};

use crate::BACKEND;
use crate::config::K8sConfig;
use crate::convert::ServerInfo;

/// The field manager of every server-side apply.
pub(crate) const FIELD_MANAGER: &str = "tars";

/// A client for the configured cluster and the namespace to use.
pub(crate) async fn connect(config: &K8sConfig) -> Result<(Client, String)> {
    let options = KubeConfigOptions {
        context: config.context.clone(),
        ..Default::default()
    };
    let kube_config = match &config.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| Error::invalid("kubeconfig", format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| Error::invalid("url.context", e.to_string()))?
        }
        None if config.context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| Error::invalid("url.context", e.to_string()))?,
        None => Config::infer().await.map_err(|e| Error::Unavailable {
            backend: BACKEND.to_owned(),
            reason: format!("no kubeconfig and not in a cluster: {e}"),
        })?,
    };
    let namespace = config
        .namespace
        .clone()
        .unwrap_or_else(|| kube_config.default_namespace.clone());
    let client = Client::try_from(kube_config).map_err(|e| Error::backend(BACKEND, e))?;
    Ok((client, namespace))
}

/// Asks the server its version and whether `batch/v1` serves CronJob (once per client).
pub(crate) async fn discover(client: &Client) -> Result<ServerInfo> {
    let info = client
        .apiserver_version()
        .await
        .map_err(|e| wire(e, Kind::ContainerGroup, ""))?;
    let number = |s: &str| -> u32 {
        s.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(0)
    };
    let version = (number(&info.major), number(&info.minor));
    let batch_v1_cron_job = match client.list_api_group_resources("batch/v1").await {
        Ok(list) => list.resources.iter().any(|r| r.name == "cronjobs"),
        Err(kube::Error::Api(s)) if s.is_not_found() => false,
        Err(e) => return Err(wire(e, Kind::CronJob, "")),
    };
    Ok(ServerInfo {
        version,
        batch_v1_cron_job,
    })
}

/// A kube-rs error as a tars error, for an operation on `kind` `name`.
pub(crate) fn wire(e: kube::Error, kind: Kind, name: &str) -> Error {
    match e {
        kube::Error::Api(status) => {
            if status.is_not_found() {
                Error::NotFound {
                    kind,
                    name: name.to_owned(),
                }
            } else if status.is_already_exists() {
                Error::AlreadyExists {
                    kind,
                    name: name.to_owned(),
                }
            } else if status.is_conflict() {
                Error::Conflict {
                    kind,
                    name: name.to_owned(),
                    reason: status.message.clone(),
                }
            } else if status.is_invalid() {
                // tars validates before sending; what the server still refuses is named by
                // its own field path.
                let field = status
                    .details
                    .as_ref()
                    .and_then(|d| d.causes.first())
                    .map(|c| c.field.clone())
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| "spec".to_owned());
                Error::invalid(field, status.message.clone())
            } else if status.code == 429 || status.code >= 500 {
                Error::Unavailable {
                    backend: BACKEND.to_owned(),
                    reason: format!("{} {}: {}", status.code, status.reason, status.message),
                }
            } else {
                Error::backend(BACKEND, kube::Error::Api(status))
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => Error::Unavailable {
            backend: BACKEND.to_owned(),
            reason: e.to_string(),
        },
        other => Error::backend(BACKEND, other),
    }
}
