//! ContainerGroups as Nova servers. A server's image, flavor and `user_data` cannot change, so a
//! changed group spec replaces the server (the old one is gone before the new one is created).
//!
//! What tars must read back (the spec, the annotations) lives in the server's metadata as
//! base64 chunks (`tars:spec:NN`, 255 characters each): an ordinary user cannot read
//! `user_data` back. Watch polls Nova (every [`WATCH_POLL`]): Nova has no change feed for a
//! tenant.
//!
//! The replicas of a deployment asking for a spread share an anti-affinity server group
//! (`convert::placement`), found or created before a replica's server is created and deleted
//! once no server of it is left: after a replica's delete, after a failed create. One lock
//! orders these steps, so that a group is never deleted between being found and receiving its
//! server (Nova adds a member when it accepts the create).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt as _;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, Change, ContainerGroups, DeleteOptions, ListParams, LogOptions,
    ObjectApi, ObjectList, WatchEvent, WatchStream,
};
use tars_api::meta::{Kind, ObjectMeta};
use tars_api::{ContainerGroup, ContainerGroupSpec, Error, Feature, LabelSelector, Result, diff};
use tokio::sync::broadcast;

use crate::client::Client;
use crate::convert::Stamp;
use crate::convert::metadata::{MAX_LEN, generation_of, label_key, labels_of, owned_by};
use crate::convert::placement::{is_server_group_of, server_group_for};
use crate::convert::server::{SchedulerHints, boot_image_name, instance_tag, server_create};
use crate::convert::status::{Server, group_status, is_going, timestamp};
use crate::name_locks::NameLocks;

const KIND: Kind = Kind::ContainerGroup;
/// The metadata key prefix of the stored spec chunks.
const SPEC_PREFIX: &str = "tars:spec:";
/// At most this many spec chunks (Nova's default `metadata_items` quota is 128).
const MAX_CHUNKS: usize = 100;
/// How long a create waits for the server to leave BUILD, and a delete for it to be gone.
const WAIT: Duration = Duration::from_secs(180);
/// How often a watch polls Nova.
pub(crate) const WATCH_POLL: Duration = Duration::from_secs(1);

/// What is stored in the server's metadata to read the group back.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    spec: ContainerGroupSpec,
}

/// The spec chunks of `group`, as metadata entries.
pub(crate) fn spec_metadata(group: &ContainerGroup) -> Result<BTreeMap<String, String>> {
    let stored = Stored {
        annotations: group.metadata.annotations.clone(),
        spec: group.spec.clone(),
    };
    let json = serde_json::to_vec(&stored).map_err(|e| Error::backend(crate::BACKEND, e))?;
    let encoded = BASE64.encode(json);
    let chunks: Vec<&str> = encoded
        .as_bytes()
        .chunks(MAX_LEN)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    if chunks.len() > MAX_CHUNKS {
        return Err(Error::unsupported(
            Feature::ContainerGroups,
            crate::BACKEND,
            format!(
                "spec: the group is {} bytes as base64; the server metadata holds at most {}",
                encoded.len(),
                MAX_CHUNKS * MAX_LEN
            ),
        ));
    }
    Ok(chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| (format!("{SPEC_PREFIX}{i:02}"), c.to_owned()))
        .collect())
}

/// Refuses what the backend declares unsupported (see `capabilities`), before any call.
pub(crate) fn refuse_unsupported(group: &ContainerGroup) -> Result<()> {
    for (i, c) in group.spec.containers.iter().enumerate() {
        if c.command.is_empty() {
            return Err(crate::convert::unsupported(
                Feature::ImageEntrypoint,
                &format!("spec.containers[{i}].command"),
                "the image is a Glance record named after the container image: its entrypoint \
                 is not known here; give a command",
            ));
        }
        if c.readiness.is_some() {
            return Err(crate::convert::unsupported(
                Feature::ReadinessChecks,
                &format!("spec.containers[{i}].readiness"),
                "nothing on a Nova server runs the probe",
            ));
        }
        if c.liveness.is_some() {
            return Err(crate::convert::unsupported(
                Feature::LivenessChecks,
                &format!("spec.containers[{i}].liveness"),
                "nothing on a Nova server runs the probe",
            ));
        }
    }
    Ok(())
}

