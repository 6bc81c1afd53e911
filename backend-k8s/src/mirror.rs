//! One watch per kind over the namespace, kept by kube-runtime's watcher (re-list on expiry,
//! backoff on errors). It serves two things without a round trip per call: which names exist
//! and whether this instance owns them (the ownership check of every apply and delete), and
//! tars' watches of the kind (a snapshot, then changes, through `tars_engine::watcher`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tars_api::{Error, LabelSelector, Object, Result, Spec, WatchEvent};
use tars_engine::watcher::{Change, Source};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::BACKEND;
use crate::convert::Stamp;

/// How many changes a slow tars watch may fall behind before it re-lists.
const BUFFER: usize = 1024;

/// How long the first listing may take before calls fail as `Unavailable`.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Who holds a name in the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// An object of this tars instance.
    Ours,
    /// Anything else: another tool, another tars instance.
    Foreign,
    /// An object of this instance being deleted (Kubernetes finishes it in the background):
    /// no longer listed or watched, as on every backend, but its name is not free yet.
    Terminating,
}

struct Objects<S: Spec> {
    ours: BTreeMap<String, Object<S>>,
    foreign: BTreeSet<String>,
    terminating: BTreeSet<String>,
}

/// The kind's objects as last seen by the watch.
pub(crate) struct Mirror<S: Spec> {
    objects: Mutex<Objects<S>>,
    changes: broadcast::Sender<Change<S>>,
    synced: watch::Receiver<bool>,
    /// Counts the removals the mirror saw (of any name), so that a wait for one name's removal
    /// wakes when there may be one.
    removals: watch::Sender<u64>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl<S: Spec> Mirror<S> {
    /// Starts watching every object of `api` (the namespace), turning ours into tars objects
    /// with `convert`.
    pub(crate) fn start<K>(
        api: Api<K>,
        stamp: Stamp,
        convert: fn(&K) -> Result<Object<S>>,
    ) -> Arc<Self>
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let (changes, _) = broadcast::channel(BUFFER);
        let (synced_tx, synced) = watch::channel(false);
        let mirror = Arc::new(Mirror {
            objects: Mutex::new(Objects {
                ours: BTreeMap::new(),
                foreign: BTreeSet::new(),
                terminating: BTreeSet::new(),
            }),
            changes,
            synced,
            removals: watch::channel(0).0,
            task: Mutex::new(None),
        });
        let weak = Arc::downgrade(&mirror);
        let task = tokio::spawn(async move {
            let mut events =
                std::pin::pin!(watcher::watcher(api, watcher::Config::default()).default_backoff());
            let mut listing: Option<Listing<S>> = None;
            while let Some(event) = events.next().await {
                let Some(mirror) = weak.upgrade() else { return };
                match event {
                    Ok(Event::Init) => listing = Some(Listing::default()),
                    Ok(Event::InitApply(k)) => {
                        if let Some(l) = listing.as_mut() {
                            match classify(&k, &stamp, convert) {
                                Seen::Ours(o) => {
                                    l.ours.insert(o.metadata.name.clone(), *o);
                                }
                                Seen::Foreign(name) => {
                                    l.foreign.insert(name);
                                }
                                Seen::Terminating(name) => {
                                    l.terminating.insert(name);
                                }
                                Seen::Controlled => {}
                            }
                        }
                    }
                    Ok(Event::InitDone) => {
                        if let Some(l) = listing.take() {
                            mirror.replace(l);
                        }
                        let _ = synced_tx.send(true);
                    }
                    Ok(Event::Apply(k)) => mirror.apply(&k, &stamp, convert),
                    Ok(Event::Delete(k)) => mirror.delete(&k.name_any()),
                    Err(e) => {
                        tracing::warn!(backend = BACKEND, error = %e, "watch failed; retrying with backoff")
                    }
                }
            }
        });
        *mirror.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
        mirror
    }

