//! How to reach the cluster: kubeconfig and context (or in-cluster), namespace, instance id.

use std::path::PathBuf;

/// The instance id when none is given.
pub const DEFAULT_INSTANCE: &str = "default";

/// Configuration of the Kubernetes backend; `k8s://?context=C&namespace=NS` is a shorthand
/// for it.
///
/// ```
/// let config = tars_backend_k8s::K8sConfig::new()
///     .context("kind-dev")
///     .namespace("apps")
///     .instance("billing");
/// assert_eq!(config.namespace_name(), Some("apps"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct K8sConfig {
    pub(crate) kubeconfig: Option<PathBuf>,
    pub(crate) context: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) instance: Option<String>,
    pub(crate) state: Option<PathBuf>,
    pub(crate) skip_dry_run: bool,
    pub(crate) insecure_skip_tls_verify: bool,
}

impl K8sConfig {
    /// The current context of the kubeconfig (`$KUBECONFIG` or `~/.kube/config`), or the
    /// in-cluster service account when there is no kubeconfig; the context's namespace.
    pub fn new() -> Self {
        K8sConfig::default()
    }

    /// Reads this kubeconfig file instead of `$KUBECONFIG` / `~/.kube/config`.
    pub fn kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// Uses this kubeconfig context instead of the current one.
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Puts every object in this namespace instead of the context's.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets the instance id stamped on every object (default `default`).
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// A state directory for tars' own engines (reserved: every feature this backend offers
    /// today is Kubernetes' own, kept in the cluster).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state = Some(dir.into());
        self
    }

    /// Skips the server-side dry run that checks an update before it is applied (one round
    /// trip less per update; invalid objects are then refused by the real apply). A create of
    /// a Deployment or CronJob is always preceded by its dry run: that is how tars sees a name
    /// taken since its watch last reported, and never takes over someone else's object (a pod
    /// needs none: its create is a POST, which the server refuses for a taken name).
    pub fn skip_dry_run(mut self, skip: bool) -> Self {
        self.skip_dry_run = skip;
        self
    }

    /// **Insecure**: accepts any server certificate, whatever the kubeconfig says. For
    /// throw-away test clusters with self-signed certificates only; tars logs a warning at every
    /// connection made this way. Certificates are verified by default (and when the kubeconfig
    /// itself sets `insecure-skip-tls-verify`, kube-rs honours that, as kubectl does, and tars
    /// logs the same warning).
    pub fn insecure_skip_tls_verify_for_test_clusters(mut self) -> Self {
        self.insecure_skip_tls_verify = true;
        self
    }

    /// The namespace set with [`K8sConfig::namespace`], if any.
    pub fn namespace_name(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The instance id.
    pub fn instance_id(&self) -> &str {
        self.instance.as_deref().unwrap_or(DEFAULT_INSTANCE)
    }
}
