//! The executor: one event loop owning every task's state. Events from the agent's stream,
//! process exits, health reports and timers all arrive as messages; nothing else mutates state.
//!
//! Behaviour (as Mesos' default executor, `src/launcher/default_executor.cpp`):
//! - `LAUNCH_GROUP` (and `LAUNCH`, as a group of one): `TASK_STARTING` for every task, then each
//!   task's process is started and reported `TASK_RUNNING`. A task that cannot start is
//!   `TASK_FAILED` and the rest of its group `TASK_KILLED`.
//! - A task that exits 0 is `TASK_FINISHED`; one that exits otherwise is `TASK_FAILED` (message
//!   "Command exited with status N" / "terminated with signal N") and the rest of its group is
//!   killed (`TASK_KILLED`).
//! - `KILL` of any task kills its whole group: SIGTERM to each task's process group
//!   (`TASK_KILLING` first if the framework has that capability), SIGKILL after the kill
//!   policy's grace period (the `KILL` event's, else the task's, else 3 s).
//! - General checks (`TaskInfo.check`) report their result as `check_status` on `TASK_RUNNING`
//!   updates: empty on the first, then each time it changes.
//! - Health checks report `TASK_RUNNING` with `healthy` on each change; too many failures kill
//!   the group. Later updates of the task carry its last `healthy`.
//! - Every update has a fresh uuid and is kept until `ACKNOWLEDGED`; unacknowledged updates
//!   (and tasks none of whose updates was acknowledged) go with every re-`SUBSCRIBE`.
//! - Disconnected: with checkpointing, re-subscribe with a growing pause bounded by half of
//!   `MESOS_SUBSCRIPTION_BACKOFF_MAX`, for up to `MESOS_RECOVERY_TIMEOUT`; without it (or after
//!   that), kill every task and exit, as the executor API doc says.
//! - `SHUTDOWN` (or SIGTERM): kill everything, wait (bounded) for the acknowledgements, exit 0.
//! - Exits 0 once every task is terminal and every update acknowledged.

use crate::agent::{Agent, StreamError, StreamMessage};
use crate::check;
use crate::config::Config;
use crate::health::{self, Report, Target, Tracker};
use crate::process::{self, LaunchError};
use crate::status;
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::process::ExitStatus;
use std::time::Duration;
use tars_backend_mesos::v1::executor::{Call, Event, EventType, Update};
use tars_backend_mesos::v1::mesos::{
    CheckInfo, CheckStatusInfo, FrameworkCapabilityType, HealthCheck, Json, KillPolicy, TaskId,
    TaskInfo, TaskState, TaskStatus, TaskStatusReason,
};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// Kill grace period when neither the `KILL` nor the task says (Mesos' default).
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(3);

/// First pause before re-subscribing; doubled per attempt up to the backoff maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How long a first subscription is retried when the framework does not checkpoint.
const FIRST_SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);

/// What happens to the executor, besides agent events.
#[derive(Debug)]
enum Message {
    Exited {
        task: String,
        status: std::io::Result<ExitStatus>,
    },
    Health {
        task: String,
        report: Report,
    },
    Escalate {
        group: usize,
    },
    Resubscribe {
        generation: u64,
    },
    Check {
        task: String,
        status: CheckStatusInfo,
    },
    AckDeadline,
}

#[derive(Debug)]
struct Task {
    info: TaskInfo,
    group: usize,
    state: TaskState,
    pgid: Option<u32>,
    exited: bool,
    acknowledged_any: bool,
    healthy: Option<bool>,
    kill_message: Option<String>,
    health: Option<AbortHandle>,
    check_status: Option<Json>,
    checker: Option<AbortHandle>,
}

impl Task {
    fn stop_checks(&mut self) {
        for handle in [self.health.take(), self.checker.take()]
            .into_iter()
            .flatten()
        {
            handle.abort();
        }
    }
}

#[derive(Debug, Default)]
struct Group {
    tasks: Vec<String>,
    killing: bool,
}

/// The executor's state.
struct Executor {
    config: Config,
    agent: Agent,
    calls: mpsc::UnboundedSender<Call>,
    messages: mpsc::UnboundedSender<Message>,
    stream: mpsc::UnboundedSender<StreamMessage>,
    tasks: BTreeMap<String, Task>,
    groups: Vec<Group>,
    unacknowledged: Vec<TaskStatus>,
    generation: u64,
    connected: bool,
    ever_subscribed: bool,
    /// The uuids of the updates the pending `SUBSCRIBE` carries.
    in_subscribe: Vec<String>,
    disconnected_at: Option<Instant>,
    attempts: u32,
    killing_state: bool,
    shutting_down: bool,
    ack_deadline_passed: bool,
    abandoned: bool,
    launched_any: bool,
}

