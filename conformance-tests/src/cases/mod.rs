//! The cases. Each is an `async fn(&dyn Target) -> Outcome` whose name says the behaviour;
//! each module holds the cases of one kind and declares them with `cases!`.

use std::time::Duration;

use futures::future::BoxFuture;
use tars_api::api::Change;
use tars_api::api::LogOptions;
use tars_api::capability::Capabilities;
use tars_api::conditions::is_group_ready;
use tars_api::{ApplyOptions, Backend, ContainerGroup, DeleteOptions, Error};
use tars_engine::wait::wait_for;

use crate::{Outcome, Target};

/// How long a group may take to become ready.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One case of the suite.
pub struct Case {
    /// The case's name: the behaviour it checks.
    pub name: &'static str,
    /// Runs it.
    pub run: for<'a> fn(&'a dyn Target) -> BoxFuture<'a, Outcome>,
}

/// Declares a module's `CASES`: its case functions, in matrix order.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// This module's cases, in matrix order.
        pub const CASES: &[$crate::cases::Case] = &[
            $($crate::cases::Case { name: stringify!($name), run: |t| Box::pin($name(t)) },)*
        ];
    };
}

/// Returns `Err(message)` from the enclosing function unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

pub(crate) fn e2s(e: Error) -> String {
    e.to_string()
}

pub(crate) async fn caps(backend: &dyn Backend) -> Result<Capabilities, String> {
    backend
        .capabilities()
        .await
        .map_err(|e| format!("capabilities: {e}"))
}

pub(crate) async fn apply(backend: &dyn Backend, group: &ContainerGroup) -> Result<Change, String> {
    backend
        .container_groups()
        .apply(group, ApplyOptions::default())
        .await
        .map(|o| o.change)
        .map_err(|e| format!("apply {}: {e}", group.name()))
}

pub(crate) async fn wait_ready(
    backend: &dyn Backend,
    name: &str,
) -> Result<ContainerGroup, String> {
    wait_for(
        backend.container_groups(),
        name,
        is_group_ready(),
        READY_TIMEOUT,
        |_| {},
    )
    .await
    .map_err(|e| format!("{name} never became ready: {e}"))?
    .ok_or_else(|| format!("{name} vanished while waiting for it"))
}

/// Deletes `name` and checks that nothing of it is left on the engine.
pub(crate) async fn delete_and_check_gone(t: &dyn Target, name: &str) -> Result<(), String> {
    let backend = t.backend();
    backend
        .container_groups()
        .delete(name, DeleteOptions::default())
        .await
        .map_err(|e| format!("delete {name}: {e}"))?;
    match backend.container_groups().get(name).await {
        Err(Error::NotFound { .. }) => {}
        other => {
            return Err(format!(
                "get after delete of {name}: expected NotFound, got {other:?}"
            ));
        }
    }
    let left = t.leftovers(name).await?;
    ensure!(
        left.is_empty(),
        "after delete of {name}, still on the engine: {}",
        left.join(", ")
    );
    Ok(())
}

/// Polls `logs` until `needle` appears, for at most ten seconds.
pub(crate) async fn wait_log(
    backend: &dyn Backend,
    name: &str,
    container: &str,
    needle: &str,
) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = backend
            .container_groups()
            .logs(name, container, &LogOptions { tail: Some(50) })
            .await
            .map_err(e2s)?;
        if text.contains(needle) {
            return Ok(text);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{name}/{container} never logged {needle:?}; log tail: {text:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `Ok(None)`: pass; `Ok(Some(why))`: the case did not apply, reported with `skipped` (`NotRun`
/// or `Unsupported`); `Err`: fail.
pub(crate) fn conclude(
    result: Result<Option<String>, String>,
    skipped: fn(String) -> Outcome,
) -> Outcome {
    match result {
        Ok(None) => Outcome::Pass,
        Ok(Some(why)) => skipped(why),
        Err(e) => Outcome::Fail(e),
    }
}

/// When the backend declares `feature` unsupported: applies `group` and expects
/// `Error::Unsupported` (`Some(Ok(reason))`, or `Some(Err(..))` when it was not refused so).
/// `None` when the feature is supported.
pub(crate) async fn expect_refused(
    backend: &dyn Backend,
    caps: &Capabilities,
    feature: tars_api::Feature,
    group: &ContainerGroup,
) -> Option<Result<String, String>> {
    if caps.supports(feature) {
        return None;
    }
    Some(
        match backend
            .container_groups()
            .apply(group, ApplyOptions::default())
            .await
        {
            Err(Error::Unsupported { reason, .. }) => Ok(reason),
            other => Err(format!(
                "{feature} declared unsupported, but apply returned {other:?}"
            )),
        },
    )
}

/// The ownership check for a kind tars keeps as one engine object (a Kubernetes Deployment or
/// CronJob, a Chronos job): an object named like `mine` that this tars instance did not create,
/// planted by the target around tars, is refused with `Error::Conflict` by apply and by delete,
/// not listed, and still there as planted afterwards. `not run` where the target cannot plant
/// one ([`Target::foreign_objects`]).
async fn foreign_of_kind<S: tars_api::Spec>(
    t: &dyn Target,
    api: &dyn tars_api::api::ObjectApi<S>,
    mine: &tars_api::Object<S>,
) -> Outcome {
    let kind = S::KIND;
    if let Err(why) = t.foreign_objects(kind) {
        return Outcome::NotRun(why);
    }
    let name = mine.name();
    let run = async {
        t.plant_foreign_object(kind, name).await?;
        match api.apply(mine, ApplyOptions::default()).await {
            Err(Error::Conflict { .. }) => {}
            other => {
                return Err(format!(
                    "apply over a foreign {kind}: expected Conflict, got {other:?}"
                ));
            }
        }
        match api.delete(name, DeleteOptions::default()).await {
            Err(Error::Conflict { .. }) => {}
            other => {
                return Err(format!(
                    "delete of a foreign {kind}: expected Conflict, got {other:?}"
                ));
            }
        }
        let all = api
            .list(&tars_api::api::ListParams::all())
            .await
            .map_err(e2s)?;
        ensure!(
            all.items.iter().all(|o| o.name() != name),
            "a foreign {kind} was listed"
        );
        t.foreign_object_intact(kind, name).await
    };
    run.await.into()
}

pub mod cron;
pub mod deployment;
pub mod group;
pub mod supervision;

/// The kind a case is about: cron jobs, deployments, or container groups (supervision
/// included).
pub fn kind_of(case: &Case) -> tars_api::Kind {
    let is_in = |cases: &[Case]| cases.iter().any(|c| c.name == case.name);
    if is_in(cron::CASES) {
        tars_api::Kind::CronJob
    } else if is_in(deployment::CASES) {
        tars_api::Kind::Deployment
    } else {
        tars_api::Kind::ContainerGroup
    }
}

/// Every case of the suite, in matrix order.
pub fn all() -> Vec<&'static Case> {
    group::CASES
        .iter()
        .chain(supervision::CASES)
        .chain(deployment::CASES)
        .chain(cron::CASES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_has_the_kind_of_its_module() {
        let kinds = |cases: &[Case]| cases.iter().map(kind_of).collect::<Vec<_>>();
        assert!(
            kinds(cron::CASES)
                .iter()
                .all(|k| *k == tars_api::Kind::CronJob)
        );
        assert!(
            kinds(deployment::CASES)
                .iter()
                .all(|k| *k == tars_api::Kind::Deployment)
        );
        assert!(
            kinds(group::CASES)
                .iter()
                .chain(&kinds(supervision::CASES))
                .all(|k| *k == tars_api::Kind::ContainerGroup)
        );
    }
}
