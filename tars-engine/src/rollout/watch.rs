//! Watches of deployments: a snapshot, an end-of-snapshot marker, then changes; a watcher that
//! falls behind re-lists by itself.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use futures::stream;
use tars_api::meta::Labels;
use tars_api::{DeploymentSpec, LabelSelector, WatchEvent, WatchStream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::engine::Inner;

/// A change with the labels the object had before, so that a watcher whose selector no longer
/// (or newly) matches sees the object leave (or arrive).
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) event: WatchEvent<DeploymentSpec>,
    pub(crate) previous_labels: Option<Labels>,
}

type Queue = VecDeque<WatchEvent<DeploymentSpec>>;

fn snapshot(inner: &Inner, selector: &LabelSelector) -> (Queue, broadcast::Receiver<Change>) {
    let slots = inner.slots();
    let rx = inner.changes.subscribe();
    let mut queue: Queue = slots
        .values()
        .filter(|s| selector.matches(&s.record.object.metadata.labels))
        .map(|s| WatchEvent::Existing(s.record.object.clone()))
        .collect();
    queue.push_back(WatchEvent::SnapshotDone);
    (queue, rx)
}

fn translate(change: Change, selector: &LabelSelector) -> Option<WatchEvent<DeploymentSpec>> {
    let was = change
        .previous_labels
        .as_ref()
        .is_some_and(|l| selector.matches(l));
    let is = change
        .event
        .object()
        .is_some_and(|o| selector.matches(&o.metadata.labels));
    match change.event {
        WatchEvent::Modified(o) if is && !was => Some(WatchEvent::Added(o)),
        WatchEvent::Modified(o) if was && !is => Some(WatchEvent::Deleted(o)),
        WatchEvent::Deleted(o) if was => Some(WatchEvent::Deleted(o)),
        WatchEvent::Deleted(_) => None,
        e if is => Some(e),
        _ => None,
    }
}

struct State {
    // Weak: an open watch must not keep a shut-down engine (and its store lock) alive.
    inner: Weak<Inner>,
    selector: LabelSelector,
    rx: broadcast::Receiver<Change>,
    queue: Queue,
}

pub(crate) fn stream(inner: Arc<Inner>, selector: LabelSelector) -> WatchStream<DeploymentSpec> {
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
                Ok(change) => {
                    if let Some(e) = translate(change, &st.selector) {
                        return Some((Ok(e), st));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "deployment watcher fell behind; re-listing");
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
