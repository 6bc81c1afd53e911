//! ContainerGroups as task groups: apply records the group and wakes the framework, which
//! launches it on the next matching offer; a changed spec kills the running group and launches
//! the new one (the old one is gone first, as on the other backends); delete kills the tasks and
//! returns when they are terminal. Reads come from the framework's registry; logs from the
//! agent's files API.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, Change, ContainerGroups, DeleteOptions, ListParams, LogOptions,
    ObjectApi, ObjectList, WatchStream,
};
use tars_api::meta::Kind;
use tars_api::{
    Capabilities, ContainerGroup, ContainerGroupSpec, Error, LabelSelector, Result, diff,
};
use tars_engine::store::Batch;

use crate::convert::{self, Placement};
use crate::framework::{DELETED_TABLE, Framework, PENDING_TABLE, unavailable};
use crate::master_view::Holder;
use crate::registry::Record;
use crate::v1::mesos::TaskState;

const KIND: Kind = Kind::ContainerGroup;

/// How long calls wait for the first subscription before failing as `Unavailable`.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a wait for terminal tasks asks again (KILL and RECONCILE are idempotent).
const NUDGE: Duration = Duration::from_secs(3);

/// The container groups of a [`crate::MesosBackend`].
pub(crate) struct MesosGroups {
    pub(crate) fw: Arc<Framework>,
    pub(crate) caps: Capabilities,
    pub(crate) http: reqwest::Client,
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: KIND,
        name: name.to_owned(),
    }
}

fn conflict(name: &str, reason: impl Into<String>) -> Error {
    Error::Conflict {
        kind: KIND,
        name: name.to_owned(),
        reason: reason.into(),
    }
}

impl MesosGroups {
    /// A task on the cluster that goes by `name` and is not this instance's: a live task of
    /// that name of another framework or instance, or a group of that name that another
    /// connected tars instance has not deleted (it ended by itself: that instance still lists
    /// it). Task names are not unique on Mesos; for tars a name is held by whoever runs it (a
    /// tars group's tasks hold the group's name). Answered from the view of the cluster while
    /// it is live, else by asking the master.
    async fn foreign_holder(&self, name: &str) -> Result<Option<String>> {
        let ours = self.fw.framework_id();
        // Each holder, and whether its framework is connected (when the view knows).
        let holders: Vec<(Holder, Option<bool>)> = match self.fw.view.holders(name) {
            Some(holders) => holders.into_iter().map(|(h, c)| (h, Some(c))).collect(),
            None => self
                .fw
                .tasks()
                .await?
                .iter()
                .map(|t| Holder::of(t, &self.fw.instance))
                .filter(|h| h.name == name)
                .map(|h| (h, None))
                .collect(),
        };
        let mut ended = Vec::new();
        for (h, connected) in holders {
            if Some(&h.framework_id) == ours.as_ref() && h.owned {
                continue;
            }
            let why = format!(
                "task {} of framework {} goes by that name and was not created by this tars instance",
                h.task_id, h.framework_id.value
            );
            if !h.state.is_terminal() {
                return Ok(Some(why));
            }
            if h.group && h.state != TaskState::TaskKilled {
                ended.push((h.framework_id, connected, why));
            }
        }
        if ended.is_empty() {
            return Ok(None);
        }
        let frameworks = if ended.iter().all(|(_, c, _)| c.is_some()) {
            Vec::new()
        } else {
            self.fw
                .operator_call(crate::v1::master::CallType::GetFrameworks)
                .await?
                .get_frameworks
                .unwrap_or_default()
                .frameworks
        };
        Ok(ended.into_iter().find_map(|(id, connected, why)| {
            connected
                .unwrap_or_else(|| {
                    frameworks
                        .iter()
                        .any(|f| f.connected && f.framework_info.id.as_ref() == Some(&id))
                })
                .then_some(why)
        }))
    }

    /// The object tars keeps for `object`: the user's metadata with the stamp.
    fn desired(&self, object: &ContainerGroup) -> ContainerGroup {
        let mut desired = ContainerGroup::new(object.name(), object.spec.clone());
        desired.metadata.labels = object.metadata.labels.clone();
        desired.metadata.annotations = object.metadata.annotations.clone();
        desired.metadata.stamp_owner(&self.fw.instance);
        desired
    }

