//! The conformance suite against a real OpenStack: the `openstack` column of the matrix.
//!
//! The cloud is cloud `tars` of the `clouds.yaml` that `TARS_OS_CLOUDS` names
//! (`scripts/engines/openstack/up.sh STATE_DIR` writes `STATE_DIR/clouds.yaml`). Without the
//! variable every case is ignored and the matrix reports the column as having no results. Each
//! case runs as a tars instance of its own (`c` + random hex): Nova names are not unique, and
//! tars instances do not see each other's servers. Each case's tars keeps its engine state in
//! a temporary state directory of its own, which a restart reopens.
//!
//! Nova's fake virt driver runs nothing; [`stand_in`] ends the cron runs as their commands say,
//! through Nova's API, as a container runtime on a compute host would (`Target::runs_end`).
//!
//! ```sh
//! TARS_OS_CLOUDS=/tmp/tars-os/clouds.yaml cargo test -p tars-backend-openstack --test conformance
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use osauth::services::{COMPUTE, IMAGE};
use tars_api::Backend;
use tars_api::layer::{CallCounts, CountCalls, Layered, Validate};
use tars_backend_openstack::{OpenStackBackend, OpenStackConfig};
use tars_conformance::{Target, harness};

mod cloud;
mod stand_in;

use cloud::{clouds, probe_session};

struct Instance {
    backend: Arc<dyn Backend>,
    calls: CallCounts,
}

impl Instance {
    async fn open(config: OpenStackConfig) -> Result<Self, String> {
        let raw: Arc<dyn Backend> = Arc::new(
            OpenStackBackend::connect(config)
                .await
                .map_err(|e| e.to_string())?,
        );
        let counter = CountCalls::new();
        let calls = counter.counts();
        let counted: Arc<dyn Backend> = Arc::new(Layered::new(raw, counter));
        let backend: Arc<dyn Backend> = Arc::new(Layered::new(counted, Validate));
        Ok(Instance { backend, calls })
    }
}

struct OpenStackTarget {
    /// A session of the same user, for probes that go around tars.
    session: osauth::Session,
    instance: String,
    config: OpenStackConfig,
    current: Mutex<Option<Instance>>,
    planted: Mutex<Vec<String>>,
    /// What [`Target::close`] found left of this instance (and removed).
    orphans: Mutex<Vec<String>>,
    /// Ends this instance's cron runs (see [`stand_in`]); stops when the target goes.
    _stand_in: stand_in::StandIn,
    /// The state directory of this case's tars.
    _state: tempfile::TempDir,
    /// The compute services up and enabled (`TARS_OS_COMPUTE_HOSTS` of up.sh).
    hosts: usize,
}

