//! Cases about deployments: rollouts, their bounds, gates, pauses, scaling, deadlines,
//! rollbacks, deletion and crash recovery.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tars_api::api::{Change, DeleteOptions, ListParams, ObjectApi, WatchEvent};
use tars_api::capability::Feature;
use tars_api::deployment::{BatchPattern, Gate, IntOrPercent, Strategy};
use tars_api::group::{GroupTemplate, Probe, ProbeAction};
use tars_api::meta::OWNER_LABEL;
use tars_api::{
    ApplyOptions, Backend, Container, ContainerGroup, ContainerGroupSpec, Deployment,
    DeploymentSpec, Error, LabelSelector,
};
use tars_engine::wait::wait_for;

use super::*;
use crate::fixtures::{IMAGE, SUITE_LABEL};
use crate::{Outcome, Target};

cases![
    deployment_create_available,
    deployment_rolling_bounds,
    deployment_batches_canary_gate,
    deployment_pause_resume,
    deployment_scale_mid_rollout,
    deployment_deadline_auto_rollback,
    deployment_rollback_to_revision,
    deployment_idempotent_apply,
    deployment_delete_cleans_up,
    deployment_restart_resumes,
    deployment_recreate_never_mixes_revisions,
    deployment_spread_keeps_replicas_apart,
    foreign_deployment_refused_with_conflict,
];

/// How long a rollout of a few replicas may take.
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(60);

/// A template running `sleep` with `VERSION=version`, ready when its exec check passes
/// (`ready_check` = `true`) or never (`false`).
fn template(version: &str, ready_check: &str) -> GroupTemplate {
    let mut probe = Probe::new(ProbeAction::Exec {
        command: vec![ready_check.to_owned()],
    })
    .every(Duration::from_millis(150));
    probe.failure_threshold = 1;
    let container = Container::new("main", IMAGE, &["sleep", "3600"])
        .with_env("VERSION", version)
        .with_readiness(probe);
    let mut spec = ContainerGroupSpec::new(vec![container]);
    spec.termination_grace_period = Duration::from_secs(5);
    GroupTemplate {
        labels: [("app".to_owned(), "conformance".to_owned())].into(),
        annotations: Default::default(),
        spec,
    }
}

/// Like [`template`], with a process that takes a second to stop after SIGTERM, so that
/// replicas of two versions would overlap visibly if a strategy let them.
fn slow_stop_template(version: &str) -> GroupTemplate {
    let mut t = template(version, "true");
    t.spec.containers[0].command = vec![
        "sh".into(),
        "-c".into(),
        "trap 'sleep 1; exit 0' TERM; sleep 3600 & wait".into(),
    ];
    t
}

fn rolling(surge: u32, unavailable: u32) -> Strategy {
    Strategy::Rolling {
        max_surge: IntOrPercent::Int(surge),
        max_unavailable: IntOrPercent::Int(unavailable),
    }
}

/// `replicas` of version `version`, rolling one at a time with no replica unavailable,
/// replicas available 300 ms after they are ready.
fn deployment(name: &str, replicas: u32, version: &str) -> Deployment {
    Deployment::new(
        name,
        DeploymentSpec {
            replicas,
            template: template(version, "true"),
            strategy: rolling(1, 0),
            min_ready: Duration::from_millis(300),
            progress_deadline: None,
            auto_rollback: false,
            paused: false,
            revision_history_limit: 10,
        },
    )
    .with_label(SUITE_LABEL, "true")
}

fn version_of(template: &GroupTemplate) -> Option<&str> {
    template.spec.containers[0]
        .env
        .iter()
        .find(|e| e.name == "VERSION")
        .and_then(|e| e.value.as_deref())
}

/// `Some(outcome)` when the backend does not offer deployments: then they must be refused.
async fn unsupported(backend: &dyn Backend) -> Option<Outcome> {
    let caps = match caps(backend).await {
        Ok(c) => c,
        Err(e) => return Some(Outcome::Fail(e)),
    };
    if caps.supports(Feature::Deployments) {
        return None;
    }
    Some(
        match backend
            .deployments()
            .apply(&deployment("refused", 1, "v1"), ApplyOptions::default())
            .await
        {
            Err(Error::Unsupported { .. }) => {
                Outcome::Unsupported("deployments declared unsupported".into())
            }
            other => Outcome::Fail(format!(
                "deployments declared unsupported, but apply returned {other:?}"
            )),
        },
    )
}

