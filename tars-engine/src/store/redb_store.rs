//! The embedded store: one redb database file under the state directory, guarded by an
//! exclusive lock so that a second tars process on the same state fails fast.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use redb::{Database, ReadableDatabase, TableDefinition};
use tars_api::{Error, Result};

use super::{Batch, Store};

/// The schema this build writes. Older databases are migrated on open; newer ones refused.
pub const SCHEMA_VERSION: u32 = 1;

/// redb's page cache, in bytes (its default is 1 GiB): the data lives on disk and the kernel's
/// page cache keeps it warm, so the process need not hold a copy of all of it (at 100,000
/// cron jobs, that copy alone would take over 150 MB).
const CACHE_SIZE: usize = 4 * 1024 * 1024;

/// Every value, keyed `<table>\0<key>`.
const DATA: TableDefinition<&str, &[u8]> = TableDefinition::new("data");
/// `schema_version` and other facts about the database itself.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// One schema migration, run inside the transaction that records the new version.
type Migration = fn(&redb::WriteTransaction) -> std::result::Result<(), redb::Error>;

/// Migrations from version `n` to `n + 1`, indexed by `n` (version 0 is an empty database).
const MIGRATIONS: &[Migration] = &[
    // 0 -> 1: create the tables.
    |tx| {
        tx.open_table(DATA)?;
        tx.open_table(META)?;
        Ok(())
    },
];

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::backend("store", format!("{what}: {e}"))
}

fn composite(table: &str, key: &str) -> String {
    format!("{table}\0{key}")
}

/// A [`Store`] in `<dir>/state.redb`, locked by `<dir>/lock` for as long as it is open.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    _lock: Flock<File>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbStore {
    /// Opens (creating) the store under `dir`. Fails at once with `Error::Conflict`-like
    /// `Error::Unavailable` naming the holder when another process has it open.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| err(&dir.display().to_string(), e))?;
        let lock_path = dir.join("lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(|e| err(&lock_path.display().to_string(), e))?;
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, errno)) => {
                return Err(Error::Unavailable {
                    backend: "store".to_owned(),
                    reason: format!(
                        "the state directory {} is in use by another tars process (pid {}): {errno}; \
                         one state directory serves one tars process",
                        dir.display(),
                        holder.trim()
                    ),
                });
            }
        };
        // Record who holds the lock, for the message above.
        let _ = lock.set_len(0);
        let _ = lock.rewind();
        let _ = write!(lock, "{}", std::process::id());
        let _ = lock.sync_data();
        let path = dir.join("state.redb");
        let db = Database::builder()
            .set_cache_size(CACHE_SIZE)
            .create(&path)
            .map_err(|e| err(&path.display().to_string(), e))?;
        let store = RedbStore {
            db,
            path,
            _lock: lock,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        let tx = self.db.begin_read().map_err(|e| err("read", e))?;
        let table = match tx.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
            Err(e) => return Err(err("meta", e)),
        };
        let version = table.get("schema_version").map_err(|e| err("meta", e))?;
        Ok(version
            .and_then(|v| <[u8; 4]>::try_from(v.value()).ok())
            .map(u32::from_le_bytes)
            .unwrap_or(0))
    }

    fn migrate(&self) -> Result<()> {
        let mut version = self.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(Error::backend(
                "store",
                format!(
                    "{} has schema version {version}, newer than this build of tars understands ({SCHEMA_VERSION})",
                    self.path.display()
                ),
            ));
        }
        while version < SCHEMA_VERSION {
            let tx = self.db.begin_write().map_err(|e| err("migrate", e))?;
            MIGRATIONS[version as usize](&tx).map_err(|e| err("migrate", e))?;
            version += 1;
            {
                let mut meta = tx.open_table(META).map_err(|e| err("migrate", e))?;
                meta.insert("schema_version", version.to_le_bytes().as_slice())
                    .map_err(|e| err("migrate", e))?;
            }
            tx.commit().map_err(|e| err("migrate", e))?;
            tracing::info!(store = %self.path.display(), version, "state store migrated");
        }
        Ok(())
    }
}

impl Store for RedbStore {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let tx = self.db.begin_read().map_err(|e| err("read", e))?;
        let data = tx.open_table(DATA).map_err(|e| err("read", e))?;
        let value = data
            .get(composite(table, key).as_str())
            .map_err(|e| err("read", e))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn scan(&self, table: &str, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let tx = self.db.begin_read().map_err(|e| err("read", e))?;
        let data = tx.open_table(DATA).map_err(|e| err("read", e))?;
        let start = composite(table, prefix);
        let mut out = Vec::new();
        for item in data.range(start.as_str()..).map_err(|e| err("scan", e))? {
            let (k, v) = item.map_err(|e| err("scan", e))?;
            let Some(key) = k
                .value()
                .strip_prefix(&format!("{table}\0"))
                .map(str::to_owned)
            else {
                break;
            };
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key, v.value().to_vec()));
        }
        Ok(out)
    }

    fn write(&self, batch: Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(|e| err("write", e))?;
        {
            let mut data = tx.open_table(DATA).map_err(|e| err("write", e))?;
            for (table, key, value) in batch.into_writes() {
                let k = composite(&table, &key);
                match value {
                    Some(v) => data.insert(k.as_str(), v.as_slice()).map(drop),
                    None => data.remove(k.as_str()).map(drop),
                }
                .map_err(|e| err("write", e))?;
            }
        }
        tx.commit().map_err(|e| err("commit", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn Store) {
        store
            .write(
                Batch::new()
                    .put("groups", "a", b"1".to_vec())
                    .put("groups", "ab", b"2".to_vec())
                    .put("groups", "b", b"3".to_vec())
                    .put("other", "a", b"4".to_vec()),
            )
            .expect("write");
        assert_eq!(store.get("groups", "a").expect("get"), Some(b"1".to_vec()));
        let keys: Vec<String> = store
            .scan("groups", "a")
            .expect("scan")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["a", "ab"]);
        assert_eq!(store.scan("groups", "").expect("scan").len(), 3);
        store
            .write(Batch::new().delete("groups", "a"))
            .expect("delete");
        assert_eq!(store.get("groups", "a").expect("get"), None);
        assert_eq!(store.get("other", "a").expect("get"), Some(b"4".to_vec()));
    }

    #[test]
    fn memory_and_redb_stores_behave_alike() {
        exercise(&super::super::MemoryStore::new());
        let dir = tempfile::tempdir().expect("tempdir");
        exercise(&RedbStore::open(dir.path()).expect("open"));
    }

    #[test]
    fn values_survive_reopening_and_the_schema_is_current() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let s = RedbStore::open(dir.path()).expect("open");
            s.write(Batch::new().put("t", "k", b"v".to_vec()))
                .expect("write");
        }
        let s = RedbStore::open(dir.path()).expect("reopen");
        assert_eq!(s.get("t", "k").expect("get"), Some(b"v".to_vec()));
        assert_eq!(s.schema_version().expect("version"), SCHEMA_VERSION);
    }

    #[test]
    fn a_second_opener_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = RedbStore::open(dir.path()).expect("open");
        let e = RedbStore::open(dir.path()).expect_err("locked");
        assert!(
            e.to_string().contains("in use by another tars process"),
            "{e}"
        );
        assert!(
            e.to_string().contains(&std::process::id().to_string()),
            "{e}"
        );
        drop(first);
        RedbStore::open(dir.path()).expect("free again");
    }
}