/// Everything about `group` that can be checked without a call: what the backend declares
/// unsupported, Nova's limits on `user_data` and metadata, the image name, placement
/// constraints (not the flavor: that needs Nova's list, nor the spread: see `convert::placement`).
pub(crate) fn check_group(group: &ContainerGroup, stamp: &Stamp) -> Result<()> {
    refuse_unsupported(group)?;
    crate::convert::server::user_data(group, stamp)?;
    spec_metadata(group)?;
    boot_image_name(group)?;
    crate::convert::server::refuse_constraints(group)
}

/// The group a server of tars stands for (`None` when its metadata holds no spec).
pub(crate) fn group_of(server: &Server) -> Option<ContainerGroup> {
    let encoded: String = server
        .metadata
        .iter()
        .filter(|(k, _)| k.starts_with(SPEC_PREFIX))
        .map(|(_, v)| v.as_str())
        .collect();
    let stored: Stored = serde_json::from_slice(&BASE64.decode(encoded).ok()?).ok()?;
    let status = group_status(server, &stored.spec);
    Some(ContainerGroup {
        metadata: ObjectMeta {
            name: server.name.clone(),
            labels: labels_of(&server.metadata),
            annotations: stored.annotations,
            uid: Some(server.id.clone()),
            generation: generation_of(&server.metadata),
            resource_version: server.updated.clone(),
            created_at: timestamp(server.created.as_deref()),
        },
        spec: stored.spec,
        status: Some(status),
    })
}

/// Whether a server carries tars' managed-by stamp (of any instance).
fn stamped_by_tars(server: &Server) -> bool {
    server
        .metadata
        .get(&label_key(tars_api::meta::MANAGED_BY_LABEL))
        .map(String::as_str)
        == Some(tars_api::meta::MANAGED_BY_VALUE)
}

/// The container groups of an [`crate::OpenStackBackend`].
pub(crate) struct OpenStackGroups {
    pub(crate) client: Arc<Client>,
    pub(crate) stamp: Stamp,
    /// Held while a server group is found or created and its server is sent, and while empty
    /// server groups are deleted.
    pub(crate) server_groups: Arc<tokio::sync::Mutex<()>>,
    /// The sender of the polling task that feeds every watch, while one runs.
    pub(crate) poller: Arc<Mutex<Option<broadcast::Sender<Snapshot>>>>,
    /// Held by an apply or a delete of a name while it runs.
    pub(crate) names: Arc<NameLocks>,
}

/// What the poller sends each [`WATCH_POLL`]: every group of this instance, or why not.
type Snapshot = Arc<Result<Vec<ContainerGroup>>>;

