//! tars' executor on a real Mesos (the one `scripts/engines/mesos/up.sh` starts, with tars'
//! `mesos-containerizer` and executor in its launcher directory), when `TARS_MESOS_MASTER`
//! (`host:port`) names one. Without the variable the test does nothing and says so.
//!
//! A framework launches task groups on an `ExecutorInfo` of type `DEFAULT` (which the agent runs
//! from `MESOS_LAUNCHER_DIR/mesos-default-executor`, i.e. tars' executor):
//! 1. two tasks (a shell one, an argv one): `STARTING` and `RUNNING` for both; the master shows
//!    one executor with both tasks; the shell task's stdout through the agent's files API;
//!    `KILL` of one: both `TASK_KILLED`, then the executor and the tasks' processes are gone;
//! 2. a task exiting 3 beside a long one: `TASK_FAILED` ("exited with status 3"), the other
//!    `TASK_KILLED`;
//! 3. health checks: a passing one (`healthy: true`) and a failing one (`healthy: false`, then
//!    the group killed after `consecutive_failures`).
//!
//! ```sh
//! TARS_MESOS_PORT=5252 scripts/engines/mesos/up.sh /tmp/mesos-exec
//! TARS_MESOS_MASTER=127.0.0.1:5252 cargo test -p tars-backend-mesos --test executor -- --nocapture
//! scripts/engines/mesos/down.sh /tmp/mesos-exec
//! ```
#![allow(missing_docs)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::scheduler::{Caller, SchedulerClient, Subscription};
use tars_backend_mesos::v1::mesos::{
    CommandInfo, DurationInfo, Environment, EnvironmentVariable, ExecutorId, ExecutorInfo,
    ExecutorType, Filters, FrameworkId, FrameworkInfo, Json, KillPolicy, Offer, OfferOperation,
    Resource, TaskGroupInfo, TaskId, TaskInfo, TaskState, TaskStatus,
};
use tars_backend_mesos::v1::scheduler::{Call, EventType};

const WITHIN: Duration = Duration::from_secs(30);

struct Framework {
    master: String,
    subscription: Subscription,
    caller: Caller,
    id: FrameworkId,
    offers: VecDeque<Offer>,
    statuses: Vec<TaskStatus>,
    started: Instant,
}

impl Framework {
    /// Reads one event: offers are kept, updates acknowledged and recorded.
    async fn step(&mut self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, self.subscription.next_event())
            .await
            .unwrap_or_else(|_| panic!("timed out; updates so far: {:#?}", summary(&self.statuses)))
            .expect("event");
        match event.kind {
            EventType::Offers => self.offers.extend(event.offers.expect("offers set").offers),
            EventType::Rescind => {
                let id = event.rescind.expect("rescind set").offer_id;
                self.offers.retain(|o| o.id != id);
            }
            EventType::Update => {
                let status = event.update.expect("update set").status;
                println!(
                    "  {:>6} ms  {} {:?}{}{}",
                    self.started.elapsed().as_millis(),
                    status.task_id.value,
                    status.state,
                    status
                        .healthy
                        .map(|h| format!(" healthy={h}"))
                        .unwrap_or_default(),
                    status
                        .message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                );
                if let Some(ack) = Call::acknowledge(self.id.clone(), &status) {
                    self.caller.call(&ack).await.expect("ACKNOWLEDGE");
                }
                self.statuses.push(status);
            }
            EventType::Error => panic!("ERROR event: {:?}", event.error),
            EventType::Failure => println!("  FAILURE: {:?}", event.failure),
            _ => {}
        }
    }

    async fn offer(&mut self) -> Offer {
        let deadline = Instant::now() + WITHIN;
        loop {
            if let Some(offer) = self.offers.pop_back() {
                return offer;
            }
            self.step(deadline).await;
        }
    }

    /// Waits until every `(task, state)` was reported; returns when (since `since`).
    async fn wait_for(&mut self, wanted: &[(&TaskId, TaskState)], since: Instant) -> Duration {
        let deadline = Instant::now() + WITHIN;
        while !wanted
            .iter()
            .all(|(task, state)| self.seen(task, *state).is_some())
        {
            self.step(deadline).await;
        }
        since.elapsed()
    }

    fn seen(&self, task: &TaskId, state: TaskState) -> Option<&TaskStatus> {
        self.statuses
            .iter()
            .find(|s| &s.task_id == task && s.state == state)
    }

    /// Accepts an offer with one LAUNCH_GROUP of `tasks` on a DEFAULT executor.
    async fn launch(&mut self, executor_id: &ExecutorId, tasks: Vec<Spec>) -> Instant {
        let offer = self.offer().await;
        let role = offer
            .resources
            .iter()
            .find_map(|r| r.allocation_info.clone());
        let resources = |cpus: f64, mem: f64, disk: Option<f64>| {
            let mut list = vec![Resource::scalar("cpus", cpus), Resource::scalar("mem", mem)];
            list.extend(disk.map(|d| Resource::scalar("disk", d)));
            for r in &mut list {
                r.allocation_info = role.clone();
            }
            list
        };
        let executor = ExecutorInfo {
            kind: Some(ExecutorType::Default),
            executor_id: executor_id.clone(),
            framework_id: Some(self.id.clone()),
            command: None,
            container: None,
            resources: resources(0.1, 32.0, Some(32.0)),
            name: Some("tars executor test".into()),
            source: None,
            data: None,
            discovery: None,
            shutdown_grace_period: None,
            labels: None,
        };
        let tasks = tasks
            .into_iter()
            .map(
                |Spec(task_id, command, health_check, kill_policy)| TaskInfo {
                    name: task_id.value.clone(),
                    task_id,
                    agent_id: offer.agent_id.clone(),
                    resources: resources(0.1, 32.0, None),
                    executor: None,
                    command: Some(command),
                    container: None,
                    health_check,
                    check: None,
                    kill_policy,
                    data: None,
                    labels: None,
                    discovery: None,
                    max_completion_time: None,
                    limits: Default::default(),
                },
            )
            .collect();
        let operation = OfferOperation::launch_group(executor, TaskGroupInfo { tasks });
        let filters = Some(Filters {
            refuse_seconds: Some(0.0),
        });
        let sent = Instant::now();
        self.caller
            .call(&Call::accept(
                self.id.clone(),
                vec![offer.id.clone()],
                vec![operation],
                filters,
            ))
            .await
            .expect("ACCEPT");
        sent
    }
}

