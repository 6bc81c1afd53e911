//! `mesos.v1.scheduler` (`include/mesos/v1/scheduler/scheduler.proto`, Mesos 1.11): the calls a
//! framework POSTs to `/api/v1/scheduler` and the events it reads from its `SUBSCRIBE` stream.

use super::mesos::{
    AgentId, ExecutorId, Filters, FrameworkId, FrameworkInfo, Json, KillPolicy, MasterInfo, Offer,
    OfferId, OfferOperation, TaskId, TaskStatus,
};
use serde::{Deserialize, Serialize};

/// `Call.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallType {
    /// Subscribe, opening the event stream.
    Subscribe,
    /// Shut down all its tasks and executors and remove the framework.
    Teardown,
    /// Accept offers with operations.
    Accept,
    /// Decline offers.
    Decline,
    /// Accept inverse offers.
    AcceptInverseOffers,
    /// Decline inverse offers.
    DeclineInverseOffers,
    /// Clear filters and un-suppress offers.
    Revive,
    /// Kill a task.
    Kill,
    /// Shut an executor down.
    Shutdown,
    /// Acknowledge a status update.
    Acknowledge,
    /// Acknowledge an operation status update.
    AcknowledgeOperationStatus,
    /// Ask for the tasks' latest states.
    Reconcile,
    /// Ask for operations' latest states.
    ReconcileOperations,
    /// Send a message to an executor.
    Message,
    /// Request resources.
    Request,
    /// Stop receiving offers.
    Suppress,
    /// Change the `FrameworkInfo`.
    UpdateFramework,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `Call`: one request to `/api/v1/scheduler`. Exactly the field matching `type` is set; the
/// constructors build well-formed ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The framework (every call but the first `SUBSCRIBE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_id: Option<FrameworkId>,
    /// Which call.
    #[serde(rename = "type")]
    pub kind: CallType,
    /// `SUBSCRIBE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<Subscribe>,
    /// `ACCEPT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<Accept>,
    /// `DECLINE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline: Option<Decline>,
    /// `REVIVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revive: Option<Revive>,
    /// `KILL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<Kill>,
    /// `SHUTDOWN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<Shutdown>,
    /// `ACKNOWLEDGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge: Option<Acknowledge>,
    /// `RECONCILE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile: Option<Reconcile>,
    /// `SUPPRESS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress: Option<Suppress>,
}

impl Call {
    fn new(framework_id: Option<FrameworkId>, kind: CallType) -> Self {
        Self {
            framework_id,
            kind,
            subscribe: None,
            accept: None,
            decline: None,
            revive: None,
            kill: None,
            shutdown: None,
            acknowledge: None,
            reconcile: None,
            suppress: None,
        }
    }

    /// `SUBSCRIBE` with `framework_info` (whose `id` is set to fail over to an existing framework;
    /// the call's `framework_id` is then set to the same id).
    pub fn subscribe(framework_info: FrameworkInfo) -> Self {
        let mut call = Self::new(framework_info.id.clone(), CallType::Subscribe);
        call.subscribe = Some(Subscribe {
            framework_info,
            suppressed_roles: Vec::new(),
            offer_constraints: None,
        });
        call
    }

    /// `TEARDOWN`: the framework, its executors and tasks are removed.
    pub fn teardown(framework_id: FrameworkId) -> Self {
        Self::new(Some(framework_id), CallType::Teardown)
    }

    /// `ACCEPT` of `offer_ids` with `operations`, the unused rest refused per `filters`.
    pub fn accept(
        framework_id: FrameworkId,
        offer_ids: Vec<OfferId>,
        operations: Vec<OfferOperation>,
        filters: Option<Filters>,
    ) -> Self {
        let mut call = Self::new(Some(framework_id), CallType::Accept);
        call.accept = Some(Accept {
            offer_ids,
            operations,
            filters,
        });
        call
    }

    /// `DECLINE` of `offer_ids`, not offered again for `filters.refuse_seconds`.
    pub fn decline(
        framework_id: FrameworkId,
        offer_ids: Vec<OfferId>,
        filters: Option<Filters>,
    ) -> Self {
        let mut call = Self::new(Some(framework_id), CallType::Decline);
        call.decline = Some(Decline { offer_ids, filters });
        call
    }

    /// `REVIVE` for `roles` (all its roles when empty).
    pub fn revive(framework_id: FrameworkId, roles: Vec<String>) -> Self {
        let mut call = Self::new(Some(framework_id), CallType::Revive);
        call.revive = Some(Revive { roles });
        call
    }

    /// `SUPPRESS` for `roles` (all its roles when empty).
    pub fn suppress(framework_id: FrameworkId, roles: Vec<String>) -> Self {
        let mut call = Self::new(Some(framework_id), CallType::Suppress);
        call.suppress = Some(Suppress { roles });
        call
    }

    /// `KILL` of a task (the whole task group, if it is in one).
    pub fn kill(framework_id: FrameworkId, task_id: TaskId, agent_id: Option<AgentId>) -> Self {
        let mut call = Self::new(Some(framework_id), CallType::Kill);
        call.kill = Some(Kill {
            task_id,
            agent_id,
            kill_policy: None,
        });
        call
    }

