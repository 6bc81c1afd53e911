//! Cases about cron jobs. Schedules have a seconds field, so each case takes seconds; on a
//! backend without per-second schedules (`Feature::SecondsSchedules`) the cases about firing
//! use a schedule of every minute instead, and take one to three minutes.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use tars_api::api::{Change, ListParams, WatchEvent};
use tars_api::{Feature, LabelSelector};

use tars_api::{
    ApplyOptions, Backend, ConcurrencyPolicy, Container, ContainerGroupSpec, CronJob, CronJobSpec,
    CronJobStatus, CronRun, DeleteOptions, Error, RestartPolicy, RunOutcome,
};

use super::*;
use crate::fixtures::{IMAGE, SUITE_LABEL};
use crate::{Outcome, Target};

cases![
    cron_apply_dry_run_and_idempotence,
    cron_watch_sends_snapshot_then_changes,
    cron_fires_on_schedule,
    cron_time_zone,
    cron_concurrency_forbid,
    cron_concurrency_replace,
    cron_concurrency_allow,
    cron_retries,
    cron_active_deadline,
    cron_parents,
    cron_parent_cycle_refused,
    cron_suspend_resume,
    cron_trigger,
    cron_history_limits,
    cron_restart_exactly_once,
    cron_foreign_job_refused_with_conflict,
];

/// A schedule that does not fire while a case runs (only `trigger` and parents start runs).
const YEARLY: &str = "0 0 0 1 1 *";

/// Every minute, on the minute: the finest schedule of a backend without per-second ones.
const MINUTELY: &str = "0 * * * * *";

/// How late after its slot a backend without per-second schedules may start a run (the
/// CronJob controller of Kubernetes looks every 10 s).
const MINUTE_LAG: Duration = Duration::from_secs(25);

/// Whether the backend fires per-second schedules.
async fn per_second(backend: &dyn Backend) -> Result<bool, String> {
    Ok(caps(backend).await?.supports(Feature::SecondsSchedules))
}

/// The start of the minute after `t`.
fn next_minute(t: jiff::Timestamp) -> jiff::Timestamp {
    let s = t.as_second();
    jiff::Timestamp::from_second(s - s.rem_euclid(60) + 60).unwrap_or(t)
}

/// Sleeps until `t` (at once when it passed).
async fn sleep_until(t: jiff::Timestamp) {
    let left = t.duration_since(jiff::Timestamp::now());
    if let Ok(d) = Duration::try_from(left) {
        tokio::time::sleep(d).await;
    }
}

/// When the backend declares `feature` unsupported: applies `job` and expects
/// `Error::Unsupported` (the outcome to report). `None` when the feature is supported.
async fn expect_job_refused(
    backend: &dyn Backend,
    feature: Feature,
    job: &CronJob,
) -> Option<Outcome> {
    match caps(backend).await {
        Ok(c) if c.supports(feature) => None,
        Ok(_) => Some(
            match backend
                .cron_jobs()
                .apply(job, ApplyOptions::default())
                .await
            {
                Err(Error::Unsupported { reason, .. }) => Outcome::Unsupported(reason),
                other => Outcome::Fail(format!(
                    "{feature} declared unsupported, but apply returned {other:?}"
                )),
            },
        ),
        Err(e) => Some(Outcome::Fail(e)),
    }
}

/// A job running `script` with `sh -c` on `schedule`, never restarting its container.
fn job(name: &str, schedule: Option<&str>, script: &str) -> CronJob {
    let mut c = Container::new("main", IMAGE, &["sh", "-c"]);
    c.args = vec![script.to_owned()];
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.restart_policy = RestartPolicy::Never;
    spec.termination_grace_period = Duration::from_secs(2);
    CronJob::new(name, {
        let mut job = CronJobSpec::new(schedule, spec);
        job.successful_history_limit = 100;
        job.failed_history_limit = 100;
        job.template.labels = [(SUITE_LABEL.to_owned(), "true".to_owned())].into();
        job
    })
    .with_label(SUITE_LABEL, "true")
}

async fn put(backend: &dyn Backend, job: &CronJob) -> Result<CronJob, String> {
    backend
        .cron_jobs()
        .apply(job, ApplyOptions::default())
        .await
        .map(|o| o.object)
        .map_err(|e| format!("apply cron job {}: {e}", job.name()))
}

/// When the backend refuses `job` as unsupported (asked with a dry run: nothing changes), the
/// case's cell: `unsupported` with the backend's reason. A backend may support a feature in
/// part (Chronos: concurrency Allow and Forbid, not Replace) and say so only at apply.
async fn refused_as_unsupported(backend: &dyn Backend, job: &CronJob) -> Option<Outcome> {
    match backend
        .cron_jobs()
        .apply(job, ApplyOptions { dry_run: true })
        .await
    {
        Err(tars_api::Error::Unsupported { reason, .. }) => Some(Outcome::Unsupported(reason)),
        _ => None,
    }
}

async fn runs(backend: &dyn Backend, name: &str) -> Result<Vec<CronRun>, String> {
    backend
        .cron_jobs()
        .runs(name)
        .await
        .map_err(|e| format!("runs of {name}: {e}"))
}

async fn status(backend: &dyn Backend, name: &str) -> Result<CronJobStatus, String> {
    backend
        .cron_jobs()
        .get(name)
        .await
        .map(|o| o.status_or_default())
        .map_err(|e| format!("get cron job {name}: {e}"))
}

