//! Cases about container groups.

use std::time::Duration;

use futures::StreamExt;
use tars_api::api::{Change, DeleteOptions, ListParams, LogOptions, WatchEvent};
use tars_api::capability::Feature;
use tars_api::conditions::is_group_running;
use tars_api::layer::Operation;
use tars_api::{ApplyOptions, ContainerGroup, ContainerGroupSpec, Error, LabelSelector, Object};
use tars_engine::wait::wait_for;

use super::*;
use crate::fixtures::{self, SUITE_LABEL};
use crate::{Outcome, Target};

cases![
    group_lifecycle,
    group_logs,
    group_endpoints_reachable,
    apply_is_idempotent,
    dry_run_changes_nothing,
    update_restarts_with_new_spec,
    invalid_input_refused_without_call,
    unknown_names_are_not_found,
    list_filters_by_selector_and_pages,
    watch_sends_snapshot_then_changes_in_order,
    foreign_object_refused_with_conflict,
    unsupported_features_refused,
];

/// apply → running → ready → delete → gone, with nothing left on the engine.
pub async fn group_lifecycle(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let run = async {
        let mut group = fixtures::web_group("lifecycle");
        if t.programs_run().is_err() {
            // Nothing would answer its readiness check.
            for c in &mut group.spec.containers {
                c.readiness = None;
            }
        }
        ensure!(
            apply(&*backend, &group).await? == Change::Created,
            "first apply did not create"
        );
        let ready = wait_ready(&*backend, "lifecycle").await?;
        let status = ready.status.clone().unwrap_or_default();
        ensure!(
            status.containers.len() == 2,
            "expected 2 container statuses, got {:?}",
            status.containers
        );
        ensure!(
            status.containers.iter().all(|c| c.ready),
            "ready group with unready containers: {status:?}"
        );
        ensure!(
            ready.metadata.is_owned_by(backend.instance()),
            "object lacks the ownership stamp: {:?}",
            ready.metadata.labels
        );
        delete_and_check_gone(t, "lifecycle").await
    };
    run.await.into()
}

/// A container's output can be read through `logs`; a backend without logs says so with
/// `Unsupported`.
pub async fn group_logs(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let run = async {
        let caps = caps(&*backend).await?;
        if caps.supports(Feature::Logs)
            && let Err(why) = t.programs_run()
        {
            return Ok(Some(why));
        }
        let mut group = fixtures::web_group("logs");
        if !caps.supports(Feature::ReadinessChecks) {
            // Logs are the subject here, not probes a backend may not run.
            for c in &mut group.spec.containers {
                c.readiness = None;
            }
        }
        apply(&*backend, &group).await?;
        if caps.supports(Feature::Logs) {
            wait_ready(&*backend, "logs").await?;
            wait_log(&*backend, "logs", "sidecar", "sidecar-started").await?;
        } else {
            match backend
                .container_groups()
                .logs("logs", "sidecar", &LogOptions::default())
                .await
            {
                Err(Error::Unsupported { .. }) => {}
                other => return Err(format!("logs declared unsupported but returned {other:?}")),
            }
        }
        delete_and_check_gone(t, "logs").await?;
        Ok(None)
    };
    conclude(run.await, Outcome::NotRun)
}

/// A ready group's named port answers at the endpoint the status reports.
pub async fn group_endpoints_reachable(t: &dyn Target) -> Outcome {
    if let Err(why) = t.endpoints_reachable() {
        return Outcome::NotRun(why);
    }
    let backend = t.backend();
    let run = async {
        apply(&*backend, &fixtures::web_group("endpoints")).await?;
        let ready = wait_ready(&*backend, "endpoints").await?;
        let status = ready.status.unwrap_or_default();
        let ep = status
            .endpoint("http")
            .ok_or_else(|| format!("no endpoint for port http: {:?}", status.endpoints))?;
        let url = format!("http://{}:{}/", ep.address, ep.port);
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        ensure!(
            response.status().is_success(),
            "GET {url} answered {}",
            response.status()
        );
        delete_and_check_gone(t, "endpoints").await
    };
    run.await.into()
}

