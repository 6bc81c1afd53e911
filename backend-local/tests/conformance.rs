//! The conformance suite against the embedded backend: the `local` column of the matrix.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tars_api::Backend;
use tars_api::layer::{CallCounts, CountCalls, Layered, Validate};
use tars_backend_local::{LocalBackend, LocalConfig};
use tars_conformance::{Target, fixtures, harness};

struct LocalTarget {
    _dir: tempfile::TempDir,
    state: PathBuf,
    backend: Arc<dyn Backend>,
    calls: CallCounts,
}

impl LocalTarget {
    async fn make() -> Result<Box<dyn Target>, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let state = dir.path().to_owned();
        let raw = LocalBackend::open(LocalConfig::new(&state).instance("conformance"))
            .await
            .map_err(|e| e.to_string())?;
        let counter = CountCalls::new();
        let calls = counter.counts();
        let counted: Arc<dyn Backend> = Arc::new(Layered::new(Arc::new(raw), counter));
        let backend: Arc<dyn Backend> = Arc::new(Layered::new(counted, Validate));
        Ok(Box::new(LocalTarget {
            _dir: dir,
            state,
            backend,
            calls,
        }))
    }
}

#[async_trait]
impl Target for LocalTarget {
    fn column(&self) -> &str {
        "local"
    }

    fn backend(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }

    fn calls(&self) -> CallCounts {
        self.calls.clone()
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
        let mut group = fixtures::sleeper(name, "not yours");
        group.metadata.stamp_owner("someone-else");
        let dir = self.state.join("groups").join(name);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let json = serde_json::to_vec(&group).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("object.json"), json).map_err(|e| e.to_string())
    }
}

fn main() {
    harness::run("local", LocalTarget::make)
}
