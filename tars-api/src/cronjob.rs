//! `CronJob`: run a group on a schedule (or after its parents), with history.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::group::{Condition, ContainerGroupSpec, GroupTemplate};
use crate::meta::Kind;
use crate::object::{Object, Spec};

/// A cron job object.
pub type CronJob = Object<CronJobSpec>;

fn three() -> u32 {
    3
}
fn one() -> u32 {
    1
}
fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

/// When and how a group is run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronJobSpec {
    /// 5-field cron (`min hour dom mon dow`), 6-field cron with seconds first, a macro
    /// (`@hourly`), or an ISO 8601 repeating interval (`R/2026-01-01T00:00:00Z/PT1H`). Absent for
    /// a job that runs only after its `parents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// IANA time zone the schedule is read in; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// What to do when a run is due while the previous one still runs.
    #[serde(default)]
    pub concurrency: ConcurrencyPolicy,
    /// A slot missed by more than this is skipped (and counted as missed); unlimited when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_duration::option"
    )]
    pub starting_deadline: Option<Duration>,
    /// How often a failed run is retried.
    #[serde(default)]
    pub retries: u32,
    /// Delay before the first retry, doubled for each further retry.
    #[serde(default = "ten_seconds", with = "crate::serde_duration")]
    pub retry_backoff: Duration,
    /// A run still going after this long is stopped and counted as failed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_duration::option"
    )]
    pub active_deadline: Option<Duration>,
    /// Names of cron jobs that must all succeed before this one runs (a DAG, as in Chronos).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    /// A suspended job starts no new run.
    #[serde(default)]
    pub suspend: bool,
    /// How many successful runs to keep.
    #[serde(default = "three")]
    pub successful_history_limit: u32,
    /// How many failed runs to keep; missed and replaced slots count as failed here.
    #[serde(default = "one")]
    pub failed_history_limit: u32,
    /// The group each run starts.
    pub template: GroupTemplate,
}

impl CronJobSpec {
    /// A job running `spec` on `schedule` (or only after its parents, when `None`), with the
    /// defaults a manifest gets: UTC, Allow, no deadlines, no retries (backoff 10 s), not
    /// suspended, keeping 3 successful and 1 failed run; no template labels.
    pub fn new(schedule: Option<&str>, spec: ContainerGroupSpec) -> Self {
        CronJobSpec {
            schedule: schedule.map(str::to_owned),
            time_zone: None,
            concurrency: ConcurrencyPolicy::default(),
            starting_deadline: None,
            retries: 0,
            retry_backoff: ten_seconds(),
            active_deadline: None,
            parents: Vec::new(),
            suspend: false,
            successful_history_limit: three(),
            failed_history_limit: one(),
            template: GroupTemplate {
                labels: Default::default(),
                annotations: Default::default(),
                spec,
            },
        }
    }
}

impl Spec for CronJobSpec {
    const KIND: Kind = Kind::CronJob;
    type Status = CronJobStatus;

    fn validate(&self, path: &str) -> crate::Result<()> {
        crate::validate::cron_job_spec(self, path)
    }

    fn validate_named(&self, name: &str, path: &str) -> crate::Result<()> {
        crate::validate::cron_job_spec_named(self, name, path)
    }
}

/// Kubernetes' concurrency policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ConcurrencyPolicy {
    /// Runs may overlap.
    #[default]
    Allow,
    /// A due run is skipped while the previous one runs.
    Forbid,
    /// A due run replaces the previous one.
    Replace,
}

/// What a backend observed of a cron job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronJobStatus {
    /// Names of the groups of runs still active.
    #[serde(default)]
    pub active: Vec<String>,
    /// The slot of the last run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule: Option<jiff::Timestamp>,
    /// When the last successful run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<jiff::Timestamp>,
    /// When the last failed run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<jiff::Timestamp>,
    /// Runs that succeeded, in all.
    #[serde(default)]
    pub success_count: u64,
    /// Runs that failed after their retries, in all.
    #[serde(default)]
    pub error_count: u64,
    /// Slots skipped (past the starting deadline, or forbidden by the concurrency policy).
    #[serde(default)]
    pub missed_count: u64,
    /// The next slot, when the job is scheduled and not suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule: Option<jiff::Timestamp>,
    /// Conditions.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// How a run of a cron job ended (or why a slot got no run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunOutcome {
    /// Recorded and started; not finished yet.
    Running,
    /// Its group succeeded.
    Succeeded,
    /// Its group failed, or overran `active_deadline`, and no retry is left.
    Failed,
    /// The slot got no run: past `starting_deadline`, collapsed into a later catch-up run after
    /// tars was down, or forbidden by `concurrency: Forbid`.
    Missed,
    /// Stopped because a newer slot replaced it (`concurrency: Replace`), or its job was
    /// changed or deleted.
    Replaced,
}

impl RunOutcome {
    /// True once the run will not change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, RunOutcome::Running)
    }
}

/// One run of a cron job, or one slot that got none: the job's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronRun {
    /// The scheduled slot; for a manual or parent-triggered run, the instant it was asked for.
    pub slot: jiff::Timestamp,
    /// The name of the run's group (also for a missed slot: the name it would have had).
    pub group: String,
    /// When the current attempt started; `None` for a slot that got no run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<jiff::Timestamp>,
    /// When the run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<jiff::Timestamp>,
    /// 1 for the first attempt, one more for each retry.
    pub attempt: u32,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Exit code of the first container that failed (0 when all succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it ended this way, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// True for a run started by `trigger`.
    #[serde(default)]
    pub manual: bool,
}
