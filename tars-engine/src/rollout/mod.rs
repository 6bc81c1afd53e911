//! The rollout engine: Deployments on any backend that can start, stop and observe container
//! groups (a [`crate::driver::GroupDriver`]).
//!
//! - [`plan()`] is the pure planning step (spec, revisions, observed replicas, persisted
//!   progress, now → starts, stops, status, events); unit-tested on tables and benchmarked.
//! - [`RolloutEngine`] runs one controller task per deployment that observes its replica
//!   groups, plans, persists the progress and the decided actions in the engine's
//!   [`crate::store::Store`] *before* acting, then acts. A process killed at any point and
//!   restarted on the same store first carries out the persisted actions, then plans from
//!   what it observes, so it never exceeds `replicas + max_surge`.
//!
//! Replicas are ordinary container groups named `<deployment>-<hash8>-<ordinal>`, labelled
//! with [`tars_api::meta::OWNER_LABEL`] (the deployment's name) and [`REVISION_LABEL`] (the
//! template hash of their revision).

mod controller;
mod engine;
mod persist;
pub mod plan;
mod progress;
mod revision;
mod verbs;
mod watch;

#[cfg(test)]
mod plan_tests;

pub use controller::replica_group;
pub use engine::{EngineConfig, RolloutEngine};
pub use persist::{OBJECTS, PROGRESS, REVISIONS, Record};
pub use plan::{Plan, PlanInput, Replica, Start, plan, replica_name};
pub use progress::{DeploymentEvent, EventKind, Intent, Progress};
pub use revision::{Revision, record as record_revision, template_hash};

/// Label carrying the template hash of the revision a replica group runs.
pub const REVISION_LABEL: &str = "tars.dev/template-hash";

/// Milliseconds since the Unix epoch, the engine's clock for persisted times.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
