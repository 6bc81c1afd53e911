//! tars' CronJob ⇄ Chronos' job, pure and table-tested.
//!
//! * A job is one command: a template with one container, run by `/bin/sh -c` with its
//!   command and arguments quoted (`shell: true`), in its `image` (`container.type: MESOS`).
//! * A cron `schedule` becomes an ISO 8601 repeating interval when it fires at evenly spaced
//!   instants (every n seconds, minutes or hours; daily, weekly, monthly, yearly at a fixed
//!   time), starting at its next slot; `time_zone` becomes `scheduleTimeZone`. Any other cron
//!   expression is `Unsupported` at `spec.schedule`: Chronos has no cron syntax.
//! * `parents` → a dependent job (Chronos runs a job on a schedule *or* after its parents),
//!   `retries` → `retries` (Chronos waits its server-wide `--failure_retry` before every
//!   retry, so `retry_backoff` must be that delay and at most one retry is exact),
//!   `concurrency` Allow/Forbid → `concurrent`, `suspend` → `disabled`, `starting_deadline` →
//!   `epsilon` (absent: the server's default `--task_epsilon`, 60 s in Chronos, applies —
//!   Chronos has no unlimited), `active_deadline` → `maxCompletionTime`, cpu/memory →
//!   `cpus`/`mem`, `env` → `environmentVariables`.
//! * Ownership and what Chronos has no field for (labels, annotations, the generation, the
//!   tars spec itself) travel in `description` as JSON under the key `tars`, and `ownerName`
//!   says `tars/<instance>`: tars reads back what it applied, and only ever touches jobs
//!   carrying its own instance.
//! * Status comes from Chronos' counters (`successCount`, `errorCount`, `lastSuccess`,
//!   `lastError`); runs from the task history of `job/stat` (see [`runs_from_stats`]).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tars_api::cronjob::{CronJob, CronJobSpec, CronJobStatus, CronRun, RunOutcome};
use tars_api::meta::ObjectMeta;
use tars_api::{ConcurrencyPolicy, Error, Feature, RestartPolicy, Result, Schedule};

use super::job::{
    ChronosContainer, ChronosJob, EnvironmentVariable, STAT_TIME_FORMAT, TaskId, TaskStat,
};

/// The backend name in errors.
pub const BACKEND: &str = "mesos";

/// What conversion needs to know about the Chronos server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerSettings {
    /// Chronos' `--failure_retry`: the delay before every retry (Chronos' default: 60 s).
    pub failure_retry: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            failure_retry: Duration::from_secs(60),
        }
    }
}

/// What tars keeps in a job's `description`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stamp {
    /// The tars instance owning the job.
    pub instance: String,
    /// The generation, one more for every change.
    pub generation: u64,
    /// When tars created the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// The object's labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The object's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The spec as applied.
    pub spec: CronJobSpec,
}

#[derive(Serialize, Deserialize)]
struct Description {
    tars: Stamp,
}

/// `ownerName` of a job of `instance`.
pub fn owner_name(instance: &str) -> String {
    format!("tars/{instance}")
}

/// The stamp of a Chronos job, if tars wrote one (of any instance).
pub fn stamp_of(job: &ChronosJob) -> Option<Stamp> {
    serde_json::from_str::<Description>(&job.description)
        .ok()
        .map(|d| d.tars)
}

fn unsupported(feature: Feature, field: &str, reason: impl std::fmt::Display) -> Error {
    Error::unsupported(feature, BACKEND, format!("{field}: {reason} (Chronos)"))
}

