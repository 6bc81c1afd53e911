//! Decorators that wrap any [`Backend`] and implement the same traits (tower-style layers).
//!
//! A [`Layer`] sees every call with a [`Call`] describing it and decides whether and how to run
//! it. [`Layered`] applies one layer to a whole backend. Layers here are pure (no runtime):
//! [`Validate`] refuses bad input before anything reaches the backend and [`CountCalls`]
//! counts what does; time-based layers (timeouts, retries) live in `tars-engine`.

mod count;
mod layered;
mod validate;

pub use count::{CallCounts, CountCalls};
pub use layered::{Layered, LayeredApi};
pub use validate::Validate;

use futures::future::BoxFuture;

use crate::error::Result;
use crate::meta::Kind;

/// Which verb a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Operation {
    /// `capabilities()`.
    Capabilities,
    /// `apply` (not a dry run).
    Apply,
    /// `apply` with `dry_run`.
    DryRun,
    /// `get`.
    Get,
    /// `list`.
    List,
    /// `delete`.
    Delete,
    /// `watch`.
    Watch,
    /// `logs`.
    Logs,
    /// `scale`.
    Scale,
    /// `pause`.
    Pause,
    /// `resume`.
    Resume,
    /// `rollback`.
    Rollback,
    /// `history`.
    History,
    /// `trigger`.
    Trigger,
    /// `runs` (a cron job's history).
    Runs,
}

impl Operation {
    /// True for operations that change something on the engine.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Operation::Apply
                | Operation::Delete
                | Operation::Scale
                | Operation::Pause
                | Operation::Resume
                | Operation::Rollback
                | Operation::Trigger
        )
    }

    /// True for operations that may be repeated safely (everything but `trigger` and
    /// `rollback`, which would run or roll back twice).
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Operation::Trigger | Operation::Rollback)
    }

    /// Lower-case name, for metrics and spans.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Capabilities => "capabilities",
            Operation::Apply => "apply",
            Operation::DryRun => "dry_run",
            Operation::Get => "get",
            Operation::List => "list",
            Operation::Delete => "delete",
            Operation::Watch => "watch",
            Operation::Logs => "logs",
            Operation::Scale => "scale",
            Operation::Pause => "pause",
            Operation::Resume => "resume",
            Operation::Rollback => "rollback",
            Operation::History => "history",
            Operation::Trigger => "trigger",
            Operation::Runs => "runs",
        }
    }
}

/// Something that can check itself (an object to apply).
pub trait Checkable: Send + Sync {
    /// Validates, naming the offending field.
    fn check(&self) -> Result<()>;
}

impl<S: crate::object::Spec> Checkable for crate::object::Object<S> {
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

/// Description of one call passing through a layer.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// The backend's name.
    pub backend: &'a str,
    /// The kind, for object operations.
    pub kind: Option<Kind>,
    /// The verb.
    pub operation: Operation,
    /// The object's name, when the call names one.
    pub name: Option<&'a str>,
    /// The object, for `apply`.
    pub object: Option<&'a dyn Checkable>,
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("backend", &self.backend)
            .field("kind", &self.kind)
            .field("operation", &self.operation)
            .field("name", &self.name)
            .finish()
    }
}

/// The rest of the chain: call it to run the operation (more than once to retry it).
pub type Next<'a, T> = &'a (dyn Fn() -> BoxFuture<'a, Result<T>> + Send + Sync);

/// A decorator of every backend call.
pub trait Layer: Send + Sync + 'static {
    /// Runs `next` (or not) for `call`.
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a>,
        next: Next<'a, T>,
    ) -> BoxFuture<'a, Result<T>>;
}
