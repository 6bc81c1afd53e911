//! The running engine: one scheduler task sleeping until the earliest timer of all jobs, one
//! task watching every run group through the driver, and the effects of each step (starting
//! and stopping groups) run as short tasks.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use tars_api::api::{ListParams, ObjectList};
use tars_api::events::EventHooks;
use tars_api::selector::Requirement;
use tars_api::{CronJob, CronJobSpec, CronRun, LabelSelector, Result, WatchEvent, WatchStream};
use tokio::sync::{Notify, broadcast};
use tokio::task::{JoinHandle, JoinSet};

use super::CRON_JOB_LABEL;
use super::core::{Core, Effect};
use super::watch::{self, EVENT_BUFFER, Event};
use crate::driver::GroupDriver;
use crate::store::Store;

/// Which stored jobs an engine takes on (by ownership, typically).
pub type Keep = Box<dyn Fn(&CronJob) -> bool + Send + Sync>;

/// At most this many effects of one step run at once.
const EFFECT_CONCURRENCY: usize = 64;

/// At most this many watch events are handled in one step.
const WATCH_BATCH: usize = 4096;

/// How long to wait before watching the run groups again after the watch failed.
const REWATCH_DELAY: Duration = Duration::from_secs(1);

/// Options of a [`CronEngine`] beyond its driver and store.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CronConfig {
    /// The backend's name, the `backend` label of the [`crate::metrics::OBJECTS`] gauge.
    pub backend: String,
    /// Receive the runs' events (started, succeeded, failed, missed); none by default.
    pub hooks: EventHooks,
}

impl CronConfig {
    /// No hook, for backend `backend`.
    pub fn new(backend: impl Into<String>) -> Self {
        CronConfig {
            backend: backend.into(),
            hooks: EventHooks::new(),
        }
    }

    /// Sends the runs' events to `hooks` (builder style).
    pub fn hooks(mut self, hooks: EventHooks) -> Self {
        self.hooks = hooks;
        self
    }
}

pub(crate) struct Inner {
    core: Mutex<Core>,
    backend: String,
    driver: Arc<dyn GroupDriver>,
    wake: Notify,
    pub(crate) events: broadcast::Sender<Event>,
    effects: Mutex<JoinSet<()>>,
    /// Set once the run groups were reconciled after the start (see `schedule`).
    reconciled: AtomicBool,
    /// Set (under the lock) by a shutdown: a watch step still under way on a blocking thread
    /// then leaves the store alone, so that an engine opened next is the only writer.
    closed: AtomicBool,
    /// How many tasks are starting prepared runs; the watch waits for none (see `release`).
    starting: AtomicUsize,
    /// Notified when `starting` drops to zero.
    started: Notify,
    /// [`Core::groups_removed`].
    groups_removed: Arc<AtomicU64>,
    /// Among how many tasks the runs prepared for one slot are started (the runtime's
    /// threads; asked once: the answer reads cgroup files).
    parts: usize,
}

/// Runs prepared ahead of their slot, recorded already, their groups to start at `at`.
struct Held {
    at: Timestamp,
    /// Split among the tasks that will start them, while there is time.
    chunks: Vec<Vec<Effect>>,
    /// [`Core::groups_removed`] once they were prepared.
    removed: u64,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends a `Modified` event for each job whose status changed; call with the lock held so
    /// that events keep the order of the changes.
    fn emit_changed(&self, core: &mut Core) {
        let changed = core.take_changed();
        if self.events.receiver_count() == 0 {
            return;
        }
        for name in changed {
            if let Some(object) = core.object(&name) {
                let labels = object.metadata.labels.clone();
                let _ = self.events.send(Event {
                    event: WatchEvent::Modified(object),
                    previous_labels: Some(labels),
                });
            }
        }
    }

