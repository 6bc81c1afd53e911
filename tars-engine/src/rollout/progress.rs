//! What the rollout engine persists about a rollout in flight, and the events it reports.

use serde::{Deserialize, Serialize};
use tars_api::group::Condition;

/// An action the engine decided and persisted before carrying it out, so that a process that
/// dies in between carries it out again after a restart instead of deciding anew on a partial
/// view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Intent {
    /// Start replica `name` of the revision with template hash `hash`.
    Start {
        /// The replica group's name.
        name: String,
        /// Template hash of its revision.
        hash: String,
    },
    /// Stop replica `name`.
    Stop {
        /// The replica group's name.
        name: String,
    },
}

/// The persisted progress of one deployment's rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Template hash of the revision being rolled out (the update revision).
    pub update_hash: String,
    /// Template hash of the last revision whose rollout completed.
    pub stable_hash: Option<String>,
    /// The batch being rolled out (batches strategy), from 0.
    pub batch: u32,
    /// The rollout waits at a gate for `resume()`.
    pub gated: bool,
    /// When the current batch became complete (for `pause_between`), ms since the epoch.
    pub batch_done_at_ms: Option<u64>,
    /// When the rollout last made progress (for `progress_deadline`), ms since the epoch.
    pub last_progress_ms: u64,
    /// (updated, updated available, old) at the last progress, to detect the next one.
    pub marker: (u32, u32, u32),
    /// The rollout of `update_hash` completed.
    pub complete: bool,
    /// The progress deadline was exceeded.
    pub failed: bool,
    /// The ordinal the next replica's name gets.
    pub next_ordinal: u64,
    /// The actions of the last step, persisted before they were carried out.
    pub intents: Vec<Intent>,
    /// The deployment's conditions, kept to preserve their transition times.
    pub conditions: Vec<Condition>,
    /// The deployment is being deleted: its replicas are stopped, then its records removed.
    #[serde(default)]
    pub deleting: bool,
}

/// What a rollout step reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    /// A new revision started rolling out.
    RolloutStarted,
    /// Replicas were started.
    ScalingUp,
    /// Replicas were stopped.
    ScalingDown,
    /// A batch (batches strategy) started.
    BatchStarted,
    /// A batch completed and the rollout waits for `resume()`.
    BatchGated,
    /// The rollout was paused.
    Paused,
    /// The rollout was resumed.
    Resumed,
    /// Every replica runs the update revision and is available.
    RolloutComplete,
    /// The progress deadline was exceeded.
    RolloutFailed,
    /// An earlier template was re-applied as a new revision.
    RolledBack,
}

/// One event of a deployment, as [`crate::rollout::RolloutEngine::events`] streams them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentEvent {
    /// The deployment's name.
    pub deployment: String,
    /// What happened.
    pub kind: EventKind,
    /// Details for a human.
    pub message: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}
