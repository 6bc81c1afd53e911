//! An in-memory store, for tests and for state that need not survive the process.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use tars_api::Result;

use super::{Batch, Store};

/// A [`Store`] in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(tables.get(&(table.to_owned(), key.to_owned())).cloned())
    }

    fn scan(&self, table: &str, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(tables
            .range((table.to_owned(), prefix.to_owned())..)
            .take_while(|((t, k), _)| t == table && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&self, batch: Batch) -> Result<()> {
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        for (table, key, value) in batch.into_writes() {
            match value {
                Some(v) => tables.insert((table, key), v),
                None => tables.remove(&(table, key)),
            };
        }
        Ok(())
    }
}
