//! # tars-backend-local
//!
//! The embedded backend: no cluster, just this host. A container group is a process group, one
//! child process per container running its `command` + `args` (the image is recorded, not
//! pulled); each named port gets a free port on 127.0.0.1, passed as `PORT_<NAME>` and
//! reported in the endpoints; stdout and stderr go to a log file per container; readiness checks
//! drive `ready`; delete sends SIGTERM to the process group, waits the grace period, then
//! SIGKILL, and returns when no process of the group is left.
//!
//! State lives under the state directory of [`LocalConfig`]. When a backend is opened on a state
//! directory that holds groups (after a restart of the process that embeds tars), any process
//! of theirs still alive is stopped and the groups are started afresh from their stored spec,
//! so nothing runs unsupervised. A group that had ended for good (succeeded or failed, with a
//! restart policy other than `Always`) stays ended.
//!
//! Cron jobs run on tars' cron engine (`tars_engine::cron`) over these groups, with their jobs,
//! counters and history in the state directory's database: a backend reopened on the same state
//! resumes them, catches up at most one run per job for the slots it missed, records the others
//! as missed, and never starts a slot twice.
//!
//! ```no_run
//! # async fn demo() -> tars_api::Result<()> {
//! use tars_api::Backend;
//! let backend = tars_backend_local::LocalBackend::open(
//!     tars_backend_local::LocalConfig::new("/tmp/tars-state"),
//! ).await?;
//! println!("{:?}", backend.capabilities().await?);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod config;
mod cron_jobs;
mod deployments;
mod groups;
mod host;
mod probe;
mod process;
mod secret;
mod shared;
mod store;
mod supervisor;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tars_api::capability::{Capabilities, Feature, Support};
use tars_api::{Backend, ContainerGroups, CronJobs, Deployments, Error, Result};

pub use config::{DEFAULT_INSTANCE, LocalConfig};
pub use cron_jobs::LocalCronJobs;
pub use deployments::LocalDeployments;
pub use groups::LocalGroups;
pub use secret::env_name as secret_env_name;

use shared::{Entry, Shared};
use supervisor::{Adoption, Supervisor};

/// The backend's name, as in errors and the conformance matrix.
pub const BACKEND: &str = "local";

/// The embedded backend.
pub struct LocalBackend {
    shared: Arc<Shared>,
    groups: Arc<LocalGroups>,
    deployments: Arc<LocalDeployments>,
    cron_jobs: LocalCronJobs,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("config", &self.shared.config)
            .finish()
    }
}

impl LocalBackend {
    /// Opens the state directory (creating it), takes over the groups this instance owns
    /// there, and starts supervising them. Must run inside a tokio runtime.
    pub async fn open(config: LocalConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| Error::backend(BACKEND, e))?;
        // Taken first: a second tars process on this state directory fails here, before it
        // touches anything.
        let db: Arc<dyn tars_engine::store::Store> =
            Arc::new(tars_engine::store::RedbStore::open(config.state_dir())?);
        let store = store::Store::open(config.state_dir(), db.clone())?;
        let shared = Arc::new(Shared::new(config, store, db, http));
        recover(&shared).await?;
        groups::count_groups(shared.objects().len());
        let groups = Arc::new(LocalGroups {
            shared: shared.clone(),
        });
        let deployments = Arc::new(deployments::start(&shared, groups.clone())?);
        let cron_jobs = cron_jobs::start(&shared, groups.clone())?;
        Ok(LocalBackend {
            groups,
            deployments,
            cron_jobs,
            shared,
        })
    }

    /// The deployment API, with its rollout event stream ([`LocalDeployments::events`]).
    pub fn local_deployments(&self) -> &LocalDeployments {
        &self.deployments
    }

    /// The configuration.
    pub fn config(&self) -> &LocalConfig {
        &self.shared.config
    }

    /// The engine's state store (the database under the state directory), for tools and tests
    /// that must see or plant state directly.
    pub fn store(&self) -> Arc<dyn tars_engine::store::Store> {
        self.shared.db.clone()
    }

    /// Stops supervising at once, touching no workload, as a crash of the embedding process
    /// would: background tasks end, processes keep running. A backend opened afterwards on the
    /// same state takes over. For tests of crash recovery; use [`Backend::shutdown`] otherwise.
    pub async fn abandon(&self) {
        self.cron_jobs.shutdown().await;
        self.deployments.abandon().await;
        let supervisors: Vec<Supervisor> = self
            .shared
            .objects()
            .values_mut()
            .filter_map(|e| e.supervisor.take())
            .collect();
        for s in supervisors {
            s.abandon().await;
        }
        // Supervisors whose handles a cancelled call dropped (a delete cut short by a
        // timeout or by the cron engine's shutdown) end here too.
        self.shared.end_tasks().await;
    }
}

/// Stops the processes a runtime record names, if any still runs (grace capped at 10 s).
async fn stop_recorded(
    record: &store::RuntimeRecord,
    object: &tars_api::ContainerGroup,
) -> Result<()> {
    let alive = record
        .processes
        .iter()
        .flatten()
        .any(|p| process::is_alive(p.pid, p.start_ticks));
    if let (true, Some(pgid)) = (alive, record.pgid) {
        let grace = object
            .spec
            .termination_grace_period
            .min(Duration::from_secs(10));
        process::terminate_group(pgid, grace)
            .await
            .map_err(|e| Error::backend(BACKEND, e))?;
    }
    Ok(())
}

