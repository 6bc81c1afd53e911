//! `CronJobs` through Chronos: the trait impls over [`ChronosClient`] and `convert`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use jiff::Timestamp;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, Change, DeleteOptions, ListParams, ObjectApi, ObjectList,
    WatchEvent, WatchStream,
};
use tars_api::cronjob::{CronJob, CronJobSpec, CronRun, RunOutcome};
use tars_api::diff::changed_fields;
use tars_api::{CronJobs, Error, Kind, LabelSelector, Result};

use super::client::{ChronosClient, Failure};
use super::convert::{self, ServerSettings};
use super::job::{ChronosJob, TaskId};

/// How often a watch lists the jobs.
const WATCH_PERIOD: Duration = Duration::from_millis(500);

/// How long `delete` waits for the killed tasks to end, and `trigger` for its run to show.
const SETTLE: Duration = Duration::from_secs(30);

/// The cron jobs of one tars instance, kept as Chronos jobs.
#[derive(Debug, Clone)]
pub struct ChronosCronJobs {
    client: ChronosClient,
    instance: String,
    server: ServerSettings,
}

/// A job of that name exists in Chronos that this tars instance did not create.
fn foreign(name: &str) -> Error {
    Error::Conflict {
        kind: Kind::CronJob,
        name: name.to_owned(),
        reason: "a Chronos job of this name exists and was not created by this tars instance"
            .to_owned(),
    }
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: Kind::CronJob,
        name: name.to_owned(),
    }
}

fn or_not_found(name: &str) -> impl Fn(Failure) -> Error + '_ {
    move |f| match f {
        Failure::NotFound => not_found(name),
        Failure::Other(e) => e,
    }
}

impl ChronosCronJobs {
    /// Cron jobs of tars instance `instance` on the Chronos `client` talks to.
    pub fn new(client: ChronosClient, instance: impl Into<String>, server: ServerSettings) -> Self {
        ChronosCronJobs {
            client,
            instance: instance.into(),
            server,
        }
    }

    /// The Chronos job `name` if this instance owns it; `NotFound` otherwise.
    async fn owned(&self, name: &str) -> Result<(ChronosJob, CronJob)> {
        let jobs = self.client.jobs().await?;
        jobs.into_iter()
            .find(|j| j.name == name)
            .and_then(|j| convert::from_chronos(&j, &self.instance).map(|o| (j, o)))
            .ok_or_else(|| not_found(name))
    }

    /// [`Self::owned`], but `Conflict` when a job of that name is someone else's: what is
    /// about to change a job says so rather than that there is none.
    async fn owned_for_change(&self, name: &str) -> Result<(ChronosJob, CronJob)> {
        let jobs = self.client.jobs().await?;
        let Some(job) = jobs.into_iter().find(|j| j.name == name) else {
            return Err(not_found(name));
        };
        match convert::from_chronos(&job, &self.instance) {
            Some(object) => Ok((job, object)),
            None => Err(foreign(name)),
        }
    }

    async fn owned_objects(&self) -> Result<Vec<CronJob>> {
        let mut objects: Vec<CronJob> = self
            .client
            .jobs()
            .await?
            .iter()
            .filter_map(|j| convert::from_chronos(j, &self.instance))
            .collect();
        objects.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(objects)
    }
}

