//! `mesos.v1.master` (`include/mesos/v1/master/master.proto`, Mesos 1.11): the operator API at
//! `/api/v1` — the read-only calls tars lists with (`GET_VERSION`, `GET_STATE`, `GET_AGENTS`,
//! `GET_TASKS`) and their responses, and the event stream `SUBSCRIBE` opens.

use super::mesos::{
    AgentId, AgentInfo, ExecutorInfo, FrameworkId, FrameworkInfo, Json, Offer, Resource, Task,
    TaskState, TaskStatus, TimeInfo, VersionInfo,
};
use serde::{Deserialize, Serialize};

/// `Call.Type` (the subset tars sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallType {
    /// The master's version.
    GetVersion,
    /// Everything: tasks, executors, frameworks, agents.
    GetState,
    /// Agents.
    GetAgents,
    /// Frameworks.
    GetFrameworks,
    /// Executors.
    GetExecutors,
    /// Tasks.
    GetTasks,
    /// The event stream: [`Event`]s, RecordIO-framed, for as long as the response is open.
    Subscribe,
}

/// `Call` without arguments: the read-only calls above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Which call.
    #[serde(rename = "type")]
    pub kind: CallType,
}

impl Call {
    /// A call of this type.
    pub fn new(kind: CallType) -> Self {
        Self { kind }
    }
}

/// `Response.Type` (`GET_STATE` is 8 here, 9 in `Call.Type`: only names go over the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResponseType {
    /// `get_version` is set.
    GetVersion,
    /// `get_state` is set.
    GetState,
    /// `get_agents` is set.
    GetAgents,
    /// `get_frameworks` is set.
    GetFrameworks,
    /// `get_executors` is set.
    GetExecutors,
    /// `get_tasks` is set.
    GetTasks,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `Response`: the answer to a [`Call`]; the field matching `type` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Which response.
    #[serde(rename = "type")]
    pub kind: ResponseType,
    /// `GET_VERSION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_version: Option<GetVersion>,
    /// `GET_STATE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_state: Option<GetState>,
    /// `GET_AGENTS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_agents: Option<GetAgents>,
    /// `GET_FRAMEWORKS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_frameworks: Option<GetFrameworks>,
    /// `GET_EXECUTORS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_executors: Option<GetExecutors>,
    /// `GET_TASKS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_tasks: Option<GetTasks>,
}

/// `Response.GetVersion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetVersion {
    /// The version.
    pub version_info: VersionInfo,
}

/// `Response.GetState`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GetState {
    /// Tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_tasks: Option<GetTasks>,
    /// Executors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_executors: Option<GetExecutors>,
    /// Frameworks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_frameworks: Option<GetFrameworks>,
    /// Agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_agents: Option<GetAgents>,
}

/// `Response.GetAgents`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GetAgents {
    /// Registered agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<Agent>,
    /// Agents recovered from the registry, not yet re-registered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovered_agents: Vec<AgentInfo>,
}

/// `Response.GetAgents.Agent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// What the agent is.
    pub agent_info: AgentInfo,
    /// Whether it is active.
    pub active: bool,
    /// Whether an operator deactivated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated: Option<bool>,
    /// Its Mesos version.
    pub version: String,
    /// Its libprocess PID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// When it registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_time: Option<TimeInfo>,
    /// When it re-registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reregistered_time: Option<TimeInfo>,
    /// Total resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub total_resources: Vec<Resource>,
    /// Resources allocated to frameworks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocated_resources: Vec<Resource>,
    /// Resources offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered_resources: Vec<Resource>,
    /// Capabilities (passed through).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Json>,
    /// Resource providers (passed through).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_providers: Vec<Json>,
    /// Draining (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_info: Option<Json>,
    /// Estimated drain start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_drain_start_time: Option<TimeInfo>,
}

/// `Response.GetFrameworks`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GetFrameworks {
    /// Frameworks connected or within their failover timeout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frameworks: Vec<Framework>,
    /// Removed frameworks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completed_frameworks: Vec<Framework>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovered_frameworks: Vec<FrameworkInfo>,
}

