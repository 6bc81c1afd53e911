//! Health checks (`TaskInfo.health_check`), as Mesos' health checker runs them: the first check
//! after `delay_seconds`, then every `interval_seconds`, each bounded by `timeout_seconds`;
//! failures within `grace_period_seconds` of the task's start are ignored until a check has
//! succeeded; a change of health is reported, and `consecutive_failures` failures in a row kill
//! the task.

use crate::process;
use std::path::PathBuf;
use std::time::Duration;
use tars_backend_mesos::v1::mesos::{CommandInfo, HealthCheck, HealthCheckType};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What a check's result means for the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The task's health now.
    pub healthy: bool,
    /// Too many failures in a row: kill the task.
    pub kill: bool,
}

/// The health checker's state (pure: fed results and times).
#[derive(Debug, Clone)]
pub struct Tracker {
    started: Instant,
    grace: Duration,
    max_failures: u32,
    consecutive_failures: u32,
    initializing: bool,
}

impl Tracker {
    /// A tracker for a task started at `started`.
    pub fn new(check: &HealthCheck, started: Instant) -> Self {
        Self {
            started,
            grace: seconds(check.grace_period()),
            max_failures: check.max_consecutive_failures(),
            consecutive_failures: 0,
            initializing: true,
        }
    }

    /// Takes one check's result at `now`; `Some` when the framework must hear of it: the first
    /// success, the first failure after successes (or after the grace period), a success after
    /// failures, and the failure that kills.
    pub fn observe(&mut self, healthy: bool, now: Instant) -> Option<Report> {
        if healthy {
            let changed = self.initializing || self.consecutive_failures > 0;
            self.initializing = false;
            self.consecutive_failures = 0;
            return changed.then_some(Report {
                healthy: true,
                kill: false,
            });
        }
        if self.initializing && now.saturating_duration_since(self.started) < self.grace {
            return None;
        }
        self.consecutive_failures += 1;
        let kill = self.consecutive_failures >= self.max_failures;
        (self.consecutive_failures == 1 || kill).then_some(Report {
            healthy: false,
            kill,
        })
    }
}

/// A duration of `value` seconds (negative or not finite: zero).
pub fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::ZERO)
}

/// Where a task's checks run: its directory and environment (for `COMMAND` checks).
#[derive(Debug, Clone)]
pub struct Target {
    /// The task's directory.
    pub dir: PathBuf,
    /// The task's environment.
    pub env: Vec<(String, String)>,
}

/// Runs one check: `COMMAND` exits 0, `HTTP` answers 200–399 on `127.0.0.1`, `TCP` connects to
/// `127.0.0.1`. Bounded by the check's timeout (0: none). gRPC and unknown types fail.
pub async fn probe(check: &HealthCheck, target: &Target) -> bool {
    let timeout = check.timeout();
    let run = run_probe(check, target);
    if timeout > 0.0 {
        tokio::time::timeout(seconds(timeout), run)
            .await
            .unwrap_or(false)
    } else {
        run.await
    }
}

async fn run_probe(check: &HealthCheck, target: &Target) -> bool {
    match check.kind {
        Some(HealthCheckType::Command) => match &check.command {
            Some(info) => command_exit_code(info, target).await == Some(0),
            None => false,
        },
        Some(HealthCheckType::Http) => match &check.http {
            Some(http) => {
                let scheme = http.scheme.as_deref().unwrap_or("http");
                http_status(scheme, http.port, http.path.as_deref())
                    .await
                    .is_some_and(|code| (200..400).contains(&code))
            }
            None => false,
        },
        Some(HealthCheckType::Tcp) => match &check.tcp {
            Some(tcp) => tcp_connects(tcp.port).await,
            None => false,
        },
        _ => false,
    }
}

/// Runs `info` like the task (its directory, its environment plus the check's own), output
/// discarded; its exit code (`None` if it could not run or ended by a signal). Dropped before
/// it ends (a timeout), its whole process group is killed.
pub async fn command_exit_code(info: &CommandInfo, target: &Target) -> Option<i32> {
    let mut env = target.env.clone();
    for variable in info.environment.iter().flat_map(|e| &e.variables) {
        env.retain(|(name, _)| *name != variable.name);
        env.push((
            variable.name.clone(),
            variable.value.clone().unwrap_or_default(),
        ));
    }
    let mut command = process::command(info, &target.dir, &env).ok()?;
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = command.spawn().ok()?;
    let guard = GroupGuard(child.id());
    let status = child.wait().await.ok();
    drop(guard);
    status.and_then(|s| s.code())
}