/// Every parent of `job` must be a Chronos job, and no parent may lead back to `job`.
fn check_parents(job: &CronJob, jobs: &[ChronosJob]) -> Result<()> {
    let parents_of: BTreeMap<&str, &[String]> = jobs
        .iter()
        .map(|j| (j.name.as_str(), j.parents.as_slice()))
        .chain(std::iter::once((job.name(), job.spec.parents.as_slice())))
        .collect();
    for (i, p) in job.spec.parents.iter().enumerate() {
        if !parents_of.contains_key(p.as_str()) {
            return Err(Error::invalid(
                format!("spec.parents[{i}]"),
                format!("no Chronos job is named {p:?}"),
            ));
        }
    }
    // Depth-first from the job through parents; a path back to it is a cycle.
    let mut stack: Vec<Vec<&str>> = vec![vec![job.name()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path[path.len() - 1];
        for p in parents_of.get(last).copied().unwrap_or_default() {
            if p == job.name() {
                let mut names = path.clone();
                names.push(p);
                return Err(Error::invalid(
                    "spec.parents",
                    format!("parents form a cycle: {}", names.join(" -> ")),
                ));
            }
            if seen.insert(p.as_str()) {
                let mut next = path.clone();
                next.push(p);
                stack.push(next);
            }
        }
    }
    Ok(())
}

#[async_trait]
impl ObjectApi<CronJobSpec> for ChronosCronJobs {
    async fn apply(
        &self,
        object: &CronJob,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<CronJobSpec>> {
        object.validate()?;
        let now = Timestamp::now();
        // What Chronos cannot express is refused before any call — except that a cycle of
        // parents, which needs the stored jobs, is reported as the invalid input it is.
        let converted = convert::to_chronos(object, &self.instance, 1, None, &self.server, now);
        let jobs = if object.spec.parents.is_empty() {
            converted?;
            self.client.jobs().await?
        } else {
            let jobs = self.client.jobs().await?;
            check_parents(object, &jobs)?;
            converted?;
            jobs
        };
        let name = object.name();
        let existing = jobs.iter().find(|j| j.name == name);
        let (generation, created_at, change) = match existing {
            None => (1, Some(now), Change::Created),
            Some(j) => {
                let Some(old) = convert::from_chronos(j, &self.instance) else {
                    return Err(foreign(name));
                };
                // What is read back carries the ownership stamp; so must what it is compared with.
                let mut wanted = object.clone();
                wanted.metadata.stamp_owner(&self.instance);
                let fields = changed_fields(&old, &wanted);
                if fields.is_empty() {
                    return Ok(ApplyOutcome {
                        object: old,
                        change: Change::Unchanged,
                    });
                }
                let generation = old.metadata.generation.unwrap_or(0) + 1;
                (
                    generation,
                    old.metadata.created_at,
                    Change::Updated { fields },
                )
            }
        };
        let mut job = convert::to_chronos(
            object,
            &self.instance,
            generation,
            created_at,
            &self.server,
            now,
        )?;
        if let Some(old) = existing {
            // A replaced job would start counting again: its counters go with it.
            job.success_count = old.success_count;
            job.error_count = old.error_count;
            job.last_success = old.last_success.clone();
            job.last_error = old.last_error.clone();
        }
        if options.dry_run {
            let object = convert::from_chronos(&job, &self.instance)
                .ok_or_else(|| Error::backend(convert::BACKEND, "tars' stamp did not read back"))?;
            return Ok(ApplyOutcome { object, change });
        }
        self.client.put_job(&job).await?;
        let object = self.get(name).await?;
        Ok(ApplyOutcome { object, change })
    }

    async fn get(&self, name: &str) -> Result<CronJob> {
        let (_, mut object) = self.owned(name).await?;
        let stat = self.client.stat(name).await.map_err(or_not_found(name))?;
        let runs = convert::runs_from_stats(
            &object.spec,
            name,
            &stat.task_stat_history,
            Timestamp::now(),
        );
        let mut status = object.status_or_default();
        status.active = runs
            .iter()
            .filter(|r| r.outcome == RunOutcome::Running)
            .map(|r| r.group.clone())
            .collect();
        status.last_schedule = runs.iter().filter(|r| !r.manual).map(|r| r.slot).max();
        object.status = Some(status);
        Ok(object)
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<CronJobSpec>> {
        Ok(ObjectList::page(&self.owned_objects().await?, params))
    }

    async fn delete(&self, name: &str, _options: DeleteOptions) -> Result<()> {
        self.owned_for_change(name).await?;
        self.client
            .kill_tasks(name)
            .await
            .map_err(or_not_found(name))?;
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            let stat = self.client.stat(name).await.map_err(or_not_found(name))?;
            if !stat.task_stat_history.iter().any(|t| t.status == "Running") {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    operation: format!("delete cron job {name}: its tasks to end"),
                    after: SETTLE,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.client
            .delete_job(name)
            .await
            .map_err(or_not_found(name))
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<CronJobSpec>> {
        let params = ListParams::matching(selector.clone());
        let first = self.list(&params).await?.items;
        let mut pending: VecDeque<Result<WatchEvent<CronJobSpec>>> = first
            .iter()
            .cloned()
            .map(|o| Ok(WatchEvent::Existing(o)))
            .collect();
        pending.push_back(Ok(WatchEvent::SnapshotDone));
        let known: BTreeMap<String, CronJob> = first
            .into_iter()
            .map(|o| (o.name().to_owned(), o))
            .collect();
        let api = self.clone();
        let stream = futures::stream::unfold(
            (api, params, known, pending),
            |(api, params, mut known, mut pending)| async move {
                loop {
                    if let Some(event) = pending.pop_front() {
                        return Some((event, (api, params, known, pending)));
                    }
                    tokio::time::sleep(WATCH_PERIOD).await;
                    match api.list(&params).await {
                        Err(e) if e.is_retryable() => continue,
                        Err(e) => pending.push_back(Err(e)),
                        Ok(list) => {
                            let now: BTreeMap<String, CronJob> = list
                                .items
                                .into_iter()
                                .map(|o| (o.name().to_owned(), o))
                                .collect();
                            for (name, old) in &known {
                                if !now.contains_key(name) {
                                    pending.push_back(Ok(WatchEvent::Deleted(old.clone())));
                                }
                            }
                            for (name, o) in &now {
                                match known.get(name) {
                                    None => pending.push_back(Ok(WatchEvent::Added(o.clone()))),
                                    Some(old) if old != o => {
                                        pending.push_back(Ok(WatchEvent::Modified(o.clone())))
                                    }
                                    Some(_) => {}
                                }
                            }
                            known = now;
                        }
                    }
                }
            },
        );
        Ok(stream.boxed())
    }
}

#[async_trait]
impl CronJobs for ChronosCronJobs {
    async fn trigger(&self, name: &str) -> Result<String> {
        self.owned_for_change(name).await?;
        let before: BTreeSet<String> = self
            .client
            .stat(name)
            .await
            .map_err(or_not_found(name))?
            .task_stat_history
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        let asked = Timestamp::now().as_millisecond();
        self.client
            .run_job(name)
            .await
            .map_err(or_not_found(name))?;
        // Chronos answers 204 and names the run only in its task history: the new first
        // attempt due at about the instant it was asked for.
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            let stat = self.client.stat(name).await.map_err(or_not_found(name))?;
            let new = stat.task_stat_history.iter().find_map(|t| {
                let id = TaskId::parse(&t.task_id)?;
                (id.attempt == 0 && id.due_ms >= asked - 1000 && !before.contains(&t.task_id))
                    .then(|| convert::run_group(name, id.due_ms))
            });
            if let Some(group) = new {
                return Ok(group);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    operation: format!(
                        "trigger {name}: the run was asked for, but Chronos' task history \
                         (kept only when Chronos has Cassandra) did not show it"
                    ),
                    after: SETTLE,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn runs(&self, name: &str) -> Result<Vec<CronRun>> {
        let (_, object) = self.owned(name).await?;
        let stat = self.client.stat(name).await.map_err(or_not_found(name))?;
        Ok(convert::runs_from_stats(
            &object.spec,
            name,
            &stat.task_stat_history,
            Timestamp::now(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tars_api::{Container, ContainerGroupSpec};

    fn chronos(name: &str, parents: &[&str]) -> ChronosJob {
        ChronosJob {
            name: name.into(),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn parents_must_exist_and_must_not_close_a_cycle() {
        let stored = [
            chronos("a", &[]),
            chronos("b", &["a"]),
            chronos("c", &["b"]),
        ];
        let spec = ContainerGroupSpec::new(vec![Container::new("m", "i", &["true"])]);
        let mut a = CronJob::new("a", CronJobSpec::new(None, spec));
        a.spec.parents = vec!["c".into()];
        match check_parents(&a, &stored) {
            Err(Error::Invalid { field, reason }) => {
                assert_eq!(field, "spec.parents");
                assert_eq!(reason, "parents form a cycle: a -> c -> b -> a");
            }
            other => panic!("{other:?}"),
        }
        a.spec.parents = vec!["b".into(), "zz".into()];
        assert_eq!(
            check_parents(&a, &stored)
                .err()
                .and_then(|e| e.field().map(str::to_owned)),
            Some("spec.parents[1]".to_owned())
        );
        let mut d = a.clone();
        d.metadata.name = "d".into();
        d.spec.parents = vec!["c".into()];
        assert!(check_parents(&d, &stored).is_ok());
    }
}
