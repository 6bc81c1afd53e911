//! The state directory: one folder per group with its object, runtime record and logs.
//!
//! ```text
//! <state>/groups/<name>/object.json    the object (spec, metadata, last status), no secret values
//! <state>/groups/<name>/runtime.json   the process group and pids of the running incarnation
//! <state>/groups/<name>/logs/<c>.log   stdout and stderr of container <c>
//! <state>/groups/<name>/sandbox/       the default working directory of the containers
//! ```
//! Files are replaced atomically (write to a temporary file, then rename).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tars_api::ContainerGroup;

/// Pids of one running incarnation of a group, enough to find its processes again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RuntimeRecord {
    /// The process group of the containers.
    pub(crate) pgid: i32,
    /// (pid, start time in ticks) of each process started.
    pub(crate) processes: Vec<(i32, u64)>,
}

/// The file layout under a state directory.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    root: PathBuf,
}

impl Store {
    pub(crate) fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("groups"))?;
        Ok(Store {
            root: root.to_owned(),
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

    /// Names of every group folder, whoever owns it.
    pub(crate) fn names(&self) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.root.join("groups"))? {
            if let Some(name) = entry?.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    pub(crate) fn load(&self, name: &str) -> std::io::Result<Option<ContainerGroup>> {
        read_json(&self.group_dir(name).join("object.json"))
    }

    pub(crate) fn save(&self, object: &ContainerGroup) -> std::io::Result<()> {
        let dir = self.group_dir(object.name());
        std::fs::create_dir_all(dir.join("logs"))?;
        std::fs::create_dir_all(dir.join("sandbox"))?;
        write_json(&dir.join("object.json"), object)
    }

    pub(crate) fn load_runtime(&self, name: &str) -> std::io::Result<Option<RuntimeRecord>> {
        read_json(&self.group_dir(name).join("runtime.json"))
    }

    pub(crate) fn save_runtime(&self, name: &str, record: &RuntimeRecord) -> std::io::Result<()> {
        write_json(&self.group_dir(name).join("runtime.json"), record)
    }

    pub(crate) fn remove(&self, name: &str) -> std::io::Result<()> {
        match std::fs::remove_dir_all(self.group_dir(name)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> std::io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