/// `Response.GetFrameworks.Framework`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Framework {
    /// What it subscribed with.
    pub framework_info: FrameworkInfo,
    /// Whether it is active.
    pub active: bool,
    /// Whether it is connected.
    pub connected: bool,
    /// Whether it was recovered (from agents) without re-subscribing yet.
    pub recovered: bool,
    /// When it registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_time: Option<TimeInfo>,
    /// When it re-registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reregistered_time: Option<TimeInfo>,
    /// When it disconnected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unregistered_time: Option<TimeInfo>,
    /// Outstanding offers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<Offer>,
    /// Outstanding inverse offers (passed through).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inverse_offers: Vec<Json>,
    /// Allocated resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocated_resources: Vec<Resource>,
    /// Offered resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered_resources: Vec<Resource>,
    /// Offer constraints (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_constraints: Option<Json>,
}

/// `Response.GetExecutors`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GetExecutors {
    /// Executors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executors: Vec<Executor>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphan_executors: Vec<Executor>,
}

/// `Response.GetExecutors.Executor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Executor {
    /// What it is.
    pub executor_info: ExecutorInfo,
    /// Where it runs.
    pub agent_id: AgentId,
}

/// `Response.GetTasks`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GetTasks {
    /// Deprecated: always empty since 1.x.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_tasks: Vec<Task>,
    /// Non-terminal tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
    /// Tasks on unreachable agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable_tasks: Vec<Task>,
    /// Terminal tasks (a bounded history).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completed_tasks: Vec<Task>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphan_tasks: Vec<Task>,
}

/// `Event.Type`: what the master streams to an operator subscription (`SUBSCRIBE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// The first event: the cluster's state, `subscribed` set.
    Subscribed,
    /// A task became known to the master; `task_added` set.
    TaskAdded,
    /// A task changed state; `task_updated` set.
    TaskUpdated,
    /// An agent (re-)registered; `agent_added` set.
    AgentAdded,
    /// An agent was removed; `agent_removed` set.
    AgentRemoved,
    /// A framework subscribed; `framework_added` set.
    FrameworkAdded,
    /// A framework re-subscribed or disconnected; `framework_updated` set.
    FrameworkUpdated,
    /// A framework was torn down; `framework_removed` set.
    FrameworkRemoved,
    /// Sent every `heartbeat_interval_seconds`.
    Heartbeat,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `Event`: one record of the operator event stream; the field matching `type` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Which event.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// `SUBSCRIBED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed: Option<Subscribed>,
    /// `TASK_ADDED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_added: Option<TaskAdded>,
    /// `TASK_UPDATED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_updated: Option<TaskUpdated>,
    /// `AGENT_ADDED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_added: Option<AgentAdded>,
    /// `AGENT_REMOVED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_removed: Option<AgentRemoved>,
    /// `FRAMEWORK_ADDED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_added: Option<FrameworkChanged>,
    /// `FRAMEWORK_UPDATED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_updated: Option<FrameworkChanged>,
    /// `FRAMEWORK_REMOVED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_removed: Option<FrameworkRemoved>,
}

/// `Event.Subscribed`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Subscribed {
    /// The whole cluster when the subscription began; later changes come as events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_state: Option<GetState>,
    /// How often `HEARTBEAT` comes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval_seconds: Option<f64>,
}

/// `Event.TaskAdded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAdded {
    /// The task, as `GET_TASKS` would list it.
    pub task: Task,
}

/// `Event.TaskUpdated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskUpdated {
    /// Whose task.
    pub framework_id: FrameworkId,
    /// The last status the framework acknowledged.
    pub status: TaskStatus,
    /// The task's latest state according to its agent.
    pub state: TaskState,
}

/// `Event.AgentAdded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentAdded {
    /// The agent, as `GET_AGENTS` would list it.
    pub agent: Agent,
}

/// `Event.AgentRemoved`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRemoved {
    /// Which agent.
    pub agent_id: AgentId,
}

/// `Event.FrameworkAdded` and `Event.FrameworkUpdated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameworkChanged {
    /// The framework, as `GET_FRAMEWORKS` would list it.
    pub framework: Framework,
}

/// `Event.FrameworkRemoved`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameworkRemoved {
    /// What the framework had subscribed with.
    pub framework_info: FrameworkInfo,
}