/// Polls the history of `name` until `done` holds, for at most `timeout`.
async fn wait_runs(
    backend: &dyn Backend,
    name: &str,
    timeout: Duration,
    what: &str,
    done: impl Fn(&[CronRun]) -> bool,
) -> Result<Vec<CronRun>, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let history = runs(backend, name).await?;
        if done(&history) {
            return Ok(history);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{name}: {what} did not happen within {timeout:?}; history: {history:#?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(history: &[CronRun], outcome: RunOutcome) -> usize {
    history.iter().filter(|r| r.outcome == outcome).count()
}

async fn remove(backend: &dyn Backend, name: &str) -> Result<(), String> {
    backend
        .cron_jobs()
        .delete(name, DeleteOptions::default())
        .await
        .map_err(|e| format!("delete cron job {name}: {e}"))?;
    match backend.cron_jobs().get(name).await {
        Err(Error::NotFound { .. }) => Ok(()),
        other => Err(format!("get after delete of {name}: {other:?}")),
    }
}

/// `Some(outcome)` when the backend declares cron jobs unsupported: `Unsupported` if it refuses
/// one with `Error::Unsupported`, else `Fail`.
async fn kind_unsupported(backend: &dyn Backend) -> Option<Outcome> {
    let caps = match caps(backend).await {
        Ok(c) => c,
        Err(e) => return Some(Outcome::Fail(e)),
    };
    if caps.supports(Feature::CronJobs) {
        return None;
    }
    Some(match backend.cron_jobs().list(&ListParams::all()).await {
        Err(Error::Unsupported { .. }) => {
            Outcome::Unsupported("cron jobs declared unsupported".into())
        }
        other => Outcome::Fail(format!(
            "cron jobs declared unsupported, but list returned {other:?}"
        )),
    })
}

/// A dry run stores nothing; the same job twice is unchanged; a changed spec bumps the
/// generation.
pub async fn cron_apply_dry_run_and_idempotence(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let run = async {
        let api = backend.cron_jobs();
        let j = job("nightly-report", Some(YEARLY), "true");
        let dry = api.apply(&j, ApplyOptions::dry_run()).await.map_err(e2s)?;
        ensure!(dry.change == Change::Created, "dry run: {:?}", dry.change);
        ensure!(
            matches!(api.get("nightly-report").await, Err(Error::NotFound { .. })),
            "a dry run stored the job"
        );
        let first = put(&*backend, &j).await?;
        ensure!(
            first.metadata.is_owned_by(backend.instance()),
            "no ownership stamp: {:?}",
            first.metadata.labels
        );
        let again = api.apply(&j, ApplyOptions::default()).await.map_err(e2s)?;
        ensure!(
            again.change == Change::Unchanged
                && again.object.metadata.generation == first.metadata.generation,
            "second apply: {:?}, generation {:?}",
            again.change,
            again.object.metadata.generation
        );
        let mut changed = j.clone();
        // A field every scheduler has (Kubernetes' startingDeadlineSeconds, Chronos' epsilon).
        changed.spec.starting_deadline = Some(Duration::from_secs(30));
        let updated = api
            .apply(&changed, ApplyOptions::default())
            .await
            .map_err(e2s)?;
        ensure!(
            matches!(&updated.change, Change::Updated { fields } if fields.iter().any(|f| f == "spec.starting_deadline")),
            "update: {:?}",
            updated.change
        );
        ensure!(
            updated.object.metadata.generation == first.metadata.generation.map(|g| g + 1),
            "generation {:?} after a spec change",
            updated.object.metadata.generation
        );
        remove(&*backend, "nightly-report").await
    };
    run.await.into()
}

/// A watch of cron jobs sends the snapshot, its end, then additions, status changes and
/// deletions of the jobs its selector matches.
pub async fn cron_watch_sends_snapshot_then_changes(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let run = async {
        let api = backend.cron_jobs();
        put(&*backend, &job("watched-before", Some(YEARLY), "true")).await?;
        let selector = LabelSelector::everything().eq("watch-me", "yes");
        let mut before = job("watched-before", Some(YEARLY), "true");
        before
            .metadata
            .labels
            .insert("watch-me".into(), "yes".into());
        put(&*backend, &before).await?;
        let mut events = api.watch(&selector).await.map_err(e2s)?;
        let mut next = async || -> Result<WatchEvent<CronJobSpec>, String> {
            match tokio::time::timeout(Duration::from_secs(10), events.next()).await {
                Ok(Some(Ok(e))) => Ok(e),
                other => Err(format!("no watch event: {other:?}")),
            }
        };
        match next().await? {
            WatchEvent::Existing(o) if o.name() == "watched-before" => {}
            other => return Err(format!("expected the snapshot, got {other:?}")),
        }
        ensure!(
            matches!(next().await?, WatchEvent::SnapshotDone),
            "no end of snapshot"
        );
        put(&*backend, &job("not-watched", Some(YEARLY), "true")).await?;
        let mut added = job("watched-after", Some(YEARLY), "true");
        added
            .metadata
            .labels
            .insert("watch-me".into(), "yes".into());
        put(&*backend, &added).await?;
        match next().await? {
            WatchEvent::Added(o) if o.name() == "watched-after" => {}
            other => return Err(format!("expected watched-after added, got {other:?}")),
        }
        if t.runs_end().is_err() {
            // Runs never end here: a change of labels is the change to see.
            added.metadata.labels.insert("changed".into(), "yes".into());
            put(&*backend, &added).await?;
            match next().await? {
                WatchEvent::Modified(o)
                    if o.name() == "watched-after" && o.metadata.labels.contains_key("changed") => {
                }
                other => return Err(format!("expected watched-after modified, got {other:?}")),
            }
        } else {
            api.trigger("watched-after").await.map_err(e2s)?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "no status change with a success"
                );
                match next().await? {
                    WatchEvent::Modified(o) if o.status_or_default().success_count == 1 => break,
                    WatchEvent::Modified(o) if o.name() == "watched-after" => {}
                    other => return Err(format!("unexpected event {other:?}")),
                }
            }
        }
        remove(&*backend, "watched-after").await?;
        match next().await? {
            WatchEvent::Deleted(o) if o.name() == "watched-after" => {}
            other => return Err(format!("expected watched-after deleted, got {other:?}")),
        }
        for name in ["watched-before", "not-watched"] {
            remove(&*backend, name).await?;
        }
        Ok(())
    };
    run.await.into()
}