impl OpenStackGroups {
    fn conflict(name: &str, reason: &str) -> Error {
        Error::Conflict {
            kind: KIND,
            name: name.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn not_found(name: &str) -> Error {
        Error::NotFound {
            kind: KIND,
            name: name.to_owned(),
        }
    }

    /// The servers named `name` that this instance may touch; `Conflict` when one of that name
    /// was not made by tars (no ownership stamp). Servers of another tars instance are left out
    /// (Nova names are not unique: instances are namespaces) and never touched.
    async fn mine_named(&self, name: &str) -> Result<Vec<Server>> {
        let servers = self.client.servers_named(name).await?;
        if servers.iter().any(|s| !stamped_by_tars(s)) {
            return Err(Self::conflict(
                name,
                "a Nova server of that name exists that tars did not create",
            ));
        }
        Ok(servers
            .into_iter()
            .filter(|s| owned_by(&s.metadata, &self.stamp))
            .collect())
    }

    /// The live server of this instance named `name` (see [`Self::mine_named`]). A server whose
    /// delete stalled (see [`is_going`]) is deleted again here, as it was meant to be, so that
    /// an apply of its name makes a new one rather than take it for the group.
    async fn owned(&self, name: &str) -> Result<Option<Server>> {
        let now = jiff::Timestamp::now();
        for server in self.mine_named(name).await? {
            if is_going(&server, now) {
                continue;
            }
            if server.task_state.as_deref() == Some("deleting") {
                tracing::warn!(
                    server = %server.id, name = %server.name, updated = ?server.updated,
                    "a server whose delete stalled is deleted again"
                );
                self.client.delete_server(&server.id, WAIT).await?;
                continue;
            }
            return Ok(Some(server));
        }
        Ok(None)
    }

    /// Snapshots of every group of this instance ([`Self::all`]), one each [`WATCH_POLL`], from
    /// one polling task shared by every watch of the backend; it ends when no watch is left.
    fn snapshots(&self) -> broadcast::Receiver<Snapshot> {
        let mut slot = self.poller.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = slot.as_ref().filter(|tx| tx.receiver_count() > 0) {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(4);
        *slot = Some(tx.clone());
        let groups = OpenStackGroups {
            client: self.client.clone(),
            stamp: self.stamp.clone(),
            server_groups: self.server_groups.clone(),
            poller: Arc::default(),
            names: self.names.clone(),
        };
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(WATCH_POLL).await;
                if tx.receiver_count() == 0 {
                    return;
                }
                let _ = tx.send(Arc::new(groups.all().await));
            }
        });
        rx
    }

    /// Every server of this instance, as groups, sorted by name.
    async fn all(&self) -> Result<Vec<ContainerGroup>> {
        let tag = instance_tag(&self.stamp.instance)?;
        let now = jiff::Timestamp::now();
        let mut groups: Vec<ContainerGroup> = self
            .client
            .servers_tagged(&tag)
            .await?
            .iter()
            .filter(|s| owned_by(&s.metadata, &self.stamp))
            .filter(|s| !is_going(s, now))
            .filter_map(group_of)
            .collect();
        groups.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(groups)
    }

    /// Creates the server of `desired` and waits until it has left BUILD; a server that went to
    /// ERROR is deleted before the error is returned, with its server group if it was the
    /// group's only server (a failed create leaves nothing behind).
    async fn create(&self, desired: &ContainerGroup) -> Result<ContainerGroup> {
        let image = boot_image_name(desired)?;
        let server_group = server_group_for(desired, &self.stamp.instance)?;
        let flavors = self.client.flavors().await?;
        // Checked before anything is written: the flavor, the metadata, user_data.
        let mut request =
            server_create(desired, &self.stamp, "", &flavors, server_group.as_deref())?;
        request.server.metadata.extend(spec_metadata(desired)?);
        request.server.image_ref = self
            .client
            .image_for(&image, "spec.containers[0].image")
            .await?;
        let id = match &server_group {
            None => self.client.create_server(&request).await?,
            Some(name) => {
                let held = self.server_groups.lock().await;
                let sent = async {
                    let group = self.server_group_named(name).await?;
                    request.scheduler_hints = Some(SchedulerHints { group });
                    self.client.create_server(&request).await
                }
                .await;
                drop(held);
                match sent {
                    Ok(id) => id,
                    Err(e) => {
                        self.remove_empty_server_groups().await;
                        return Err(e);
                    }
                }
            }
        };
        match self.client.wait_built(&id, WAIT).await {
            Ok(server) => group_of(&server).ok_or_else(|| {
                Error::backend(
                    crate::BACKEND,
                    format!("server {id} lost its tars metadata"),
                )
            }),
            Err(e) => {
                if let Err(cleanup) = self.client.delete_server(&id, WAIT).await {
                    tracing::warn!(server = %id, error = %cleanup, "failed create: server not removed");
                }
                if server_group.is_some() {
                    self.remove_empty_server_groups().await;
                }
                Err(e)
            }
        }
    }

