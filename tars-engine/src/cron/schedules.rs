//! Parsed schedules shared by the jobs that use the same expression in the same time zone: a
//! parsed cron expression takes kilobytes, and many jobs share a handful of schedules.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use tars_api::{CronJob, Error, Result, Schedule};

type Key = (String, Option<String>);

/// Schedules by expression and time zone, held weakly: one dropped by its last job goes.
#[derive(Default)]
pub struct Schedules {
    parsed: HashMap<Key, Weak<Schedule>>,
}

impl Schedules {
    /// The parsed schedule of `job` (`None` for a job that runs only after its parents).
    pub fn of(&mut self, job: &CronJob) -> Result<Option<Arc<Schedule>>> {
        let Some(expr) = job.spec.schedule.as_deref() else {
            return Ok(None);
        };
        let key = (expr.to_owned(), job.spec.time_zone.clone());
        if let Some(s) = self.parsed.get(&key).and_then(Weak::upgrade) {
            return Ok(Some(s));
        }
        let schedule = Arc::new(
            Schedule::parse(expr, job.spec.time_zone.as_deref())
                .map_err(|r| Error::invalid("spec.schedule", r))?,
        );
        // Forget schedules no job uses any more, now and then, so the map stays small.
        if self.parsed.len() >= 64 && self.parsed.len().is_power_of_two() {
            self.parsed.retain(|_, w| w.strong_count() > 0);
        }
        self.parsed.insert(key, Arc::downgrade(&schedule));
        Ok(Some(schedule))
    }

    /// How many distinct schedules are known (some possibly unused).
    pub fn len(&self) -> usize {
        self.parsed.len()
    }

    /// True when none is known.
    pub fn is_empty(&self) -> bool {
        self.parsed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tars_api::{Container, ContainerGroupSpec, CronJobSpec};

    fn job(expr: &str, tz: Option<&str>) -> CronJob {
        let spec: CronJobSpec = serde_json::from_value(serde_json::json!({
            "schedule": expr,
            "time_zone": tz,
            "template": {"spec": ContainerGroupSpec::new(vec![Container::new("m", "i", &["true"])])},
        }))
        .expect("spec");
        CronJob::new("j", spec)
    }

    #[test]
    fn jobs_with_the_same_schedule_share_one_parse() {
        let mut s = Schedules::default();
        let a = s.of(&job("0 * * * *", None)).expect("a").expect("some");
        let b = s.of(&job("0 * * * *", None)).expect("b").expect("some");
        let c = s
            .of(&job("0 * * * *", Some("Europe/Berlin")))
            .expect("c")
            .expect("some");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(s.len(), 2);
        assert!(matches!(
            s.of(&job("61 * * * *", None)),
            Err(Error::Invalid { field, .. }) if field == "spec.schedule"
        ));
    }
}
