//! The engine's state store: what tars must not lose (objects, revisions, rollout progress, the
//! last scheduled cron slot, active runs, framework ids).
//!
//! A small key-value interface in tables, with atomic multi-key writes, so that an embedded
//! database serves one tars process and a replicated one (etcd, ZooKeeper, PostgreSQL) can serve
//! several later. Writes that guard an external effect happen before the effect.

mod batch;
mod memory;
mod redb_store;

pub use batch::{Batch, Write};
pub use memory::MemoryStore;
pub use redb_store::{RedbStore, SCHEMA_VERSION};

use tars_api::Result;

/// Durable key-value tables.
pub trait Store: Send + Sync + 'static {
    /// The value of `key` in `table`.
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>>;
    /// Every `(key, value)` of `table` whose key starts with `prefix`, sorted by key.
    fn scan(&self, table: &str, prefix: &str) -> Result<Vec<(String, Vec<u8>)>>;
    /// Applies every write of `batch` in one transaction, durable when this returns.
    fn write(&self, batch: Batch) -> Result<()>;

    /// The value of `key` in `table`, decoded from JSON.
    fn get_json<T: serde::de::DeserializeOwned>(&self, table: &str, key: &str) -> Result<Option<T>>
    where
        Self: Sized,
    {
        self.get(table, key)?
            .map(|bytes| decode(table, key, &bytes))
            .transpose()
    }
}

/// Decodes a JSON value read from the store; a corrupt value is a backend error naming it.
pub fn decode<T: serde::de::DeserializeOwned>(table: &str, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| tars_api::Error::backend("store", format!("{table}/{key} is not valid: {e}")))
}
