//! The jobs, their runs and the scheduling: what Chronos' JobScheduler and TaskManager do,
//! with a local process in place of a Mesos task.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::sync::Notify;

use crate::DoubleConfig;
use crate::schedule::{self, Repeating};
use crate::wire::{Counters, JobDef};

/// A task's state as Chronos' task statistics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Started, not ended.
    Running,
    /// Exited 0.
    Success,
    /// Exited otherwise, was killed, or could not start.
    Fail,
}

/// One task (one attempt of one run).
#[derive(Debug, Clone)]
pub struct Task {
    /// `ct:<due ms>:<attempt>:<job>:`.
    pub id: String,
    /// The job's name.
    pub job: String,
    /// When it started.
    pub start: Timestamp,
    /// When it ended.
    pub end: Option<Timestamp>,
    /// How it stands.
    pub status: TaskStatus,
    /// The exit code, when it exited.
    pub exit_code: Option<i32>,
}

struct Job {
    def: JobDef,
    counters: Counters,
    repeating: Option<Repeating>,
    epsilon: Span,
    epsilon_text: String,
    tz: TimeZone,
    /// Parents that succeeded since this job last ran (dependent jobs).
    parents_done: BTreeSet<String>,
}

struct Running {
    pid: i32,
    job: String,
    killed: bool,
}

struct Retry {
    at: Timestamp,
    job: String,
    due_ms: i64,
    attempt: u32,
}

/// Everything the double knows.
#[derive(Default)]
pub struct State {
    jobs: BTreeMap<String, Job>,
    tasks: Vec<Task>,
    running: BTreeMap<String, Running>,
    retries: Vec<Retry>,
    stopped: bool,
}

/// The state shared by the HTTP handlers, the scheduler and the task waiters.
pub struct Shared {
    state: Mutex<State>,
    /// Wakes the scheduler after a change.
    pub wake: Notify,
    /// The double's settings.
    pub config: DoubleConfig,
}

