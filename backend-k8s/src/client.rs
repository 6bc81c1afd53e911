//! The wire: a kube-rs client for the configured context, what the server speaks, and the
//! translation of kube-rs errors into tars' errors.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta as K8sMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
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
    let mut kube_config = kube_config;
    if config.insecure_skip_tls_verify {
        tracing::warn!(
            backend = BACKEND,
            server = %kube_config.cluster_url,
            "TLS verification is OFF (insecure_skip_tls_verify_for_test_clusters): any server \
             certificate is accepted"
        );
        kube_config.accept_invalid_certs = true;
    } else if kube_config.accept_invalid_certs {
        tracing::warn!(
            backend = BACKEND,
            server = %kube_config.cluster_url,
            "TLS verification is OFF: the kubeconfig sets insecure-skip-tls-verify (honoured, as \
             kubectl does): any server certificate is accepted"
        );
    }
    let namespace = config
        .namespace
        .clone()
        .unwrap_or_else(|| kube_config.default_namespace.clone());
    // Every request the client sends is counted (`tars_engine::metrics::BACKEND_REQUESTS_TOTAL`);
    // a watch counts once per opening.
    let count = tower::util::MapRequestLayer::new(|req: http::Request<kube::client::Body>| {
        tars_engine::metrics::count_request(BACKEND, req.method().as_str());
        req
    });
    let client = kube::client::ClientBuilder::try_from(kube_config)
        .map_err(|e| Error::backend(BACKEND, e))?
        .with_layer(&count)
        .build();
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

/// What [`apply_object`] or [`create_object`] did.
pub(crate) enum Sent<K> {
    /// The object as the server stored it (or, in a dry run, would store it).
    Done(K),
    /// Asked to create, but an object of that name exists already (the watch had not shown
    /// it yet): nothing was changed; the caller decides whose it is.
    Exists,
}

/// Server-side apply of `body` as `name`, with the field manager `tars`.
///
/// A create is first tried as a server-side dry run, which shows whether the name is taken (a
/// dry-run create has no resource version): an object that appeared since the watch last
/// reported is never taken over. An update is checked by a dry run too when `check` is set.
pub(crate) async fn apply_object<K>(
    api: &Api<K>,
    name: &str,
    body: &K,
    kind: Kind,
    creating: bool,
    dry_run: bool,
    check: bool,
) -> Result<Sent<K>>
where
    K: Resource + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    if creating || dry_run || check {
        params.dry_run = true;
        let checked = match api.patch(name, &params, &Patch::Apply(body)).await {
            Ok(checked) => checked,
            // An object of that name that cannot take this body (a pod's spec is immutable)
            // is there already: the caller decides whose it is.
            Err(kube::Error::Api(s)) if creating && s.is_invalid() => {
                return match api.get_opt(name).await {
                    Ok(Some(_)) => Ok(Sent::Exists),
                    Ok(None) => Err(wire(kube::Error::Api(s), kind, name)),
                    Err(e) => Err(wire(e, kind, name)),
                };
            }
            Err(e) => return Err(wire(e, kind, name)),
        };
        if creating
            && checked
                .meta()
                .resource_version
                .as_deref()
                .is_some_and(|v| !v.is_empty())
        {
            return Ok(Sent::Exists);
        }
        if dry_run {
            return Ok(Sent::Done(checked));
        }
        params.dry_run = false;
    }
    let sent = api
        .patch(name, &params, &Patch::Apply(body))
        .await
        .map_err(|e| wire(e, kind, name))?;
    Ok(Sent::Done(sent))
}

/// Creates `body` as `name` with one POST (field manager `tars`). A name that is taken,
/// whoever holds it, is refused by the server (AlreadyExists) and comes back as
/// [`Sent::Exists`]: nothing is taken over, and no dry run is needed first to know it.
///
/// The object's fields are then managed by an update, not an apply: change them with
/// [`patch_metadata`] (a merge patch), whose removals do not depend on field ownership.
pub(crate) async fn create_object<K>(
    api: &Api<K>,
    name: &str,
    body: &K,
    kind: Kind,
    dry_run: bool,
) -> Result<Sent<K>>
where
    K: Resource + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    let params = PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    };
    match api.create(&params, body).await {
        Ok(created) => Ok(Sent::Done(created)),
        Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(Sent::Exists),
        Err(e) => Err(wire(e, kind, name)),
    }
}

/// Sets the labels and annotations of object `name` from `current` to `desired` with one JSON
/// merge patch ([`crate::convert::metadata_patch`]); checked first by a server-side dry run
/// when `check` is set.
pub(crate) async fn patch_metadata<K>(
    api: &Api<K>,
    name: &str,
    current: &K8sMeta,
    desired: &K8sMeta,
    kind: Kind,
    dry_run: bool,
    check: bool,
) -> Result<K>
where
    K: Resource + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    let patch = crate::convert::metadata_patch(current, desired);
    let mut params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    if check || dry_run {
        params.dry_run = true;
        let checked = api
            .patch(name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| wire(e, kind, name))?;
        if dry_run {
            return Ok(checked);
        }
        params.dry_run = false;
    }
    api.patch(name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|e| wire(e, kind, name))
}

/// How long [`wait_gone`] waits for the watch before it reads the object again.
pub(crate) const GONE_BACKSTOP: std::time::Duration = std::time::Duration::from_secs(5);
/// The shortest time between two reads of [`wait_gone`].
pub(crate) const GONE_MIN_GAP: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits until no object named `name` exists (one being deleted is finished by Kubernetes),
/// for at most `limit`: the object is read once, then again each time `mirror` (the kind's
/// watch) reports it removed, or after [`GONE_BACKSTOP`] without a word from the watch (it
/// may be reconnecting), and never twice within [`GONE_MIN_GAP`].
pub(crate) async fn wait_gone<K, S: tars_api::object::Spec>(
    api: &Api<K>,
    mirror: &crate::mirror::Mirror<S>,
    name: &str,
    kind: Kind,
    limit: std::time::Duration,
) -> Result<()>
where
    K: Resource + DeserializeOwned + Clone + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let read_at = tokio::time::Instant::now();
        match api.get_opt(name).await {
            Ok(None) => return Ok(()),
            Ok(Some(_)) if tokio::time::Instant::now() < deadline => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                mirror.wait_absent(name, GONE_BACKSTOP.min(left)).await;
                tokio::time::sleep_until(read_at + GONE_MIN_GAP).await;
            }
            Ok(Some(_)) => {
                return Err(Error::Timeout {
                    operation: format!("deletion of {kind} {name}"),
                    after: limit,
                });
            }
            Err(e) => return Err(wire(e, kind, name)),
        }
    }
}
