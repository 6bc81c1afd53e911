//! The tars framework: one long-running task owning the scheduler subscription.
//!
//! It subscribes with the framework id kept in tars' state (so a restarted tars process fails
//! over to the same framework and keeps its tasks), watches heartbeats, re-subscribes with a
//! bounded exponential backoff, rebuilds the groups from the master's task list on its first
//! subscription, reconciles explicitly (then implicitly) after every subscription, launches
//! pending groups on matching offers (one `LAUNCH_GROUP` each), declines the rest with a filter,
//! suppresses offers when nothing is pending and revives them when something is, and
//! acknowledges every update that carries a uuid. A process exit never tears the framework down:
//! only [`Framework::teardown`] does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tars_api::{Error, Result};
use tars_engine::store::{Batch, Store};
use tokio::sync::{Notify, watch};

use crate::BACKEND;
use crate::backoff::Backoff;
use crate::config::MesosConfig;
use crate::convert::{self, Host, Incarnation, Placement, Restarts, TaskView};
use crate::master_view::MasterView;
use crate::operator::OperatorClient;
use crate::registry::{Record, Registry};
use crate::scheduler::{Caller, SchedulerClient, Subscription};
use crate::v1::master::CallType as OperatorCall;
use crate::v1::mesos::{
    DurationInfo, Filters, FrameworkCapability, FrameworkCapabilityType, FrameworkId,
    FrameworkInfo, KillPolicy, Offer, Task, TaskState,
};
use crate::v1::scheduler::{Call, Event, EventType, ReconcileTask};

/// How often a group with restart policy `Never` is launched again after the agent dropped
/// every task of it unstarted (`TASK_DROPPED`).
const MAX_RELAUNCHES: u32 = 5;

/// When `r`'s run has ended by itself (every task terminal, tars not stopping it), makes it
/// pending again per its restart policy (`Always`; `OnFailure` when a task did not finish;
/// `Never` only when every task was dropped unstarted, at most [`MAX_RELAUNCHES`] times) with
/// a back-off that doubles with each restart, and returns the back-off.
fn restart_per_policy(r: &mut Record) -> Option<Duration> {
    let launched = matches!(r.placement, Placement::Launched { .. });
    if r.retiring || r.stopping || !launched || r.tasks.is_empty() || !r.all_terminal() {
        return None;
    }
    let failed = r.tasks.values().any(|t| t.state != TaskState::TaskFinished);
    // TASK_DROPPED: the agent never started it (an agent restart during the launch, say), so
    // launching it again runs nothing twice — whatever the policy, a few times.
    let never_ran = r.tasks.values().all(|t| t.state == TaskState::TaskDropped);
    let restart = match r.object.spec.restart_policy {
        tars_api::RestartPolicy::Always => true,
        tars_api::RestartPolicy::OnFailure => failed,
        tars_api::RestartPolicy::Never => never_ran && r.restarts.count < MAX_RELAUNCHES,
    };
    if !restart {
        return None;
    }
    let wait = FIRST_BACKOFF
        .saturating_mul(1u32 << r.restarts.count.min(16))
        .min(MAX_RESTART_BACKOFF);
    r.restarts.last = r
        .tasks
        .iter()
        .map(|(c, t)| (c.clone(), convert::termination(t)))
        .collect();
    r.restarts.count += 1;
    r.tasks.clear();
    r.placement = Placement::Pending(None);
    r.agent_id = None;
    r.executor_id = None;
    r.not_before = Some(tokio::time::Instant::now() + wait);
    Some(wait)
}

/// Store table of the framework's own state.
pub(crate) const TABLE: &str = "mesos";
/// Key of the framework id in [`TABLE`].
const FRAMEWORK_ID_KEY: &str = "framework_id";
/// Store table of deleted incarnations (uids): never rebuilt, their tasks killed if found.
pub(crate) const DELETED_TABLE: &str = "mesos_deleted";
/// Store table of launches to make (group name → object), written before the group is
/// recorded and removed once its `ACCEPT` is answered.
pub(crate) const PENDING_TABLE: &str = "mesos_pending";

/// How often pending groups are checked against the agents (can any take them?).
const TICK: Duration = Duration::from_secs(2);
/// How long offers are refused when nothing is pending.
const IDLE_REFUSE: Duration = Duration::from_secs(120);
/// The first restart back-off; it doubles with each restart.
const FIRST_BACKOFF: Duration = Duration::from_millis(1500);
/// How long before a restart is due an offer that fits it is held rather than declined.
const HOLD_FOR: Duration = Duration::from_secs(3);
/// The longest restart back-off.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(300);

