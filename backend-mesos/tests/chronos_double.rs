//! The conformance suite's cron cases through tars' Chronos client: the `chronos-double`
//! column of the matrix.
//!
//! Chronos cannot run on these machines, so the Chronos is `chronos-double` — a test double of
//! Chronos' REST API (not Chronos; see that crate), started in-process on 127.0.0.1 for each
//! case. The backend is a `MesosBackend` whose `cron_jobs()` is the Chronos client, on the
//! master `TARS_MESOS_MASTER` names (as the `mesos` column; without it every case is ignored).
//! This column covers CronJobs; the cases about groups and deployments are the `mesos`
//! column's, and `not run` here.

mod instance;
use instance::{Instance, master};

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chronos_double::{ChronosDouble, DoubleConfig};
use tars_api::layer::CallCounts;
use tars_api::{Backend, Kind};
use tars_backend_mesos::MesosConfig;
use tars_backend_mesos::chronos::ChronosConfig;
use tars_conformance::{Target, harness};

const INSTANCE: &str = "conformance";

/// The double's `--failure_retry`, and what tars is told it is.
const FAILURE_RETRY: Duration = Duration::from_millis(500);

struct ChronosTarget {
    double: Mutex<Option<ChronosDouble>>,
    config: MesosConfig,
    _state: tempfile::TempDir,
    current: Mutex<Option<Instance>>,
}

impl ChronosTarget {
    async fn make() -> Result<Box<dyn Target>, String> {
        let master = master()?;
        let double = ChronosDouble::start(
            0,
            DoubleConfig {
                failure_retry: FAILURE_RETRY,
                job_history_limit: 100,
                ..DoubleConfig::default()
            },
        )
        .await
        .map_err(|e| format!("chronos-double: {e}"))?;
        let state = tempfile::tempdir().map_err(|e| e.to_string())?;
        let config = MesosConfig::new(master)
            .state_dir(state.path())
            .instance(INSTANCE)
            .failover_timeout(Duration::from_secs(600))
            .chronos(ChronosConfig::new(double.url()).failure_retry(FAILURE_RETRY));
        let current = Mutex::new(Some(Instance::open(config.clone()).await?));
        Ok(Box::new(ChronosTarget {
            double: Mutex::new(Some(double)),
            config,
            _state: state,
            current,
        }))
    }

    fn double_url(&self) -> Result<String, String> {
        self.double
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(ChronosDouble::url)
            .ok_or_else(|| "the double was stopped".to_owned())
    }

    fn with<T>(&self, f: impl FnOnce(&Instance) -> T) -> T {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        f(current.as_ref().expect("no instance: a restart failed"))
    }
}

#[async_trait]
impl Target for ChronosTarget {
    fn column(&self) -> &str {
        "chronos-double"
    }

    fn covers(&self, kind: Kind) -> Result<(), String> {
        match kind {
            Kind::CronJob => Ok(()),
            _ => Err(
                "the chronos-double column covers CronJobs through Chronos' API; \
                      groups and deployments: see the mesos column"
                    .to_owned(),
            ),
        }
    }

    fn backend(&self) -> Arc<dyn Backend> {
        self.with(|i| i.backend.clone())
    }

    fn calls(&self) -> CallCounts {
        self.with(|i| i.calls.clone())
    }

    async fn leftovers(&self, _name: &str) -> Result<Vec<String>, String> {
        Err("the chronos-double column runs no group cases".into())
    }

    async fn plant_foreign_group(&self, _name: &str) -> Result<(), String> {
        Err("the chronos-double column runs no group cases".into())
    }

    fn foreign_objects(&self, kind: Kind) -> Result<(), String> {
        match kind {
            Kind::CronJob => Ok(()),
            other => Err(format!("the chronos-double column plants no {other}")),
        }
    }

    /// A job posted to Chronos by someone else: no tars stamp in its description.
    async fn plant_foreign_object(&self, kind: Kind, name: &str) -> Result<(), String> {
        self.foreign_objects(kind)?;
        let response = reqwest::Client::new()
            .post(format!("{}/v1/scheduler/iso8601", self.double_url()?))
            .json(&foreign_job(name))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("posting the foreign job: {}", response.status()));
        }
        Ok(())
    }

    async fn foreign_object_intact(&self, kind: Kind, name: &str) -> Result<(), String> {
        self.foreign_objects(kind)?;
        let jobs: Vec<serde_json::Value> =
            reqwest::get(format!("{}/v1/scheduler/jobs", self.double_url()?))
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
        let job = jobs
            .iter()
            .find(|j| j["name"] == name)
            .ok_or("the foreign job is gone")?;
        let planted = foreign_job(name);
        for field in ["command", "schedule", "description", "owner"] {
            if job[field] != planted[field] {
                return Err(format!(
                    "the foreign job's {field} was changed: {} (planted {})",
                    job[field], planted[field]
                ));
            }
        }
        Ok(())
    }

    /// Jobs live in Chronos: a new tars process on the same Chronos sees them all.
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
        let _ = old.raw.shutdown().await;
        drop(old);
        tokio::time::sleep(down).await;
        let fresh = Instance::open(self.config.clone()).await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh);
        Ok(())
    }

    async fn close(&self) {
        let raw = self.with(|i| i.raw.clone());
        let _ = raw.teardown().await;
        let double = self
            .double
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(d) = double {
            d.stop().await;
        }
    }
}

/// A job of someone else's, as Chronos' own UI would post it: yearly, disabled, no tars stamp
/// (the schedule as Chronos writes it back).
fn foreign_job(name: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "command": "echo not tars",
        "schedule": "R/2030-01-01T00:00:00.000Z/P1Y",
        "disabled": true,
        "owner": "ops@example.com",
        "description": "a job tars did not create",
    })
}

fn main() {
    harness::run_with_engine("chronos-double", master().map(drop), ChronosTarget::make)
}
