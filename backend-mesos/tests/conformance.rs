//! The conformance suite against a real Mesos master: the `mesos` column of the matrix.
//!
//! The master is the one `TARS_MESOS_MASTER` names (`127.0.0.1:5050`);
//! `scripts/engines/mesos/up.sh` starts one. Without the variable every case is ignored and the
//! matrix reports the column as having no results. Each case runs its own tars instance as a
//! framework of its own, with its own state directory, and tears it down afterwards.

mod instance;
use instance::{Instance, master};

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tars_api::layer::CallCounts;
use tars_api::{ApplyOptions, Backend, Container, ContainerGroup, ContainerGroupSpec};
use tars_backend_mesos::convert::{NAME_LABEL, owned};
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::v1::master::{CallType, GetTasks};
use tars_backend_mesos::{MesosBackend, MesosConfig};
use tars_conformance::{Target, harness};

const INSTANCE: &str = "conformance";

struct MesosTarget {
    operator: OperatorClient,
    config: MesosConfig,
    _state: tempfile::TempDir,
    current: Mutex<Option<Instance>>,
    foreign: Mutex<Option<Arc<MesosBackend>>>,
}

impl MesosTarget {
    async fn make() -> Result<Box<dyn Target>, String> {
        let master = master()?;
        let state = tempfile::tempdir().map_err(|e| e.to_string())?;
        let config = MesosConfig::new(master.clone())
            .state_dir(state.path())
            .instance(INSTANCE)
            .failover_timeout(Duration::from_secs(600))
            .refuse(Duration::from_secs(1));
        let operator = OperatorClient::new(&master).map_err(|e| e.to_string())?;
        let current = Mutex::new(Some(Instance::open(config.clone()).await?));
        Ok(Box::new(MesosTarget {
            operator,
            config,
            _state: state,
            current,
            foreign: Mutex::new(None),
        }))
    }

    /// The master's tasks.
    async fn tasks(&self) -> Result<GetTasks, String> {
        Ok(self
            .operator
            .call(CallType::GetTasks)
            .await
            .map_err(|e| e.to_string())?
            .get_tasks
            .unwrap_or_default())
    }

    fn with<T>(&self, f: impl FnOnce(&Instance) -> T) -> T {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        f(current.as_ref().expect("no instance: a restart failed"))
    }
}

#[async_trait]
impl Target for MesosTarget {
    fn column(&self) -> &str {
        "mesos"
    }

    fn backend(&self) -> Arc<dyn Backend> {
        self.with(|i| i.backend.clone())
    }

    fn calls(&self) -> CallCounts {
        self.with(|i| i.calls.clone())
    }

    async fn leftovers(&self, name: &str) -> Result<Vec<String>, String> {
        let framework = self.with(|i| i.raw.framework_id());
        let tasks = self.tasks().await?;
        Ok(tasks
            .tasks
            .into_iter()
            .chain(tasks.unreachable_tasks)
            .filter(|t| Some(&t.framework_id.value) == framework.as_ref())
            // A task that ended stays listed until the master has the acknowledgement of its
            // last update (sent before tars saw it); it runs nothing.
            .filter(|t| !t.state.is_terminal())
            .filter(|t| owned(&t.labels, INSTANCE))
            .filter(|t| {
                t.labels.as_ref().is_some_and(|l| {
                    l.labels
                        .iter()
                        .any(|l| l.key == NAME_LABEL && l.value.as_deref() == Some(name))
                })
            })
            .map(|t| format!("task {} ({:?})", t.task_id.value, t.state))
            .collect())
    }

    /// A group of the same name launched by another tars instance (another framework).
    async fn plant_foreign_group(&self, name: &str) -> Result<(), String> {
        let config = MesosConfig::new(master()?).instance("someone-else");
        let other = Arc::new(
            MesosBackend::connect(config)
                .await
                .map_err(|e| e.to_string())?,
        );
        *self.foreign.lock().unwrap_or_else(PoisonError::into_inner) = Some(other.clone());
        let mut c = Container::new("main", "none", &["sh", "-c"]);
        c.args = vec!["while true; do sleep 1; done".into()];
        let group = ContainerGroup::new(name, ContainerGroupSpec::new(vec![c]));
        other
            .container_groups()
            .apply(&group, ApplyOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        // Planted once the master has its task.
        for _ in 0..300 {
            let tasks = self.tasks().await?;
            let there = tasks
                .tasks
                .iter()
                .chain(&tasks.completed_tasks)
                .any(|t| Some(&t.framework_id.value) == other.framework_id().as_ref());
            if there {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the foreign group was never launched".into())
    }

    async fn open_second_instance(&self) -> Option<tars_api::Result<()>> {
        Some(MesosBackend::connect(self.config.clone()).await.map(drop))
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
        drop(old);
        tokio::time::sleep(down).await;
        let fresh = Instance::open(self.config.clone()).await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh);
        Ok(())
    }

    async fn close(&self) {
        let raw = self.with(|i| i.raw.clone());
        let _ = raw.teardown().await;
        let foreign = self
            .foreign
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(f) = foreign {
            let _ = f.teardown().await;
        }
    }
}

fn main() {
    harness::run_with_engine("mesos", master().map(drop), MesosTarget::make)
}
