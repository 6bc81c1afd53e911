//! The conformance suite against the embedded backend: the `local` column of the matrix.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

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
    async fn open(state: &Path, secrets: &Path) -> Result<Self, String> {
        let raw = Arc::new(
            LocalBackend::open(config(state, secrets))
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

fn config(state: &Path, secrets: &Path) -> LocalConfig {
    LocalConfig::new(state)
        .instance(INSTANCE)
        .secrets_dir(secrets)
}

struct LocalTarget {
    _dir: tempfile::TempDir,
    state: PathBuf,
    secrets: PathBuf,
    /// `None` only while restarting.
    current: Mutex<Option<Instance>>,
}

impl LocalTarget {
    async fn make() -> Result<Box<dyn Target>, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let state = dir.path().join("state");
        let secrets = dir.path().join("secrets");
        let current = Mutex::new(Some(Instance::open(&state, &secrets).await?));
        Ok(Box::new(LocalTarget {
            _dir: dir,
            state,
            secrets,
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

    async fn open_second_instance(&self) -> Option<tars_api::Result<()>> {
        Some(
            LocalBackend::open(config(&self.state, &self.secrets))
                .await
                .map(drop),
        )
    }

    async fn provide_secret(&self, name: &str, key: &str, value: &str) -> Result<(), String> {
        let dir = self.secrets.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(key), value).map_err(|e| e.to_string())
    }

    async fn state_containing(&self, needle: &[u8]) -> Result<Vec<String>, String> {
        let mut found = Vec::new();
        Self::files_containing(&self.state, needle, &mut found).map_err(|e| e.to_string())?;
        Ok(found)
    }

    async fn restart(&self) -> Result<(), String> {
        self.restart_after(Duration::ZERO).await
    }

    async fn restart_after(&self, down: Duration) -> Result<(), String> {
        let old = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or("no instance to restart")?;
        old.raw.abandon().await;
        // Every handle on the old instance goes before the new one takes the state lock.
        drop(old);
        tokio::time::sleep(down).await;
        let fresh = Instance::open(&self.state, &self.secrets).await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh);
        Ok(())
    }
}

impl LocalTarget {
    fn files_containing(dir: &Path, needle: &[u8], found: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                Self::files_containing(&path, needle, found)?;
            } else if std::fs::read(&path)?
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(path.display().to_string());
            }
        }
        Ok(())
    }
}

fn main() {
    harness::run("local", LocalTarget::make)
}