    /// Runs one step of the state machine under the lock, sends the watch events it caused,
    /// and wakes the scheduler when the step armed a timer earlier than the one it sleeps for.
    fn step<T>(&self, f: impl FnOnce(&mut Core) -> Result<T>) -> Result<T> {
        let mut core = self.lock();
        let before = core.next_due();
        let result = f(&mut core);
        self.emit_changed(&mut core);
        let after = core.next_due();
        drop(core);
        if after.is_some() && (before.is_none() || after < before) {
            self.wake.notify_one();
        }
        result
    }

    /// Runs a step's effects in one task, in order and [`EFFECT_CONCURRENCY`] at a time: a
    /// task per effect would cost more than the effect itself with a fast driver.
    fn run_effects(self: &Arc<Self>, effects: Vec<Effect>) {
        if effects.is_empty() {
            return;
        }
        let mut tasks = self.effects.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        let inner = self.clone();
        tasks.spawn(async move {
            futures::stream::iter(&effects)
                .for_each_concurrent(EFFECT_CONCURRENCY, |effect| inner.run_effect(effect))
                .await;
        });
    }

    /// Sets the [`crate::metrics::OBJECTS`] gauge of cron jobs.
    fn count_objects(&self, count: usize) {
        crate::metrics::set_objects(&self.backend, "CronJob", count);
    }

    /// Prepares the runs due at `at` (records them) and splits their effects among the tasks
    /// that will start them at `at`.
    fn prepare(&self, at: Timestamp) -> Held {
        let (effects, removed) = self
            .step(|core| {
                let effects = core.prepare(at)?;
                Ok((effects, self.groups_removed.load(Ordering::Acquire)))
            })
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cron engine step failed; nothing was started");
                (Vec::new(), 0)
            });
        // Prepared effects are starts of distinct groups: spread over the runtime's threads.
        let chunk = effects.len().div_ceil(self.parts).max(EFFECT_CONCURRENCY);
        let mut chunks = Vec::with_capacity(self.parts);
        let mut effects = effects.into_iter().peekable();
        while effects.peek().is_some() {
            chunks.push(effects.by_ref().take(chunk).collect());
        }
        Held {
            at,
            chunks,
            removed,
        }
    }

    /// Hands out the effects of runs prepared ahead for their slot: a run that ended
    /// meanwhile (its job deleted, say) is not started. The effects are dropped only after
    /// they were all handed to the driver (freeing them is work the starts need not wait for).
    fn release(self: &Arc<Self>, held: Held) {
        let Held {
            at,
            mut chunks,
            removed,
        } = held;
        // Unchanged: no group ended since they were prepared, so each is still wanted, and
        // the lock (which a step may hold for a store write) is not needed.
        if self.groups_removed.load(Ordering::Acquire) != removed {
            let core = self.lock();
            for effects in &mut chunks {
                effects.retain(|e| match e {
                    Effect::Start(group) => core.is_active_group(group.name()),
                    Effect::Stop { .. } => true,
                });
            }
        }
        chunks.retain(|effects| !effects.is_empty());
        if chunks.is_empty() {
            return;
        }
        // Prepared runs are first attempts of the slot at `at`, started now.
        let starts = chunks
            .iter()
            .flatten()
            .filter(|e| matches!(e, Effect::Start(_)))
            .count();
        metrics::histogram!(crate::metrics::CRON_LATENESS_SECONDS).record_many(
            crate::metrics::seconds_between(at, Timestamp::now()),
            starts,
        );
        // The watch of the run groups waits until they are all handed to the driver: their
        // ends can be recorded a few milliseconds later, their starts are due now.
        self.starting.fetch_add(chunks.len(), Ordering::AcqRel);
        let mut tasks = self.effects.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        for effects in chunks {
            let inner = self.clone();
            tasks.spawn(async move {
                /// Counts the chunk done even when its task is aborted.
                struct Done(Arc<Inner>);
                impl Drop for Done {
                    fn drop(&mut self) {
                        if self.0.starting.fetch_sub(1, Ordering::AcqRel) == 1 {
                            self.0.started.notify_waiters();
                        }
                    }
                }
                let done = Done(inner.clone());
                futures::stream::iter(&effects)
                    .for_each_concurrent(EFFECT_CONCURRENCY, |effect| inner.run_effect(effect))
                    .await;
                drop(done);
                drop(effects);
            });
        }
    }

    /// Waits until no prepared run is being started.
    async fn starts_done(&self) {
        loop {
            let notified = self.started.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.starting.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    async fn run_effect(self: &Arc<Self>, effect: &Effect) {
        match effect {
            Effect::Start(group) => {
                let name = group.name();
                // A run that ended while its start was retried is not started again.
                let wanted = || self.lock().is_active_group(name);
                let started = self
                    .retrying("start", name, START_RETRY_FOR, wanted, || {
                        self.driver.start(group)
                    })
                    .await;
                if let Err(e) = started {
                    tracing::warn!(group = name, error = %e, "could not start cron run");
                    let why = format!("its group could not be started: {e}");
                    let effects = self.step(|core| core.group_lost(name, &why, Timestamp::now()));
                    self.after_step(effects);
                }
            }
            Effect::Stop { group, grace } => {
                let stopped = self
                    .retrying(
                        "stop",
                        group,
                        STOP_RETRY_FOR,
                        || true,
                        || self.driver.stop(group, Some(*grace)),
                    )
                    .await;
                if let Err(e) = stopped {
                    tracing::error!(group, error = %e, "could not stop cron run group");
                }
            }
        }
    }

    /// Runs `call` until it succeeds, fails for good, or has failed retryably (the engine
    /// unreachable: `Unavailable`, `Timeout`) for `limit`; waits 0.2 s doubling to 5 s between
    /// attempts, and before each retry (never before the first call: the hot path) asks
    /// `wanted` whether the effect is still wanted. Gives up when the engine is shut down.
    async fn retrying<W, F, Fut>(
        &self,
        what: &str,
        group: &str,
        limit: Duration,
        wanted: W,
        call: F,
    ) -> Result<()>
    where
        W: Fn() -> bool,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let give_up = tokio::time::Instant::now() + limit;
        let mut pause = Duration::from_millis(200);
        loop {
            match call().await {
                Err(e)
                    if e.is_retryable()
                        && tokio::time::Instant::now() + pause < give_up
                        && !self.closed.load(Ordering::Acquire) =>
                {
                    tracing::info!(group, error = %e, "cron run {what}: engine unreachable, retrying in {pause:?}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                    if !wanted() {
                        return Ok(());
                    }
                }
                other => return other,
            }
        }
    }

    fn after_step(self: &Arc<Self>, effects: Result<Vec<Effect>>) {
        match effects {
            Ok(effects) => self.run_effects(effects),
            Err(e) => tracing::error!(error = %e, "cron engine step failed; nothing was started"),
        }
    }
}