/// Chronos' ISO 8601 date format for `lastSuccess` / `lastError`.
fn iso(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn not_found(name: &str) -> String {
    format!("Job '{name}' not found")
}

impl Shared {
    /// An empty double.
    pub fn new(config: DoubleConfig) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            config,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `POST /v1/scheduler/iso8601` (`dependent` false) or `/v1/scheduler/dependency`: creates
    /// the job, or replaces the one of that name; its counters are those posted (0 when
    /// absent: Chronos counts "since the job was last modified").
    pub fn put_job(&self, def: JobDef, dependent: bool) -> Result<(), String> {
        let now = Timestamp::now();
        let tz = schedule::zone(def.schedule_time_zone.as_deref())?;
        let epsilon_text = def
            .epsilon
            .clone()
            .unwrap_or_else(|| format!("PT{}S", self.config.task_epsilon.as_secs()));
        let epsilon = schedule::duration(&epsilon_text)?;
        let mut st = self.lock();
        let repeating = if dependent {
            if def.parents.is_empty() {
                return Err("a dependent job needs parents".into());
            }
            if def.schedule.is_some() {
                return Err("a dependent job has parents, not a schedule".into());
            }
            for p in &def.parents {
                if !st.jobs.contains_key(p) || *p == def.name {
                    return Err(format!("parent {p:?} of {:?} not found", def.name));
                }
            }
            None
        } else {
            if !def.parents.is_empty() {
                return Err("a scheduled job has a schedule, not parents".into());
            }
            let s = def.schedule.as_deref().ok_or("schedule is required")?;
            Some(Repeating::parse(s, &tz, now)?)
        };
        let name = def.name.clone();
        st.jobs.insert(
            name,
            Job {
                counters: def.counters.clone(),
                def,
                repeating,
                epsilon,
                epsilon_text,
                tz,
                parents_done: BTreeSet::new(),
            },
        );
        drop(st);
        self.wake.notify_one();
        Ok(())
    }

    /// `DELETE /v1/scheduler/job/{name}`: kills its tasks and forgets it.
    pub fn delete_job(&self, name: &str) -> Result<(), String> {
        let mut st = self.lock();
        st.jobs.remove(name).ok_or_else(|| not_found(name))?;
        st.retries.retain(|r| r.job != name);
        kill_job_tasks(&mut st, name);
        Ok(())
    }

    /// `DELETE /v1/scheduler/task/kill/{name}`: kills the job's running tasks (and drops its
    /// pending retries).
    pub fn kill_tasks(&self, name: &str) -> Result<(), String> {
        let mut st = self.lock();
        if !st.jobs.contains_key(name) {
            return Err(not_found(name));
        }
        st.retries.retain(|r| r.job != name);
        kill_job_tasks(&mut st, name);
        Ok(())
    }

    /// `PUT /v1/scheduler/job/{name}`: a run now, due now (also for a disabled job).
    pub fn run_now(self: &Arc<Self>, name: &str) -> Result<(), String> {
        let mut st = self.lock();
        if !st.jobs.contains_key(name) {
            return Err(not_found(name));
        }
        launch(self, &mut st, name, Timestamp::now().as_millisecond(), 0);
        Ok(())
    }

    /// `GET /v1/scheduler/jobs`.
    pub fn jobs_json(&self) -> Value {
        let st = self.lock();
        Value::Array(
            st.jobs
                .values()
                .map(|j| {
                    let schedule = j.repeating.as_ref().map(Repeating::render);
                    crate::wire::to_json(&j.def, &j.counters, schedule.as_deref(), &j.epsilon_text)
                })
                .collect(),
        )
    }

    /// `GET /v1/scheduler/job/stat/{name}`: duration percentiles of its ended tasks and its
    /// most recent tasks (at most the history limit), newest first.
    pub fn stat_json(&self, name: &str) -> Result<Value, String> {
        let st = self.lock();
        if !st.jobs.contains_key(name) {
            return Err(not_found(name));
        }
        let mine: Vec<&Task> = st.tasks.iter().filter(|t| t.job == name).collect();
        let mut durations: Vec<f64> = mine
            .iter()
            .filter_map(|t| Some(t.end?.duration_since(t.start).as_secs_f64() * 1000.0))
            .collect();
        durations.sort_by(f64::total_cmp);
        let pct = |p: f64| -> f64 {
            if durations.is_empty() {
                return 0.0;
            }
            let i = ((durations.len() as f64 - 1.0) * p).round() as usize;
            durations[i.min(durations.len() - 1)]
        };
        let mean = if durations.is_empty() {
            0.0
        } else {
            durations.iter().sum::<f64>() / durations.len() as f64
        };
        let fmt = |t: Option<Timestamp>| {
            t.map_or("N/A".to_owned(), |t| {
                t.to_zoned(TimeZone::UTC)
                    .strftime("%m/%d/%y %H:%M:%S")
                    .to_string()
            })
        };
        let history: Vec<Value> = mine
            .iter()
            .rev()
            .take(self.config.job_history_limit)
            .map(|t| {
                let mut v = json!({
                    "taskId": t.id,
                    "jobName": t.job,
                    "slaveId": "chronos-double",
                    "startTime": fmt(Some(t.start)),
                    "endTime": fmt(t.end),
                    "status": match t.status {
                        TaskStatus::Running => "Running",
                        TaskStatus::Success => "Success",
                        TaskStatus::Fail => "Fail",
                    },
                });
                if let Some(end) = t.end {
                    let secs = end.duration_since(t.start).as_secs();
                    v["duration"] = json!(format!(
                        "{}d{}h{}m{}s",
                        secs / 86400,
                        secs / 3600 % 24,
                        secs / 60 % 60,
                        secs % 60
                    ));
                }
                v
            })
            .collect();
        Ok(json!({
            "histogram": {
                "75thPercentile": pct(0.75), "95thPercentile": pct(0.95),
                "98thPercentile": pct(0.98), "99thPercentile": pct(0.99),
                "median": pct(0.5), "mean": mean, "count": durations.len(),
            },
            "taskStatHistory": history,
        }))
    }

    /// `GET /v1/scheduler/graph/csv`: `node,<name>,<last>,<state>` per job (last: `success`,
    /// `failure` or `fresh`; state: `running` or `idle`), `link,<parent>,<child>` per edge.
    pub fn graph_csv(&self) -> String {
        let st = self.lock();
        let mut out = String::new();
        for (name, j) in &st.jobs {
            let last = match (
                j.counters.last_success.as_str(),
                j.counters.last_error.as_str(),
            ) {
                ("", "") => "fresh",
                (s, e) if s >= e => "success",
                _ => "failure",
            };
            let state = if st.running.values().any(|r| r.job == *name) {
                "running"
            } else {
                "idle"
            };
            out.push_str(&format!("node,{name},{last},{state}\n"));
        }
        for (name, j) in &st.jobs {
            for p in &j.def.parents {
                out.push_str(&format!("link,{p},{name}\n"));
            }
        }
        out
    }

    /// Every task recorded, oldest first (for tests of the double).
    pub fn tasks(&self) -> Vec<Task> {
        self.lock().tasks.clone()
    }

    /// Starts due runs and retries; returns when to look again.
    pub fn tick(self: &Arc<Self>) -> Option<Timestamp> {
        let now = Timestamp::now();
        let mut st = self.lock();
        if st.stopped {
            return None;
        }
        let mut wake: Option<Timestamp> = None;
        let names: Vec<String> = st.jobs.keys().cloned().collect();
        for name in names {
            while let Some(job) = st.jobs.get_mut(&name) {
                let Some(rep) = job.repeating.as_mut() else {
                    break;
                };
                if rep.done() {
                    break;
                }
                let due = rep.next.timestamp();
                if due > now {
                    wake = Some(wake.map_or(due, |w| w.min(due)));
                    break;
                }
                let late_ok = due
                    .to_zoned(job.tz.clone())
                    .checked_add(job.epsilon)
                    .map(|z| z.timestamp() >= now)
                    .unwrap_or(false);
                let disabled = job.def.disabled;
                let concurrent = job.def.concurrent;
                if rep.advance().is_err() {
                    job.repeating = None;
                }
                // Past epsilon, disabled, or (not concurrent) while a run is active: skipped.
                let busy = st.running.values().any(|r| r.job == name);
                if late_ok && !disabled && (concurrent || !busy) {
                    launch(self, &mut st, &name, due.as_millisecond(), 0);
                }
            }
        }
        let (due, later): (Vec<Retry>, Vec<Retry>) = std::mem::take(&mut st.retries)
            .into_iter()
            .partition(|r| r.at <= now);
        st.retries = later;
        for r in &st.retries {
            wake = Some(wake.map_or(r.at, |w| w.min(r.at)));
        }
        for r in due {
            if st.jobs.contains_key(&r.job) {
                launch(self, &mut st, &r.job, r.due_ms, r.attempt);
            }
        }
        wake
    }

    /// Stops taking work and signals every task's process group; returns the pids still
    /// running.
    pub fn stop(&self, signal: Signal) -> Vec<i32> {
        let mut st = self.lock();
        st.stopped = true;
        st.retries.clear();
        let pids: Vec<i32> = st.running.values().map(|r| r.pid).collect();
        for pid in &pids {
            signal_group(*pid, signal);
        }
        pids
    }

    /// True while any task runs.
    pub fn any_running(&self) -> bool {
        !self.lock().running.is_empty()
    }

    /// A task ended (`code`: its exit code, `None` when killed by a signal or never started).
    fn finish(self: &Arc<Self>, id: &str, code: Option<i32>, why: Option<&str>) {
        let now = Timestamp::now();
        let mut st = self.lock();
        // Killed on request (task kill, delete): neither retried nor counted. Past its max
        // completion time (`why`), a task failed like any other.
        let killed = st.running.remove(id).is_some_and(|r| r.killed);
        let Some(task) = st.tasks.iter_mut().find(|t| t.id == id) else {
            return;
        };
        let ok = code == Some(0) && !killed && why.is_none();
        task.end = Some(now);
        task.status = if ok {
            TaskStatus::Success
        } else {
            TaskStatus::Fail
        };
        task.exit_code = code;
        let job_name = task.job.clone();
        let (due_ms, attempt) = parse_id(id);
        let failure_retry = self.config.failure_retry;
        let stopped = st.stopped;
        let Some(job) = st.jobs.get_mut(&job_name) else {
            return;
        };
        if ok {
            job.counters.success_count += 1;
            job.counters.last_success = iso(now);
            job.counters.errors_since_last_success = 0;
            // Children whose parents have all succeeded since their last run run now.
            let mut ready = Vec::new();
            for (child, j) in st.jobs.iter_mut() {
                if j.def.parents.contains(&job_name) {
                    j.parents_done.insert(job_name.clone());
                    if j.def.parents.iter().all(|p| j.parents_done.contains(p)) {
                        j.parents_done.clear();
                        if !j.def.disabled {
                            ready.push(child.clone());
                        }
                    }
                }
            }
            if !stopped {
                for child in ready {
                    let busy = st.running.values().any(|r| r.job == child);
                    let concurrent = st.jobs.get(&child).is_some_and(|j| j.def.concurrent);
                    if concurrent || !busy {
                        launch(self, &mut st, &child, now.as_millisecond(), 0);
                    }
                }
            }
        } else if killed {
            // Not counted.
        } else if attempt < job.def.retries && !stopped {
            let at = now + Duration::from_millis(failure_retry.as_millis() as u64);
            st.retries.push(Retry {
                at,
                job: job_name,
                due_ms,
                attempt: attempt + 1,
            });
        } else {
            job.counters.error_count += 1;
            job.counters.last_error = iso(now);
            job.counters.errors_since_last_success += 1;
        }
        drop(st);
        self.wake.notify_one();
    }
}

fn parse_id(id: &str) -> (i64, u32) {
    let mut parts = id.split(':').skip(1);
    let due = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let attempt = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (due, attempt)
}

/// Signals the process group a task leads (never group 0: that would be the double's own).
fn signal_group(pid: i32, signal: Signal) {
    if pid > 0 {
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

fn kill_job_tasks(st: &mut State, name: &str) {
    for r in st.running.values_mut().filter(|r| r.job == name) {
        r.killed = true;
        signal_group(r.pid, Signal::SIGKILL);
    }
}

/// Starts attempt `attempt` of the run of `name` due at `due_ms`: its command as a process
/// group of its own, watched by a task that records how it ends.
fn launch(shared: &Arc<Shared>, st: &mut State, name: &str, due_ms: i64, attempt: u32) {
    let Some(job) = st.jobs.get(name) else { return };
    let def = &job.def;
    let id = format!("ct:{due_ms}:{attempt}:{name}:");
    if st.running.contains_key(&id) || st.tasks.iter().any(|t| t.id == id) {
        return;
    }
    let mut cmd = if def.shell {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(&def.command);
        c
    } else {
        let mut c = Command::new(&def.command);
        c.args(&def.arguments);
        c
    };
    cmd.envs(def.environment_variables.iter().map(|(n, v)| (n, v)))
        .env("CHRONOS_JOB_NAME", name)
        .env("mesos_task_id", &id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0);
    let max = (def.max_completion_time > 0).then(|| Duration::from_secs(def.max_completion_time));
    st.tasks.push(Task {
        id: id.clone(),
        job: name.to_owned(),
        start: Timestamp::now(),
        end: None,
        status: TaskStatus::Running,
        exit_code: None,
    });
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(_) => {
            let shared = shared.clone();
            // Recorded as a failed start once the lock is released.
            tokio::spawn(async move { shared.finish(&id, None, None) });
            return;
        }
    };
    let pid = child.id().map_or(0, |p| p as i32);
    st.running.insert(
        id.clone(),
        Running {
            pid,
            job: name.to_owned(),
            killed: false,
        },
    );
    let shared = shared.clone();
    tokio::spawn(async move {
        let mut child = child;
        let mut why = None;
        let status = match max {
            None => child.wait().await,
            Some(d) => match tokio::time::timeout(d, child.wait()).await {
                Ok(s) => s,
                Err(_) => {
                    // Mesos kills a task past its max completion time: TASK_FAILED.
                    signal_group(pid, Signal::SIGKILL);
                    why = Some("max completion time reached");
                    child.wait().await
                }
            },
        };
        let code = status.ok().and_then(|s| s.code());
        shared.finish(&id, code, why);
    });
}
