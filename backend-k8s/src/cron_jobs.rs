//! CronJobs as CronJobs (`batch/v1`, or `batch/v1beta1` before Kubernetes 1.21), their runs as
//! the `batch/v1` Jobs Kubernetes' CronJob controller makes (or `trigger` makes, as
//! `kubectl create job --from=cronjob/NAME` does).
//!
//! k8s-openapi has no `batch/v1beta1` types, so CronJobs travel as [`DynamicObject`]s built
//! from the JSON of [`crate::convert::cronjob`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, ListParams as KubeListParams, PostParams,
};
use kube::{Api, Client};
use tars_api::api::{
    ApplyOptions, ApplyOutcome, Change, CronJobs, DeleteOptions, ListParams, ObjectApi, ObjectList,
    WatchStream,
};
use tars_api::meta::{self, Kind};
use tars_api::{CronJob, CronJobSpec, CronRun, Error, LabelSelector, Result, diff};

use crate::BACKEND;
use crate::client::{Sent, apply_object, wait_gone, wire};
use crate::context::Context;
use crate::convert::cronjob::{cron_job, cron_job_from_json, job_from_cron_job, runs};
use crate::convert::{CRON_JOB_LABEL, ServerInfo};
use crate::mirror::Holder;

const KIND: Kind = Kind::CronJob;

/// How often a delete looks whether the CronJob and its Jobs are gone.
const GONE_POLL: Duration = Duration::from_millis(250);

/// How long a delete waits for the CronJob, its Jobs and their pods to go.
const GONE_LIMIT: Duration = Duration::from_secs(90);

/// The longest name Kubernetes accepts for a Job (its pods' `job-name` label holds it).
const MAX_JOB_NAME: usize = 63;

/// What a manually triggered Job's name puts between the CronJob's name and the suffix.
const MANUAL_INFIX: &str = "-manual-";

/// How many base-36 digits end a manual Job's name.
const SUFFIX_LEN: usize = 5;

/// The CronJob resource this server serves.
fn resource(server: &ServerInfo) -> ApiResource {
    let version = if server.batch_v1_cron_job {
        "v1"
    } else {
        "v1beta1"
    };
    ApiResource {
        group: "batch".into(),
        version: version.into(),
        api_version: format!("batch/{version}"),
        kind: "CronJob".into(),
        plural: "cronjobs".into(),
    }
}

/// The CronJobs of `namespace`, in the version the server serves.
pub(crate) fn api(client: &Client, namespace: &str, server: &ServerInfo) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &resource(server))
}

fn to_json(d: &DynamicObject) -> Result<serde_json::Value> {
    serde_json::to_value(d).map_err(|e| Error::backend(BACKEND, e))
}

/// The tars cron job of a CronJob, without its Jobs (the watch's view: no run counts).
pub(crate) fn cron_job_from_dynamic(d: &DynamicObject) -> Result<CronJob> {
    cron_job_from_json(&to_json(d)?, &[])
}

/// The cron jobs of a [`crate::K8sBackend`].
pub(crate) struct K8sCronJobs {
    pub(crate) ctx: Arc<Context>,
}

impl K8sCronJobs {
    fn conflict(name: &str) -> Error {
        Error::Conflict {
            kind: KIND,
            name: name.to_owned(),
            reason: "a CronJob of that name exists that this tars instance did not create".into(),
        }
    }

    fn not_found(name: &str) -> Error {
        Error::NotFound {
            kind: KIND,
            name: name.to_owned(),
        }
    }

    /// The label selector of the Jobs of cron job `name` of this instance.
    fn job_selector(&self, name: &str) -> KubeListParams {
        KubeListParams::default().labels(&format!(
            "{CRON_JOB_LABEL}={name},{}={}",
            meta::INSTANCE_LABEL,
            self.ctx.stamp.instance
        ))
    }

    /// The Jobs of cron job `name`.
    async fn jobs_of(&self, name: &str) -> Result<Vec<Job>> {
        Ok(self
            .ctx
            .jobs
            .list(&self.job_selector(name))
            .await
            .map_err(|e| wire(e, Kind::CronJob, name))?
            .items)
    }

    /// The CronJob named `name`, whoever owns it, read from the server.
    async fn fetch_any(&self, name: &str) -> Result<Option<DynamicObject>> {
        self.ctx
            .cron_api
            .get_opt(name)
            .await
            .map_err(|e| wire(e, KIND, name))
    }

