//! Backend URLs: which engine to reach and how, parsed before anything is contacted.
//!
//! | URL | backend |
//! |---|---|
//! | `local:///state/dir[?instance=ID&secrets=/dir]` | embedded |
//! | `k8s://?context=C&namespace=NS&state=/dir` | Kubernetes (kubeconfig context; in-cluster when absent) |
//! | `mesos://HOST:5050?state=/dir[&chronos=http://HOST:4400]` | Mesos, optionally with Chronos |
//! | `openstack://[CLOUD][?clouds=/path/clouds.yaml&region=R&project=P&state=/dir&instance=ID]` | OpenStack: cloud CLOUD of `clouds.yaml` (the file `clouds` names, else the clients' search path); no CLOUD: the `OS_*` environment (or `OS_CLOUD`) |

use std::collections::BTreeMap;
use std::path::PathBuf;

use tars_api::{Error, Result};

/// A parsed backend URL. Its `Debug` hides the credentials a URL in it may carry
/// (`chronos=http://user:secret@host:4400`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendUrl {
    /// `local:///state/dir`.
    Local(url::Url),
    /// `k8s://?context=C&namespace=NS&state=/dir`.
    K8s {
        /// kubeconfig context; the current one when absent.
        context: Option<String>,
        /// Namespace; the context's when absent.
        namespace: Option<String>,
        /// State directory for tars' engines.
        state: Option<PathBuf>,
        /// Instance id.
        instance: Option<String>,
    },
    /// `mesos://HOST:PORT?state=/dir[&chronos=URL]`.
    Mesos {
        /// Master address (`host:port`).
        master: String,
        /// State directory (framework id, engine state).
        state: Option<PathBuf>,
        /// A Chronos to manage cron jobs through.
        chronos: Option<url::Url>,
        /// Instance id.
        instance: Option<String>,
    },
    /// `openstack://[CLOUD]?clouds=/path/clouds.yaml&region=R&project=P&state=/dir`.
    OpenStack {
        /// Cloud name in `clouds.yaml`; the `OS_*` environment when absent.
        cloud: Option<String>,
        /// The `clouds.yaml` file; the OpenStack clients' search path when absent.
        clouds: Option<PathBuf>,
        /// Region.
        region: Option<String>,
        /// Project.
        project: Option<String>,
        /// State directory.
        state: Option<PathBuf>,
        /// Instance id.
        instance: Option<String>,
    },
}

impl std::fmt::Debug for BackendUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hide = |u: &url::Url| tars_api::redact::url_credentials(u.as_str());
        match self {
            BackendUrl::Local(u) => f.debug_tuple("Local").field(&hide(u)).finish(),
            BackendUrl::K8s {
                context,
                namespace,
                state,
                instance,
            } => f
                .debug_struct("K8s")
                .field("context", context)
                .field("namespace", namespace)
                .field("state", state)
                .field("instance", instance)
                .finish(),
            BackendUrl::Mesos {
                master,
                state,
                chronos,
                instance,
            } => f
                .debug_struct("Mesos")
                .field("master", master)
                .field("state", state)
                .field("chronos", &chronos.as_ref().map(hide))
                .field("instance", instance)
                .finish(),
            BackendUrl::OpenStack {
                cloud,
                clouds,
                region,
                project,
                state,
                instance,
            } => f
                .debug_struct("OpenStack")
                .field("cloud", cloud)
                .field("clouds", clouds)
                .field("region", region)
                .field("project", project)
                .field("state", state)
                .field("instance", instance)
                .finish(),
        }
    }
}