/// tars' cron engine over any backend's groups ([`GroupDriver`]) and a [`Store`].
///
/// Jobs are stored in the store's `cron/...` tables and resumed by the next engine opened on
/// the same store: slots missed meanwhile collapse into one catch-up run, active runs are
/// followed again, and a run recorded but not started yet is started (once).
pub struct CronEngine {
    inner: Arc<Inner>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for CronEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronEngine")
            .field("jobs", &self.inner.lock().len())
            .finish()
    }
}

fn run_selector() -> LabelSelector {
    LabelSelector::everything().and(Requirement::Exists(CRON_JOB_LABEL.to_owned()))
}

impl CronEngine {
    /// Loads the jobs of `store` for which `keep` holds (those of this tars instance) and
    /// starts scheduling them, without hooks. Must run inside a tokio runtime.
    pub fn start(
        driver: Arc<dyn GroupDriver>,
        store: Arc<dyn Store>,
        keep: Keep,
    ) -> Result<CronEngine> {
        Self::start_with(driver, store, keep, CronConfig::new("cron"))
    }

    /// [`CronEngine::start`] with `config`'s backend name and hooks.
    pub fn start_with(
        driver: Arc<dyn GroupDriver>,
        store: Arc<dyn Store>,
        keep: Keep,
        config: CronConfig,
    ) -> Result<CronEngine> {
        let mut core = Core::load(store, Timestamp::now(), &*keep)?;
        let groups_removed = core.groups_removed();
        core.set_hooks(config.hooks);
        let jobs = core.len();
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let inner = Arc::new(Inner {
            backend: config.backend,
            core: Mutex::new(core),
            driver,
            wake: Notify::new(),
            events,
            effects: Mutex::new(JoinSet::new()),
            reconciled: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            starting: AtomicUsize::new(0),
            started: Notify::new(),
            groups_removed,
            parts: std::thread::available_parallelism().map_or(1, usize::from),
        });
        let tasks = vec![
            tokio::spawn(watch_groups(inner.clone())),
            tokio::spawn(reconcile(inner.clone())),
            tokio::spawn(schedule(inner.clone())),
        ];
        inner.count_objects(jobs);
        Ok(CronEngine {
            inner,
            tasks: Mutex::new(tasks),
        })
    }

