//! The driver trait: what tars' engines (rollout, cron) need of a backend — start, stop and
//! observe container groups. Any backend's [`ContainerGroups`] API is a driver.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tars_api::api::{ApplyOptions, ContainerGroups, DeleteOptions, ListParams};
use tars_api::{ContainerGroup, ContainerGroupSpec, Error, LabelSelector, Result, WatchStream};

/// Starts, stops and observes container groups for an engine.
#[async_trait]
pub trait GroupDriver: Send + Sync + 'static {
    /// Starts group `group` (or brings it to this spec). Idempotent.
    async fn start(&self, group: &ContainerGroup) -> Result<()>;
    /// Stops and removes group `name`; a group already gone is fine.
    async fn stop(&self, name: &str, grace: Option<Duration>) -> Result<()>;
    /// Groups matching `selector`, with their status.
    async fn list(&self, selector: &LabelSelector) -> Result<Vec<ContainerGroup>>;
    /// A watch of the groups matching `selector`.
    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>>;
}

/// A [`GroupDriver`] over any backend's container group API.
pub struct ApiDriver<G: ?Sized> {
    groups: Arc<G>,
}

impl<G: ?Sized> ApiDriver<G> {
    /// Drives groups through `groups`.
    pub fn new(groups: Arc<G>) -> Self {
        ApiDriver { groups }
    }
}

#[async_trait]
impl<G: ContainerGroups + ?Sized + 'static> GroupDriver for ApiDriver<G> {
    async fn start(&self, group: &ContainerGroup) -> Result<()> {
        self.groups
            .apply(group, ApplyOptions::default())
            .await
            .map(drop)
    }

    async fn stop(&self, name: &str, grace: Option<Duration>) -> Result<()> {
        match self
            .groups
            .delete(
                name,
                DeleteOptions {
                    grace_period: grace,
                },
            )
            .await
        {
            Ok(()) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, selector: &LabelSelector) -> Result<Vec<ContainerGroup>> {
        let mut params = ListParams::matching(selector.clone());
        let mut out = Vec::new();
        loop {
            let page = self.groups.list(&params).await?;
            out.extend(page.items);
            match page.continue_token {
                Some(t) => params.continue_token = Some(t),
                None => return Ok(out),
            }
        }
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
        self.groups.watch(selector).await
    }
}
