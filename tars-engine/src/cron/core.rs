//! The cron engine's state machine: every job, every active run, and one priority queue of
//! timers (slots, retries, deadlines) for all of them. Synchronous and given `now` by its
//! caller, so it runs the same on the real clock and on a virtual one in tests.
//!
//! Each step builds one store [`Batch`] and a list of [`Effect`]s; the batch is written before
//! any effect is handed out, so a slot is recorded before its run starts.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tars_api::group::ContainerState;
use tars_api::meta::{Labels, OWNER_LABEL};
use tars_api::{
    ContainerGroup, CronJob, CronJobStatus, CronRun, Error, ObjectMeta, Result, RunOutcome,
    Schedule,
};

use super::CRON_JOB_LABEL;
use super::naming::{self, Origin};
use super::plan::{self, Admit};
use super::state::{JOBS, JobState, RUNS, STATE, StoredRun};
use crate::store::{Batch, Store, decode};

/// What the engine must do outside its lock after a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start this run group (its record is stored already).
    Start(Box<ContainerGroup>),
    /// Stop and remove this run group.
    Stop {
        /// The group.
        group: String,
        /// Its termination grace period.
        grace: Duration,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Slot { job: String, generation: u64 },
    Retry { key: String },
    Deadline { key: String, attempt: u32 },
}

struct Job {
    /// Metadata and spec; the status is computed on demand.
    object: CronJob,
    schedule: Option<Schedule>,
    state: JobState,
    /// Bumped on every reschedule; a slot timer of an older generation is stale.
    generation: u64,
    next: Option<Timestamp>,
    /// Record keys of its active runs, oldest first.
    active: Vec<String>,
}

struct Active {
    job: String,
    stored: StoredRun,
}

/// One step's writes and effects, committed together.
#[derive(Default)]
struct Step {
    batch: Batch,
    effects: Vec<Effect>,
    /// Record keys of runs this step made active, forgotten again if the write fails.
    begun: Vec<String>,
    prune: BTreeSet<String>,
}

/// All jobs and runs of one engine.
pub struct Core {
    store: Arc<dyn Store>,
    jobs: HashMap<String, Job>,
    /// Parent name → names of the jobs that list it as a parent.
    children: HashMap<String, BTreeSet<String>>,
    active: HashMap<String, Active>,
    /// Group of the current attempt → record key.
    by_group: HashMap<String, String>,
    timers: BinaryHeap<Reverse<(Timestamp, u64, Timer)>>,
    seq: u64,
    version: u64,
    /// Jobs whose status changed since the caller last drained this.
    changed: BTreeSet<String>,
}

fn store_err(e: impl std::fmt::Display) -> Error {
    Error::backend("cron", e.to_string())
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: tars_api::Kind::CronJob,
        name: name.to_owned(),
    }
}

