//! The conformance suite against the embedded backend: the `local` column of the matrix.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tars_api::Backend;
use tars_api::layer::{CallCounts, CountCalls, Layered, Validate};
use tars_backend_local::{LocalBackend, LocalConfig};
use tars_conformance::{Target, fixtures, harness};
use tars_engine::store::Batch;

const INSTANCE: &str = "conformance";

/// One tars instance: the raw backend and the stack a user gets.
struct Instance {
    raw: Arc<LocalBackend>,
    backend: Arc<dyn Backend>,
    calls: CallCounts,
}

impl Instance {
    async fn open(state: &std::path::Path) -> Result<Self, String> {
        let raw = Arc::new(
            LocalBackend::open(LocalConfig::new(state).instance(INSTANCE))
                .await
                .map_err(|e| e.to_string())?,
        );
        let counter = CountCalls::new();
        let calls = counter.counts();
        let counted: Arc<dyn Backend> = Arc::new(Layered::new(raw.clone(), counter));
        let backend: Arc<dyn Backend> = Arc::new(Layered::new(counted, Validate));
        Ok(Instance {
            raw,
            backend,
            calls,
        })
    }
}

struct LocalTarget {
    _dir: tempfile::TempDir,
    state: PathBuf,
    /// `None` only while restarting.
    current: Mutex<Option<Instance>>,
}

impl LocalTarget {
    async fn make() -> Result<Box<dyn Target>, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let state = dir.path().to_owned();
        let current = Mutex::new(Some(Instance::open(&state).await?));
        Ok(Box::new(LocalTarget {
            _dir: dir,
            state,
            current,
        }))
    }

    fn with<T>(&self, f: impl FnOnce(&Instance) -> T) -> T {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        f(current.as_ref().expect("no instance: a restart failed"))
    }
}

#[async_trait]
impl Target for LocalTarget {
    fn column(&self) -> &str {
        "local"
    }

    fn backend(&self) -> Arc<dyn Backend> {
        self.with(|i| i.backend.clone())
    }

    fn calls(&self) -> CallCounts {
        self.with(|i| i.calls.clone())
    }

    /// Processes whose environment still points at the group's sandbox, and the group's folder.
    async fn leftovers(&self, name: &str) -> Result<Vec<String>, String> {
        let group_dir = self.state.join("groups").join(name);
        let marker = format!("HOME={}", group_dir.join("sandbox").display());
        let mut left = Vec::new();
        for entry in std::fs::read_dir("/proc")
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            if environ
                .split(|b| *b == 0)
                .any(|var| var == marker.as_bytes())
            {
                let cmd =
                    std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                left.push(format!("process {pid} ({})", cmd.replace('\0', " ").trim()));
            }
        }
        if group_dir.exists() {
            left.push(format!("folder {}", group_dir.display()));
        }
        Ok(left)
    }

    async fn plant_foreign_group(&self, name: &str) -> Result<(), String> {
        // Another tars instance's record in the same state, written beneath this one.
        let mut group = fixtures::sleeper(name, "not yours");
        group.metadata.stamp_owner("someone-else");
        let batch = Batch::new()
            .put_json("groups", name, &group)
            .map_err(|e| e.to_string())?;
        self.with(|i| i.raw.store())
            .write(batch)
            .map_err(|e| e.to_string())
    }

    async fn restart(&self) -> Result<(), String> {
        let old = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or("no instance to restart")?;
        old.raw.abandon().await;
        // Every handle on the old instance goes before the new one takes the state lock.
        drop(old);
        let fresh = Instance::open(&self.state).await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh);
        Ok(())
    }
}

fn main() {
    harness::run("local", LocalTarget::make)
}
