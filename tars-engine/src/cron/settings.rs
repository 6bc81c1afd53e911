//! What scheduling needs of a job's spec ([`Settings`]), shared by the jobs whose are equal
//! ([`SettingsPool`]): most jobs keep the defaults (concurrency, deadlines, retries, history
//! limits, no parents), and at 100,000 jobs a copy each would be a tenth of what a job costs.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tars_api::{ConcurrencyPolicy, CronJob};

/// What scheduling needs of a job's spec. The object itself (metadata, template) stays in the
/// store and is read when a run starts or the job is asked for: at 100,000 jobs, a copy of
/// every object would take more memory than all the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Settings {
    pub(super) concurrency: ConcurrencyPolicy,
    pub(super) suspend: bool,
    pub(super) starting_deadline: Option<Duration>,
    pub(super) active_deadline: Option<Duration>,
    pub(super) retries: u32,
    pub(super) retry_backoff: Duration,
    pub(super) successful_history_limit: u32,
    pub(super) failed_history_limit: u32,
    /// The template's termination grace period, for stopping a run.
    pub(super) grace: Duration,
    pub(super) parents: Box<[String]>,
}

impl Settings {
    fn of(object: &CronJob) -> Settings {
        let spec = &object.spec;
        Settings {
            concurrency: spec.concurrency,
            suspend: spec.suspend,
            starting_deadline: spec.starting_deadline,
            active_deadline: spec.active_deadline,
            retries: spec.retries,
            retry_backoff: spec.retry_backoff,
            successful_history_limit: spec.successful_history_limit,
            failed_history_limit: spec.failed_history_limit,
            grace: spec.template.spec.termination_grace_period,
            parents: spec.parents.clone().into_boxed_slice(),
        }
    }
}

/// The distinct [`Settings`] in use, each once. An entry no job holds any more is dropped at the
/// next sweep (when the pool has doubled since the last), so the pool stays within twice the
/// number of distinct settings in use.
#[derive(Default)]
pub(super) struct SettingsPool {
    shared: HashSet<Arc<Settings>>,
    sweep_at: usize,
}

impl SettingsPool {
    /// The settings of `object`, shared with every job whose settings are equal.
    pub(super) fn of(&mut self, object: &CronJob) -> Arc<Settings> {
        let settings = Settings::of(object);
        if let Some(shared) = self.shared.get(&settings) {
            return shared.clone();
        }
        if self.shared.len() >= self.sweep_at {
            self.shared.retain(|s| Arc::strong_count(s) > 1);
            self.sweep_at = (self.shared.len() * 2).max(64);
        }
        let shared = Arc::new(settings);
        self.shared.insert(shared.clone());
        shared
    }

    /// How many distinct settings the pool holds (some possibly unused until the next sweep).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.shared.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tars_api::{Container, ContainerGroupSpec, CronJobSpec};

    fn job(name: &str, retries: u32) -> CronJob {
        let mut spec = CronJobSpec::new(
            Some("* * * * *"),
            ContainerGroupSpec::new(vec![Container::new("m", "i", &["true"])]),
        );
        spec.retries = retries;
        CronJob::new(name, spec)
    }

    #[test]
    fn equal_settings_are_shared_and_unequal_ones_are_not() {
        let mut pool = SettingsPool::default();
        let a = pool.of(&job("a", 0));
        let b = pool.of(&job("b", 0));
        let c = pool.of(&job("c", 3));
        assert!(Arc::ptr_eq(&a, &b), "two jobs, one copy of equal settings");
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.retries, 3);
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn settings_no_job_holds_are_swept() {
        let mut pool = SettingsPool::default();
        let held = pool.of(&job("held", 1_000));
        for retries in 0..500 {
            drop(pool.of(&job("gone", retries)));
        }
        // Sweeps keep the pool within twice what is in use (here one).
        assert!(pool.len() <= 64, "pool of {}", pool.len());
        assert!(Arc::ptr_eq(&held, &pool.of(&job("again", 1_000))));
    }
}