    /// A server found still in BUILD by an apply: what a create whose answer was lost left
    /// (nova-api died after it accepted the server, say). Waited for as a create waits: the
    /// server once built; `None` once it is deleted because it never left BUILD within
    /// [`WAIT`] (its build request lost: it would stay in BUILD for good) or went to ERROR, so
    /// that the caller creates it anew. Nova unreachable meanwhile is returned as is.
    async fn finish_build(&self, server: &Server) -> Result<Option<Server>> {
        // WAIT from when Nova accepted it, as its create would have waited.
        let age = timestamp(server.created.as_deref())
            .and_then(|created| {
                Duration::try_from(jiff::Timestamp::now().duration_since(created)).ok()
            })
            .unwrap_or_default();
        match self
            .client
            .wait_built(&server.id, WAIT.saturating_sub(age))
            .await
        {
            Ok(built) => Ok(Some(built)),
            Err(e) if e.is_retryable() && !matches!(e, Error::Timeout { .. }) => Err(e),
            Err(e) => {
                tracing::warn!(
                    server = %server.id, name = %server.name, error = %e,
                    "a server left in BUILD by an earlier create did not build: replacing it"
                );
                self.client.delete_server(&server.id, WAIT).await?;
                Ok(None)
            }
        }
    }

    /// The id of the server group named `name`, created (anti-affinity) when there is none.
    /// Called with the server group lock held.
    async fn server_group_named(&self, name: &str) -> Result<String> {
        let existing = self.client.server_groups().await?;
        if let Some(g) = existing.into_iter().find(|g| g.name == name) {
            return Ok(g.id);
        }
        self.client.create_server_group(name).await
    }

    /// Deletes this instance's server groups that have no server left (a deployment's last
    /// replica deleted, a failed create, or what a crashed tars left). A failure is logged,
    /// not returned: the server it was about is gone already, and the next removal retries.
    pub(crate) async fn remove_empty_server_groups(&self) {
        let _held = self.server_groups.lock().await;
        let groups = match self.client.server_groups().await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list server groups to remove empty ones");
                return;
            }
        };
        for g in groups {
            if !g.members.is_empty() || !is_server_group_of(&g.name, &self.stamp.instance) {
                continue;
            }
            if let Err(e) = self.client.delete_server_group(&g.id).await {
                tracing::warn!(server_group = %g.name, error = %e, "empty server group not removed");
            }
        }
    }

    /// `object` as this instance writes it: the user's part and the ownership stamp.
    fn desired(&self, object: &ContainerGroup) -> ContainerGroup {
        let mut metadata = object.metadata.user_part();
        metadata.stamp_owner(&self.stamp.instance);
        ContainerGroup {
            metadata,
            spec: object.spec.clone(),
            status: None,
        }
    }
}

