//! tars' executor survives a restart of the Mesos process (master and agent) when its framework
//! checkpoints: it re-subscribes to the recovering agent within the agent's re-registration
//! timeout, its tasks keep running, and it still obeys a `KILL` afterwards.
//!
//! Restarts the Mesos that `scripts/engines/mesos/up.sh STATE_DIR` started, with down.sh
//! (`TARS_MESOS_KEEP_TASKS=1`) and up.sh, so it runs only when both `TARS_MESOS_MASTER`
//! (`127.0.0.1:PORT`) and `TARS_MESOS_STATE_DIR` (that STATE_DIR) are set; otherwise it says so
//! and does nothing. up.sh is given the executor already in the launcher dir
//! (`TARS_MESOS_EXECUTOR`), and inherits `TARS_CACHE`/`TARS_MESOS_LAUNCHER_DIR` from the caller.
//!
//! ```sh
//! TARS_MESOS_PORT=5252 scripts/engines/mesos/up.sh /tmp/mesos-exec
//! TARS_MESOS_MASTER=127.0.0.1:5252 TARS_MESOS_STATE_DIR=/tmp/mesos-exec \
//!   cargo test -p tars-backend-mesos --test executor_restart -- --nocapture
//! ```
#![allow(missing_docs)]

mod common;

use common::{Framework, Spec, WITHIN, processes_with_env, shell, wait_gone};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::v1::mesos::{ExecutorId, FrameworkInfo, TaskId, TaskState};
use tars_backend_mesos::v1::scheduler::Call;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/engines/mesos")
        .join(name)
}

fn run_script(command: &mut Command) {
    let status = command.status().expect("script runs");
    assert!(status.success(), "{command:?}: {status}");
}

#[tokio::test]
async fn tasks_survive_a_mesos_restart_when_the_framework_checkpoints() {
    let (Ok(master), Ok(state_dir)) = (
        std::env::var("TARS_MESOS_MASTER"),
        std::env::var("TARS_MESOS_STATE_DIR"),
    ) else {
        println!(
            "TARS_MESOS_MASTER and TARS_MESOS_STATE_DIR are not both set: not restarting any Mesos, NOT RUN"
        );
        return;
    };
    let port = master.rsplit_once(':').expect("host:port").1.to_owned();
    let launcher_dir =
        std::env::var("TARS_MESOS_LAUNCHER_DIR").unwrap_or_else(|_| format!("{state_dir}/libexec"));
    let run = std::process::id();
    let info = FrameworkInfo {
        user: "nobody".into(),
        name: format!("tars-executor-restart-test-{run}"),
        failover_timeout: Some(300.0),
        checkpoint: Some(true),
        ..FrameworkInfo::default()
    };
    let mut fw = Framework::subscribe(&master, info.clone()).await;
    let id = fw.id.clone();
    let executor = ExecutorId::new(format!("tars-restart-{run}"));
    let (t1, t2) = (
        TaskId::new(format!("r1-{run}")),
        TaskId::new(format!("r2-{run}")),
    );
    let sent = fw
        .launch(
            &executor,
            vec![
                Spec::new(&t1, shell("exec sleep 1000")),
                Spec::new(&t2, shell("exec sleep 1000")),
            ],
        )
        .await;
    fw.wait_for(
        &[(&t1, TaskState::TaskRunning), (&t2, TaskState::TaskRunning)],
        sent,
    )
    .await;
    let executor_pids = processes_with_env("MESOS_EXECUTOR_ID", &executor.value);
    let task_pids = processes_with_env("MESOS_TASK_ID", &t1.value);
    assert_eq!((executor_pids.len(), task_pids.len()), (1, 1));

    // Restart master and agent, leaving executors and tasks running.
    let restart = Instant::now();
    run_script(
        Command::new(script("down.sh"))
            .arg(&state_dir)
            .env("TARS_MESOS_KEEP_TASKS", "1"),
    );
    run_script(
        Command::new(script("up.sh"))
            .arg(&state_dir)
            .env("TARS_MESOS_PORT", &port)
            .env(
                "TARS_MESOS_EXECUTOR",
                format!("{launcher_dir}/mesos-default-executor"),
            ),
    );
    println!("Mesos restarted in {:?}", restart.elapsed());

    // The framework fails over to its id on the new master (in-memory registry).
    let mut info = info;
    info.id = Some(id.clone());
    let mut fw = Framework::subscribe(&master, info).await;
    assert_eq!(fw.id, id);

    // Past the agent's executor re-registration timeout (2 s), the executor and its tasks are
    // still there, and the new master knows both tasks as running under it.
    let operator = OperatorClient::new(&master).expect("master address");
    let deadline = Instant::now() + WITHIN;
    loop {
        let state = operator.state().await.expect("GET_STATE");
        let running = state
            .get_tasks
            .map(|t| t.tasks)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| {
                t.framework_id == id
                    && t.executor_id.as_ref() == Some(&executor)
                    && t.state == TaskState::TaskRunning
            })
            .count();
        if running == 2 && restart.elapsed() > Duration::from_secs(4) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tasks not running again: {running}/2"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        processes_with_env("MESOS_EXECUTOR_ID", &executor.value),
        executor_pids,
        "the executor process survived"
    );
    assert_eq!(processes_with_env("MESOS_TASK_ID", &t1.value), task_pids);
    // The executor's own output: with libmesos' local cluster (`local::launch`), the agent
    // gives executors its own stdout/stderr, i.e. STATE_DIR/mesos.log, not sandbox files.
    let log = std::fs::read_to_string(format!("{state_dir}/mesos.log")).expect("mesos.log");
    let subscribed = format!("SUBSCRIBED: executor {} ", executor.value);
    let subscriptions = log.lines().filter(|l| l.contains(&subscribed)).count();
    assert_eq!(
        subscriptions, 2,
        "SUBSCRIBED lines of {} in mesos.log",
        executor.value
    );
    let attempt = format!("executor {}: SUBSCRIBE #", executor.value);
    let resubscribed = log.lines().filter(|l| l.contains(&attempt)).count();
    println!(
        "executor {} ({}) re-subscribed: {subscriptions} SUBSCRIBED, {resubscribed} SUBSCRIBE attempts",
        executor.value, executor_pids[0]
    );
    assert!(
        fw.statuses.iter().all(|s| !s.state.is_terminal()),
        "{:?}",
        common::summary(&fw.statuses)
    );

    // It still obeys.
    let kill = Instant::now();
    fw.caller
        .call(&Call::kill(id.clone(), t2.clone(), None))
        .await
        .expect("KILL");
    let killed = fw
        .wait_for(
            &[(&t1, TaskState::TaskKilled), (&t2, TaskState::TaskKilled)],
            kill,
        )
        .await;
    wait_gone("MESOS_EXECUTOR_ID", &executor.value).await;
    println!("after the restart: KILL → both KILLED in {killed:?}, executor gone");
    fw.caller.call(&Call::teardown(id)).await.expect("TEARDOWN");
}
