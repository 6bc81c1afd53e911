//! The groups of this tars instance as the framework knows them: each one's object, where it is
//! in its launch, and the latest state of its tasks. Fed by `apply`/`delete`, the framework's
//! `UPDATE` events and its rebuild from the master's task list; read by `get`/`list` and served
//! to watches (a snapshot, then changes, through `tars_engine::watcher`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tars_api::{ContainerGroup, ContainerGroupSpec, LabelSelector, WatchEvent};
use tars_engine::watcher::{Change, Source};
use tokio::sync::{broadcast, watch};

use crate::convert::{Placement, Restarts, TaskView, group_status};
use crate::v1::mesos::{AgentId, ExecutorId, TaskStatus};

/// How many changes a slow watch may fall behind before it re-lists.
const BUFFER: usize = 1024;

/// One group.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Metadata (with the stamp, uid, generation, created_at) and spec; no status.
    pub(crate) object: ContainerGroup,
    /// Waiting for an offer, or launched.
    pub(crate) placement: Placement,
    /// Its tasks, by container name (empty while pending).
    pub(crate) tasks: BTreeMap<String, TaskView>,
    /// The agent it was launched on.
    pub(crate) agent_id: Option<AgentId>,
    /// Its executor.
    pub(crate) executor_id: Option<ExecutorId>,
    /// Being deleted: no longer listed, not launched.
    pub(crate) retiring: bool,
    /// Its tasks are being killed by tars (delete or update): not restarted.
    pub(crate) stopping: bool,
    /// Restarts per the restart policy so far, and how the last run ended.
    pub(crate) restarts: Restarts,
    /// Not launched before this instant (restart back-off).
    pub(crate) not_before: Option<tokio::time::Instant>,
    /// Its `ACCEPT` is on the way: a KILL must wait for the answer.
    pub(crate) launching: bool,
}

impl Record {
    /// A group waiting for an offer.
    pub(crate) fn pending(object: ContainerGroup, unschedulable: Option<String>) -> Self {
        Record {
            object,
            placement: Placement::Pending(unschedulable),
            tasks: BTreeMap::new(),
            agent_id: None,
            executor_id: None,
            retiring: false,
            stopping: false,
            restarts: Restarts::default(),
            not_before: None,
            launching: false,
        }
    }

    /// The object with its status.
    pub(crate) fn view(&self) -> ContainerGroup {
        let mut o = self.object.clone();
        o.status = Some(group_status(
            &o.spec,
            &self.placement,
            &self.tasks,
            &self.restarts,
        ));
        o
    }

    /// True when every task is terminal (or none was launched).
    pub(crate) fn all_terminal(&self) -> bool {
        self.tasks.values().all(|t| t.state.is_terminal())
    }
}

struct Inner {
    groups: BTreeMap<String, Record>,
    /// task id → group name.
    by_task: HashMap<String, String>,
    version: u64,
}

