//! The cron job API of the embedded backend: tars' cron engine (`tars_engine::api`) over this
//! backend's own groups, with its jobs and history in the state directory's database.

use std::sync::Arc;

use tars_api::Result;
use tars_engine::api::EngineCronJobs;
use tars_engine::cron::CronConfig;
use tars_engine::driver::ApiDriver;

use crate::groups::LocalGroups;
use crate::shared::Shared;

/// Cron jobs run by tars' cron engine as groups of this backend.
pub type LocalCronJobs = EngineCronJobs;

/// Starts the engine on the backend's database, driving groups through `groups` (not layered:
/// the engine's own calls are not the user's). Resumes the stored jobs this instance owns.
pub(crate) fn start(shared: &Shared, groups: Arc<LocalGroups>) -> Result<LocalCronJobs> {
    EngineCronJobs::start(
        Arc::new(ApiDriver::new(groups)),
        shared.db.clone(),
        shared.config.instance_id(),
        CronConfig::new(crate::BACKEND).hooks(shared.config.event_hooks().clone()),
        Arc::new(crate::groups::check_supported),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tars_api::{Backend, Container, ContainerGroupSpec, Feature};

    use tars_api::api::{ApplyOptions, ListParams};
    use tars_api::{CronJob, CronJobSpec, Error, LabelSelector};

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