/// A task of a group: id, command, health check, kill policy.
struct Spec(TaskId, CommandInfo, Option<Json>, Option<KillPolicy>);

fn summary(statuses: &[TaskStatus]) -> Vec<String> {
    statuses
        .iter()
        .map(|s| {
            format!(
                "{} {:?} {:?} {:?}",
                s.task_id.value, s.state, s.healthy, s.message
            )
        })
        .collect()
}

fn shell(value: &str) -> CommandInfo {
    CommandInfo {
        value: Some(value.into()),
        ..CommandInfo::default()
    }
}

/// Live (non-zombie) processes whose environment has `NAME=value`.
fn processes_with_env(name: &str, value: &str) -> Vec<u32> {
    let needle = format!("{name}={value}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let found = environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes());
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'));
        if found && !zombie {
            pids.push(pid);
        }
    }
    pids
}

async fn wait_gone(name: &str, value: &str) -> Duration {
    let started = Instant::now();
    loop {
        let pids = processes_with_env(name, value);
        if pids.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < WITHIN,
            "processes with {name}={value} still alive: {pids:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A file of the executor's sandbox through the agent's files API (`/files/read`), by the
/// executor's virtual path.
async fn read_sandbox_file(
    master: &str,
    framework: &FrameworkId,
    executor: &ExecutorId,
    file: &str,
) -> String {
    let path = format!(
        "/frameworks/{}/executors/{}/runs/latest/{file}",
        framework.value, executor.value
    );
    let url = reqwest::Url::parse_with_params(
        &format!("http://{master}/files/read"),
        &[
            ("path", path.as_str()),
            ("offset", "0"),
            ("length", "65536"),
        ],
    )
    .expect("url");
    let response = reqwest::get(url).await.expect("files/read");
    let status = response.status();
    let body = response.text().await.expect("body");
    assert!(status.is_success(), "files/read {path}: {status}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json["data"].as_str().expect("data").to_owned()
}

#[tokio::test]
async fn task_groups_run_on_the_tars_executor_when_a_master_is_configured() {
    let Ok(master) = std::env::var("TARS_MESOS_MASTER") else {
        println!("TARS_MESOS_MASTER is not set: no Mesos to test tars' executor against, NOT RUN");
        return;
    };
    let operator = OperatorClient::new(&master).expect("master address");
    let client = SchedulerClient::new(&master).expect("master address");
    let run = std::process::id();
    let info = FrameworkInfo {
        user: "nobody".into(),
        name: format!("tars-executor-test-{run}"),
        failover_timeout: Some(0.0),
        ..FrameworkInfo::default()
    };
    let mut subscription = client.subscribe(info).await.expect("SUBSCRIBE");
    let deadline = Instant::now() + WITHIN;
    while subscription.framework_id().is_none() {
        assert!(Instant::now() < deadline, "no SUBSCRIBED within {WITHIN:?}");
        let event = subscription.next_event().await.expect("event");
        assert_ne!(event.kind, EventType::Error, "{:?}", event.error);
    }
    let id = subscription.framework_id().cloned().expect("SUBSCRIBED");
    let caller = subscription.caller();
    let mut fw = Framework {
        master: master.clone(),
        subscription,
        caller,
        id: id.clone(),
        offers: VecDeque::new(),
        statuses: Vec::new(),
        started: Instant::now(),
    };
    println!("framework {}", id.value);

    // 1. Two tasks; KILL of one kills both.
    let executor = ExecutorId::new(format!("tars-test-{run}-1"));
    let (t1, t2) = (
        TaskId::new(format!("t1-{run}")),
        TaskId::new(format!("t2-{run}")),
    );
    let mut echo = shell("echo hello-from-t1 $GREETING; exec sleep 1000");
    echo.environment = Some(Environment {
        variables: vec![EnvironmentVariable {
            name: "GREETING".into(),
            kind: None,
            value: Some("hi".into()),
            secret: None,
        }],
    });
    let argv = CommandInfo {
        shell: Some(false),
        value: Some("/bin/sleep".into()),
        arguments: vec!["sleep".into(), "1000".into()],
        ..CommandInfo::default()
    };
    let sent = fw
        .launch(
            &executor,
            vec![
                Spec(t1.clone(), echo, None, None),
                Spec(t2.clone(), argv, None, None),
            ],
        )
        .await;
    let starting = fw
        .wait_for(
            &[
                (&t1, TaskState::TaskStarting),
                (&t2, TaskState::TaskStarting),
            ],
            sent,
        )
        .await;
    let running = fw
        .wait_for(
            &[(&t1, TaskState::TaskRunning), (&t2, TaskState::TaskRunning)],
            sent,
        )
        .await;
    println!("group 1: ACCEPT → both STARTING {starting:?}, both RUNNING {running:?}");
    for status in &fw.statuses {
        assert!(
            !status.state.is_terminal(),
            "unexpected {:?}",
            summary(&fw.statuses)
        );
        assert_eq!(status.executor_id.as_ref(), Some(&executor));
    }

    // The master: one executor (this one) with both tasks.
    let state = operator.state().await.expect("GET_STATE");
    let executors: Vec<_> = state
        .get_executors
        .expect("executors")
        .executors
        .into_iter()
        .filter(|e| e.executor_info.framework_id.as_ref() == Some(&id))
        .map(|e| e.executor_info.executor_id)
        .collect();
    assert_eq!(executors, std::slice::from_ref(&executor));
    let tasks: Vec<_> = state
        .get_tasks
        .expect("tasks")
        .tasks
        .into_iter()
        .filter(|t| t.framework_id == id)
        .collect();
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    assert!(tasks.iter().all(|t| t.executor_id.as_ref() == Some(&executor)
        && t.state == TaskState::TaskRunning));

    // The shell task's stdout, through the files API.
    let file = format!("tasks/{}/stdout", t1.value);
    let read_started = Instant::now();
    let stdout = loop {
        let data = read_sandbox_file(&fw.master, &id, &executor, &file).await;
        if data.contains('\n') || read_started.elapsed() > WITHIN {
            break data;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stdout, "hello-from-t1 hi\n");
    let stderr = read_sandbox_file(
        &fw.master,
        &id,
        &executor,
        &format!("tasks/{}/stderr", t2.value),
    )
    .await;
    assert_eq!(stderr, "");
    println!("group 1: {file} via /files/read: {stdout:?}");

    let executor_pids = processes_with_env("MESOS_EXECUTOR_ID", &executor.value);
    assert_eq!(executor_pids.len(), 1, "one executor process");
    assert_eq!(processes_with_env("MESOS_TASK_ID", &t2.value).len(), 1);

    let kill_sent = Instant::now();
    fw.caller
        .call(&Call::kill(id.clone(), t1.clone(), None))
        .await
        .expect("KILL");
    let killed = fw
        .wait_for(
            &[(&t1, TaskState::TaskKilled), (&t2, TaskState::TaskKilled)],
            kill_sent,
        )
        .await;
    let executor_gone = wait_gone("MESOS_EXECUTOR_ID", &executor.value).await;
    wait_gone("MESOS_TASK_ID", &t1.value).await;
    wait_gone("MESOS_TASK_ID", &t2.value).await;
    println!(
        "group 1: KILL → both KILLED {killed:?}, executor process {} gone {:?} later",
        executor_pids[0], executor_gone
    );

    // 2. One task exits 3: it fails, the other is killed; that one ignores SIGTERM, so it gets
    //    SIGKILL after its kill policy's grace period (0.5 s).
    let executor = ExecutorId::new(format!("tars-test-{run}-2"));
    let (t3, t4) = (
        TaskId::new(format!("t3-{run}")),
        TaskId::new(format!("t4-{run}")),
    );
    let grace = KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 500_000_000,
        }),
    };
    let sent = fw
        .launch(
            &executor,
            vec![
                Spec(t3.clone(), shell("sleep 1; exit 3"), None, None),
                Spec(
                    t4.clone(),
                    shell("trap '' TERM; sleep 1000"),
                    None,
                    Some(grace),
                ),
            ],
        )
        .await;
    let elapsed = fw
        .wait_for(
            &[(&t3, TaskState::TaskFailed), (&t4, TaskState::TaskKilled)],
            sent,
        )
        .await;
    let failed = fw.seen(&t3, TaskState::TaskFailed).expect("failed");
    assert_eq!(
        failed.message.as_deref(),
        Some("Command exited with status 3")
    );
    assert!(fw.seen(&t3, TaskState::TaskRunning).is_some());
    assert!(fw.seen(&t4, TaskState::TaskFinished).is_none());
    let killed = fw.seen(&t4, TaskState::TaskKilled).expect("killed");
    assert!(
        killed.message.as_deref().is_some_and(
            |m| m == format!("task {} failed; Command terminated with signal 9", t3.value)
        ),
        "{killed:?}"
    );
    wait_gone("MESOS_EXECUTOR_ID", &executor.value).await;
    let t3_failed = fw
        .statuses
        .iter()
        .position(|s| s.task_id == t3 && s.state == TaskState::TaskFailed);
    let escalated = killed.timestamp.unwrap_or_default() - failed.timestamp.unwrap_or_default();
    assert!(
        t3_failed.is_some() && (0.45..5.0).contains(&escalated),
        "SIGKILL {escalated} s after the failure"
    );
    println!(
        "group 2: t3 FAILED (exit 3), t4 KILLED by SIGKILL {escalated:.2} s later, {elapsed:?} after ACCEPT (t3 sleeps 1 s)"
    );

    // 3. Health checks: one passes, one fails 3 times in a row (no grace) and kills the group.
    let executor = ExecutorId::new(format!("tars-test-{run}-3"));
    let (t5, t6) = (
        TaskId::new(format!("t5-{run}")),
        TaskId::new(format!("t6-{run}")),
    );
    let check = |command: &str| {
        serde_json::json!({
            "type": "COMMAND",
            "command": {"value": command},
            "delay_seconds": 0, "interval_seconds": 0.5, "timeout_seconds": 5,
            "grace_period_seconds": 0, "consecutive_failures": 3
        })
    };
    let sent = fw
        .launch(
            &executor,
            vec![
                Spec(
                    t5.clone(),
                    shell("sleep 1000"),
                    Some(check("test -n \"$MESOS_SANDBOX\"")),
                    None,
                ),
                Spec(t6.clone(), shell("sleep 1000"), Some(check("exit 1")), None),
            ],
        )
        .await;
    let elapsed = fw
        .wait_for(
            &[(&t5, TaskState::TaskKilled), (&t6, TaskState::TaskKilled)],
            sent,
        )
        .await;
    let health = |task: &TaskId| -> Vec<Option<bool>> {
        fw.statuses
            .iter()
            .filter(|s| &s.task_id == task && s.state == TaskState::TaskRunning)
            .map(|s| s.healthy)
            .collect()
    };
    assert_eq!(
        health(&t5),
        [None, Some(true)],
        "{:#?}",
        summary(&fw.statuses)
    );
    // The first failure, then the one that kills (as Mesos' health checker reports).
    assert_eq!(
        health(&t6),
        [None, Some(false), Some(false)],
        "{:#?}",
        summary(&fw.statuses)
    );
    let killed = fw.seen(&t6, TaskState::TaskKilled).expect("killed");
    assert_eq!(killed.healthy, Some(false));
    assert!(
        killed
            .message
            .as_deref()
            .is_some_and(|m| m.contains("health check")),
        "{killed:?}"
    );
    wait_gone("MESOS_EXECUTOR_ID", &executor.value).await;
    println!("group 3: t5 healthy=true, t6 healthy=false, group killed {elapsed:?} after ACCEPT");

    fw.caller
        .call(&Call::teardown(id.clone()))
        .await
        .expect("TEARDOWN");
    let ended = tokio::time::timeout(WITHIN, async {
        loop {
            if fw.subscription.next_event().await.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end after TEARDOWN");
    println!("TEARDOWN: done");
}