/// Runs the executor until it is done; returns the process' exit code.
pub async fn run(config: Config) -> Result<i32, reqwest::Error> {
    let agent = Agent::new(config.endpoint.clone())?;
    let (calls, calls_rx) = mpsc::unbounded_channel();
    tokio::spawn(agent.clone().send_in_order(calls_rx, 10));
    let (messages, mut messages_rx) = mpsc::unbounded_channel();
    let (stream, mut stream_rx) = mpsc::unbounded_channel();
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut executor = Executor {
        config,
        agent,
        calls,
        messages,
        stream,
        tasks: BTreeMap::new(),
        groups: Vec::new(),
        unacknowledged: Vec::new(),
        generation: 0,
        connected: false,
        ever_subscribed: false,
        in_subscribe: Vec::new(),
        disconnected_at: None,
        attempts: 0,
        killing_state: false,
        shutting_down: false,
        ack_deadline_passed: false,
        abandoned: false,
        launched_any: false,
    };
    executor.subscribe();
    loop {
        tokio::select! {
            Some(message) = stream_rx.recv() => executor.on_stream(message),
            Some(message) = messages_rx.recv() => executor.on_message(message),
            Some(()) = async { match sigterm.as_mut() { Some(s) => s.recv().await, None => None } } => {
                tracing::info!("SIGTERM: shutting down");
                executor.shutdown();
            }
        }
        if let Some(code) = executor.finished() {
            tracing::info!("done, exiting with {code}");
            return Ok(code);
        }
    }
}

impl Executor {
    fn subscribe(&mut self) {
        self.generation += 1;
        let unacknowledged_tasks = self
            .tasks
            .values()
            .filter(|t| !t.acknowledged_any)
            .map(|t| t.info.clone())
            .collect();
        self.in_subscribe = self
            .unacknowledged
            .iter()
            .filter_map(|s| s.uuid.clone())
            .collect();
        let unacknowledged_updates = self
            .unacknowledged
            .iter()
            .map(|status| Update {
                status: status.clone(),
            })
            .collect();
        let call = Call::subscribe(
            self.config.framework_id.clone(),
            self.config.executor_id.clone(),
            unacknowledged_tasks,
            unacknowledged_updates,
        );
        tracing::info!(
            "executor {}: SUBSCRIBE #{} to {} ({} unacknowledged updates)",
            self.config.executor_id.value,
            self.generation,
            self.config.endpoint,
            self.unacknowledged.len()
        );
        tokio::spawn(
            self.agent
                .clone()
                .subscribe(call, self.generation, self.stream.clone()),
        );
    }

    fn on_stream(&mut self, message: StreamMessage) {
        match message {
            StreamMessage::Event(generation, event) if generation == self.generation => {
                self.on_event(*event);
            }
            StreamMessage::Closed(generation, error) if generation == self.generation => {
                self.on_disconnected(&error);
            }
            _ => {} // an older subscription's
        }
    }

    fn on_event(&mut self, event: Event) {
        match event.kind {
            EventType::Subscribed => {
                self.connected = true;
                self.ever_subscribed = true;
                self.disconnected_at = None;
                self.attempts = 0;
                // Updates made between the SUBSCRIBE and now are in neither: send them.
                let missed: Vec<TaskStatus> = self
                    .unacknowledged
                    .iter()
                    .filter(|s| {
                        s.uuid
                            .as_ref()
                            .is_none_or(|u| !self.in_subscribe.contains(u))
                    })
                    .cloned()
                    .collect();
                for status in missed {
                    let call = Call::update(
                        self.config.framework_id.clone(),
                        self.config.executor_id.clone(),
                        status,
                    );
                    let _ = self.calls.send(call);
                }
                if let Some(subscribed) = event.subscribed {
                    self.killing_state = subscribed
                        .framework_info
                        .capabilities
                        .iter()
                        .any(|c| c.kind == FrameworkCapabilityType::TaskKillingState);
                    tracing::info!(
                        "SUBSCRIBED: executor {} of framework {} on agent {}",
                        subscribed.executor_info.executor_id.value,
                        self.config.framework_id.value,
                        subscribed.agent_info.hostname
                    );
                }
            }
            EventType::LaunchGroup => {
                if let Some(launch) = event.launch_group {
                    self.launch_group(launch.task_group.tasks);
                }
            }
            EventType::Launch => {
                if let Some(launch) = event.launch {
                    self.launch_group(vec![launch.task]);
                }
            }
            EventType::Kill => {
                if let Some(kill) = event.kill {
                    self.kill(&kill.task_id, kill.kill_policy);
                }
            }
            EventType::Acknowledged => {
                if let Some(ack) = event.acknowledged {
                    self.unacknowledged
                        .retain(|s| s.uuid.as_deref() != Some(ack.uuid.as_str()));
                    if let Some(task) = self.tasks.get_mut(&ack.task_id.value) {
                        task.acknowledged_any = true;
                    }
                }
            }
            EventType::Shutdown => {
                tracing::info!("SHUTDOWN");
                self.shutdown();
            }
            EventType::Error => {
                tracing::error!("ERROR from the agent: {:?}", event.error.map(|e| e.message));
            }
            EventType::Message => tracing::info!("MESSAGE from the scheduler (ignored)"),
            EventType::Heartbeat | EventType::Unknown => {}
        }
    }

