//! The cron job API of the embedded backend: tars' cron engine over this backend's own groups,
//! with its jobs and history in the state directory's database.

use std::sync::Arc;

use async_trait::async_trait;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, Change, CronJobs, DeleteOptions, ListParams, ObjectApi, ObjectList,
    WatchStream,
};
use tars_api::meta::Kind;
use tars_api::{
    ContainerGroup, CronJob, CronJobSpec, CronRun, Error, LabelSelector, ObjectMeta, Result, diff,
};
use tars_engine::cron::state::JOBS;
use tars_engine::cron::{CronConfig, CronEngine};
use tars_engine::driver::ApiDriver;
use tars_engine::store::decode;

use crate::groups::LocalGroups;
use crate::shared::Shared;

/// Cron jobs run by tars' cron engine as groups of this backend.
pub struct LocalCronJobs {
    shared: Arc<Shared>,
    engine: CronEngine,
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: Kind::CronJob,
        name: name.to_owned(),
    }
}

impl LocalCronJobs {
    /// Starts the engine on the backend's database, driving groups through `groups` (not
    /// layered: the engine's own calls are not the user's). Resumes the stored jobs this
    /// instance owns.
    pub(crate) fn start(shared: Arc<Shared>, groups: Arc<LocalGroups>) -> Result<Self> {
        let instance = shared.config.instance_id().to_owned();
        let engine = CronEngine::start_with(
            Arc::new(ApiDriver::new(groups)),
            shared.db.clone(),
            Box::new(move |job: &CronJob| job.metadata.is_owned_by(&instance)),
            CronConfig::new(crate::BACKEND).hooks(shared.config.event_hooks().clone()),
        )?;
        Ok(LocalCronJobs { shared, engine })
    }

    /// Stops the engine's tasks; runs keep going and are followed again after a restart.
    pub(crate) async fn shutdown(&self) {
        self.engine.shutdown().await;
    }

    /// Whether a stored job of that name belongs to another tars instance.
    fn foreign(&self, name: &str) -> Result<bool> {
        let Some(bytes) = self.shared.db.get(JOBS, name)? else {
            return Ok(false);
        };
        let job: CronJob = decode(JOBS, name, &bytes)?;
        Ok(!job.metadata.is_owned_by(self.shared.config.instance_id()))
    }

    fn conflict(name: &str) -> Error {
        Error::Conflict {
            kind: Kind::CronJob,
            name: name.to_owned(),
            reason: "a cron job of this name is stored in the state directory but was not \
                     created by this tars instance; tars never touches objects it does not own"
                .to_owned(),
        }
    }

    fn missing(&self, name: &str) -> Error {
        match self.foreign(name) {
            Ok(true) => Self::conflict(name),
            Ok(false) => not_found(name),
            Err(e) => e,
        }
    }
}

