//! Cases about supervising groups: adoption across a restart of tars, restart policies and
//! backoff, health checks, placement, secrets, and the state lock.

use std::time::Duration;

use tars_api::api::{LogOptions, WatchEvent};
use tars_api::capability::{Feature, Support};
use tars_api::conditions::{is_group_ready, is_group_running};
use tars_api::group::{
    Constraint, ConstraintOp, ContainerState, ContainerStatus, GroupPhase, Probe, ProbeAction,
    SecretRef,
};
use tars_api::{
    ApplyOptions, Container, ContainerGroup, ContainerGroupSpec, EnvVar, Error, RestartPolicy,
};
use tars_engine::wait::wait_for;

use super::*;
use crate::fixtures::{self, IMAGE, SUITE_LABEL};
use crate::{Outcome, Target};

cases![
    group_adopted_across_tars_restart,
    group_ended_while_tars_down_is_restarted_per_policy,
    liveness_failure_restarts_container,
    readiness_gates_ready_and_endpoints,
    restart_backoff_grows,
    second_tars_instance_on_same_state_refused,
    secret_reaches_container_but_never_state_or_status,
    impossible_placement_refused,
];

fn group(name: &str, containers: Vec<Container>, policy: RestartPolicy) -> ContainerGroup {
    let mut spec = ContainerGroupSpec::new(containers);
    spec.restart_policy = policy;
    spec.termination_grace_period = Duration::from_secs(5);
    ContainerGroup::new(name, spec).with_label(SUITE_LABEL, "true")
}

fn shell(name: &str, script: &str) -> Container {
    let mut c = Container::new(name, IMAGE, &["sh", "-c"]);
    c.args = vec![script.to_owned()];
    c
}

fn container_status(g: &ContainerGroup, i: usize) -> Option<ContainerStatus> {
    g.status.as_ref().and_then(|s| s.containers.get(i).cloned())
}