/// The status code of `GET scheme://127.0.0.1:port/path` (`None`: no answer).
pub async fn http_status(scheme: &str, port: u32, path: Option<&str>) -> Option<u16> {
    let path = path.unwrap_or("/");
    let separator = if path.starts_with('/') { "" } else { "/" };
    let url = format!("{scheme}://127.0.0.1:{port}{separator}{path}");
    let client = reqwest::Client::builder().build().ok()?;
    client
        .get(url)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Whether a TCP connection to `127.0.0.1:port` opens.
pub async fn tcp_connects(port: u32) -> bool {
    match u16::try_from(port) {
        Ok(port) => TcpStream::connect(("127.0.0.1", port)).await.is_ok(),
        Err(_) => false,
    }
}

/// Kills a check command's process group when dropped (its timeout fired, or it ended).
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            process::signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tars_backend_mesos::v1::mesos::{HttpCheckInfo, TcpCheckInfo};

    fn check(grace: f64, failures: u32) -> HealthCheck {
        HealthCheck {
            grace_period_seconds: Some(grace),
            consecutive_failures: Some(failures),
            ..HealthCheck::default()
        }
    }

    const HEALTHY: Option<Report> = Some(Report {
        healthy: true,
        kill: false,
    });
    const UNHEALTHY: Option<Report> = Some(Report {
        healthy: false,
        kill: false,
    });
    const KILL: Option<Report> = Some(Report {
        healthy: false,
        kill: true,
    });

    #[test]
    fn failures_in_the_grace_period_are_ignored_until_a_success() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(&check(10.0, 3), t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(tracker.observe(false, at(1)), None);
        assert_eq!(tracker.observe(false, at(2)), None);
        assert_eq!(tracker.observe(true, at(3)), HEALTHY);
        assert_eq!(tracker.observe(true, at(4)), None, "no change, no report");
        // After a success, the grace period no longer protects.
        assert_eq!(tracker.observe(false, at(5)), UNHEALTHY);
        assert_eq!(tracker.observe(false, at(6)), None);
        assert_eq!(tracker.observe(true, at(7)), HEALTHY);
    }

    #[test]
    fn consecutive_failures_after_the_grace_period_kill() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(&check(1.0, 3), t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(tracker.observe(false, at(0)), None);
        assert_eq!(tracker.observe(false, at(2)), UNHEALTHY);
        assert_eq!(tracker.observe(false, at(3)), None);
        assert_eq!(tracker.observe(false, at(4)), KILL);
        let mut strict = Tracker::new(&check(0.0, 1), t0);
        assert_eq!(strict.observe(false, at(0)), KILL);
    }

    fn target() -> Target {
        Target {
            dir: std::env::temp_dir(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        }
    }

    #[tokio::test]
    async fn command_probes_pass_on_exit_0_and_time_out() {
        let command = |value: &str, timeout: f64| HealthCheck {
            kind: Some(HealthCheckType::Command),
            command: Some(CommandInfo {
                value: Some(value.into()),
                ..CommandInfo::default()
            }),
            timeout_seconds: Some(timeout),
            ..HealthCheck::default()
        };
        assert!(probe(&command("true", 5.0), &target()).await);
        assert!(!probe(&command("exit 1", 5.0), &target()).await);
        let started = std::time::Instant::now();
        assert!(!probe(&command("sleep 30", 0.2), &target()).await);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn tcp_and_http_probes_against_a_local_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let port = u32::from(listener.local_addr().expect("addr").port());
        // A minimal HTTP server: 204 on /ok, 500 elsewhere.
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let status = if request.starts_with("GET /ok ") {
                    "204 No Content"
                } else {
                    "500 Oops"
                };
                let response =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        let http = |path: &str| HealthCheck {
            kind: Some(HealthCheckType::Http),
            http: Some(HttpCheckInfo {
                port,
                path: Some(path.into()),
                ..HttpCheckInfo::default()
            }),
            timeout_seconds: Some(5.0),
            ..HealthCheck::default()
        };
        assert!(probe(&http("/ok"), &target()).await);
        assert!(!probe(&http("/broken"), &target()).await);
        let tcp = |port| HealthCheck {
            kind: Some(HealthCheckType::Tcp),
            tcp: Some(TcpCheckInfo {
                protocol: None,
                port,
            }),
            timeout_seconds: Some(5.0),
            ..HealthCheck::default()
        };
        assert!(probe(&tcp(port), &target()).await);
        // A port nothing listens on (bound then released).
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let closed_port = u32::from(closed.local_addr().expect("addr").port());
        drop(closed);
        assert!(!probe(&tcp(closed_port), &target()).await);
    }
}
