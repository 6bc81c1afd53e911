//! Events of tars' engines, for alerting: a rollout failed, a cron run failed or was missed.
//! An [`EventHook`] receives them; the engines never wait for it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Something that happened that an operator may want to hear about.
///
/// Events carry names, revisions, slots, exit codes and reasons — never a spec, an environment
/// value or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "PascalCase")]
#[non_exhaustive]
pub enum Event {
    /// A rollout to `revision` began.
    RolloutStarted {
        /// The deployment.
        deployment: String,
        /// The revision rolled out.
        revision: u64,
    },
    /// A batch of a batched rollout began.
    BatchStarted {
        /// The deployment.
        deployment: String,
        /// The batch, from 1.
        batch: u32,
        /// Replicas of the new revision wanted once the batch is done.
        target: u32,
    },
    /// A rollout waits at a gate for `resume()`.
    BatchGated {
        /// The deployment.
        deployment: String,
        /// The batch just completed.
        batch: u32,
    },
    /// Every replica runs `revision` and is available.
    RolloutComplete {
        /// The deployment.
        deployment: String,
        /// The revision.
        revision: u64,
    },
    /// A rollout made no progress within its deadline.
    RolloutFailed {
        /// The deployment.
        deployment: String,
        /// The revision that failed.
        revision: u64,
        /// Why (`ProgressDeadlineExceeded`, ...).
        reason: String,
    },
    /// A deployment went back to an earlier revision.
    RolledBack {
        /// The deployment.
        deployment: String,
        /// The revision left.
        from: u64,
        /// The new revision that carries the earlier template (a rollback renumbers it).
        to: u64,
        /// Why (`manual`, `auto-rollback: ProgressDeadlineExceeded`).
        reason: String,
    },
    /// A cron run started.
    CronRunStarted {
        /// The cron job.
        job: String,
        /// The slot, or the trigger time of a manual run.
        slot: jiff::Timestamp,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// A cron run succeeded.
    CronRunSucceeded {
        /// The cron job.
        job: String,
        /// The slot.
        slot: jiff::Timestamp,
    },
    /// A cron run failed (after its retries when `final_attempt`).
    CronRunFailed {
        /// The cron job.
        job: String,
        /// The slot.
        slot: jiff::Timestamp,
        /// The attempt, from 1.
        attempt: u32,
        /// Whether no retry follows.
        final_attempt: bool,
        /// The exit code, when known.
        exit_code: Option<i32>,
        /// Why.
        reason: String,
    },
    /// A slot was not run (past the starting deadline, forbidden by the concurrency policy, or
    /// collapsed into a later catch-up run).
    CronRunMissed {
        /// The cron job.
        job: String,
        /// The slot.
        slot: jiff::Timestamp,
        /// Why.
        reason: String,
    },
}

impl Event {
    /// The event's name (`RolloutFailed`), as in its JSON `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            Event::RolloutStarted { .. } => "RolloutStarted",
            Event::BatchStarted { .. } => "BatchStarted",
            Event::BatchGated { .. } => "BatchGated",
            Event::RolloutComplete { .. } => "RolloutComplete",
            Event::RolloutFailed { .. } => "RolloutFailed",
            Event::RolledBack { .. } => "RolledBack",
            Event::CronRunStarted { .. } => "CronRunStarted",
            Event::CronRunSucceeded { .. } => "CronRunSucceeded",
            Event::CronRunFailed { .. } => "CronRunFailed",
            Event::CronRunMissed { .. } => "CronRunMissed",
        }
    }

    /// True for events that usually page someone (failures and misses).
    pub fn is_alert(&self) -> bool {
        matches!(
            self,
            Event::RolloutFailed { .. }
                | Event::RolledBack { .. }
                | Event::CronRunFailed {
                    final_attempt: true,
                    ..
                }
                | Event::CronRunMissed { .. }
        )
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Receives events. Called from the engines' tasks: it must not block (queue and return).
pub trait EventHook: Send + Sync + 'static {
    /// Takes one event.
    fn emit(&self, event: &Event);
}

/// Sends every event to several hooks.
#[derive(Clone, Default)]
pub struct EventHooks {
    hooks: Vec<Arc<dyn EventHook>>,
}

impl EventHooks {
    /// No hook.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a hook (builder style).
    pub fn with(mut self, hook: Arc<dyn EventHook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// True when there is no hook (the engines then build no event at all).
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// Sends `event` to every hook.
    pub fn emit(&self, event: &Event) {
        for hook in &self.hooks {
            hook.emit(event);
        }
    }
}

/// The same hooks (the same `Arc`s, in the same order).
impl PartialEq for EventHooks {
    fn eq(&self, other: &Self) -> bool {
        self.hooks.len() == other.hooks.len()
            && self
                .hooks
                .iter()
                .zip(&other.hooks)
                .all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

impl Eq for EventHooks {}

impl fmt::Debug for EventHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventHooks({} hooks)", self.hooks.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_their_name_and_alerts_are_told_apart() {
        let e = Event::RolloutFailed {
            deployment: "web".into(),
            revision: 3,
            reason: "ProgressDeadlineExceeded".into(),
        };
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(json["event"], "RolloutFailed");
        assert_eq!(json["deployment"], "web");
        assert!(e.is_alert());
        assert!(
            !Event::RolloutComplete {
                deployment: "web".into(),
                revision: 3
            }
            .is_alert()
        );
    }
}