    /// The job with its status.
    pub fn get(&self, name: &str) -> Option<CronJob> {
        self.inner.lock().object(name)
    }

    /// Every job with its status, sorted by name.
    pub fn list(&self) -> Vec<CronJob> {
        let core = self.inner.lock();
        core.names().iter().filter_map(|n| core.object(n)).collect()
    }

    /// One page of the jobs, sorted by name: those after the continue token that match the
    /// selector, at most the limit. Only the jobs on the page (and those the selector turns
    /// away on the way) are read from the store, not every job.
    pub fn page(&self, params: &ListParams) -> ObjectList<CronJobSpec> {
        let core = self.inner.lock();
        let mut names: Vec<&str> = core.jobs.keys().map(|k| &**k).collect();
        names.sort_unstable();
        let after = params.continue_token.as_deref();
        let start = after.map_or(0, |a| names.partition_point(|n| *n <= a));
        let limit = params.limit.map_or(usize::MAX, |l| l as usize);
        let mut items = Vec::new();
        for name in &names[start..] {
            if items.len() > limit {
                break;
            }
            if let Some(object) = core.object(name)
                && params.selector.matches(&object.metadata.labels)
            {
                items.push(object);
            }
        }
        let continue_token = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|o| o.name().to_owned())
        } else {
            None
        };
        ObjectList {
            items,
            continue_token,
        }
    }

    /// How many jobs are stored.
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// True when no job is stored.
    pub fn is_empty(&self) -> bool {
        self.inner.lock().is_empty()
    }

    /// Refuses `parents` for job `name` when they would close a cycle through the stored jobs
    /// (`Error::Invalid` at `spec.parents`).
    pub fn check_parents(&self, name: &str, parents: &[String]) -> Result<()> {
        // A job without parents closes no cycle: no need to look at the others.
        if parents.is_empty() {
            return Ok(());
        }
        let graph = self.inner.lock().parent_graph();
        super::graph::check_acyclic(&graph, name, parents)
    }

    /// Stores `job` (metadata and spec as given, status ignored) and schedules it; returns it
    /// with its status.
    pub fn put(&self, job: CronJob) -> Result<CronJob> {
        let name = job.name().to_owned();
        let object = {
            let mut core = self.inner.lock();
            let previous = core.object(&name).map(|o| o.metadata.labels);
            core.put(job, Timestamp::now())?;
            core.take_changed();
            let object = core
                .object(&name)
                .ok_or_else(|| tars_api::Error::backend("cron", "job vanished while stored"))?;
            let event = match previous {
                None => WatchEvent::Added(object.clone()),
                Some(_) => WatchEvent::Modified(object.clone()),
            };
            let _ = self.inner.events.send(Event {
                event,
                previous_labels: previous,
            });
            self.inner.count_objects(core.len());
            object
        };
        self.inner.wake.notify_one();
        Ok(object)
    }

    /// Deletes job `name` and its history; returns once its active runs' groups are stopped.
    pub async fn remove(&self, name: &str) -> Result<()> {
        let effects = {
            let mut core = self.inner.lock();
            let (object, effects) = core.remove(name)?;
            self.inner.count_objects(core.len());
            let labels = object.metadata.labels.clone();
            let _ = self.inner.events.send(Event {
                event: WatchEvent::Deleted(object),
                previous_labels: Some(labels),
            });
            effects
        };
        for effect in effects {
            if let Effect::Stop { group, grace } = effect {
                self.inner.driver.stop(&group, Some(grace)).await?;
            }
        }
        Ok(())
    }

    /// Starts a run of `name` now (recorded as manual); returns its group name.
    pub fn trigger(&self, name: &str) -> Result<String> {
        let (group, effects) = self
            .inner
            .step(|core| core.trigger(name, Timestamp::now()))?;
        self.inner.run_effects(effects);
        Ok(group)
    }

    /// The job's history, oldest slot first.
    pub fn runs(&self, name: &str) -> Result<Vec<CronRun>> {
        self.inner.lock().runs(name)
    }

    /// A snapshot of the jobs matching `selector`, an end-of-snapshot marker, then changes.
    pub fn watch(&self, selector: &LabelSelector) -> WatchStream<CronJobSpec> {
        watch::stream(self.inner.clone(), selector.clone())
    }

    /// Stops the engine's tasks without touching any group (runs keep going; an engine
    /// opened later on the same store follows them again). Idempotent.
    pub async fn shutdown(&self) {
        {
            // Waits for a step under way.
            let _core = self.inner.lock();
            self.inner.closed.store(true, Ordering::Release);
        }
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
        let mut effects = std::mem::take(
            &mut *self
                .inner
                .effects
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        effects.abort_all();
        while effects.join_next().await.is_some() {}
    }
}

