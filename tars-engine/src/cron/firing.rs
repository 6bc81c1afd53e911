//! Firing timers: due slots (caught up and collapsed, recorded, admitted by the concurrency
//! policy, then begun), retries and active deadlines.

use std::cmp::Reverse;
use std::time::Duration;

use jiff::Timestamp;
use tars_api::events::Event;
use tars_api::{ConcurrencyPolicy, CronRun, Result, RunOutcome};

use super::core::{Active, Core, Effect, Step, Timer, add, not_found};
use super::ending::run_group;
use super::naming::{self, Origin};
use super::plan::{self, Admit};
use super::state::{RUNS, STATE, StoredRun};
use crate::metrics::{
    CRON_LATENESS_SECONDS, CRON_MISSED_SLOTS_TOTAL, CRON_RUN_DURATION_SECONDS,
    CRON_RUNS_STARTED_TOTAL, CRON_RUNS_TOTAL, seconds_between,
};

impl Core {
    /// Handles every timer due at `now`: slots (all of them in one store transaction),
    /// retries and active deadlines.
    pub fn fire(&mut self, now: Timestamp) -> Result<Vec<Effect>> {
        let mut step = Step::default();
        while let Some(Reverse((at, _, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, _, timer))) = self.timers.pop() else {
                break;
            };
            match timer {
                Timer::Slot { job, generation } => {
                    if self.jobs.get(&job).map(|j| j.generation) == Some(generation) {
                        self.slot_due(&mut step, &job, now)?;
                    }
                }
                Timer::Retry { key } => self.retry_due(&mut step, &key, now)?,
                Timer::Deadline { key, attempt } => {
                    let overran = self.active.get(&key).is_some_and(|a| {
                        a.stored.run.attempt == attempt && a.stored.retry_at.is_none()
                    });
                    if overran {
                        let limit = self
                            .active
                            .get(&key)
                            .and_then(|a| self.jobs.get(a.job.as_str()))
                            .and_then(|j| j.spec.active_deadline)
                            .unwrap_or_default();
                        self.finish(
                            &mut step,
                            &key,
                            false,
                            None,
                            format!("overran its active deadline of {limit:?} and was stopped"),
                            now,
                        )?;
                    }
                }
            }
        }
        self.commit(step)
    }

    /// Handles ahead of time the slots due at or before `at`, an instant still to come: each
    /// is planned as at its own instant and recorded in one store transaction now, and the
    /// effects returned are for the caller to hand out at `at` (the record is durable before
    /// the start, as always; a restart in between starts the recorded run once, see
    /// [`Core::reconcile`]). Slots whose concurrency decision could still change before `at`
    /// (a `Forbid` or `Replace` job with an active run, which may end meanwhile) are left to
    /// [`Core::fire`] at their instant, as are retries and deadlines.
    pub fn prepare(&mut self, at: Timestamp) -> Result<Vec<Effect>> {
        self.preparing = true;
        let result = self.prepare_inner(at);
        self.preparing = false;
        result
    }

    fn prepare_inner(&mut self, at: Timestamp) -> Result<Vec<Effect>> {
        let mut step = Step::default();
        let mut later = Vec::new();
        let mut result = Ok(());
        while let Some(Reverse((t, _, _))) = self.timers.peek() {
            if *t > at {
                break;
            }
            let Some(Reverse((t, seq, timer))) = self.timers.pop() else {
                break;
            };
            let Timer::Slot { job, generation } = timer else {
                later.push(Reverse((t, seq, timer)));
                continue;
            };
            let Some(j) = self.jobs.get(&job) else {
                continue;
            };
            if j.generation != generation {
                continue;
            }
            if !j.active.is_empty() && j.spec.concurrency != ConcurrencyPolicy::Allow {
                later.push(Reverse((t, seq, Timer::Slot { job, generation })));
                continue;
            }
            if let Err(e) = self.slot_due(&mut step, &job, t) {
                result = Err(e);
                break;
            }
        }
        for timer in later {
            self.timers.push(timer);
        }
        result?;
        self.commit(step)
    }

    fn slot_due(&mut self, step: &mut Step, name: &str, now: Timestamp) -> Result<()> {
        let Some(job) = self.jobs.get(name) else {
            return Ok(());
        };
        let Some(schedule) = &job.schedule else {
            return Ok(());
        };
        let after = job.state.last_slot.get().unwrap_or(now);
        let due = plan::due(schedule, after, job.spec.starting_deadline, now);
        let (reason, label) = if due.run.is_some() {
            (
                "tars was not running at this slot; only the latest passed slot was caught up",
                "caught_up",
            )
        } else {
            ("past the starting deadline", "starting_deadline")
        };
        if due.missed_count > 0 {
            metrics::counter!(CRON_MISSED_SLOTS_TOTAL, "reason" => label)
                .increment(due.missed_count);
        }
        for slot in &due.missed {
            let base = naming::base_name(name, Origin::Slot, *slot);
            self.record_missed(step, name, *slot, base, reason)?;
        }
        if let Some(job) = self.jobs.get_mut(name) {
            job.state.missed_count += due.missed_count;
            if let Some(h) = due.handled_up_to {
                job.state.last_slot = h.into();
            }
        }
        if let Some(slot) = due.run {
            self.admit_and_begin(step, name, Origin::Slot, slot, now)?;
        }
        let key = self.key(name);
        if let (Some(key), Some(job)) = (key, self.jobs.get_mut(name)) {
            step.batch = std::mem::take(&mut step.batch).put_json(STATE, name, &job.state)?;
            job.next = due.next.into();
            if let Some(at) = due.next {
                let timer = Timer::Slot {
                    job: key,
                    generation: job.generation,
                };
                self.push(at, timer);
            }
        }
        if !due.missed.is_empty() {
            step.prune.insert(name.to_owned());
        }
        self.mark_changed(name);
        Ok(())
    }

    fn record_missed(
        &mut self,
        step: &mut Step,
        job: &str,
        slot: Timestamp,
        base: String,
        reason: &str,
    ) -> Result<()> {
        let key = naming::record_key(job, slot, &base);
        let stored = StoredRun {
            run: CronRun {
                slot,
                group: base.clone(),
                started_at: None,
                finished_at: None,
                attempt: 0,
                outcome: RunOutcome::Missed,
                exit_code: None,
                reason: Some(reason.to_owned()),
                manual: false,
            },
            base,
            retry_at: None,
        };
        step.batch = std::mem::take(&mut step.batch).put_json(RUNS, &key, &stored)?;
        self.event(step, || Event::CronRunMissed {
            job: job.to_owned(),
            slot,
            reason: reason.to_owned(),
        });
        Ok(())
    }

    pub(super) fn admit_and_begin(
        &mut self,
        step: &mut Step,
        name: &str,
        origin: Origin,
        slot: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        let Some(job) = self.jobs.get(name) else {
            return Ok(());
        };
        match plan::admit(job.spec.concurrency, job.active.len()) {
            Admit::Start => {}
            Admit::Skip => {
                let base = naming::base_name(name, origin, slot);
                self.record_missed(
                    step,
                    name,
                    slot,
                    base,
                    "the previous run was still active (concurrency: Forbid)",
                )?;
                metrics::counter!(CRON_MISSED_SLOTS_TOTAL, "reason" => "concurrency").increment(1);
                // Stored by the caller (`slot_due`, `children_due`), once per step and job.
                if let Some(job) = self.jobs.get_mut(name) {
                    job.state.missed_count += 1;
                }
                step.prune.insert(name.to_owned());
                return Ok(());
            }
            Admit::Replace => {
                let keys = job.active.clone();
                let grace = job.spec.grace;
                for key in keys {
                    if let Some(started) =
                        self.active.get(&key).and_then(|a| a.stored.run.started_at)
                    {
                        metrics::counter!(CRON_RUNS_TOTAL, "outcome" => "replaced").increment(1);
                        metrics::histogram!(CRON_RUN_DURATION_SECONDS, "outcome" => "replaced")
                            .record(seconds_between(started, now));
                    }
                    self.end_active(step, &key, grace, |run| {
                        run.outcome = RunOutcome::Replaced;
                        run.finished_at = Some(now);
                        run.reason = Some(format!(
                            "replaced by the run of slot {slot} (concurrency: Replace)"
                        ));
                    })?;
                }
                step.prune.insert(name.to_owned());
            }
        }
        self.begin(step, name, origin, slot, now).map(drop)
    }

    /// Ends active run `key` with `edit` applied to its record, stopping its group.
    pub(super) fn end_active(
        &mut self,
        step: &mut Step,
        key: &str,
        grace: Duration,
        edit: impl FnOnce(&mut CronRun),
    ) -> Result<()> {
        let Some(mut active) = self.active.remove(key) else {
            return Ok(());
        };
        if self.by_group.remove(&active.stored.run.group).is_some() {
            step.effects.push(Effect::Stop {
                group: active.stored.run.group.clone(),
                grace,
            });
        }
        active.stored.retry_at = None;
        edit(&mut active.stored.run);
        step.batch = std::mem::take(&mut step.batch).put_json(RUNS, key, &active.stored)?;
        if let Some(job) = self.jobs.get_mut(active.job.as_str()) {
            job.active.retain(|k| k != key);
        }
        Ok(())
    }

    /// Records and starts a run; returns its group name.
    pub(super) fn begin(
        &mut self,
        step: &mut Step,
        name: &str,
        origin: Origin,
        slot: Timestamp,
        now: Timestamp,
    ) -> Result<String> {
        let object = self.stored_object(name)?;
        let Some(job) = self.jobs.get_mut(name) else {
            return Err(not_found(name));
        };
        let mut slot = slot;
        let (mut base, mut key);
        loop {
            base = naming::base_name(name, origin, slot);
            key = naming::record_key(name, slot, &base);
            // Two manual runs in one millisecond: the second takes the next one.
            if origin == Origin::Slot || !self.active.contains_key(&key) {
                break;
            }
            slot = add(slot, Duration::from_millis(1));
        }
        let stored = StoredRun {
            run: CronRun {
                slot,
                group: base.clone(),
                started_at: Some(now),
                finished_at: None,
                attempt: 1,
                outcome: RunOutcome::Running,
                exit_code: None,
                reason: None,
                manual: origin == Origin::Manual,
            },
            base: base.clone(),
            retry_at: None,
        };
        job.state.last_started = now.into();
        if origin == Origin::Slot {
            job.state.last_schedule = slot.into();
            if !self.preparing {
                metrics::histogram!(CRON_LATENESS_SECONDS).record(seconds_between(slot, now));
            }
        }
        metrics::counter!(CRON_RUNS_STARTED_TOTAL, "attempt" => "first").increment(1);
        job.active.push(key.clone());
        let group = run_group(&object, &base);
        let deadline = job.spec.active_deadline;
        step.batch = std::mem::take(&mut step.batch).put_json(RUNS, &key, &stored)?;
        // A scheduled or parent-started run's state is stored by its caller, once per step.
        if origin == Origin::Manual {
            step.batch = std::mem::take(&mut step.batch).put_json(STATE, name, &job.state)?;
        }
        step.effects.push(Effect::Start(Box::new(group)));
        step.begun.push(key.clone());
        self.by_group.insert(base.clone(), key.clone());
        self.active.insert(
            key.clone(),
            Active {
                job: name.to_owned(),
                stored,
            },
        );
        if let Some(d) = deadline {
            self.push(add(now, d), Timer::Deadline { key, attempt: 1 });
        }
        self.event(step, || Event::CronRunStarted {
            job: name.to_owned(),
            slot,
            attempt: 1,
        });
        Ok(base)
    }

    fn retry_due(&mut self, step: &mut Step, key: &str, now: Timestamp) -> Result<()> {
        let Some(name) = self.active.get(key).map(|a| a.job.clone()) else {
            return Ok(());
        };
        let object = self.stored_object(&name)?;
        let Some(active) = self.active.get_mut(key) else {
            return Ok(());
        };
        if active.stored.retry_at.is_none() {
            return Ok(());
        }
        let Some(job) = self.jobs.get(active.job.as_str()) else {
            return Ok(());
        };
        let run = &mut active.stored.run;
        run.attempt += 1;
        run.group = naming::attempt_name(&active.stored.base, run.attempt);
        run.started_at = Some(now);
        run.reason = None;
        run.exit_code = None;
        active.stored.retry_at = None;
        let attempt = run.attempt;
        let slot = run.slot;
        let group = run.group.clone();
        step.batch = std::mem::take(&mut step.batch).put_json(RUNS, key, &active.stored)?;
        step.effects
            .push(Effect::Start(Box::new(run_group(&object, &group))));
        let deadline = job.spec.active_deadline;
        self.by_group.insert(group, key.to_owned());
        if let Some(d) = deadline {
            self.push(
                add(now, d),
                Timer::Deadline {
                    key: key.to_owned(),
                    attempt,
                },
            );
        }
        metrics::counter!(CRON_RUNS_STARTED_TOTAL, "attempt" => "retry").increment(1);
        self.event(step, || Event::CronRunStarted {
            job: name.clone(),
            slot,
            attempt,
        });
        self.mark_changed(&name);
        Ok(())
    }
}