    /// The CronJob of this instance named `name`, read from the server.
    async fn fetch(&self, name: &str) -> Result<Option<DynamicObject>> {
        let found = self.fetch_any(name).await?;
        Ok(found.filter(|d| self.ctx.stamp.owns(d.metadata.labels.as_ref())))
    }

    /// Sends `c` (see [`apply_object`]); `None` when creating found the name taken.
    async fn send(&self, c: &CronJob, creating: bool, dry_run: bool) -> Result<Option<CronJob>> {
        let name = c.name();
        let json = cron_job(c, &self.ctx.stamp, &self.ctx.server)?;
        let body: DynamicObject =
            serde_json::from_value(json).map_err(|e| Error::backend(BACKEND, e))?;
        let sent = apply_object(
            &self.ctx.cron_api,
            name,
            &body,
            KIND,
            creating,
            dry_run,
            self.ctx.check_with_dry_run,
        )
        .await?;
        let Sent::Done(sent) = sent else {
            return Ok(None);
        };
        let object = cron_job_from_dynamic(&sent)?;
        if !dry_run {
            self.ctx.cron_jobs.wrote(object.clone());
        }
        Ok(Some(object))
    }

    /// Deletes the CronJob, then its Jobs (with their pods, by the garbage collector), and waits
    /// until the CronJob and its Jobs are gone. The CronJob goes first, at once (background
    /// propagation: no finalizer, so watches see it deleted rather than modified), so that it
    /// starts no new Job meanwhile.
    async fn remove(&self, name: &str) -> Result<()> {
        let params = DeleteParams::background();
        match self.ctx.cron_api.delete(name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => return Err(wire(e, KIND, name)),
        }
        // Jobs of ours not (or no longer) owned by the CronJob go too.
        for job in self.jobs_of(name).await? {
            let Some(job_name) = job.metadata.name else {
                continue;
            };
            match self
                .ctx
                .jobs
                .delete(&job_name, &DeleteParams::background())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => return Err(wire(e, KIND, name)),
            }
        }
        let deadline = tokio::time::Instant::now() + GONE_LIMIT;
        loop {
            let cron_left = self.fetch_any(name).await?.is_some();
            let jobs_left = self.jobs_of(name).await?.len();
            if !cron_left && jobs_left == 0 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    operation: format!(
                        "deletion of CronJob {name} ({} left)",
                        if cron_left {
                            format!("the CronJob and {jobs_left} jobs")
                        } else {
                            format!("{jobs_left} jobs")
                        }
                    ),
                    after: GONE_LIMIT,
                });
            }
            tokio::time::sleep(GONE_POLL).await;
        }
        self.ctx.cron_jobs.deleted(name);
        Ok(())
    }

    /// A name for a manual run of `name`: `<name>-manual-<5 base-36 digits>`, within 63
    /// characters.
    fn manual_job_name(name: &str) -> String {
        let keep = MAX_JOB_NAME - MANUAL_INFIX.len() - SUFFIX_LEN;
        let prefix: String = name.chars().take(keep).collect();
        let prefix = prefix.trim_end_matches('-');
        let mut n = jiff::Timestamp::now().as_nanosecond().unsigned_abs() / 1000;
        let mut suffix = String::with_capacity(SUFFIX_LEN);
        for _ in 0..SUFFIX_LEN {
            let digit = u32::try_from(n % 36).unwrap_or(0);
            suffix.push(char::from_digit(digit, 36).unwrap_or('0'));
            n /= 36;
        }
        format!("{prefix}{MANUAL_INFIX}{suffix}")
    }
}

