//! A set of writes applied together.

use serde::Serialize;
use tars_api::{Error, Result};

/// One write: `Some(value)` puts, `None` deletes.
pub type Write = (String, String, Option<Vec<u8>>);

/// Writes applied atomically by [`super::Store::write`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    writes: Vec<Write>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `value` at `key` of `table`.
    pub fn put(mut self, table: &str, key: &str, value: Vec<u8>) -> Self {
        self.writes
            .push((table.to_owned(), key.to_owned(), Some(value)));
        self
    }

    /// Puts `value` as JSON.
    pub fn put_json<T: Serialize>(self, table: &str, key: &str, value: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::backend("store", format!("{table}/{key}: {e}")))?;
        Ok(self.put(table, key, bytes))
    }

    /// Deletes `key` of `table`.
    pub fn delete(mut self, table: &str, key: &str) -> Self {
        self.writes.push((table.to_owned(), key.to_owned(), None));
        self
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The writes, in order.
    pub fn into_writes(self) -> Vec<Write> {
        self.writes
    }
}