/// A `*/2` job runs at every even second, on time, and cleans up its finished groups.
pub async fn cron_fires_on_schedule(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let run = async {
        if !per_second(&*backend).await? {
            return fires_every_minute(t).await;
        }
        put(&*backend, &job("every-2s", Some("*/2 * * * * *"), "true")).await?;
        let history = wait_runs(
            &*backend,
            "every-2s",
            Duration::from_secs(15),
            "3 successes",
            |h| count(h, RunOutcome::Succeeded) >= 3,
        )
        .await?;
        let done: Vec<&CronRun> = history
            .iter()
            .filter(|r| r.outcome == RunOutcome::Succeeded)
            .collect();
        for r in &done {
            ensure!(
                r.slot.as_second() % 2 == 0 && r.slot.subsec_nanosecond() == 0,
                "slot {} is not an even second",
                r.slot
            );
            let started = r.started_at.ok_or("a run without a start")?;
            let late = started.duration_since(r.slot);
            ensure!(
                late >= jiff::SignedDuration::ZERO && late < jiff::SignedDuration::from_secs(1),
                "run of slot {} started {late:?} after it",
                r.slot
            );
            ensure!(
                r.exit_code == Some(0) && !r.manual && r.attempt == 1,
                "unexpected record {r:?}"
            );
        }
        for pair in done.windows(2) {
            ensure!(
                pair[1].slot.duration_since(pair[0].slot) == jiff::SignedDuration::from_secs(2),
                "consecutive slots {} and {} are not 2 s apart",
                pair[0].slot,
                pair[1].slot
            );
        }
        let s = status(&*backend, "every-2s").await?;
        ensure!(s.success_count >= 3, "success_count {}", s.success_count);
        ensure!(
            s.next_schedule.is_some_and(|n| n.as_second() % 2 == 0),
            "next_schedule {:?}",
            s.next_schedule
        );
        let first = &done[0].group;
        ensure!(
            matches!(
                backend.container_groups().get(first).await,
                Err(Error::NotFound { .. })
            ),
            "the finished run's group {first} was not removed"
        );
        remove(&*backend, "every-2s").await
    };
    run.await.into()
}

/// [`cron_fires_on_schedule`] on a backend without per-second schedules: an every-minute
/// job starts a run at each of two consecutive minutes, soon after it (and, where programs
/// run, each succeeds).
async fn fires_every_minute(t: &dyn Target) -> Result<(), String> {
    let backend = t.backend();
    put(&*backend, &job("every-minute", Some(MINUTELY), "true")).await?;
    let history = wait_runs(
        &*backend,
        "every-minute",
        Duration::from_secs(60) * 2 + MINUTE_LAG,
        "runs of 2 slots",
        |h| h.iter().filter(|r| !r.manual).count() >= 2,
    )
    .await?;
    let scheduled: Vec<&CronRun> = history.iter().filter(|r| !r.manual).collect();
    for r in &scheduled {
        ensure!(
            r.slot.as_second() % 60 == 0 && r.slot.subsec_nanosecond() == 0,
            "slot {} is not a whole minute",
            r.slot
        );
        let started = r.started_at.ok_or("a run without a start")?;
        let late = started.duration_since(r.slot);
        ensure!(
            late >= jiff::SignedDuration::ZERO
                && late < jiff::SignedDuration::try_from(MINUTE_LAG).map_err(|e| e.to_string())?,
            "run of slot {} started {late:?} after it",
            r.slot
        );
        ensure!(r.attempt == 1, "unexpected record {r:?}");
    }
    for pair in scheduled.windows(2) {
        ensure!(
            pair[1].slot.duration_since(pair[0].slot) == jiff::SignedDuration::from_secs(60),
            "consecutive slots {} and {} are not a minute apart",
            pair[0].slot,
            pair[1].slot
        );
    }
    if t.runs_end().is_ok() {
        wait_runs(
            &*backend,
            "every-minute",
            Duration::from_secs(30),
            "2 successes",
            |h| count(h, RunOutcome::Succeeded) >= 2,
        )
        .await?;
    }
    let s = status(&*backend, "every-minute").await?;
    ensure!(
        s.next_schedule.is_some_and(|n| n.as_second() % 60 == 0),
        "next_schedule {:?}",
        s.next_schedule
    );
    remove(&*backend, "every-minute").await
}

