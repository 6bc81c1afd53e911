//! The framework against a real master (`TARS_MESOS_MASTER=HOST:PORT`; without it the test
//! says so and checks nothing): a two-container group is one executor with two tasks on the
//! master, a restarted tars process fails over to the same framework (id from its state
//! directory) and finds its group again with the same uid, and a delete leaves no live task.
//! Prints how long each step took.

use std::time::{Duration, Instant};

use tars_api::conditions::is_group_running;
use tars_api::group::{Constraint, ConstraintOp};
use tars_api::{
    ApplyOptions, Backend, Container, ContainerGroup, ContainerGroupSpec, DeleteOptions,
    GroupPhase, ListParams,
};
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::v1::master::CallType;
use tars_backend_mesos::{MesosBackend, MesosConfig};
use tars_engine::wait::wait_for;

fn sleeper(name: &str) -> Container {
    let mut c = Container::new(name, "none", &["sh", "-c"]);
    c.args = vec![format!("echo {name}-up; while true; do sleep 1; done")];
    c
}

async fn our_live_tasks(
    operator: &OperatorClient,
    framework: &str,
) -> Vec<tars_backend_mesos::v1::mesos::Task> {
    operator
        .call(CallType::GetTasks)
        .await
        .expect("GET_TASKS")
        .get_tasks
        .unwrap_or_default()
        .tasks
        .into_iter()
        .filter(|t| t.framework_id.value == framework)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_tars_keeps_its_framework_and_its_group() {
    let Ok(master) = std::env::var("TARS_MESOS_MASTER") else {
        eprintln!("TARS_MESOS_MASTER is not set: nothing checked");
        return;
    };
    let state = tempfile::tempdir().expect("tempdir");
    let config = MesosConfig::new(master.clone())
        .state_dir(state.path())
        .instance(format!("fw-test-{:04x}", fastrand::u16(..)))
        .failover_timeout(Duration::from_secs(300));
    let operator = OperatorClient::new(&master).expect("operator");

    let t0 = Instant::now();
    let backend = MesosBackend::connect(config.clone())
        .await
        .expect("connect");
    backend
        .container_groups()
        .list(&ListParams::all())
        .await
        .expect("list (waits for the subscription)");
    let framework = backend.framework_id().expect("subscribed");
    eprintln!("connect → subscribed and synced: {:?}", t0.elapsed());

    // A group no agent can take stays pending, and is still there after a restart.
    let mut waiting = ContainerGroup::new("waiting", ContainerGroupSpec::new(vec![sleeper("w")]));
    waiting.spec.placement.constraints.push(Constraint {
        attribute: "rack".into(),
        operator: ConstraintOp::Eq,
        values: vec!["nowhere".into()],
    });
    backend
        .container_groups()
        .apply(&waiting, ApplyOptions::default())
        .await
        .expect("apply waiting");

    let group = ContainerGroup::new(
        "pair",
        ContainerGroupSpec::new(vec![sleeper("left"), sleeper("right")]),
    );
    let t1 = Instant::now();
    let applied = backend
        .container_groups()
        .apply(&group, ApplyOptions::default())
        .await
        .expect("apply");
    // Launched: running with the tars executor, failed without one.
    let launched = wait_for(
        backend.container_groups(),
        "pair",
        |o: Option<&ContainerGroup>| {
            o.and_then(|o| o.status.as_ref())
                .is_some_and(|s| s.phase != GroupPhase::Pending)
        },
        Duration::from_secs(60),
        |_| {},
    )
    .await
    .expect("launched")
    .expect("still there");
    let phase = launched.status.as_ref().map(|s| s.phase);
    eprintln!("apply → {phase:?}: {:?}", t1.elapsed());
    let running = phase == Some(GroupPhase::Running);
    if running {
        // GET_STATE: one executor of this framework, with the group's two tasks.
        let state = operator.state().await.expect("GET_STATE");
        let tasks: Vec<_> = state
            .get_tasks
            .unwrap_or_default()
            .tasks
            .into_iter()
            .filter(|t| t.framework_id.value == framework)
            .collect();
        assert_eq!(tasks.len(), 2, "one task per container: {tasks:?}");
        let executors: Vec<_> = state
            .get_executors
            .unwrap_or_default()
            .executors
            .into_iter()
            .filter(|e| {
                e.executor_info
                    .framework_id
                    .as_ref()
                    .map(|f| f.value.as_str())
                    == Some(framework.as_str())
            })
            .map(|e| e.executor_info.executor_id)
            .collect();
        assert_eq!(executors.len(), 1, "N tasks : 1 executor: {executors:?}");
        assert!(
            tasks
                .iter()
                .all(|t| t.executor_id.as_ref() == Some(&executors[0])),
            "every task under that executor"
        );
    } else {
        eprintln!(
            "no tars executor on the agent: the group ended {:?}",
            launched.status.as_ref().and_then(|s| s.message.clone())
        );
    }

    // A tars process that stops without TEARDOWN: its framework and tasks stay.
    backend.shutdown().await.expect("shutdown");
    drop(backend);
    let t2 = Instant::now();
    let again = MesosBackend::connect(config.clone())
        .await
        .expect("reconnect");
    let found = again
        .container_groups()
        .get("pair")
        .await
        .expect("the group is found again");
    assert_eq!(again.framework_id().as_deref(), Some(framework.as_str()));
    assert_eq!(found.metadata.uid, applied.object.metadata.uid);
    assert_eq!(
        found.metadata.generation,
        applied.object.metadata.generation
    );
    if running {
        wait_for(
            again.container_groups(),
            "pair",
            is_group_running(),
            Duration::from_secs(30),
            |_| {},
        )
        .await
        .expect("still running after the restart");
    }
    eprintln!("restart → reconciled: {:?}", t2.elapsed());

    let t3 = Instant::now();
    again
        .container_groups()
        .delete("pair", DeleteOptions::default())
        .await
        .expect("delete");
    eprintln!("delete → gone: {:?}", t3.elapsed());
    assert!(our_live_tasks(&operator, &framework).await.is_empty());
    again.teardown().await.expect("teardown");
}