#[async_trait]
impl ObjectApi<CronJobSpec> for LocalCronJobs {
    async fn apply(
        &self,
        object: &CronJob,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<CronJobSpec>> {
        tars_api::validate::cron_job(object)?;
        // What this backend cannot run is refused now, not at each run.
        crate::groups::check_supported(&ContainerGroup {
            metadata: ObjectMeta::named(object.name()),
            spec: object.spec.template.spec.clone(),
            status: None,
        })
        .map_err(|e| match e {
            Error::Unsupported {
                feature,
                backend,
                reason,
            } => Error::Unsupported {
                feature,
                backend,
                reason: reason.replacen("spec.", "spec.template.spec.", 1),
            },
            Error::Invalid { field, reason } => Error::Invalid {
                field: field.replacen("spec.", "spec.template.spec.", 1),
                reason,
            },
            other => other,
        })?;
        let name = object.name().to_owned();
        let mut desired = CronJob {
            metadata: object.metadata.user_part(),
            spec: object.spec.clone(),
            status: None,
        };
        desired
            .metadata
            .stamp_owner(self.shared.config.instance_id());
        let (updated, change) = match self.engine.get(&name) {
            None => {
                if self.foreign(&name)? {
                    return Err(Self::conflict(&name));
                }
                desired.metadata.uid = Some(crate::groups::new_uid());
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
        match self.engine.remove(name).await {
            Err(Error::NotFound { .. }) => Err(self.missing(name)),
            other => other,
        }
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<CronJobSpec>> {
        Ok(self.engine.watch(selector))
    }
}

#[async_trait]
impl CronJobs for LocalCronJobs {
    async fn trigger(&self, name: &str) -> Result<String> {
        match self.engine.trigger(name) {
            Err(Error::NotFound { .. }) => Err(self.missing(name)),
            other => other,
        }
    }

    async fn runs(&self, name: &str) -> Result<Vec<CronRun>> {
        match self.engine.runs(name) {
            Err(Error::NotFound { .. }) => Err(self.missing(name)),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tars_api::{Backend, Container, ContainerGroupSpec, Feature};

    use super::*;
    use crate::{LocalBackend, LocalConfig};

    fn job(name: &str) -> CronJob {
        let mut spec = ContainerGroupSpec::new(vec![Container::new("main", "none", &["true"])]);
        spec.restart_policy = tars_api::RestartPolicy::Never;
        CronJob::new(
            name,
            CronJobSpec {
                retry_backoff: Duration::from_secs(1),
                ..CronJobSpec::new(Some("0 0 0 1 1 *"), spec)
            },
        )
    }

    #[tokio::test]
    async fn jobs_survive_reopening_and_another_instance_gets_conflict() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let a = LocalBackend::open(LocalConfig::new(dir.path()).instance("a"))
                .await
                .expect("open a");
            a.cron_jobs()
                .apply(&job("nightly"), ApplyOptions::default())
                .await
                .expect("apply");
            a.shutdown().await.expect("shutdown");
        }
        {
            let a = LocalBackend::open(LocalConfig::new(dir.path()).instance("a"))
                .await
                .expect("reopen a");
            let got = a.cron_jobs().get("nightly").await.expect("resumed");
            assert!(got.status_or_default().next_schedule.is_some());
            a.shutdown().await.expect("shutdown");
        }
        let b = LocalBackend::open(LocalConfig::new(dir.path()).instance("b"))
            .await
            .expect("open b");
        let api = b.cron_jobs();
        assert!(matches!(
            api.apply(&job("nightly"), ApplyOptions::default()).await,
            Err(Error::Conflict { .. })
        ));
        assert!(matches!(
            api.get("nightly").await,
            Err(Error::Conflict { .. })
        ));
        assert!(matches!(
            api.trigger("nightly").await,
            Err(Error::Conflict { .. })
        ));
        assert!(
            api.list(&ListParams::all())
                .await
                .expect("list")
                .items
                .is_empty()
        );
        b.shutdown().await.expect("shutdown");
    }

    #[tokio::test]
    async fn a_template_this_backend_cannot_run_is_refused_at_apply() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::open(LocalConfig::new(dir.path()))
            .await
            .expect("open");
        let mut j = job("limited");
        j.spec.template.spec.containers[0].resources.cpu = Some(tars_api::Cpu(500));
        match backend.cron_jobs().apply(&j, ApplyOptions::default()).await {
            Err(Error::Unsupported {
                feature, reason, ..
            }) => {
                assert_eq!(feature, Feature::CpuLimits);
                assert!(
                    reason.starts_with("spec.template.spec.containers[0]"),
                    "{reason}"
                );
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
        assert!(matches!(
            backend.cron_jobs().get("limited").await,
            Err(Error::NotFound { .. })
        ));
        backend.shutdown().await.expect("shutdown");
    }

    #[tokio::test]
    async fn pages_follow_the_continue_token_and_the_selector() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::open(LocalConfig::new(dir.path()))
            .await
            .expect("open");
        let api = backend.cron_jobs();
        for i in 0..7 {
            let mut j = job(&format!("j{i}"));
            let tier = if i % 2 == 0 { "even" } else { "odd" };
            j.metadata.labels.insert("tier".to_owned(), tier.to_owned());
            api.apply(&j, ApplyOptions::default()).await.expect("apply");
        }
        let mut params =
            ListParams::matching("tier=even".parse::<LabelSelector>().expect("selector")).limit(2);
        let mut pages = Vec::new();
        loop {
            let page = api.list(&params).await.expect("list");
            pages.push(
                page.items
                    .iter()
                    .map(|o| o.name().to_owned())
                    .collect::<Vec<_>>(),
            );
            match page.continue_token {
                Some(token) => params.continue_token = Some(token),
                None => break,
            }
        }
        assert_eq!(pages, [["j0", "j2"], ["j4", "j6"]]);
        let all = api.list(&ListParams::all()).await.expect("list");
        assert_eq!(all.items.len(), 7);
        assert!(all.continue_token.is_none());
        backend.shutdown().await.expect("shutdown");
    }
}
