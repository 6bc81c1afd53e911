//! Watches: a snapshot, an end-of-snapshot marker, then changes; a watcher that falls behind
//! the event buffer re-lists by itself.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::stream;
use tars_api::{ContainerGroupSpec, LabelSelector, WatchEvent, WatchStream};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::shared::{Event, Shared};

struct State {
    shared: Arc<Shared>,
    selector: LabelSelector,
    rx: broadcast::Receiver<Event>,
    queue: VecDeque<WatchEvent<ContainerGroupSpec>>,
}

/// Snapshot of the matching objects and a receiver subscribed at the same instant.
fn snapshot(
    shared: &Shared,
    selector: &LabelSelector,
) -> (
    VecDeque<WatchEvent<ContainerGroupSpec>>,
    broadcast::Receiver<Event>,
) {
    let objects = shared.objects();
    let rx = shared.subscribe();
    let mut queue: VecDeque<_> = objects
        .values()
        .filter(|e| selector.matches(&e.object.metadata.labels))
        .map(|e| WatchEvent::Existing(e.object.clone()))
        .collect();
    queue.push_back(WatchEvent::SnapshotDone);
    (queue, rx)
}

/// What a watcher with `selector` sees of `event`.
fn translate(event: Event, selector: &LabelSelector) -> Option<WatchEvent<ContainerGroupSpec>> {
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

pub(crate) fn stream(
    shared: Arc<Shared>,
    selector: LabelSelector,
) -> WatchStream<ContainerGroupSpec> {
    let (queue, rx) = snapshot(&shared, &selector);
    let state = State {
        shared,
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
                    tracing::debug!(backend = "local", missed, "watcher fell behind; re-listing");
                    let (queue, rx) = snapshot(&st.shared, &st.selector);
                    st.queue = queue;
                    st.rx = rx;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }))
}
