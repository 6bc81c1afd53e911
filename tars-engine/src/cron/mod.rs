//! tars' cron engine: runs container groups on a schedule, on any backend whose groups a
//! [`crate::driver::GroupDriver`] can start, stop and watch.
//!
//! - [`plan`]: the pure decisions (due and missed slots, concurrency, retries, parents).
//! - [`core::Core`]: the state machine of all jobs and runs, with one priority queue of timers;
//!   synchronous, given `now`, and persisting each step in one store transaction before any
//!   group is started, so that a restarted tars never starts a slot twice and never loses one.
//!   Its steps are split by concern: `firing` (due slots, retries, deadlines) and `ending`
//!   (an attempt's end, children, the driver's reports, reconciliation after a restart).
//! - [`CronEngine`]: the tasks around it (one scheduler, one watch of the run groups).
//!
//! A run's group is named `<job>-<slot unix seconds>` (`-<attempt>` from the second attempt;
//! `m<ms>` for a manual run, `p<ms>` for one started by its parents) and labelled with
//! [`tars_api::meta::OWNER_LABEL`] and [`CRON_JOB_LABEL`]; a finished run's group is removed
//! once its record is stored. The history keeps `successful_history_limit` successful records
//! and `failed_history_limit` other final records (failed, missed, replaced).
//!
//! Semantics worth knowing: a manual `trigger` ignores suspension and the concurrency policy;
//! slots passing while a job is suspended are neither run nor recorded (resuming starts from
//! the next slot); `active_deadline` applies to each attempt, and an attempt that overruns is
//! a failed attempt (retried when retries are left).

pub mod core;
mod ending;
mod engine;
mod firing;
pub mod graph;
pub mod naming;
pub mod plan;
mod run_groups;
pub mod schedules;
mod settings;
pub mod stamp;
pub mod state;
mod watch;

#[cfg(test)]
mod tests;

pub use engine::{CronConfig, CronEngine, Keep};

/// Label naming the cron job a run group belongs to (besides the owner label), so the engine
/// can watch its groups alone.
pub const CRON_JOB_LABEL: &str = "tars.dev/cron-job";
