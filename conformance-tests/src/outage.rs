//! What the engine fault tests check while the engine is down and after: a watch of the groups
//! opened before the first fault still delivers at the end ([`WatchedGroups`]), and every call
//! made meanwhile that fails does so with `Error::Unavailable`, which a client retries
//! ([`Probes`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use tars_api::api::{ListParams, WatchEvent};
use tars_api::{Backend, Error, LabelSelector};

use crate::kills::{DEPLOYMENT, REPLICAS, revision_of};

/// The groups as a watch of every group sees them (name → revision), kept by a task.
pub struct WatchedGroups {
    groups: Arc<Mutex<BTreeMap<String, Option<u64>>>>,
    ended: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WatchedGroups {
    /// Opens the watch on `backend`.
    pub async fn open(backend: &dyn Backend) -> Result<Self, String> {
        let mut stream = backend
            .container_groups()
            .watch(&LabelSelector::everything())
            .await
            .map_err(|e| format!("watch: {e}"))?;
        let groups: Arc<Mutex<BTreeMap<String, Option<u64>>>> = Arc::default();
        let ended: Arc<Mutex<Option<String>>> = Arc::default();
        let task = tokio::spawn({
            let (groups, ended) = (groups.clone(), ended.clone());
            async move {
                while let Some(event) = stream.next().await {
                    let mut groups = groups.lock().unwrap_or_else(PoisonError::into_inner);
                    match event {
                        Ok(
                            WatchEvent::Existing(g)
                            | WatchEvent::Added(g)
                            | WatchEvent::Modified(g),
                        ) => {
                            groups.insert(g.metadata.name.clone(), revision_of(&g.spec));
                        }
                        Ok(WatchEvent::Deleted(g)) => {
                            groups.remove(&g.metadata.name);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            *ended.lock().unwrap_or_else(PoisonError::into_inner) =
                                Some(format!("the watch failed: {e}"));
                            return;
                        }
                    }
                }
                *ended.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some("the watch ended".to_owned());
            }
        });
        Ok(WatchedGroups {
            groups,
            ended,
            task,
        })
    }

    /// Waits (`within` at most) until the watch shows exactly the Deployment's
    /// [`REPLICAS`] groups, all of revision `rev`; fails at once if the watch failed or ended.
    pub async fn saw_revision(self, rev: u64, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let prefix = format!("{DEPLOYMENT}-");
        loop {
            if let Some(why) = self
                .ended
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
            {
                return Err(why);
            }
            let web: Vec<Option<u64>> = self
                .groups
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .filter(|(name, _)| name.starts_with(&prefix))
                .map(|(_, r)| *r)
                .collect();
            if web.len() == REPLICAS as usize && web.iter().all(|r| *r == Some(rev)) {
                self.task.abort();
                return Ok(());
            }
            if Instant::now() > deadline {
                self.task.abort();
                return Err(format!(
                    "the watch opened before the first fault shows {web:?}, not {REPLICAS} \
                     groups of revision {rev}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// What the calls made through the faults returned.
#[derive(Debug, Default)]
pub struct Probed {
    /// Calls that succeeded.
    pub ok: u64,
    /// Calls that failed with `Error::Unavailable`.
    pub unavailable: u64,
    /// Any other failure, described.
    pub other: Vec<String>,
}

/// A task listing the groups every 250 ms until [`Probes::stop`].
pub struct Probes {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Probed>,
}

impl Probes {
    /// Starts listing through `backend`.
    pub fn start(backend: Arc<dyn Backend>) -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut probed = Probed::default();
            loop {
                match backend.container_groups().list(&ListParams::all()).await {
                    Ok(_) => probed.ok += 1,
                    Err(Error::Unavailable { .. }) => probed.unavailable += 1,
                    Err(e) => probed.other.push(e.to_string()),
                }
                tokio::select! {
                    _ = &mut stopped => return probed,
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
        });
        Probes { stop, task }
    }

    /// Stops the calls; `Err` if any failed otherwise than `Unavailable`, or if none failed
    /// while `must_fail` (the engine's API was down, so some call must have met it).
    pub async fn stop(self, must_fail: bool) -> Result<Probed, String> {
        let _ = self.stop.send(());
        let probed = self.task.await.unwrap_or_default();
        if !probed.other.is_empty() || (must_fail && probed.unavailable == 0) {
            return Err(format!(
                "calls through the faults: {} ok, {} Unavailable, others {:?} (want failures \
                 only as Unavailable{})",
                probed.ok,
                probed.unavailable,
                probed.other,
                if must_fail { ", at least one" } else { "" }
            ));
        }
        Ok(probed)
    }
}