/// The framework's shared state.
pub(crate) struct Framework {
    pub(crate) config: MesosConfig,
    pub(crate) instance: String,
    pub(crate) registry: Arc<Registry>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) operator: OperatorClient,
    /// The cluster as the operator event stream tells it (names held, frameworks, agents).
    pub(crate) view: MasterView,
    caller: Mutex<Option<Caller>>,
    framework_id: Mutex<Option<FrameworkId>>,
    /// Something to do for the driver: a new pending group.
    pub(crate) wake: Arc<Notify>,
    /// True once the first subscription has rebuilt the groups.
    synced: watch::Sender<bool>,
    /// Why the last subscription attempt failed (for `Unavailable` errors).
    last_error: Mutex<Option<String>>,
    /// Offers kept for groups about to be restarted (their back-off ends soon), so that the
    /// restart does not wait for the allocator.
    held: Mutex<Vec<Offer>>,
}

/// `Error::Unavailable` of this backend (retryable: the master could not be reached or used).
pub(crate) fn unavailable(reason: impl Into<String>) -> Error {
    Error::Unavailable {
        backend: BACKEND.to_owned(),
        reason: reason.into(),
    }
}

impl Framework {
    pub(crate) fn new(config: MesosConfig, store: Arc<dyn Store>) -> Result<Arc<Self>> {
        let operator = OperatorClient::with_tls(&config.master, &config.tls)
            .map_err(|e| Error::invalid("master", e.to_string()))?;
        let framework_id = store
            .get(TABLE, FRAMEWORK_ID_KEY)?
            .and_then(|b| String::from_utf8(b).ok())
            .map(FrameworkId::new);
        let (synced, _) = watch::channel(false);
        Ok(Arc::new(Framework {
            instance: config.instance_id().to_owned(),
            view: MasterView::new(config.instance_id()),
            config,
            registry: Arc::new(Registry::new()),
            store,
            operator,
            caller: Mutex::new(None),
            framework_id: Mutex::new(framework_id),
            wake: Arc::new(Notify::new()),
            synced,
            last_error: Mutex::new(None),
            held: Mutex::new(Vec::new()),
        }))
    }

    /// The framework id, once subscribed (or as stored).
    pub(crate) fn framework_id(&self) -> Option<FrameworkId> {
        self.framework_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn caller(&self) -> Result<Caller> {
        self.caller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| {
                let why = self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                    .unwrap_or_else(|| "not subscribed to the master yet".to_owned());
                unavailable(format!("no subscription to the Mesos master: {why}"))
            })
    }