#[async_trait]
impl ObjectApi<ContainerGroupSpec> for OpenStackGroups {
    async fn apply(
        &self,
        object: &ContainerGroup,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<ContainerGroupSpec>> {
        object.validate()?;
        let name = object.name();
        let mut desired = self.desired(object);
        // What Nova would refuse, or tars cannot do here, refused before any call.
        check_group(&desired, &self.stamp)?;
        let server_group = server_group_for(&desired, &self.stamp.instance)?;
        // Nova keeps no name unique: another apply of the name now would create a second.
        let _name = self.names.lock(name).await;
        let current = match self.owned(name).await? {
            None => {
                desired.metadata.generation = Some(1);
                let object = if options.dry_run {
                    let flavors = self.client.flavors().await?;
                    server_create(&desired, &self.stamp, "", &flavors, server_group.as_deref())?;
                    desired
                } else {
                    self.create(&desired).await?
                };
                return Ok(ApplyOutcome {
                    object,
                    change: Change::Created,
                });
            }
            Some(server) if server.status == "BUILD" && !options.dry_run => {
                match self.finish_build(&server).await? {
                    Some(built) => group_of(&built).ok_or_else(|| {
                        Self::conflict(name, "the server carries tars' stamp but no readable spec")
                    })?,
                    None => {
                        desired.metadata.generation = Some(1);
                        return Ok(ApplyOutcome {
                            object: self.create(&desired).await?,
                            change: Change::Created,
                        });
                    }
                }
            }
            Some(server) => group_of(&server).ok_or_else(|| {
                Self::conflict(name, "the server carries tars' stamp but no readable spec")
            })?,
        };
        let fields = diff::changed_fields(&current, &desired);
        if fields.is_empty() {
            return Ok(ApplyOutcome {
                object: current,
                change: Change::Unchanged,
            });
        }
        let generation = current.metadata.generation.unwrap_or(1);
        desired.metadata.generation = Some(if current.spec == desired.spec {
            generation
        } else {
            generation + 1
        });
        let object = if options.dry_run {
            let flavors = self.client.flavors().await?;
            server_create(&desired, &self.stamp, "", &flavors, server_group.as_deref())?;
            let mut would = desired;
            would.metadata.uid = current.metadata.uid.clone();
            would
        } else {
            // Labels, annotations and the spec all live in the server: replace it.
            let id = current.metadata.uid.clone().unwrap_or_default();
            self.client.delete_server(&id, WAIT).await?;
            self.create(&desired).await?
        };
        Ok(ApplyOutcome {
            object,
            change: Change::Updated { fields },
        })
    }

    async fn get(&self, name: &str) -> Result<ContainerGroup> {
        tars_api::validate::name(name, "name")?;
        let servers = self.client.servers_named(name).await?;
        let now = jiff::Timestamp::now();
        servers
            .iter()
            .filter(|s| owned_by(&s.metadata, &self.stamp))
            .filter(|s| !is_going(s, now))
            .find_map(group_of)
            .ok_or_else(|| Self::not_found(name))
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<ContainerGroupSpec>> {
        let all = self.all().await?;
        Ok(ObjectList::page(&all, params))
    }

    async fn delete(&self, name: &str, _options: DeleteOptions) -> Result<()> {
        tars_api::validate::name(name, "name")?;
        let _name = self.names.lock(name).await;
        let servers = self.mine_named(name).await?;
        if servers.is_empty() {
            return Err(Self::not_found(name));
        }
        let mut grouped = false;
        for server in servers {
            grouped |= group_of(&server).is_some_and(|g| {
                server_group_for(&g, &self.stamp.instance).is_ok_and(|sg| sg.is_some())
            });
            self.client.delete_server(&server.id, WAIT).await?;
        }
        if grouped {
            self.remove_empty_server_groups().await;
        }
        Ok(())
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
        let first = self.all().await?;
        let selector = selector.clone();
        let keep = move |g: &ContainerGroup| selector.matches(&g.metadata.labels);
        let mut events: Vec<Result<WatchEvent<ContainerGroupSpec>>> = first
            .iter()
            .filter(|g| keep(g))
            .map(|g| Ok(WatchEvent::Existing(g.clone())))
            .collect();
        events.push(Ok(WatchEvent::SnapshotDone));
        let seen: BTreeMap<String, ContainerGroup> = first
            .into_iter()
            .filter(|g| keep(g))
            .map(|g| (g.metadata.name.clone(), g))
            .collect();
        // Nova has no change feed: the backend's poller lists the servers from now on (one
        // list a second for all watches), so that a change made before the stream is read is
        // still seen; this watch's task ends when the stream is dropped.
        let mut snapshots = self.snapshots();
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            let mut seen = seen;
            loop {
                let snapshot = tokio::select! {
                    s = snapshots.recv() => s,
                    () = tx.closed() => return,
                };
                let now = match snapshot.as_deref() {
                    Ok(Ok(now)) => now.clone(),
                    // Each snapshot is whole: one missed is no loss.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    Ok(Err(e)) if e.is_retryable() => continue,
                    Ok(Err(e)) => {
                        let _ = tx
                            .send(Err(Error::backend(crate::BACKEND, e.to_string())))
                            .await;
                        return;
                    }
                };
                let now: BTreeMap<String, ContainerGroup> = now
                    .into_iter()
                    .filter(|g| keep(g))
                    .map(|g| (g.metadata.name.clone(), g))
                    .collect();
                let mut out = Vec::new();
                for (name, old) in &seen {
                    if !now.contains_key(name) {
                        out.push(WatchEvent::Deleted(old.clone()));
                    }
                }
                for (name, g) in &now {
                    match seen.get(name) {
                        None => out.push(WatchEvent::Added(g.clone())),
                        Some(old) if old != g => out.push(WatchEvent::Modified(g.clone())),
                        Some(_) => {}
                    }
                }
                seen = now;
                for event in out {
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
            }
        });
        let polls = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        });
        Ok(futures::stream::iter(events).chain(polls).boxed())
    }
}