/// A schedule is read in its time zone: 09:00 in Kathmandu (+05:45) is 03:15 UTC.
pub async fn cron_time_zone(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let mut j = job("kathmandu", Some("0 0 9 * * *"), "true");
    j.spec.time_zone = Some("Asia/Kathmandu".into());
    if let Some(o) = expect_job_refused(&*backend, Feature::TimeZones, &j).await {
        return o;
    }
    let run = async {
        put(&*backend, &j).await?;
        let next = status(&*backend, "kathmandu")
            .await?
            .next_schedule
            .ok_or("no next_schedule")?;
        let utc = next.to_zoned(jiff::tz::TimeZone::UTC);
        ensure!(
            (utc.hour(), utc.minute(), utc.second()) == (3, 15, 0),
            "next slot {next} is not 03:15:00 UTC"
        );
        let mut bad = job("mars", Some("0 0 9 * * *"), "true");
        bad.spec.time_zone = Some("Mars/Olympus".into());
        match backend
            .cron_jobs()
            .apply(&bad, ApplyOptions::default())
            .await
        {
            Err(Error::Invalid { field, .. }) if field == "spec.time_zone" => {}
            other => return Err(format!("unknown zone: expected Invalid, got {other:?}")),
        }
        remove(&*backend, "kathmandu").await
    };
    run.await.into()
}

