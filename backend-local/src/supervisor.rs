//! The supervisor of one incarnation of a group: starts its containers in one process group,
//! restarts them per the restart policy with capped exponential backoff, runs readiness and
//! liveness checks, reports status, and stops everything on request.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tars_api::group::{Condition, ContainerState, ContainerStatus, Endpoint, Probe, Termination};
use tars_api::{ContainerGroup, ContainerGroupStatus, GroupPhase, RestartPolicy};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::probe::{self, ProbeContext};
use crate::process::{self, Launch};
use crate::shared::Shared;
use crate::store::RuntimeRecord;

/// First restart delay; doubled for each further restart, up to [`BACKOFF_CAP`].
const BACKOFF_START: Duration = Duration::from_millis(500);
/// Longest restart delay.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// A container that ran this long has its backoff reset.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);

/// Handle of a running supervisor.
pub(crate) struct Supervisor {
    stop: oneshot::Sender<Duration>,
    task: JoinHandle<Vec<i32>>,
}

impl Supervisor {
    /// Starts supervising `object` (its uid and generation must be set).
    pub(crate) fn start(shared: Arc<Shared>, object: ContainerGroup) -> Supervisor {
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run(shared, object, stop_rx));
        Supervisor { stop, task }
    }

    /// Ends the supervisor without touching its processes (see `LocalBackend::abandon`).
    pub(crate) async fn abandon(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Stops the containers (SIGTERM, `grace`, SIGKILL) and the supervisor. Returns the pids
    /// still alive afterwards (none, normally).
    pub(crate) async fn stop(self, grace: Duration) -> Vec<i32> {
        // The task may have ended by itself (it never does before a stop, but be safe).
        let _ = self.stop.send(grace);
        self.task.await.unwrap_or_default()
    }
}

/// What a probe task reports.
#[derive(Debug)]
enum ProbeReport {
    Ready {
        index: usize,
        run: u64,
        ready: bool,
    },
    LivenessFailed {
        index: usize,
        run: u64,
        reason: String,
    },
}

/// Everything prepared once per incarnation.
struct Prepared {
    ports: BTreeMap<String, u16>,
    /// Per container: the full environment, secrets resolved. Never logged or stored.
    envs: Vec<BTreeMap<String, String>>,
    sandbox: PathBuf,
}

type ExitFuture = BoxFuture<'static, (usize, u64, std::io::Result<std::process::ExitStatus>)>;

struct Run {
    shared: Arc<Shared>,
    object: ContainerGroup,
    uid: String,
    generation: u64,
    prepared: Prepared,
    status: ContainerGroupStatus,
    pgid: Option<i32>,
    runtime: RuntimeRecord,
    pids: Vec<Option<i32>>,
    runs: Vec<u64>,
    started: Vec<Option<tokio::time::Instant>>,
    ever_started: Vec<bool>,
    will_restart: Vec<bool>,
    consecutive_restarts: Vec<u32>,
    ready: Vec<bool>,
    probes: Vec<Vec<JoinHandle<()>>>,
    exits: FuturesUnordered<ExitFuture>,
    timers: FuturesUnordered<BoxFuture<'static, usize>>,
    probe_tx: mpsc::Sender<ProbeReport>,
}

async fn run(
    shared: Arc<Shared>,
    object: ContainerGroup,
    mut stop: oneshot::Receiver<Duration>,
) -> Vec<i32> {
    let n = object.spec.containers.len();
    let uid = object.metadata.uid.clone().unwrap_or_default();
    let generation = object.metadata.generation.unwrap_or_default();
    let mut status = ContainerGroupStatus {
        phase: GroupPhase::Pending,
        containers: object
            .spec
            .containers
            .iter()
            .map(|c| ContainerStatus {
                name: c.name.clone(),
                state: ContainerState::Waiting {
                    reason: "ContainerCreating".into(),
                },
                ..Default::default()
            })
            .collect(),
        host: Some(shared.config.address().to_owned()),
        ..Default::default()
    };
    let prepared = match prepare(&shared, &object) {
        Ok(p) => p,
        Err(reason) => {
            status.message = Some(reason);
            shared.publish_status(object.name(), &uid, generation, status);
            // Nothing started: wait for the stop and leave nothing behind.
            let _ = stop.await;
            return Vec::new();
        }
    };
    let (probe_tx, mut probe_rx) = mpsc::channel(64);
    let mut r = Run {
        shared,
        object,
        uid,
        generation,
        prepared,
        status,
        pgid: None,
        runtime: RuntimeRecord::default(),
        pids: vec![None; n],
        runs: vec![0; n],
        started: vec![None; n],
        ever_started: vec![false; n],
        will_restart: vec![false; n],
        consecutive_restarts: vec![0; n],
        ready: vec![false; n],
        probes: (0..n).map(|_| Vec::new()).collect(),
        exits: FuturesUnordered::new(),
        timers: FuturesUnordered::new(),
        probe_tx,
    };
    for i in 0..n {
        r.start(i);
    }
    r.publish();
    loop {
        tokio::select! {
            grace = &mut stop => {
                let grace = grace.unwrap_or(r.object.spec.termination_grace_period);
                return r.terminate(grace).await;
            }
            Some((i, run, result)) = r.exits.next() => r.exited(i, run, result),
            Some(i) = r.timers.next() => r.start(i),
            Some(report) = probe_rx.recv() => r.probe_report(report),
        }
        r.publish();
    }
}

