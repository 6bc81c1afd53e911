//! The supervisor of one incarnation of a group: starts its containers in one process group,
//! restarts them per the restart policy with capped exponential backoff, runs readiness and
//! liveness checks, reports status, and stops everything on request. On start it can adopt the
//! processes a previous tars process left running (see [`Adoption`]).

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
use crate::store::{ProcessRecord, RuntimeRecord};

/// First restart delay; doubled for each further restart, up to [`BACKOFF_CAP`].
const BACKOFF_START: Duration = Duration::from_millis(500);
/// Longest restart delay.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// A container that ran this long has its backoff reset.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);
/// How often the exit of an adopted process (not a child of this tars process) is checked.
const ADOPTED_POLL: Duration = Duration::from_millis(100);

/// What a previous tars process left of this incarnation, taken over on start.
#[derive(Debug, Clone)]
pub(crate) struct Adoption {
    /// Its pids and ports.
    pub(crate) record: RuntimeRecord,
    /// The status last stored, for restart counts.
    pub(crate) status: Option<ContainerGroupStatus>,
}

/// Handle of a running supervisor.
pub(crate) struct Supervisor {
    stop: oneshot::Sender<Duration>,
    task: JoinHandle<Vec<i32>>,
}

impl Supervisor {
    /// Starts supervising `object` (its uid and generation must be set), adopting what a
    /// previous tars process left when `adoption` is given.
    pub(crate) fn start(
        shared: Arc<Shared>,
        object: ContainerGroup,
        adoption: Option<Adoption>,
    ) -> Supervisor {
        let (stop, stop_rx) = oneshot::channel();
        let task = shared.spawn(run(shared.clone(), object, adoption, stop_rx));
        Supervisor { stop, task }
    }

    /// Ends the supervisor without touching its processes, which a later tars process adopts
    /// (see `LocalBackend::abandon` and `Backend::shutdown`).
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

/// How a container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// The program exited with this code (128 + n when signal n ended it).
    Code(i32),
    /// The wrapper itself was ended by this signal.
    Signal(i32),
    /// It vanished without recording how (the host rebooted, or it was killed with its wrapper
    /// while tars was down).
    Lost,
}

