//! Waiting for a condition on one object, driven by the backend's watch (as kube-runtime's
//! `await_condition`), with a timeout and an optional progress callback.

use std::time::Duration;

use futures::StreamExt;
use tars_api::api::{KindApi, ObjectApi, WatchEvent};
use tars_api::conditions::Condition;
use tars_api::{Error, LabelSelector, Object, Result};

/// Waits until `condition` holds for object `name`, for at most `timeout`. Returns the object
/// as it was when the condition first held (`None` when it holds for an absent object).
///
/// `progress` is called with every state of the object the watch shows (`None` once deleted),
/// so that a caller can report progress on long operations.
///
/// ```no_run
/// # async fn demo(api: &dyn tars_api::ObjectApi<tars_api::ContainerGroupSpec>) -> tars_api::Result<()> {
/// use std::time::Duration;
/// use tars_api::conditions::is_group_ready;
/// let group = tars_engine::wait::wait_for(api, "web", is_group_ready(), Duration::from_secs(30), |_| {}).await?;
/// # Ok(()) }
/// ```
pub async fn wait_for<S, C, F>(
    api: &dyn ObjectApi<S>,
    name: &str,
    condition: C,
    timeout: Duration,
    mut progress: F,
) -> Result<Option<Object<S>>>
where
    S: KindApi,
    C: Condition<S>,
    F: FnMut(Option<&Object<S>>) + Send,
{
    let operation = format!("waiting for {} {name}", S::KIND);
    let work = async {
        let mut events = api.watch(&LabelSelector::everything()).await?;
        let mut current: Option<Object<S>> = None;
        let mut snapshot_done = false;
        while let Some(event) = events.next().await {
            let event = event?;
            let relevant = event.object().is_some_and(|o| o.name() == name);
            match event {
                WatchEvent::SnapshotDone => snapshot_done = true,
                WatchEvent::Existing(o) | WatchEvent::Added(o) | WatchEvent::Modified(o)
                    if relevant =>
                {
                    current = Some(o);
                }
                WatchEvent::Deleted(_) if relevant => current = None,
                _ => continue,
            }
            if !snapshot_done {
                continue;
            }
            progress(current.as_ref());
            if condition.holds(current.as_ref()) {
                return Ok(current);
            }
        }
        Err(Error::Unavailable {
            backend: "watch".to_owned(),
            reason: format!("the watch ended while {operation}"),
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            operation,
            after: timeout,
        }),
    }
}