/// The instance's groups.
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    changes: broadcast::Sender<Change<ContainerGroupSpec>>,
    /// Bumped on every change: what waiters (delete, update) watch.
    bumped: watch::Sender<u64>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        let (changes, _) = broadcast::channel(BUFFER);
        let (bumped, _) = watch::channel(0);
        Registry {
            inner: Mutex::new(Inner {
                groups: BTreeMap::new(),
                by_task: HashMap::new(),
                version: 0,
            }),
            changes,
            bumped,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A receiver that sees every later change.
    pub(crate) fn changed(&self) -> watch::Receiver<u64> {
        self.bumped.subscribe()
    }

    fn emit(&self, inner: &mut Inner, before: Option<ContainerGroup>, name: &str) {
        let after = inner
            .groups
            .get(name)
            .filter(|r| !r.retiring)
            .map(Record::view);
        let strip = |o: &Option<ContainerGroup>| {
            o.clone().map(|mut o| {
                o.metadata.resource_version = None;
                o
            })
        };
        if strip(&before) == strip(&after) {
            self.bumped.send_modify(|v| *v += 1);
            return;
        }
        inner.version += 1;
        let version = inner.version.to_string();
        if let Some(r) = inner.groups.get_mut(name) {
            r.object.metadata.resource_version = Some(version.clone());
        }
        let previous_labels = before.as_ref().map(|o| o.metadata.labels.clone());
        let event = match (before, after) {
            (None, Some(mut o)) => {
                o.metadata.resource_version = Some(version);
                WatchEvent::Added(o)
            }
            (Some(_), Some(mut o)) => {
                o.metadata.resource_version = Some(version);
                WatchEvent::Modified(o)
            }
            (Some(o), None) => WatchEvent::Deleted(o),
            (None, None) => return,
        };
        let _ = self.changes.send(Change {
            event,
            previous_labels,
        });
        self.bumped.send_modify(|v| *v += 1);
    }

    fn visible(inner: &Inner, name: &str) -> Option<ContainerGroup> {
        inner
            .groups
            .get(name)
            .filter(|r| !r.retiring)
            .map(Record::view)
    }

    /// The listed group `name` with its status.
    pub(crate) fn get(&self, name: &str) -> Option<ContainerGroup> {
        Self::visible(&self.lock(), name)
    }

    /// The record of `name`, retiring or not.
    pub(crate) fn record(&self, name: &str) -> Option<Record> {
        self.lock().groups.get(name).cloned()
    }

    /// Every listed group, sorted by name.
    pub(crate) fn all(&self) -> Vec<ContainerGroup> {
        self.lock()
            .groups
            .values()
            .filter(|r| !r.retiring)
            .map(Record::view)
            .collect()
    }

    /// Every record (for reconciliation).
    pub(crate) fn records(&self) -> Vec<Record> {
        self.lock().groups.values().cloned().collect()
    }

    /// Inserts or replaces the record of its name.
    pub(crate) fn put(&self, record: Record) {
        let mut inner = self.lock();
        let name = record.object.metadata.name.clone();
        let before = Self::visible(&inner, &name);
        for t in record.tasks.values() {
            inner.by_task.insert(t.task_id.value.clone(), name.clone());
        }
        let mut record = record;
        if let Some(old) = inner.groups.get(&name) {
            record.object.metadata.resource_version = old.object.metadata.resource_version.clone();
        }
        inner.groups.insert(name.clone(), record);
        self.emit(&mut inner, before, &name);
    }

    /// Changes the record of `name` with `f`, if there is one.
    pub(crate) fn modify(&self, name: &str, f: impl FnOnce(&mut Record)) -> bool {
        let mut inner = self.lock();
        let before = Self::visible(&inner, name);
        let Some(r) = inner.groups.get_mut(name) else {
            return false;
        };
        f(r);
        let tasks: Vec<String> = r.tasks.values().map(|t| t.task_id.value.clone()).collect();
        for t in tasks {
            inner.by_task.insert(t, name.to_owned());
        }
        self.emit(&mut inner, before, name);
        true
    }

    /// Removes `name` (watchers see it deleted, if they still saw it).
    pub(crate) fn remove(&self, name: &str) {
        let mut inner = self.lock();
        let before = Self::visible(&inner, name);
        if let Some(r) = inner.groups.remove(name) {
            for t in r.tasks.values() {
                inner.by_task.remove(&t.task_id.value);
            }
        }
        self.emit(&mut inner, before, name);
    }

    /// Takes in a task status update; the group's name, `None` when the task is not one of
    /// the current run of a group.
    pub(crate) fn update(
        &self,
        status: &TaskStatus,
        then: impl FnOnce(&mut Record),
    ) -> Option<String> {
        let mut inner = self.lock();
        let name = inner.by_task.get(&status.task_id.value).cloned()?;
        let before = Self::visible(&inner, &name);
        let r = inner.groups.get_mut(&name)?;
        let view = r.tasks.values_mut().find(|t| t.task_id == status.task_id)?;
        view.observe(status);
        // In the same change: a run that ended and is restarted is never seen ended.
        then(r);
        self.emit(&mut inner, before, &name);
        Some(name)
    }

    /// The groups in a restart back-off.
    pub(crate) fn backing_off(&self) -> Vec<Record> {
        let now = tokio::time::Instant::now();
        self.lock()
            .groups
            .values()
            .filter(|r| !r.retiring && matches!(r.placement, Placement::Pending(_)))
            .filter(|r| r.not_before.is_some_and(|t| t > now))
            .cloned()
            .collect()
    }

    /// The groups waiting for an offer (and not in a restart back-off), oldest first.
    pub(crate) fn pending(&self) -> Vec<Record> {
        let now = tokio::time::Instant::now();
        let mut out: Vec<Record> = self
            .lock()
            .groups
            .values()
            .filter(|r| !r.retiring && matches!(r.placement, Placement::Pending(_)))
            .filter(|r| r.not_before.is_none_or(|t| t <= now))
            .cloned()
            .collect();
        out.sort_by_key(|r| r.object.metadata.created_at);
        out
    }
}

impl Source<ContainerGroupSpec> for Registry {
    fn snapshot(
        &self,
        selector: &LabelSelector,
    ) -> (
        Vec<ContainerGroup>,
        broadcast::Receiver<Change<ContainerGroupSpec>>,
    ) {
        let inner = self.lock();
        let rx = self.changes.subscribe();
        let objects = inner
            .groups
            .values()
            .filter(|r| !r.retiring)
            .map(Record::view)
            .filter(|o| selector.matches(&o.metadata.labels))
            .collect();
        (objects, rx)
    }
}
