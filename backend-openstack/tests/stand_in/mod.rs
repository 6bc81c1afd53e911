//! The test's stand-in for a container runtime on Nova's fake virt driver.
//!
//! The fake driver runs nothing: a server goes ACTIVE and stays so. On a real nova-docker
//! compute host a run's server stops (SHUTOFF) when its container exits, and goes to ERROR when
//! it fails. This stand-in does that through Nova's own API for the **cron runs** of one tars
//! instance (servers carrying the cron engine's label), reading each run's command from the
//! spec tars keeps in the server's metadata:
//!
//! | command (`sh -c SCRIPT` or the command itself; statements split at `;`) | the run |
//! |---|---|
//! | `true`, `:`, `exit 0`, `echo ...` | exits 0 at once: `os-stop` → SHUTOFF |
//! | `sleep N` | exits 0 N seconds after its server went ACTIVE |
//! | `false`, `exit N` (N ≠ 0) | fails: the admin's `os-resetState` to `error` → ERROR |
//! | anything else | runs until stopped (the stand-in does not guess) |
//!
//! A run's server that is ACTIVE with no power state was forgotten by the fake driver of its
//! host when that host's nova-compute restarted (the fault tests kill it): nothing stops it
//! through Nova any more, and its container is lost with the host's runtime, so it fails.
//!
//! It knows no exit code (Nova reports none), writes no log and answers no probe: cases that
//! need those stay `not run` (`Target::programs_run`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use osauth::services::COMPUTE;
use tars_api::ContainerGroupSpec;

/// How often the stand-in looks at the servers.
const POLL: Duration = Duration::from_millis(500);
/// How long after a run's end was sent a server still running is ended again.
const RESEND: Duration = Duration::from_secs(20);

/// The metadata key of the cron engine's label on a server (`tars.dev/cron-job`).
const CRON_JOB_KEY: &str = "label:tars.dev:cron-job";

/// What a run's program does, as far as the stand-in can tell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Program {
    /// Ends after this long, successfully or not.
    Ends { after: Duration, success: bool },
    /// Runs until stopped.
    Runs,
}

/// What `argv` (a container's command and arguments) does.
pub(crate) fn program(argv: &[String]) -> Program {
    let script = match argv {
        [sh, c, script, ..] if sh == "sh" && c == "-c" => script.clone(),
        _ => argv.join(" "),
    };
    let mut after = Duration::ZERO;
    for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let words: Vec<&str> = statement.split_whitespace().collect();
        match words.as_slice() {
            ["true"] | [":"] | ["exit", "0"] => {}
            ["echo", ..] => {}
            ["false"] => {
                return Program::Ends {
                    after,
                    success: false,
                };
            }
            ["exit", code] if code.parse::<i32>().is_ok() => {
                return Program::Ends {
                    after,
                    success: false,
                };
            }
            ["sleep", secs] => match secs.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => after += Duration::from_secs_f64(s),
                _ => return Program::Runs,
            },
            _ => return Program::Runs,
        }
    }
    Program::Ends {
        after,
        success: true,
    }
}

/// What a group of containers does: it ends when every container has ended; it fails when one
/// fails.
fn group_program(spec: &ContainerGroupSpec) -> Program {
    let mut longest = Duration::ZERO;
    let mut success = true;
    for c in &spec.containers {
        let argv: Vec<String> = c.command.iter().chain(&c.args).cloned().collect();
        match program(&argv) {
            Program::Runs => return Program::Runs,
            Program::Ends { after, success: s } => {
                longest = longest.max(after);
                success &= s;
            }
        }
    }
    Program::Ends {
        after: longest,
        success,
    }
}

