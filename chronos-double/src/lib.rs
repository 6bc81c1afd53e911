//! # chronos-double
//!
//! **A test double of [Chronos](https://github.com/mesos/chronos)' REST API — not Chronos.**
//! No Chronos can run on the machines tars is tested on, so tars' Chronos client
//! (`tars_backend_mesos::chronos`) is tested against this: an HTTP server on 127.0.0.1 that
//! follows Chronos' documented API (`docs/docs/api.md`: "REST API" and "Job Configuration")
//! field by field, and really schedules, running each job's `command` as a local process
//! where Chronos would launch a Mesos task on an agent.
//!
//! Implemented, as documented:
//!
//! | endpoint | behaviour |
//! |---|---|
//! | `GET /v1/scheduler/jobs` | every job hash with its counters (`successCount`, `errorCount`, `lastSuccess`, `lastError`, `errorsSinceLastSuccess`) and its current `schedule` (the start moves forward as it runs) |
//! | `POST /v1/scheduler/iso8601` | a scheduled job: `R[n]/start/period` (empty start: now), `scheduleTimeZone` taking precedence; replaces a job of that name (its counters restart) |
//! | `POST /v1/scheduler/dependency` | a dependent job: runs once all its `parents` succeeded since its own last run |
//! | `PUT /v1/scheduler/job/{name}` | a run now, due now (Chronos' manual start) |
//! | `DELETE /v1/scheduler/job/{name}` | kills its tasks, deletes it |
//! | `DELETE /v1/scheduler/task/kill/{name}` | kills its running tasks |
//! | `GET /v1/scheduler/job/stat/{name}` | `histogram` of run times and `taskStatHistory` (task id `ct:<due ms>:<attempt>:<job>:`, `startTime`/`endTime` as `MM/dd/yy HH:mm:ss` UTC, `status` `Running`/`Success`/`Fail`), newest first, at most `job_history_limit` tasks — as Chronos answers when it keeps history in Cassandra |
//! | `GET /v1/scheduler/graph/csv` | `node,<name>,<success/failure/fresh>,<running/idle>` and `link,<parent>,<child>` lines |
//! | `GET /leader` | this double's address |
//!
//! Scheduling: a due run starts if it is at most `epsilon` late (default: the server's task
//! epsilon, 60 s), the job is not `disabled`, and — unless `concurrent` — no run of the job is
//! active; otherwise the slot is skipped. Either way the schedule moves on by its period (in
//! `scheduleTimeZone`: days and longer in wall-clock time, hours and shorter in elapsed time)
//! and counts one repetition off. A task that exits non-zero is retried, with the same due
//! time and the next attempt number, after `failure_retry` (Chronos' `--failure_retry`,
//! default 60 s), up to `retries` times (default 2); then `errorCount` and `lastError` move.
//! `maxCompletionTime` (seconds) kills a task that runs longer, which then fails. Killed tasks
//! are neither retried nor counted.
//!
//! Not Chronos: tasks are `sh -c <command>` (or `command` + `arguments` with `shell: false`)
//! processes on this host in a process group of their own, with the job's
//! `environmentVariables`; `container`, `cpus`, `mem`, `disk`, `constraints`, `fetch`,
//! `runAsUser` are stored and shown but not enforced; there is no Mesos, ZooKeeper, Cassandra,
//! leader election, persistence across restarts, `jobs/search`, `jobs/summary`,
//! `job/success`, task progress, or `graph/dot`. Every process it starts is stopped, by the
//! pid of its group, when the double stops or is dropped.
#![forbid(unsafe_code)]

mod http;
pub mod schedule;
pub mod state;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use nix::sys::signal::Signal;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use state::Shared;

/// The double's settings: Chronos' server flags that change what jobs do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoubleConfig {
    /// `--failure_retry`: delay before every retry (Chronos' default: 60 s).
    pub failure_retry: Duration,
    /// `--task_epsilon`: the default `epsilon` (Chronos' default: 60 s).
    pub task_epsilon: Duration,
    /// `--job_history_limit`: tasks `job/stat` returns per job (Chronos' default: 5).
    pub job_history_limit: usize,
}

impl Default for DoubleConfig {
    fn default() -> Self {
        DoubleConfig {
            failure_retry: Duration::from_secs(60),
            task_epsilon: Duration::from_secs(60),
            job_history_limit: 5,
        }
    }
}

/// A running double.
pub struct ChronosDouble {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    scheduler: JoinHandle<()>,
}

impl std::fmt::Debug for ChronosDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChronosDouble")
            .field("addr", &self.addr)
            .finish()
    }
}

impl ChronosDouble {
    /// Starts a double on `127.0.0.1:port` (0: any free port). Needs a tokio runtime.
    pub async fn start(port: u16, config: DoubleConfig) -> std::io::Result<ChronosDouble> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let shared = Shared::new(config);
        let leader = addr.to_string();
        let server = {
            let shared = shared.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let shared = shared.clone();
                    let leader = leader.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            http::handle(shared.clone(), leader.clone(), req)
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        };
        let scheduler = {
            let shared = shared.clone();
            tokio::spawn(async move {
                loop {
                    let wake = shared.tick();
                    let nap = wake
                        .map(|w| w.duration_since(jiff::Timestamp::now()))
                        .and_then(|d| Duration::try_from(d).ok())
                        .unwrap_or(Duration::from_secs(1))
                        .min(Duration::from_secs(1));
                    tokio::select! {
                        () = tokio::time::sleep(nap) => {}
                        () = shared.wake.notified() => {}
                    }
                }
            })
        };
        Ok(ChronosDouble {
            addr,
            shared,
            server,
            scheduler,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every task it ran or runs (for tests of the double itself).
    pub fn tasks(&self) -> Vec<state::Task> {
        self.shared.tasks()
    }

    /// Stops serving and scheduling; stops every task's process group (SIGTERM, then SIGKILL
    /// after two seconds) and waits for them to end.
    pub async fn stop(self) {
        self.server.abort();
        self.scheduler.abort();
        self.shared.stop(Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.shared.any_running() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.shared.stop(Signal::SIGKILL);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.shared.any_running() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ChronosDouble {
    fn drop(&mut self) {
        self.server.abort();
        self.scheduler.abort();
        self.shared.stop(Signal::SIGKILL);
    }
}
