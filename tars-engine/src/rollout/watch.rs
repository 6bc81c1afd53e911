//! Watches of deployments, served by [`crate::watcher`].

use std::sync::Arc;

use tars_api::{DeploymentSpec, LabelSelector, WatchStream};
use tokio::sync::broadcast;

use super::engine::Inner;
use crate::watcher::{self, Source};

/// A change of a deployment, with its labels before.
pub(crate) type Change = watcher::Change<DeploymentSpec>;

impl Source<DeploymentSpec> for Inner {
    fn snapshot(
        &self,
        selector: &LabelSelector,
    ) -> (Vec<tars_api::Deployment>, broadcast::Receiver<Change>) {
        let slots = self.slots();
        let rx = self.changes.subscribe();
        let objects = slots
            .values()
            .filter(|s| selector.matches(&s.record.object.metadata.labels))
            .map(|s| s.record.object.clone())
            .collect();
        (objects, rx)
    }
}

pub(crate) fn stream(inner: Arc<Inner>, selector: LabelSelector) -> WatchStream<DeploymentSpec> {
    watcher::stream(&inner, selector, "Deployment")
}