#[async_trait]
impl ContainerGroups for OpenStackGroups {
    async fn logs(&self, name: &str, _container: &str, _options: &LogOptions) -> Result<String> {
        tars_api::validate::name(name, "name")?;
        Err(Error::unsupported(
            Feature::Logs,
            crate::BACKEND,
            "a Nova server has no container log; its console log needs a hypervisor that runs \
             the server (the test cloud's fake driver runs nothing)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::metadata::server_metadata;
    use crate::convert::tests::{group, stamp};

    fn server_for(g: &ContainerGroup, status: &str) -> Server {
        let mut metadata =
            server_metadata(&g.metadata.labels, Some(2), &stamp(), "metadata.labels")
                .expect("metadata");
        metadata.extend(spec_metadata(g).expect("spec"));
        serde_json::from_value(serde_json::json!({
            "id": "s-1", "name": g.metadata.name, "status": status, "metadata": metadata,
            "created": "2026-11-26T16:01:29Z", "updated": "2026-11-26T16:01:31Z",
        }))
        .expect("server")
    }

    #[test]
    fn the_group_reads_back_from_the_server_metadata() {
        let mut g = group();
        g.metadata
            .annotations
            .insert("note".into(), "x".repeat(600));
        let meta = spec_metadata(&g).expect("chunks");
        assert!(meta.len() > 2, "long specs are chunked");
        assert!(meta.values().all(|v| v.len() <= MAX_LEN));
        let back = group_of(&server_for(&g, "ACTIVE")).expect("group");
        assert_eq!(back.spec, g.spec);
        assert_eq!(back.metadata.annotations, g.metadata.annotations);
        assert_eq!(back.metadata.labels["app"], "web");
        assert_eq!(back.metadata.generation, Some(2));
        assert_eq!(back.metadata.uid.as_deref(), Some("s-1"));
        assert_eq!(
            back.status.expect("status").phase,
            tars_api::GroupPhase::Running
        );
    }

    #[test]
    fn unsupported_container_features_are_refused_with_their_field() {
        let mut g = group();
        g.spec.containers[1].command.clear();
        let err = refuse_unsupported(&g).expect_err("no command");
        let Error::Unsupported {
            feature, reason, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(*feature, Feature::ImageEntrypoint);
        assert!(
            reason.starts_with("spec.containers[1].command: "),
            "{reason}"
        );
        refuse_unsupported(&group()).expect("commands given");
    }

    #[test]
    fn a_server_without_a_spec_is_no_group() {
        let mut s = server_for(&group(), "ACTIVE");
        s.metadata.retain(|k, _| !k.starts_with(SPEC_PREFIX));
        assert!(group_of(&s).is_none());
    }

    #[test]
    fn a_spec_too_big_for_the_metadata_is_unsupported() {
        let mut g = group();
        g.metadata
            .annotations
            .insert("blob".into(), "x".repeat(MAX_CHUNKS * MAX_LEN));
        assert!(matches!(spec_metadata(&g), Err(Error::Unsupported { .. })));
    }
}