impl OpenStackTarget {
    async fn make() -> Result<Box<dyn Target>, String> {
        let path = clouds()?;
        let instance = format!("c{:08x}", fastrand::u32(..));
        let state = tempfile::tempdir().map_err(|e| e.to_string())?;
        let config = OpenStackConfig::from_clouds_yaml(&path, "tars")
            .map_err(|e| e.to_string())?
            .instance(instance.clone())
            .state_dir(state.path());
        let admin_config =
            OpenStackConfig::from_clouds_yaml(&path, "tars-admin").map_err(|e| e.to_string())?;
        let session = probe_session(&config, "tars", "tars").await?;
        let admin = probe_session(&admin_config, "admin", "admin").await?;
        let services: serde_json::Value = admin
            .get(COMPUTE, &["os-services"])
            .query(&[("binary", "nova-compute")])
            .fetch()
            .await
            .map_err(|e| e.to_string())?;
        let hosts = services["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["state"] == "up" && s["status"] == "enabled")
            .count();
        let stand_in = stand_in::StandIn::start(session.clone(), admin, &instance);
        let current = Mutex::new(Some(Instance::open(config.clone()).await?));
        Ok(Box::new(OpenStackTarget {
            session,
            instance,
            config,
            current,
            planted: Mutex::new(Vec::new()),
            orphans: Mutex::new(Vec::new()),
            _stand_in: stand_in,
            _state: state,
            hosts,
        }))
    }

    fn with<T>(&self, f: impl FnOnce(&Instance) -> T) -> T {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        f(current.as_ref().expect("no instance: a restart failed"))
    }

    fn left(&self, what: String) {
        self.orphans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(what);
    }

    async fn json(
        &self,
        req: osauth::ServiceRequestBuilder<impl osauth::services::ServiceType + Send>,
    ) -> Result<serde_json::Value, String> {
        req.fetch().await.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Target for OpenStackTarget {
    fn column(&self) -> &str {
        "openstack"
    }

    fn backend(&self) -> Arc<dyn Backend> {
        self.with(|i| i.backend.clone())
    }

    fn calls(&self) -> CallCounts {
        self.with(|i| i.calls.clone())
    }

    async fn leftovers(&self, name: &str) -> Result<Vec<String>, String> {
        let tag = format!("tars-instance={}", self.instance);
        let servers = self
            .json(
                self.session
                    .get(COMPUTE, &["servers", "detail"])
                    .api_version(osauth::ApiVersion(2, 52))
                    .query(&[("tags", tag)]),
            )
            .await?;
        let prefix = format!("{name}-");
        Ok(servers["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let n = s["name"].as_str()?;
                (n == name || n.starts_with(&prefix))
                    .then(|| format!("server {n} ({})", s["status"].as_str().unwrap_or("?")))
            })
            .collect())
    }

    async fn plant_foreign_group(&self, name: &str) -> Result<(), String> {
        let image = self
            .json(self.session.post(IMAGE, &["images"]).json(&serde_json::json!({
                "name": "tars-foreign:1", "container_format": "docker", "disk_format": "raw",
            })))
            .await?;
        let image_id = image["id"].as_str().ok_or("no image id")?.to_owned();
        self.session
            .put(IMAGE, &["images", &image_id, "file"])
            .header("Content-Type", "application/octet-stream")
            .body(vec![0u8; 64])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let flavors = self.json(self.session.get(COMPUTE, &["flavors"])).await?;
        let flavor = flavors["flavors"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["name"] == "m1.nano")
            .and_then(|f| f["id"].as_str())
            .ok_or("no m1.nano flavor")?
            .to_owned();
        let server = self
            .json(
                self.session
                    .post(COMPUTE, &["servers"])
                    .api_version(osauth::ApiVersion(2, 52))
                    .json(&serde_json::json!({"server": {
                        "name": name, "imageRef": image_id, "flavorRef": flavor, "networks": "none",
                    }})),
            )
            .await?;
        let id = server["server"]["id"].as_str().ok_or("no server id")?;
        self.planted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id.to_owned());
        Ok(())
    }

    fn endpoints_reachable(&self) -> Result<(), String> {
        Err("the test cloud's fake virt driver runs nothing and its servers have no network".into())
    }

    fn programs_run(&self) -> Result<(), String> {
        Err(
            "the test cloud's Nova uses the fake virt driver: servers go ACTIVE but nothing runs \
             in them (no logs, exit codes or probes)"
                .into(),
        )
    }

    fn hosts(&self) -> usize {
        self.hosts
    }

    fn runs_end(&self) -> Result<(), String> {
        // The stand-in stops (or fails) each run's server as its command says.
        Ok(())
    }

    async fn restart(&self) -> Result<(), String> {
        self.restart_after(std::time::Duration::ZERO).await
    }

    async fn restart_after(&self, down: std::time::Duration) -> Result<(), String> {
        let old = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or("no instance to restart")?;
        // As a crash would: the engines stop where they stand, the servers stay.
        let _ = old.backend.shutdown().await;
        drop(old);
        tokio::time::sleep(down).await;
        let fresh = Instance::open(self.config.clone()).await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh);
        Ok(())
    }

    async fn open_second_instance(&self) -> Option<tars_api::Result<()>> {
        Some(
            OpenStackBackend::connect(self.config.clone())
                .await
                .map(drop),
        )
    }

    async fn close(&self) {
        let _ = self.backend().shutdown().await;
        let planted =
            std::mem::take(&mut *self.planted.lock().unwrap_or_else(PoisonError::into_inner));
        for id in planted {
            let _ = self.session.delete(COMPUTE, &["servers", &id]).send().await;
        }
        // A create under way when tars stopped lands in Nova within a second or so.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        // What is left of this instance after the suite deleted, through tars, all tars listed.
        let tag = format!("tars-instance={}", self.instance);
        let servers = match self
            .json(
                self.session
                    .get(COMPUTE, &["servers"])
                    .api_version(osauth::ApiVersion(2, 52))
                    .query(&[("tags", tag)]),
            )
            .await
        {
            Ok(servers) => servers,
            Err(e) => {
                self.left(format!("(could not list the servers left: {e})"));
                return;
            }
        };
        for s in servers["servers"].as_array().into_iter().flatten() {
            if let Some(id) = s["id"].as_str() {
                let name = s["name"].as_str().unwrap_or("?");
                self.left(format!("server {name} ({id})"));
                let _ = self.session.delete(COMPUTE, &["servers", id]).send().await;
            }
        }
    }

    fn orphans(&self) -> Vec<String> {
        self.orphans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn main() {
    // Three cases at once: the cron cases start a server a second each, and one nova-api
    // process serves them all.
    harness::run_with_engine_threads("openstack", clouds().map(drop), 3, OpenStackTarget::make)
}