    /// `ACKNOWLEDGE` of the update of `status` (which must carry a `uuid` and an `agent_id`).
    /// `None` if it has neither: such updates are not acknowledged.
    pub fn acknowledge(framework_id: FrameworkId, status: &TaskStatus) -> Option<Self> {
        let uuid = status.uuid.clone()?;
        let agent_id = status.agent_id.clone()?;
        let mut call = Self::new(Some(framework_id), CallType::Acknowledge);
        call.acknowledge = Some(Acknowledge {
            agent_id,
            task_id: status.task_id.clone(),
            uuid,
        });
        Some(call)
    }

    /// `RECONCILE` of `tasks` (every task the master knows of the framework when empty).
    pub fn reconcile(framework_id: FrameworkId, tasks: Vec<ReconcileTask>) -> Self {
        let mut call = Self::new(Some(framework_id), CallType::Reconcile);
        call.reconcile = Some(Reconcile { tasks });
        call
    }
}

/// `Call.Subscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribe {
    /// Who the framework is.
    pub framework_info: FrameworkInfo,
    /// Roles subscribed in the suppressed state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed_roles: Vec<String>,
    /// Constraints on the agents offered (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_constraints: Option<Json>,
}

/// `Call.Accept`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Accept {
    /// Offers accepted (all of the same agent).
    #[serde(default)]
    pub offer_ids: Vec<OfferId>,
    /// What to do with them.
    #[serde(default)]
    pub operations: Vec<OfferOperation>,
    /// Filters for the unused resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

/// `Call.Decline`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decline {
    /// Offers declined.
    #[serde(default)]
    pub offer_ids: Vec<OfferId>,
    /// For how long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

/// `Call.Revive`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Revive {
    /// Roles (all subscribed roles when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// `Call.Suppress`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Suppress {
    /// Roles (all subscribed roles when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// `Call.Kill`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kill {
    /// The task.
    pub task_id: TaskId,
    /// Its agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// Overrides the task's kill policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
}

/// `Call.Shutdown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown {
    /// The executor.
    pub executor_id: ExecutorId,
    /// Its agent.
    pub agent_id: AgentId,
}

/// `Call.Acknowledge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledge {
    /// Agent of the update.
    pub agent_id: AgentId,
    /// Task of the update.
    pub task_id: TaskId,
    /// The update's `uuid` (base64, as received).
    pub uuid: String,
}

/// `Call.Reconcile`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reconcile {
    /// Tasks asked about (all when empty: implicit reconciliation).
    #[serde(default)]
    pub tasks: Vec<ReconcileTask>,
}

/// `Call.Reconcile.Task`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileTask {
    /// The task.
    pub task_id: TaskId,
    /// Its agent, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
}

/// `Event.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// First event of a successful subscription.
    Subscribed,
    /// New offers.
    Offers,
    /// New inverse offers.
    InverseOffers,
    /// An offer is withdrawn.
    Rescind,
    /// An inverse offer is withdrawn.
    RescindInverseOffer,
    /// A task status update.
    Update,
    /// An operation status update.
    UpdateOperationStatus,
    /// A message from an executor.
    Message,
    /// An agent or executor failed.
    Failure,
    /// The subscription failed or ended (abort and re-subscribe).
    Error,
    /// The connection is alive.
    Heartbeat,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `Event`: one record of the `SUBSCRIBE` stream. Exactly the field matching `type` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Which event.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// `SUBSCRIBED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed: Option<Subscribed>,
    /// `OFFERS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offers: Option<Offers>,
    /// `INVERSE_OFFERS` (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse_offers: Option<Json>,
    /// `RESCIND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescind: Option<Rescind>,
    /// `RESCIND_INVERSE_OFFER` (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescind_inverse_offer: Option<Json>,
    /// `UPDATE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Update>,
    /// `UPDATE_OPERATION_STATUS` (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_operation_status: Option<Json>,
    /// `MESSAGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// `FAILURE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// `ERROR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

/// `Event.Subscribed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribed {
    /// The framework's id (new, or the one it failed over to).
    pub framework_id: FrameworkId,
    /// Seconds between `HEARTBEAT` events; missing several means the connection is dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval_seconds: Option<f64>,
    /// The leading master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_info: Option<MasterInfo>,
}

/// `Event.Offers`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Offers {
    /// The offers.
    #[serde(default)]
    pub offers: Vec<Offer>,
}

/// `Event.Rescind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rescind {
    /// The offer withdrawn.
    pub offer_id: OfferId,
}

/// `Event.Update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// The task's new status.
    pub status: TaskStatus,
}

/// `Event.Message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The agent.
    pub agent_id: AgentId,
    /// The executor.
    pub executor_id: ExecutorId,
    /// The data (base64).
    pub data: String,
}

/// `Event.Failure`: an agent was removed (`agent_id` only) or an executor ended (with its
/// `executor_id` and exit `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// The executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<ExecutorId>,
    /// The executor's exit status (a wait status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
}

/// `Event.Error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// Why.
    pub message: String,
}
