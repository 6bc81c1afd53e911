//! tars' executor on a real Mesos (the one `scripts/engines/mesos/up.sh` starts, with tars'
//! `mesos-containerizer` and executor in its launcher directory), when `TARS_MESOS_MASTER`
//! (`host:port`) names one. Without the variable the test does nothing and says so.
//!
//! A framework launches task groups on an `ExecutorInfo` of type `DEFAULT` (which the agent runs
//! from `MESOS_LAUNCHER_DIR/mesos-default-executor`, i.e. tars' executor):
//! 1. two tasks (a shell one, an argv one): `STARTING` and `RUNNING` for both; the master shows
//!    one executor with both tasks; the shell task's stdout through the agent's files API; a
//!    general check's result; `KILL` of one: both `TASK_KILLING` (the framework has that
//!    capability) then `TASK_KILLED`, then the executor and the tasks' processes are gone;
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

mod common;

use common::{
    Framework, Spec, WITHIN, processes_with_env, read_sandbox_file, shell, summary, wait_gone,
};
use std::time::{Duration, Instant};
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::v1::mesos::{
    CommandInfo, DurationInfo, Environment, EnvironmentVariable, ExecutorId, FrameworkCapability,
    FrameworkCapabilityType, FrameworkInfo, KillPolicy, TaskId, TaskState, TaskStatusReason,
};
use tars_backend_mesos::v1::scheduler::Call;

#[tokio::test]
async fn task_groups_run_on_the_tars_executor_when_a_master_is_configured() {
    let Ok(master) = std::env::var("TARS_MESOS_MASTER") else {
        println!("TARS_MESOS_MASTER is not set: no Mesos to test tars' executor against, NOT RUN");
        return;
    };
    let operator = OperatorClient::new(&master).expect("master address");
    let run = std::process::id();
    let info = FrameworkInfo {
        user: "nobody".into(),
        name: format!("tars-executor-test-{run}"),
        failover_timeout: Some(0.0),
        // Kills then go through TASK_KILLING.
        capabilities: vec![FrameworkCapability::new(
            FrameworkCapabilityType::TaskKillingState,
        )],
        ..FrameworkInfo::default()
    };
    let mut fw = Framework::subscribe(&master, info).await;
    let id = fw.id.clone();
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
    // A general check on t2, reported as is: exit code 7.
    let command_check = serde_json::json!({
        "type": "COMMAND", "command": {"command": {"value": "exit 7"}},
        "delay_seconds": 0, "interval_seconds": 0.5, "timeout_seconds": 5
    });
    let sent = fw
        .launch(
            &executor,
            vec![
                Spec::new(&t1, echo),
                Spec::new(&t2, argv).check(command_check),
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

    // t2's check: its type with an empty result on the first TASK_RUNNING, then exit code 7;
    // t1 has no check, so no check_status.
    let exit_7 = serde_json::json!({"type": "COMMAND", "command": {"exit_code": 7}});
    let t2_checked = t2.clone();
    let expected = exit_7.clone();
    fw.wait_until(move |statuses| {
        statuses
            .iter()
            .any(|s| s.task_id == t2_checked && s.check_status.as_ref() == Some(&expected))
    })
    .await;
    let checks: Vec<_> = fw
        .statuses
        .iter()
        .filter(|s| s.task_id == t2 && s.state == TaskState::TaskRunning)
        .map(|s| (s.check_status.clone(), s.reason))
        .collect();
    assert_eq!(
        checks,
        [
            (
                Some(serde_json::json!({"type": "COMMAND", "command": {}})),
                None
            ),
            (
                Some(exit_7),
                Some(TaskStatusReason::ReasonTaskCheckStatusUpdated)
            ),
        ]
    );
    assert!(
        fw.statuses
            .iter()
            .filter(|s| s.task_id == t1)
            .all(|s| s.check_status.is_none())
    );
    println!("group 1: t2's check reported exit code 7");

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
    for task in [&t1, &t2] {
        let states: Vec<_> = fw
            .statuses
            .iter()
            .filter(|s| &s.task_id == task)
            .map(|s| s.state)
            .skip_while(|s| *s != TaskState::TaskKilling)
            .collect();
        assert_eq!(
            states,
            [TaskState::TaskKilling, TaskState::TaskKilled],
            "{}",
            task.value
        );
    }
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
                Spec::new(&t3, shell("sleep 1; exit 3")),
                Spec::new(&t4, shell("trap '' TERM; sleep 1000")).kill_policy(grace),
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
                Spec::new(&t5, shell("sleep 1000"))
                    .health_check(check("test -n \"$MESOS_SANDBOX\"")),
                Spec::new(&t6, shell("sleep 1000")).health_check(check("exit 1")),
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
