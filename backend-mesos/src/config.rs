//! How to reach Mesos and what the framework subscribes as: the master, tars' state directory
//! (the framework id lives there), the instance id, the framework's failover timeout and role,
//! offer filters, the tars executor, and the resources given to what a spec does not size.

use std::path::PathBuf;
use std::time::Duration;

use crate::convert::Sizing;

/// The instance id when none is given.
pub const DEFAULT_INSTANCE: &str = "default";

/// Configuration of a [`crate::MesosBackend`].
///
/// ```
/// use std::time::Duration;
/// let config = tars_backend_mesos::MesosConfig::new("127.0.0.1:5050")
///     .state_dir("/var/lib/tars")
///     .instance("billing")
///     .failover_timeout(Duration::from_secs(3600));
/// assert_eq!(config.instance_id(), "billing");
/// ```
#[derive(Clone)]
pub struct MesosConfig {
    pub(crate) master: String,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) instance: Option<String>,
    pub(crate) framework_name: String,
    pub(crate) role: String,
    pub(crate) failover_timeout: Duration,
    pub(crate) refuse: Duration,
    pub(crate) sizing: Sizing,
    pub(crate) user: String,
    pub(crate) chronos: Option<crate::chronos::ChronosConfig>,
    pub(crate) tls: crate::TlsSettings,
}

impl std::fmt::Debug for MesosConfig {
    /// Every field, the master's credentials (`http://user:secret@host:5050`) hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MesosConfig")
            .field("master", &tars_api::redact::url_credentials(&self.master))
            .field("state_dir", &self.state_dir)
            .field("instance", &self.instance)
            .field("framework_name", &self.framework_name)
            .field("role", &self.role)
            .field("failover_timeout", &self.failover_timeout)
            .field("refuse", &self.refuse)
            .field("sizing", &self.sizing)
            .field("user", &self.user)
            .field("chronos", &self.chronos)
            .field("tls", &self.tls)
            .finish()
    }
}

impl MesosConfig {
    /// The master at `host:port` (or `http://host:port`; `https://host:port` for a Mesos built
    /// with SSL, its certificate verified; `http://user:secret@host:port` for HTTP basic
    /// authentication, the credentials never shown); redirects to the leading master are
    /// followed.
    pub fn new(master: impl Into<String>) -> Self {
        MesosConfig {
            master: master.into(),
            state_dir: None,
            instance: None,
            framework_name: "tars".to_owned(),
            role: "*".to_owned(),
            failover_timeout: Duration::from_secs(7 * 24 * 3600),
            refuse: Duration::from_secs(5),
            sizing: Sizing::default(),
            user: std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "root".to_owned()),
            chronos: None,
            tls: crate::TlsSettings::default(),
        }
    }

    /// Where tars keeps its state (the framework id, deletions): a restarted tars process on
    /// the same directory fails over to the same framework and keeps its tasks. Without it the
    /// state is in memory and every process is a new framework.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Sets the instance id stamped on every task (default `default`).
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// The framework's name as Mesos shows it (default `tars`; the instance id is appended).
    pub fn framework_name(mut self, name: impl Into<String>) -> Self {
        self.framework_name = name.into();
        self
    }

    /// The role the framework subscribes with (default `*`).
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = role.into();
        self
    }

    /// How long Mesos keeps the framework's tasks while no tars process is subscribed
    /// (default one week).
    pub fn failover_timeout(mut self, timeout: Duration) -> Self {
        self.failover_timeout = timeout;
        self
    }

    /// How long a declined offer is not offered again while launches are pending (default
    /// 5 s; offers are declined for much longer when nothing is pending, and suppressed).
    pub fn refuse(mut self, refuse: Duration) -> Self {
        self.refuse = refuse;
        self
    }

    /// Resources of the executor and of containers that do not say theirs.
    pub fn sizing(mut self, sizing: Sizing) -> Self {
        self.sizing = sizing;
        self
    }

    /// The user tasks run as (default: `$USER`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// Serves cron jobs through the Chronos `chronos` describes (its REST API) instead of tars'
    /// own cron engine.
    pub fn chronos(mut self, chronos: crate::chronos::ChronosConfig) -> Self {
        self.chronos = Some(chronos);
        self
    }

    /// For an `https://` master (a Mesos built with SSL): trusts the CA certificates in the
    /// PEM file `path` besides the system's roots. Certificates are always verified unless
    /// [`Self::insecure_skip_tls_verify_for_test_clusters`] is called.
    pub fn ca_certificate_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls = crate::TlsSettings::with_ca_file(path);
        self
    }

    /// **Insecure**: accepts any certificate from an `https://` master (and its agents). For
    /// throw-away test clusters only; every connect logs a WARN that verification is off.
    pub fn insecure_skip_tls_verify_for_test_clusters(mut self) -> Self {
        self.tls = crate::TlsSettings::insecure_skip_verify();
        self
    }

    /// How the master's certificate is checked.
    pub fn tls(&self) -> &crate::TlsSettings {
        &self.tls
    }

    /// The Chronos cron jobs go to, if any.
    pub fn chronos_config(&self) -> Option<&crate::chronos::ChronosConfig> {
        self.chronos.as_ref()
    }

    /// The instance id.
    pub fn instance_id(&self) -> &str {
        self.instance.as_deref().unwrap_or(DEFAULT_INSTANCE)
    }

    /// The master address, as given (with its credentials, if any: show
    /// `tars_api::redact::url_credentials` of it, never the address itself).
    pub fn master(&self) -> &str {
        &self.master
    }
}