/// Completes a delete that a previous tars process began: stops what is left, removes the
/// records and files.
async fn finish_delete(shared: &Arc<Shared>, object: &tars_api::ContainerGroup) -> Result<()> {
    let name = object.name();
    if let Some(record) = shared.store.load_runtime(name)? {
        stop_recorded(&record, object).await?;
    }
    tracing::info!(backend = BACKEND, group = %name, "finished a delete begun before a restart");
    shared.store.remove(name)
}

/// Takes over this instance's groups from a previous tars process on the same state: running
/// containers are adopted, ended ones collected and handled by their restart policy.
async fn recover(shared: &Arc<Shared>) -> Result<()> {
    let instance = shared.config.instance_id().to_owned();
    // Processes of adopted containers; any other process of this state is a stray (started in
    // the instant between a spawn and its record, before a crash) and is stopped below.
    let mut adopted: Vec<i32> = Vec::new();
    // Supervisors start only after the sweep, so that it never sees their new processes.
    let mut to_start = Vec::new();
    for mut object in shared.store.groups()? {
        if !object.metadata.is_owned_by(&instance) {
            continue;
        }
        let name = object.name().to_owned();
        if shared.store.is_deleting(&name)? {
            finish_delete(shared, &object).await?;
            continue;
        }
        // A group that ended for good (a cron run, say) stays ended: restarting it would run
        // its work a second time.
        let ended = object
            .status
            .as_ref()
            .is_some_and(|s| s.phase.is_terminal())
            && object.spec.restart_policy != tars_api::RestartPolicy::Always;
        if ended {
            shared.objects().insert(
                name,
                Entry {
                    object,
                    supervisor: None,
                },
            );
            continue;
        }
        // The stored status is history: the supervisor reports the present.
        let last_status = object.status.take();
        let adoption = match shared.store.load_runtime(&name)? {
            Some(record)
                if Some(&record.uid) == object.metadata.uid.as_ref()
                    && Some(record.generation) == object.metadata.generation =>
            {
                for p in record.processes.iter().flatten() {
                    if process::is_alive(p.pid, p.start_ticks) {
                        adopted.extend(process::with_descendants(p.pid));
                    }
                }
                Some(Adoption {
                    record,
                    status: last_status,
                })
            }
            Some(stale) => {
                // An earlier incarnation (tars died between an update and its restart): stop
                // whatever is left of it before the current one starts.
                stop_recorded(&stale, &object).await?;
                None
            }
            None => None,
        };
        to_start.push((object, adoption));
    }
    let marker = format!(
        "HOME={}/",
        shared.config.state_dir().join("groups").display()
    );
    let strays: Vec<i32> = process::with_env_prefix(&marker)
        .into_iter()
        .filter(|pid| !adopted.contains(pid))
        .collect();
    for pid in &strays {
        tracing::warn!(backend = BACKEND, pid, "stopping a process no record names");
    }
    // Gone before `open` returns (a group's wrapper that ended on SIGTERM leaves its program,
    // which ignored it, unrecorded: a delete finished here must leave nothing running).
    let left = process::kill_and_wait(&strays, Duration::from_secs(5)).await;
    if !left.is_empty() {
        tracing::warn!(
            backend = BACKEND,
            ?left,
            "processes no record names survived SIGKILL for 5 s"
        );
    }
    for (object, adoption) in to_start {
        let supervisor = Supervisor::start(shared.clone(), object.clone(), adoption);
        shared.objects().insert(
            object.name().to_owned(),
            Entry {
                object,
                supervisor: Some(supervisor),
            },
        );
    }
    Ok(())
}

#[async_trait]
impl Backend for LocalBackend {
    fn name(&self) -> &str {
        BACKEND
    }

    fn instance(&self) -> &str {
        self.shared.config.instance_id()
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(capabilities())
    }

    fn container_groups(&self) -> &dyn ContainerGroups {
        &*self.groups
    }

    fn deployments(&self) -> &dyn Deployments {
        &*self.deployments
    }

    fn cron_jobs(&self) -> &dyn CronJobs {
        &self.cron_jobs
    }

    /// Stops supervising; the groups keep running, and a backend opened later on the same
    /// state adopts them (see the crate docs).
    async fn shutdown(&self) -> Result<()> {
        // The engines first, so that no run or replica starts while the supervisors let go.
        self.cron_jobs.shutdown().await;
        self.deployments.shutdown().await;
        self.abandon().await;
        Ok(())
    }
}

/// What the embedded backend supports.
pub fn capabilities() -> Capabilities {
    use Feature::*;
    let cgroups = host::limits_unsupported_reason();
    let caps = Capabilities::new()
        .native(&[
            ContainerGroups,
            Watch,
            DryRun,
            Selectors,
            Paging,
            Logs,
            Secrets,
            ReadinessChecks,
            LivenessChecks,
            RestartPolicy,
            PlacementConstraints,
        ])
        .with(
            ImageEntrypoint,
            Support::Unsupported("host processes need a command; images are not run".into()),
        )
        .with(
            Spread,
            Support::Unsupported("a single host: nothing to spread over".into()),
        )
        .unsupported(&[CpuLimits, MemoryLimits], &cgroups);
    tars_engine::api::with_engine_features(caps)
}
