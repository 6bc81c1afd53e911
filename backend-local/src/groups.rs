//! The container group API of the embedded backend.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, Change, ContainerGroups, DeleteOptions, ListParams, LogOptions,
    ObjectApi, ObjectList, WatchEvent, WatchStream,
};
use tars_api::meta::Kind;
use tars_api::{ContainerGroup, ContainerGroupSpec, Error, Feature, LabelSelector, Result, diff};

use crate::BACKEND;
use crate::shared::{Entry, Shared};
use crate::supervisor::Supervisor;

/// Container groups as supervised host process groups.
pub struct LocalGroups {
    pub(crate) shared: Arc<Shared>,
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: Kind::ContainerGroup,
        name: name.to_owned(),
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::backend(BACKEND, e)
}

/// Refuses what this backend cannot run, before anything is stored or started.
pub(crate) fn check_supported(group: &ContainerGroup) -> Result<()> {
    for (i, c) in group.spec.containers.iter().enumerate() {
        if c.command.is_empty() {
            return Err(Error::unsupported(
                Feature::ImageEntrypoint,
                BACKEND,
                format!(
                    "spec.containers[{i}] ({}) has no command: the embedded backend runs host \
                     processes and cannot run the image's entrypoint; give a command",
                    c.name
                ),
            ));
        }
        if c.resources.cpu.is_some() {
            return Err(Error::unsupported(
                Feature::CpuLimits,
                BACKEND,
                format!(
                    "spec.containers[{i}].resources.cpu: {}",
                    crate::host::limits_unsupported_reason()
                ),
            ));
        }
        if c.resources.memory.is_some() {
            return Err(Error::unsupported(
                Feature::MemoryLimits,
                BACKEND,
                format!(
                    "spec.containers[{i}].resources.memory: {}",
                    crate::host::limits_unsupported_reason()
                ),
            ));
        }
    }
    let attributes = crate::host::attributes();
    for (i, constraint) in group.spec.placement.constraints.iter().enumerate() {
        if !constraint.matches(&attributes) {
            return Err(Error::invalid(
                format!("spec.placement.constraints[{i}]"),
                format!(
                    "cannot be met on this host, whose attributes are {}",
                    attributes
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if group.spec.placement.spread.is_some() {
        return Err(Error::unsupported(
            Feature::Spread,
            BACKEND,
            "spec.placement.spread: the embedded backend has a single host to place groups on",
        ));
    }
    Ok(())
}

impl LocalGroups {
    /// Whether a group folder of that name belongs to another tars instance.
    fn foreign(&self, name: &str) -> Result<bool> {
        let instance = self.shared.config.instance_id();
        Ok(self
            .shared
            .store
            .load(name)?
            .is_some_and(|o| !o.metadata.is_owned_by(instance)))
    }

    fn conflict(name: &str) -> Error {
        Error::Conflict {
            kind: Kind::ContainerGroup,
            name: name.to_owned(),
            reason: "a group of this name exists in the state directory but was not created by \
                     this tars instance; tars never touches objects it does not own"
                .to_owned(),
        }
    }
}

#[async_trait]
impl ObjectApi<ContainerGroupSpec> for LocalGroups {
    async fn apply(
        &self,
        object: &ContainerGroup,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<ContainerGroupSpec>> {
        object.validate()?;
        check_supported(object)?;
        let name = object.name().to_owned();
        let instance = self.shared.config.instance_id().to_owned();
        let mut desired = ContainerGroup {
            metadata: object.metadata.user_part(),
            spec: object.spec.clone(),
            status: None,
        };
        desired.metadata.stamp_owner(&instance);

        let (change, result, old_supervisor) = {
            let mut objects = self.shared.objects();
            match objects.get_mut(&name) {
                None => {
                    if self.foreign(&name)? {
                        return Err(Self::conflict(&name));
                    }
                    desired.metadata.uid = Some(tars_engine::uid::new_uid());
                    desired.metadata.generation = Some(1);
                    desired.metadata.created_at = Some(jiff::Timestamp::now());
                    if options.dry_run {
                        return Ok(ApplyOutcome {
                            object: desired,
                            change: Change::Created,
                        });
                    }
                    desired.metadata.resource_version = Some(self.shared.next_version());
                    self.shared.store.save(&desired)?;
                    let supervisor = Supervisor::start(self.shared.clone(), desired.clone(), None);
                    objects.insert(
                        name.clone(),
                        Entry {
                            object: desired.clone(),
                            supervisor: Some(supervisor),
                        },
                    );
                    count_groups(objects.len());
                    self.shared.emit(WatchEvent::Added(desired.clone()), None);
                    (Change::Created, desired, None)
                }
                Some(entry) => {
                    let current = &entry.object;
                    let fields = diff::changed_fields(current, &desired);
                    if fields.is_empty() {
                        return Ok(ApplyOutcome {
                            object: current.clone(),
                            change: Change::Unchanged,
                        });
                    }
                    let spec_changed = current.spec != desired.spec;
                    let mut updated = current.clone();
                    updated.metadata.labels = desired.metadata.labels.clone();
                    updated.metadata.annotations = desired.metadata.annotations.clone();
                    if spec_changed {
                        updated.spec = desired.spec.clone();
                        updated.metadata.generation =
                            Some(current.metadata.generation.unwrap_or(0) + 1);
                        updated.status = None;
                    }
                    let change = Change::Updated { fields };
                    if options.dry_run {
                        return Ok(ApplyOutcome {
                            object: updated,
                            change,
                        });
                    }
                    updated.metadata.resource_version = Some(self.shared.next_version());
                    self.shared.store.save(&updated)?;
                    let previous_labels = entry.object.metadata.labels.clone();
                    entry.object = updated.clone();
                    // The old incarnation stops before the new one starts (below, outside the
                    // lock): two incarnations never run side by side, and a crash in between
                    // leaves a stale runtime record that recovery stops before it starts the
                    // new spec — never an orphan.
                    let old = if spec_changed {
                        Some(entry.supervisor.take())
                    } else {
                        None
                    };
                    self.shared
                        .emit(WatchEvent::Modified(updated.clone()), Some(previous_labels));
                    (change, updated, old)
                }
            }
        };
        if let Some(old) = old_supervisor {
            // In a task of its own, so that a caller giving up cannot leave the group with
            // its old incarnation stopped and no new one started.
            self.shared
                .spawn(replace_incarnation(
                    self.shared.clone(),
                    result.clone(),
                    old,
                ))
                .await
                .map_err(|e| Error::backend(BACKEND, format!("apply ended early: {e}")))?;
        }
        Ok(ApplyOutcome {
            object: result,
            change,
        })
    }

    async fn get(&self, name: &str) -> Result<ContainerGroup> {
        self.shared
            .objects()
            .get(name)
            .map(|e| e.object.clone())
            .ok_or_else(|| not_found(name))
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<ContainerGroupSpec>> {
        let objects = self.shared.objects();
        Ok(ObjectList::page(
            objects.values().map(|e| &e.object),
            params,
        ))
    }

    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()> {
        let entry = {
            let mut objects = self.shared.objects();
            let entry = objects.remove(name);
            count_groups(objects.len());
            entry
        };
        let Some(entry) = entry else {
            if self.foreign(name)? {
                return Err(Self::conflict(name));
            }
            return Err(not_found(name));
        };
        let grace = options
            .grace_period
            .unwrap_or(entry.object.spec.termination_grace_period);
        // Recorded first: a tars process that dies while the group stops finishes the delete
        // when it comes back, instead of bringing the group back to life.
        self.shared.store.mark_deleting(name)?;
        // The stop and the removal run in a task of their own, so that a caller giving up
        // (a timeout) cuts neither short: the delete completes and is announced.
        let shared = self.shared.clone();
        let name = name.to_owned();
        self.shared
            .spawn(finish_delete(shared, name, entry, grace))
            .await
            .map_err(|e| Error::backend(BACKEND, format!("delete ended early: {e}")))?
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
        Ok(crate::watch::stream(self.shared.clone(), selector.clone()))
    }
}

#[async_trait]
impl ContainerGroups for LocalGroups {
    async fn logs(&self, name: &str, container: &str, options: &LogOptions) -> Result<String> {
        let known = self
            .shared
            .objects()
            .get(name)
            .map(|e| e.object.spec.containers.iter().any(|c| c.name == container));
        match known {
            None => return Err(not_found(name)),
            Some(false) => {
                return Err(Error::invalid(
                    "container",
                    format!("group {name} has no container {container:?}"),
                ));
            }
            Some(true) => {}
        }
        let path = self.shared.store.log_file(name, container);
        let text = match tokio::fs::read(&path).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_error(e)),
        };
        Ok(match options.tail {
            Some(n) => tail(&text, n),
            None => text,
        })
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut out = lines[start..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Sets the [`tars_engine::metrics::OBJECTS`] gauge of groups.
pub(crate) fn count_groups(count: usize) {
    tars_engine::metrics::set_objects(BACKEND, "ContainerGroup", count);
}

/// Stops the supervisor of a group being deleted, then removes its records.
async fn finish_delete(
    shared: Arc<Shared>,
    name: String,
    mut entry: Entry,
    grace: Duration,
) -> Result<()> {
    if let Some(supervisor) = entry.supervisor.take() {
        let left = supervisor.stop(grace).await;
        if !left.is_empty() {
            // Put it back: it is not gone, and deleting its record would orphan processes.
            let pids = format!("{left:?}");
            let mut objects = shared.objects();
            objects.insert(name.clone(), entry);
            count_groups(objects.len());
            drop(objects);
            return Err(Error::backend(
                BACKEND,
                format!("processes {pids} of group {name} survived SIGKILL"),
            ));
        }
    }
    shared.store.remove(&name)?;
    let objects = shared.objects();
    let labels = entry.object.metadata.labels.clone();
    shared.emit(WatchEvent::Deleted(entry.object), Some(labels));
    drop(objects);
    Ok(())
}

/// Stops the old incarnation of a changed group (if it had one), then starts the new one
/// unless a later apply or a delete took over meanwhile.
async fn replace_incarnation(shared: Arc<Shared>, object: ContainerGroup, old: Option<Supervisor>) {
    let name = object.name().to_owned();
    if let Some(old) = old {
        let left = old.stop(object.spec.termination_grace_period).await;
        if !left.is_empty() {
            tracing::warn!(backend = BACKEND, group = %name, ?left, "processes survived SIGKILL");
        }
    }
    let mut objects = shared.objects();
    if let Some(entry) = objects.get_mut(&name)
        && entry.object.metadata.uid == object.metadata.uid
        && entry.object.metadata.generation == object.metadata.generation
        && entry.supervisor.is_none()
    {
        entry.supervisor = Some(Supervisor::start(
            shared.clone(),
            entry.object.clone(),
            None,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\n", 5), "a\nb\n");
        assert_eq!(tail("", 3), "");
    }
}