/// Allocates ports, builds environments, resolves secrets. `Err` is shown in the status.
fn prepare(shared: &Shared, object: &ContainerGroup) -> Result<Prepared, String> {
    let store = &shared.store;
    let name = object.name();
    let sandbox = store.sandbox(name);
    std::fs::create_dir_all(&sandbox).map_err(|e| format!("sandbox {}: {e}", sandbox.display()))?;
    std::fs::create_dir_all(store.log_dir(name)).map_err(|e| format!("log directory: {e}"))?;
    let mut ports = BTreeMap::new();
    for port in object.spec.containers.iter().flat_map(|c| &c.ports) {
        ports.insert(port.name.clone(), free_port(shared.config.address())?);
    }
    let mut base = BTreeMap::new();
    for key in ["PATH", "LANG", "LC_ALL", "TZ"] {
        if let Ok(v) = std::env::var(key) {
            base.insert(key.to_owned(), v);
        }
    }
    base.entry("PATH".to_owned())
        .or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".to_owned());
    base.insert("HOME".to_owned(), sandbox.display().to_string());
    base.insert("TARS_GROUP".to_owned(), name.to_owned());
    for c in &object.spec.containers {
        for p in &c.ports {
            base.insert(p.env_name(), ports[&p.name].to_string());
        }
    }
    let mut envs = Vec::new();
    for c in &object.spec.containers {
        let mut env = base.clone();
        env.insert("TARS_CONTAINER".to_owned(), c.name.clone());
        for var in &c.env {
            let value = match (&var.value, &var.secret) {
                (Some(v), _) => v.clone(),
                (None, Some(secret)) => {
                    crate::secret::resolve(secret, shared.config.secrets_directory())
                        .map_err(|e| format!("container {}: env {}: {e}", c.name, var.name))?
                }
                (None, None) => String::new(),
            };
            env.insert(var.name.clone(), value);
        }
        envs.push(env);
    }
    Ok(Prepared {
        ports,
        envs,
        sandbox,
    })
}

