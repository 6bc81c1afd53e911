//! Watches of cron jobs, served by [`crate::watcher`].

use std::sync::Arc;

use tars_api::{CronJob, CronJobSpec, LabelSelector, WatchStream};
use tokio::sync::broadcast;

use super::engine::Inner;
use crate::watcher::{self, Source};

/// How many events a slow watcher may fall behind before it re-lists.
pub(crate) const EVENT_BUFFER: usize = 1024;

/// A change of a cron job, with its labels before.
pub(crate) type Event = watcher::Change<CronJobSpec>;

impl Source<CronJobSpec> for Inner {
    fn snapshot(&self, selector: &LabelSelector) -> (Vec<CronJob>, broadcast::Receiver<Event>) {
        // Subscribed under the lock, so no change falls between the snapshot and the receiver.
        let core = self.lock();
        let rx = self.events.subscribe();
        let objects = core
            .names()
            .iter()
            .filter_map(|n| core.object(n))
            .filter(|o| selector.matches(&o.metadata.labels))
            .collect();
        (objects, rx)
    }
}

pub(crate) fn stream(inner: Arc<Inner>, selector: LabelSelector) -> WatchStream<CronJobSpec> {
    watcher::stream(&inner, selector, "CronJob")
}