/// A tars instance that dies and comes back finds its running containers and adopts them:
/// same process (not restarted), logs continuing in the same file, then deletes them cleanly.
pub async fn group_adopted_across_tars_restart(t: &dyn Target) -> Outcome {
    let run = async {
        let name = "adopted";
        apply(
            &*t.backend(),
            &group(
                name,
                vec![shell(
                    "ticker",
                    "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done",
                )],
                RestartPolicy::Always,
            ),
        )
        .await?;
        let before = wait_for(
            t.backend().container_groups(),
            name,
            is_group_running(),
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?
        .ok_or("vanished")?;
        let cs_before = container_status(&before, 0).ok_or("no container status")?;
        if let Err(why) = t.restart().await {
            return Ok(Some(why));
        }
        let backend = t.backend();
        let after = wait_for(
            backend.container_groups(),
            name,
            is_group_running(),
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?
        .ok_or("vanished after the restart")?;
        ensure!(
            after.metadata.uid == before.metadata.uid,
            "a new incarnation after the restart"
        );
        let cs_after = container_status(&after, 0).ok_or("no container status")?;
        ensure!(
            cs_after.restart_count == cs_before.restart_count,
            "the container was restarted ({} -> {}), not adopted",
            cs_before.restart_count,
            cs_after.restart_count
        );
        match (&cs_before.state, &cs_after.state) {
            (
                ContainerState::Running { started_at: a },
                ContainerState::Running { started_at: b },
            ) => {
                ensure!(
                    a == b,
                    "the container's start time changed from {a} to {b}: it was restarted"
                )
            }
            other => {
                return Err(format!(
                    "not running on both sides of the restart: {other:?}"
                ));
            }
        }
        if t.programs_run().is_err() {
            delete_and_check_gone(t, name).await?;
            return Ok(None);
        }
        let first = backend
            .container_groups()
            .logs(name, "ticker", &LogOptions::default())
            .await
            .map_err(e2s)?;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let second = backend
            .container_groups()
            .logs(name, "ticker", &LogOptions::default())
            .await
            .map_err(e2s)?;
        ensure!(
            second.len() > first.len() && second.starts_with(&first),
            "the log did not continue in the same file"
        );
        delete_and_check_gone(t, name).await?;
        Ok(None)
    };
    conclude(run.await, Outcome::NotRun)
}

/// A container that exits while no tars instance runs has its exit code collected by the next
/// one and is restarted per its policy (here: OnFailure, exit 3).
pub async fn group_ended_while_tars_down_is_restarted_per_policy(t: &dyn Target) -> Outcome {
    if let Err(why) = t.programs_run() {
        return Outcome::NotRun(why);
    }
    let run = async {
        let name = "ended-while-down";
        // The first run exits 3 after a second; later runs keep going.
        let script =
            "if [ -f first-done ]; then exec sleep 1000; fi; touch first-done; sleep 1; exit 3";
        apply(
            &*t.backend(),
            &group(
                name,
                vec![shell("worker", script)],
                RestartPolicy::OnFailure,
            ),
        )
        .await?;
        wait_for(
            t.backend().container_groups(),
            name,
            is_group_running(),
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?;
        if let Err(why) = t.restart_after(Duration::from_millis(2500)).await {
            return Ok(Some(why));
        }
        let restarted = wait_for(
            t.backend().container_groups(),
            name,
            |o: Option<&ContainerGroup>| {
                o.and_then(|g| container_status(g, 0)).is_some_and(|c| {
                    c.restart_count >= 1 && matches!(c.state, ContainerState::Running { .. })
                })
            },
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?
        .ok_or("vanished")?;
        let cs = container_status(&restarted, 0).ok_or("no status")?;
        let last = cs.last_termination.ok_or("no last termination recorded")?;
        ensure!(
            last.exit_code == Some(3),
            "exit code collected as {:?}, expected 3 ({last:?})",
            last.exit_code
        );
        delete_and_check_gone(t, name).await?;
        Ok(None)
    };
    conclude(run.await, Outcome::NotRun)
}

/// A container whose liveness check fails is restarted.
pub async fn liveness_failure_restarts_container(t: &dyn Target) -> Outcome {
    if let Err(why) = t.programs_run() {
        return Outcome::NotRun(why);
    }
    let backend = t.backend();
    let run = async {
        let caps = caps(&*backend).await?;
        let name = "liveness";
        // Alive for a second after each start, then the check file disappears.
        let mut c = shell("app", "touch alive; sleep 1; rm -f alive; exec sleep 1000");
        let mut probe = Probe::new(ProbeAction::Exec {
            command: vec!["test".into(), "-f".into(), "alive".into()],
        })
        .every(Duration::from_millis(200));
        probe.failure_threshold = 2;
        c.liveness = Some(probe);
        let g = group(name, vec![c], RestartPolicy::Always);
        if let Some(refused) = expect_refused(&*backend, &caps, Feature::LivenessChecks, &g).await {
            return refused.map(Some);
        }
        apply(&*backend, &g).await?;
        wait_for(
            backend.container_groups(),
            name,
            |o: Option<&ContainerGroup>| {
                o.and_then(|g| container_status(g, 0))
                    .is_some_and(|c| c.restart_count >= 1)
            },
            Duration::from_secs(20),
            |_| {},
        )
        .await
        .map_err(|e| format!("no restart after the liveness check failed: {e}"))?;
        delete_and_check_gone(t, name).await?;
        Ok(None)
    };
    conclude(run.await, Outcome::Unsupported)
}

/// A running group is not ready, and shows no endpoints, until its readiness check passes.
pub async fn readiness_gates_ready_and_endpoints(t: &dyn Target) -> Outcome {
    if let Err(why) = t.programs_run() {
        return Outcome::NotRun(why);
    }
    let backend = t.backend();
    let run = async {
        let name = "readiness";
        let mut c =
            shell("app", "sleep 1.5; touch ready; exec sleep 1000").with_port("http", Some(8080));
        c.readiness = Some(
            Probe::new(ProbeAction::Exec {
                command: vec!["test".into(), "-f".into(), "ready".into()],
            })
            .every(Duration::from_millis(100)),
        );
        apply(&*backend, &group(name, vec![c], RestartPolicy::Always)).await?;
        let running = wait_for(
            backend.container_groups(),
            name,
            is_group_running(),
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?
        .ok_or("vanished")?;
        let s = running.status.unwrap_or_default();
        ensure!(!s.ready, "ready before the readiness check could pass");
        ensure!(
            s.endpoints.is_empty(),
            "endpoints shown before ready: {:?}",
            s.endpoints
        );
        let ready = wait_for(
            backend.container_groups(),
            name,
            is_group_ready(),
            Duration::from_secs(20),
            |_| {},
        )
        .await
        .map_err(e2s)?
        .ok_or("vanished")?;
        let s = ready.status.unwrap_or_default();
        ensure!(
            s.endpoint("http").is_some(),
            "ready without the http endpoint: {:?}",
            s.endpoints
        );
        delete_and_check_gone(t, name).await
    };
    run.await.into()
}

/// A container that keeps failing is restarted with a growing delay (exponential backoff).
pub async fn restart_backoff_grows(t: &dyn Target) -> Outcome {
    if let Err(why) = t.programs_run() {
        return Outcome::NotRun(why);
    }
    let backend = t.backend();
    let run = async {
        let name = "backoff";
        let mut events = backend
            .container_groups()
            .watch(&tars_api::LabelSelector::everything())
            .await
            .map_err(e2s)?;
        apply(
            &*backend,
            &group(
                name,
                vec![shell("crasher", "exit 1")],
                RestartPolicy::Always,
            ),
        )
        .await?;
        // The instants at which each new run started, seen through the watch.
        let mut starts: Vec<tokio::time::Instant> = Vec::new();
        let mut last_count = None;
        // Room for four doublings from an engine's first delay (Mesos: 1.5 s, so 22.5 s of
        // back-off) plus its launch time under load.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
        while starts.len() < 5 {
            let event = tokio::time::timeout_at(deadline, futures::StreamExt::next(&mut events))
                .await
                .map_err(|_| format!("only {} restarts seen in 45 s", starts.len()))?
                .ok_or("watch ended")?
                .map_err(e2s)?;
            if let WatchEvent::Modified(g) | WatchEvent::Added(g) = &event {
                if g.name() != name {
                    continue;
                }
                if let Some(cs) = container_status(g, 0)
                    && matches!(cs.state, ContainerState::Running { .. })
                    && last_count != Some(cs.restart_count)
                {
                    last_count = Some(cs.restart_count);
                    starts.push(tokio::time::Instant::now());
                }
            }
        }
        // The gaps are the back-off plus what the engine takes to start a run again (an offer
        // to wait for, a process to spawn), which varies with load: each gap must be longer
        // than the one before, and over the three steps the delay must at least triple.
        let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        for w in gaps.windows(2) {
            ensure!(
                w[1] > w[0].mul_f64(1.1),
                "restart delays do not grow: {gaps:?}"
            );
        }
        ensure!(
            gaps[gaps.len() - 1] > gaps[0].mul_f64(3.0),
            "restart delays do not grow exponentially: {gaps:?}"
        );
        delete_and_check_gone(t, name).await
    };
    run.await.into()
}

/// A second tars instance on the same state fails fast instead of double-running anything.
pub async fn second_tars_instance_on_same_state_refused(t: &dyn Target) -> Outcome {
    match t.open_second_instance().await {
        None => {
            Outcome::NotRun("the engine keeps the state; there is no local state to share".into())
        }
        Some(Ok(())) => Outcome::Fail("a second tars instance opened the same state".into()),
        Some(Err(Error::Unavailable { reason, .. })) if reason.contains("in use") => Outcome::Pass,
        Some(Err(e)) => Outcome::Fail(format!("refused, but not as `in use`: {e}")),
    }
}

/// A secret reaches the container's environment, and its value appears nowhere else: not in
/// the object or status tars returns, not in errors, not in tars' state.
pub async fn secret_reaches_container_but_never_state_or_status(t: &dyn Target) -> Outcome {
    if let Err(why) = t.programs_run() {
        return Outcome::NotRun(why);
    }
    let backend = t.backend();
    const SENTINEL: &str = "sentinel-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e";
    let run = async {
        let caps = caps(&*backend).await?;
        let name = "secret";
        // The container checks the value without printing it (its length and a fixed part).
        let mut c = shell(
            "app",
            "case \"$DB_PASSWORD\" in sentinel-7f3a*) echo secret-ok;; *) echo secret-missing;; esac; exec sleep 1000",
        );
        c.env.push(EnvVar::from_secret(
            "DB_PASSWORD",
            SecretRef {
                name: "db".into(),
                key: "password".into(),
            },
        ));
        let g = group(name, vec![c], RestartPolicy::Always);
        if let Some(refused) = expect_refused(&*backend, &caps, Feature::Secrets, &g).await {
            return refused.map(Some);
        }
        t.provide_secret("db", "password", SENTINEL).await?;
        let out = backend
            .container_groups()
            .apply(&g, ApplyOptions::default())
            .await
            .map_err(e2s)?;
        ensure!(
            !format!("{out:?}").contains(SENTINEL),
            "the apply outcome shows the secret"
        );
        let running = wait_for(
            backend.container_groups(),
            name,
            is_group_running(),
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?
        .ok_or("vanished")?;
        if caps.supports(Feature::Logs) {
            wait_log(&*backend, name, "app", "secret-ok").await?;
        }
        ensure!(
            !format!("{running:?}").contains(SENTINEL),
            "the object's Debug shows the secret"
        );
        let json = serde_json_string(&running);
        ensure!(
            !json.contains(SENTINEL),
            "the object's JSON shows the secret"
        );
        let found = t.state_containing(SENTINEL.as_bytes()).await?;
        ensure!(
            found.is_empty(),
            "the secret is stored in tars' state: {}",
            found.join(", ")
        );
        delete_and_check_gone(t, name).await?;
        Ok(None)
    };
    conclude(run.await, Outcome::Unsupported)
}

fn serde_json_string(g: &ContainerGroup) -> String {
    serde_json::to_string(g).unwrap_or_default()
}

/// A group whose placement constraints no host meets is refused with `Error::Invalid` naming
/// the constraint (or kept pending, unscheduled); one whose constraints hold runs.
pub async fn impossible_placement_refused(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let run = async {
        let caps = caps(&*backend).await?;
        let mut g = fixtures::sleeper("placement-impossible", "x");
        g.spec.placement.constraints.push(Constraint {
            attribute: "rack".into(),
            operator: ConstraintOp::Eq,
            values: vec!["no-such-rack-anywhere".into()],
        });
        if let Some(refused) =
            expect_refused(&*backend, &caps, Feature::PlacementConstraints, &g).await
        {
            return refused.map(Some);
        }
        match backend
            .container_groups()
            .apply(&g, ApplyOptions::default())
            .await
        {
            Err(Error::Invalid { field, .. }) => ensure!(
                field == "spec.placement.constraints[0]",
                "refused at {field}, not spec.placement.constraints[0]"
            ),
            // A cluster's scheduler places groups after they are accepted (nodes come and
            // go): the group must then say that it cannot be placed, and never run.
            Ok(_) if caps.get(Feature::PlacementConstraints) == Support::Native => {
                let unschedulable = wait_for(
                    backend.container_groups(),
                    "placement-impossible",
                    |o: Option<&ContainerGroup>| {
                        o.and_then(|o| o.status.as_ref()).is_some_and(|s| {
                            s.phase == GroupPhase::Pending
                                && s.conditions.iter().any(|c| {
                                    !c.status && c.reason.as_deref() == Some("Unschedulable")
                                })
                        })
                    },
                    Duration::from_secs(30),
                    |_| {},
                )
                .await
                .map_err(|e| {
                    format!(
                        "an impossible placement was accepted and not reported unschedulable: {e}"
                    )
                })?;
                ensure!(unschedulable.is_some(), "the group vanished");
                delete_and_check_gone(t, "placement-impossible").await?;
            }
            other => return Err(format!("an impossible placement was accepted: {other:?}")),
        }
        let mut ok = fixtures::sleeper("placement-possible", "x");
        ok.spec.placement.constraints.push(Constraint {
            attribute: "os".into(),
            operator: ConstraintOp::In,
            values: vec![std::env::consts::OS.into()],
        });
        apply(&*backend, &ok).await?;
        wait_for(
            backend.container_groups(),
            "placement-possible",
            is_group_running(),
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?;
        delete_and_check_gone(t, "placement-possible").await?;
        Ok(None)
    };
    conclude(run.await, Outcome::Unsupported)
}
