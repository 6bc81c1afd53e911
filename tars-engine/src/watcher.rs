//! Watches as every tars engine serves them: a snapshot of the matching objects, an
//! end-of-snapshot marker, then changes in order; a watcher that falls behind the event buffer
//! re-lists by itself. An engine supplies a [`Source`]; [`stream`] does the rest.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use futures::stream as fstream;
use tars_api::meta::Labels;
use tars_api::{LabelSelector, Object, Spec, WatchEvent, WatchStream};
use tokio::sync::broadcast::{self, error::RecvError};

/// A change of an object, with the labels it had before, so that a watcher whose selector no
/// longer (or newly) matches sees the object leave (or arrive).
#[derive(Debug, Clone)]
pub struct Change<S: Spec> {
    /// What happened (`Added`, `Modified` or `Deleted`).
    pub event: WatchEvent<S>,
    /// The object's labels before the change (`None` for a new object).
    pub previous_labels: Option<Labels>,
}

/// Where a watch takes its snapshots.
pub trait Source<S: Spec>: Send + Sync + 'static {
    /// The objects matching `selector`, and a receiver of changes subscribed at the same
    /// instant (under the same lock), so that no change falls between the two.
    fn snapshot(
        &self,
        selector: &LabelSelector,
    ) -> (Vec<Object<S>>, broadcast::Receiver<Change<S>>);
}

/// What a watcher with `selector` sees of `change`.
pub fn translate<S: Spec>(change: Change<S>, selector: &LabelSelector) -> Option<WatchEvent<S>> {
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

fn queue<S: Spec>(objects: Vec<Object<S>>) -> VecDeque<WatchEvent<S>> {
    let mut queue: VecDeque<_> = objects.into_iter().map(WatchEvent::Existing).collect();
    queue.push_back(WatchEvent::SnapshotDone);
    queue
}

struct State<S: Spec, T> {
    // Weak: an open watch must not keep an engine (and its store's lock) alive.
    source: Weak<T>,
    selector: LabelSelector,
    rx: broadcast::Receiver<Change<S>>,
    queue: VecDeque<WatchEvent<S>>,
    what: &'static str,
}

/// The watch of the objects of `source` matching `selector`. `what` names the kind in logs.
pub fn stream<S: Spec, T: Source<S>>(
    source: &Arc<T>,
    selector: LabelSelector,
    what: &'static str,
) -> WatchStream<S> {
    let (objects, rx) = source.snapshot(&selector);
    let state = State {
        source: Arc::downgrade(source),
        selector,
        rx,
        queue: queue(objects),
        what,
    };
    Box::pin(fstream::unfold(state, |mut st| async move {
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
                    tracing::debug!(kind = st.what, missed, "watcher fell behind; re-listing");
                    let source = st.source.upgrade()?;
                    let (objects, rx) = source.snapshot(&st.selector);
                    st.queue = queue(objects);
                    st.rx = rx;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }))
}