impl Drop for CronEngine {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::Release);
        for t in self
            .tasks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            t.abort();
        }
        self.inner
            .effects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }
}

/// How long the start of a run is retried while the engine is unreachable before the attempt
/// fails (then the job's retries apply).
const START_RETRY_FOR: Duration = Duration::from_secs(60);

/// How long the stop of a run group is retried while the engine is unreachable: a group left
/// running would outlive its run.
const STOP_RETRY_FOR: Duration = Duration::from_secs(600);

/// How long before a slot its runs are planned and recorded, so that their groups start at
/// the slot instant: at 100,000 jobs a second's firings take tens of milliseconds to record.
const LEAD: Duration = Duration::from_millis(250);

/// The most the lead grows to when preparing takes long (a loaded machine): slots a second
/// apart still leave time to hand out one batch before preparing the next.
const MAX_LEAD: Duration = Duration::from_millis(800);

/// The lead for the next preparation: [`LEAD`], or twice what the last one took when that is
/// more (so a slow store or a loaded machine still records ahead of the slot), at most
/// [`MAX_LEAD`].
fn lead_after(last_prepare: Duration) -> Duration {
    (last_prepare * 2).clamp(LEAD, MAX_LEAD)
}

/// How long before the instant of prepared runs the scheduler stops sleeping on the timer
/// wheel (millisecond granularity, rounded up) and yields until the instant instead.
const PRECISE: Duration = Duration::from_millis(2);

