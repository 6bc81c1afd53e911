//! State shared by the API and the supervisors: the objects, their events, the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tars_api::meta::Labels;
use tars_api::{ContainerGroup, ContainerGroupSpec, ContainerGroupStatus, WatchEvent};
use tokio::sync::broadcast;
use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::task::TaskTracker;

use crate::config::LocalConfig;
use crate::store::Store;
use crate::supervisor::Supervisor;

/// How many events a slow watcher may fall behind before it re-lists.
const EVENT_BUFFER: usize = 1024;

/// A watch event with the labels the object had before (see `tars_engine::watcher`).
pub(crate) type Event = tars_engine::watcher::Change<ContainerGroupSpec>;

/// One group this instance owns.
pub(crate) struct Entry {
    pub(crate) object: ContainerGroup,
    pub(crate) supervisor: Option<Supervisor>,
}

pub(crate) struct Shared {
    pub(crate) config: LocalConfig,
    pub(crate) store: Store,
    /// The engine's durable state (the lock of the state directory is held through it).
    pub(crate) db: Arc<dyn tars_engine::store::Store>,
    pub(crate) http: reqwest::Client,
    objects: Mutex<BTreeMap<String, Entry>>,
    events: broadcast::Sender<Event>,
    version: AtomicU64,
    /// Every task that acts on groups (supervisors, stops): none outlives
    /// [`Shared::end_tasks`], even one whose handle was dropped by a cancelled caller.
    tasks: TaskTracker,
    aborts: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    pub(crate) fn new(
        config: LocalConfig,
        store: Store,
        db: Arc<dyn tars_engine::store::Store>,
        http: reqwest::Client,
    ) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Shared {
            config,
            store,
            db,
            http,
            objects: Mutex::new(BTreeMap::new()),
            events,
            version: AtomicU64::new(1),
            tasks: TaskTracker::new(),
            aborts: Mutex::new(Vec::new()),
        }
    }

    /// Spawns a task that [`Shared::end_tasks`] ends.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.tasks.spawn(task);
        let mut aborts = self.aborts.lock().unwrap_or_else(PoisonError::into_inner);
        aborts.retain(|a| !a.is_finished());
        aborts.push(handle.abort_handle());
        handle
    }

    /// Aborts every task [`Shared::spawn`] started and waits until each has been dropped, so
    /// that nothing of this instance acts on a group (or holds the state) afterwards.
    pub(crate) async fn end_tasks(&self) {
        let aborts =
            std::mem::take(&mut *self.aborts.lock().unwrap_or_else(PoisonError::into_inner));
        for a in aborts {
            a.abort();
        }
        self.tasks.close();
        self.tasks.wait().await;
    }

    pub(crate) fn objects(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn next_version(&self) -> String {
        self.version.fetch_add(1, Ordering::SeqCst).to_string()
    }

    /// Sends an event; call with the objects lock held so events keep the order of changes.
    pub(crate) fn emit(
        &self,
        event: WatchEvent<ContainerGroupSpec>,
        previous_labels: Option<Labels>,
    ) {
        // No receiver is not an error: nobody watches.
        let _ = self.events.send(Event {
            event,
            previous_labels,
        });
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Records a new status of group `name` reported by the supervisor of incarnation `uid`
    /// and generation `generation`: stored, persisted, and sent to watchers. A report of an
    /// older incarnation or generation is dropped.
    pub(crate) fn publish_status(
        &self,
        name: &str,
        uid: &str,
        generation: u64,
        status: ContainerGroupStatus,
    ) {
        let mut objects = self.objects();
        let Some(entry) = objects.get_mut(name) else {
            return;
        };
        let meta = &entry.object.metadata;
        if meta.uid.as_deref() != Some(uid) || meta.generation != Some(generation) {
            return;
        }
        if entry.object.status.as_ref() == Some(&status) {
            return;
        }
        entry.object.status = Some(status);
        entry.object.metadata.resource_version = Some(self.next_version());
        if let Err(e) = self.store.save(&entry.object) {
            tracing::warn!(backend = "local", group = name, error = %e, "could not persist status");
        }
        let labels = entry.object.metadata.labels.clone();
        self.emit(WatchEvent::Modified(entry.object.clone()), Some(labels));
    }
}