fn free_port(address: &str) -> Result<u16, String> {
    std::net::TcpListener::bind((address, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on {address}: {e}"))
}

fn backoff(restarts: u32) -> Duration {
    BACKOFF_START
        .saturating_mul(1u32 << restarts.min(16))
        .min(BACKOFF_CAP)
}

impl Run {
    fn start(&mut self, i: usize) {
        let container = &self.object.spec.containers[i];
        let name = self.object.name().to_owned();
        self.runs[i] += 1;
        let run = self.runs[i];
        self.will_restart[i] = false;
        let working_dir = container
            .working_dir
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(|| self.prepared.sandbox.clone());
        let log_file = self.shared.store.log_file(&name, &container.name);
        let Some((program, fixed)) = container.command.split_first() else {
            return; // refused at apply time: no command means no process on this backend
        };
        let launch = Launch {
            program,
            args: fixed.iter().chain(&container.args).cloned().collect(),
            env: self.prepared.envs[i].clone(),
            working_dir: &working_dir,
            log_file: &log_file,
        };
        match process::spawn(&launch, self.pgid) {
            Ok((mut child, pgid)) => {
                self.pgid = Some(pgid);
                let pid = child.id().and_then(|p| i32::try_from(p).ok());
                self.pids[i] = pid;
                if let Some(pid) = pid {
                    let ticks = process::read_stat(pid).map(|s| s.start_ticks).unwrap_or(0);
                    self.runtime.pgid = pgid;
                    self.runtime.processes.push((pid, ticks));
                    if let Err(e) = self.shared.store.save_runtime(&name, &self.runtime) {
                        tracing::warn!(backend = "local", group = %name, error = %e, "could not record pids");
                    }
                }
                self.started[i] = Some(tokio::time::Instant::now());
                self.ever_started[i] = true;
                self.status.containers[i].state = ContainerState::Running {
                    started_at: jiff::Timestamp::now(),
                };
                self.ready[i] = container.readiness.is_none();
                self.exits
                    .push(Box::pin(async move { (i, run, child.wait().await) }));
                tracing::debug!(backend = "local", group = %name, container = %container.name, ?pid, "started");
                self.start_probes(i, run, working_dir);
            }
            Err(e) => {
                let reason = format!("cannot start {program}: {e}");
                tracing::warn!(backend = "local", group = %name, container = %container.name, %reason);
                self.status.message = Some(reason);
                self.ever_started[i] = true;
                self.after_exit(
                    i,
                    Termination {
                        exit_code: Some(127),
                        signal: None,
                        reason: "StartError".into(),
                        finished_at: Some(jiff::Timestamp::now()),
                    },
                );
            }
        }
    }

    fn start_probes(&mut self, i: usize, run: u64, working_dir: PathBuf) {
        let container = &self.object.spec.containers[i];
        let ctx = ProbeContext {
            address: self.shared.config.address().to_owned(),
            ports: self.prepared.ports.clone(),
            env: self.prepared.envs[i].clone(),
            working_dir,
        };
        for (probe, liveness) in [(&container.readiness, false), (&container.liveness, true)] {
            if let Some(probe) = probe.clone() {
                let task = tokio::spawn(probe_loop(
                    probe,
                    liveness,
                    ctx.clone(),
                    self.shared.http.clone(),
                    self.probe_tx.clone(),
                    i,
                    run,
                ));
                self.probes[i].push(task);
            }
        }
    }

    fn stop_probes(&mut self, i: usize) {
        for task in self.probes[i].drain(..) {
            task.abort();
        }
    }

    fn exited(&mut self, i: usize, run: u64, result: std::io::Result<std::process::ExitStatus>) {
        if run != self.runs[i] {
            return;
        }
        use std::os::unix::process::ExitStatusExt;
        let (exit_code, signal) = match &result {
            Ok(s) => (s.code(), s.signal()),
            Err(_) => (None, None),
        };
        let reason = match (exit_code, signal) {
            (Some(0), _) => "Completed",
            (Some(_), _) => "Error",
            (None, Some(_)) => "Signaled",
            (None, None) => "Unknown",
        };
        if self.started[i].is_some_and(|s| s.elapsed() >= BACKOFF_RESET_AFTER) {
            self.consecutive_restarts[i] = 0;
        }
        self.after_exit(
            i,
            Termination {
                exit_code,
                signal,
                reason: reason.into(),
                finished_at: Some(jiff::Timestamp::now()),
            },
        );
    }

    /// Records the end of container `i` and schedules its restart when the policy says so.
    fn after_exit(&mut self, i: usize, termination: Termination) {
        self.stop_probes(i);
        self.pids[i] = None;
        self.ready[i] = false;
        let failed = termination.exit_code != Some(0);
        let restart = match self.object.spec.restart_policy {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => failed,
            RestartPolicy::Never => false,
        };
        let cs = &mut self.status.containers[i];
        if restart {
            let delay = backoff(self.consecutive_restarts[i]);
            self.consecutive_restarts[i] += 1;
            cs.restart_count += 1;
            cs.last_termination = Some(termination);
            cs.state = ContainerState::Waiting {
                reason: format!("BackOff: restarting in {delay:?}"),
            };
            self.will_restart[i] = true;
            self.timers.push(Box::pin(async move {
                tokio::time::sleep(delay).await;
                i
            }));
        } else {
            cs.state = ContainerState::Terminated(termination);
        }
    }

    fn probe_report(&mut self, report: ProbeReport) {
        match report {
            ProbeReport::Ready { index, run, ready } if run == self.runs[index] => {
                self.ready[index] = ready && self.pids[index].is_some();
            }
            ProbeReport::LivenessFailed { index, run, reason } if run == self.runs[index] => {
                if let Some(pid) = self.pids[index] {
                    tracing::info!(backend = "local", group = %self.object.name(), container = %self.object.spec.containers[index].name, %reason, "liveness check failed; restarting");
                    // A hung process may ignore SIGTERM; liveness failure means it is not answering.
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            _ => {} // a report of an earlier run of the container
        }
    }

    fn phase(&self) -> GroupPhase {
        let all_done = self
            .status
            .containers
            .iter()
            .zip(&self.will_restart)
            .all(|(c, restarting)| matches!(c.state, ContainerState::Terminated(_)) && !restarting);
        if all_done {
            let ok = self.status.containers.iter().all(
                |c| matches!(&c.state, ContainerState::Terminated(t) if t.exit_code == Some(0)),
            );
            if ok {
                GroupPhase::Succeeded
            } else {
                GroupPhase::Failed
            }
        } else if self.ever_started.iter().all(|s| *s) {
            GroupPhase::Running
        } else {
            GroupPhase::Pending
        }
    }

    fn publish(&mut self) {
        let phase = self.phase();
        let all_running = self.pids.iter().all(Option::is_some);
        let ready = phase == GroupPhase::Running && all_running && self.ready.iter().all(|r| *r);
        for (cs, r) in self.status.containers.iter_mut().zip(&self.ready) {
            cs.ready = *r;
        }
        self.status.phase = phase;
        self.status.endpoints = if ready { self.endpoints() } else { Vec::new() };
        if self.status.ready != ready || self.status.conditions.is_empty() {
            self.status.conditions = vec![Condition {
                type_: "Ready".into(),
                status: ready,
                reason: None,
                message: None,
                last_transition: Some(jiff::Timestamp::now()),
            }];
        }
        self.status.ready = ready;
        if phase.is_terminal() {
            // Nothing of a finished group keeps running, not even a child a container left.
            if let Some(pgid) = self.pgid {
                let _ = process::signal_group(pgid, Signal::SIGKILL);
            }
        }
        self.shared.publish_status(
            self.object.name(),
            &self.uid,
            self.generation,
            self.status.clone(),
        );
    }

    fn endpoints(&self) -> Vec<Endpoint> {
        let address = self.shared.config.address();
        self.object
            .spec
            .containers
            .iter()
            .flat_map(|c| {
                c.ports.iter().map(|p| Endpoint {
                    container: c.name.clone(),
                    port_name: p.name.clone(),
                    address: address.to_owned(),
                    port: self.prepared.ports[&p.name],
                })
            })
            .collect()
    }

    async fn terminate(mut self, grace: Duration) -> Vec<i32> {
        for i in 0..self.probes.len() {
            self.stop_probes(i);
        }
        let left = match self.pgid {
            Some(pgid) => process::terminate_group(pgid, grace).await.unwrap_or_else(|e| {
                tracing::warn!(backend = "local", group = %self.object.name(), error = %e, "could not signal the group");
                process::group_members(pgid)
            }),
            None => Vec::new(),
        };
        // Reap the direct children so none stays a zombie.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while self.exits.next().await.is_some() {}
        })
        .await;
        left
    }
}

async fn probe_loop(
    probe: Probe,
    liveness: bool,
    ctx: ProbeContext,
    http: reqwest::Client,
    tx: mpsc::Sender<ProbeReport>,
    index: usize,
    run: u64,
) {
    tokio::time::sleep(probe.initial_delay).await;
    let (mut successes, mut failures) = (0u32, 0u32);
    let mut healthy: Option<bool> = None;
    loop {
        match probe::run(&probe.check, &ctx, &http, probe.timeout).await {
            Ok(()) => {
                successes += 1;
                failures = 0;
                if successes >= probe.success_threshold && healthy != Some(true) {
                    healthy = Some(true);
                    if !liveness
                        && tx
                            .send(ProbeReport::Ready {
                                index,
                                run,
                                ready: true,
                            })
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
            }
            Err(reason) => {
                failures += 1;
                successes = 0;
                if failures >= probe.failure_threshold && healthy != Some(false) {
                    healthy = Some(false);
                    let report = if liveness {
                        ProbeReport::LivenessFailed { index, run, reason }
                    } else {
                        ProbeReport::Ready {
                            index,
                            run,
                            ready: false,
                        }
                    };
                    if tx.send(report).await.is_err() {
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(probe.period).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(10), BACKOFF_CAP);
        assert_eq!(backoff(40), BACKOFF_CAP);
    }
}