impl BackendUrl {
    /// The scheme, which is also the cargo feature enabling the backend.
    pub fn scheme(&self) -> &'static str {
        match self {
            BackendUrl::Local(_) => "local",
            BackendUrl::K8s { .. } => "k8s",
            BackendUrl::Mesos { .. } => "mesos",
            BackendUrl::OpenStack { .. } => "openstack",
        }
    }

    /// Parses and checks a backend URL. Its errors never show the credentials a URL in it
    /// may carry ([`redact`]).
    pub fn parse(text: &str) -> Result<Self> {
        let url = url::Url::parse(text)
            .map_err(|e| Error::invalid("url", format!("{:?} is not a URL: {e}", redact(text))))?;
        let params = |known: &[&str]| -> Result<BTreeMap<String, String>> {
            let mut out = BTreeMap::new();
            for (k, v) in url.query_pairs() {
                if !known.contains(&k.as_ref()) {
                    return Err(Error::invalid(
                        format!("url.{k}"),
                        format!(
                            "unknown parameter for {} (known: {})",
                            url.scheme(),
                            known.join(", ")
                        ),
                    ));
                }
                if out.insert(k.to_string(), v.to_string()).is_some() {
                    return Err(Error::invalid(format!("url.{k}"), "given twice"));
                }
            }
            Ok(out)
        };
        let instance = |p: &mut BTreeMap<String, String>| -> Result<Option<String>> {
            let i = p.remove("instance");
            if let Some(i) = &i {
                tars_api::validate::name(i, "url.instance")?;
            }
            Ok(i)
        };
        match url.scheme() {
            "local" => Ok(BackendUrl::Local(url)),
            "k8s" => {
                if url.host_str().is_some_and(|h| !h.is_empty()) {
                    return Err(Error::invalid(
                        "url",
                        "k8s URLs name no host: the cluster comes from the kubeconfig context (k8s://?context=NAME)",
                    ));
                }
                let mut p = params(&["context", "namespace", "state", "instance"])?;
                if let Some(ns) = p.get("namespace") {
                    tars_api::validate::name(ns, "url.namespace")?;
                }
                Ok(BackendUrl::K8s {
                    context: p.remove("context"),
                    namespace: p.remove("namespace"),
                    state: p.remove("state").map(PathBuf::from),
                    instance: instance(&mut p)?,
                })
            }
            "mesos" => {
                let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
                    Error::invalid("url.host", "mesos URLs need the master: mesos://HOST:5050")
                })?;
                let master = format!("{host}:{}", url.port().unwrap_or(5050));
                let mut p = params(&["state", "chronos", "instance"])?;
                let chronos = p
                    .remove("chronos")
                    .map(|c| {
                        let u = url::Url::parse(&c)
                            .map_err(|e| {
                                Error::invalid("url.chronos", format!("{:?}: {e}", redact(&c)))
                            })?;
                        if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                            return Err(Error::invalid(
                                "url.chronos",
                                "Chronos' REST API is reached over http(s): chronos=http://HOST:4400",
                            ));
                        }
                        Ok(u)
                    })
                    .transpose()?;
                Ok(BackendUrl::Mesos {
                    master,
                    state: p.remove("state").map(PathBuf::from),
                    chronos,
                    instance: instance(&mut p)?,
                })
            }
            "openstack" => {
                let mut p = params(&["clouds", "region", "project", "state", "instance"])?;
                let cloud = url.host_str().filter(|h| !h.is_empty()).map(str::to_owned);
                let clouds = p.remove("clouds").map(PathBuf::from);
                if cloud.is_none() && clouds.is_some() {
                    return Err(Error::invalid(
                        "url.clouds",
                        "a clouds.yaml needs the cloud to use: openstack://CLOUD?clouds=PATH",
                    ));
                }
                if !matches!(url.path(), "" | "/") {
                    return Err(Error::invalid(
                        "url.path",
                        format!(
                            "openstack URLs have no path ({:?}): openstack://CLOUD?state=/dir",
                            url.path()
                        ),
                    ));
                }
                Ok(BackendUrl::OpenStack {
                    cloud,
                    clouds,
                    region: p.remove("region"),
                    project: p.remove("project"),
                    state: p.remove("state").map(PathBuf::from),
                    instance: instance(&mut p)?,
                })
            }
            other => Err(Error::invalid(
                "url.scheme",
                format!("unknown scheme {other:?}: use local, k8s, mesos or openstack"),
            )),
        }
    }
}