/// With `Forbid`, a slot due while the previous run is active is recorded as missed, and
/// runs never overlap.
pub async fn cron_concurrency_forbid(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let run = async {
        if !per_second(&*backend).await? {
            return one_run_per_minute(t, ConcurrencyPolicy::Forbid).await;
        }
        let mut j = job("forbid", Some("* * * * * *"), "sleep 2.5");
        j.spec.concurrency = ConcurrencyPolicy::Forbid;
        put(&*backend, &j).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let s = status(&*backend, "forbid").await?;
            ensure!(s.active.len() <= 1, "overlapping runs: {:?}", s.active);
            let h = runs(&*backend, "forbid").await?;
            if count(&h, RunOutcome::Succeeded) >= 2 && count(&h, RunOutcome::Missed) >= 2 {
                let reason = h
                    .iter()
                    .find(|r| r.outcome == RunOutcome::Missed)
                    .and_then(|r| r.reason.clone())
                    .unwrap_or_default();
                ensure!(reason.contains("Forbid"), "missed for {reason:?}");
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "no 2 successes and 2 forbidden slots within 20 s: {h:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        remove(&*backend, "forbid").await
    };
    run.await.into()
}

/// On a backend without per-second schedules, an every-minute job whose runs last longer:
/// with `Forbid`, the slot after the first run starts nothing while it is active; with
/// `Replace`, it deletes the first run and starts another.
async fn one_run_per_minute(t: &dyn Target, policy: ConcurrencyPolicy) -> Result<(), String> {
    let backend = t.backend();
    let name = format!("{policy:?}").to_lowercase();
    let mut j = job(&name, Some(MINUTELY), "sleep 600");
    j.spec.concurrency = policy;
    put(&*backend, &j).await?;
    let first = wait_runs(
        &*backend,
        &name,
        Duration::from_secs(60) + MINUTE_LAG,
        "a first run",
        |h| !h.is_empty(),
    )
    .await?;
    let first = first[0].clone();
    let second_slot = next_minute(first.slot);
    let h = match policy {
        ConcurrencyPolicy::Replace => {
            wait_runs(
                &*backend,
                &name,
                Duration::from_secs(60) + MINUTE_LAG * 2,
                "a replacing run",
                |h| h.iter().any(|r| r.group != first.group),
            )
            .await?
        }
        _ => {
            sleep_until(second_slot + MINUTE_LAG).await;
            runs(&*backend, &name).await?
        }
    };
    ensure!(
        count(&h, RunOutcome::Running) <= 1,
        "more than one active run: {h:#?}"
    );
    let s = status(&*backend, &name).await?;
    ensure!(s.active.len() <= 1, "overlapping runs: {:?}", s.active);
    // The history may keep the replaced run (as `Replaced`) and the forbidden slot (as
    // `Missed`, never started), as tars' cron engine does; Kubernetes keeps neither.
    match policy {
        ConcurrencyPolicy::Replace => {
            ensure!(
                h.iter()
                    .all(|r| r.group != first.group || r.outcome == RunOutcome::Replaced),
                "the replaced run {} is still there: {h:#?}",
                first.group
            );
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while backend.container_groups().get(&first.group).await.is_ok() {
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "the replaced run's group {} was not stopped",
                    first.group
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        _ => {
            let started: Vec<&CronRun> = h
                .iter()
                .filter(|r| r.outcome != RunOutcome::Missed)
                .collect();
            ensure!(
                started.len() == 1 && started[0].group == first.group,
                "a run started while {} was active: {h:#?}",
                first.group
            );
        }
    }
    remove(&*backend, &name).await
}

/// With `Replace`, a due slot stops the active run (recorded as replaced) and starts anew.
pub async fn cron_concurrency_replace(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let mut probe = job("replace", Some(MINUTELY), "sleep 30");
    probe.spec.concurrency = ConcurrencyPolicy::Replace;
    if let Some(refused) = refused_as_unsupported(&*backend, &probe).await {
        return refused;
    }
    let run = async {
        if !per_second(&*backend).await? {
            return one_run_per_minute(t, ConcurrencyPolicy::Replace).await;
        }
        let mut j = job("replace", Some("*/2 * * * * *"), "sleep 30");
        j.spec.concurrency = ConcurrencyPolicy::Replace;
        put(&*backend, &j).await?;
        let h = wait_runs(
            &*backend,
            "replace",
            Duration::from_secs(15),
            "2 replaced runs",
            |h| count(h, RunOutcome::Replaced) >= 2,
        )
        .await?;
        ensure!(
            count(&h, RunOutcome::Running) <= 1,
            "more than one active run: {h:#?}"
        );
        let s = status(&*backend, "replace").await?;
        ensure!(s.active.len() <= 1, "overlapping runs: {:?}", s.active);
        let replaced = h
            .iter()
            .find(|r| r.outcome == RunOutcome::Replaced)
            .ok_or("no replaced run")?;
        ensure!(
            matches!(
                backend.container_groups().get(&replaced.group).await,
                Err(Error::NotFound { .. })
            ),
            "the replaced run's group {} is still there",
            replaced.group
        );
        remove(&*backend, "replace").await
    };
    run.await.into()
}

/// With `Allow`, runs overlap.
pub async fn cron_concurrency_allow(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let run = async {
        if !per_second(&*backend).await? {
            put(&*backend, &job("allow", Some(MINUTELY), "sleep 600")).await?;
            let h = wait_runs(
                &*backend,
                "allow",
                Duration::from_secs(120) + MINUTE_LAG,
                "two active runs at once",
                |h| count(h, RunOutcome::Running) >= 2,
            )
            .await?;
            ensure!(
                count(&h, RunOutcome::Missed) == 0,
                "Allow missed slots: {h:#?}"
            );
            return remove(&*backend, "allow").await;
        }
        put(&*backend, &job("allow", Some("* * * * * *"), "sleep 3")).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let s = status(&*backend, "allow").await?;
            if s.active.len() >= 2 {
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "never two active runs at once; history {:#?}",
                runs(&*backend, "allow").await?
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let h = runs(&*backend, "allow").await?;
        ensure!(
            count(&h, RunOutcome::Missed) == 0,
            "Allow missed slots: {h:#?}"
        );
        remove(&*backend, "allow").await
    };
    run.await.into()
}

/// A failing run is retried with backoff, then recorded once as failed with its exit code.
pub async fn cron_retries(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    if let Err(why) = t.programs_run() {
        return Outcome::NotRun(why);
    }
    let backend = t.backend();
    let mut j = job("retries", Some(YEARLY), "exit 3");
    j.spec.retries = 2;
    j.spec.retry_backoff = Duration::from_millis(500);
    if let Some(refused) = refused_as_unsupported(&*backend, &j).await {
        return refused;
    }
    let run = async {
        put(&*backend, &j).await?;
        backend.cron_jobs().trigger("retries").await.map_err(e2s)?;
        let h = wait_runs(
            &*backend,
            "retries",
            Duration::from_secs(20),
            "a final failure",
            |h| count(h, RunOutcome::Failed) == 1,
        )
        .await?;
        ensure!(h.len() == 1, "one record per run, got {h:#?}");
        let r = &h[0];
        ensure!(
            r.attempt == 3 && r.exit_code == Some(3),
            "expected attempt 3 with exit code 3: {r:?}"
        );
        let started = r.started_at.ok_or("no start")?;
        ensure!(
            started.duration_since(r.slot) >= jiff::SignedDuration::from_millis(1500),
            "3rd attempt started {:?} after the 1st: backoff of 0.5 s + 1 s not respected",
            started.duration_since(r.slot)
        );
        let s = status(&*backend, "retries").await?;
        ensure!(
            s.error_count == 1 && s.success_count == 0 && s.last_error.is_some(),
            "counters {s:?}"
        );
        remove(&*backend, "retries").await
    };
    run.await.into()
}

/// A run still going after `active_deadline` is stopped and counted as failed.
pub async fn cron_active_deadline(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let run = async {
        let mut j = job("overrun", Some(YEARLY), "sleep 60");
        j.spec.active_deadline = Some(Duration::from_secs(1));
        put(&*backend, &j).await?;
        let group = backend.cron_jobs().trigger("overrun").await.map_err(e2s)?;
        let h = wait_runs(
            &*backend,
            "overrun",
            Duration::from_secs(15),
            "a failure",
            |h| count(h, RunOutcome::Failed) == 1,
        )
        .await?;
        let reason = h[0].reason.clone().unwrap_or_default();
        ensure!(reason.contains("deadline"), "failed for {reason:?}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while backend.container_groups().get(&group).await.is_ok() {
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the overrunning group {group} was not stopped"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        remove(&*backend, "overrun").await
    };
    run.await.into()
}

/// A child runs once after all its parents succeeded since its last run (Chronos).
pub async fn cron_parents(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let mut child = job("load", None, "true");
    child.spec.parents = vec!["extract".into(), "fetch".into()];
    if let Some(o) = expect_job_refused(&*backend, Feature::Parents, &child).await {
        return o;
    }
    let run = async {
        put(&*backend, &job("extract", Some(YEARLY), "true")).await?;
        put(&*backend, &job("fetch", Some(YEARLY), "true")).await?;
        put(&*backend, &child).await?;
        let jobs = backend.cron_jobs();
        jobs.trigger("extract").await.map_err(e2s)?;
        wait_runs(
            &*backend,
            "extract",
            Duration::from_secs(10),
            "success",
            |h| count(h, RunOutcome::Succeeded) == 1,
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        ensure!(
            runs(&*backend, "load").await?.is_empty(),
            "the child ran with one parent of two"
        );
        jobs.trigger("fetch").await.map_err(e2s)?;
        wait_runs(
            &*backend,
            "load",
            Duration::from_secs(10),
            "child success",
            |h| count(h, RunOutcome::Succeeded) == 1,
        )
        .await?;
        // Only one parent succeeds again: the child waits.
        jobs.trigger("extract").await.map_err(e2s)?;
        wait_runs(
            &*backend,
            "extract",
            Duration::from_secs(10),
            "success",
            |h| count(h, RunOutcome::Succeeded) == 2,
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let h = runs(&*backend, "load").await?;
        ensure!(h.len() == 1, "the child ran again: {h:#?}");
        for name in ["load", "extract", "fetch"] {
            remove(&*backend, name).await?;
        }
        Ok(())
    };
    run.await.into()
}

/// Parents closing a cycle through stored jobs are refused with `Invalid` at
/// `spec.parents`, and nothing changes.
pub async fn cron_parent_cycle_refused(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let mut child = job("cycle-b", None, "true");
    child.spec.parents = vec!["cycle-a".into()];
    if let Some(o) = expect_job_refused(&*backend, Feature::Parents, &child).await {
        return o;
    }
    let run = async {
        let a = put(&*backend, &job("cycle-a", Some(YEARLY), "true")).await?;
        let mut b = job("cycle-b", None, "true");
        b.spec.parents = vec!["cycle-a".into()];
        put(&*backend, &b).await?;
        let mut c = job("cycle-c", None, "true");
        c.spec.parents = vec!["cycle-b".into()];
        put(&*backend, &c).await?;
        let mut closing = job("cycle-a", Some(YEARLY), "true");
        closing.spec.parents = vec!["cycle-c".into()];
        for dry_run in [true, false] {
            match backend
                .cron_jobs()
                .apply(&closing, ApplyOptions { dry_run })
                .await
            {
                Err(Error::Invalid { field, reason }) if field == "spec.parents" => {
                    ensure!(
                        reason.contains("cycle-a") && reason.contains("cycle-c"),
                        "the reason does not name the cycle: {reason}"
                    );
                }
                other => {
                    return Err(format!(
                        "cycle (dry run {dry_run}): expected Invalid at spec.parents, got {other:?}"
                    ));
                }
            }
        }
        let after = backend.cron_jobs().get("cycle-a").await.map_err(e2s)?;
        ensure!(
            after.spec.parents.is_empty() && after.metadata.generation == a.metadata.generation,
            "the refused apply changed the job: {after:?}"
        );
        for name in ["cycle-c", "cycle-b", "cycle-a"] {
            remove(&*backend, name).await?;
        }
        Ok(())
    };
    run.await.into()
}

/// A suspended job starts nothing; resumed, it runs again from its next slot.
pub async fn cron_suspend_resume(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let run = async {
        if !per_second(&*backend).await? {
            return suspend_resume_every_minute(t).await;
        }
        let mut j = job("pausable", Some("* * * * * *"), "true");
        j.spec.suspend = true;
        put(&*backend, &j).await?;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        ensure!(
            runs(&*backend, "pausable").await?.is_empty(),
            "a suspended job ran"
        );
        let s = status(&*backend, "pausable").await?;
        ensure!(
            s.next_schedule.is_none(),
            "suspended job has a next slot {:?}",
            s.next_schedule
        );
        j.spec.suspend = false;
        let resumed_at = jiff::Timestamp::now();
        put(&*backend, &j).await?;
        let h = wait_runs(
            &*backend,
            "pausable",
            Duration::from_secs(10),
            "a run",
            |h| count(h, RunOutcome::Succeeded) >= 1,
        )
        .await?;
        ensure!(
            h.iter().all(|r| r.slot > resumed_at),
            "slots of the suspension were caught up: {h:#?}"
        );
        j.spec.suspend = true;
        put(&*backend, &j).await?;
        // Let a run already starting finish, then nothing new may start.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let before = runs(&*backend, "pausable").await?.len();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let after = runs(&*backend, "pausable").await?.len();
        ensure!(
            before == after,
            "runs went on while suspended: {before} -> {after}"
        );
        remove(&*backend, "pausable").await
    };
    run.await.into()
}

/// [`cron_suspend_resume`] on a backend without per-second schedules, with an every-minute
/// job: suspended past a slot, nothing runs; resumed, the next slot runs (the slot missed while
/// suspended is past the job's starting deadline, which Kubernetes needs not to catch it up);
/// suspended again, nothing new starts.
async fn suspend_resume_every_minute(t: &dyn Target) -> Result<(), String> {
    let backend = t.backend();
    let mut j = job("pausable", Some(MINUTELY), "true");
    j.spec.suspend = true;
    j.spec.starting_deadline = Some(Duration::from_secs(15));
    put(&*backend, &j).await?;
    sleep_until(next_minute(jiff::Timestamp::now()) + Duration::from_secs(22)).await;
    ensure!(
        runs(&*backend, "pausable").await?.is_empty(),
        "a suspended job ran"
    );
    let s = status(&*backend, "pausable").await?;
    ensure!(
        s.next_schedule.is_none(),
        "suspended job has a next slot {:?}",
        s.next_schedule
    );
    j.spec.suspend = false;
    let resumed_at = jiff::Timestamp::now();
    put(&*backend, &j).await?;
    let h = wait_runs(
        &*backend,
        "pausable",
        Duration::from_secs(60) + MINUTE_LAG,
        "a run",
        |h| !h.is_empty(),
    )
    .await?;
    ensure!(
        h.iter().all(|r| r.slot > resumed_at),
        "slots of the suspension were caught up: {h:#?}"
    );
    j.spec.suspend = true;
    put(&*backend, &j).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = runs(&*backend, "pausable").await?.len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = runs(&*backend, "pausable").await?.len();
    ensure!(
        before == after,
        "runs went on while suspended: {before} -> {after}"
    );
    remove(&*backend, "pausable").await
}

/// `trigger` runs a job now, recorded as manual; an unknown job is `NotFound`.
pub async fn cron_trigger(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let backend = t.backend();
    let run = async {
        put(&*backend, &job("manual", Some(YEARLY), "echo triggered")).await?;
        let group = backend.cron_jobs().trigger("manual").await.map_err(e2s)?;
        // Where programs do not run, a run starts but never ends.
        let ends = t.runs_end().is_ok();
        let h = wait_runs(
            &*backend,
            "manual",
            Duration::from_secs(10),
            if ends { "a success" } else { "a run" },
            |h| {
                if ends {
                    count(h, RunOutcome::Succeeded) == 1
                } else {
                    h.len() == 1
                }
            },
        )
        .await?;
        ensure!(
            h[0].manual && h[0].group == group,
            "not recorded as the manual run {group}: {h:#?}"
        );
        match backend.cron_jobs().trigger("no-such-job").await {
            Err(Error::NotFound { .. }) => {}
            other => return Err(format!("trigger of unknown job: {other:?}")),
        }
        remove(&*backend, "manual").await
    };
    run.await.into()
}

/// The history keeps the newest successful and failed runs within their separate limits,
/// while the counters count them all.
pub async fn cron_history_limits(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    if let Err(why) = t.runs_end() {
        return Outcome::NotRun(why);
    }
    let backend = t.backend();
    let run = async {
        // Every second; or, without per-second schedules, triggered (4 and 3 runs at once).
        let every = per_second(&*backend).await?;
        let schedule = if every { "* * * * * *" } else { YEARLY };
        let mut ok = job("keep-ok", Some(schedule), "true");
        ok.spec.successful_history_limit = 2;
        let mut bad = job("keep-bad", Some(schedule), "exit 1");
        bad.spec.failed_history_limit = 1;
        put(&*backend, &ok).await?;
        put(&*backend, &bad).await?;
        if !every {
            // One run after another: a backend whose runs are slow to start (servers) is not
            // asked for seven at once.
            for (name, n) in [("keep-ok", 4), ("keep-bad", 3)] {
                for i in 1..=n {
                    backend.cron_jobs().trigger(name).await.map_err(e2s)?;
                    wait_runs(
                        &*backend,
                        name,
                        Duration::from_secs(20),
                        "the triggered run's end",
                        |h| count(h, RunOutcome::Running) == 0,
                    )
                    .await?;
                    let s = status(&*backend, name).await?;
                    ensure!(
                        s.success_count + s.error_count == i,
                        "{name}: {i} runs ended, counters say {s:?}"
                    );
                }
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (sok, sbad) = (
                status(&*backend, "keep-ok").await?,
                status(&*backend, "keep-bad").await?,
            );
            if sok.success_count >= 4 && sbad.error_count >= 3 {
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "too few runs in 20 s: {sok:?} {sbad:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let h = runs(&*backend, "keep-ok").await?;
        ensure!(
            count(&h, RunOutcome::Succeeded) == 2,
            "successful history not limited to 2: {h:#?}"
        );
        let h = runs(&*backend, "keep-bad").await?;
        ensure!(
            count(&h, RunOutcome::Failed) == 1,
            "failed history not limited to 1: {h:#?}"
        );
        remove(&*backend, "keep-ok").await?;
        remove(&*backend, "keep-bad").await
    };
    run.await.into()
}

/// tars killed and restarted on the same state, again and again while slots pass: every
/// slot between the first and the last is exactly one run or one missed record. A backend
/// without per-second schedules runs the minute variant ([`restart_exactly_once_minutely`]).
pub async fn cron_restart_exactly_once(t: &dyn Target) -> Outcome {
    if let Some(refused) = kind_unsupported(&*t.backend()).await {
        return refused;
    }
    let every_second = job("exact", Some("* * * * * *"), "true");
    // Bound first: a temporary of a match's scrutinee (the backend) would live through the
    // minute variant's restarts, and hold the old instance's state.
    let refused = expect_job_refused(&*t.backend(), Feature::SecondsSchedules, &every_second).await;
    match refused {
        None => {}
        Some(Outcome::Unsupported(_)) => return restart_exactly_once_minutely(t).await,
        Some(o) => return o,
    }
    if let Err(why) = t.runs_end() {
        return Outcome::NotRun(why);
    }
    let run = async {
        {
            let backend = t.backend();
            put(&*backend, &job("exact", Some("* * * * * *"), "true")).await?;
        }
        for i in 0..4 {
            tokio::time::sleep(Duration::from_millis(1700 + 300 * i)).await;
            t.restart().await?;
        }
        let backend = t.backend();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut j = job("exact", Some("* * * * * *"), "true");
        j.spec.suspend = true;
        put(&*backend, &j).await?;
        let h = wait_runs(
            &*backend,
            "exact",
            Duration::from_secs(20),
            "all runs ending",
            |h| count(h, RunOutcome::Running) == 0,
        )
        .await?;
        check_every_slot_once(&h)?;
        ensure!(h.len() >= 8, "only {} slots in about 10 s", h.len());
        remove(&*backend, "exact").await
    };
    run.await.into()
}

/// The minute boundaries [`restart_exactly_once_minutely`] restarts tars around.
const RESTART_BOUNDARIES: i64 = 3;

/// [`cron_restart_exactly_once`] on a backend whose schedules fire on whole minutes: a job of
/// every minute, tars restarted 1 s before and 1 s after each of the next
/// [`RESTART_BOUNDARIES`] minute boundaries (the crash window around a firing), then
/// suspended: each minute from the first slot to the last is one run or one missed record, and
/// at least 3 slots passed. Takes 2-3 minutes.
async fn restart_exactly_once_minutely(t: &dyn Target) -> Outcome {
    let every_minute = job("exact", Some("* * * * *"), "true");
    if let Some(refused) = refused_as_unsupported(&*t.backend(), &every_minute).await {
        return refused;
    }
    if let Err(why) = t.runs_end() {
        return Outcome::NotRun(why);
    }
    let run = async {
        put(&*t.backend(), &every_minute).await?;
        let first = next_minute(jiff::Timestamp::now());
        let second = jiff::SignedDuration::from_secs(1);
        let mut last = first;
        for k in 0..RESTART_BOUNDARIES {
            let boundary = first + jiff::SignedDuration::from_secs(60 * k);
            for at in [boundary - second, boundary + second] {
                // The first boundary may come too soon after the apply for a restart before it.
                if at > jiff::Timestamp::now() {
                    sleep_until(at).await;
                    t.restart().await?;
                }
            }
            last = boundary;
        }
        let backend = t.backend();
        wait_runs(
            &*backend,
            "exact",
            MINUTE_LAG,
            "the last boundary's slot",
            |h| h.iter().any(|r| r.slot >= last),
        )
        .await?;
        let mut j = every_minute.clone();
        j.spec.suspend = true;
        put(&*backend, &j).await?;
        let h = wait_runs(
            &*backend,
            "exact",
            Duration::from_secs(60),
            "all runs ending",
            |h| count(h, RunOutcome::Running) == 0,
        )
        .await?;
        check_slots_once(&h, Duration::from_secs(60), |_| false)?;
        ensure!(
            h.len() >= RESTART_BOUNDARIES as usize,
            "only {} slots over {RESTART_BOUNDARIES} minute boundaries: {h:#?}",
            h.len()
        );
        remove(&*backend, "exact").await
    };
    run.await.into()
}

/// Every second between the first and the last slot of `history` is there exactly once,
/// run to success or recorded as missed; no group name repeats.
pub fn check_every_slot_once(history: &[CronRun]) -> Result<(), String> {
    check_every_slot_once_allowing(history, |_| false)
}

/// [`check_every_slot_once`], where a run may also have failed when `allowed` says its
/// failure is one the test provokes (an engine killed under it: the slot was recorded and
/// started once, and the engine lost it).
pub fn check_every_slot_once_allowing(
    history: &[CronRun],
    allowed: impl Fn(&CronRun) -> bool,
) -> Result<(), String> {
    check_slots_once(history, Duration::from_secs(1), allowed)
}

/// [`check_every_slot_once_allowing`] for a schedule firing every `step` (a whole number of
/// seconds): every `step` between the first and the last slot of `history` is there exactly
/// once, run to success, recorded as missed, or failed as `allowed` says; no group name repeats.
pub fn check_slots_once(
    history: &[CronRun],
    step: Duration,
    allowed: impl Fn(&CronRun) -> bool,
) -> Result<(), String> {
    let step = step.as_secs();
    ensure!(step > 0, "a step of less than a second");
    let first = history.first().ok_or("no run at all")?.slot.as_second();
    let last = history.last().ok_or("no run at all")?.slot.as_second();
    let slots: Vec<i64> = history.iter().map(|r| r.slot.as_second()).collect();
    let expected: Vec<i64> = (first..=last)
        .step_by(usize::try_from(step).map_err(|e| e.to_string())?)
        .collect();
    ensure!(
        slots == expected,
        "slots are not each {step} s exactly once: {slots:?}"
    );
    let groups: BTreeSet<&str> = history.iter().map(|r| r.group.as_str()).collect();
    ensure!(groups.len() == history.len(), "a group name repeats");
    let wrong: Vec<&CronRun> = history
        .iter()
        .filter(|r| !matches!(r.outcome, RunOutcome::Succeeded | RunOutcome::Missed))
        .filter(|r| !(r.outcome == RunOutcome::Failed && allowed(r)))
        .collect();
    ensure!(
        wrong.is_empty(),
        "runs neither succeeded nor missed: {wrong:#?}"
    );
    Ok(())
}

/// A cron job on the engine of the same name that this tars instance did not create (a
/// Kubernetes CronJob, a Chronos job) is never modified or deleted: `Error::Conflict`; it is not
/// listed either.
pub async fn cron_foreign_job_refused_with_conflict(t: &dyn Target) -> Outcome {
    let backend = t.backend();
    let mine = job("foreign", Some(YEARLY), "true");
    foreign_of_kind(t, backend.cron_jobs(), &mine).await
}