/// The group spec tars keeps in a server's metadata (`tars:spec:NN`, base64 JSON chunks).
fn stored_spec(
    metadata: &serde_json::Map<String, serde_json::Value>,
) -> Option<ContainerGroupSpec> {
    let mut chunks: Vec<(&String, &str)> = metadata
        .iter()
        .filter(|(k, _)| k.starts_with("tars:spec:"))
        .filter_map(|(k, v)| Some((k, v.as_str()?)))
        .collect();
    chunks.sort();
    let encoded: String = chunks.into_iter().map(|(_, v)| v).collect();
    let doc: serde_json::Value = serde_json::from_slice(&BASE64.decode(encoded).ok()?).ok()?;
    serde_json::from_value(doc.get("spec")?.clone()).ok()
}

/// Ends the cron runs of tars instance `instance` as their commands say, until dropped.
pub(crate) struct StandIn {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Starts it: `member` is a session of the project's user (it stops servers), `admin` one
    /// of the cloud's admin (it resets a failed run's server to ERROR).
    pub(crate) fn start(member: osauth::Session, admin: osauth::Session, instance: &str) -> Self {
        let tag = format!("tars-instance={instance}");
        let task = tokio::spawn(async move {
            let mut active_since: HashMap<String, Instant> = HashMap::new();
            // When each run's end was sent; sent again if the server is still ACTIVE, with no
            // task, long after (the compute host died with the stop in hand).
            let mut ended: HashMap<String, Instant> = HashMap::new();
            loop {
                tokio::time::sleep(POLL).await;
                let Ok(page) = member
                    .get(COMPUTE, &["servers", "detail"])
                    .api_version(osauth::ApiVersion(2, 52))
                    .query(&[("tags", tag.as_str())])
                    .fetch::<serde_json::Value>()
                    .await
                else {
                    continue;
                };
                let servers = page["servers"].as_array().cloned().unwrap_or_default();
                let listed: HashSet<String> = servers
                    .iter()
                    .filter_map(|s| s["id"].as_str().map(str::to_owned))
                    .collect();
                active_since.retain(|id, _| listed.contains(id));
                ended.retain(|id, _| listed.contains(id));
                for s in &servers {
                    let (Some(id), Some(metadata)) = (s["id"].as_str(), s["metadata"].as_object())
                    else {
                        continue;
                    };
                    if s["status"] != "ACTIVE"
                        || !s["OS-EXT-STS:task_state"].is_null()
                        || !metadata.contains_key(CRON_JOB_KEY)
                        || ended.get(id).is_some_and(|at| at.elapsed() < RESEND)
                    {
                        continue;
                    }
                    let since = *active_since
                        .entry(id.to_owned())
                        .or_insert_with(Instant::now);
                    let Some(spec) = stored_spec(metadata) else {
                        continue;
                    };
                    // ACTIVE with no power state: its host's nova-compute restarted and the fake
                    // driver, which keeps its instances in memory, forgot it; a stop now fails
                    // (InstanceNotFound) and leaves it ACTIVE for good. Its container is lost
                    // with the host's runtime: the run fails, as a lost run does.
                    let lost = s["OS-EXT-STS:power_state"] == 0;
                    let (after, success) = match group_program(&spec) {
                        _ if lost => (Duration::ZERO, false),
                        Program::Ends { after, success } => (after, success),
                        Program::Runs => continue,
                    };
                    if since.elapsed() < after {
                        continue;
                    }
                    let sent = if success {
                        member
                            .post(COMPUTE, &["servers", id, "action"])
                            .api_version(osauth::ApiVersion(2, 52))
                            .json(&serde_json::json!({"os-stop": null}))
                            .send()
                            .await
                    } else {
                        admin
                            .post(COMPUTE, &["servers", id, "action"])
                            .api_version(osauth::ApiVersion(2, 52))
                            .json(&serde_json::json!({"os-resetState": {"state": "error"}}))
                            .send()
                            .await
                    };
                    // Refused (the server is being deleted, say): looked at again next time.
                    if sent.is_ok() {
                        ended.insert(id.to_owned(), Instant::now());
                    }
                }
            }
        });
        StandIn { task }
    }
}