#[async_trait]
impl ObjectApi<CronJobSpec> for K8sCronJobs {
    async fn apply(
        &self,
        object: &CronJob,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<CronJobSpec>> {
        self.ctx.cron_jobs.synced().await?;
        let name = object.name();
        let desired = self
            .ctx
            .stamp
            .desired(&object.metadata, object.spec.clone());
        match self.ctx.cron_jobs.holder(name) {
            Some(Holder::Foreign) => return Err(Self::conflict(name)),
            Some(Holder::Terminating) => {
                // A delete of ours is being finished: the new job comes after it.
                wait_gone(
                    &self.ctx.cron_api,
                    &self.ctx.cron_jobs,
                    name,
                    KIND,
                    std::time::Duration::from_secs(120),
                )
                .await?;
                self.ctx.cron_jobs.deleted(name);
            }
            _ => {}
        }
        // Taken meanwhile when `send` returns `None`: ours (the watch lags) or someone else's.
        if self.ctx.cron_jobs.holder(name).is_none()
            && let Some(created) = self.send(&desired, true, options.dry_run).await?
        {
            return Ok(ApplyOutcome {
                object: created,
                change: Change::Created,
            });
        }
        let current = match self.fetch_any(name).await? {
            Some(d) if self.ctx.stamp.owns(d.metadata.labels.as_ref()) => {
                cron_job_from_json(&to_json(&d)?, &self.jobs_of(name).await?)?
            }
            Some(_) => return Err(Self::conflict(name)),
            None => {
                return Err(Error::Conflict {
                    kind: KIND,
                    name: name.to_owned(),
                    reason: "the CronJob changed while it was applied; apply again".into(),
                });
            }
        };
        let fields = diff::changed_fields(&current, &desired);
        if fields.is_empty() {
            return Ok(ApplyOutcome {
                object: current,
                change: Change::Unchanged,
            });
        }
        let object = self
            .send(&desired, false, options.dry_run)
            .await?
            .ok_or_else(|| Self::conflict(name))?;
        Ok(ApplyOutcome {
            object,
            change: Change::Updated { fields },
        })
    }

    async fn get(&self, name: &str) -> Result<CronJob> {
        match self.fetch(name).await? {
            Some(d) => cron_job_from_json(&to_json(&d)?, &self.jobs_of(name).await?),
            None => Err(Self::not_found(name)),
        }
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<CronJobSpec>> {
        self.ctx.cron_jobs.synced().await?;
        Ok(self.ctx.cron_jobs.page(params))
    }

    async fn delete(&self, name: &str, _options: DeleteOptions) -> Result<()> {
        self.ctx.cron_jobs.synced().await?;
        match self.ctx.cron_jobs.holder(name) {
            Some(Holder::Foreign) => return Err(Self::conflict(name)),
            None | Some(Holder::Terminating) => return Err(Self::not_found(name)),
            Some(Holder::Ours) => {}
        }
        self.remove(name).await
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<CronJobSpec>> {
        self.ctx.cron_jobs.synced().await?;
        Ok(tars_engine::watcher::stream(
            &self.ctx.cron_jobs,
            selector.clone(),
            "CronJob",
        ))
    }
}

#[async_trait]
impl CronJobs for K8sCronJobs {
    async fn trigger(&self, name: &str) -> Result<String> {
        let found = self
            .fetch(name)
            .await?
            .ok_or_else(|| Self::not_found(name))?;
        let uid = found
            .metadata
            .uid
            .clone()
            .ok_or_else(|| Error::backend(BACKEND, format!("CronJob {name} has no uid")))?;
        let c = cron_job_from_json(&to_json(&found)?, &[])?;
        let job_name = Self::manual_job_name(name);
        let mut job = job_from_cron_job(&c, &self.ctx.stamp, &job_name)?;
        job.metadata.owner_references = Some(vec![OwnerReference {
            api_version: resource(&self.ctx.server).api_version,
            kind: "CronJob".into(),
            name: name.to_owned(),
            uid,
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        self.ctx
            .jobs
            .create(&PostParams::default(), &job)
            .await
            .map_err(|e| wire(e, KIND, name))?;
        Ok(job_name)
    }

    async fn runs(&self, name: &str) -> Result<Vec<CronRun>> {
        if self.fetch(name).await?.is_none() {
            return Err(Self::not_found(name));
        }
        Ok(runs(&self.jobs_of(name).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_jobs_name_fits_in_63_characters() {
        let short = K8sCronJobs::manual_job_name("report");
        assert!(short.starts_with("report-manual-"), "{short}");
        assert_eq!(short.len(), "report-manual-".len() + SUFFIX_LEN);
        let longest = "a".repeat(52);
        let name = K8sCronJobs::manual_job_name(&longest);
        assert_eq!(name.len(), MAX_JOB_NAME, "{name}");
        assert!(name.contains(MANUAL_INFIX));
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
