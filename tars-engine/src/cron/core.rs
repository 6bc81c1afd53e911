//! The cron engine's state machine: every job, every active run, and one priority queue of
//! timers (slots, retries, deadlines) for all of them. Synchronous and given `now` by its
//! caller, so it runs the same on the real clock and on a virtual one in tests.
//!
//! Each step builds one store [`Batch`] and a list of [`Effect`]s; the batch is written before
//! any effect is handed out, so a slot is recorded before its run starts.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use jiff::Timestamp;
use tars_api::events::{Event, EventHooks};
use tars_api::{
    ContainerGroup, CronJob, CronJobStatus, CronRun, Error, Result, RunOutcome, Schedule,
};

use super::naming::{self, Origin};
use super::run_groups::RunGroups;
use super::schedules::Schedules;
use super::settings::{Settings, SettingsPool};
use super::stamp::OptStamp;
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
pub(super) enum Timer {
    /// The job's name is the jobs map's own key (shared, not copied).
    Slot {
        job: Arc<str>,
        generation: u64,
    },
    Retry {
        key: String,
    },
    Deadline {
        key: String,
        attempt: u32,
    },
}

/// A job as the engine keeps it between runs.
pub(super) struct Job {
    /// The parts of the spec scheduling needs, shared by the jobs whose are equal; the status
    /// is computed on demand.
    pub(super) spec: Arc<Settings>,
    /// When the job was created.
    pub(super) created_at: OptStamp,
    /// The resource version given at the last change (`None`: as stored).
    pub(super) version: Option<u64>,
    pub(super) schedule: Option<Arc<Schedule>>,
    pub(super) state: JobState,
    /// Bumped on every reschedule; a slot timer of an older generation is stale.
    pub(super) generation: u64,
    pub(super) next: OptStamp,
    /// Record keys of its active runs, oldest first.
    pub(super) active: Vec<String>,
}

pub(super) struct Active {
    pub(super) job: String,
    pub(super) stored: StoredRun,
}

/// One step's writes and effects, committed together.
#[derive(Default)]
pub(super) struct Step {
    pub(super) batch: Batch,
    pub(super) effects: Vec<Effect>,
    /// Record keys of runs this step made active, forgotten again if the write fails.
    pub(super) begun: Vec<String>,
    pub(super) prune: BTreeSet<String>,
    /// Events for the hooks, sent once the step is durable (none are built without hooks).
    pub(super) events: Vec<Event>,
}

/// All jobs and runs of one engine.
pub struct Core {
    pub(super) store: Arc<dyn Store>,
    /// Boxed: a job is large, and a map's spare capacity would hold that much per slot.
    /// Keyed by name; the slot timers share the key.
    pub(super) jobs: HashMap<Arc<str>, Box<Job>>,
    /// Parent name → names of the jobs that list it as a parent.
    pub(super) children: HashMap<String, BTreeSet<String>>,
    pub(super) active: HashMap<String, Active>,
    /// Group of the current attempt → record key.
    pub(super) by_group: RunGroups,
    pub(super) timers: BinaryHeap<Reverse<(Timestamp, u64, Timer)>>,
    pub(super) seq: u64,
    pub(super) version: u64,
    /// Jobs whose status changed since the caller last drained this.
    pub(super) changed: BTreeSet<String>,
    schedules: Schedules,
    settings: SettingsPool,
    /// Receive the runs' events; when empty, no event is built.
    pub(super) hooks: EventHooks,
    /// Set while [`Core::prepare`] plans runs ahead: their lateness is measured when their
    /// groups are started, not when they are planned.
    pub(super) preparing: bool,
}

pub(super) fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: tars_api::Kind::CronJob,
        name: name.to_owned(),
    }
}