/// Quotes `s` for `/bin/sh`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The Chronos job for `job` of `instance`, at `generation`; `now` picks the first slot of a
/// converted cron schedule. Refuses with `Unsupported` (naming the field) what Chronos cannot
/// express.
pub fn to_chronos(
    job: &CronJob,
    instance: &str,
    generation: u64,
    created_at: Option<Timestamp>,
    server: &ServerSettings,
    now: Timestamp,
) -> Result<ChronosJob> {
    let spec = &job.spec;
    let tmpl = &spec.template.spec;
    let [c] = tmpl.containers.as_slice() else {
        return Err(unsupported(
            Feature::CronJobs,
            "spec.template.spec.containers",
            "a Chronos job runs one command: give the template exactly one container",
        ));
    };
    let cp = "spec.template.spec.containers[0]";
    if c.command.is_empty() {
        return Err(unsupported(
            Feature::ImageEntrypoint,
            &format!("{cp}.command"),
            "tars runs a job's command through /bin/sh -c: give the container a command",
        ));
    }
    if !c.ports.is_empty() {
        return Err(unsupported(
            Feature::CronJobs,
            &format!("{cp}.ports"),
            "a job has no named ports",
        ));
    }
    if c.readiness.is_some() {
        return Err(unsupported(
            Feature::ReadinessChecks,
            &format!("{cp}.readiness"),
            "jobs have no readiness checks",
        ));
    }
    if c.liveness.is_some() {
        return Err(unsupported(
            Feature::LivenessChecks,
            &format!("{cp}.liveness"),
            "jobs have no liveness checks",
        ));
    }
    if !tmpl.placement.constraints.is_empty() {
        return Err(unsupported(
            Feature::PlacementConstraints,
            "spec.template.spec.placement.constraints",
            "not mapped onto Chronos' constraints",
        ));
    }
    if tmpl.placement.spread.is_some() {
        return Err(unsupported(
            Feature::Spread,
            "spec.template.spec.placement.spread",
            "a job runs one task",
        ));
    }
    if tmpl.restart_policy == RestartPolicy::Always {
        return Err(unsupported(
            Feature::RestartPolicy,
            "spec.template.spec.restart_policy",
            "a run ends when its command ends; use Never or OnFailure, and retries",
        ));
    }
    let mut environment_variables = Vec::new();
    for (i, e) in c.env.iter().enumerate() {
        if e.secret.is_some() {
            return Err(unsupported(
                Feature::Secrets,
                &format!("{cp}.env[{i}].secret"),
                "environmentVariables hold plain values only",
            ));
        }
        environment_variables.push(EnvironmentVariable {
            name: e.name.clone(),
            value: e.value.clone().unwrap_or_default(),
        });
    }
    if spec.concurrency == ConcurrencyPolicy::Replace {
        return Err(unsupported(
            Feature::Concurrency,
            "spec.concurrency",
            "Chronos' `concurrent` allows or forbids overlapping runs; it never replaces one",
        ));
    }
    if spec.retries > 0 {
        if spec.retry_backoff != server.failure_retry {
            return Err(unsupported(
                Feature::Retries,
                "spec.retry_backoff",
                format!(
                    "the delay before a retry is the server's --failure_retry ({:?} here), not per job",
                    server.failure_retry
                ),
            ));
        }
        if spec.retries > 1 {
            return Err(unsupported(
                Feature::Retries,
                "spec.retries",
                "every retry waits the same --failure_retry while tars doubles the backoff: at most 1 retry",
            ));
        }
    }
    let max_completion_time = match spec.active_deadline {
        None => 0,
        Some(d) if d.subsec_nanos() == 0 && d.as_secs() > 0 => d.as_secs(),
        Some(_) => {
            return Err(unsupported(
                Feature::CronJobs,
                "spec.active_deadline",
                "maxCompletionTime counts whole seconds",
            ));
        }
    };
    let (schedule, parents) = match (&spec.schedule, spec.parents.is_empty()) {
        (Some(_), false) => {
            return Err(unsupported(
                Feature::Parents,
                "spec.parents",
                "a job runs on a schedule or after its parents, not both",
            ));
        }
        (Some(s), true) => (
            Some(iso_schedule(s, spec.time_zone.as_deref(), now)?),
            Vec::new(),
        ),
        (None, _) => (None, spec.parents.clone()),
    };
    let mut argv: Vec<String> = c
        .command
        .iter()
        .chain(&c.args)
        .map(|a| shell_quote(a))
        .collect();
    if let Some(dir) = &c.working_dir {
        argv.insert(0, format!("cd {} && exec", shell_quote(dir)));
    }
    let stamp = Stamp {
        instance: instance.to_owned(),
        generation,
        created_at,
        labels: job.metadata.labels.clone(),
        annotations: job.metadata.annotations.clone(),
        spec: spec.clone(),
    };
    let description = serde_json::to_string(&Description { tars: stamp })
        .map_err(|e| Error::backend(BACKEND, e))?;
    Ok(ChronosJob {
        name: job.name().to_owned(),
        command: argv.join(" "),
        shell: true,
        arguments: Vec::new(),
        schedule,
        schedule_time_zone: spec.schedule.as_ref().and(spec.time_zone.clone()),
        parents,
        epsilon: spec.starting_deadline.map(iso_duration),
        retries: spec.retries,
        concurrent: spec.concurrency == ConcurrencyPolicy::Allow,
        disabled: spec.suspend,
        max_completion_time,
        cpus: c
            .resources
            .cpu
            .map(|cpu| f64::from(cpu.as_millis()) / 1000.0),
        mem: c
            .resources
            .memory
            .map(|m| (m.as_bytes() as f64 / (1024.0 * 1024.0)).ceil()),
        disk: None,
        owner: String::new(),
        owner_name: owner_name(instance),
        description,
        container: Some(ChronosContainer {
            type_: "MESOS".to_owned(),
            image: c.image.clone(),
            force_pull_image: c.image_pull_policy == tars_api::group::PullPolicy::Always,
        }),
        environment_variables,
        ..Default::default()
    })
}

