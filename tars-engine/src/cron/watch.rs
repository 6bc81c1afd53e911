//! Watches of cron jobs: a snapshot, an end-of-snapshot marker, then changes; a watcher that
//! falls behind the event buffer re-lists by itself.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use futures::stream;
use tars_api::meta::Labels;
use tars_api::{CronJobSpec, LabelSelector, WatchEvent, WatchStream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::engine::Inner;

/// How many events a slow watcher may fall behind before it re-lists.
pub(crate) const EVENT_BUFFER: usize = 1024;

/// A change, with the labels the job had before (so that a watcher whose selector no longer,
/// or newly, matches sees the job leave, or arrive).
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) event: WatchEvent<CronJobSpec>,
    pub(crate) previous_labels: Option<Labels>,
}

struct State {
    // Weak: an open watch must not keep the engine (and its store's lock) alive.
    inner: Weak<Inner>,
    selector: LabelSelector,
    rx: broadcast::Receiver<Event>,
    queue: VecDeque<WatchEvent<CronJobSpec>>,
}

fn snapshot(
    inner: &Inner,
    selector: &LabelSelector,
) -> (
    VecDeque<WatchEvent<CronJobSpec>>,
    broadcast::Receiver<Event>,
) {
    // Subscribed under the lock, so no change falls between the snapshot and the receiver.
    let core = inner.lock();
    let rx = inner.events.subscribe();
    let mut queue: VecDeque<_> = core
        .names()
        .iter()
        .filter_map(|n| core.object(n))
        .filter(|o| selector.matches(&o.metadata.labels))
        .map(WatchEvent::Existing)
        .collect();
    queue.push_back(WatchEvent::SnapshotDone);
    (queue, rx)
}

fn translate(event: Event, selector: &LabelSelector) -> Option<WatchEvent<CronJobSpec>> {
    let was = event
        .previous_labels
        .as_ref()
        .is_some_and(|l| selector.matches(l));
    let is = event
        .event
        .object()
        .is_some_and(|o| selector.matches(&o.metadata.labels));
    match event.event {
        WatchEvent::Modified(o) if is && !was => Some(WatchEvent::Added(o)),
        WatchEvent::Modified(o) if was && !is => Some(WatchEvent::Deleted(o)),
        WatchEvent::Deleted(o) if was => Some(WatchEvent::Deleted(o)),
        WatchEvent::Deleted(_) => None,
        e if is => Some(e),
        _ => None,
    }
}

pub(crate) fn stream(inner: Arc<Inner>, selector: LabelSelector) -> WatchStream<CronJobSpec> {
    let (queue, rx) = snapshot(&inner, &selector);
    let state = State {
        inner: Arc::downgrade(&inner),
        selector,
        rx,
        queue,
    };
    Box::pin(stream::unfold(state, |mut st| async move {
        loop {
            if let Some(e) = st.queue.pop_front() {
                return Some((Ok(e), st));
            }
            match st.rx.recv().await {
                Ok(event) => {
                    if let Some(e) = translate(event, &st.selector) {
                        return Some((Ok(e), st));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "cron watcher fell behind; re-listing");
                    let inner = st.inner.upgrade()?;
                    let (queue, rx) = snapshot(&inner, &st.selector);
                    st.queue = queue;
                    st.rx = rx;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }))
}