    fn on_disconnected(&mut self, error: &StreamError) {
        self.connected = false;
        tracing::warn!("subscription #{} ended: {error}", self.generation);
        if self.shutting_down || self.abandoned {
            return;
        }
        let now = Instant::now();
        let since = *self.disconnected_at.get_or_insert(now);
        let limit = if self.config.checkpoint {
            self.config.recovery_timeout
        } else if !self.ever_subscribed {
            FIRST_SUBSCRIBE_TIMEOUT
        } else {
            Duration::ZERO
        };
        if now.saturating_duration_since(since) >= limit {
            tracing::error!(
                "disconnected from the agent ({}): killing every task and exiting",
                if self.config.checkpoint || !self.ever_subscribed {
                    "recovery timeout"
                } else {
                    "the framework does not checkpoint"
                }
            );
            self.abandoned = true;
            self.kill_all("the executor lost its agent");
            return;
        }
        let pause = backoff(self.attempts, self.config.subscription_backoff_max);
        self.attempts += 1;
        let generation = self.generation;
        self.after(pause, Message::Resubscribe { generation });
    }

    fn on_message(&mut self, message: Message) {
        match message {
            Message::Exited { task, status } => self.on_exit(&task, status),
            Message::Health { task, report } => self.on_health(&task, report),
            Message::Escalate { group } => {
                for id in &self.groups[group].tasks {
                    if let Some(task) = self.tasks.get(id)
                        && !task.exited
                        && let Some(pgid) = task.pgid
                    {
                        tracing::warn!("task {id}: grace period over, SIGKILL");
                        process::signal_group(pgid, Signal::SIGKILL);
                    }
                }
            }
            Message::Resubscribe { generation } => {
                if generation == self.generation && !self.connected && !self.abandoned {
                    self.subscribe();
                }
            }
            Message::Check { task, status } => self.on_check(&task, &status),
            Message::AckDeadline => self.ack_deadline_passed = true,
        }
    }

