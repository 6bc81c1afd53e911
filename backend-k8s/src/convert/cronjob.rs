//! CronJob ⇄ batch/v1 (or batch/v1beta1) CronJob (+ its Jobs for runs).
//!
//! # Schedules
//!
//! Kubernetes reads 5-field cron (robfig/cron's standard parser) in the CronJob's `timeZone`,
//! or in the controller manager's time zone (normally UTC) when the server has no such field.
//! tars' schedules are translated when the result fires at exactly the same instants, and are
//! `Unsupported` naming `spec.schedule` otherwise:
//!
//! - 5 fields: as written, except croner's extensions robfig does not know (`L`, `W`, `#`, a
//!   leading `+` on the day of week) and `7` for Sunday (robfig has 0–6), which are
//!   `Unsupported` with `Feature::CronJobs`.
//! - 6 fields: the seconds field must be `0` (dropped); anything else fires more than once a
//!   minute or off the minute (`Feature::SecondsSchedules`).
//! - Macros: expanded to their 5 fields.
//! - ISO 8601 intervals (`Feature::Iso8601Schedules`): only `R/<start>/<period>` without a
//!   count, a start on a whole minute that is not in the future (a CronJob cannot wait for a
//!   start), and a period cron can repeat exactly: a time-only period of whole minutes that
//!   divides an hour (`PT15M`) or of whole hours that divides a day (`PT6H`), in a time zone
//!   without daylight saving time; or one of `P1D`, `P1W`/`P7D`, `PnM` with `n` dividing 12
//!   (on a day of month up to 28) and `P1Y` (not on February 29), read in the time zone's wall
//!   clock as tars does. The start only aligns the fields (`R/2026-01-01T00:05:00Z/PT15M` is
//!   `5-59/15 * * * *`).
//! - No schedule (a job run only after its parents) is `Unsupported` (`Feature::Parents`).
//!
//! # Other choices
//!
//! - `retries` is the Job's `backoffLimit`; Kubernetes' retry delay is fixed (10 s doubling, as
//!   tars' default), so another `retry_backoff` is `Unsupported` when there are retries.
//! - The jobs, and the pods of a run, carry the template's labels, `tars.dev/cron-job` and
//!   `tars.dev/owner` (the job's name) and the ownership labels; the pod template carries the
//!   group spec in its [`SPEC_ANNOTATION`], so a run's pod reads back as a group.
//! - Counts of successes and failures are over the jobs Kubernetes keeps (its history limits).
//! - A name longer than 52 characters is `Unsupported`: Kubernetes refuses such CronJobs.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use k8s_openapi::api::batch::v1::{
    CronJob as K8sCronJob, CronJobSpec as K8sCronJobSpec, CronJobStatus as K8sCronJobStatus, Job,
    JobSpec, JobTemplateSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta as K8sMeta;
use tars_api::cronjob::ConcurrencyPolicy;
use tars_api::meta::{self, Kind};
use tars_api::schedule::{Schedule, parse_time_zone};
use tars_api::{
    CronJob, CronJobSpec, CronJobStatus, CronRun, Error, Feature, RestartPolicy, Result, RunOutcome,
};

use super::{CRON_JOB_LABEL, SPEC_ANNOTATION, ServerInfo, Stamp, secs_ceil, unsupported};

/// The annotation `kubectl create job --from=cronjob/NAME` puts on the job it makes.
pub(crate) const INSTANTIATE_ANNOTATION: &str = "cronjob.kubernetes.io/instantiate";
/// The annotation with the slot a scheduled job was made for (Kubernetes 1.28+).
pub(crate) const SCHEDULED_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// The longest CronJob name Kubernetes accepts (a job's name adds `-` and 10 digits).
pub(crate) const MAX_NAME: usize = 52;