/// `url` as it may be shown (printed, logged, put in an error): the credentials of every URL
/// in it, nested ones too (`?chronos=http://user:secret@host`), replaced by `***`.
///
/// ```
/// assert_eq!(
///     tars::url::redact("mesos://m:5050?chronos=http://tars:s3cret@c:4400"),
///     "mesos://m:5050?chronos=http://***@c:4400"
/// );
/// ```
pub fn redact(url: &str) -> String {
    tars_api::redact::url_credentials(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_the_debug_or_the_errors_of_a_url() {
        const SECRET: &str = "url-sentinel-2f8e61";
        let parsed = BackendUrl::parse(&format!(
            "mesos://127.0.0.1:5050?chronos=http://tars:{SECRET}@127.0.0.1:4400"
        ))
        .expect("mesos");
        let shown = format!("{parsed:?}");
        assert!(shown.contains("http://***@127.0.0.1:4400/"), "{shown}");
        let local =
            BackendUrl::parse(&format!("local://tars:{SECRET}@localhost/tmp/x")).expect("local");
        let local = format!("{local:?}");
        assert!(local.contains("***@"), "{local}");
        // Refused URLs: the whole text, and the Chronos URL, are in the error.
        for bad in [
            format!("mesos://m:5050?chronos=http://tars:{SECRET}@c:notaport"),
            format!("mesos://m:5050?chronos=http%3A%2F%2Ftars%3A{SECRET}%40c%3Anotaport"),
            format!("http://tars:{SECRET}@h:notaport"),
        ] {
            let err = BackendUrl::parse(&bad).expect_err(&bad);
            let text = format!("{err} {err:?}");
            assert!(
                text.contains("***"),
                "{bad}: the error shows the URL: {text}"
            );
            for t in [&shown, &local, &text] {
                assert!(!t.contains(SECRET), "{bad}: {t}");
            }
        }
    }

    #[test]
    fn parses_every_scheme() {
        assert!(matches!(
            BackendUrl::parse("local:///tmp/x"),
            Ok(BackendUrl::Local(_))
        ));
        assert_eq!(
            BackendUrl::parse("k8s://?context=kind&namespace=apps&state=/var/tars").expect("k8s"),
            BackendUrl::K8s {
                context: Some("kind".into()),
                namespace: Some("apps".into()),
                state: Some("/var/tars".into()),
                instance: None
            }
        );
        let BackendUrl::Mesos {
            master, chronos, ..
        } = BackendUrl::parse("mesos://127.0.0.1:5050?state=/s&chronos=http://127.0.0.1:4400")
            .expect("mesos")
        else {
            panic!("not mesos")
        };
        assert_eq!(master, "127.0.0.1:5050");
        assert_eq!(
            chronos.map(|c| c.to_string()),
            Some("http://127.0.0.1:4400/".to_string())
        );
        assert!(matches!(
            BackendUrl::parse("openstack://?region=RegionOne&project=demo"),
            Ok(BackendUrl::OpenStack { cloud: None, .. })
        ));
        assert!(matches!(
            BackendUrl::parse("openstack://devstack?region=RegionOne"),
            Ok(BackendUrl::OpenStack { cloud: Some(_), .. })
        ));
        assert_eq!(
            BackendUrl::parse(
                "openstack://tars?clouds=/tmp/os/clouds.yaml&state=/var/tars&instance=billing"
            )
            .expect("openstack"),
            BackendUrl::OpenStack {
                cloud: Some("tars".into()),
                clouds: Some("/tmp/os/clouds.yaml".into()),
                region: None,
                project: None,
                state: Some("/var/tars".into()),
                instance: Some("billing".into()),
            }
        );
    }

    #[test]
    fn malformed_urls_name_what_is_wrong() {
        let field = |s: &str| {
            BackendUrl::parse(s)
                .expect_err(s)
                .field()
                .map(str::to_owned)
        };
        assert_eq!(field("not a url").as_deref(), Some("url"));
        assert_eq!(field("nomad://x").as_deref(), Some("url.scheme"));
        assert_eq!(field("mesos://?state=/x").as_deref(), Some("url.host"));
        assert_eq!(field("k8s://?colour=red").as_deref(), Some("url.colour"));
        assert_eq!(
            field("k8s://?namespace=Bad_NS").as_deref(),
            Some("url.namespace")
        );
        assert_eq!(
            field("k8s://?context=a&context=b").as_deref(),
            Some("url.context")
        );
        assert_eq!(
            field("mesos://m:5050?chronos=::").as_deref(),
            Some("url.chronos")
        );
        assert_eq!(
            field("mesos://m:5050?chronos=zk://zk:2181/chronos").as_deref(),
            Some("url.chronos")
        );
        assert_eq!(
            field("openstack://?clouds=/c.yaml").as_deref(),
            Some("url.clouds")
        );
        assert_eq!(field("openstack://tars/extra").as_deref(), Some("url.path"));
        assert_eq!(
            field("openstack://tars?instance=Not_Valid").as_deref(),
            Some("url.instance")
        );
        assert_eq!(
            field("openstack://tars?password=x").as_deref(),
            Some("url.password")
        );
    }
}