/// Applying the same object twice changes nothing the second time: no new generation, no
/// restart of its containers.
pub async fn apply_is_idempotent(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let run = async {
        let group = fixtures::sleeper("idempotent", "hello");
        apply(&*backend, &group).await?;
        let first = wait_for(
            backend.container_groups(),
            "idempotent",
            is_group_running(),
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?
        .ok_or("vanished")?;
        let again = backend
            .container_groups()
            .apply(&group, ApplyOptions::default())
            .await
            .map_err(e2s)?;
        ensure!(
            again.change == Change::Unchanged,
            "second apply reported {:?}",
            again.change
        );
        ensure!(
            again.object.metadata.generation == first.metadata.generation,
            "generation moved from {:?} to {:?}",
            first.metadata.generation,
            again.object.metadata.generation
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = backend
            .container_groups()
            .get("idempotent")
            .await
            .map_err(e2s)?;
        let started = |g: &ContainerGroup| {
            g.status.as_ref().map(|s| {
                s.containers
                    .iter()
                    .map(|c| (c.state.clone(), c.restart_count))
                    .collect::<Vec<_>>()
            })
        };
        ensure!(
            started(&now) == started(&first),
            "containers changed after an unchanged apply: {:?} -> {:?}",
            started(&first),
            started(&now)
        );
        delete_and_check_gone(t, "idempotent").await
    };
    run.await.into()
}

/// A dry run reports the change it would make and makes none, for a create and an update.
pub async fn dry_run_changes_nothing(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let caps = match caps(&*backend).await {
        Ok(c) => c,
        Err(e) => return Outcome::Fail(e),
    };
    let group = fixtures::sleeper("dry-run", "v1");
    if !caps.supports(Feature::DryRun) {
        return match backend
            .container_groups()
            .apply(&group, ApplyOptions::dry_run())
            .await
        {
            Err(Error::Unsupported { reason, .. }) => Outcome::Unsupported(reason),
            other => Outcome::Fail(format!(
                "dry run declared unsupported but returned {other:?}"
            )),
        };
    }
    let run = async {
        let groups = backend.container_groups();
        let out = groups
            .apply(&group, ApplyOptions::dry_run())
            .await
            .map_err(e2s)?;
        ensure!(
            out.change == Change::Created,
            "dry-run create reported {:?}",
            out.change
        );
        ensure!(
            matches!(groups.get("dry-run").await, Err(Error::NotFound { .. })),
            "a dry-run create created the object"
        );
        apply(&*backend, &group).await?;
        let before = groups.get("dry-run").await.map_err(e2s)?;
        let changed = fixtures::sleeper("dry-run", "v2");
        let out = groups
            .apply(&changed, ApplyOptions::dry_run())
            .await
            .map_err(e2s)?;
        match &out.change {
            Change::Updated { fields } => ensure!(
                fields
                    .iter()
                    .any(|f| f.starts_with("spec.containers[0].args")),
                "dry-run update named {fields:?}, not spec.containers[0].args"
            ),
            other => return Err(format!("dry-run update reported {other:?}")),
        }
        let after = groups.get("dry-run").await.map_err(e2s)?;
        ensure!(
            after.spec == before.spec,
            "a dry-run update changed the spec"
        );
        ensure!(
            after.metadata.generation == before.metadata.generation,
            "a dry-run update moved the generation"
        );
        delete_and_check_gone(t, "dry-run").await
    };
    run.await.into()
}

/// An apply with a changed spec reports the changed fields, raises the generation and runs
/// the new spec.
pub async fn update_restarts_with_new_spec(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let run = async {
        let caps = caps(&*backend).await?;
        apply(&*backend, &fixtures::sleeper("update", "version-one")).await?;
        let v1 = wait_for(
            backend.container_groups(),
            "update",
            is_group_running(),
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?
        .ok_or("vanished")?;
        let out = backend
            .container_groups()
            .apply(
                &fixtures::sleeper("update", "version-two"),
                ApplyOptions::default(),
            )
            .await
            .map_err(e2s)?;
        match &out.change {
            Change::Updated { fields } => ensure!(
                fields
                    .iter()
                    .any(|f| f.starts_with("spec.containers[0].args")),
                "update named {fields:?}"
            ),
            other => return Err(format!("update reported {other:?}")),
        }
        let g1 = v1.metadata.generation.unwrap_or(0);
        ensure!(
            out.object.metadata.generation == Some(g1 + 1),
            "generation {:?} after {g1}",
            out.object.metadata.generation
        );
        let running = wait_for(
            backend.container_groups(),
            "update",
            |o: Option<&ContainerGroup>| {
                o.is_some_and(|o| {
                    o.metadata.generation == Some(g1 + 1) && is_group_running().holds_for(o)
                })
            },
            READY_TIMEOUT,
            |_| {},
        )
        .await
        .map_err(e2s)?;
        ensure!(running.is_some(), "updated group vanished");
        if caps.supports(Feature::Logs) && t.programs_run().is_ok() {
            wait_log(&*backend, "update", "main", "version-two").await?;
        }
        delete_and_check_gone(t, "update").await
    };
    run.await.into()
}

trait HoldsFor {
    fn holds_for(&self, o: &ContainerGroup) -> bool;
}

impl<C: tars_api::conditions::Condition<ContainerGroupSpec>> HoldsFor for C {
    fn holds_for(&self, o: &ContainerGroup) -> bool {
        self.holds(Some(o))
    }
}

/// Invalid input is refused with `Error::Invalid` naming the field, and no call reaches the
/// backend (the counting layer beneath validation sees none).
pub async fn invalid_input_refused_without_call(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let calls = t.calls();
    let before = calls.total();
    let run = async {
        let mut cases: Vec<(ContainerGroup, &str)> = Vec::new();
        let mut g = fixtures::web_group("Bad_Name");
        cases.push((g.clone(), "metadata.name"));
        g = fixtures::web_group("no-containers");
        g.spec.containers.clear();
        cases.push((g, "spec.containers"));
        g = fixtures::web_group("dup-names");
        g.spec.containers[1].name = "server".into();
        cases.push((g, "spec.containers[1].name"));
        g = fixtures::web_group("port-zero");
        g.spec.containers[1].ports.push(tars_api::Port {
            name: "admin".into(),
            container_port: Some(0),
            protocol: Default::default(),
        });
        cases.push((g, "spec.containers[1].ports[0].container_port"));
        g = fixtures::web_group("dup-port");
        let http = g.spec.containers[0].ports[0].clone();
        g.spec.containers[1].ports.push(http);
        cases.push((g, "spec.containers[1].ports[0].name"));
        g = fixtures::web_group("zero-cpu");
        g.spec.containers[0].resources.cpu = Some(tars_api::Cpu(0));
        cases.push((g, "spec.containers[0].resources.cpu"));
        g = fixtures::web_group("bad-env");
        g.spec.containers[0]
            .env
            .push(tars_api::EnvVar::literal("1BAD", "x"));
        cases.push((g, "spec.containers[0].env[0].name"));
        for (group, field) in &cases {
            for options in [ApplyOptions::default(), ApplyOptions::dry_run()] {
                match backend.container_groups().apply(group, options).await {
                    Err(Error::Invalid { field: f, .. }) if f == *field => {}
                    other => {
                        return Err(format!(
                            "{}: expected Invalid at {field}, got {other:?}",
                            group.name()
                        ));
                    }
                }
            }
        }
        for bad in ["Bad_Name", "", "a.b"] {
            match backend.container_groups().get(bad).await {
                Err(Error::Invalid { .. }) => {}
                other => return Err(format!("get({bad:?}): expected Invalid, got {other:?}")),
            }
        }
        let made = calls.total() - before;
        ensure!(
            made == 0,
            "{made} calls reached the backend for invalid input (apply: {})",
            calls.get(Operation::Apply)
        );
        Ok(())
    };
    run.await.into()
}

/// get, delete and logs of a name that does not exist fail with `Error::NotFound`.
pub async fn unknown_names_are_not_found(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let groups = backend.container_groups();
    let run = async {
        match groups.get("no-such-group").await {
            Err(Error::NotFound { .. }) => {}
            other => return Err(format!("get: {other:?}")),
        }
        match groups
            .delete("no-such-group", DeleteOptions::default())
            .await
        {
            Err(Error::NotFound { .. }) => {}
            other => return Err(format!("delete: {other:?}")),
        }
        match groups
            .logs("no-such-group", "main", &LogOptions::default())
            .await
        {
            Err(Error::NotFound { .. }) | Err(Error::Unsupported { .. }) => {}
            other => return Err(format!("logs: {other:?}")),
        }
        Ok(())
    };
    run.await.into()
}

fn names(items: &[Object<ContainerGroupSpec>]) -> Vec<String> {
    items.iter().map(|o| o.name().to_owned()).collect()
}

/// list returns exactly the objects a selector matches, sorted by name, and pages through
/// them with a continue token.
pub async fn list_filters_by_selector_and_pages(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let run = async {
        for (name, tier) in [("list-a", "front"), ("list-b", "back"), ("list-c", "front")] {
            apply(
                &*backend,
                &fixtures::sleeper(name, name).with_label("tier", tier),
            )
            .await?;
        }
        let groups = backend.container_groups();
        let list = |s: &str| {
            let sel: LabelSelector = s.parse().expect("a valid selector");
            ListParams::matching(sel.eq(SUITE_LABEL, "true"))
        };
        let front = groups.list(&list("tier=front")).await.map_err(e2s)?;
        ensure!(
            names(&front.items) == ["list-a", "list-c"],
            "tier=front gave {:?}",
            names(&front.items)
        );
        let back = groups
            .list(&list("tier notin (front)"))
            .await
            .map_err(e2s)?;
        ensure!(
            names(&back.items) == ["list-b"],
            "tier notin (front) gave {:?}",
            names(&back.items)
        );
        let none = groups.list(&list("tier=middle")).await.map_err(e2s)?;
        ensure!(
            none.items.is_empty(),
            "tier=middle gave {:?}",
            names(&none.items)
        );
        let mut seen = Vec::new();
        let mut params = list("tier").limit(1);
        for _ in 0..10 {
            let page = groups.list(&params).await.map_err(e2s)?;
            ensure!(
                page.items.len() <= 1,
                "page of limit 1 had {} items",
                page.items.len()
            );
            seen.extend(names(&page.items));
            match page.continue_token {
                Some(token) => params.continue_token = Some(token),
                None => break,
            }
        }
        ensure!(
            seen == ["list-a", "list-b", "list-c"],
            "pages gave {seen:?}"
        );
        for name in ["list-a", "list-b", "list-c"] {
            delete_and_check_gone(t, name).await?;
        }
        Ok(())
    };
    run.await.into()
}

async fn next(
    events: &mut tars_api::WatchStream<ContainerGroupSpec>,
) -> Result<WatchEvent<ContainerGroupSpec>, String> {
    match tokio::time::timeout(Duration::from_secs(30), events.next()).await {
        Ok(Some(Ok(e))) => Ok(e),
        Ok(Some(Err(e))) => Err(format!("watch error: {e}")),
        Ok(None) => Err("watch ended".to_owned()),
        Err(_) => Err("no watch event within 30 s".to_owned()),
    }
}

/// A watch sends the matching objects, then the end-of-snapshot marker, then changes in the
/// order they happen, and nothing about objects its selector does not match.
pub async fn watch_sends_snapshot_then_changes_in_order(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let run = async {
        apply(
            &*backend,
            &fixtures::sleeper("watch-old", "old").with_label("watched", "yes"),
        )
        .await?;
        let selector = LabelSelector::everything().eq("watched", "yes");
        let mut events = backend
            .container_groups()
            .watch(&selector)
            .await
            .map_err(e2s)?;
        match next(&mut events).await? {
            WatchEvent::Existing(o) if o.name() == "watch-old" => {}
            other => {
                return Err(format!(
                    "first event: expected Existing(watch-old), got {other:?}"
                ));
            }
        }
        match next(&mut events).await? {
            WatchEvent::SnapshotDone => {}
            other => {
                return Err(format!(
                    "second event: expected SnapshotDone, got {other:?}"
                ));
            }
        }
        apply(
            &*backend,
            &fixtures::sleeper("watch-other", "other").with_label("watched", "no"),
        )
        .await?;
        apply(
            &*backend,
            &fixtures::sleeper("watch-new", "new").with_label("watched", "yes"),
        )
        .await?;
        backend
            .container_groups()
            .delete("watch-new", DeleteOptions::default())
            .await
            .map_err(e2s)?;
        let mut order = Vec::new();
        loop {
            let event = next(&mut events).await?;
            let (what, name) = match &event {
                WatchEvent::Added(o) => ("added", o.name().to_owned()),
                WatchEvent::Modified(o) => ("modified", o.name().to_owned()),
                WatchEvent::Deleted(o) => ("deleted", o.name().to_owned()),
                WatchEvent::Existing(o) => ("existing", o.name().to_owned()),
                WatchEvent::SnapshotDone => ("snapshot-done", String::new()),
            };
            ensure!(
                name != "watch-other",
                "the watch sent an event about an unmatched object: {what}"
            );
            if name == "watch-new" && (order.last() != Some(&what) || what != "modified") {
                order.push(what);
            }
            if what == "deleted" && name == "watch-new" {
                break;
            }
        }
        ensure!(
            order.first() == Some(&"added") && order.last() == Some(&"deleted"),
            "events of watch-new in the wrong order: {order:?}"
        );
        for name in ["watch-old", "watch-other"] {
            delete_and_check_gone(t, name).await?;
        }
        Ok(())
    };
    run.await.into()
}

/// An object of the same name that this tars instance did not create is never modified or
/// deleted: `Error::Conflict`; it is not listed either.
pub async fn foreign_object_refused_with_conflict(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let run = async {
        t.plant_foreign_group("foreign").await?;
        let groups = backend.container_groups();
        match groups
            .apply(
                &fixtures::sleeper("foreign", "mine"),
                ApplyOptions::default(),
            )
            .await
        {
            Err(Error::Conflict { .. }) => {}
            other => {
                return Err(format!(
                    "apply over a foreign object: expected Conflict, got {other:?}"
                ));
            }
        }
        match groups.delete("foreign", DeleteOptions::default()).await {
            Err(Error::Conflict { .. }) => {}
            other => {
                return Err(format!(
                    "delete of a foreign object: expected Conflict, got {other:?}"
                ));
            }
        }
        let all = groups.list(&ListParams::all()).await.map_err(e2s)?;
        ensure!(
            !names(&all.items).contains(&"foreign".to_owned()),
            "a foreign object was listed"
        );
        Ok(())
    };
    run.await.into()
}

/// Every feature the backend declares unsupported is refused with `Error::Unsupported` for
/// that feature, and leaves nothing behind: never a silent no-op.
pub async fn unsupported_features_refused(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let run = async {
        let caps = caps(&*backend).await?;
        let mut refused = Vec::new();
        let mut probes: Vec<(Feature, ContainerGroup)> = Vec::new();
        let mut g = fixtures::sleeper("no-command", "x");
        g.spec.containers[0].command.clear();
        g.spec.containers[0].args.clear();
        probes.push((Feature::ImageEntrypoint, g));
        g = fixtures::sleeper("cpu-limit", "x");
        g.spec.containers[0].resources.cpu = Some(tars_api::Cpu(500));
        probes.push((Feature::CpuLimits, g));
        g = fixtures::sleeper("memory-limit", "x");
        g.spec.containers[0].resources.memory = Some(tars_api::Memory::mebibytes(64));
        probes.push((Feature::MemoryLimits, g));
        g = fixtures::sleeper("spread", "x");
        g.spec.placement.spread = Some("hostname".into());
        probes.push((Feature::Spread, g));
        for (feature, group) in probes {
            if caps.supports(feature) {
                continue;
            }
            match backend
                .container_groups()
                .apply(&group, ApplyOptions::default())
                .await
            {
                Err(Error::Unsupported { feature: f, .. }) if f == feature => {
                    refused.push(feature.to_string())
                }
                other => {
                    return Err(format!(
                        "{feature} declared unsupported, but apply returned {other:?}"
                    ));
                }
            }
            ensure!(
                matches!(
                    backend.container_groups().get(group.name()).await,
                    Err(Error::NotFound { .. })
                ),
                "refused {feature} left an object behind"
            );
        }
        if !caps.supports(Feature::Deployments) {
            match backend.deployments().list(&ListParams::all()).await {
                Err(Error::Unsupported {
                    feature: Feature::Deployments,
                    ..
                }) => refused.push("Deployments".into()),
                other => {
                    return Err(format!(
                        "Deployments declared unsupported, but list returned {other:?}"
                    ));
                }
            }
        }
        if !caps.supports(Feature::CronJobs) {
            match backend.cron_jobs().trigger("nightly").await {
                Err(Error::Unsupported {
                    feature: Feature::CronJobs,
                    ..
                }) => refused.push("CronJobs".into()),
                other => {
                    return Err(format!(
                        "CronJobs declared unsupported, but trigger returned {other:?}"
                    ));
                }
            }
        }
        Ok(refused)
    };
    run.await.map(drop).into()
}
