//! How to reach the embedded engine: a state directory, an instance id, where secrets live.

use std::path::{Path, PathBuf};

use tars_api::events::{EventHook, EventHooks};
use tars_api::{Error, Result};

/// Instance id used when none is given.
pub const DEFAULT_INSTANCE: &str = "default";

/// Configuration of the embedded backend.
///
/// ```
/// let config = tars_backend_local::LocalConfig::new("/tmp/tars-state").instance("billing");
/// assert_eq!(config.instance_id(), "billing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    state_dir: PathBuf,
    instance: String,
    secrets_dir: Option<PathBuf>,
    address: String,
    hooks: EventHooks,
}

impl LocalConfig {
    /// State (objects, logs, sandboxes) under `state_dir`; instance `default`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        LocalConfig {
            state_dir: state_dir.into(),
            instance: DEFAULT_INSTANCE.to_owned(),
            secrets_dir: None,
            address: "127.0.0.1".to_owned(),
            hooks: EventHooks::new(),
        }
    }

    /// Sends the events of rollouts and cron runs (`RolloutFailed`, `RolledBack`,
    /// `CronRunFailed`, `CronRunMissed`, ...) to `hook` too, e.g. a
    /// `tars_engine::webhook::Webhook` (builder style; call again to add more hooks). The
    /// engines call it on their own tasks and never wait for it.
    pub fn event_hook(mut self, hook: std::sync::Arc<dyn EventHook>) -> Self {
        self.hooks = self.hooks.with(hook);
        self
    }

    /// The event hooks.
    pub fn event_hooks(&self) -> &EventHooks {
        &self.hooks
    }

    /// Sets the instance id stamped on every object (builder style).
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = instance.into();
        self
    }

    /// Secret `name`, key `key` is read from `<dir>/<name>/<key>` when the environment variable
    /// `TARS_SECRET_<NAME>_<KEY>` is not set (builder style).
    pub fn secrets_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.secrets_dir = Some(dir.into());
        self
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The instance id.
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// The secrets directory, if any.
    pub fn secrets_directory(&self) -> Option<&Path> {
        self.secrets_dir.as_deref()
    }

    /// The address endpoints are reported on (the loopback address).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Reads `local:///state/dir[?instance=ID&secrets=/dir]`.
    pub fn from_url(url: &url::Url) -> Result<Self> {
        if url.scheme() != "local" {
            return Err(Error::invalid(
                "url",
                format!("scheme {:?} is not local", url.scheme()),
            ));
        }
        if url.host_str().is_some_and(|h| !h.is_empty()) {
            return Err(Error::invalid(
                "url",
                "local URLs have no host: write local:///absolute/state/dir",
            ));
        }
        let path = url.path();
        if path.is_empty() || path == "/" {
            return Err(Error::invalid(
                "url.path",
                "needs a state directory: local:///absolute/state/dir",
            ));
        }
        let mut config = LocalConfig::new(path);
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "instance" => {
                    tars_api::validate::name(&v, "url.instance")?;
                    config.instance = v.into_owned();
                }
                "secrets" => config.secrets_dir = Some(PathBuf::from(v.as_ref())),
                other => {
                    return Err(Error::invalid(
                        format!("url.{other}"),
                        "unknown parameter (known: instance, secrets)",
                    ));
                }
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<LocalConfig> {
        LocalConfig::from_url(&url::Url::parse(s).expect("url"))
    }

    #[test]
    fn reads_state_dir_and_parameters() {
        let c =
            parse("local:///var/lib/tars?instance=billing&secrets=/run/secrets").expect("valid");
        assert_eq!(c.state_dir(), Path::new("/var/lib/tars"));
        assert_eq!(c.instance_id(), "billing");
        assert_eq!(c.secrets_directory(), Some(Path::new("/run/secrets")));
    }

    #[test]
    fn refuses_hosts_missing_paths_and_unknown_parameters() {
        assert_eq!(
            parse("local://host/dir").expect_err("host").field(),
            Some("url")
        );
        assert_eq!(
            parse("local:///").expect_err("path").field(),
            Some("url.path")
        );
        assert_eq!(
            parse("local:///d?colour=red").expect_err("param").field(),
            Some("url.colour")
        );
    }
}