    fn after(&self, pause: Duration, message: Message) {
        let messages = self.messages.clone();
        tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            let _ = messages.send(message);
        });
    }

    /// Records and sends an update of `id`.
    fn update(
        &mut self,
        id: &str,
        state: TaskState,
        message: Option<String>,
        reason: Option<TaskStatusReason>,
    ) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        task.state = state;
        let mut status = status::status(
            task.info.task_id.clone(),
            self.config.executor_id.clone(),
            state,
            message,
            reason,
            task.healthy,
        );
        // As Mesos' executors: the check's latest result rides on TASK_RUNNING updates only.
        if state == TaskState::TaskRunning {
            status.check_status = task.check_status.clone();
        }
        tracing::info!(
            "task {id}: {state:?}{}",
            status
                .message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        );
        self.unacknowledged.push(status.clone());
        if self.connected {
            let call = Call::update(
                self.config.framework_id.clone(),
                self.config.executor_id.clone(),
                status,
            );
            let _ = self.calls.send(call);
        }
    }

    fn launch_group(&mut self, infos: Vec<TaskInfo>) {
        self.launched_any = true;
        let group = self.groups.len();
        let mut ids = Vec::new();
        for info in infos {
            let id = info.task_id.value.clone();
            if self.tasks.contains_key(&id) {
                tracing::error!("task {id} launched twice: ignored");
                continue;
            }
            ids.push(id.clone());
            self.tasks.insert(
                id,
                Task {
                    info,
                    group,
                    state: TaskState::TaskStaging,
                    pgid: None,
                    exited: false,
                    acknowledged_any: false,
                    healthy: None,
                    kill_message: None,
                    health: None,
                    check_status: None,
                    checker: None,
                },
            );
        }
        self.groups.push(Group {
            tasks: ids.clone(),
            killing: false,
        });
        for id in &ids {
            self.update(id, TaskState::TaskStarting, None, None);
        }
        for id in &ids {
            if let Err(error) = self.start(id) {
                let reason = match error {
                    LaunchError::Unsupported(_) => TaskStatusReason::ReasonTaskInvalid,
                    _ => TaskStatusReason::ReasonContainerLaunchFailed,
                };
                self.update(
                    id,
                    TaskState::TaskFailed,
                    Some(error.to_string()),
                    Some(reason),
                );
                self.kill_group(group, None, format!("task {id} failed to start"));
                return;
            }
            self.update(id, TaskState::TaskRunning, None, None);
        }
    }

    /// Starts task `id`'s process, its exit watcher and its health checker.
    fn start(&mut self, id: &str) -> Result<(), LaunchError> {
        let sandbox = self.config.sandbox.clone();
        let path = self.config.path.clone();
        let messages = self.messages.clone();
        let Some(task) = self.tasks.get_mut(id) else {
            return Ok(());
        };
        let mut child = process::spawn(&task.info, &sandbox, &path)?;
        let started = Instant::now();
        task.pgid = child.id();
        let name = id.to_owned();
        let exits = messages.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = exits.send(Message::Exited { task: name, status });
        });
        if task.info.health_check.is_none() && task.info.check.is_none() {
            return Ok(());
        }
        let dir = process::task_dir(&sandbox, id)?;
        let command = process::check_supported(&task.info)?;
        let env = process::task_env(&path, &dir, id, command)?;
        let target = Target { dir, env };
        if let Some(json) = &task.info.health_check {
            match serde_json::from_value::<HealthCheck>(json.clone()) {
                Ok(check) => {
                    let (target, name, messages) =
                        (target.clone(), id.to_owned(), messages.clone());
                    let handle = tokio::spawn(async move {
                        tokio::time::sleep(health::seconds(check.delay())).await;
                        let mut tracker = Tracker::new(&check, started);
                        loop {
                            let healthy = health::probe(&check, &target).await;
                            if let Some(report) = tracker.observe(healthy, Instant::now()) {
                                let _ = messages.send(Message::Health {
                                    task: name.clone(),
                                    report,
                                });
                                if report.kill {
                                    return;
                                }
                            }
                            tokio::time::sleep(health::seconds(check.interval())).await;
                        }
                    });
                    task.health = Some(handle.abort_handle());
                }
                Err(error) => tracing::warn!("task {id}: health check not understood: {error}"),
            }
        }
        if let Some(json) = &task.info.check {
            match serde_json::from_value::<CheckInfo>(json.clone()) {
                Ok(check) => {
                    // The first TASK_RUNNING carries the check's type with an empty result.
                    let mut last = check::empty_status(&check);
                    task.check_status = serde_json::to_value(&last).ok();
                    let name = id.to_owned();
                    let handle = tokio::spawn(async move {
                        tokio::time::sleep(health::seconds(check.delay())).await;
                        loop {
                            let status = check::run(&check, &target).await;
                            if status != last {
                                last = status.clone();
                                let _ = messages.send(Message::Check {
                                    task: name.clone(),
                                    status,
                                });
                            }
                            tokio::time::sleep(health::seconds(check.interval())).await;
                        }
                    });
                    task.checker = Some(handle.abort_handle());
                }
                Err(error) => tracing::warn!("task {id}: check not understood: {error}"),
            }
        }
        Ok(())
    }

    fn on_exit(&mut self, id: &str, status: std::io::Result<ExitStatus>) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        task.exited = true;
        task.stop_checks();
        // Whatever the task left behind in its process group goes with it.
        if let Some(pgid) = task.pgid {
            process::signal_group(pgid, Signal::SIGKILL);
        }
        if task.state.is_terminal() {
            return;
        }
        let group = task.group;
        let killing = self.groups[group].killing;
        let (state, message) = match status {
            Ok(status) => {
                let state = status::terminal_state(status, killing);
                let message = match (&task.kill_message, state) {
                    (Some(why), TaskState::TaskKilled) => {
                        format!("{why}; {}", status::describe_exit(status))
                    }
                    _ => status::describe_exit(status),
                };
                (state, message)
            }
            Err(error) => (
                TaskState::TaskFailed,
                format!("cannot wait for the process: {error}"),
            ),
        };
        self.update(id, state, Some(message), None);
        if state == TaskState::TaskFailed {
            self.kill_group(group, None, format!("task {id} failed"));
        }
    }

    fn on_health(&mut self, id: &str, report: Report) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        if task.state.is_terminal() || self.groups[task.group].killing {
            return;
        }
        task.healthy = Some(report.healthy);
        let group = task.group;
        let message = (!report.healthy).then(|| "health check failed".to_owned());
        self.update(
            id,
            TaskState::TaskRunning,
            message,
            Some(TaskStatusReason::ReasonTaskHealthCheckStatusUpdated),
        );
        if report.kill {
            self.kill_group(group, None, format!("task {id} failed its health check"));
        }
    }

    fn on_check(&mut self, id: &str, status: &CheckStatusInfo) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        if task.state.is_terminal() || self.groups[task.group].killing {
            return;
        }
        task.check_status = serde_json::to_value(status).ok();
        self.update(
            id,
            TaskState::TaskRunning,
            None,
            Some(TaskStatusReason::ReasonTaskCheckStatusUpdated),
        );
    }

    fn kill(&mut self, task_id: &TaskId, policy: Option<KillPolicy>) {
        match self.tasks.get(&task_id.value) {
            Some(task) => {
                let group = task.group;
                self.kill_group(
                    group,
                    policy,
                    format!("killed (KILL of task {})", task_id.value),
                );
            }
            None => tracing::warn!("KILL of unknown task {}", task_id.value),
        }
    }

    fn kill_all(&mut self, why: &str) {
        for group in 0..self.groups.len() {
            self.kill_group(group, None, why.to_owned());
        }
    }

    /// Kills every task of `group` not terminal yet: SIGTERM now, SIGKILL after the grace
    /// period. Tasks that never started are `TASK_KILLED` at once.
    fn kill_group(&mut self, group: usize, policy: Option<KillPolicy>, why: String) {
        if self.groups[group].killing {
            return;
        }
        self.groups[group].killing = true;
        let mut grace = Duration::ZERO;
        let mut signalled = false;
        for id in self.groups[group].tasks.clone() {
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            if task.state.is_terminal() || task.exited {
                continue;
            }
            task.kill_message = Some(why.clone());
            task.stop_checks();
            let Some(pgid) = task.pgid else {
                self.update(&id, TaskState::TaskKilled, Some(why.clone()), None);
                continue;
            };
            let task_grace = policy
                .or(task.info.kill_policy)
                .and_then(|p| p.grace_period)
                .map_or(DEFAULT_GRACE_PERIOD, |d| {
                    Duration::from_nanos(u64::try_from(d.nanoseconds).unwrap_or(0))
                });
            grace = grace.max(task_grace);
            signalled = true;
            if self.killing_state {
                self.update(&id, TaskState::TaskKilling, Some(why.clone()), None);
            }
            process::signal_group(pgid, Signal::SIGTERM);
        }
        if signalled {
            if self.shutting_down {
                // Leave the agent's shutdown grace period a second for the updates.
                let limit = self
                    .config
                    .shutdown_grace_period
                    .saturating_sub(Duration::from_secs(1));
                grace = grace.min(limit);
            }
            self.after(grace, Message::Escalate { group });
        }
    }

    fn shutdown(&mut self) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        self.kill_all("the executor was shut down");
        let wait = self
            .config
            .shutdown_grace_period
            .saturating_sub(Duration::from_millis(500));
        self.after(wait, Message::AckDeadline);
    }

    /// The exit code, once the executor has nothing left to do.
    fn finished(&self) -> Option<i32> {
        let all_terminal = self
            .tasks
            .values()
            .all(|t| t.state.is_terminal() && (t.pgid.is_none() || t.exited));
        if !all_terminal {
            return None;
        }
        if self.abandoned {
            return Some(1);
        }
        let acknowledged = self.unacknowledged.is_empty();
        if self.shutting_down && (acknowledged || self.ack_deadline_passed || !self.connected) {
            return Some(0);
        }
        (self.launched_any && acknowledged).then_some(0)
    }
}

/// The pause before re-subscription attempt `attempt` (0-based): 100 ms doubling, at most half
/// of `max` (the agent's `MESOS_SUBSCRIPTION_BACKOFF_MAX`, its executor re-registration timeout:
/// a recovering agent then sees at least two attempts within it).
pub fn backoff(attempt: u32, max: Duration) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .min(max / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resubscription_backoff_doubles_up_to_half_the_agents_maximum() {
        let max = Duration::from_secs(4);
        let pauses: Vec<_> = (0..7).map(|a| backoff(a, max).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff(1000, max), Duration::from_secs(2));
        assert_eq!(
            backoff(3, Duration::from_millis(250)),
            Duration::from_millis(125)
        );
    }
}
