//! Watches of container groups, served by `tars_engine::watcher`.

use std::sync::Arc;

use tars_api::{ContainerGroup, ContainerGroupSpec, LabelSelector, WatchStream};
use tars_engine::watcher::{self, Source};
use tokio::sync::broadcast;

use crate::shared::{Event, Shared};

impl Source<ContainerGroupSpec> for Shared {
    fn snapshot(
        &self,
        selector: &LabelSelector,
    ) -> (Vec<ContainerGroup>, broadcast::Receiver<Event>) {
        // Subscribed under the lock, so no change falls between the snapshot and the receiver.
        let objects = self.objects();
        let rx = self.subscribe();
        let matching = objects
            .values()
            .filter(|e| selector.matches(&e.object.metadata.labels))
            .map(|e| e.object.clone())
            .collect();
        (matching, rx)
    }
}

pub(crate) fn stream(
    shared: Arc<Shared>,
    selector: LabelSelector,
) -> WatchStream<ContainerGroupSpec> {
    watcher::stream(&shared, selector, "ContainerGroup")
}