/// An ISO 8601 duration (`PT90S`, `PT1.5S`).
pub fn iso_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("PT{}S", d.as_secs())
    } else {
        format!("PT{}.{:03}S", d.as_secs(), d.subsec_millis())
    }
}

/// One cron field: `*`, `*/n`, or a single number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Any,
    Step(u32),
    One(u32),
}

fn field(s: &str) -> Option<Field> {
    match s {
        "*" | "?" => Some(Field::Any),
        _ => match s.strip_prefix("*/") {
            Some(n) => n.parse().ok().filter(|&n| n > 0).map(Field::Step),
            None => s.parse().ok().map(Field::One),
        },
    }
}

/// The period of a cron expression that fires at evenly spaced instants, if it does.
fn cron_period(expr: &str) -> Option<String> {
    let expanded = match expr.trim() {
        "@yearly" | "@annually" => "0 0 0 1 1 *",
        "@monthly" => "0 0 0 1 * *",
        "@weekly" => "0 0 0 * * 0",
        "@daily" | "@midnight" => "0 0 0 * * *",
        "@hourly" => "0 0 * * * *",
        other => other,
    };
    let parts: Vec<&str> = expanded.split_whitespace().collect();
    let six: Vec<&str> = match parts.len() {
        5 => std::iter::once("0").chain(parts.iter().copied()).collect(),
        6 => parts,
        _ => return None,
    };
    let f: Vec<Field> = six.iter().map(|p| field(p)).collect::<Option<_>>()?;
    use Field::{Any, One, Step};
    let every = |n: u32, modulus: u32| modulus.is_multiple_of(n).then_some(n);
    match f.as_slice() {
        [Any, Any, Any, Any, Any, Any] => Some("PT1S".to_owned()),
        [Step(n), Any, Any, Any, Any, Any] => every(*n, 60).map(|n| format!("PT{n}S")),
        [One(_), Any, Any, Any, Any, Any] => Some("PT1M".to_owned()),
        [One(_), Step(n), Any, Any, Any, Any] => every(*n, 60).map(|n| format!("PT{n}M")),
        [One(_), One(_), Any, Any, Any, Any] => Some("PT1H".to_owned()),
        [One(_), One(_), Step(n), Any, Any, Any] => every(*n, 24).map(|n| format!("PT{n}H")),
        [One(_), One(_), One(_), Any, Any, Any] => Some("P1D".to_owned()),
        [One(_), One(_), One(_), Any, Any, One(_)] => Some("P7D".to_owned()),
        [One(_), One(_), One(_), One(d), Any, Any] if *d <= 28 => Some("P1M".to_owned()),
        [One(_), One(_), One(_), One(d), One(m), Any] if !(*m == 2 && *d == 29) => {
            Some("P1Y".to_owned())
        }
        _ => None,
    }
}