/// `Some(outcome)` when the backend does not offer the strategy `feature` (batches): a
/// deployment using it must then be refused with `Unsupported`.
async fn unsupported_strategy(backend: &dyn Backend, feature: Feature) -> Option<Outcome> {
    let caps = match caps(backend).await {
        Ok(c) => c,
        Err(e) => return Some(Outcome::Fail(e)),
    };
    if caps.supports(feature) {
        return None;
    }
    let mut d = deployment("refused-strategy", 2, "v1");
    d.spec.strategy = Strategy::Batches {
        pattern: BatchPattern(vec![50, 50]),
        pause_between: Duration::ZERO,
        gate: Gate::None,
    };
    Some(
        match backend
            .deployments()
            .apply(&d, ApplyOptions::default())
            .await
        {
            Err(Error::Unsupported { reason, .. }) => Outcome::Unsupported(reason),
            other => Outcome::Fail(format!(
                "{feature:?} declared unsupported, but apply returned {other:?}"
            )),
        },
    )
}

async fn apply_d(backend: &dyn Backend, d: &Deployment) -> Result<Deployment, String> {
    apply_with(backend, d, ApplyOptions::default())
        .await
        .map(|o| o.object)
}

/// Applies `d`; on a backend that runs no readiness check, without the template's check that
/// always passes (`true`): a replica is then ready when its engine says it runs, which is what
/// the check says anyway. A check that fails (`false`) is kept, to be refused.
async fn apply_with(
    backend: &dyn Backend,
    d: &Deployment,
    options: ApplyOptions,
) -> Result<tars_api::api::ApplyOutcome<DeploymentSpec>, String> {
    let mut d = d.clone();
    if !caps(backend).await?.supports(Feature::ReadinessChecks) {
        for c in &mut d.spec.template.spec.containers {
            if c.readiness.as_ref().is_some_and(
                |p| matches!(&p.check, ProbeAction::Exec { command } if command == &["true"]),
            ) {
                c.readiness = None;
            }
        }
    }
    backend
        .deployments()
        .apply(&d, options)
        .await
        .map_err(|e| format!("apply deployment {}: {e}", d.name()))
}

/// `d` without the readiness check that always passes, on a backend that runs none (see
/// [`apply_with`]).
async fn fit(backend: &dyn Backend, d: &Deployment) -> Result<Deployment, String> {
    let mut d = d.clone();
    if !caps(backend).await?.supports(Feature::ReadinessChecks) {
        for c in &mut d.spec.template.spec.containers {
            if c.readiness.as_ref().is_some_and(
                |p| matches!(&p.check, ProbeAction::Exec { command } if command == &["true"]),
            ) {
                c.readiness = None;
            }
        }
    }
    Ok(d)
}

fn api(backend: &dyn Backend) -> &dyn ObjectApi<DeploymentSpec> {
    backend.deployments()
}

/// Waits until the deployment's status reflects its current spec and every replica runs the
/// current template and is available.
async fn wait_complete(backend: &dyn Backend, name: &str) -> Result<Deployment, String> {
    wait_for(
        api(backend),
        name,
        |o: Option<&Deployment>| {
            o.is_some_and(|o| {
                o.status.as_ref().is_some_and(|s| {
                    let want = o.spec.replicas;
                    Some(s.observed_generation) == o.metadata.generation
                        && s.updated == want
                        && s.available == want
                        && s.replicas == want
                        && s.current_revision == s.revision
                })
            })
        },
        ROLLOUT_TIMEOUT,
        |_| {},
    )
    .await
    .map_err(|e| format!("{name} did not complete its rollout: {e}"))?
    .ok_or_else(|| format!("{name} vanished"))
}

