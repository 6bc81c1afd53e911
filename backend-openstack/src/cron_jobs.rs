//! Cron jobs on OpenStack: tars' cron engine over Nova servers (`EngineCronJobs`), with one
//! refusal of this backend's own: a run is a server that Nova builds in seconds (minutes on a
//! busy cloud), so a schedule must fire on whole minutes. A slot off the minute is refused with
//! `Error::Unsupported` (`Feature::SecondsSchedules`), as Kubernetes' CronJob refuses one.

use async_trait::async_trait;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, CronJobs, DeleteOptions, ListParams, ObjectApi, ObjectList,
    WatchStream,
};
use tars_api::{CronJob, CronJobSpec, CronRun, Feature, LabelSelector, Result, Schedule};
use tars_engine::api::EngineCronJobs;

/// How many upcoming slots are checked for being on a whole minute.
const SLOTS_CHECKED: usize = 8;

/// The cron job API of an [`crate::OpenStackBackend`].
pub(crate) struct OpenStackCronJobs {
    pub(crate) engine: EngineCronJobs,
}

/// `Unsupported` when `job`'s schedule has a slot off the minute (a seconds field other than
/// `0`, an ISO 8601 interval that is not whole minutes). Invalid schedules are left to
/// validation, which names them.
pub(crate) fn refuse_sub_minute(job: &CronJob) -> Result<()> {
    let Some(expr) = &job.spec.schedule else {
        return Ok(());
    };
    let Ok(schedule) = Schedule::parse(expr, job.spec.time_zone.as_deref()) else {
        return Ok(());
    };
    let off_the_minute = schedule
        .upcoming(jiff::Timestamp::now())
        .take(SLOTS_CHECKED)
        .any(|t| t.as_second().rem_euclid(60) != 0 || t.subsec_nanosecond() != 0);
    if !off_the_minute {
        return Ok(());
    }
    Err(crate::convert::unsupported(
        Feature::SecondsSchedules,
        "spec.schedule",
        &format!(
            "{expr:?} fires off the minute; each run is a Nova server, built in seconds: \
             schedules fire on whole minutes here"
        ),
    ))
}

#[async_trait]
impl ObjectApi<CronJobSpec> for OpenStackCronJobs {
    async fn apply(
        &self,
        object: &CronJob,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<CronJobSpec>> {
        tars_api::validate::cron_job(object)?;
        refuse_sub_minute(object)?;
        self.engine.apply(object, options).await
    }

    async fn get(&self, name: &str) -> Result<CronJob> {
        self.engine.get(name).await
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<CronJobSpec>> {
        self.engine.list(params).await
    }

    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()> {
        self.engine.delete(name, options).await
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<CronJobSpec>> {
        self.engine.watch(selector).await
    }
}

#[async_trait]
impl CronJobs for OpenStackCronJobs {
    async fn trigger(&self, name: &str) -> Result<String> {
        self.engine.trigger(name).await
    }

    async fn runs(&self, name: &str) -> Result<Vec<CronRun>> {
        self.engine.runs(name).await
    }
}

#[cfg(test)]
mod tests {
    use tars_api::{Container, ContainerGroupSpec};

    use super::*;

    fn job(schedule: &str) -> CronJob {
        CronJob::new(
            "j",
            CronJobSpec::new(
                Some(schedule),
                ContainerGroupSpec::new(vec![Container::new("main", "busybox", &["true"])]),
            ),
        )
    }

    #[test]
    fn schedules_off_the_minute_are_unsupported_naming_the_field() {
        for ok in [
            "* * * * *",
            "0 * * * * *",
            "0 */5 * * * *",
            "R/2026-01-01T00:00:00Z/PT2M",
        ] {
            refuse_sub_minute(&job(ok)).expect(ok);
        }
        for off in [
            "* * * * * *",
            "*/2 * * * * *",
            "30 * * * * *",
            "R/2026-01-01T00:00:00Z/PT90S",
        ] {
            let err = refuse_sub_minute(&job(off)).expect_err(off);
            let tars_api::Error::Unsupported {
                feature, reason, ..
            } = &err
            else {
                panic!("{err}")
            };
            assert_eq!(*feature, Feature::SecondsSchedules);
            assert!(reason.starts_with("spec.schedule: "), "{reason}");
        }
    }
}