pub(super) fn add(at: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
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
            by_group: RunGroups::default(),
            timers: BinaryHeap::new(),
            seq: 0,
            version: 0,
            changed: BTreeSet::new(),
            schedules: Schedules::default(),
            settings: SettingsPool::default(),
            hooks: EventHooks::new(),
            preparing: false,
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
            let schedule = core.schedules.of(&object)?;
            let state = states.remove(&name).unwrap_or(JobState {
                last_slot: now.into(),
                ..JobState::default()
            });
            core.insert_job(&object, schedule, state);
        }
        for (key, bytes) in core.store.scan(RUNS, "")? {
            let stored: StoredRun = decode(RUNS, &key, &bytes)?;
            if stored.run.outcome.is_final() {
                continue;
            }
            let job = key.split('/').next().unwrap_or_default().to_owned();
            let Some(j) = core.jobs.get_mut(job.as_str()) else {
                continue;
            };
            j.active.push(key.clone());
            let deadline = j.spec.active_deadline;
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
        let names: Vec<String> = core.jobs.keys().map(|k| k.to_string()).collect();
        for name in names {
            core.reschedule(&name, now);
        }
        Ok(core)
    }

    fn insert_job(&mut self, object: &CronJob, schedule: Option<Arc<Schedule>>, state: JobState) {
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
            .remove(name.as_str())
            .map(|j| {
                self.unlink_parents(&name, &j.spec.parents);
                (j.active, j.generation)
            })
            .unwrap_or_default();
        self.jobs.insert(
            Arc::from(name),
            Box::new(Job {
                spec: self.settings.of(object),
                created_at: object.metadata.created_at.into(),
                version: None,
                schedule,
                state,
                generation,
                next: OptStamp::NONE,
                active,
            }),
        );
    }

    fn unlink_parents(&mut self, name: &str, parents: &[String]) {
        for p in parents {
            if let Some(set) = self.children.get_mut(p) {
                set.remove(name);
                if set.is_empty() {
                    self.children.remove(p);
                }
            }
        }
    }

    /// Sends the runs' events (started, succeeded, failed, missed) to `hooks` from now on.
    pub fn set_hooks(&mut self, hooks: EventHooks) {
        self.hooks = hooks;
    }

    /// Queues `event` in `step` when there are hooks; `make` is not called otherwise, so
    /// that without hooks the firing path builds nothing.
    pub(super) fn event(&self, step: &mut Step, make: impl FnOnce() -> Event) {
        if !self.hooks.is_empty() {
            step.events.push(make());
        }
    }

    pub(super) fn push(&mut self, at: Timestamp, timer: Timer) {
        self.seq += 1;
        self.timers.push(Reverse((at, self.seq, timer)));
    }

    /// Arms the job's next slot timer (none while suspended or without a schedule).
    pub(super) fn reschedule(&mut self, name: &str, now: Timestamp) {
        let Some(key) = self.key(name) else {
            return;
        };
        let Some(job) = self.jobs.get_mut(name) else {
            return;
        };
        job.generation += 1;
        job.next = OptStamp::NONE;
        if job.spec.suspend {
            return;
        }
        let Some(schedule) = &job.schedule else {
            return;
        };
        let after = job.state.last_slot.get().unwrap_or(now);
        let next = schedule.next_after(after);
        job.next = next.into();
        if let Some(at) = next {
            let timer = Timer::Slot {
                job: key,
                generation: job.generation,
            };
            self.push(at, timer);
        }
    }

    /// The jobs map's key for `name` (shared by its slot timers).
    pub(super) fn key(&self, name: &str) -> Option<Arc<str>> {
        self.jobs.get_key_value(name).map(|(k, _)| k.clone())
    }

    pub(super) fn mark_changed(&mut self, name: &str) {
        if let Some(job) = self.jobs.get_mut(name) {
            self.version += 1;
            job.version = Some(self.version);
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

    /// The groups of the active runs' current attempts.
    pub fn active_groups(&self) -> BTreeSet<String> {
        self.by_group.keys().cloned().collect()
    }

    /// True when `group` is the current attempt of an active run (so it may be started).
    pub fn is_active_group(&self, group: &str) -> bool {
        self.by_group.contains_key(group)
    }

    /// How many groups of active runs ended or were forgotten so far, readable without the
    /// core: when it has not changed since runs were prepared, each of them may be started.
    pub fn groups_removed(&self) -> Arc<AtomicU64> {
        self.by_group.removed()
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
        let mut object = match self.stored_object(name) {
            Ok(object) => object,
            Err(e) => {
                tracing::warn!(job = name, error = %e, "could not read cron job");
                return None;
            }
        };
        if let Some(v) = job.version {
            object.metadata.resource_version = Some(v.to_string());
        }
        object.status = Some(self.status(job));
        Some(object)
    }

    /// The job's metadata and spec, as stored.
    pub(super) fn stored_object(&self, name: &str) -> Result<CronJob> {
        let bytes = self.store.get(JOBS, name)?.ok_or_else(|| not_found(name))?;
        decode(JOBS, name, &bytes)
    }

    /// Every job's name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.jobs.keys().map(|k| k.to_string()).collect();
        names.sort();
        names
    }

    /// Each stored job's parents, for the cycle check of an apply.
    pub fn parent_graph(&self) -> BTreeMap<String, Vec<String>> {
        self.jobs
            .iter()
            .map(|(n, j)| (n.to_string(), j.spec.parents.to_vec()))
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
            last_schedule: s.last_schedule.get(),
            last_success: s.last_success.get(),
            last_error: s.last_error.get(),
            success_count: s.success_count,
            error_count: s.error_count,
            missed_count: s.missed_count,
            next_schedule: job.next.get(),
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
        let schedule = self.schedules.of(&object)?;
        let name = object.name().to_owned();
        let state = match self.jobs.get(name.as_str()) {
            None => JobState {
                last_slot: now.into(),
                ..JobState::default()
            },
            Some(old) => {
                let mut state = old.state.clone();
                // Schedules are shared by expression and time zone: the same one is the same
                // `Arc` while the old job holds it.
                let same_schedule = match (&old.schedule, &schedule) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                };
                let timing_changed = !same_schedule || (old.spec.suspend && !object.spec.suspend);
                if timing_changed {
                    state.last_slot = state.last_slot.get().map_or(now, |l| l.max(now)).into();
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
        self.insert_job(&stored, schedule, state);
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
            self.unlink_parents(name, &job.spec.parents);
            let grace = job.spec.grace;
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

    /// Writes the step; hands out its effects only once it is durable. When the write fails,
    /// the runs it began are forgotten (none was started) and the error is returned.
    pub(super) fn commit(&mut self, step: Step) -> Result<Vec<Effect>> {
        if let Err(e) = self.store.write(step.batch) {
            for key in step.begun {
                if let Some(a) = self.active.remove(&key) {
                    self.by_group.remove(&a.stored.run.group);
                    if let Some(job) = self.jobs.get_mut(a.job.as_str()) {
                        job.active.retain(|k| *k != key);
                    }
                }
            }
            return Err(e);
        }
        // One more transaction for the history of every job the step touched.
        let mut prune = Batch::new();
        for job in &step.prune {
            match self.prune(job, prune) {
                Ok(b) => prune = b,
                Err(e) => {
                    tracing::warn!(job, error = %e, "could not prune cron history");
                    prune = Batch::new();
                }
            }
        }
        if let Err(e) = self.store.write(prune) {
            tracing::warn!(error = %e, "could not prune cron history");
        }
        for event in &step.events {
            self.hooks.emit(event);
        }
        Ok(step.effects)
    }

    /// Drops the oldest final records beyond the job's history limits: successes beyond
    /// `successful_history_limit`, failed, missed and replaced ones beyond
    /// `failed_history_limit`.
    fn prune(&self, name: &str, mut batch: Batch) -> Result<Batch> {
        let Some(job) = self.jobs.get(name) else {
            return Ok(batch);
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
        let spec = &job.spec;
        for (keys, limit) in [
            (ok, spec.successful_history_limit),
            (bad, spec.failed_history_limit),
        ] {
            let excess = keys.len().saturating_sub(limit as usize);
            for key in &keys[..excess] {
                batch = batch.delete(RUNS, key);
            }
        }
        Ok(batch)
    }
}
