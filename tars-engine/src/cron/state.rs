//! What the cron engine persists, and the tables it keeps it in.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tars_api::CronRun;

use super::stamp::OptStamp;

/// Cron job objects (metadata and spec), keyed by name.
pub const JOBS: &str = "cron/jobs";
/// [`JobState`] of each job, keyed by name.
pub const STATE: &str = "cron/state";
/// [`StoredRun`] records, keyed by [`super::naming::record_key`].
pub const RUNS: &str = "cron/runs";

/// The durable state of one job: how far its schedule was handled, and its counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    /// Every slot up to this one was handled (run, or recorded as missed). Set to the time of
    /// creation for a new job, so slots before it are not caught up.
    pub last_slot: OptStamp,
    /// When the last run of any origin was started (for parents: "since the child's last run").
    pub last_started: OptStamp,
    /// The slot of the last scheduled run started.
    pub last_schedule: OptStamp,
    /// When the last successful run ended.
    pub last_success: OptStamp,
    /// When the last failed run ended.
    pub last_error: OptStamp,
    /// Runs that succeeded.
    pub success_count: u64,
    /// Runs that failed after their retries.
    pub error_count: u64,
    /// Slots that got no run.
    pub missed_count: u64,
}

/// A run record as stored: the public record plus what the engine needs to resume it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRun {
    /// The record.
    pub run: CronRun,
    /// Group name of the first attempt (the record key's last part).
    pub base: String,
    /// When the next attempt starts, while a failed run waits for its retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
}