/// `spec.schedule` as Chronos' `schedule`: an ISO 8601 interval as given, or a cron expression
/// turned into `R/<next slot>/<period>` when it fires evenly; the start is written in the
/// schedule's zone.
pub fn iso_schedule(expr: &str, time_zone: Option<&str>, now: Timestamp) -> Result<String> {
    let parsed =
        Schedule::parse(expr, time_zone).map_err(|r| Error::invalid("spec.schedule", r))?;
    if parsed.is_interval() {
        return Ok(expr.trim().to_owned());
    }
    let Some(period) = cron_period(expr) else {
        return Err(unsupported(
            Feature::CronJobs,
            "spec.schedule",
            format!(
                "{expr:?} does not fire at evenly spaced instants, so it has no ISO 8601 \
                 repeating interval (every n seconds, minutes or hours; daily, weekly, monthly \
                 or yearly at a fixed time)"
            ),
        ));
    };
    let start = parsed
        .next_after(now)
        .ok_or_else(|| Error::invalid("spec.schedule", "never fires"))?;
    let zoned = start.to_zoned(parsed.time_zone().clone());
    Ok(format!(
        "R/{}/{period}",
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z")
    ))
}

/// The start of a Chronos schedule (`R[n]/start/period`): its next run, as Chronos moves the
/// start forward after each run. `None` when the repetitions are used up (`R0`).
pub fn schedule_start(schedule: &str) -> Option<Timestamp> {
    let mut parts = schedule.split('/');
    let reps = parts.next()?;
    if reps == "R0" {
        return None;
    }
    let start = parts.next()?;
    start.parse::<Timestamp>().ok().or_else(|| {
        start
            .parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })
}