    fn lock(&self) -> MutexGuard<'_, Objects<S>> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the first listing is complete.
    pub(crate) async fn synced(&self) -> Result<()> {
        let mut rx = self.synced.clone();
        match tokio::time::timeout(SYNC_TIMEOUT, rx.wait_for(|s| *s)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::Unavailable {
                backend: BACKEND.to_owned(),
                reason: format!("the watch did not list the namespace within {SYNC_TIMEOUT:?}"),
            }),
        }
    }

    /// Who holds `name`, as last seen (`None`: nobody).
    pub(crate) fn holder(&self, name: &str) -> Option<Holder> {
        let objects = self.lock();
        if objects.ours.contains_key(name) {
            Some(Holder::Ours)
        } else if objects.foreign.contains(name) {
            Some(Holder::Foreign)
        } else if objects.terminating.contains(name) {
            Some(Holder::Terminating)
        } else {
            None
        }
    }

    /// Waits until nobody holds `name` as the watch sees it (its removal reported), or `max`
    /// has passed.
    pub(crate) async fn wait_absent(&self, name: &str, max: Duration) {
        let mut removals = self.removals.subscribe();
        let deadline = tokio::time::Instant::now() + max;
        while self.holder(name).is_some() {
            match tokio::time::timeout_at(deadline, removals.changed()).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    }

    /// Records what this instance just wrote, before the watch reports it.
    pub(crate) fn wrote(&self, object: Object<S>) {
        self.upsert(object);
    }

    /// Records what this instance just deleted (gone, or being finished by Kubernetes).
    pub(crate) fn deleted(&self, name: &str) {
        self.delete(name);
    }

    /// Records that this instance started deleting `name`.
    pub(crate) fn deleting(&self, name: &str) {
        self.delete(name);
        self.lock().terminating.insert(name.to_owned());
    }

    /// Ends the watch.
    pub(crate) fn stop(&self) {
        if let Some(task) = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }

    fn apply<K: Resource>(&self, k: &K, stamp: &Stamp, convert: fn(&K) -> Result<Object<S>>) {
        match classify(k, stamp, convert) {
            Seen::Ours(o) => self.upsert(*o),
            Seen::Foreign(name) => {
                let mut objects = self.lock();
                if let Some(old) = objects.ours.remove(&name) {
                    // Its stamp was removed or its spec made unreadable: no longer ours.
                    let labels = old.metadata.labels.clone();
                    let _ = self.changes.send(Change {
                        event: WatchEvent::Deleted(old),
                        previous_labels: Some(labels),
                    });
                }
                objects.foreign.insert(name);
            }
            Seen::Terminating(name) => self.deleting(&name),
            Seen::Controlled => {}
        }
    }

    fn upsert(&self, object: Object<S>) {
        let mut objects = self.lock();
        let name = object.metadata.name.clone();
        objects.foreign.remove(&name);
        objects.terminating.remove(&name);
        let previous = objects.ours.get(&name);
        if previous.is_some_and(|p| {
            p.metadata.resource_version == object.metadata.resource_version
                && object.metadata.resource_version.is_some()
        }) {
            return;
        }
        // An older version reported late must not replace a newer one written by us.
        if let (Some(p), Some(new)) = (
            previous.and_then(|p| p.metadata.resource_version.as_deref()),
            object.metadata.resource_version.as_deref(),
        ) && let (Ok(p), Ok(new)) = (p.parse::<u64>(), new.parse::<u64>())
            && new < p
            && previous.and_then(|p| p.metadata.uid.as_deref()) == object.metadata.uid.as_deref()
        {
            return;
        }
        let previous_labels = previous.map(|p| p.metadata.labels.clone());
        let event = if previous.is_some() {
            WatchEvent::Modified(object.clone())
        } else {
            WatchEvent::Added(object.clone())
        };
        objects.ours.insert(name, object);
        let _ = self.changes.send(Change {
            event,
            previous_labels,
        });
    }

    fn delete(&self, name: &str) {
        let mut objects = self.lock();
        objects.foreign.remove(name);
        objects.terminating.remove(name);
        if let Some(old) = objects.ours.remove(name) {
            let labels = old.metadata.labels.clone();
            let _ = self.changes.send(Change {
                event: WatchEvent::Deleted(old),
                previous_labels: Some(labels),
            });
        }
        drop(objects);
        self.removals.send_modify(|n| *n += 1);
    }

    /// A new listing (the first, or after the watch's position expired): the differences
    /// with what was known become changes.
    fn replace(&self, listing: Listing<S>) {
        let Listing {
            ours,
            foreign,
            terminating,
        } = listing;
        let mut objects = self.lock();
        let old = std::mem::take(&mut objects.ours);
        for (name, o) in &old {
            if !ours.contains_key(name) {
                let _ = self.changes.send(Change {
                    event: WatchEvent::Deleted(o.clone()),
                    previous_labels: Some(o.metadata.labels.clone()),
                });
            }
        }
        for (name, o) in &ours {
            let event = match old.get(name) {
                None => WatchEvent::Added(o.clone()),
                Some(p) if p.metadata.resource_version != o.metadata.resource_version => {
                    WatchEvent::Modified(o.clone())
                }
                Some(_) => continue,
            };
            let _ = self.changes.send(Change {
                event,
                previous_labels: old.get(name).map(|p| p.metadata.labels.clone()),
            });
        }
        objects.ours = ours;
        objects.foreign = foreign;
        objects.terminating = terminating;
        drop(objects);
        self.removals.send_modify(|n| *n += 1);
    }
}

