//! What the agent tells its executor through the environment (`docs/executor-http-api.md`,
//! "Executor Environment Variables"), read once at start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tars_backend_mesos::v1::mesos::{ExecutorId, FrameworkId};

/// The executor's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `MESOS_FRAMEWORK_ID`.
    pub framework_id: FrameworkId,
    /// `MESOS_EXECUTOR_ID`.
    pub executor_id: ExecutorId,
    /// The agent's executor API: `http://<MESOS_SLAVE_PID address>/<its id>/api/v1/executor`
    /// (what Mesos' own executor library uses), else `MESOS_AGENT_ENDPOINT` with `slave(1)`.
    pub endpoint: String,
    /// `MESOS_SANDBOX` (else `MESOS_DIRECTORY`): where tasks' directories go.
    pub sandbox: PathBuf,
    /// `MESOS_CHECKPOINT`: re-subscribe after a disconnection (else stop, as the doc says).
    pub checkpoint: bool,
    /// `MESOS_RECOVERY_TIMEOUT` (default 15 min): how long to keep re-subscribing.
    pub recovery_timeout: Duration,
    /// `MESOS_SUBSCRIPTION_BACKOFF_MAX` (default 2 s): the longest wait between two attempts.
    pub subscription_backoff_max: Duration,
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` (default 5 s): time the agent gives a `SHUTDOWN`.
    pub shutdown_grace_period: Duration,
    /// `PATH` passed on to tasks.
    pub path: String,
}

/// A missing or malformed variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{0} is not set (is this process started by a Mesos agent?)")]
    Missing(&'static str),
    /// A variable's value cannot be used.
    #[error("{name}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

impl Config {
    /// Reads the settings from `env` (the process environment in `main`).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| env.get(name).filter(|v| !v.is_empty());
        let required = |name: &'static str| get(name).cloned().ok_or(ConfigError::Missing(name));
        let duration = |name: &'static str, default: Duration| match get(name) {
            None => Ok(default),
            Some(value) => parse_duration(value).ok_or_else(|| ConfigError::Invalid {
                name,
                value: value.clone(),
                reason: "not a Mesos duration such as 250ms, 5secs or 15mins",
            }),
        };
        let endpoint = match (get("MESOS_SLAVE_PID"), get("MESOS_AGENT_ENDPOINT")) {
            (Some(pid), _) => {
                let (id, address) = pid.split_once('@').ok_or_else(|| ConfigError::Invalid {
                    name: "MESOS_SLAVE_PID",
                    value: pid.clone(),
                    reason: "not ID@HOST:PORT",
                })?;
                format!("http://{address}/{id}/api/v1/executor")
            }
            (None, Some(address)) => format!("http://{address}/slave(1)/api/v1/executor"),
            (None, None) => return Err(ConfigError::Missing("MESOS_AGENT_ENDPOINT")),
        };
        let sandbox = get("MESOS_SANDBOX")
            .or_else(|| get("MESOS_DIRECTORY"))
            .ok_or(ConfigError::Missing("MESOS_SANDBOX"))?;
        Ok(Self {
            framework_id: FrameworkId::new(required("MESOS_FRAMEWORK_ID")?),
            executor_id: ExecutorId::new(required("MESOS_EXECUTOR_ID")?),
            endpoint,
            sandbox: PathBuf::from(sandbox),
            checkpoint: get("MESOS_CHECKPOINT").is_some_and(|v| v == "1" || v == "true"),
            recovery_timeout: duration("MESOS_RECOVERY_TIMEOUT", Duration::from_secs(15 * 60))?,
            subscription_backoff_max: duration(
                "MESOS_SUBSCRIPTION_BACKOFF_MAX",
                Duration::from_secs(2),
            )?,
            shutdown_grace_period: duration(
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                Duration::from_secs(5),
            )?,
            path: get("PATH")
                .cloned()
                .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        })
    }
}

/// A duration as Mesos writes it (stout's `Duration::parse`): a number, then `ns`, `us`, `ms`,
/// `secs`, `mins`, `hrs`, `days` or `weeks`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let nanos_per_unit = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "secs" => 1e9,
        "mins" => 60e9,
        "hrs" => 3600e9,
        "days" => 86400e9,
        "weeks" => 7.0 * 86400e9,
        _ => return None,
    };
    let nanos = number * nanos_per_unit;
    (nanos.is_finite() && nanos >= 0.0).then(|| Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const BASE: &[(&str, &str)] = &[
        ("MESOS_FRAMEWORK_ID", "fw-1"),
        ("MESOS_EXECUTOR_ID", "ex-1"),
        ("MESOS_SANDBOX", "/sandbox"),
    ];

    #[test]
    fn mesos_durations_parse_like_stout() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5secs"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("15mins"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1.5hrs"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2days"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("10us"), Some(Duration::from_micros(10)));
        for bad in ["", "5", "5s", "secs", "-1secs", "1.2.3ms"] {
            assert_eq!(parse_duration(bad), None, "{bad:?} accepted");
        }
    }

    #[test]
    fn endpoint_comes_from_the_agent_pid_then_the_agent_endpoint() {
        let mut vars = env(BASE);
        vars.insert("MESOS_AGENT_ENDPOINT".into(), "127.0.0.1:5051".into());
        let config = Config::from_env(&vars).expect("valid");
        assert_eq!(
            config.endpoint,
            "http://127.0.0.1:5051/slave(1)/api/v1/executor"
        );
        vars.insert("MESOS_SLAVE_PID".into(), "slave(3)@10.0.0.1:5252".into());
        let config = Config::from_env(&vars).expect("valid");
        assert_eq!(
            config.endpoint,
            "http://10.0.0.1:5252/slave(3)/api/v1/executor"
        );
        vars.insert("MESOS_SLAVE_PID".into(), "no-at-sign".into());
        assert!(matches!(
            Config::from_env(&vars),
            Err(ConfigError::Invalid {
                name: "MESOS_SLAVE_PID",
                ..
            })
        ));
    }

    #[test]
    fn defaults_and_required_variables() {
        let mut vars = env(BASE);
        assert_eq!(
            Config::from_env(&vars),
            Err(ConfigError::Missing("MESOS_AGENT_ENDPOINT"))
        );
        vars.insert("MESOS_AGENT_ENDPOINT".into(), "127.0.0.1:5051".into());
        let config = Config::from_env(&vars).expect("valid");
        assert!(!config.checkpoint);
        assert_eq!(config.recovery_timeout, Duration::from_secs(900));
        assert_eq!(config.subscription_backoff_max, Duration::from_secs(2));
        assert_eq!(config.sandbox, PathBuf::from("/sandbox"));
        vars.insert("MESOS_CHECKPOINT".into(), "1".into());
        vars.insert("MESOS_RECOVERY_TIMEOUT".into(), "5secs".into());
        vars.insert(
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".into(),
            "forever".into(),
        );
        assert!(matches!(
            Config::from_env(&vars),
            Err(ConfigError::Invalid {
                name: "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                ..
            })
        ));
        vars.remove("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD");
        let config = Config::from_env(&vars).expect("valid");
        assert!(config.checkpoint);
        assert_eq!(config.recovery_timeout, Duration::from_secs(5));
        vars.remove("MESOS_EXECUTOR_ID");
        assert_eq!(
            Config::from_env(&vars),
            Err(ConfigError::Missing("MESOS_EXECUTOR_ID"))
        );
    }
}
