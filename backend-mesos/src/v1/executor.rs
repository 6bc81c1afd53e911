//! `mesos.v1.executor` (`include/mesos/v1/executor/executor.proto`, Mesos 1.11): the calls an
//! executor POSTs to the agent's `/api/v1/executor` and the events it reads from its `SUBSCRIBE`
//! stream (RecordIO, as for schedulers).

use super::mesos::{
    AgentInfo, ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, Json, KillPolicy,
    TaskGroupInfo, TaskId, TaskInfo, TaskStatus,
};
use serde::{Deserialize, Serialize};

/// `Call.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallType {
    /// Subscribe, opening the event stream.
    Subscribe,
    /// A task's status update.
    Update,
    /// Data for the scheduler (no delivery guarantee).
    Message,
    /// A heartbeat from the executor.
    Heartbeat,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `Call`: one request to the agent's `/api/v1/executor`. Exactly the field matching `type` is
/// set; the constructors build well-formed ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The executor.
    pub executor_id: ExecutorId,
    /// Its framework.
    pub framework_id: FrameworkId,
    /// Which call.
    #[serde(rename = "type")]
    pub kind: CallType,
    /// `SUBSCRIBE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<Subscribe>,
    /// `UPDATE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Update>,
    /// `MESSAGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
}

impl Call {
    fn new(framework_id: FrameworkId, executor_id: ExecutorId, kind: CallType) -> Self {
        Self {
            executor_id,
            framework_id,
            kind,
            subscribe: None,
            update: None,
            message: None,
        }
    }

    /// `SUBSCRIBE`, with what is not acknowledged yet when re-subscribing after a disconnection
    /// (both empty on the first one).
    pub fn subscribe(
        framework_id: FrameworkId,
        executor_id: ExecutorId,
        unacknowledged_tasks: Vec<TaskInfo>,
        unacknowledged_updates: Vec<Update>,
    ) -> Self {
        let mut call = Self::new(framework_id, executor_id, CallType::Subscribe);
        call.subscribe = Some(Subscribe {
            unacknowledged_tasks,
            unacknowledged_updates,
        });
        call
    }

    /// `UPDATE` with `status` (which carries its `uuid`: the agent acknowledges by it).
    pub fn update(framework_id: FrameworkId, executor_id: ExecutorId, status: TaskStatus) -> Self {
        let mut call = Self::new(framework_id, executor_id, CallType::Update);
        call.update = Some(Update { status });
        call
    }

    /// `MESSAGE` with `data` (base64).
    pub fn message(framework_id: FrameworkId, executor_id: ExecutorId, data: String) -> Self {
        let mut call = Self::new(framework_id, executor_id, CallType::Message);
        call.message = Some(Message { data });
        call
    }
}

/// `Call.Subscribe`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Subscribe {
    /// Tasks none of whose updates the agent acknowledged yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unacknowledged_tasks: Vec<TaskInfo>,
    /// Updates the agent did not acknowledge yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unacknowledged_updates: Vec<Update>,
}

/// `Call.Update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// The status (with a fresh `uuid`, `source: SOURCE_EXECUTOR`).
    pub status: TaskStatus,
}

/// `Call.Message` and `Event.Message`: opaque data (base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The data, base64.
    pub data: String,
}

/// `Event.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// First event of a subscription.
    Subscribed,
    /// Run one task.
    Launch,
    /// Run a task group.
    LaunchGroup,
    /// Kill a task.
    Kill,
    /// An update was received by the agent (do not resend it).
    Acknowledged,
    /// Data from the scheduler.
    Message,
    /// An asynchronous error.
    Error,
    /// Kill every task and exit.
    Shutdown,
    /// Keeps the connection alive.
    Heartbeat,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `Event`: one record of the `SUBSCRIBE` stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Which event.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// `SUBSCRIBED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed: Option<Subscribed>,
    /// `ACKNOWLEDGED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledged>,
    /// `LAUNCH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
    /// `LAUNCH_GROUP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_group: Option<LaunchGroup>,
    /// `KILL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<Kill>,
    /// `MESSAGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// `ERROR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

/// `Event.Subscribed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribed {
    /// The executor as the agent launched it.
    pub executor_info: ExecutorInfo,
    /// Its framework (its `capabilities` say e.g. whether it understands `TASK_KILLING`).
    pub framework_info: FrameworkInfo,
    /// The agent.
    pub agent_info: AgentInfo,
    /// The executor's container (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<Json>,
}

/// `Event.Launch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Launch {
    /// The task.
    pub task: TaskInfo,
}

/// `Event.LaunchGroup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchGroup {
    /// The tasks, launched and killed together.
    pub task_group: TaskGroupInfo,
}

/// `Event.Kill`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kill {
    /// The task.
    pub task_id: TaskId,
    /// Overrides the task's own kill policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
}

/// `Event.Acknowledged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledged {
    /// The task.
    pub task_id: TaskId,
    /// The acknowledged update's uuid (base64).
    pub uuid: String,
}

/// `Event.Error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// What went wrong.
    pub message: String,
}