type ExitFuture = BoxFuture<'static, (usize, u64, Exit)>;

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
    adoption: Option<Adoption>,
    mut stop: oneshot::Receiver<Duration>,
) -> Vec<i32> {
    let n = object.spec.containers.len();
    let uid = object.metadata.uid.clone().unwrap_or_default();
    let generation = object.metadata.generation.unwrap_or_default();
    let status = ContainerGroupStatus {
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
    let reuse_ports = adoption.as_ref().map(|a| a.record.ports.clone());
    let prepared = match prepare(&shared, &object, reuse_ports) {
        Ok(p) => p,
        Err(reason) => {
            let mut status = status;
            status.message = Some(reason);
            shared.publish_status(object.name(), &uid, generation, status);
            // Nothing started: wait for the stop and leave nothing behind.
            let _ = stop.await;
            return Vec::new();
        }
    };
    let (probe_tx, mut probe_rx) = mpsc::channel(64);
    let mut r = Run {
        runtime: RuntimeRecord {
            uid: uid.clone(),
            generation,
            pgid: None,
            ports: prepared.ports.clone(),
            processes: vec![None; n],
        },
        shared,
        object,
        uid,
        generation,
        prepared,
        status,
        pgid: None,
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
    match adoption {
        Some(adoption) => r.adopt(adoption),
        None => (0..n).for_each(|i| r.start(i)),
    }
    r.save_runtime();
    r.publish();
    loop {
        tokio::select! {
            grace = &mut stop => {
                let grace = grace.unwrap_or(r.object.spec.termination_grace_period);
                return r.terminate(grace).await;
            }
            Some((i, run, exit)) = r.exits.next() => r.exited(i, run, exit),
            Some(i) = r.timers.next() => {
                r.start(i);
                r.save_runtime();
            }
            Some(report) = probe_rx.recv() => r.probe_report(report),
        }
        r.publish();
    }
}

/// Allocates ports (or reuses those of adopted processes), builds environments, resolves
/// secrets. `Err` is shown in the status.
fn prepare(
    shared: &Shared,
    object: &ContainerGroup,
    reuse_ports: Option<BTreeMap<String, u16>>,
) -> Result<Prepared, String> {
    let store = &shared.store;
    let name = object.name();
    let sandbox = store.sandbox(name);
    store.prepare_dirs(name).map_err(|e| e.to_string())?;
    let mut ports = reuse_ports.unwrap_or_default();
    for port in object.spec.containers.iter().flat_map(|c| &c.ports) {
        if !ports.contains_key(&port.name) {
            ports.insert(port.name.clone(), free_port(shared.config.address())?);
        }
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

/// Waits for the exit of a process this tars process did not start, by polling.
fn watch_adopted(i: usize, run: u64, rec: ProcessRecord, exit_file: PathBuf) -> ExitFuture {
    Box::pin(async move {
        while process::is_alive(rec.pid, rec.start_ticks) {
            tokio::time::sleep(ADOPTED_POLL).await;
        }
        let exit = process::read_exit_code(&exit_file).map_or(Exit::Lost, Exit::Code);
        (i, run, exit)
    })
}

impl Run {
    fn name(&self) -> &str {
        self.object.name()
    }

    fn save_runtime(&mut self) {
        self.runtime.pgid = self.pgid;
        if let Err(e) = self
            .shared
            .store
            .save_runtime(self.object.name(), &self.runtime)
        {
            tracing::warn!(backend = "local", group = %self.object.name(), error = %e, "could not record pids");
        }
    }

    /// Takes over the processes of a previous tars process: live ones are watched until they
    /// end; ended ones are collected with the exit code their wrapper recorded (or as lost),
    /// then handled by the restart policy; containers that never started are started.
    fn adopt(&mut self, adoption: Adoption) {
        // Containers that had ended for good (no restart pending) when tars went down.
        let mut finished: Vec<Option<Termination>> = vec![None; self.status.containers.len()];
        if let Some(old) = adoption.status {
            for (i, (cs, old)) in self
                .status
                .containers
                .iter_mut()
                .zip(old.containers)
                .enumerate()
            {
                cs.restart_count = old.restart_count;
                cs.last_termination = old.last_termination;
                if let ContainerState::Terminated(t) = old.state {
                    finished[i] = Some(t);
                }
            }
        }
        self.pgid = adoption.record.pgid;
        for (i, ended) in finished.into_iter().enumerate() {
            let rec = adoption.record.processes.get(i).cloned().flatten();
            let container = self.object.spec.containers[i].name.clone();
            let exit_file = self.shared.store.exit_file(self.name(), &container);
            match rec {
                Some(rec) if process::is_alive(rec.pid, rec.start_ticks) => {
                    self.runs[i] += 1;
                    let run = self.runs[i];
                    self.pids[i] = Some(rec.pid);
                    self.ever_started[i] = true;
                    self.started[i] = Some(tokio::time::Instant::now());
                    self.status.containers[i].state = ContainerState::Running {
                        started_at: rec.started_at.unwrap_or_else(jiff::Timestamp::now),
                    };
                    self.ready[i] = self.object.spec.containers[i].readiness.is_none();
                    self.runtime.processes[i] = Some(rec.clone());
                    tracing::info!(backend = "local", group = %self.name(), %container, pid = rec.pid, "adopted a running container");
                    self.exits.push(watch_adopted(i, run, rec, exit_file));
                    self.start_probes(i, run, self.working_dir(i));
                }
                Some(rec) => {
                    // It ended while no tars process was watching.
                    self.runs[i] += 1;
                    self.ever_started[i] = true;
                    let exit = process::read_exit_code(&exit_file).map_or(Exit::Lost, Exit::Code);
                    tracing::info!(backend = "local", group = %self.name(), %container, pid = rec.pid, ?exit, "a container ended while tars was down");
                    self.after_exit(i, termination(exit));
                }
                // Ended before tars went down and not to be restarted: it stays ended.
                None if ended.is_some() => {
                    self.runs[i] += 1;
                    self.ever_started[i] = true;
                    if let Some(t) = ended {
                        self.status.containers[i].state = ContainerState::Terminated(t);
                    }
                }
                None => self.start(i),
            }
        }
    }

    fn working_dir(&self, i: usize) -> PathBuf {
        self.object.spec.containers[i]
            .working_dir
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(|| self.prepared.sandbox.clone())
    }

    fn start(&mut self, i: usize) {
        let container = self.object.spec.containers[i].clone();
        let name = self.object.name().to_owned();
        self.runs[i] += 1;
        let run = self.runs[i];
        self.will_restart[i] = false;
        let working_dir = self.working_dir(i);
        let log_file = self.shared.store.log_file(&name, &container.name);
        let exit_file = self.shared.store.exit_file(&name, &container.name);
        let _ = std::fs::remove_file(&exit_file);
        let Some((program, fixed)) = container.command.split_first() else {
            return; // refused at apply time: no command means no process on this backend
        };
        let launch = Launch {
            program,
            args: fixed.iter().chain(&container.args).cloned().collect(),
            env: self.prepared.envs[i].clone(),
            working_dir: &working_dir,
            log_file: &log_file,
            exit_file: &exit_file,
        };
        self.ever_started[i] = true;
        match process::spawn(&launch, self.pgid) {
            Ok((mut child, pgid)) => {
                self.pgid = Some(pgid);
                let pid = child.id().and_then(|p| i32::try_from(p).ok());
                self.pids[i] = pid;
                let started_at = jiff::Timestamp::now();
                self.runtime.processes[i] = pid.map(|pid| ProcessRecord {
                    pid,
                    start_ticks: process::read_stat(pid).map_or(0, |s| s.start_ticks),
                    started_at: Some(started_at),
                });
                self.started[i] = Some(tokio::time::Instant::now());
                self.status.containers[i].state = ContainerState::Running { started_at };
                self.ready[i] = container.readiness.is_none();
                self.exits.push(Box::pin(async move {
                    use std::os::unix::process::ExitStatusExt;
                    let exit = match child.wait().await {
                        Ok(s) => match (s.code(), s.signal()) {
                            (Some(code), _) => Exit::Code(code),
                            (None, Some(sig)) => Exit::Signal(sig),
                            (None, None) => Exit::Lost,
                        },
                        Err(_) => Exit::Lost,
                    };
                    (i, run, exit)
                }));
                tracing::debug!(backend = "local", group = %name, container = %container.name, ?pid, "started");
                self.start_probes(i, run, working_dir);
            }
            Err(e) => {
                let reason = format!("cannot start {program}: {e}");
                tracing::warn!(backend = "local", group = %name, container = %container.name, %reason);
                self.status.message = Some(reason);
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

    fn exited(&mut self, i: usize, run: u64, exit: Exit) {
        if run != self.runs[i] {
            return;
        }
        if self.started[i].is_some_and(|s| s.elapsed() >= BACKOFF_RESET_AFTER) {
            self.consecutive_restarts[i] = 0;
        }
        self.after_exit(i, termination(exit));
        self.save_runtime();
    }

    /// Records the end of container `i` and schedules its restart when the policy says so.
    fn after_exit(&mut self, i: usize, termination: Termination) {
        self.stop_probes(i);
        self.pids[i] = None;
        self.runtime.processes[i] = None;
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
                if let Some(wrapper) = self.pids[index] {
                    tracing::info!(backend = "local", group = %self.object.name(), container = %self.object.spec.containers[index].name, %reason, "liveness check failed; restarting");
                    // A hung program may ignore SIGTERM: a failed liveness check means it no
                    // longer answers. Its wrapper records the exit and ends.
                    for pid in process::children_of(wrapper) {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    }
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
            Some(pgid) => process::terminate_group(pgid, grace)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(backend = "local", group = %self.object.name(), error = %e, "could not signal the group");
                    process::group_members(pgid)
                }),
            None => Vec::new(),
        };
        // Collect the exits (own children are reaped so none stays a zombie).
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while self.exits.next().await.is_some() {}
        })
        .await;
        left
    }
}

/// The termination a container's exit is reported as.
fn termination(exit: Exit) -> Termination {
    let (exit_code, signal, reason) = match exit {
        Exit::Code(0) => (Some(0), None, "Completed"),
        Exit::Code(c) if c > 128 => (Some(c), Some(c - 128), "Signaled"),
        Exit::Code(c) => (Some(c), None, "Error"),
        Exit::Signal(s) => (None, Some(s), "Signaled"),
        Exit::Lost => (None, None, "Lost"),
    };
    Termination {
        exit_code,
        signal,
        reason: reason.into(),
        finished_at: Some(jiff::Timestamp::now()),
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