    /// Waits (at most `limit`) until the first subscription has rebuilt the groups.
    pub(crate) async fn synced(&self, limit: Duration) -> Result<()> {
        let mut rx = self.synced.subscribe();
        match tokio::time::timeout(limit, rx.wait_for(|s| *s)).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let why = self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                    .unwrap_or_else(|| "no answer".to_owned());
                Err(unavailable(format!(
                    "not subscribed to the Mesos master at {} within {limit:?}: {why}",
                    tars_api::redact::url_credentials(&self.config.master)
                )))
            }
        }
    }

    /// Sends one scheduler call on the current subscription.
    pub(crate) async fn call(&self, call: &Call) -> Result<()> {
        self.caller()?
            .call(call)
            .await
            .map_err(|e| unavailable(e.to_string()))
    }

    /// `KILL` of every non-terminal task of `record`, SIGKILL after `grace` (else the
    /// task's own kill policy: the spec's grace period).
    pub(crate) async fn kill(&self, record: &Record, grace: Option<Duration>) -> Result<()> {
        let id = self
            .framework_id()
            .ok_or_else(|| unavailable("no framework id"))?;
        for t in record.tasks.values().filter(|t| !t.state.is_terminal()) {
            let mut call = Call::kill(id.clone(), t.task_id.clone(), t.agent_id.clone());
            if let (Some(kill), Some(grace)) = (call.kill.as_mut(), grace) {
                kill.kill_policy = Some(KillPolicy {
                    grace_period: Some(DurationInfo {
                        nanoseconds: i64::try_from(grace.as_nanos()).unwrap_or(i64::MAX),
                    }),
                });
            }
            self.call(&call).await?;
        }
        Ok(())
    }

    /// Asks the master for the latest state of `record`'s non-terminal tasks.
    pub(crate) async fn reconcile(&self, records: &[Record]) -> Result<()> {
        let id = self
            .framework_id()
            .ok_or_else(|| unavailable("no framework id"))?;
        let tasks: Vec<ReconcileTask> = records
            .iter()
            .flat_map(|r| r.tasks.values())
            .filter(|t| !t.state.is_terminal())
            .map(|t| ReconcileTask {
                task_id: t.task_id.clone(),
                agent_id: t.agent_id.clone(),
            })
            .collect();
        if tasks.is_empty() {
            return Ok(());
        }
        self.call(&Call::reconcile(id, tasks)).await
    }

    /// Removes the framework from Mesos: its tasks are killed. Only on an explicit request.
    pub(crate) async fn teardown(&self) -> Result<()> {
        let id = self
            .framework_id()
            .ok_or_else(|| unavailable("no framework id"))?;
        self.call(&Call::teardown(id)).await?;
        self.store
            .write(Batch::new().delete(TABLE, FRAMEWORK_ID_KEY))?;
        Ok(())
    }

    /// Whether any agent could ever take `spec` (its total resources and attributes): `None`
    /// when one could, else why none can. `None` too when the agents cannot be read. The
    /// agents are the view's while it is live (the master is not asked), else the master's.
    pub(crate) async fn unschedulable(
        &self,
        spec: &tars_api::ContainerGroupSpec,
    ) -> Option<String> {
        match self.view.agents() {
            Some(agents) => self.unschedulable_on(&agents, spec),
            None => self.unschedulable_now(spec).await,
        }
    }

    /// [`Self::unschedulable`] on the agents as the master lists them now (an agent that
    /// disconnected is inactive there at once; the event stream says so only once it is
    /// removed).
    async fn unschedulable_now(&self, spec: &tars_api::ContainerGroupSpec) -> Option<String> {
        let agents = self
            .operator
            .call(OperatorCall::GetAgents)
            .await
            .ok()?
            .get_agents?
            .agents;
        self.unschedulable_on(&agents, spec)
    }

    fn unschedulable_on(
        &self,
        agents: &[crate::v1::master::Agent],
        spec: &tars_api::ContainerGroupSpec,
    ) -> Option<String> {
        if agents.is_empty() {
            return Some("no agent is registered with the master".to_owned());
        }
        let mut reasons = Vec::new();
        for a in agents.iter().filter(|a| a.active) {
            let host = Host::new(
                &a.agent_info.hostname,
                &a.total_resources,
                &a.agent_info.attributes,
            );
            match host.fits(spec, &self.config.sizing) {
                Ok(()) => return None,
                Err(why) => reasons.push(format!("{}: {why}", a.agent_info.hostname)),
            }
        }
        Some(format!("no agent can ever run it ({})", reasons.join("; ")))
    }

    /// An operator API call; failures are `Unavailable`.
    pub(crate) async fn operator_call(
        &self,
        kind: OperatorCall,
    ) -> Result<crate::v1::master::Response> {
        self.operator
            .call(kind)
            .await
            .map_err(|e| unavailable(e.to_string()))
    }

    /// The master's tasks (every framework's), with the completed ones.
    pub(crate) async fn tasks(&self) -> Result<Vec<Task>> {
        let response = self.operator_call(OperatorCall::GetTasks).await?;
        let t = response.get_tasks.unwrap_or_default();
        Ok(t.tasks
            .into_iter()
            .chain(t.unreachable_tasks)
            .chain(t.completed_tasks)
            .collect())
    }

    /// Runs the framework, and the view of the cluster beside it, until the task is aborted.
    pub(crate) async fn run(self: Arc<Self>) {
        tokio::join!(self.view.run(&self.operator), self.subscriptions());
    }

    /// Subscribes, and again whenever the subscription fails, with a bounded backoff.
    async fn subscriptions(&self) {
        let mut backoff = Backoff::new();
        let mut rebuilt = false;
        loop {
            let started = tokio::time::Instant::now();
            let result = self.session(&mut rebuilt).await;
            *self.caller.lock().unwrap_or_else(PoisonError::into_inner) = None;
            if let Err(why) = result {
                tracing::warn!(
                    master = %tars_api::redact::url_credentials(&self.config.master),
                    %why,
                    "Mesos subscription ended"
                );
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(why);
            }
            backoff.wait(started).await;
        }
    }

    fn framework_info(&self) -> FrameworkInfo {
        FrameworkInfo {
            user: self.config.user.clone(),
            name: format!("{} ({})", self.config.framework_name, self.instance),
            id: self.framework_id(),
            failover_timeout: Some(self.config.failover_timeout.as_secs_f64()),
            checkpoint: Some(true),
            role: None,
            roles: vec![self.config.role.clone()],
            hostname: None,
            principal: None,
            webui_url: None,
            capabilities: vec![
                FrameworkCapability::new(FrameworkCapabilityType::MultiRole),
                FrameworkCapability::new(FrameworkCapabilityType::TaskKillingState),
                FrameworkCapability::new(FrameworkCapabilityType::PartitionAware),
            ],
            labels: None,
            offer_filters: BTreeMap::new(),
        }
    }

    /// One subscription, until it fails.
    async fn session(&self, rebuilt: &mut bool) -> std::result::Result<(), String> {
        let client = SchedulerClient::with_tls(&self.config.master, &self.config.tls)
            .map_err(|e| e.to_string())?;
        let mut sub = client
            .subscribe(self.framework_info())
            .await
            .map_err(|e| e.to_string())?;
        let first = sub.next_event().await.map_err(|e| e.to_string())?;
        let id = match first.kind {
            EventType::Subscribed => first
                .subscribed
                .map(|s| s.framework_id)
                .ok_or("SUBSCRIBED without a framework id")?,
            EventType::Error => {
                let message = first.error.map(|e| e.message).unwrap_or_default();
                // A framework removed (torn down, or failed over too late) cannot come back:
                // the next attempt subscribes as a new one.
                if message.contains("removed") || message.contains("torn down") {
                    *self
                        .framework_id
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = None;
                    let _ = self
                        .store
                        .write(Batch::new().delete(TABLE, FRAMEWORK_ID_KEY));
                }
                return Err(format!("SUBSCRIBE refused: {message}"));
            }
            other => return Err(format!("first event was {other:?}, not SUBSCRIBED")),
        };
        // Persisted before anything is launched under it.
        self.store
            .write(Batch::new().put(TABLE, FRAMEWORK_ID_KEY, id.value.clone().into_bytes()))
            .map_err(|e| e.to_string())?;
        *self
            .framework_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(id.clone());
        *self.caller.lock().unwrap_or_else(PoisonError::into_inner) = Some(sub.caller());
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        tracing::info!(framework_id = %id.value, "subscribed to Mesos");
        if !*rebuilt {
            self.rebuild(&id).await.map_err(|e| e.to_string())?;
            *rebuilt = true;
        }
        // Explicit reconciliation of what tars knows, then implicit of everything else.
        let records = self.registry.records();
        self.reconcile(&records).await.map_err(|e| e.to_string())?;
        self.call(&Call::reconcile(id.clone(), Vec::new()))
            .await
            .map_err(|e| e.to_string())?;
        self.synced.send_replace(true);
        self.drive(&mut sub, &id).await
    }

    /// Rebuilds the groups from the master's task list: per name the latest generation of an
    /// incarnation not deleted; tasks of older generations or deleted incarnations still
    /// running are killed (a tars process died between its decision and its effect).
    async fn rebuild(&self, id: &FrameworkId) -> Result<()> {
        let deleted: BTreeSet<String> = self
            .store
            .scan(DELETED_TABLE, "")?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let mut latest: BTreeMap<String, (convert::Stamped, Vec<Task>)> = BTreeMap::new();
        let mut strays: Vec<Task> = Vec::new();
        for task in self.tasks().await? {
            if task.framework_id != *id {
                continue;
            }
            let Some(stamped) = convert::stamped(&task.labels, &self.instance) else {
                continue;
            };
            let uid = stamped.group.metadata.uid.clone().unwrap_or_default();
            if deleted.contains(&uid) {
                strays.push(task);
                continue;
            }
            let name = stamped.group.metadata.name.clone();
            let generation = stamped.group.metadata.generation;
            match latest.get_mut(&name) {
                Some((s, tasks))
                    if (s.group.metadata.generation, s.run) == (generation, stamped.run)
                        && s.group.metadata.uid == stamped.group.metadata.uid =>
                {
                    tasks.push(task)
                }
                Some((s, tasks))
                    if (s.group.metadata.generation, s.run) < (generation, stamped.run) =>
                {
                    strays.append(tasks);
                    *s = stamped;
                    tasks.push(task);
                }
                Some(_) => strays.push(task),
                None => {
                    latest.insert(name, (stamped, vec![task]));
                }
            }
        }
        for (name, (stamped, tasks)) in latest {
            let views: BTreeMap<String, TaskView> = tasks
                .iter()
                .filter_map(|t| {
                    let container = convert::stamped(&t.labels, &self.instance)?.container;
                    Some((container, TaskView::from_task(t)))
                })
                .collect();
            // An incarnation whose tasks were all killed was deleted or replaced by tars.
            if views.values().all(|v| v.state == TaskState::TaskKilled) {
                continue;
            }
            let mut group = stamped.group;
            group.metadata.stamp_owner(&self.instance);
            let hostname = stamped.host.clone();
            let inc = Incarnation::of(&self.instance, &group.metadata, stamped.run);
            let agent_id = tasks.first().map(|t| t.agent_id.clone());
            self.registry.put(Record {
                object: group,
                placement: Placement::Launched {
                    hostname,
                    endpoints: stamped.endpoints,
                },
                tasks: views,
                agent_id,
                executor_id: Some(inc.executor_id()),
                retiring: false,
                stopping: false,
                restarts: Restarts {
                    count: stamped.run,
                    last: BTreeMap::new(),
                },
                not_before: None,
                launching: false,
            });
            tracing::debug!(%name, "group adopted from the master's task list");
            // It may have ended while no tars process ran.
            self.after_update(&name);
        }
        // Launches a previous tars process recorded but did not make (or replaced generations
        // whose old run it killed).
        for (name, bytes) in self.store.scan(PENDING_TABLE, "")? {
            let object: tars_api::ContainerGroup =
                tars_engine::store::decode(PENDING_TABLE, &name, &bytes)?;
            let stale = object
                .metadata
                .uid
                .as_ref()
                .is_some_and(|u| deleted.contains(u))
                || self
                    .registry
                    .record(&name)
                    .is_some_and(|r| r.object.metadata.generation >= object.metadata.generation);
            if stale {
                self.store
                    .write(Batch::new().delete(PENDING_TABLE, &name))?;
                continue;
            }
            // A newer generation whose older run was still to be killed.
            if let Some(old) = self.registry.record(&name).filter(|r| !r.all_terminal()) {
                self.kill(&old, None).await?;
            }
            tracing::debug!(%name, "pending launch taken over from the state");
            self.registry.put(Record::pending(object, None));
        }
        for t in strays.iter().filter(|t| !t.state.is_terminal()) {
            self.call(&Call::kill(
                id.clone(),
                t.task_id.clone(),
                Some(t.agent_id.clone()),
            ))
            .await?;
        }
        Ok(())
    }

    /// The event loop of one subscription.
    async fn drive(
        &self,
        sub: &mut Subscription,
        id: &FrameworkId,
    ) -> std::result::Result<(), String> {
        let mut suppressed: Option<bool> = None;
        let mut revived_for = BTreeSet::new();
        let mut tick = tokio::time::interval(TICK);
        // Offers held by an earlier subscription are void.
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        loop {
            let held: Vec<Offer> =
                std::mem::take(&mut *self.held.lock().unwrap_or_else(PoisonError::into_inner));
            if !held.is_empty() {
                self.offers(held, id).await.map_err(|e| e.to_string())?;
            }
            // Every launch waiting now, by name and generation; a new one revives offers even
            // when they are not suppressed (REVIVE also clears the filters of earlier declines).
            let waiting: BTreeSet<(String, Option<u64>, u32)> = self
                .registry
                .pending()
                .into_iter()
                .chain(self.registry.backing_off())
                .map(|r| {
                    (
                        r.object.metadata.name.clone(),
                        r.object.metadata.generation,
                        r.restarts.count,
                    )
                })
                .collect();
            let pending = !waiting.is_empty();
            let new = waiting.iter().any(|k| !revived_for.contains(k));
            if suppressed != Some(!pending) || (pending && new) {
                let call = if pending {
                    Call::revive(id.clone(), Vec::new())
                } else {
                    Call::suppress(id.clone(), Vec::new())
                };
                self.call(&call).await.map_err(|e| e.to_string())?;
                suppressed = Some(!pending);
            }
            revived_for = waiting;
            tokio::select! {
                event = sub.next_event() => {
                    let event = event.map_err(|e| e.to_string())?;
                    self.handle(event, id).await?;
                }
                () = self.wake.notified() => {}
                _ = tick.tick() => {
                    self.recheck_pending().await;
                    self.reconcile_unsettled().await.map_err(|e| e.to_string())?;
                    self.kill_retiring().await.map_err(|e| e.to_string())?;
                }
            }
        }
    }

    async fn handle(&self, event: Event, id: &FrameworkId) -> std::result::Result<(), String> {
        match event.kind {
            EventType::Offers => {
                let offers = event.offers.map(|o| o.offers).unwrap_or_default();
                self.offers(offers, id).await.map_err(|e| e.to_string())?;
            }
            EventType::Update => {
                if let Some(update) = event.update {
                    // Acknowledged first: once tars sees a task terminal, the master has been
                    // told it may forget it.
                    if let Some(ack) = Call::acknowledge(id.clone(), &update.status) {
                        self.call(&ack).await.map_err(|e| e.to_string())?;
                    }
                    let mut wait = None;
                    let group = self
                        .registry
                        .update(&update.status, |r| wait = restart_per_policy(r));
                    tracing::debug!(task = %update.status.task_id.value, state = ?update.status.state, ?group, "task update");
                    if let Some(name) = group {
                        self.wake_after(&name, wait);
                    }
                }
            }
            EventType::Rescind => {
                if let Some(rescind) = event.rescind {
                    self.held
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .retain(|o| o.id != rescind.offer_id);
                }
            }
            EventType::Failure => {
                tracing::info!(failure = ?event.failure, "agent or executor failure");
            }
            EventType::Error => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                return Err(format!("the master sent ERROR: {message}"));
            }
            _ => {}
        }
        Ok(())
    }

    /// Launches pending groups on `offers` (as many as fit, oldest first) and declines the rest.
    async fn offers(&self, offers: Vec<Offer>, id: &FrameworkId) -> Result<()> {
        let mut pending = self.registry.pending();
        for offer in offers {
            let mut host = Host::of_offer(&offer);
            let mut operations = Vec::new();
            let mut launched = Vec::new();
            let mut rest = Vec::new();
            for record in pending {
                if host.fits(&record.object.spec, &self.config.sizing).is_err() {
                    rest.push(record);
                    continue;
                }
                let wanted = record
                    .object
                    .spec
                    .containers
                    .iter()
                    .map(|c| c.ports.len())
                    .sum();
                let ports = host.take_ports(wanted);
                host.consume(
                    &convert::demand(&record.object.spec, &self.config.sizing),
                    &ports,
                );
                let (op, endpoints) = convert::launch_group(
                    &self.instance,
                    id,
                    &record.object,
                    &offer.agent_id,
                    &offer.hostname,
                    ports,
                    &self.config.sizing,
                    record.restarts.count,
                )?;
                let inc = Incarnation::of(
                    &self.instance,
                    &record.object.metadata,
                    record.restarts.count,
                );
                operations.push(op);
                launched.push((record, endpoints, inc));
            }
            pending = rest;
            // Claimed under the registry's lock: a group deleted or replaced meanwhile is not
            // launched; a claimed one is `launching` until the ACCEPT is answered.
            let mut claimed = Vec::new();
            let mut kept = Vec::new();
            for ((record, endpoints, inc), op) in launched.into_iter().zip(operations) {
                let mut ok = false;
                self.registry.modify(&record.object.metadata.name, |r| {
                    ok = !r.retiring
                        && matches!(r.placement, Placement::Pending(_))
                        && r.object.metadata.generation == record.object.metadata.generation
                        && r.restarts.count == record.restarts.count;
                    if ok {
                        r.launching = true;
                    }
                });
                if ok {
                    claimed.push((record, endpoints, inc));
                    kept.push(op);
                }
            }
            let (launched, operations) = (claimed, kept);
            if operations.is_empty() {
                // Kept for a group whose restart back-off ends soon, if it fits.
                let soon = tokio::time::Instant::now() + HOLD_FOR;
                let wanted = self.registry.backing_off().into_iter().any(|r| {
                    r.not_before.is_some_and(|t| t <= soon)
                        && host.fits(&r.object.spec, &self.config.sizing).is_ok()
                });
                if wanted {
                    self.held
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(offer);
                    continue;
                }
                let refuse = if pending.is_empty() && self.registry.backing_off().is_empty() {
                    IDLE_REFUSE
                } else {
                    self.config.refuse
                };
                self.call(&Call::decline(
                    id.clone(),
                    vec![offer.id.clone()],
                    Some(Filters {
                        refuse_seconds: Some(refuse.as_secs_f64()),
                    }),
                ))
                .await?;
                continue;
            }
            // Recorded before the call: updates of the new tasks may come before its answer.
            for (record, endpoints, inc) in &launched {
                let name = record.object.metadata.name.clone();
                let agent = offer.agent_id.clone();
                let hostname = offer.hostname.clone();
                let endpoints = endpoints.clone();
                self.registry.modify(&name, |r| {
                    r.not_before = None;
                    r.placement = Placement::Launched {
                        hostname,
                        endpoints,
                    };
                    r.agent_id = Some(agent.clone());
                    r.executor_id = Some(inc.executor_id());
                    r.tasks = r
                        .object
                        .spec
                        .containers
                        .iter()
                        .map(|c| {
                            (
                                c.name.clone(),
                                TaskView::staging(inc.task_id(&c.name), Some(agent.clone())),
                            )
                        })
                        .collect();
                });
            }
            let accepted = self
                .call(&Call::accept(
                    id.clone(),
                    vec![offer.id.clone()],
                    operations,
                    Some(Filters {
                        refuse_seconds: Some(0.0),
                    }),
                ))
                .await;
            if accepted.is_ok() {
                let mut batch = Batch::new();
                for (record, _, _) in &launched {
                    batch = batch.delete(PENDING_TABLE, &record.object.metadata.name);
                }
                self.store.write(batch)?;
            }
            for (record, _, _) in &launched {
                self.registry.modify(&record.object.metadata.name, |r| {
                    r.launching = false;
                    if accepted.is_err() {
                        r.placement = Placement::Pending(None);
                        r.tasks.clear();
                        r.agent_id = None;
                        r.executor_id = None;
                    }
                });
            }
            accepted?;
            for (record, _, _) in &launched {
                tracing::info!(group = %record.object.metadata.name, agent = %offer.hostname, "LAUNCH_GROUP");
            }
        }
        Ok(())
    }

    /// After a change of group `name` outside a task update (adopted from the master's task
    /// list): restarts it per [`restart_per_policy`] if its run has ended.
    pub(crate) fn after_update(&self, name: &str) {
        let mut wait = None;
        self.registry.modify(name, |r| wait = restart_per_policy(r));
        self.wake_after(name, wait);
    }

    /// Wakes the offer loop once a restart back-off of `wait` is over.
    fn wake_after(&self, name: &str, wait: Option<Duration>) {
        if let Some(wait) = wait {
            tracing::info!(group = name, ?wait, "restarting per the restart policy");
            let wake = self.wake.clone();
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                wake.notify_one();
            });
        }
    }

    /// Asks again for tasks whose state is not settled (`TASK_UNKNOWN` after a master
    /// failover until their agent re-registers, `TASK_UNREACHABLE`), as the reconciliation
    /// guide says: until every task is in a known state.
    async fn reconcile_unsettled(&self) -> Result<()> {
        let unsettled: Vec<Record> = self
            .registry
            .records()
            .into_iter()
            .filter(|r| {
                r.tasks
                    .values()
                    .any(|t| matches!(t.state, TaskState::TaskUnknown | TaskState::TaskUnreachable))
            })
            .collect();
        self.reconcile(&unsettled).await
    }

    /// Kills again the live tasks of groups being deleted (KILL is idempotent): a delete whose
    /// KILL was lost — the master down or failing over, the task's agent not re-registered
    /// yet — would otherwise leave them running after its caller gave up.
    async fn kill_retiring(&self) -> Result<()> {
        for record in self.registry.records() {
            if record.retiring && !record.launching && !record.all_terminal() {
                self.kill(&record, None).await?;
            }
        }
        Ok(())
    }

    /// Says of each pending group whether some agent could ever take it.
    async fn recheck_pending(&self) {
        for record in self.registry.pending() {
            let reason = self.unschedulable_now(&record.object.spec).await;
            self.registry.modify(&record.object.metadata.name, |r| {
                if matches!(r.placement, Placement::Pending(_)) {
                    r.placement = Placement::Pending(reason);
                }
            });
        }
    }
}
