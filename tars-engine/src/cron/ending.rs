//! The end of an attempt: retried, or recorded as final with the job's counters; a success
//! may make children due. Also the reports of the driver (group events, lost groups) and the
//! reconciliation after a restart.

use std::collections::BTreeSet;

use jiff::Timestamp;
use tars_api::group::ContainerState;
use tars_api::meta::{Labels, OWNER_LABEL};
use tars_api::{
    ContainerGroup, ContainerGroupSpec, CronJob, ObjectMeta, Result, RunOutcome, WatchEvent,
};

use super::CRON_JOB_LABEL;
use super::core::{Core, Effect, Step, Timer};
use super::naming::Origin;
use super::plan;
use super::state::{RUNS, STATE};
use crate::metrics::{CRON_RUN_DURATION_SECONDS, CRON_RUNS_TOTAL, seconds_between};
use tars_api::events::Event;

impl Core {
    /// A run's attempt ended: retried when it failed and retries are left, recorded as final
    /// otherwise; a success may make children due.
    pub(super) fn finish(
        &mut self,
        step: &mut Step,
        key: &str,
        succeeded: bool,
        exit_code: Option<i32>,
        reason: String,
        now: Timestamp,
    ) -> Result<()> {
        let Some(active) = self.active.get_mut(key) else {
            return Ok(());
        };
        let name = active.job.clone();
        let Some(job) = self.jobs.get_mut(name.as_str()) else {
            return Ok(());
        };
        let spec = &job.spec;
        let grace = spec.grace;
        if self.by_group.remove(&active.stored.run.group).is_some() {
            step.effects.push(Effect::Stop {
                group: active.stored.run.group.clone(),
                grace,
            });
        }
        let run = &mut active.stored.run;
        run.exit_code = exit_code;
        let took = run.started_at.map_or(0.0, |s| seconds_between(s, now));
        let retry_at = if succeeded {
            None
        } else {
            plan::retry_at(spec.retries, spec.retry_backoff, run.attempt, now)
        };
        let outcome = match (succeeded, retry_at.is_some()) {
            (true, _) => "succeeded",
            (false, true) => "retried",
            (false, false) => "failed",
        };
        metrics::counter!(CRON_RUNS_TOTAL, "outcome" => outcome).increment(1);
        metrics::histogram!(CRON_RUN_DURATION_SECONDS, "outcome" => outcome).record(took);
        let (slot, attempt) = (run.slot, run.attempt);
        if !self.hooks.is_empty() {
            step.events.push(if succeeded {
                Event::CronRunSucceeded {
                    job: name.clone(),
                    slot,
                }
            } else {
                Event::CronRunFailed {
                    job: name.clone(),
                    slot,
                    attempt,
                    final_attempt: retry_at.is_none(),
                    exit_code,
                    reason: reason.clone(),
                }
            });
        }
        if let Some(at) = retry_at {
            run.reason = Some(format!(
                "attempt {} failed: {reason}; retrying at {at}",
                run.attempt
            ));
            active.stored.retry_at = Some(at);
            step.batch = std::mem::take(&mut step.batch).put_json(RUNS, key, &active.stored)?;
            self.push(
                at,
                Timer::Retry {
                    key: key.to_owned(),
                },
            );
            self.mark_changed(&name);
            return Ok(());
        }
        run.outcome = if succeeded {
            RunOutcome::Succeeded
        } else {
            RunOutcome::Failed
        };
        run.finished_at = Some(now);
        run.reason = Some(reason);
        if succeeded {
            job.state.success_count += 1;
            job.state.last_success = now.into();
        } else {
            job.state.error_count += 1;
            job.state.last_error = now.into();
        }
        job.active.retain(|k| k != key);
        step.batch = std::mem::take(&mut step.batch)
            .put_json(RUNS, key, &active.stored)?
            .put_json(STATE, &name, &job.state)?;
        self.active.remove(key);
        step.prune.insert(name.clone());
        self.mark_changed(&name);
        if succeeded {
            self.children_due(step, &name, now)?;
        }
        Ok(())
    }

    /// Starts each child of `parent` whose parents have all succeeded since its last run.
    fn children_due(&mut self, step: &mut Step, parent: &str, now: Timestamp) -> Result<()> {
        let children: Vec<String> = self
            .children
            .get(parent)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default();
        for child in children {
            let Some(job) = self.jobs.get(child.as_str()) else {
                continue;
            };
            if job.spec.suspend {
                continue;
            }
            let since = job
                .state
                .last_started
                .get()
                .into_iter()
                .chain(job.created_at.get())
                .max()
                .unwrap_or(Timestamp::UNIX_EPOCH);
            let successes: Vec<Option<Timestamp>> = job
                .spec
                .parents
                .iter()
                .map(|p| {
                    self.jobs
                        .get(p.as_str())
                        .and_then(|j| j.state.last_success.get())
                })
                .collect();
            if plan::parents_satisfied(since, &successes) {
                self.admit_and_begin(step, &child, Origin::Parents, now, now)?;
                if let Some(job) = self.jobs.get_mut(child.as_str()) {
                    // Consumed, even when Forbid skipped it: the next run needs new successes.
                    job.state.last_started = now.into();
                    step.batch =
                        std::mem::take(&mut step.batch).put_json(STATE, &child, &job.state)?;
                }
                self.mark_changed(&child);
            }
        }
        Ok(())
    }

    /// A run group's state as the driver reports it; a terminal phase ends the attempt.
    pub fn group_event(&mut self, group: &ContainerGroup, now: Timestamp) -> Result<Vec<Effect>> {
        let mut step = Step::default();
        self.group_event_into(&mut step, group, now)?;
        self.commit(step)
    }