/// A Chronos date (`lastSuccess`, `lastError`); `""` is none.
fn chronos_date(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// The tars object of a Chronos job owned by `instance`; `None` for a job tars did not create
/// or another instance owns.
pub fn from_chronos(job: &ChronosJob, instance: &str) -> Option<CronJob> {
    let stamp = stamp_of(job).filter(|s| s.instance == instance)?;
    let mut metadata = ObjectMeta::named(job.name.clone());
    metadata.labels = stamp.labels;
    metadata.annotations = stamp.annotations;
    metadata.stamp_owner(instance);
    metadata.generation = Some(stamp.generation);
    metadata.created_at = stamp.created_at;
    metadata.uid = Some(format!("chronos/{}", job.name));
    let next_schedule = match (&job.schedule, job.disabled) {
        (Some(s), false) => schedule_start(s),
        _ => None,
    };
    let status = CronJobStatus {
        success_count: job.success_count,
        error_count: job.error_count,
        last_success: chronos_date(&job.last_success),
        last_error: chronos_date(&job.last_error),
        next_schedule,
        ..Default::default()
    };
    Some(CronJob {
        metadata,
        spec: stamp.spec,
        status: Some(status),
    })
}

/// The group name tars gives the run of `job` due at `due_ms` (all its attempts).
pub fn run_group(job: &str, due_ms: i64) -> String {
    format!("{job}-{due_ms}")
}

fn stat_time(s: &str) -> Option<Timestamp> {
    jiff::civil::DateTime::strptime(STAT_TIME_FORMAT, s)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// The runs of `job` from Chronos' task history (`job/stat`), oldest slot first, within the
/// job's history limits. One run per due time (its attempts share it), described by its latest
/// attempt. What Chronos does not say is not invented:
///
/// * `exit_code` is `Some(0)` for a success (Mesos' `TASK_FINISHED`), else `None` — Chronos
///   keeps no exit code;
/// * `started_at`/`finished_at` have Chronos' precision (whole seconds, UTC);
/// * `manual` is true when the due time is not a slot of the job's schedule (Chronos starts a
///   manual run at the instant it was asked for); runs of a dependent job never say manual;
/// * Chronos keeps no record of a slot it skipped. With `concurrency: Forbid`, a slot of the
///   schedule that has no task while a task of the job was running (to Chronos' precision) was
///   skipped for that reason, as Chronos documents `concurrent: false`: such a slot, up to
///   `now`, is given as `Missed`, its reason saying it is derived. Slots skipped for other
///   reasons (past `epsilon`, Chronos down) cannot be told from a disabled job's, and are not
///   listed;
/// * a failed run that ran for at least its `active_deadline` (to the second) says so in its
///   reason: Mesos stops a task at its `maxCompletionTime`, but Chronos does not report why a
///   task failed.
pub fn runs_from_stats(
    spec: &CronJobSpec,
    name: &str,
    stats: &[TaskStat],
    now: Timestamp,
) -> Vec<CronRun> {
    let schedule = spec
        .schedule
        .as_deref()
        .and_then(|s| Schedule::parse(s, spec.time_zone.as_deref()).ok());
    let mut latest: BTreeMap<i64, (u32, &TaskStat)> = BTreeMap::new();
    for s in stats {
        let Some(id) = TaskId::parse(&s.task_id) else {
            continue;
        };
        if id.job != name {
            continue;
        }
        let slot = latest.entry(id.due_ms).or_insert((id.attempt, s));
        if id.attempt >= slot.0 {
            *slot = (id.attempt, s);
        }
    }
    let mut runs: Vec<CronRun> = latest
        .into_iter()
        .filter_map(|(due_ms, (attempt, s))| {
            let slot = Timestamp::from_millisecond(due_ms).ok()?;
            let outcome = match s.status.as_str() {
                "Success" => RunOutcome::Succeeded,
                "Fail" if attempt >= spec.retries => RunOutcome::Failed,
                _ => RunOutcome::Running,
            };
            let manual = schedule.as_ref().is_some_and(|sch| {
                sch.next_after(slot - jiff::SignedDuration::from_nanos(1)) != Some(slot)
            });
            Some(CronRun {
                slot,
                group: run_group(name, due_ms),
                started_at: stat_time(&s.start_time),
                finished_at: if outcome.is_final() {
                    stat_time(&s.end_time)
                } else {
                    None
                },
                attempt: attempt + 1,
                outcome,
                exit_code: (outcome == RunOutcome::Succeeded).then_some(0),
                reason: match outcome {
                    RunOutcome::Failed => Some(failure_reason(spec, s)),
                    RunOutcome::Running if s.status == "Fail" => {
                        Some("failed; a retry is due".to_owned())
                    }
                    _ => None,
                },
                manual,
            })
        })
        .collect();
    if spec.concurrency == ConcurrencyPolicy::Forbid
        && let Some(schedule) = &schedule
    {
        let skipped = forbidden_slots(schedule, name, &runs, now);
        runs.extend(skipped);
        runs.sort_by_key(|r| r.slot);
    }
    limit_history(&mut runs, spec);
    runs
}

/// Why a run failed, as far as Chronos' history tells.
fn failure_reason(spec: &CronJobSpec, s: &TaskStat) -> String {
    let ran = stat_time(&s.start_time)
        .zip(stat_time(&s.end_time))
        .map(|(start, end)| end.duration_since(start));
    match (spec.active_deadline, ran) {
        (Some(deadline), Some(ran))
            if ran
                >= jiff::SignedDuration::try_from(deadline)
                    .unwrap_or(jiff::SignedDuration::MAX) =>
        {
            format!(
                "failed after running for its active_deadline ({deadline:?}), when Mesos stops                  a task past its maxCompletionTime (Chronos reports no exit code or cause)"
            )
        }
        _ => "the task failed (Chronos reports no exit code or cause)".to_owned(),
    }
}

/// The most slots looked at between a job's first visible run and now.
const MAX_SLOTS: usize = 10_000;

/// Slots of `schedule` after the first scheduled run in `runs` and up to `now` that have no run
/// while another run was active: skipped by Chronos because the job is not `concurrent`.
fn forbidden_slots(
    schedule: &Schedule,
    name: &str,
    runs: &[CronRun],
    now: Timestamp,
) -> Vec<CronRun> {
    let Some(first) = runs.iter().filter(|r| !r.manual).map(|r| r.slot).min() else {
        return Vec::new();
    };
    let taken: std::collections::BTreeSet<Timestamp> = runs.iter().map(|r| r.slot).collect();
    schedule
        .upcoming(first)
        .take_while(|s| *s <= now)
        .take(MAX_SLOTS)
        .filter(|s| !taken.contains(s))
        .filter_map(|slot| {
            // Chronos' times are whole seconds: a run is active over [start, end + 1 s).
            let second = Timestamp::from_second(slot.as_second()).ok()?;
            let active = runs.iter().find(|r| {
                r.started_at.is_some_and(|st| st <= second)
                    && r.finished_at.is_none_or(|e| e >= second)
                    && r.outcome != RunOutcome::Missed
            })?;
            Some(CronRun {
                slot,
                group: run_group(name, slot.as_millisecond()),
                started_at: None,
                finished_at: None,
                attempt: 1,
                outcome: RunOutcome::Missed,
                exit_code: None,
                reason: Some(format!(
                    "concurrency Forbid: {} was active (Chronos skips such a slot without a \
                     record; derived from its task history)",
                    active.group
                )),
                manual: false,
            })
        })
        .collect()
}

/// Keeps the newest successes and failures within the spec's limits (running runs all).
fn limit_history(runs: &mut Vec<CronRun>, spec: &CronJobSpec) {
    let mut ok = 0u32;
    let mut bad = 0u32;
    let mut keep = vec![true; runs.len()];
    for (i, r) in runs.iter().enumerate().rev() {
        match r.outcome {
            RunOutcome::Succeeded => {
                ok += 1;
                keep[i] = ok <= spec.successful_history_limit;
            }
            RunOutcome::Running => {}
            _ => {
                bad += 1;
                keep[i] = bad <= spec.failed_history_limit;
            }
        }
    }
    let mut k = keep.into_iter();
    runs.retain(|_| k.next().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tars_api::{Container, ContainerGroupSpec, EnvVar};

    fn job(schedule: Option<&str>) -> CronJob {
        let mut c = Container::new("main", "busybox", &["sh", "-c"]);
        c.args = vec!["echo it's done".into()];
        let mut spec = ContainerGroupSpec::new(vec![c]);
        spec.restart_policy = RestartPolicy::Never;
        CronJob::new("report", CronJobSpec::new(schedule, spec)).with_label("team", "data")
    }

    fn now() -> Timestamp {
        "2026-03-01T10:00:00.5Z".parse().expect("ts")
    }

    fn convert(j: &CronJob) -> Result<ChronosJob> {
        to_chronos(j, "me", 1, None, &ServerSettings::default(), now())
    }

    fn refused_at(j: &CronJob) -> String {
        match convert(j) {
            Err(Error::Unsupported { reason, .. }) => reason,
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn cron_schedules_become_intervals_from_their_next_slot() {
        let table = [
            ("* * * * * *", None, "R/2026-03-01T10:00:01+00:00/PT1S"),
            ("*/2 * * * * *", None, "R/2026-03-01T10:00:02+00:00/PT2S"),
            ("*/15 * * * *", None, "R/2026-03-01T10:15:00+00:00/PT15M"),
            ("0 * * * * *", None, "R/2026-03-01T10:01:00+00:00/PT1M"),
            ("@hourly", None, "R/2026-03-01T11:00:00+00:00/PT1H"),
            (
                "0 0 9 * * *",
                Some("Asia/Kathmandu"),
                "R/2026-03-02T09:00:00+05:45/P1D",
            ),
            ("30 4 * * 1", None, "R/2026-03-02T04:30:00+00:00/P7D"),
            ("0 0 0 1 1 *", None, "R/2027-01-01T00:00:00+00:00/P1Y"),
            ("0 3 15 * *", None, "R/2026-03-15T03:00:00+00:00/P1M"),
            (
                "R5/2026-01-01T00:00:00Z/PT1H",
                None,
                "R5/2026-01-01T00:00:00Z/PT1H",
            ),
        ];
        for (expr, tz, want) in table {
            assert_eq!(iso_schedule(expr, tz, now()).expect(expr), want, "{expr}");
        }
    }

    #[test]
    fn uneven_cron_schedules_are_unsupported_naming_the_field() {
        for expr in [
            "*/7 * * * * *",
            "0 0 9 * * 1-5",
            "0 0 0 31 * *",
            "0 0 9,17 * * *",
            "*/5 * 1 * * *",
        ] {
            match iso_schedule(expr, None, now()) {
                Err(Error::Unsupported {
                    feature, reason, ..
                }) => {
                    assert_eq!(feature, Feature::CronJobs);
                    assert!(reason.starts_with("spec.schedule:"), "{reason}");
                }
                other => panic!("{expr}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_job_maps_field_by_field() {
        let mut j = job(Some("0 * * * * *"));
        j.spec.time_zone = Some("Europe/Berlin".into());
        j.spec.suspend = true;
        j.spec.concurrency = ConcurrencyPolicy::Forbid;
        j.spec.starting_deadline = Some(Duration::from_secs(90));
        j.spec.active_deadline = Some(Duration::from_secs(30));
        j.spec.retries = 1;
        j.spec.retry_backoff = Duration::from_secs(60);
        let c = &mut j.spec.template.spec.containers[0];
        c.env = vec![EnvVar::literal("MODE", "fast")];
        c.resources.cpu = Some(tars_api::Cpu::millis(500));
        c.resources.memory = Some(tars_api::Memory::mebibytes(64));
        let cj = convert(&j).expect("convert");
        assert_eq!(cj.command, r"sh -c 'echo it'\''s done'");
        assert!(cj.shell && cj.arguments.is_empty() && cj.parents.is_empty());
        assert_eq!(
            cj.schedule.as_deref(),
            Some("R/2026-03-01T11:01:00+01:00/PT1M")
        );
        assert_eq!(cj.schedule_time_zone.as_deref(), Some("Europe/Berlin"));
        assert!(cj.disabled && !cj.concurrent);
        assert_eq!(cj.epsilon.as_deref(), Some("PT90S"));
        assert_eq!((cj.retries, cj.max_completion_time), (1, 30));
        assert_eq!((cj.cpus, cj.mem), (Some(0.5), Some(64.0)));
        assert_eq!(cj.environment_variables[0].name, "MODE");
        assert_eq!(
            cj.container.as_ref().map(|c| c.image.as_str()),
            Some("busybox")
        );
        assert_eq!(cj.owner_name, "tars/me");
        // Read back: the same object, with the stamp and the status from the counters.
        let mut back = cj.clone();
        back.success_count = 4;
        back.last_error = "2026-03-01T09:00:00.000Z".into();
        let o = from_chronos(&back, "me").expect("ours");
        assert_eq!(o.spec, j.spec);
        assert_eq!(
            o.metadata.labels.get("team").map(String::as_str),
            Some("data")
        );
        assert!(o.metadata.is_owned_by("me"));
        let s = o.status_or_default();
        assert_eq!(s.success_count, 4);
        assert!(s.last_error.is_some() && s.last_success.is_none());
        assert_eq!(s.next_schedule, None, "a disabled job has no next slot");
        assert!(from_chronos(&back, "someone-else").is_none());
    }

    #[test]
    fn parents_make_a_dependent_job() {
        let mut j = job(None);
        j.spec.parents = vec!["extract".into(), "fetch".into()];
        let cj = convert(&j).expect("convert");
        assert_eq!(cj.schedule, None);
        assert_eq!(cj.parents, ["extract", "fetch"]);
        j.spec.schedule = Some("@daily".into());
        assert!(refused_at(&j).starts_with("spec.parents:"));
    }

    #[test]
    fn what_chronos_cannot_express_is_unsupported_naming_the_field() {
        type Edit = fn(&mut CronJob);
        let cases: Vec<(&str, Edit)> = vec![
            ("spec.concurrency", |j| {
                j.spec.concurrency = ConcurrencyPolicy::Replace
            }),
            ("spec.retry_backoff", |j| j.spec.retries = 1),
            ("spec.retries", |j| {
                j.spec.retries = 2;
                j.spec.retry_backoff = Duration::from_secs(60);
            }),
            ("spec.active_deadline", |j| {
                j.spec.active_deadline = Some(Duration::from_millis(1500))
            }),
            ("spec.template.spec.containers:", |j| {
                let c = j.spec.template.spec.containers[0].clone();
                j.spec.template.spec.containers.push(c);
            }),
            ("spec.template.spec.containers[0].env[0].secret", |j| {
                j.spec.template.spec.containers[0].env = vec![EnvVar::from_secret(
                    "T",
                    tars_api::group::SecretRef {
                        name: "creds".into(),
                        key: "token".into(),
                    },
                )];
            }),
            ("spec.template.spec.restart_policy", |j| {
                j.spec.template.spec.restart_policy = RestartPolicy::Always
            }),
        ];
        for (field, change) in cases {
            let mut j = job(Some("@daily"));
            change(&mut j);
            let reason = refused_at(&j);
            assert!(reason.starts_with(field), "{field}: {reason}");
        }
    }

    fn stat(id: &str, status: &str, start: &str, end: &str) -> TaskStat {
        TaskStat {
            task_id: id.into(),
            job_name: "report".into(),
            slave_id: String::new(),
            start_time: start.into(),
            end_time: end.into(),
            duration: None,
            status: status.into(),
        }
    }

    #[test]
    fn slots_skipped_while_a_forbid_run_was_active_are_missed_and_deadlines_named() {
        let mut spec = job(Some("* * * * * *")).spec;
        spec.concurrency = ConcurrencyPolicy::Forbid;
        spec.active_deadline = Some(Duration::from_secs(2));
        spec.failed_history_limit = 10;
        // 10:00:01 ran until 10:00:03 (failed: killed at its deadline), 10:00:02 and 10:00:03
        // skipped; 10:00:04 ran; 10:00:05 .. 10:00:06 no run and none active: not listed.
        let stats = vec![
            stat(
                "ct:1772359204000:0:report:",
                "Success",
                "03/01/26 10:00:04",
                "03/01/26 10:00:04",
            ),
            stat(
                "ct:1772359201000:0:report:",
                "Fail",
                "03/01/26 10:00:01",
                "03/01/26 10:00:03",
            ),
        ];
        let now: Timestamp = "2026-03-01T10:00:06.5Z".parse().expect("ts");
        let runs = runs_from_stats(&spec, "report", &stats, now);
        let view: Vec<_> = runs
            .iter()
            .map(|r| (r.slot.as_second() % 60, r.outcome))
            .collect();
        assert_eq!(
            view,
            [
                (1, RunOutcome::Failed),
                (2, RunOutcome::Missed),
                (3, RunOutcome::Missed),
                (4, RunOutcome::Succeeded),
            ]
        );
        assert!(
            runs[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("active_deadline"))
        );
        assert!(
            runs[1]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("Forbid") && r.contains("report-1772359201000"))
        );
        spec.concurrency = ConcurrencyPolicy::Allow;
        assert_eq!(
            runs_from_stats(&spec, "report", &stats, now).len(),
            2,
            "Allow skips nothing"
        );
    }

    #[test]
    fn runs_come_from_the_task_history_without_invented_data() {
        let mut spec = job(Some("*/2 * * * * *")).spec;
        spec.retries = 1;
        // 10:00:02 (a slot): failed, retried, succeeded; 10:00:03.250 (not a slot): manual,
        // failed for good; 10:00:04: running.
        let stats = vec![
            stat(
                "ct:1772359204000:0:report:",
                "Running",
                "03/01/26 10:00:04",
                "N/A",
            ),
            stat(
                "ct:1772359203250:1:report:",
                "Fail",
                "03/01/26 10:00:04",
                "03/01/26 10:00:04",
            ),
            stat(
                "ct:1772359203250:0:report:",
                "Fail",
                "03/01/26 10:00:03",
                "03/01/26 10:00:03",
            ),
            stat(
                "ct:1772359202000:1:report:",
                "Success",
                "03/01/26 10:00:03",
                "03/01/26 10:00:03",
            ),
            stat(
                "ct:1772359202000:0:report:",
                "Fail",
                "03/01/26 10:00:02",
                "03/01/26 10:00:02",
            ),
            stat(
                "ct:1772359202000:0:other:",
                "Success",
                "03/01/26 10:00:02",
                "03/01/26 10:00:02",
            ),
        ];
        let now: Timestamp = "2026-03-01T10:00:05Z".parse().expect("ts");
        let runs = runs_from_stats(&spec, "report", &stats, now);
        let view: Vec<_> = runs
            .iter()
            .map(|r| {
                (
                    r.group.as_str(),
                    r.attempt,
                    r.outcome,
                    r.exit_code,
                    r.manual,
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                (
                    "report-1772359202000",
                    2,
                    RunOutcome::Succeeded,
                    Some(0),
                    false
                ),
                ("report-1772359203250", 2, RunOutcome::Failed, None, true),
                ("report-1772359204000", 1, RunOutcome::Running, None, false),
            ]
        );
        assert_eq!(
            runs[0].started_at,
            Some("2026-03-01T10:00:03Z".parse().expect("ts"))
        );
        assert_eq!(runs[2].finished_at, None);
        spec.successful_history_limit = 0;
        spec.failed_history_limit = 0;
        let kept = runs_from_stats(&spec, "report", &stats, now);
        assert_eq!(kept.len(), 1, "only the running run is kept: {kept:?}");
    }
}