/// The complete CronJob object of a tars cron job, as JSON: `batch/v1`, or `batch/v1beta1` on
/// servers before 1.21 (the same fields).
pub(crate) fn cron_job(
    c: &CronJob,
    stamp: &Stamp,
    server: &ServerInfo,
) -> Result<serde_json::Value> {
    let spec = &c.spec;
    let name = c.metadata.name.as_str();
    if name.chars().count() > MAX_NAME {
        return Err(unsupported(
            Feature::CronJobs,
            "metadata.name",
            &format!(
                "{name:?} is longer than {MAX_NAME} characters, the most Kubernetes allows for a \
                 CronJob (its jobs' names add 11)"
            ),
        ));
    }
    if !spec.parents.is_empty() {
        return Err(unsupported(
            Feature::Parents,
            "spec.parents",
            "Kubernetes CronJobs have no dependencies between jobs",
        ));
    }
    let schedule = spec.schedule.as_deref().ok_or_else(|| {
        unsupported(
            Feature::Parents,
            "spec.schedule",
            "a job without a schedule runs only after its parents, which Kubernetes CronJobs \
             cannot express",
        )
    })?;
    let time_zone = match &spec.time_zone {
        Some(tz) if !server.cron_time_zone() => {
            let (major, minor) = server.version;
            return Err(unsupported(
                Feature::TimeZones,
                "spec.time_zone",
                &format!(
                    "this server ({major}.{minor}) has no CronJob timeZone field (Kubernetes \
                     1.25+ with batch/v1); {tz:?} cannot be honoured"
                ),
            ));
        }
        tz => tz.clone(),
    };
    let schedule = k8s_schedule(schedule, spec.time_zone.as_deref(), Timestamp::now())?;
    let concurrency = match spec.concurrency {
        ConcurrencyPolicy::Allow => "Allow",
        ConcurrencyPolicy::Forbid => "Forbid",
        ConcurrencyPolicy::Replace => "Replace",
    };
    let k8s = K8sCronJob {
        metadata: super::k8s_meta(&c.metadata, stamp, super::spec_json(spec)?, None),
        spec: Some(K8sCronJobSpec {
            schedule,
            time_zone,
            concurrency_policy: Some(concurrency.to_owned()),
            starting_deadline_seconds: spec.starting_deadline.map(secs_ceil),
            suspend: Some(spec.suspend),
            successful_jobs_history_limit: Some(super::i32_of(spec.successful_history_limit)),
            failed_jobs_history_limit: Some(super::i32_of(spec.failed_history_limit)),
            job_template: job_template(c, stamp)?,
        }),
        status: None,
    };
    let mut v = serde_json::to_value(&k8s).map_err(|e| Error::backend(crate::BACKEND, e))?;
    v["apiVersion"] = if server.batch_v1_cron_job {
        "batch/v1"
    } else {
        "batch/v1beta1"
    }
    .into();
    v["kind"] = "CronJob".into();
    Ok(v)
}

/// The labels of the jobs and pods of cron job `name`.
fn run_labels(c: &CronJob, stamp: &Stamp) -> BTreeMap<String, String> {
    let mut labels = stamp.labels(&c.spec.template.labels);
    labels.insert(CRON_JOB_LABEL.to_owned(), c.metadata.name.clone());
    labels.insert(meta::OWNER_LABEL.to_owned(), c.metadata.name.clone());
    labels
}

