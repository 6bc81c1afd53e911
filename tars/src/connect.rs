//! `connect(url)`: a backend chosen by configuration alone.

use std::sync::Arc;

use tars_api::layer::{Layered, Validate};
use tars_api::{Backend, Error, Result};
use tars_engine::layer::{Retry, Trace};

use crate::url::BackendUrl;

/// Connects to the backend a URL names (see [`crate::url`]) and returns it behind the standard
/// layers, outermost first: validation (invalid input is refused before any call reaches the
/// engine), tracing spans (`tars_engine::layer::Trace`), and retries of retryable errors on
/// idempotent calls (`tars_engine::layer::Retry`). Add a timeout or a rate limit with
/// [`connect_with`].
///
/// A malformed URL or an unknown scheme is `Error::Invalid`; a scheme whose cargo feature is
/// off in this build says which feature to enable.
pub async fn connect(url: &str) -> Result<Arc<dyn Backend>> {
    connect_with(url, |raw| raw).await
}

/// [`connect`], with `wrap` applied to the raw backend beneath the standard layers (to add a
/// timeout, a rate limit or a call counter, for example).
pub async fn connect_with(
    url: &str,
    wrap: impl FnOnce(Arc<dyn Backend>) -> Arc<dyn Backend>,
) -> Result<Arc<dyn Backend>> {
    let raw = connect_raw(&BackendUrl::parse(url)?).await?;
    let retried: Arc<dyn Backend> = Arc::new(Layered::new(wrap(raw), Retry::default()));
    let traced: Arc<dyn Backend> = Arc::new(Layered::new(retried, Trace));
    Ok(Arc::new(Layered::new(traced, Validate)))
}

async fn connect_raw(url: &BackendUrl) -> Result<Arc<dyn Backend>> {
    match url {
        #[cfg(feature = "local")]
        BackendUrl::Local(u) => {
            let config = tars_backend_local::LocalConfig::from_url(u)?;
            Ok(Arc::new(
                tars_backend_local::LocalBackend::open(config).await?,
            ))
        }
        #[cfg(feature = "k8s")]
        BackendUrl::K8s {
            context,
            namespace,
            state,
            instance,
        } => {
            let mut config = tars_backend_k8s::K8sConfig::new();
            if let Some(c) = context {
                config = config.context(c);
            }
            if let Some(ns) = namespace {
                config = config.namespace(ns);
            }
            if let Some(dir) = state {
                config = config.state_dir(dir);
            }
            if let Some(i) = instance {
                config = config.instance(i);
            }
            Ok(Arc::new(
                tars_backend_k8s::K8sBackend::connect(config).await?,
            ))
        }
        #[cfg(feature = "mesos")]
        BackendUrl::Mesos {
            master,
            state,
            chronos,
            instance,
        } => {
            let mut config = tars_backend_mesos::MesosConfig::new(master.clone());
            if let Some(url) = chronos {
                config = config.chronos(tars_backend_mesos::chronos::ChronosConfig::new(
                    url.as_str().trim_end_matches('/'),
                ));
            }
            if let Some(dir) = state {
                config = config.state_dir(dir);
            }
            if let Some(i) = instance {
                config = config.instance(i);
            }
            Ok(Arc::new(
                tars_backend_mesos::MesosBackend::connect(config).await?,
            ))
        }
        #[cfg(feature = "openstack")]
        BackendUrl::OpenStack {
            cloud,
            clouds,
            region,
            project,
            state,
            instance,
        } => {
            use tars_backend_openstack::OpenStackConfig;
            let mut config = match (cloud, clouds) {
                (Some(cloud), Some(path)) => OpenStackConfig::from_clouds_yaml(path, cloud)?,
                (Some(cloud), None) => OpenStackConfig::from_cloud(cloud)?,
                (None, _) => OpenStackConfig::from_env()?,
            };
            if let Some(r) = region {
                config = config.region(r);
            }
            if let Some(p) = project {
                config = config.project_name(p, "Default");
            }
            if let Some(dir) = state {
                config = config.state_dir(dir);
            }
            if let Some(i) = instance {
                config = config.instance(i);
            }
            Ok(Arc::new(
                tars_backend_openstack::OpenStackBackend::connect(config).await?,
            ))
        }
        #[allow(unreachable_patterns)]
        other => Err(not_built(other.scheme())),
    }
}

fn not_built(scheme: &str) -> Error {
    let built: Vec<&str> = [
        ("local", cfg!(feature = "local")),
        ("k8s", cfg!(feature = "k8s")),
        ("mesos", cfg!(feature = "mesos")),
        ("openstack", cfg!(feature = "openstack")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let available = if built.is_empty() {
        "none".to_owned()
    } else {
        built.join(", ")
    };
    Error::invalid(
        "url.scheme",
        format!(
            "the {scheme} backend is not in this build of tars (built in: {available}); \
             enable the tars crate's `{scheme}` cargo feature"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "openstack"))]
    #[tokio::test]
    async fn a_backend_not_built_in_names_its_feature() {
        let e = connect("openstack://devstack")
            .await
            .err()
            .expect("not built");
        assert_eq!(e.field(), Some("url.scheme"));
        assert!(e.to_string().contains("`openstack` cargo feature"), "{e}");
    }

    #[cfg(feature = "openstack")]
    #[tokio::test]
    async fn openstack_urls_read_the_named_clouds_yaml_before_any_call() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clouds.yaml");
        // No project for a password: refused by the configuration check, before Keystone.
        std::fs::write(
            &path,
            "clouds: {lab: {auth: {auth_url: 'http://127.0.0.1:9/v3', username: u, \
             password: p}}}",
        )
        .expect("write");
        let e = connect(&format!("openstack://lab?clouds={}", path.display()))
            .await
            .err()
            .expect("no project");
        assert_eq!(e.field(), Some("clouds.yaml: clouds.lab: project"), "{e}");
        let e = connect(&format!("openstack://other?clouds={}", path.display()))
            .await
            .err()
            .expect("no such cloud");
        assert_eq!(e.field(), Some("clouds.yaml: clouds.other"), "{e}");
    }

    #[cfg(feature = "mesos")]
    #[tokio::test]
    async fn a_chronos_in_a_mesos_url_serves_the_cron_jobs() {
        use tars_api::api::ListParams;
        // Nothing listens on either port: the URL is taken, and cron jobs go to Chronos.
        let backend = connect("mesos://127.0.0.1:9?chronos=http://127.0.0.1:9")
            .await
            .expect("connects lazily");
        let caps = backend.capabilities().await.expect("capabilities");
        assert!(caps.supports(tars_api::Feature::CronJobs));
        assert!(caps.supports(tars_api::Feature::Parents));
        match backend.cron_jobs().list(&ListParams::all()).await {
            Err(Error::Unavailable { reason, .. }) => {
                assert!(reason.contains("Chronos"), "{reason}")
            }
            other => panic!("expected Chronos unavailable, got {other:?}"),
        }
        backend.shutdown().await.expect("shutdown");
    }

    #[cfg(feature = "local")]
    #[tokio::test]
    async fn local_urls_open_the_embedded_backend_behind_validation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("local://{}?instance=svc-a", dir.path().display());
        let backend = connect(&url).await.expect("opens");
        assert_eq!(backend.name(), "local");
        assert_eq!(backend.instance(), "svc-a");
        let e = backend
            .container_groups()
            .get("Not_A_Name")
            .await
            .expect_err("validated");
        assert_eq!(e.field(), Some("name"));
    }
}
