//! [`CountCalls`]: counts the calls that reach the backend beneath it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;

use super::{Call, Layer, Next, Operation};
use crate::error::Result;

/// Counts calls by operation; clone the [`CallCounts`] handle before wrapping to read them.
#[derive(Debug, Clone, Default)]
pub struct CountCalls {
    counts: CallCounts,
}

impl CountCalls {
    /// A counter with its own counts.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared counts.
    pub fn counts(&self) -> CallCounts {
        self.counts.clone()
    }
}

/// Shared call counts of a [`CountCalls`] layer.
#[derive(Debug, Clone, Default)]
pub struct CallCounts(Arc<Mutex<BTreeMap<Operation, u64>>>);

impl CallCounts {
    fn add(&self, op: Operation) {
        *self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(op)
            .or_default() += 1;
    }

    /// Calls of one operation so far.
    pub fn get(&self, op: Operation) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&op)
            .copied()
            .unwrap_or(0)
    }

    /// All calls so far.
    pub fn total(&self) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }

    /// Calls that change something (apply, delete, scale, ...), so far.
    pub fn mutating(&self) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(op, _)| op.is_mutating())
            .map(|(_, n)| n)
            .sum()
    }
}

impl Layer for CountCalls {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a>,
        next: Next<'a, T>,
    ) -> BoxFuture<'a, Result<T>> {
        self.counts.add(call.operation);
        next()
    }
}