/// The job template of a cron job (shared by the CronJob and a manual run).
fn job_template(c: &CronJob, stamp: &Stamp) -> Result<JobTemplateSpec> {
    let spec = &c.spec;
    if spec.template.spec.restart_policy == RestartPolicy::Always {
        return Err(unsupported(
            Feature::RestartPolicy,
            "spec.template.spec.restart_policy",
            "a Kubernetes Job's pods must restart OnFailure or Never, not Always",
        ));
    }
    if spec.retries > 0
        && spec.retry_backoff != CronJobSpec::new(None, spec.template.spec.clone()).retry_backoff
    {
        return Err(unsupported(
            Feature::Retries,
            "spec.retry_backoff",
            "Kubernetes retries a Job after a fixed back-off (10s, doubling up to 6 minutes); \
             leave retry_backoff at its default of 10s",
        ));
    }
    let labels = run_labels(c, stamp);
    let selector: BTreeMap<String, String> = [
        (CRON_JOB_LABEL.to_owned(), c.metadata.name.clone()),
        (meta::INSTANCE_LABEL.to_owned(), stamp.instance.clone()),
    ]
    .into();
    let pod_spec = super::group::pod_spec_at(&spec.template.spec, "spec.template.spec", &selector)?;
    let mut annotations = spec.template.annotations.clone();
    annotations.insert(
        SPEC_ANNOTATION.to_owned(),
        super::spec_json(&spec.template.spec)?,
    );
    Ok(JobTemplateSpec {
        metadata: Some(K8sMeta {
            labels: Some(labels.clone()),
            ..Default::default()
        }),
        spec: Some(JobSpec {
            backoff_limit: Some(super::i32_of(spec.retries)),
            active_deadline_seconds: spec.active_deadline.map(secs_ceil),
            template: PodTemplateSpec {
                metadata: Some(K8sMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(pod_spec),
            },
            ..Default::default()
        }),
    })
}

/// The Kubernetes schedule of a tars schedule read in `time_zone`, at `now` (see the module
/// documentation); `Unsupported` naming `spec.schedule` when no cron expression fires at
/// exactly the same instants.
pub(crate) fn k8s_schedule(expr: &str, time_zone: Option<&str>, now: Timestamp) -> Result<String> {
    let expr = expr.trim();
    if expr.starts_with('R') {
        return interval_schedule(expr, time_zone, now)
            .map_err(|reason| unsupported(Feature::Iso8601Schedules, "spec.schedule", &reason));
    }
    let expanded = match expr.strip_prefix('@') {
        Some(name) => match name.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            _ => {
                return Err(Error::invalid(
                    "spec.schedule",
                    format!("{expr:?} is not a known macro"),
                ));
            }
        },
        None => expr,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    let five: &[&str] = match fields.as_slice() {
        [seconds, rest @ ..] if rest.len() == 5 => {
            if seconds.trim_start_matches('0').is_empty() {
                rest
            } else {
                return Err(unsupported(
                    Feature::SecondsSchedules,
                    "spec.schedule",
                    &format!(
                        "{expr:?} fires at second {seconds}; Kubernetes CronJobs fire on whole \
                         minutes (use a seconds field of 0, or 5 fields)"
                    ),
                ));
            }
        }
        f if f.len() == 5 => f,
        _ => {
            return Err(Error::invalid(
                "spec.schedule",
                format!("{expr:?} is not a cron expression of 5 or 6 fields"),
            ));
        }
    };
    let (dom, dow) = (five[2], five[4]);
    let extension = dom.contains(['L', 'l', 'W', 'w'])
        || dow.contains('#')
        || dow.starts_with('+')
        || dow.split(',').any(|t| {
            t.len() > 1 && t.ends_with(['L', 'l']) && t.starts_with(|c: char| c.is_ascii_digit())
        });
    if extension {
        return Err(unsupported(
            Feature::CronJobs,
            "spec.schedule",
            &format!(
                "{expr:?} uses a cron extension (L, W, #, +) that Kubernetes' cron parser does \
                 not know"
            ),
        ));
    }
    let sunday_as_7 = dow.split(',').any(|part| {
        let range = part.split('/').next().unwrap_or_default();
        range.split('-').any(|n| n == "7")
    });
    if sunday_as_7 {
        return Err(unsupported(
            Feature::CronJobs,
            "spec.schedule",
            &format!("{expr:?} writes Sunday as 7; Kubernetes' cron parser wants 0 (or SUN)"),
        ));
    }
    Ok(five.join(" "))
}

/// The cron expression of an ISO 8601 repeating interval, or why there is none.
fn interval_schedule(
    expr: &str,
    time_zone: Option<&str>,
    now: Timestamp,
) -> std::result::Result<String, String> {
    let parts: Vec<&str> = expr.split('/').collect();
    let [repeat, start, period] = parts.as_slice() else {
        return Err(format!("{expr:?} is not an ISO 8601 repeating interval"));
    };
    if *repeat != "R" {
        return Err(format!(
            "{expr:?} fires a limited number of times ({repeat}); a CronJob repeats without end"
        ));
    }
    let tz = match time_zone {
        Some(name) => parse_time_zone(name)?,
        None => TimeZone::UTC,
    };
    let start: Timestamp = start
        .parse()
        .map_err(|e| format!("{expr:?}: start {start:?}: {e}"))?;
    if start > now {
        return Err(format!(
            "{expr:?} starts in the future; a CronJob starts firing at once"
        ));
    }
    let span: Span = period
        .parse()
        .map_err(|e| format!("{expr:?}: period {period:?}: {e}"))?;
    let local = start.to_zoned(tz.clone());
    if local.second() != 0 || local.subsec_nanosecond() != 0 {
        return Err(format!(
            "{expr:?} starts off a whole minute; Kubernetes CronJobs fire on whole minutes"
        ));
    }
    let (minute, hour, day, month) = (local.minute(), local.hour(), local.day(), local.month());
    let weekday = local.weekday().to_sunday_zero_offset();
    let calendar = (
        span.get_years(),
        span.get_months(),
        span.get_weeks(),
        span.get_days(),
    );
    let exact_parts = (
        i64::from(span.get_hours()),
        span.get_minutes(),
        span.get_seconds(),
        span.get_milliseconds(),
        span.get_microseconds(),
        span.get_nanoseconds(),
    );
    let cannot = || format!("no cron expression fires exactly every {period} from {start}");
    if calendar == (0, 0, 0, 0) {
        let (h, m, s, ms, us, ns) = exact_parts;
        if ms != 0 || us != 0 || ns != 0 || s % 60 != 0 {
            return Err(format!(
                "{expr:?}: Kubernetes CronJobs fire on whole minutes"
            ));
        }
        let minutes = h * 60 + m + s / 60;
        if tz.following(start).next().is_some() {
            return Err(format!(
                "{expr:?} repeats an exact period in a time zone with daylight saving time \
                 changes, where cron's wall-clock times drift from it"
            ));
        }
        return if minutes > 0 && minutes < 60 && 60 % minutes == 0 {
            let field = if minutes == 1 {
                "*".to_owned()
            } else {
                format!("{}-59/{minutes}", i64::from(minute) % minutes)
            };
            Ok(format!("{field} * * * *"))
        } else if minutes >= 60 && minutes % 60 == 0 && 24 % (minutes / 60) == 0 {
            let hours = minutes / 60;
            let field = match hours {
                1 => "*".to_owned(),
                24 => hour.to_string(),
                _ => format!("{}-23/{hours}", i64::from(hour) % hours),
            };
            Ok(format!("{minute} {field} * * *"))
        } else {
            Err(cannot())
        };
    }
    if exact_parts != (0, 0, 0, 0, 0, 0) {
        return Err(cannot());
    }
    match calendar {
        (0, 0, 0, 1) => Ok(format!("{minute} {hour} * * *")),
        (0, 0, 1, 0) | (0, 0, 0, 7) => Ok(format!("{minute} {hour} * * {weekday}")),
        (0, months, 0, 0) | (1, months @ 0, 0, 0) if day <= 28 => {
            let months = if months == 0 { 12 } else { i64::from(months) };
            if 12 % months != 0 {
                return Err(cannot());
            }
            let field = match months {
                1 => "*".to_owned(),
                12 => month.to_string(),
                _ => format!("{}-12/{months}", (i64::from(month) - 1) % months + 1),
            };
            Ok(format!("{minute} {hour} {day} {field} *"))
        }
        _ => Err(cannot()),
    }
}

/// The tars cron job a CronJob object (batch/v1 or v1beta1, as JSON) shows, given its jobs.
pub(crate) fn cron_job_from_json(obj: &serde_json::Value, jobs: &[Job]) -> Result<CronJob> {
    let bad = |what: &str, e: serde_json::Error| {
        Error::backend(crate::BACKEND, format!("unreadable CronJob {what}: {e}"))
    };
    let metadata: K8sMeta =
        serde_json::from_value(obj.get("metadata").cloned().unwrap_or_default())
            .map_err(|e| bad("metadata", e))?;
    let spec: CronJobSpec = super::spec_of(Kind::CronJob, &metadata)?;
    let k8s: K8sCronJobStatus = match obj.get("status") {
        Some(s) if !s.is_null() => {
            serde_json::from_value(s.clone()).map_err(|e| bad("status", e))?
        }
        _ => K8sCronJobStatus::default(),
    };
    let finished = |type_: &str| {
        jobs.iter()
            .filter_map(move |j| finish(j, type_))
            .collect::<Vec<Timestamp>>()
    };
    let succeeded = finished("Complete");
    let failed = finished("Failed");
    let next_schedule = match (&spec.schedule, spec.suspend) {
        (Some(expr), false) => Schedule::parse(expr, spec.time_zone.as_deref())
            .ok()
            .and_then(|s| s.next_after(Timestamp::now())),
        _ => None,
    };
    let status = CronJobStatus {
        active: k8s
            .active
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.name)
            .collect(),
        last_schedule: super::timestamp(k8s.last_schedule_time.as_ref()),
        last_success: super::timestamp(k8s.last_successful_time.as_ref())
            .or_else(|| succeeded.iter().max().copied()),
        last_error: failed.iter().max().copied(),
        success_count: succeeded.len() as u64,
        error_count: failed.len() as u64,
        missed_count: 0,
        next_schedule,
        conditions: Vec::new(),
    };
    Ok(CronJob {
        metadata: super::object_meta(&metadata),
        spec,
        status: Some(status),
    })
}