/// Waits until `pred` holds for the deployment's status.
async fn wait_status(
    backend: &dyn Backend,
    name: &str,
    what: &str,
    pred: impl Fn(&Deployment) -> bool + Send + Sync,
) -> Result<Deployment, String> {
    wait_for(
        api(backend),
        name,
        move |o: Option<&Deployment>| o.is_some_and(&pred),
        ROLLOUT_TIMEOUT,
        |_| {},
    )
    .await
    .map_err(|e| format!("{name}: {what}: {e}"))?
    .ok_or_else(|| format!("{name} vanished"))
}

async fn replicas(backend: &dyn Backend, name: &str) -> Result<Vec<ContainerGroup>, String> {
    let params = ListParams::matching(LabelSelector::everything().eq(OWNER_LABEL, name));
    backend
        .container_groups()
        .list(&params)
        .await
        .map(|l| l.items)
        .map_err(|e| format!("list replicas of {name}: {e}"))
}

/// Checks that exactly `count` replica groups of `name` exist and all run `version`.
async fn expect_replicas(
    backend: &dyn Backend,
    name: &str,
    count: usize,
    version: &str,
) -> Result<Vec<ContainerGroup>, String> {
    let groups = replicas(backend, name).await?;
    let versions: Vec<Option<&str>> = groups
        .iter()
        .map(|g| {
            g.spec.containers[0]
                .env
                .iter()
                .find(|e| e.name == "VERSION")
                .and_then(|e| e.value.as_deref())
        })
        .collect();
    ensure!(
        groups.len() == count && versions.iter().all(|v| *v == Some(version)),
        "expected {count} replicas of {version}, found {versions:?}"
    );
    Ok(groups)
}

async fn delete_d(t: &dyn Target, name: &str) -> Result<(), String> {
    let backend = t.backend();
    let before = replicas(&*backend, name).await?;
    backend
        .deployments()
        .delete(name, DeleteOptions::default())
        .await
        .map_err(|e| format!("delete deployment {name}: {e}"))?;
    match backend.deployments().get(name).await {
        Err(Error::NotFound { .. }) => {}
        other => {
            return Err(format!(
                "get after delete: expected NotFound, got {other:?}"
            ));
        }
    }
    let after = replicas(&*backend, name).await?;
    ensure!(
        after.is_empty(),
        "replicas left after delete: {:?}",
        after.iter().map(|g| g.name()).collect::<Vec<_>>()
    );
    for g in &before {
        let left = t.leftovers(g.name()).await?;
        ensure!(
            left.is_empty(),
            "after delete of {name}, replica {} left: {}",
            g.name(),
            left.join(", ")
        );
    }
    Ok(())
}

/// What the bounds monitor saw.
#[derive(Debug, Default)]
struct Seen {
    polls: usize,
    events: usize,
    most_groups: usize,
    fewest_ready: usize,
    fewest_available: u32,
}

