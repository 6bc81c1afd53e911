//! Where the embedded backend keeps things: group records in the engine's database, and
//! files (logs, sandboxes, exit codes) under the state directory.
//!
//! ```text
//! <state>/state.redb                   the database: groups/<name> (the object, last status,
//!                                      no secret values) and runtime/<name> (pids, ports)
//! <state>/lock                         held while a tars process has the state open
//! <state>/groups/<name>/logs/<c>.log   stdout and stderr of container <c>
//! <state>/groups/<name>/sandbox/       the default working directory of the containers
//! <state>/groups/<name>/run/<c>.exit   exit code of container <c>'s last run, written by its
//!                                      wrapper shell: collected even when tars was down
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tars_api::{ContainerGroup, Error, Result};
use tars_engine::store::{Batch, Store as Db, decode};

use crate::BACKEND;

const GROUPS: &str = "groups";
const RUNTIME: &str = "runtime";
const DELETING: &str = "deleting";

/// One running container process, enough to find it again after a restart of tars.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessRecord {
    /// Pid of the container's wrapper shell.
    pub(crate) pid: i32,
    /// Its start time in clock ticks since boot: the pair identifies the process for good.
    pub(crate) start_ticks: u64,
    /// When it started.
    pub(crate) started_at: Option<jiff::Timestamp>,
}

/// What runs for one incarnation of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RuntimeRecord {
    /// The incarnation: the object's uid and generation.
    pub(crate) uid: String,
    pub(crate) generation: u64,
    /// The process group of the containers.
    pub(crate) pgid: Option<i32>,
    /// Host port of each named port.
    pub(crate) ports: std::collections::BTreeMap<String, u16>,
    /// Per container (spec order), its running process, if any.
    pub(crate) processes: Vec<Option<ProcessRecord>>,
}

/// The database tables and file layout of the embedded backend.
#[derive(Clone)]
pub(crate) struct Store {
    root: PathBuf,
    db: Arc<dyn Db>,
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::backend(BACKEND, format!("{}: {e}", path.display()))
}

impl Store {
    pub(crate) fn open(root: &Path, db: Arc<dyn Db>) -> Result<Self> {
        let groups = root.join("groups");
        std::fs::create_dir_all(&groups).map_err(|e| io(&groups, e))?;
        Ok(Store {
            root: root.to_owned(),
            db,
        })
    }

    pub(crate) fn group_dir(&self, name: &str) -> PathBuf {
        self.root.join("groups").join(name)
    }

    pub(crate) fn log_dir(&self, name: &str) -> PathBuf {
        self.group_dir(name).join("logs")
    }

    pub(crate) fn log_file(&self, name: &str, container: &str) -> PathBuf {
        self.log_dir(name).join(format!("{container}.log"))
    }

    pub(crate) fn sandbox(&self, name: &str) -> PathBuf {
        self.group_dir(name).join("sandbox")
    }

    pub(crate) fn exit_file(&self, name: &str, container: &str) -> PathBuf {
        self.group_dir(name)
            .join("run")
            .join(format!("{container}.exit"))
    }

    /// Creates the folders of a group.
    pub(crate) fn prepare_dirs(&self, name: &str) -> Result<()> {
        for dir in [
            self.log_dir(name),
            self.sandbox(name),
            self.group_dir(name).join("run"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        Ok(())
    }

    /// Every stored group, whoever owns it.
    pub(crate) fn groups(&self) -> Result<Vec<ContainerGroup>> {
        self.db
            .scan(GROUPS, "")?
            .into_iter()
            .map(|(k, v)| decode(GROUPS, &k, &v))
            .collect()
    }

    pub(crate) fn load(&self, name: &str) -> Result<Option<ContainerGroup>> {
        self.db
            .get(GROUPS, name)?
            .map(|v| decode(GROUPS, name, &v))
            .transpose()
    }

    pub(crate) fn save(&self, object: &ContainerGroup) -> Result<()> {
        self.db
            .write(Batch::new().put_json(GROUPS, object.name(), object)?)
    }

    pub(crate) fn load_runtime(&self, name: &str) -> Result<Option<RuntimeRecord>> {
        self.db
            .get(RUNTIME, name)?
            .map(|v| decode(RUNTIME, name, &v))
            .transpose()
    }

    pub(crate) fn save_runtime(&self, name: &str, record: &RuntimeRecord) -> Result<()> {
        self.db.write(Batch::new().put_json(RUNTIME, name, record)?)
    }

    /// Records that group `name` is being deleted.
    pub(crate) fn mark_deleting(&self, name: &str) -> Result<()> {
        self.db.write(Batch::new().put(DELETING, name, Vec::new()))
    }

    /// Whether a delete of group `name` began and did not finish.
    pub(crate) fn is_deleting(&self, name: &str) -> Result<bool> {
        Ok(self.db.get(DELETING, name)?.is_some())
    }

    /// Removes a group's records and files.
    pub(crate) fn remove(&self, name: &str) -> Result<()> {
        self.db.write(
            Batch::new()
                .delete(GROUPS, name)
                .delete(RUNTIME, name)
                .delete(DELETING, name),
        )?;
        let dir = self.group_dir(name);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&dir, e)),
            _ => Ok(()),
        }
    }
}