/// Sleeps until the earliest timer of all jobs (or a lead before it, see [`lead_after`], to prepare the slots
/// due then: recorded ahead, started at their instant), fires everything due, and again.
async fn schedule(inner: Arc<Inner>) {
    // Runs prepared ahead: recorded already, their groups start at this instant.
    let mut held: Option<Held> = None;
    let mut lead = LEAD;
    loop {
        let now = Timestamp::now();
        if let Some(h) = held.take_if(|h| h.at <= now) {
            inner.release(h);
            // Lets this thread start the runs it just spawned before this task takes the
            // lock again (which a step writing to the store may hold): the last task spawned
            // on a thread waits for that thread.
            tokio::task::yield_now().await;
            continue;
        }
        let next = inner.lock().next_due();
        // Prepare only after the restart's reconciliation, which starts recorded runs whose
        // group is missing: a prepared run's group is missing until its instant.
        let ahead = held.is_none() && inner.reconciled.load(Ordering::Acquire);
        match next {
            Some(at) if at <= now => {
                let effects = {
                    let mut core = inner.lock();
                    let r = core.fire(now);
                    inner.emit_changed(&mut core);
                    r
                };
                let failed = effects.is_err();
                inner.after_step(effects);
                if failed {
                    // The store refused the write; back off rather than spin.
                    tokio::time::sleep(REWATCH_DELAY).await;
                }
                continue;
            }
            Some(at) if ahead && until(now, at) <= lead => {
                let began = std::time::Instant::now();
                held = Some(inner.prepare(at));
                lead = lead_after(began.elapsed());
                continue;
            }
            _ => {}
        }
        let wake = match (next, &held) {
            (Some(at), Some(h)) => Some(at.min(h.at)),
            (None, Some(h)) => Some(h.at),
            (Some(at), None) if ahead => Some(at.checked_sub(lead).unwrap_or(at)),
            (Some(at), None) => Some(at),
            (None, None) => None,
        };
        let Some(wake) = wake else {
            inner.wake.notified().await;
            continue;
        };
        if let Some(h) = &held
            && wake == h.at
            && until(now, wake) <= PRECISE
        {
            // The timer wheel would wake up to a millisecond late; the last stretch before
            // the prepared slot is waited out by yielding (at most PRECISE per slot).
            while Timestamp::now() < wake {
                tokio::task::yield_now().await;
            }
            continue;
        }
        let sleep_for = if held.as_ref().is_some_and(|h| wake == h.at) {
            until(now, wake).saturating_sub(PRECISE)
        } else {
            until(now, wake)
        };
        tokio::select! {
            () = tokio::time::sleep(sleep_for) => {}
            () = inner.wake.notified() => {}
        }
    }
}

/// From `now` to `at` (zero when `at` passed).
fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or_default()
}