    /// What the driver's watch reported, all handled in one step (one store transaction).
    /// A group no active run owns that appears is stopped (see [`Core::untracked`]).
    pub fn watch_events(
        &mut self,
        events: &[WatchEvent<ContainerGroupSpec>],
        now: Timestamp,
    ) -> Result<Vec<Effect>> {
        let mut step = Step::default();
        for event in events {
            match event {
                WatchEvent::Existing(g) | WatchEvent::Added(g) => match self.untracked(g) {
                    Some(stop) => step.effects.push(stop),
                    None => self.group_event_into(&mut step, g, now)?,
                },
                WatchEvent::Modified(g) => self.group_event_into(&mut step, g, now)?,
                WatchEvent::Deleted(g) => {
                    // Forgotten first: a group already gone needs no stop.
                    if let Some(key) = self.by_group.remove(g.name()) {
                        let why = "its group was deleted".to_owned();
                        self.finish(&mut step, &key, false, None, why, now)?;
                    }
                }
                WatchEvent::SnapshotDone => {}
            }
        }
        self.commit(step)
    }

    fn group_event_into(
        &mut self,
        step: &mut Step,
        group: &ContainerGroup,
        now: Timestamp,
    ) -> Result<()> {
        let Some(key) = self.by_group.get(group.name()).cloned() else {
            return Ok(());
        };
        let Some(status) = &group.status else {
            return Ok(());
        };
        if !status.phase.is_terminal() {
            return Ok(());
        }
        let succeeded = status.phase == tars_api::GroupPhase::Succeeded;
        let terminations = status.containers.iter().filter_map(|c| match &c.state {
            ContainerState::Terminated(t) => Some((c.name.as_str(), t)),
            _ => None,
        });
        let mut exit_code = succeeded.then_some(0);
        let mut reason = if succeeded {
            "every container exited 0".to_owned()
        } else {
            status
                .message
                .clone()
                .unwrap_or_else(|| "the group failed".to_owned())
        };
        for (name, t) in terminations {
            if !succeeded && t.exit_code != Some(0) {
                exit_code = t.exit_code;
                reason = match (t.exit_code, t.signal) {
                    (Some(code), _) => format!("container {name} exited {code} ({})", t.reason),
                    (None, Some(sig)) => format!("container {name} killed by signal {sig}"),
                    _ => format!("container {name}: {}", t.reason),
                };
                break;
            }
        }
        self.finish(step, &key, succeeded, exit_code, reason, now)
    }

    /// A run group appeared that no active run owns: its run ended (or its job went) while
    /// its start was still under way. It is stopped, so that no run group is left behind.
    pub fn untracked(&self, group: &ContainerGroup) -> Option<Effect> {
        (!self.by_group.contains_key(group.name())).then(|| Effect::Stop {
            group: group.name().to_owned(),
            grace: group.spec.termination_grace_period,
        })
    }

    /// A run group vanished, or could not be started: the attempt failed.
    pub fn group_lost(&mut self, group: &str, why: &str, now: Timestamp) -> Result<Vec<Effect>> {
        let Some(key) = self.by_group.get(group).cloned() else {
            return Ok(Vec::new());
        };
        let mut step = Step::default();
        self.finish(&mut step, &key, false, None, why.to_owned(), now)?;
        self.commit(step)
    }

    /// After a restart: `existing` are the run groups the driver has, listed when the active
    /// groups were `listed_for` ([`Core::active_groups`] just before the listing was asked
    /// for). Active runs of `listed_for` whose group is missing were recorded but never
    /// started, so they start now (the first start of their slot, not a second); a run begun
    /// while the listing was under way (a trigger, a slot) is started by its own effect and is
    /// left alone, since the listing could not show its group. Groups of no active run are
    /// left-overs and are removed; groups that ended while tars was down end their runs.
    pub fn reconcile(
        &mut self,
        existing: &[ContainerGroup],
        listed_for: &BTreeSet<String>,
        now: Timestamp,
    ) -> Result<Vec<Effect>> {
        let present: BTreeSet<&str> = existing.iter().map(|g| g.name()).collect();
        let mut effects = Vec::new();
        for g in existing {
            if !self.by_group.contains_key(g.name()) {
                effects.push(Effect::Stop {
                    group: g.name().to_owned(),
                    grace: g.spec.termination_grace_period,
                });
            }
        }
        let mut missing: Vec<(String, String)> = self
            .by_group
            .iter()
            .filter(|(g, _)| !present.contains(g.as_str()) && listed_for.contains(g.as_str()))
            .map(|(g, k)| (g.clone(), k.clone()))
            .collect();
        missing.sort();
        for (group, key) in missing {
            let Some(active) = self.active.get(&key) else {
                continue;
            };
            if self.jobs.contains_key(active.job.as_str()) {
                let object = self.stored_object(&active.job)?;
                effects.push(Effect::Start(Box::new(run_group(&object, &group))));
            }
        }
        for g in existing {
            effects.extend(self.group_event(g, now)?);
        }
        Ok(effects)
    }
}

/// The group of a run: the template, named `name`, labelled with its job.
pub(super) fn run_group(job: &CronJob, name: &str) -> ContainerGroup {
    let template = &job.spec.template;
    let mut labels: Labels = template.labels.clone();
    labels.insert(OWNER_LABEL.to_owned(), job.name().to_owned());
    labels.insert(CRON_JOB_LABEL.to_owned(), job.name().to_owned());
    ContainerGroup {
        metadata: ObjectMeta {
            name: name.to_owned(),
            labels,
            annotations: template.annotations.clone(),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}