/// When a job's condition `type_` (`Complete`, `Failed`) became true, if it is.
fn finish(job: &Job, type_: &str) -> Option<Timestamp> {
    let status = job.status.as_ref()?;
    let c = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")?;
    super::timestamp(c.last_transition_time.as_ref())
        .or_else(|| super::timestamp(status.completion_time.as_ref()))
        .or_else(|| super::timestamp(job.metadata.creation_timestamp.as_ref()))
}

/// A Job from the cron job's template, as `kubectl create job --from=cronjob/NAME` makes it
/// (without the owner reference to the CronJob, which needs its uid: the caller adds it).
pub(crate) fn job_from_cron_job(c: &CronJob, stamp: &Stamp, job_name: &str) -> Result<Job> {
    let template = job_template(c, stamp)?;
    let mut metadata = template.metadata.unwrap_or_default();
    metadata.name = Some(job_name.to_owned());
    metadata.namespace = Some(stamp.namespace.clone());
    metadata
        .annotations
        .get_or_insert_default()
        .insert(INSTANTIATE_ANNOTATION.to_owned(), "manual".to_owned());
    Ok(Job {
        metadata,
        spec: template.spec,
        status: None,
    })
}

/// The slot of a scheduled job, from the name the CronJob controller gave it:
/// `<cronjob>-<unix seconds>` (the controller of Kubernetes before 1.21) or
/// `<cronjob>-<unix minutes>` (1.21 and later).
fn slot_of_name(job: &Job) -> Option<Timestamp> {
    let m = &job.metadata;
    let cron_job = m.labels.as_ref()?.get(CRON_JOB_LABEL)?;
    let n: i64 = m
        .name
        .as_deref()?
        .strip_prefix(cron_job.as_str())?
        .strip_prefix('-')?
        .parse()
        .ok()?;
    // Seconds since 1970 passed 10^9 in 2001; minutes will not before the year 3871.
    let seconds = if n >= 1_000_000_000 {
        n
    } else {
        n.checked_mul(60)?
    };
    Timestamp::from_second(seconds).ok()
}