/// Polls the replica groups every 50 ms and watches the deployment until `stop` is set;
/// records the most groups, the fewest ready groups and the fewest available replicas that
/// the deployment reported.
fn monitor(
    backend: Arc<dyn Backend>,
    name: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Result<Seen, String>> {
    tokio::spawn(async move {
        let mut seen = Seen {
            polls: 0,
            events: 0,
            most_groups: 0,
            fewest_ready: usize::MAX,
            fewest_available: u32::MAX,
        };
        let selector = LabelSelector::everything().eq(SUITE_LABEL, "true");
        let mut events = api(&*backend).watch(&selector).await.map_err(e2s)?;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        while !stop.load(Ordering::SeqCst) {
            tokio::select! {
                _ = tick.tick() => {
                    let groups = replicas(&*backend, &name).await?;
                    let ready = groups
                        .iter()
                        .filter(|g| g.status.as_ref().is_some_and(|s| s.ready))
                        .count();
                    seen.polls += 1;
                    seen.most_groups = seen.most_groups.max(groups.len());
                    seen.fewest_ready = seen.fewest_ready.min(ready);
                }
                event = events.next() => {
                    match event {
                        Some(Ok(WatchEvent::Existing(o) | WatchEvent::Added(o) | WatchEvent::Modified(o)))
                            if o.name() == name =>
                        {
                            seen.events += 1;
                            let available = o.status.as_ref().map_or(0, |s| s.available);
                            seen.fewest_available = seen.fewest_available.min(available);
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(format!("deployment watch: {e}")),
                        None => return Err("the deployment watch ended".into()),
                    }
                }
            }
        }
        Ok(seen)
    })
}

/// apply → every replica ready and available, owned and labelled; status and conditions say
/// so; one revision in the history.
pub async fn deployment_create_available(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let run = async {
        let created = apply_d(&*backend, &deployment("create", 3, "v1")).await?;
        ensure!(
            created.metadata.is_owned_by(backend.instance()),
            "deployment lacks the ownership stamp"
        );
        let done = wait_complete(&*backend, "create").await?;
        let status = done.status.clone().unwrap_or_default();
        ensure!(
            status.ready == 3 && status.unavailable == 0 && status.revision == 1,
            "status after creation: {status:?}"
        );
        let available = status.conditions.iter().find(|c| c.type_ == "Available");
        ensure!(
            available.is_some_and(|c| c.status && c.last_transition.is_some()),
            "condition Available: {available:?}"
        );
        let groups = expect_replicas(&*backend, "create", 3, "v1").await?;
        for g in &groups {
            ensure!(
                g.metadata.is_owned_by(backend.instance())
                    && g.metadata.labels.get("app").map(String::as_str) == Some("conformance")
                    && g.status.as_ref().is_some_and(|s| s.ready),
                "replica {} is not a ready, owned group with the template's labels: {:?}",
                g.name(),
                g.metadata.labels
            );
            ensure!(
                g.name().starts_with("create-") && g.name().len() <= 63,
                "replica name {}",
                g.name()
            );
        }
        let history = backend.deployments().history("create").await.map_err(e2s)?;
        ensure!(history.len() == 1, "history: {history:?}");
        delete_d(t, "create").await
    };
    run.await.into()
}

/// With max_unavailable = 0 and max_surge = 1, the replicas ready never drop below
/// `replicas` (50 ms polls), the deployment never reports fewer available, and no more than
/// `replicas + 1` groups exist at once.
pub async fn deployment_rolling_bounds(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let run = async {
        apply_d(&*backend, &deployment("bounds", 3, "v1")).await?;
        wait_complete(&*backend, "bounds").await?;
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = monitor(backend.clone(), "bounds".into(), stop.clone());
        // Let the monitor take its snapshot before the rollout starts.
        tokio::time::sleep(Duration::from_millis(200)).await;
        apply_d(&*backend, &deployment("bounds", 3, "v2")).await?;
        let done = wait_complete(&*backend, "bounds").await;
        stop.store(true, Ordering::SeqCst);
        let seen = watcher.await.map_err(|e| format!("monitor: {e}"))??;
        done?;
        ensure!(
            seen.polls >= 5 && seen.events >= 3,
            "the monitor saw too little to judge: {seen:?}"
        );
        ensure!(
            seen.most_groups <= 4,
            "{} replicas at once (max 4)",
            seen.most_groups
        );
        ensure!(
            seen.fewest_ready >= 3,
            "only {} replicas ready at one poll",
            seen.fewest_ready
        );
        ensure!(
            seen.fewest_available >= 3,
            "the deployment reported only {} available",
            seen.fewest_available
        );
        expect_replicas(&*backend, "bounds", 3, "v2").await?;
        delete_d(t, "bounds").await
    };
    run.await.into()
}

/// Batches 25%+75% with a canary gate: the rollout stops after the first batch (status paused,
/// condition BatchGated) until resume(), then completes.
pub async fn deployment_batches_canary_gate(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    if let Some(o) = unsupported_strategy(&*backend, Feature::Batches).await {
        return o;
    }
    let run = async {
        let mut d = deployment("canary", 4, "v1");
        d.spec.strategy = Strategy::Batches {
            pattern: "25%+75%"
                .parse::<BatchPattern>()
                .map_err(|e| e.to_string())?,
            pause_between: Duration::ZERO,
            gate: Gate::Canary,
        };
        apply_d(&*backend, &d).await?;
        wait_complete(&*backend, "canary").await?;
        d.spec.template = template("v2", "true");
        apply_d(&*backend, &d).await?;
        let gated = wait_status(&*backend, "canary", "waiting at the canary gate", |o| {
            o.status
                .as_ref()
                .is_some_and(|s| s.paused && s.batch == Some(1) && s.updated == 1)
        })
        .await?;
        let reason = gated
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Progressing"))
            .and_then(|c| c.reason.clone());
        ensure!(
            reason.as_deref() == Some("BatchGated"),
            "Progressing reason {reason:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let still = backend.deployments().get("canary").await.map_err(e2s)?;
        let s = still.status.unwrap_or_default();
        ensure!(s.updated == 1 && s.paused, "the gate did not hold: {s:?}");
        let groups = replicas(&*backend, "canary").await?;
        ensure!(
            groups.len() == 4,
            "{} replicas at the gate, want 4",
            groups.len()
        );
        backend.deployments().resume("canary").await.map_err(e2s)?;
        wait_complete(&*backend, "canary").await?;
        expect_replicas(&*backend, "canary", 4, "v2").await?;
        delete_d(t, "canary").await
    };
    run.await.into()
}

/// pause() stops a rollout before it starts a new replica; resume() completes it.
pub async fn deployment_pause_resume(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let run = async {
        apply_d(&*backend, &deployment("paused", 2, "v1")).await?;
        wait_complete(&*backend, "paused").await?;
        let paused = backend.deployments().pause("paused").await.map_err(e2s)?;
        ensure!(paused.spec.paused, "pause() did not set spec.paused");
        let mut d = deployment("paused", 2, "v2");
        d.spec.paused = true;
        apply_d(&*backend, &d).await?;
        wait_status(&*backend, "paused", "reporting the pause", |o| {
            o.status
                .as_ref()
                .is_some_and(|s| Some(s.observed_generation) == o.metadata.generation && s.paused)
        })
        .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        expect_replicas(&*backend, "paused", 2, "v1").await?;
        let resumed = backend.deployments().resume("paused").await.map_err(e2s)?;
        ensure!(!resumed.spec.paused, "resume() left spec.paused set");
        wait_complete(&*backend, "paused").await?;
        expect_replicas(&*backend, "paused", 2, "v2").await?;
        delete_d(t, "paused").await
    };
    run.await.into()
}

/// scale() in the middle of a rollout: the rollout completes with the new count, and a
/// scale down afterwards removes replicas.
pub async fn deployment_scale_mid_rollout(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let run = async {
        apply_d(&*backend, &deployment("scale", 3, "v1")).await?;
        wait_complete(&*backend, "scale").await?;
        apply_d(&*backend, &deployment("scale", 3, "v2")).await?;
        wait_status(&*backend, "scale", "starting the rollout", |o| {
            o.status.as_ref().is_some_and(|s| {
                Some(s.observed_generation) == o.metadata.generation && s.updated >= 1
            })
        })
        .await?;
        let scaled = backend.deployments().scale("scale", 5).await.map_err(e2s)?;
        ensure!(
            scaled.spec.replicas == 5,
            "scale() returned {:?}",
            scaled.spec.replicas
        );
        wait_complete(&*backend, "scale").await?;
        expect_replicas(&*backend, "scale", 5, "v2").await?;
        backend.deployments().scale("scale", 2).await.map_err(e2s)?;
        wait_complete(&*backend, "scale").await?;
        expect_replicas(&*backend, "scale", 2, "v2").await?;
        let history = backend.deployments().history("scale").await.map_err(e2s)?;
        ensure!(history.len() == 2, "scaling made revisions: {history:?}");
        delete_d(t, "scale").await
    };
    run.await.into()
}

/// A template that never gets ready exceeds the progress deadline: Progressing=False with
/// reason ProgressDeadlineExceeded, then tars rolls back to the last complete revision.
pub async fn deployment_deadline_auto_rollback(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    // The new revision must never become ready: its readiness check has to run and fail.
    if let Err(why) = t.programs_run() {
        return Outcome::NotRun(why);
    }
    let run =
        async {
            let mut d = deployment("deadline", 2, "v1");
            d.spec.progress_deadline = Some(Duration::from_secs(3));
            d.spec.auto_rollback = true;
            apply_d(&*backend, &d).await?;
            wait_complete(&*backend, "deadline").await?;
            let mut events = api(&*backend)
                .watch(&LabelSelector::everything().eq(SUITE_LABEL, "true"))
                .await
                .map_err(e2s)?;
            d.spec.template = template("v2", "false");
            apply_d(&*backend, &d).await?;
            let exceeded = async {
                while let Some(event) = events.next().await {
                    if let Ok(WatchEvent::Modified(o)) = event
                        && o.name() == "deadline"
                        && o.status.as_ref().is_some_and(|s| {
                            s.conditions.iter().any(|c| {
                                c.type_ == "Progressing"
                                    && !c.status
                                    && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
                            })
                        })
                    {
                        return true;
                    }
                }
                false
            };
            ensure!(
                tokio::time::timeout(ROLLOUT_TIMEOUT, exceeded).await == Ok(true),
                "never saw Progressing=False with reason ProgressDeadlineExceeded"
            );
            let done = wait_status(&*backend, "deadline", "rolling back", |o| {
                version_of(&o.spec.template) == Some("v1")
            })
            .await?;
            ensure!(
                done.spec.template == template("v1", "true"),
                "rolled back to another template"
            );
            let done = wait_complete(&*backend, "deadline").await?;
            ensure!(
                done.status.as_ref().is_some_and(|s| s.revision == 3),
                "the rollback is not revision 3: {:?}",
                done.status
            );
            expect_replicas(&*backend, "deadline", 2, "v1").await?;
            let history = backend
                .deployments()
                .history("deadline")
                .await
                .map_err(e2s)?;
            ensure!(
                history.last().is_some_and(|r| r.revision == 3
                    && r.cause.as_deref().is_some_and(|c| c.contains("rollback"))),
                "history: {history:?}"
            );
            delete_d(t, "deadline").await
        };
    run.await.into()
}

/// rollback(Some(1)) re-applies revision 1's template as a new revision; rollback(None) goes
/// to the previous one; an unknown revision is refused with Invalid.
pub async fn deployment_rollback_to_revision(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let run = async {
        for v in ["v1", "v2", "v3"] {
            apply_d(&*backend, &deployment("rollback", 2, v)).await?;
            wait_complete(&*backend, "rollback").await?;
        }
        let back = backend
            .deployments()
            .rollback("rollback", Some(1))
            .await
            .map_err(e2s)?;
        ensure!(
            version_of(&back.spec.template) == Some("v1"),
            "rollback to 1 set {:?}",
            version_of(&back.spec.template)
        );
        let done = wait_complete(&*backend, "rollback").await?;
        ensure!(
            done.status.as_ref().is_some_and(|s| s.revision == 4),
            "status {:?}",
            done.status
        );
        expect_replicas(&*backend, "rollback", 2, "v1").await?;
        let history = backend
            .deployments()
            .history("rollback")
            .await
            .map_err(e2s)?;
        let numbers: Vec<u64> = history.iter().map(|r| r.revision).collect();
        ensure!(numbers == [2, 3, 4], "history {numbers:?}");
        ensure!(
            history[2].cause.as_deref() == Some("rollback to 1"),
            "cause {:?}",
            history[2].cause
        );
        let previous = backend
            .deployments()
            .rollback("rollback", None)
            .await
            .map_err(e2s)?;
        ensure!(
            version_of(&previous.spec.template) == Some("v3"),
            "rollback() chose {:?}",
            version_of(&previous.spec.template)
        );
        wait_complete(&*backend, "rollback").await?;
        expect_replicas(&*backend, "rollback", 2, "v3").await?;
        match backend.deployments().rollback("rollback", Some(99)).await {
            Err(Error::Invalid { field, .. }) if field == "to" => {}
            other => return Err(format!("rollback to an unknown revision: {other:?}")),
        }
        delete_d(t, "rollback").await
    };
    run.await.into()
}

/// The same deployment applied twice changes nothing (no new generation, revision or
/// replica); a dry run of a new template names the changed field and changes nothing.
pub async fn deployment_idempotent_apply(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let run = async {
        let d = deployment("idem", 2, "v1");
        apply_d(&*backend, &d).await?;
        let first = wait_complete(&*backend, "idem").await?;
        let before: Vec<(String, Option<String>)> = replicas(&*backend, "idem")
            .await?
            .into_iter()
            .map(|g| (g.name().to_owned(), g.metadata.uid))
            .collect();
        let again = apply_with(&*backend, &d, ApplyOptions::default()).await?;
        ensure!(
            again.change == Change::Unchanged,
            "second apply: {:?}",
            again.change
        );
        ensure!(
            again.object.metadata.generation == first.metadata.generation,
            "the generation moved"
        );
        let dry = apply_with(
            &*backend,
            &deployment("idem", 2, "v2"),
            ApplyOptions::dry_run(),
        )
        .await?;
        match &dry.change {
            Change::Updated { fields }
                if fields
                    .iter()
                    .any(|f| f.contains("spec.template.spec.containers[0].env")) => {}
            other => return Err(format!("dry run: {other:?}")),
        }
        ensure!(
            dry.object.status.as_ref().is_some_and(|s| s.revision == 2),
            "the dry run does not show the revision it would roll out: {:?}",
            dry.object.status
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = backend.deployments().get("idem").await.map_err(e2s)?;
        ensure!(
            version_of(&now.spec.template) == Some("v1"),
            "the dry run changed the spec"
        );
        let after: Vec<(String, Option<String>)> = replicas(&*backend, "idem")
            .await?
            .into_iter()
            .map(|g| (g.name().to_owned(), g.metadata.uid))
            .collect();
        ensure!(before == after, "replicas changed: {before:?} → {after:?}");
        let history = backend.deployments().history("idem").await.map_err(e2s)?;
        ensure!(history.len() == 1, "history {history:?}");
        delete_d(t, "idem").await
    };
    run.await.into()
}

/// delete stops every replica (no process or folder left) and forgets the deployment;
/// verbs on an unknown deployment fail with NotFound.
pub async fn deployment_delete_cleans_up(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let run = async {
        apply_d(&*backend, &deployment("gone", 3, "v1")).await?;
        wait_complete(&*backend, "gone").await?;
        delete_d(t, "gone").await?;
        let d = backend.deployments();
        match d.delete("gone", DeleteOptions::default()).await {
            Err(Error::NotFound { .. }) => {}
            other => return Err(format!("second delete: {other:?}")),
        }
        match d.scale("gone", 2).await {
            Err(Error::NotFound { .. }) => {}
            other => return Err(format!("scale of a deleted deployment: {other:?}")),
        }
        match d.history("gone").await {
            Err(Error::NotFound { .. }) => {}
            other => return Err(format!("history of a deleted deployment: {other:?}")),
        }
        let all = d.list(&ListParams::all()).await.map_err(e2s)?;
        ensure!(
            all.items.is_empty(),
            "still listed: {:?}",
            all.items.iter().map(|o| o.name()).collect::<Vec<_>>()
        );
        Ok(())
    };
    run.await.into()
}

/// A tars process killed in the middle of a rollout and restarted on the same state resumes
/// it and completes it, never running more than `replicas + max_surge` replicas.
pub async fn deployment_restart_resumes(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let run = async {
        apply_d(&*backend, &deployment("crash", 3, "v1")).await?;
        wait_complete(&*backend, "crash").await?;
        apply_d(&*backend, &deployment("crash", 3, "v2")).await?;
        wait_status(&*backend, "crash", "starting the rollout", |o| {
            o.status.as_ref().is_some_and(|s| {
                Some(s.observed_generation) == o.metadata.generation && s.updated >= 1
            })
        })
        .await?;
        drop(backend);
        if let Err(why) = t.restart().await {
            return Err(format!("not run: {why}"));
        }
        let backend = t.backend();
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = monitor(backend.clone(), "crash".into(), stop.clone());
        let done = wait_complete(&*backend, "crash").await;
        stop.store(true, Ordering::SeqCst);
        let seen = watcher.await.map_err(|e| format!("monitor: {e}"))??;
        done?;
        ensure!(
            seen.polls >= 5,
            "the monitor saw too little to judge: {seen:?}"
        );
        ensure!(
            seen.most_groups <= 4,
            "{} replicas at once after the restart (max 4)",
            seen.most_groups
        );
        expect_replicas(&*backend, "crash", 3, "v2").await?;
        delete_d(t, "crash").await
    };
    match run.await {
        Err(e) if e.starts_with("not run: ") => Outcome::NotRun(e["not run: ".len()..].to_owned()),
        other => other.into(),
    }
}

/// Recreate stops every old replica before it starts a new one: whenever a new replica is
/// listed, nothing of an old one (process, folder) is left on the engine.
pub async fn deployment_recreate_never_mixes_revisions(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let run = async {
        let mut d = deployment("recreate", 2, "v1");
        d.spec.strategy = Strategy::Recreate;
        d.spec.template = slow_stop_template("v1");
        apply_d(&*backend, &d).await?;
        wait_complete(&*backend, "recreate").await?;
        let old: Vec<String> = replicas(&*backend, "recreate")
            .await?
            .iter()
            .map(|g| g.name().to_owned())
            .collect();
        d.spec.template = slow_stop_template("v2");
        apply_d(&*backend, &d).await?;
        let stop = AtomicBool::new(false);
        let poll = async {
            let (mut checked, mut mixed) = (0usize, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                let groups = replicas(&*backend, "recreate").await?;
                if groups.iter().any(|g| !old.iter().any(|o| o == g.name())) {
                    checked += 1;
                    for name in &old {
                        mixed.extend(t.leftovers(name).await?);
                    }
                    if !mixed.is_empty() {
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok::<_, String>((checked, mixed))
        };
        let wait = async {
            let done = wait_complete(&*backend, "recreate").await;
            stop.store(true, Ordering::SeqCst);
            done
        };
        let (polled, done) = futures::join!(poll, wait);
        done?;
        let (checked, mixed) = polled?;
        ensure!(checked >= 1, "no poll saw a new replica: too few to judge");
        ensure!(
            mixed.is_empty(),
            "old replicas still ran beside new ones: {mixed:?}"
        );
        expect_replicas(&*backend, "recreate", 2, "v2").await?;
        delete_d(t, "recreate").await
    };
    run.await.into()
}

/// A template asking for a spread over hosts keeps its replicas on distinct hosts (one replica
/// per host of the engine); where spread is unsupported, such a deployment is refused.
pub async fn deployment_spread_keeps_replicas_apart(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    if let Some(o) = unsupported(&*backend).await {
        return o;
    }
    let hosts = t.hosts();
    let mut d = deployment("spread", u32::try_from(hosts).unwrap_or(2).max(2), "v1");
    d.spec.template.spec.placement.spread = Some("hostname".into());
    let supported = match caps(&*backend).await {
        Ok(c) => c.supports(Feature::Spread),
        Err(e) => return Outcome::Fail(e),
    };
    if !supported {
        let d = match fit(&*backend, &d).await {
            Ok(d) => d,
            Err(e) => return Outcome::Fail(e),
        };
        return match backend
            .deployments()
            .apply(&d, ApplyOptions::default())
            .await
        {
            Err(Error::Unsupported {
                feature: Feature::Spread,
                reason,
                ..
            }) => Outcome::Unsupported(reason),
            other => Outcome::Fail(format!(
                "spread declared unsupported, but apply returned {other:?}"
            )),
        };
    }
    if hosts < 2 {
        return Outcome::NotRun(format!(
            "the engine places groups on {hosts} host: nothing to spread over"
        ));
    }
    let run = async {
        apply_d(&*backend, &d).await?;
        wait_complete(&*backend, "spread").await?;
        let groups = replicas(&*backend, "spread").await?;
        let placed: Vec<Option<String>> = groups
            .iter()
            .map(|g| g.status.as_ref().and_then(|s| s.host.clone()))
            .collect();
        let distinct: std::collections::BTreeSet<&String> = placed.iter().flatten().collect();
        ensure!(
            groups.len() == hosts && distinct.len() == hosts,
            "{hosts} replicas on {} distinct hosts: {placed:?}",
            distinct.len()
        );
        delete_d(t, "spread").await
    };
    run.await.into()
}

/// A Deployment on the engine of the same name that this tars instance did not create is never
/// modified or deleted: `Error::Conflict`; it is not listed either.
pub async fn foreign_deployment_refused_with_conflict(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let mine = deployment("foreign", 1, "mine");
    foreign_of_kind(t, backend.deployments(), &mine).await
}
