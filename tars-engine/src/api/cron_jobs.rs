//! [`EngineCronJobs`]: the CronJob API as tars' cron engine over a backend's groups.

use std::sync::Arc;

use async_trait::async_trait;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, Change, CronJobs, DeleteOptions, ListParams, ObjectApi, ObjectList,
    WatchStream,
};
use tars_api::meta::Kind;
use tars_api::{CronJob, CronJobSpec, CronRun, Error, LabelSelector, Result, diff};

use super::{SupportCheck, check_template};
use crate::cron::state::JOBS;
use crate::cron::{CronConfig, CronEngine};
use crate::driver::GroupDriver;
use crate::store::{Store, decode};
use crate::uid::new_uid;

/// Cron jobs run by tars' cron engine as groups of a backend, with their jobs and history in
/// a store. Only the jobs of this tars instance are seen; a stored job of another instance is
/// refused with `Error::Conflict`, never touched.
pub struct EngineCronJobs {
    store: Arc<dyn Store>,
    instance: String,
    engine: CronEngine,
    check: SupportCheck,
}

impl std::fmt::Debug for EngineCronJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineCronJobs")
            .field("instance", &self.instance)
            .field("jobs", &self.engine.len())
            .finish_non_exhaustive()
    }
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: Kind::CronJob,
        name: name.to_owned(),
    }
}

fn conflict(name: &str) -> Error {
    Error::Conflict {
        kind: Kind::CronJob,
        name: name.to_owned(),
        reason: "a cron job of this name is stored in tars' state but was not created by this \
                 tars instance; tars never touches objects it does not own"
            .to_owned(),
    }
}

impl EngineCronJobs {
    /// Starts the engine on `store`, driving groups through `driver` (not layered: the
    /// engine's own calls are not the user's), and resumes the stored jobs of `instance`;
    /// `check` refuses, at apply, a template this backend cannot run. Must run inside a tokio
    /// runtime.
    pub fn start(
        driver: Arc<dyn GroupDriver>,
        store: Arc<dyn Store>,
        instance: impl Into<String>,
        config: CronConfig,
        check: SupportCheck,
    ) -> Result<Self> {
        let instance = instance.into();
        let owner = instance.clone();
        let engine = CronEngine::start_with(
            driver,
            store.clone(),
            Box::new(move |job: &CronJob| job.metadata.is_owned_by(&owner)),
            config,
        )?;
        Ok(EngineCronJobs {
            store,
            instance,
            engine,
            check,
        })
    }

    /// The engine itself (its events, its jobs' runs).
    pub fn engine(&self) -> &CronEngine {
        &self.engine
    }

    /// Stops the engine's tasks; runs keep going and are followed again after a restart.
    pub async fn shutdown(&self) {
        self.engine.shutdown().await;
    }

    /// Whether a stored job of that name belongs to another tars instance.
    fn foreign(&self, name: &str) -> Result<bool> {
        let Some(bytes) = self.store.get(JOBS, name)? else {
            return Ok(false);
        };
        let job: CronJob = decode(JOBS, name, &bytes)?;
        Ok(!job.metadata.is_owned_by(&self.instance))
    }

    fn missing(&self, name: &str) -> Error {
        match self.foreign(name) {
            Ok(true) => conflict(name),
            Ok(false) => not_found(name),
            Err(e) => e,
        }
    }

    fn or_missing<T>(&self, name: &str, r: Result<T>) -> Result<T> {
        match r {
            Err(Error::NotFound { .. }) => Err(self.missing(name)),
            other => other,
        }
    }
}

#[async_trait]
impl ObjectApi<CronJobSpec> for EngineCronJobs {
    async fn apply(
        &self,
        object: &CronJob,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<CronJobSpec>> {
        tars_api::validate::cron_job(object)?;
        check_template(&self.check, object.name(), &object.spec.template.spec)?;
        let name = object.name().to_owned();
        let mut desired = CronJob {
            metadata: object.metadata.user_part(),
            spec: object.spec.clone(),
            status: None,
        };
        desired.metadata.stamp_owner(&self.instance);
        let (updated, change) = match self.engine.get(&name) {
            None => {
                if self.foreign(&name)? {
                    return Err(conflict(&name));
                }
                desired.metadata.uid = Some(new_uid());
                desired.metadata.generation = Some(1);
                desired.metadata.created_at = Some(jiff::Timestamp::now());
                (desired, Change::Created)
            }
            Some(current) => {
                let fields = diff::changed_fields(&current, &desired);
                if fields.is_empty() {
                    return Ok(ApplyOutcome {
                        object: current,
                        change: Change::Unchanged,
                    });
                }
                let mut updated = current.clone();
                updated.metadata.labels = desired.metadata.labels;
                updated.metadata.annotations = desired.metadata.annotations;
                if current.spec != desired.spec {
                    updated.spec = desired.spec;
                    updated.metadata.generation =
                        Some(current.metadata.generation.unwrap_or(0) + 1);
                }
                (updated, Change::Updated { fields })
            }
        };
        // Before anything changes: parents closing a cycle through the stored jobs.
        self.engine.check_parents(&name, &updated.spec.parents)?;
        if options.dry_run {
            return Ok(ApplyOutcome {
                object: updated,
                change,
            });
        }
        let object = self.engine.put(updated)?;
        Ok(ApplyOutcome { object, change })
    }

    async fn get(&self, name: &str) -> Result<CronJob> {
        self.engine.get(name).ok_or_else(|| self.missing(name))
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<CronJobSpec>> {
        Ok(self.engine.page(params))
    }

    async fn delete(&self, name: &str, _options: DeleteOptions) -> Result<()> {
        let r = self.engine.remove(name).await;
        self.or_missing(name, r)
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<CronJobSpec>> {
        Ok(self.engine.watch(selector))
    }
}

#[async_trait]
impl CronJobs for EngineCronJobs {
    async fn trigger(&self, name: &str) -> Result<String> {
        let r = self.engine.trigger(name);
        self.or_missing(name, r)
    }

    async fn runs(&self, name: &str) -> Result<Vec<CronRun>> {
        let r = self.engine.runs(name);
        self.or_missing(name, r)
    }
}