fn add(at: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

fn parse_schedule(job: &CronJob) -> Result<Option<Schedule>> {
    job.spec
        .schedule
        .as_deref()
        .map(|expr| {
            Schedule::parse(expr, job.spec.time_zone.as_deref())
                .map_err(|r| Error::invalid("spec.schedule", r))
        })
        .transpose()
}

impl Core {
    /// Loads every job and run record from `store`; active runs are resumed (their groups are
    /// reconciled by [`Core::reconcile`]) and slots passed while tars was down are caught up
    /// at the first [`Core::fire`].
    /// Jobs for which `keep` is false (another tars instance's) stay in the store untouched.
    pub fn load(
        store: Arc<dyn Store>,
        now: Timestamp,
        keep: &dyn Fn(&CronJob) -> bool,
    ) -> Result<Core> {
        let mut core = Core {
            store,
            jobs: HashMap::new(),
            children: HashMap::new(),
            active: HashMap::new(),
            by_group: HashMap::new(),
            timers: BinaryHeap::new(),
            seq: 0,
            version: 0,
            changed: BTreeSet::new(),
        };
        let mut states: HashMap<String, JobState> = HashMap::new();
        for (name, bytes) in core.store.scan(STATE, "")? {
            states.insert(name.clone(), decode(STATE, &name, &bytes)?);
        }
        for (name, bytes) in core.store.scan(JOBS, "")? {
            let object: CronJob = decode(JOBS, &name, &bytes)?;
            if !keep(&object) {
                continue;
            }
            let schedule = parse_schedule(&object)?;
            let state = states.remove(&name).unwrap_or(JobState {
                last_slot: Some(now),
                ..JobState::default()
            });
            core.insert_job(object, schedule, state);
        }
        for (key, bytes) in core.store.scan(RUNS, "")? {
            let stored: StoredRun = decode(RUNS, &key, &bytes)?;
            if stored.run.outcome.is_final() {
                continue;
            }
            let job = key.split('/').next().unwrap_or_default().to_owned();
            let Some(j) = core.jobs.get_mut(&job) else {
                continue;
            };
            j.active.push(key.clone());
            let deadline = j.object.spec.active_deadline;
            match stored.retry_at {
                Some(at) => core.push(at, Timer::Retry { key: key.clone() }),
                None => {
                    core.by_group.insert(stored.run.group.clone(), key.clone());
                    if let (Some(d), Some(started)) = (deadline, stored.run.started_at) {
                        let attempt = stored.run.attempt;
                        core.push(
                            add(started, d),
                            Timer::Deadline {
                                key: key.clone(),
                                attempt,
                            },
                        );
                    }
                }
            }
            core.active.insert(key, Active { job, stored });
        }
        let names: Vec<String> = core.jobs.keys().cloned().collect();
        for name in names {
            core.reschedule(&name, now);
        }
        Ok(core)
    }

    fn insert_job(&mut self, object: CronJob, schedule: Option<Schedule>, state: JobState) {
        let name = object.name().to_owned();
        for p in &object.spec.parents {
            self.children
                .entry(p.clone())
                .or_default()
                .insert(name.clone());
        }
        // The generation carries on, so that the old incarnation's slot timer stays stale.
        let (active, generation) = self
            .jobs
            .remove(&name)
            .map(|j| {
                self.unlink_parents(&j.object);
                (j.active, j.generation)
            })
            .unwrap_or_default();
        self.jobs.insert(
            name,
            Job {
                object,
                schedule,
                state,
                generation,
                next: None,
                active,
            },
        );
    }

    fn unlink_parents(&mut self, object: &CronJob) {
        for p in &object.spec.parents {
            if let Some(set) = self.children.get_mut(p) {
                set.remove(object.name());
                if set.is_empty() {
                    self.children.remove(p);
                }
            }
        }
    }

    fn push(&mut self, at: Timestamp, timer: Timer) {
        self.seq += 1;
        self.timers.push(Reverse((at, self.seq, timer)));
    }

    /// Arms the job's next slot timer (none while suspended or without a schedule).
    fn reschedule(&mut self, name: &str, now: Timestamp) {
        let Some(job) = self.jobs.get_mut(name) else {
            return;
        };
        job.generation += 1;
        job.next = None;
        if job.object.spec.suspend {
            return;
        }
        let Some(schedule) = &job.schedule else {
            return;
        };
        let after = job.state.last_slot.unwrap_or(now);
        job.next = schedule.next_after(after);
        if let Some(at) = job.next {
            let timer = Timer::Slot {
                job: name.to_owned(),
                generation: job.generation,
            };
            self.push(at, timer);
        }
    }

    fn mark_changed(&mut self, name: &str) {
        if let Some(job) = self.jobs.get_mut(name) {
            self.version += 1;
            job.object.metadata.resource_version = Some(self.version.to_string());
            self.changed.insert(name.to_owned());
        }
    }

    /// Names of the jobs whose status changed since the last call.
    pub fn take_changed(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.changed)
    }

    /// When the earliest timer is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    /// How many jobs are stored.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// True when no job is stored.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The job with its status, if stored.
    pub fn object(&self, name: &str) -> Option<CronJob> {
        let job = self.jobs.get(name)?;
        let mut object = job.object.clone();
        object.status = Some(self.status(job));
        Some(object)
    }

    /// Every job's name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.jobs.keys().cloned().collect();
        names.sort();
        names
    }

    /// Each stored job's parents, for the cycle check of an apply.
    pub fn parent_graph(&self) -> BTreeMap<String, Vec<String>> {
        self.jobs
            .iter()
            .map(|(n, j)| (n.clone(), j.object.spec.parents.clone()))
            .collect()
    }

    fn status(&self, job: &Job) -> CronJobStatus {
        let s = &job.state;
        CronJobStatus {
            active: job
                .active
                .iter()
                .filter_map(|k| self.active.get(k))
                .map(|a| a.stored.run.group.clone())
                .collect(),
            last_schedule: s.last_schedule,
            last_success: s.last_success,
            last_error: s.last_error,
            success_count: s.success_count,
            error_count: s.error_count,
            missed_count: s.missed_count,
            next_schedule: job.next,
            conditions: Vec::new(),
        }
    }

    /// The job's history, oldest slot first.
    pub fn runs(&self, name: &str) -> Result<Vec<CronRun>> {
        if !self.jobs.contains_key(name) {
            return Err(not_found(name));
        }
        self.store
            .scan(RUNS, &naming::record_prefix(name))?
            .into_iter()
            .map(|(k, v)| decode::<StoredRun>(RUNS, &k, &v).map(|s| s.run))
            .collect()
    }

    /// Stores `object` (created or updated) and arms its schedule. A new job catches up no
    /// slot before `now`; a changed schedule or a resumed job neither.
    pub fn put(&mut self, object: CronJob, now: Timestamp) -> Result<()> {
        let schedule = parse_schedule(&object)?;
        let name = object.name().to_owned();
        let state = match self.jobs.get(&name) {
            None => JobState {
                last_slot: Some(now),
                ..JobState::default()
            },
            Some(old) => {
                let mut state = old.state.clone();
                let timing_changed = old.object.spec.schedule != object.spec.schedule
                    || old.object.spec.time_zone != object.spec.time_zone
                    || (old.object.spec.suspend && !object.spec.suspend);
                if timing_changed {
                    state.last_slot = Some(state.last_slot.map_or(now, |l| l.max(now)));
                }
                state
            }
        };
        let mut stored = object.clone();
        stored.status = None;
        let batch = Batch::new()
            .put_json(JOBS, &name, &stored)?
            .put_json(STATE, &name, &state)?;
        self.store.write(batch)?;
        self.insert_job(stored, schedule, state);
        self.reschedule(&name, now);
        self.mark_changed(&name);
        Ok(())
    }

    /// Deletes job `name`, its state and history; its active runs are stopped.
    pub fn remove(&mut self, name: &str) -> Result<(CronJob, Vec<Effect>)> {
        let object = self.object(name).ok_or_else(|| not_found(name))?;
        let mut batch = Batch::new().delete(JOBS, name).delete(STATE, name);
        for (key, _) in self.store.scan(RUNS, &naming::record_prefix(name))? {
            batch = batch.delete(RUNS, &key);
        }
        self.store.write(batch)?;
        let mut effects = Vec::new();
        if let Some(job) = self.jobs.remove(name) {
            self.unlink_parents(&job.object);
            let grace = job.object.spec.template.spec.termination_grace_period;
            for key in job.active {
                if let Some(a) = self.active.remove(&key)
                    && self.by_group.remove(&a.stored.run.group).is_some()
                {
                    effects.push(Effect::Stop {
                        group: a.stored.run.group,
                        grace,
                    });
                }
            }
        }
        Ok((object, effects))
    }

    /// Starts a manual run of `name` now, whatever the schedule, suspension and concurrency
    /// policy; returns its group name.
    pub fn trigger(&mut self, name: &str, now: Timestamp) -> Result<(String, Vec<Effect>)> {
        if !self.jobs.contains_key(name) {
            return Err(not_found(name));
        }
        let mut step = Step::default();
        let group = self.begin(&mut step, name, Origin::Manual, now, now)?;
        self.mark_changed(name);
        let effects = self.commit(step)?;
        Ok((group, effects))
    }

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
                            .and_then(|a| self.jobs.get(&a.job))
                            .and_then(|j| j.object.spec.active_deadline)
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

    fn slot_due(&mut self, step: &mut Step, name: &str, now: Timestamp) -> Result<()> {
        let Some(job) = self.jobs.get(name) else {
            return Ok(());
        };
        let Some(schedule) = &job.schedule else {
            return Ok(());
        };
        let after = job.state.last_slot.unwrap_or(now);
        let due = plan::due(schedule, after, job.object.spec.starting_deadline, now);
        let reason = if due.run.is_some() {
            "tars was not running at this slot; only the latest passed slot was caught up"
        } else {
            "past the starting deadline"
        };
        for slot in &due.missed {
            let base = naming::base_name(name, Origin::Slot, *slot);
            self.record_missed(step, name, *slot, base, reason)?;
        }
        if let Some(job) = self.jobs.get_mut(name) {
            job.state.missed_count += due.missed_count;
            if let Some(h) = due.handled_up_to {
                job.state.last_slot = Some(h);
            }
        }
        if let Some(slot) = due.run {
            self.admit_and_begin(step, name, Origin::Slot, slot, now)?;
        }
        if let Some(job) = self.jobs.get_mut(name) {
            step.batch = std::mem::take(&mut step.batch).put_json(STATE, name, &job.state)?;
            job.next = due.next;
            if let Some(at) = due.next {
                let timer = Timer::Slot {
                    job: name.to_owned(),
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
        Ok(())
    }

    fn admit_and_begin(
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
        match plan::admit(job.object.spec.concurrency, job.active.len()) {
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
                if let Some(job) = self.jobs.get_mut(name) {
                    job.state.missed_count += 1;
                    step.batch =
                        std::mem::take(&mut step.batch).put_json(STATE, name, &job.state)?;
                }
                step.prune.insert(name.to_owned());
                return Ok(());
            }
            Admit::Replace => {
                let keys = job.active.clone();
                let grace = job.object.spec.template.spec.termination_grace_period;
                for key in keys {
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
    fn end_active(
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
        if let Some(job) = self.jobs.get_mut(&active.job) {
            job.active.retain(|k| k != key);
        }
        Ok(())
    }

    /// Records and starts a run; returns its group name.
    fn begin(
        &mut self,
        step: &mut Step,
        name: &str,
        origin: Origin,
        slot: Timestamp,
        now: Timestamp,
    ) -> Result<String> {
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
        job.state.last_started = Some(now);
        if origin == Origin::Slot {
            job.state.last_schedule = Some(slot);
        }
        job.active.push(key.clone());
        let group = run_group(&job.object, &base);
        let deadline = job.object.spec.active_deadline;
        step.batch = std::mem::take(&mut step.batch)
            .put_json(RUNS, &key, &stored)?
            .put_json(STATE, name, &job.state)?;
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
        Ok(base)
    }

    fn retry_due(&mut self, step: &mut Step, key: &str, now: Timestamp) -> Result<()> {
        let Some(active) = self.active.get_mut(key) else {
            return Ok(());
        };
        if active.stored.retry_at.is_none() {
            return Ok(());
        }
        let Some(job) = self.jobs.get(&active.job) else {
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
        let group = run.group.clone();
        step.batch = std::mem::take(&mut step.batch).put_json(RUNS, key, &active.stored)?;
        step.effects
            .push(Effect::Start(Box::new(run_group(&job.object, &group))));
        let deadline = job.object.spec.active_deadline;
        let name = active.job.clone();
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
        self.mark_changed(&name);
        Ok(())
    }

    /// A run's attempt ended: retried when it failed and retries are left, recorded as final
    /// otherwise; a success may make children due.
    fn finish(
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
        let Some(job) = self.jobs.get_mut(&name) else {
            return Ok(());
        };
        let spec = &job.object.spec;
        let grace = spec.template.spec.termination_grace_period;
        if self.by_group.remove(&active.stored.run.group).is_some() {
            step.effects.push(Effect::Stop {
                group: active.stored.run.group.clone(),
                grace,
            });
        }
        let run = &mut active.stored.run;
        run.exit_code = exit_code;
        if !succeeded
            && let Some(at) = plan::retry_at(spec.retries, spec.retry_backoff, run.attempt, now)
        {
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
            job.state.last_success = Some(now);
        } else {
            job.state.error_count += 1;
            job.state.last_error = Some(now);
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
            let Some(job) = self.jobs.get(&child) else {
                continue;
            };
            if job.object.spec.suspend {
                continue;
            }
            let since = job
                .state
                .last_started
                .into_iter()
                .chain(job.object.metadata.created_at)
                .max()
                .unwrap_or(Timestamp::UNIX_EPOCH);
            let successes: Vec<Option<Timestamp>> = job
                .object
                .spec
                .parents
                .iter()
                .map(|p| self.jobs.get(p).and_then(|j| j.state.last_success))
                .collect();
            if plan::parents_satisfied(since, &successes) {
                self.admit_and_begin(step, &child, Origin::Parents, now, now)?;
                if let Some(job) = self.jobs.get_mut(&child) {
                    // Consumed, even when Forbid skipped it: the next run needs new successes.
                    job.state.last_started = Some(now);
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
        let Some(key) = self.by_group.get(group.name()).cloned() else {
            return Ok(Vec::new());
        };
        let Some(status) = &group.status else {
            return Ok(Vec::new());
        };
        if !status.phase.is_terminal() {
            return Ok(Vec::new());
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
        let mut step = Step::default();
        self.finish(&mut step, &key, succeeded, exit_code, reason, now)?;
        self.commit(step)
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

    /// After a restart: `existing` are the run groups the driver has. Active runs whose group
    /// is missing were recorded but never started, so they start now (the first start of
    /// their slot, not a second); groups of no active run are left-overs and are removed;
    /// groups that ended while tars was down end their runs.
    pub fn reconcile(
        &mut self,
        existing: &[ContainerGroup],
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
            .filter(|(g, _)| !present.contains(g.as_str()))
            .map(|(g, k)| (g.clone(), k.clone()))
            .collect();
        missing.sort();
        for (group, key) in missing {
            let Some(active) = self.active.get(&key) else {
                continue;
            };
            if let Some(job) = self.jobs.get(&active.job) {
                effects.push(Effect::Start(Box::new(run_group(&job.object, &group))));
            }
        }
        for g in existing {
            effects.extend(self.group_event(g, now)?);
        }
        Ok(effects)
    }

    /// Writes the step; hands out its effects only once it is durable. When the write fails,
    /// the runs it began are forgotten (none was started) and the error is returned.
    fn commit(&mut self, step: Step) -> Result<Vec<Effect>> {
        if let Err(e) = self.store.write(step.batch) {
            for key in step.begun {
                if let Some(a) = self.active.remove(&key) {
                    self.by_group.remove(&a.stored.run.group);
                    if let Some(job) = self.jobs.get_mut(&a.job) {
                        job.active.retain(|k| *k != key);
                    }
                }
            }
            return Err(e);
        }
        for job in step.prune {
            if let Err(e) = self.prune(&job) {
                tracing::warn!(job, error = %e, "could not prune cron history");
            }
        }
        Ok(step.effects)
    }

    /// Drops the oldest final records beyond the job's history limits: successes beyond
    /// `successful_history_limit`, failed, missed and replaced ones beyond
    /// `failed_history_limit`.
    fn prune(&self, name: &str) -> Result<()> {
        let Some(job) = self.jobs.get(name) else {
            return Ok(());
        };
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for (key, bytes) in self.store.scan(RUNS, &naming::record_prefix(name))? {
            let stored: StoredRun = decode(RUNS, &key, &bytes)?;
            match stored.run.outcome {
                RunOutcome::Running => {}
                RunOutcome::Succeeded => ok.push(key),
                _ => bad.push(key),
            }
        }
        let mut batch = Batch::new();
        let spec = &job.object.spec;
        for (keys, limit) in [
            (ok, spec.successful_history_limit),
            (bad, spec.failed_history_limit),
        ] {
            let excess = keys.len().saturating_sub(limit as usize);
            for key in &keys[..excess] {
                batch = batch.delete(RUNS, key);
            }
        }
        self.store.write(batch).map_err(store_err)
    }
}

/// The group of a run: the template, named `name`, labelled with its job.
fn run_group(job: &CronJob, name: &str) -> ContainerGroup {
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