/// One run per job, sorted by start (or slot while not started).
pub(crate) fn runs(jobs: &[Job]) -> Vec<CronRun> {
    let mut out: Vec<CronRun> = jobs
        .iter()
        .map(|j| {
            let m = &j.metadata;
            let annotation = |key: &str| m.annotations.as_ref().and_then(|a| a.get(key));
            let created = super::timestamp(m.creation_timestamp.as_ref());
            let status = j.status.clone().unwrap_or_default();
            // The CronJob controller creates the Job when it starts the run; the Job controller
            // sets `startTime` when it first syncs it, which can lag under load. A run exists
            // from the Job's creation, so that is its start until `startTime` is known.
            let started_at = super::timestamp(status.start_time.as_ref()).or(created);
            let slot = annotation(SCHEDULED_ANNOTATION)
                .and_then(|s| s.parse::<Timestamp>().ok())
                .or_else(|| slot_of_name(j))
                .or(created)
                .or(started_at)
                .unwrap_or(Timestamp::UNIX_EPOCH);
            let failed = status.conditions.as_ref().and_then(|cs| {
                cs.iter()
                    .find(|c| c.type_ == "Failed" && c.status == "True")
            });
            let (outcome, finished_at, reason) = if let Some(done) = finish(j, "Complete") {
                (
                    RunOutcome::Succeeded,
                    super::timestamp(status.completion_time.as_ref()).or(Some(done)),
                    None,
                )
            } else if let Some(f) = failed {
                (
                    RunOutcome::Failed,
                    finish(j, "Failed"),
                    f.message.clone().or_else(|| f.reason.clone()),
                )
            } else {
                (RunOutcome::Running, None, None)
            };
            CronRun {
                slot,
                group: m.name.clone().unwrap_or_default(),
                started_at,
                finished_at,
                attempt: super::u32_of(status.failed).saturating_add(1),
                outcome,
                exit_code: None,
                reason,
                manual: annotation(INSTANTIATE_ANNOTATION).map(String::as_str) == Some("manual"),
            }
        })
        .collect();
    out.sort_by_key(|r| (r.started_at.unwrap_or(r.slot), r.group.clone()));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use tars_api::{Container, ContainerGroupSpec};

    use super::*;
    use crate::convert::group::tests::stamp;

    pub(crate) fn server(version: (u32, u32)) -> ServerInfo {
        ServerInfo {
            version,
            batch_v1_cron_job: version >= (1, 21),
        }
    }

    pub(crate) fn tars_cron_job(schedule: &str) -> CronJob {
        let mut spec = ContainerGroupSpec::new(vec![Container::new(
            "report",
            "busybox:1.36",
            &["sh", "-c", "echo done"],
        )]);
        spec.restart_policy = RestartPolicy::OnFailure;
        let mut c = CronJob::new("report", CronJobSpec::new(Some(schedule), spec));
        c.spec.concurrency = ConcurrencyPolicy::Forbid;
        c.spec.starting_deadline = Some(Duration::from_secs(90));
        c.spec.active_deadline = Some(Duration::from_millis(600_500));
        c.spec.retries = 2;
        c.spec.template.labels.insert("app".into(), "report".into());
        c
    }

    fn now() -> Timestamp {
        "2026-11-26T12:00:00Z".parse().expect("instant")
    }

    #[test]
    fn schedules_translate_when_cron_fires_at_the_same_instants() {
        let ok = |expr: &str, tz: Option<&str>| {
            k8s_schedule(expr, tz, now()).unwrap_or_else(|e| panic!("{expr}: {e}"))
        };
        let table = [
            ("*/5 * * * *", None, "*/5 * * * *"),
            ("0 */5 * * * *", None, "*/5 * * * *"),
            ("00 30 2 * * MON-FRI", None, "30 2 * * MON-FRI"),
            ("@hourly", None, "0 * * * *"),
            ("@DAILY", None, "0 0 * * *"),
            ("0 0 13 * 5", None, "0 0 13 * 5"),
            ("R/2026-01-01T00:05:00Z/PT15M", None, "5-59/15 * * * *"),
            ("R/2026-01-01T00:00:00Z/PT1M", None, "* * * * *"),
            ("R/2026-01-01T00:00:00Z/PT1H", None, "0 * * * *"),
            ("R/2026-01-01T01:30:00Z/PT6H", None, "30 1-23/6 * * *"),
            ("R/2026-01-01T07:10:00Z/PT24H", None, "10 7 * * *"),
            (
                "R/2026-01-01T09:00:00+01:00/P1D",
                Some("Europe/Berlin"),
                "0 9 * * *",
            ),
            ("R/2026-01-01T09:00:00Z/P1W", None, "0 9 * * 4"),
            ("R/2026-01-15T06:00:00Z/P1M", None, "0 6 15 * *"),
            ("R/2026-02-03T00:00:00Z/P3M", None, "0 0 3 2-12/3 *"),
            ("R/2025-03-03T04:00:00Z/P1Y", None, "0 4 3 3 *"),
            (
                "R/2026-01-01T00:00:00+05:30/PT1H",
                Some("Asia/Kolkata"),
                "0 * * * *",
            ),
        ];
        for (expr, tz, want) in table {
            assert_eq!(ok(expr, tz), want, "{expr}");
        }
    }

    #[test]
    fn schedules_cron_cannot_express_are_refused_naming_the_field() {
        let table = [
            ("30 */5 * * * *", Feature::SecondsSchedules),
            ("*/10 * * * * *", Feature::SecondsSchedules),
            ("0 0 L * *", Feature::CronJobs),
            ("0 0 * * 5#2", Feature::CronJobs),
            ("0 0 * * 1-7", Feature::CronJobs),
            ("0 0 * * 5L", Feature::CronJobs),
            ("R5/2026-01-01T00:00:00Z/PT1H", Feature::Iso8601Schedules),
            ("R/2026-01-01T00:00:00Z/PT7M", Feature::Iso8601Schedules),
            ("R/2026-01-01T00:00:00Z/PT90M", Feature::Iso8601Schedules),
            ("R/2026-01-01T00:00:30Z/PT1H", Feature::Iso8601Schedules),
            ("R/2026-01-01T00:00:00Z/P2D", Feature::Iso8601Schedules),
            ("R/2026-01-01T00:00:00Z/P1DT1H", Feature::Iso8601Schedules),
            ("R/2026-01-31T00:00:00Z/P1M", Feature::Iso8601Schedules),
            ("R/2027-01-01T00:00:00Z/PT1H", Feature::Iso8601Schedules),
        ];
        for (expr, feature) in table {
            match k8s_schedule(expr, None, now()) {
                Err(Error::Unsupported {
                    feature: f, reason, ..
                }) => {
                    assert_eq!(f, feature, "{expr}");
                    assert!(reason.starts_with("spec.schedule:"), "{expr}: {reason}");
                }
                other => panic!("{expr}: {other:?}"),
            }
        }
        let err = k8s_schedule("R/2026-01-01T00:00:00Z/PT1H", Some("Europe/Berlin"), now())
            .expect_err("DST");
        assert!(err.to_string().contains("daylight saving"), "{err}");
    }

    #[test]
    fn the_api_version_follows_the_server_and_time_zones_need_1_25() {
        let mut c = tars_cron_job("*/5 * * * *");
        let v = cron_job(&c, &stamp(), &server((1, 33))).expect("renders");
        assert_eq!(v["apiVersion"], "batch/v1");
        assert_eq!(v["kind"], "CronJob");
        let old = cron_job(&c, &stamp(), &server((1, 20))).expect("renders");
        assert_eq!(old["apiVersion"], "batch/v1beta1");
        assert_eq!(old["spec"], v["spec"], "the same fields");

        c.spec.time_zone = Some("Europe/Berlin".into());
        let v = cron_job(&c, &stamp(), &server((1, 33))).expect("renders");
        assert_eq!(v["spec"]["timeZone"], "Europe/Berlin");
        for version in [(1, 20), (1, 24)] {
            let err = cron_job(&c, &stamp(), &server(version)).expect_err("no timeZone");
            assert!(
                matches!(&err, Error::Unsupported { feature: Feature::TimeZones, reason, .. }
                    if reason.starts_with("spec.time_zone:")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_cron_job_spec_carries_every_field() {
        let c = tars_cron_job("0 0 3 * * *");
        let v = cron_job(&c, &stamp(), &server((1, 33))).expect("renders");
        let k: K8sCronJob = serde_json::from_value(v).expect("a CronJob");
        let spec = k.spec.expect("spec");
        assert_eq!(spec.schedule, "0 3 * * *");
        assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
        assert_eq!(spec.starting_deadline_seconds, Some(90));
        assert_eq!(spec.suspend, Some(false));
        assert_eq!(spec.successful_jobs_history_limit, Some(3));
        assert_eq!(spec.failed_jobs_history_limit, Some(1));
        assert_eq!(spec.time_zone, None);
        let jt = spec.job_template;
        let labels = jt.metadata.and_then(|m| m.labels).expect("job labels");
        assert_eq!(
            labels.get("tars.dev/cron-job").map(String::as_str),
            Some("report")
        );
        assert_eq!(
            labels.get("tars.dev/instance").map(String::as_str),
            Some("test")
        );
        assert_eq!(labels.get("app").map(String::as_str), Some("report"));
        let js = jt.spec.expect("job spec");
        assert_eq!(js.backoff_limit, Some(2));
        assert_eq!(js.active_deadline_seconds, Some(601));
        let pod_meta = js.template.metadata.expect("pod metadata");
        assert_eq!(pod_meta.labels.as_ref(), Some(&labels));
        assert_eq!(
            js.template.spec.and_then(|s| s.restart_policy).as_deref(),
            Some("OnFailure")
        );
        let back = cron_job_from_json(
            &serde_json::json!({"apiVersion": "batch/v1", "kind": "CronJob",
                "metadata": serde_json::to_value(&k.metadata).expect("json")}),
            &[],
        )
        .expect("reads back");
        assert_eq!(back.spec, c.spec);
        assert!(back.metadata.is_owned_by("test"));
    }

    #[test]
    fn what_jobs_cannot_do_is_refused_naming_the_field() {
        let srv = server((1, 33));
        let mut c = tars_cron_job("*/5 * * * *");
        c.spec.template.spec.restart_policy = RestartPolicy::Always;
        let err = cron_job(&c, &stamp(), &srv).expect_err("Always");
        assert!(
            err.to_string()
                .contains("spec.template.spec.restart_policy:"),
            "{err}"
        );

        let mut c = tars_cron_job("*/5 * * * *");
        c.spec.retry_backoff = Duration::from_secs(30);
        let err = cron_job(&c, &stamp(), &srv).expect_err("backoff");
        assert!(
            matches!(&err, Error::Unsupported { feature: Feature::Retries, reason, .. }
                if reason.starts_with("spec.retry_backoff:")),
            "{err}"
        );
        c.spec.retries = 0;
        cron_job(&c, &stamp(), &srv).expect("no retries: the back-off does not matter");

        let mut c = tars_cron_job("*/5 * * * *");
        c.spec.parents = vec!["extract".into()];
        let err = cron_job(&c, &stamp(), &srv).expect_err("parents");
        assert!(
            matches!(&err, Error::Unsupported { feature: Feature::Parents, reason, .. }
                if reason.starts_with("spec.parents:")),
            "{err}"
        );
        c.spec.parents.clear();
        c.spec.schedule = None;
        let err = cron_job(&c, &stamp(), &srv).expect_err("no schedule");
        assert!(err.to_string().contains("spec.schedule:"), "{err}");

        let mut c = tars_cron_job("*/5 * * * *");
        c.metadata.name = "a".repeat(53);
        let err = cron_job(&c, &stamp(), &srv).expect_err("too long");
        assert!(err.to_string().contains("metadata.name:"), "{err}");
        c.metadata.name = "a".repeat(52);
        cron_job(&c, &stamp(), &srv).expect("52 characters");
    }

    #[test]
    fn a_manual_job_is_what_kubectl_create_job_from_makes() {
        let c = tars_cron_job("*/5 * * * *");
        let job = job_from_cron_job(&c, &stamp(), "report-manual-x1").expect("job");
        assert_eq!(job.metadata.name.as_deref(), Some("report-manual-x1"));
        assert_eq!(job.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(
            job.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(INSTANTIATE_ANNOTATION))
                .map(String::as_str),
            Some("manual")
        );
        let labels = job.metadata.labels.as_ref().expect("labels");
        assert_eq!(
            labels.get("tars.dev/cron-job").map(String::as_str),
            Some("report")
        );
        assert!(stamp().owns(Some(labels)));
        assert_eq!(job.spec.and_then(|s| s.backoff_limit), Some(2));
    }

    #[test]
    fn a_job_the_job_controller_has_not_synced_yet_started_when_it_was_created() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "report-29400000", "namespace": "ns",
                "creationTimestamp": "2026-11-26T10:00:01Z",
                "labels": {"tars.dev/cron-job": "report"}},
            "spec": {"template": {"spec": {"containers": [{"name": "report", "image": "busybox"}], "restartPolicy": "Never"}}}
        }))
        .expect("a Job");
        let run = &runs(&[job])[0];
        assert_eq!(run.outcome, RunOutcome::Running);
        assert_eq!(
            run.started_at,
            Some("2026-11-26T10:00:01Z".parse().expect("time")),
            "{run:?}"
        );
    }

    fn job_json(name: &str, scheduled: Option<&str>, manual: bool, outcome: &str) -> Job {
        let mut annotations = serde_json::Map::new();
        if let Some(s) = scheduled {
            annotations.insert(SCHEDULED_ANNOTATION.into(), s.into());
        }
        if manual {
            annotations.insert(INSTANTIATE_ANNOTATION.into(), "manual".into());
        }
        let (conditions, completion, failed) = match outcome {
            "ok" => (
                serde_json::json!([
                    {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2026-11-26T10:05:20Z"},
                    {"type": "Complete", "status": "True", "lastTransitionTime": "2026-11-26T10:05:20Z"}
                ]),
                Some("2026-11-26T10:05:20Z"),
                0,
            ),
            "failed" => (
                serde_json::json!([
                    {"type": "FailureTarget", "status": "True", "lastTransitionTime": "2026-11-26T10:00:40Z"},
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                     "message": "Job has reached the specified backoff limit", "lastTransitionTime": "2026-11-26T10:00:40Z"}
                ]),
                None,
                3,
            ),
            _ => (serde_json::json!([]), None, 0),
        };
        let started = scheduled.unwrap_or("2026-11-26T11:00:00Z");
        serde_json::from_value(serde_json::json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "ns", "creationTimestamp": started,
                "labels": {"tars.dev/cron-job": "report"}, "annotations": annotations},
            "spec": {"template": {"spec": {"containers": [{"name": "report", "image": "busybox"}], "restartPolicy": "Never"}}},
            "status": {"startTime": started, "completionTime": completion, "failed": failed, "conditions": conditions}
        }))
        .expect("a Job")
    }

    #[test]
    fn runs_and_status_come_from_the_jobs() {
        let jobs = [
            job_json("report-manual", None, true, "running"),
            job_json("report-29390520", Some("2026-11-26T10:05:00Z"), false, "ok"),
            job_json(
                "report-29390500",
                Some("2026-11-26T10:00:00Z"),
                false,
                "failed",
            ),
        ];
        let r = runs(&jobs);
        let names: Vec<&str> = r.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(
            names,
            ["report-29390500", "report-29390520", "report-manual"]
        );
        assert_eq!(r[0].outcome, RunOutcome::Failed);
        assert_eq!(r[0].attempt, 4);
        assert_eq!(
            r[0].reason.as_deref(),
            Some("Job has reached the specified backoff limit")
        );
        assert_eq!(r[1].outcome, RunOutcome::Succeeded);
        assert_eq!(
            r[1].slot,
            "2026-11-26T10:05:00Z".parse::<Timestamp>().expect("t")
        );
        assert!(r[1].finished_at.is_some() && !r[1].manual);
        assert_eq!(r[2].outcome, RunOutcome::Running);
        assert!(r[2].manual && r[2].finished_at.is_none());

        let c = tars_cron_job("*/5 * * * *");
        let mut v = cron_job(&c, &stamp(), &server((1, 33))).expect("renders");
        v["metadata"]["uid"] = "0b5e".into();
        v["status"] = serde_json::json!({
            "active": [{"kind": "Job", "namespace": "ns", "name": "report-manual", "apiVersion": "batch/v1"}],
            "lastScheduleTime": "2026-11-26T10:05:00Z",
            "lastSuccessfulTime": "2026-11-26T10:05:20Z"
        });
        let back = cron_job_from_json(&v, &jobs).expect("reads");
        let s = back.status.expect("status");
        assert_eq!(s.active, ["report-manual"]);
        assert_eq!(
            s.last_schedule,
            Some("2026-11-26T10:05:00Z".parse().expect("t"))
        );
        assert_eq!(
            s.last_success,
            Some("2026-11-26T10:05:20Z".parse().expect("t"))
        );
        assert_eq!(
            s.last_error,
            Some("2026-11-26T10:00:40Z".parse().expect("t"))
        );
        assert_eq!((s.success_count, s.error_count), (1, 1));
        assert!(s.next_schedule.is_some());
        assert_eq!(back.metadata.uid.as_deref(), Some("0b5e"));
    }

    #[test]
    fn a_scheduled_jobs_slot_comes_from_its_name() {
        let named = |name: &str| -> Job {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": {CRON_JOB_LABEL: "report"}}
            }))
            .expect("a Job")
        };
        let t = |s: &str| s.parse::<Timestamp>().expect("t");
        // Kubernetes before 1.21: Unix seconds; 1.21 and later: Unix minutes.
        assert_eq!(
            slot_of_name(&named("report-1795687200")),
            Some(t("2026-11-26T10:00:00Z"))
        );
        assert_eq!(
            slot_of_name(&named("report-29928120")),
            Some(t("2026-11-26T10:00:00Z"))
        );
        assert_eq!(slot_of_name(&named("report-manual-0u6br")), None);
        assert_eq!(slot_of_name(&named("other-29928120")), None);
    }
}