impl<S: Spec> Drop for Mirror<S> {
    fn drop(&mut self) {
        self.stop();
    }
}

impl<S: Spec> Source<S> for Mirror<S> {
    fn snapshot(
        &self,
        selector: &LabelSelector,
    ) -> (Vec<Object<S>>, broadcast::Receiver<Change<S>>) {
        let objects = self.lock();
        let rx = self.changes.subscribe();
        let matching = objects
            .ours
            .values()
            .filter(|o| selector.matches(&o.metadata.labels))
            .cloned()
            .collect();
        (matching, rx)
    }
}

/// What a (re-)listing found.
struct Listing<S: Spec> {
    ours: BTreeMap<String, Object<S>>,
    foreign: BTreeSet<String>,
    terminating: BTreeSet<String>,
}

impl<S: Spec> Default for Listing<S> {
    fn default() -> Self {
        Listing {
            ours: BTreeMap::new(),
            foreign: BTreeSet::new(),
            terminating: BTreeSet::new(),
        }
    }
}

/// What the watch saw.
enum Seen<S: Spec> {
    /// An object of this instance.
    Ours(Box<Object<S>>),
    /// An object of ours being deleted.
    Terminating(String),
    /// A name held by someone else (or by an object stamped as ours that tars cannot read).
    Foreign(String),
    /// An object of someone else that another object controls (the pods of a foreign
    /// ReplicaSet or Job): its name is generated and no apply of ours can collide with it.
    /// (The replicas of our deployments and the runs of our cron jobs are ours: they carry
    /// the stamp and their group spec, and show as groups, as on every backend.)
    Controlled,
}

fn classify<K: Resource, S: Spec>(
    k: &K,
    stamp: &Stamp,
    convert: fn(&K) -> Result<Object<S>>,
) -> Seen<S> {
    let meta = k.meta();
    let controlled = meta
        .owner_references
        .as_ref()
        .is_some_and(|r| r.iter().any(|r| r.controller == Some(true)));
    let name = meta.name.clone().unwrap_or_default();
    if !stamp.owns(meta.labels.as_ref()) {
        return if controlled {
            Seen::Controlled
        } else {
            Seen::Foreign(name)
        };
    }
    if meta.deletion_timestamp.is_some() {
        return Seen::Terminating(name);
    }
    match convert(k) {
        Ok(o) => Seen::Ours(Box::new(o)),
        Err(e) => {
            tracing::warn!(backend = BACKEND, name, error = %e, "an object stamped as ours is not readable as a tars object");
            Seen::Foreign(name)
        }
    }
}

impl<S: Spec> Mirror<S> {
    /// A page of this instance's objects, as last seen.
    pub(crate) fn page(&self, params: &tars_api::api::ListParams) -> tars_api::api::ObjectList<S> {
        let objects = self.lock();
        tars_api::api::ObjectList::page(objects.ours.values(), params)
    }
}