/// Follows every run group; a terminal phase or a vanished group ends its attempt.
async fn watch_groups(inner: Arc<Inner>) {
    let selector = run_selector();
    loop {
        match inner.driver.watch(&selector).await {
            Ok(mut events) => {
                let mut ended = false;
                while !ended {
                    // Everything the watch has ready once the prepared runs are handed out
                    // is handled in one step (one store write). Gathered without tokio's
                    // cooperative budget, which would end the batch every 128 events, long
                    // before the ends of one slot's runs.
                    let mut next = events.next().await;
                    inner.starts_done().await;
                    let mut batch = Vec::new();
                    tokio::task::unconstrained(async {
                        loop {
                            match next {
                                Some(Ok(event)) => batch.push(event),
                                Some(Err(e)) => {
                                    tracing::warn!(error = %e, "watch of cron run groups failed");
                                    ended = true;
                                    break;
                                }
                                None => {
                                    ended = true;
                                    break;
                                }
                            }
                            if batch.len() >= WATCH_BATCH {
                                break;
                            }
                            match events.next().now_or_never() {
                                Some(n) => next = n,
                                None => break,
                            }
                        }
                    })
                    .await;
                    // On a blocking thread: the step writes to the store (an fsync, for
                    // redb), and must not hold up the runtime's threads while runs start.
                    let stepper = inner.clone();
                    let effects = tokio::task::spawn_blocking(move || {
                        let now = Timestamp::now();
                        stepper.step(|core| {
                            // A step that outlived a shutdown writes nothing.
                            if stepper.closed.load(Ordering::Acquire) {
                                return Ok(Vec::new());
                            }
                            core.watch_events(&batch, now)
                        })
                    })
                    .await
                    .unwrap_or_else(|e| {
                        Err(tars_api::Error::backend("cron", format!("watch step: {e}")))
                    });
                    inner.after_step(effects);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not watch cron run groups"),
        }
        tokio::time::sleep(REWATCH_DELAY).await;
    }
}

/// Once at start: brings the driver's run groups in line with the stored active runs.
async fn reconcile(inner: Arc<Inner>) {
    // Taken before the listing: a run begun while it is under way is not in the listing, and
    // must not be taken for one recorded before a crash and never started (a second start).
    let listed_for = inner.lock().active_groups();
    match inner.driver.list(&run_selector()).await {
        Ok(groups) => {
            let effects = inner.step(|core| core.reconcile(&groups, &listed_for, Timestamp::now()));
            inner.after_step(effects);
        }
        Err(e) => tracing::warn!(error = %e, "could not list cron run groups at start"),
    }
    inner.reconciled.store(true, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use tars_api::{Container, ContainerGroup, ContainerGroupSpec, RestartPolicy};

    /// Records the groups it is asked to start; nothing runs.
    #[derive(Default)]
    struct Recording {
        started: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl GroupDriver for Recording {
        async fn start(&self, group: &ContainerGroup) -> Result<()> {
            self.started
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(group.name().to_owned());
            Ok(())
        }
        async fn stop(&self, _: &str, _: Option<Duration>) -> Result<()> {
            Ok(())
        }
        async fn list(&self, _: &LabelSelector) -> Result<Vec<ContainerGroup>> {
            Ok(Vec::new())
        }
        async fn watch(&self, _: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
            Ok(Box::pin(futures::stream::pending()))
        }
    }

    /// Waits for the engine's start-up reconciliation, as the scheduler does before it
    /// prepares runs (it would start a prepared run whose group it does not list).
    async fn reconciled(inner: &Inner) {
        while !inner.reconciled.load(Ordering::Acquire) {
            tokio::task::yield_now().await;
        }
    }

    fn yearly(name: &str) -> CronJob {
        let mut spec = ContainerGroupSpec::new(vec![Container::new("main", "img", &["true"])]);
        spec.restart_policy = RestartPolicy::Never;
        CronJob::new(name, CronJobSpec::new(Some("0 0 0 1 1 *"), spec))
    }

    /// An engine with a yearly job of each name, reconciled, and the runs of their common
    /// next slot (next 1 January) prepared by hand: the scheduler itself prepares them only a
    /// lead before it.
    async fn prepared(names: &[String]) -> (CronEngine, Arc<Recording>, Held) {
        let driver = Arc::new(Recording::default());
        let engine = CronEngine::start(
            driver.clone(),
            Arc::new(MemoryStore::new()),
            Box::new(|_| true),
        )
        .expect("engine");
        for name in names {
            engine.put(yearly(name)).expect("put");
        }
        reconciled(&engine.inner).await;
        let slot = engine.inner.lock().next_due().expect("a slot");
        let held = engine.inner.prepare(slot);
        assert_eq!(held.chunks.iter().flatten().count(), names.len());
        (engine, driver, held)
    }

    /// Releases `held` and returns the groups started, sorted.
    async fn release(engine: &CronEngine, driver: &Recording, held: Held) -> Vec<String> {
        engine.inner.release(held);
        engine.inner.starts_done().await;
        let mut started = driver
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        started.sort();
        started
    }

    #[tokio::test]
    async fn a_run_prepared_ahead_whose_job_is_deleted_before_its_slot_is_not_started() {
        let (engine, driver, held) = prepared(&["kept".into(), "deleted".into()]).await;
        engine.remove("deleted").await.expect("remove");
        let started = release(&engine, &driver, held).await;
        assert_eq!(started.len(), 1, "{started:?}");
        assert!(started[0].starts_with("kept-"), "{started:?}");
        engine.shutdown().await;
    }

    #[tokio::test]
    async fn runs_prepared_ahead_are_all_started_when_none_ended() {
        let names: Vec<String> = (0..200).map(|i| format!("job{i}")).collect();
        let (engine, driver, held) = prepared(&names).await;
        let mut started = release(&engine, &driver, held).await;
        started.dedup();
        assert_eq!(started.len(), 200);
        engine.shutdown().await;
    }

    #[test]
    fn the_lead_grows_with_a_slow_preparation_within_bounds() {
        assert_eq!(lead_after(Duration::from_millis(10)), LEAD);
        assert_eq!(
            lead_after(Duration::from_millis(300)),
            Duration::from_millis(600)
        );
        assert_eq!(lead_after(Duration::from_secs(2)), MAX_LEAD);
    }
}