    /// Waits until every task of `name`'s record is terminal, nudging with KILL and RECONCILE.
    async fn wait_terminal(&self, name: &str, limit: Duration) -> Result<()> {
        let mut changed = self.fw.registry.changed();
        let deadline = tokio::time::Instant::now() + limit;
        let mut nudge = tokio::time::Instant::now() + NUDGE;
        loop {
            let Some(record) = self.fw.registry.record(name) else {
                return Ok(());
            };
            if record.all_terminal() {
                return Ok(());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    operation: format!("killing the tasks of group {name}"),
                    after: limit,
                });
            }
            if now >= nudge {
                self.fw.kill(&record, None).await?;
                self.fw.reconcile(std::slice::from_ref(&record)).await?;
                nudge = now + NUDGE;
            }
            let _ = tokio::time::timeout_at(deadline.min(nudge), changed.changed()).await;
        }
    }

    /// The record of `name` once no `ACCEPT` of it is on the way (at most 30 s).
    async fn settled(&self, name: &str) -> Option<Record> {
        let mut changed = self.fw.registry.changed();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let record = self.fw.registry.record(name)?;
            if !record.launching || tokio::time::Instant::now() >= deadline {
                return Some(record);
            }
            let _ = tokio::time::timeout_at(deadline, changed.changed()).await;
        }
    }

    /// Kills the tasks of `record` and waits until they are terminal.
    async fn stop(&self, record: &Record, grace: Duration) -> Result<()> {
        let Some(record) = &self.settled(record.object.name()).await else {
            return Ok(());
        };
        self.fw
            .registry
            .modify(record.object.name(), |r| r.stopping = true);
        if record.all_terminal() {
            return Ok(());
        }
        self.fw.kill(record, Some(grace)).await?;
        self.wait_terminal(record.object.name(), grace + Duration::from_secs(60))
            .await
    }

    /// Records the deletion of `record`'s incarnation (and forgets its pending launch).
    async fn tombstone(&self, record: &Record) -> Result<()> {
        let mut batch = Batch::new().delete(PENDING_TABLE, record.object.name());
        if let Some(uid) = &record.object.metadata.uid {
            batch = batch.put(DELETED_TABLE, uid, Vec::new());
        }
        self.fw.store.write(batch)
    }

    /// Records a launch to make, so that a tars process restarted before it is made makes it.
    fn remember(&self, record: &Record) -> Result<()> {
        self.fw.store.write(Batch::new().put_json(
            PENDING_TABLE,
            record.object.name(),
            &record.object,
        )?)
    }

    /// The agent's base URL (`http://host:port`) from its libprocess pid.
    async fn agent_url(&self, record: &Record) -> Result<String> {
        let agent_id = record
            .agent_id
            .clone()
            .ok_or_else(|| unavailable("the group is not launched yet: no logs".to_owned()))?;
        let agents = self
            .fw
            .operator_call(crate::v1::master::CallType::GetAgents)
            .await?
            .get_agents
            .unwrap_or_default()
            .agents;
        let agent = agents
            .iter()
            .find(|a| a.agent_info.id.as_ref() == Some(&agent_id))
            .ok_or_else(|| unavailable(format!("agent {} is not registered", agent_id.value)))?;
        let address = agent
            .pid
            .as_deref()
            .and_then(|pid| pid.split_once('@').map(|(_, a)| a.to_owned()))
            .unwrap_or_else(|| {
                format!(
                    "{}:{}",
                    agent.agent_info.hostname,
                    agent.agent_info.port.unwrap_or(5051)
                )
            });
        Ok(format!("http://{address}"))
    }
}

#[async_trait]
impl ObjectApi<ContainerGroupSpec> for MesosGroups {
    async fn apply(
        &self,
        object: &ContainerGroup,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome<ContainerGroupSpec>> {
        convert::check_supported(&object.spec, &self.caps)?;
        self.fw.synced(SYNC_TIMEOUT).await?;
        let name = object.name();
        let mut desired = self.desired(object);
        if let Some(r) = self.fw.registry.record(name)
            && r.retiring
        {
            // A delete of ours is being finished: the new group comes after it.
            self.wait_terminal(name, Duration::from_secs(120)).await?;
        }
        let Some(current) = self.fw.registry.get(name) else {
            // Two questions to the master, asked together: does a task of someone else go by
            // this name, and can any agent ever run the group.
            let (holder, unschedulable) = tokio::join!(
                self.foreign_holder(name),
                self.fw.unschedulable(&desired.spec)
            );
            if let Some(why) = holder? {
                return Err(conflict(name, why));
            }
            desired.metadata.uid = Some(format!("{:016x}", fastrand::u64(..)));
            desired.metadata.generation = Some(1);
            desired.metadata.created_at = Some(jiff::Timestamp::now());
            let record = Record::pending(desired, unschedulable);
            if options.dry_run {
                return Ok(ApplyOutcome {
                    object: record.view(),
                    change: Change::Created,
                });
            }
            self.remember(&record)?;
            self.fw.registry.put(record);
            self.fw.wake.notify_one();
            let object = self.fw.registry.get(name).ok_or_else(|| not_found(name))?;
            return Ok(ApplyOutcome {
                object,
                change: Change::Created,
            });
        };
        let fields = diff::changed_fields(&current, &desired);
        if fields.is_empty() {
            return Ok(ApplyOutcome {
                object: current,
                change: Change::Unchanged,
            });
        }
        desired.metadata.uid = current.metadata.uid.clone();
        desired.metadata.created_at = current.metadata.created_at;
        desired.metadata.generation = Some(current.metadata.generation.unwrap_or(1) + 1);
        let unschedulable = self.fw.unschedulable(&desired.spec).await;
        let next = Record::pending(desired, unschedulable);
        if options.dry_run {
            return Ok(ApplyOutcome {
                object: next.view(),
                change: Change::Updated { fields },
            });
        }
        // The running generation is gone before the new one is launched.
        self.remember(&next)?;
        if let Some(old) = self.fw.registry.record(name) {
            self.stop(&old, old.object.spec.termination_grace_period)
                .await?;
        }
        self.fw.registry.put(next);
        self.fw.wake.notify_one();
        let object = self.fw.registry.get(name).ok_or_else(|| not_found(name))?;
        Ok(ApplyOutcome {
            object,
            change: Change::Updated { fields },
        })
    }

    async fn get(&self, name: &str) -> Result<ContainerGroup> {
        self.fw.synced(SYNC_TIMEOUT).await?;
        self.fw.registry.get(name).ok_or_else(|| not_found(name))
    }

    async fn list(&self, params: &ListParams) -> Result<ObjectList<ContainerGroupSpec>> {
        self.fw.synced(SYNC_TIMEOUT).await?;
        Ok(ObjectList::page(&self.fw.registry.all(), params))
    }

    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()> {
        self.fw.synced(SYNC_TIMEOUT).await?;
        let Some(record) = self.fw.registry.record(name) else {
            if let Some(why) = self.foreign_holder(name).await? {
                return Err(conflict(name, why));
            }
            return Err(not_found(name));
        };
        // A delete that failed part-way (its KILL lost while the master was away) is finished
        // now, not answered with NotFound while its tasks still run.
        if !record.retiring {
            // Recorded before the effect: a tars restarted mid-way does not bring it back.
            self.tombstone(&record).await?;
            self.fw.registry.modify(name, |r| r.retiring = true);
        }
        let grace = options
            .grace_period
            .unwrap_or(record.object.spec.termination_grace_period);
        // Retiring, it is not launched any more; one launched meanwhile is seen here.
        let result = match self.settled(name).await {
            Some(r) if matches!(r.placement, Placement::Launched { .. }) => {
                self.stop(&r, grace).await
            }
            _ => Ok(()),
        };
        if result.is_ok() {
            self.fw.registry.remove(name);
        }
        result
    }

    async fn watch(&self, selector: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
        self.fw.synced(SYNC_TIMEOUT).await?;
        Ok(tars_engine::watcher::stream(
            &self.fw.registry,
            selector.clone(),
            "ContainerGroup",
        ))
    }
}

#[async_trait]
impl ContainerGroups for MesosGroups {
    async fn logs(&self, name: &str, container: &str, options: &LogOptions) -> Result<String> {
        self.fw.synced(SYNC_TIMEOUT).await?;
        let record = self
            .fw
            .registry
            .record(name)
            .filter(|r| !r.retiring)
            .ok_or_else(|| not_found(name))?;
        let task = record.tasks.get(container).ok_or_else(|| {
            if record
                .object
                .spec
                .containers
                .iter()
                .any(|c| c.name == container)
            {
                unavailable(format!(
                    "container {container} of {name} is not launched yet"
                ))
            } else {
                Error::NotFound {
                    kind: KIND,
                    name: format!("{name}/{container}"),
                }
            }
        })?;
        let framework = self
            .fw
            .framework_id()
            .ok_or_else(|| unavailable("no framework id".to_owned()))?;
        let executor = record.executor_id.clone().ok_or_else(|| not_found(name))?;
        let base = self.agent_url(&record).await?;
        let path = crate::logs::stdout_path(&framework, &executor, &task.task_id);
        let text = crate::logs::read_all(&self.http, &base, &path).await?;
        Ok(crate::logs::tail(&text, options.tail))
    }
}
