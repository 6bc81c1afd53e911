//! Types of `mesos.v1` (`include/mesos/v1/mesos.proto`, Mesos 1.11) shared by the scheduler, executor
//! and operator APIs, in the JSON form Mesos speaks: field names as in the proto (snake_case), enums
//! as their names, `bytes` as base64 text, absent optional fields and empty repeated fields left
//! out. Only what tars uses is typed; messages tars passes through without looking inside
//! (`ContainerInfo`, `HealthCheck`, `CheckInfo`, `DiscoveryInfo`, `DomainInfo`, …) are kept as raw
//! JSON so that nothing Mesos sends is lost on the way back.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A raw JSON value, for messages tars passes through untouched.
pub type Json = serde_json::Value;

/// Declares a `{"value": "…"}` id message.
macro_rules! id_message {
    ($(#[$doc:meta] $name:ident;)*) => {$(
        #[$doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name {
            /// The id's text.
            pub value: String,
        }

        impl $name {
            /// The id with this text.
            pub fn new(value: impl Into<String>) -> Self {
                Self { value: value.into() }
            }
        }
    )*};
}

id_message! {
    /// `FrameworkID`: assigned by the master on a framework's first `SUBSCRIBE`, reused to fail over.
    FrameworkId;
    /// `OfferID`.
    OfferId;
    /// `AgentID`: the agent's current registration (a new one whenever it registers anew).
    AgentId;
    /// `TaskID`: chosen by the framework, unique among its non-terminal tasks.
    TaskId;
    /// `ExecutorID`: chosen by the framework, unique per agent among running executors.
    ExecutorId;
    /// `ResourceProviderID`.
    ResourceProviderId;
}

/// `OperationID` (an operation's id, chosen by the framework). Note: in Mesos' own documentation
/// examples this sometimes appears as a bare string; the proto makes it a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OperationId {
    /// The id's text.
    pub value: String,
}

/// `TimeInfo`: time since the epoch, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeInfo {
    /// Nanoseconds since the epoch.
    pub nanoseconds: i64,
}

/// `DurationInfo`: a duration in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationInfo {
    /// Nanoseconds.
    pub nanoseconds: i64,
}

/// `Address`: a network address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    /// Hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Port.
    pub port: i32,
}

/// `MasterInfo`: which master the framework talks to.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MasterInfo {
    /// The master's id.
    pub id: String,
    /// IPv4 address in network byte order, as a number (deprecated by `address`).
    pub ip: u32,
    /// Port.
    pub port: u32,
    /// libprocess PID, `master@ip:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Mesos version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Fault domain (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Json>,
    /// Capabilities (passed through).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Json>,
}

/// `FrameworkInfo`: who the framework is, sent with `SUBSCRIBE`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FrameworkInfo {
    /// User its executors and tasks run as (when the agent switches users).
    pub user: String,
    /// Name, for humans.
    pub name: String,
    /// Its id, set when re-subscribing after a failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<FrameworkId>,
    /// Seconds the master keeps its tasks after it disconnects (proto default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_timeout: Option<f64>,
    /// Whether agents checkpoint its executors and tasks (so they survive an agent restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<bool>,
    /// Deprecated single role (proto default `*`); use `roles` with `MULTI_ROLE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Roles it subscribes with (needs the `MULTI_ROLE` capability).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Host it runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Principal for authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Its web UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webui_url: Option<String>,
    /// Capabilities it announces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<FrameworkCapability>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// Per-role offer filters (passed through).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub offer_filters: BTreeMap<String, Json>,
}

/// `FrameworkInfo.Capability`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkCapability {
    /// Which capability.
    #[serde(rename = "type")]
    pub kind: FrameworkCapabilityType,
}

/// `FrameworkInfo.Capability.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FrameworkCapabilityType {
    /// Receives revocable resources.
    RevocableResources,
    /// Understands `TASK_KILLING`.
    TaskKillingState,
    /// Receives GPU resources.
    GpuResources,
    /// Receives shared resources.
    SharedResources,
    /// Understands partition awareness (`TASK_UNREACHABLE`, …).
    PartitionAware,
    /// Subscribes with several roles.
    MultiRole,
    /// Understands reservation refinement.
    ReservationRefinement,
    /// Receives offers from other regions.
    RegionAware,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

impl FrameworkCapability {
    /// A capability of this type.
    pub fn new(kind: FrameworkCapabilityType) -> Self {
        Self { kind }
    }
}

/// `Labels`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Labels {
    /// The labels, in order.
    #[serde(default)]
    pub labels: Vec<Label>,
}

/// `Label`: a key with an optional value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `Value.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValueType {
    /// A number (`scalar`).
    Scalar,
    /// Ranges of integers (`ranges`), e.g. ports.
    Ranges,
    /// A set of strings (`set`).
    Set,
    /// A text (`text`).
    Text,
}

/// `Value.Scalar`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scalar {
    /// The number.
    pub value: f64,
}

/// `Value.Range`: `begin..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// First value.
    pub begin: u64,
    /// Last value, inclusive.
    pub end: u64,
}

/// `Value.Ranges`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ranges {
    /// The ranges.
    #[serde(default)]
    pub range: Vec<Range>,
}

/// `Value.Set`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Set {
    /// The items.
    #[serde(default)]
    pub item: Vec<String>,
}

/// `Value.Text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// The text.
    pub value: String,
}

/// `Attribute`: a property of an agent (`--attributes`), matched by placement constraints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// Name.
    pub name: String,
    /// Which of the value fields is set.
    #[serde(rename = "type")]
    pub kind: ValueType,
    /// Number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    /// Ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
    /// Set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Set>,
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
}

/// `Resource`: an amount of something an agent offers (`cpus`, `mem`, `disk` as scalars in CPUs
/// and MB, `ports` as ranges).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Resource provider it comes from, if not the agent itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<ResourceProviderId>,
    /// Name: `cpus`, `mem`, `disk`, `ports`, `gpus`, ….
    pub name: String,
    /// Which of the value fields is set.
    #[serde(rename = "type")]
    pub kind: ValueType,
    /// Amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    /// Ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
    /// Set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Set>,
    /// Deprecated role (proto default `*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The role it is allocated to (offers to multi-role frameworks carry it; operations must
    /// echo it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_info: Option<AllocationInfo>,
    /// Deprecated single reservation (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<Json>,
    /// Reservation stack (passed through).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reservations: Vec<Json>,
    /// Disk details (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Json>,
    /// Revocability (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocable: Option<Json>,
    /// Sharing (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<Json>,
}

impl Resource {
    /// A scalar resource such as `cpus` or `mem`.
    pub fn scalar(name: impl Into<String>, value: f64) -> Self {
        Self::new(name, ValueType::Scalar, Some(Scalar { value }), None)
    }

    /// A ranges resource such as `ports`.
    pub fn ranges(name: impl Into<String>, ranges: Vec<Range>) -> Self {
        Self::new(
            name,
            ValueType::Ranges,
            None,
            Some(Ranges { range: ranges }),
        )
    }

    fn new(
        name: impl Into<String>,
        kind: ValueType,
        scalar: Option<Scalar>,
        ranges: Option<Ranges>,
    ) -> Self {
        Self {
            provider_id: None,
            name: name.into(),
            kind,
            scalar,
            ranges,
            set: None,
            role: None,
            allocation_info: None,
            reservation: None,
            reservations: Vec::new(),
            disk: None,
            revocable: None,
            shared: None,
        }
    }
}

/// `Resource.AllocationInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AllocationInfo {
    /// The role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// `Offer`: resources of one agent offered to the framework.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// Its id, for `ACCEPT`/`DECLINE`.
    pub id: OfferId,
    /// The framework it is for.
    pub framework_id: FrameworkId,
    /// The agent.
    pub agent_id: AgentId,
    /// The agent's hostname (where tasks' ports are reachable).
    pub hostname: String,
    /// The agent's URL (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Json>,
    /// The agent's fault domain (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Json>,
    /// What is offered.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// The agent's attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// This framework's executors already running on the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executor_ids: Vec<ExecutorId>,
    /// Maintenance window (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailability: Option<Json>,
    /// The role the offer is allocated to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_info: Option<AllocationInfo>,
}

/// `Offer.Operation`: what to do with accepted offers. Only the launch operations are typed;
/// others would be added with their fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferOperation {
    /// Which operation.
    #[serde(rename = "type")]
    pub kind: OfferOperationType,
    /// Operation id (only for operations whose status is tracked; not for launches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<OperationId>,
    /// `LAUNCH`: tasks, each with its own executor or command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
    /// `LAUNCH_GROUP`: one task group under one executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_group: Option<LaunchGroup>,
}

impl OfferOperation {
    /// A `LAUNCH_GROUP` of `task_group` on `executor`.
    pub fn launch_group(executor: ExecutorInfo, task_group: TaskGroupInfo) -> Self {
        Self {
            kind: OfferOperationType::LaunchGroup,
            id: None,
            launch: None,
            launch_group: Some(LaunchGroup {
                executor,
                task_group,
            }),
        }
    }
}

/// `Offer.Operation.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OfferOperationType {
    /// Launch tasks.
    Launch,
    /// Launch a task group.
    LaunchGroup,
    /// Reserve resources.
    Reserve,
    /// Unreserve resources.
    Unreserve,
    /// Create persistent volumes.
    Create,
    /// Destroy persistent volumes.
    Destroy,
    /// Grow a volume.
    GrowVolume,
    /// Shrink a volume.
    ShrinkVolume,
    /// Create a disk from a resource provider's storage.
    CreateDisk,
    /// Destroy such a disk.
    DestroyDisk,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `Offer.Operation.Launch`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Launch {
    /// The tasks.
    #[serde(default)]
    pub task_infos: Vec<TaskInfo>,
}

/// `Offer.Operation.LaunchGroup`: all tasks start together, under `executor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchGroup {
    /// The executor running the group (one per group; tars' own executor).
    pub executor: ExecutorInfo,
    /// The tasks.
    pub task_group: TaskGroupInfo,
}

/// `TaskGroupInfo`: tasks launched and killed together.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskGroupInfo {
    /// The tasks.
    #[serde(default)]
    pub tasks: Vec<TaskInfo>,
}

/// `TaskInfo`: a task to launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Name.
    pub name: String,
    /// Id, chosen by the framework.
    pub task_id: TaskId,
    /// Agent it runs on (the offer's).
    pub agent_id: AgentId,
    /// Resources it uses (taken from the offer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    /// Its executor (`LAUNCH` with a custom executor; not set inside a `LAUNCH_GROUP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorInfo>,
    /// What it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    /// Container settings (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Json>,
    /// Health check (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Json>,
    /// General check (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Json>,
    /// How it is killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
    /// Opaque data for the executor (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// Service discovery (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Json>,
    /// Maximum run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_time: Option<DurationInfo>,
    /// Resource limits above the request, per resource name. Kept as JSON: Mesos writes these as
    /// plain numbers or the string `"Infinity"` (see the scheduler API docs), not as
    /// `Value.Scalar` objects.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Json>,
}

/// `ExecutorInfo`: the executor tasks run under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutorInfo {
    /// `DEFAULT` (Mesos' own) or `CUSTOM` (tars').
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ExecutorType>,
    /// Id.
    pub executor_id: ExecutorId,
    /// Framework (required by Mesos in practice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_id: Option<FrameworkId>,
    /// The executor's command (for `CUSTOM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    /// Container settings (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Json>,
    /// Resources of the executor itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Deprecated source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Opaque data (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Service discovery (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Json>,
    /// Shutdown grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_period: Option<DurationInfo>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
}

/// `ExecutorInfo.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutorType {
    /// Mesos' default executor.
    Default,
    /// A framework's own executor, run by `command`.
    Custom,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `CommandInfo`: a command, through `/bin/sh -c value` when `shell` (the default), else
/// `value` executed with `arguments`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CommandInfo {
    /// URIs fetched into the sandbox first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<CommandUri>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// Whether `value` is a shell command line (proto default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<bool>,
    /// The command line, or the program when not `shell`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Arguments (argv, including argv\[0\]) when not `shell`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
    /// User to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `CommandInfo.URI`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandUri {
    /// The URI.
    pub value: String,
    /// Make the file executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<bool>,
    /// Extract archives (proto default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<bool>,
    /// Use the fetcher cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<bool>,
    /// File name in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
}

/// `Environment`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Environment {
    /// The variables.
    #[serde(default)]
    pub variables: Vec<EnvironmentVariable>,
}

/// `Environment.Variable` (plain values; secrets passed through).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentVariable {
    /// Name.
    pub name: String,
    /// `VALUE` (proto default) or `SECRET`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Secret (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Json>,
}

/// `HealthCheck`: how an executor decides whether a task is healthy (reported as
/// `TaskStatus.healthy`). `TaskInfo.health_check` is kept as JSON; decode it into this with
/// `serde_json::from_value`. Defaults are the proto's (see the accessors).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthCheck {
    /// Seconds after the task starts before the first check (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<f64>,
    /// Seconds between checks (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<f64>,
    /// Seconds one check may take (default 20; 0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Consecutive failures after which the task is killed (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    /// Seconds after the task starts during which failures are ignored until a check succeeds
    /// (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<f64>,
    /// Which kind of check.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<HealthCheckType>,
    /// `COMMAND`: healthy when it exits 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    /// `HTTP`: healthy on a 2xx/3xx answer (or one of `statuses`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheckInfo>,
    /// `TCP`: healthy when a connection opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheckInfo>,
}

impl HealthCheck {
    /// `delay_seconds` or its default.
    pub fn delay(&self) -> f64 {
        self.delay_seconds.unwrap_or(15.0)
    }
    /// `interval_seconds` or its default.
    pub fn interval(&self) -> f64 {
        self.interval_seconds.unwrap_or(10.0)
    }
    /// `timeout_seconds` or its default.
    pub fn timeout(&self) -> f64 {
        self.timeout_seconds.unwrap_or(20.0)
    }
    /// `consecutive_failures` or its default.
    pub fn max_consecutive_failures(&self) -> u32 {
        self.consecutive_failures.unwrap_or(3)
    }
    /// `grace_period_seconds` or its default.
    pub fn grace_period(&self) -> f64 {
        self.grace_period_seconds.unwrap_or(10.0)
    }
}

/// `HealthCheck.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthCheckType {
    /// Run a command.
    Command,
    /// An HTTP GET.
    Http,
    /// A TCP connection.
    Tcp,
    /// A gRPC health check.
    Grpc,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `HealthCheck.HTTPCheckInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpCheckInfo {
    /// `IPv4` (default) or `IPv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `http` (default) or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Port on the task's host.
    pub port: u32,
    /// Path (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Statuses that count as healthy (deprecated in Mesos: 200–399 are).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<u32>,
}

/// `HealthCheck.TCPCheckInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TcpCheckInfo {
    /// `IPv4` (default) or `IPv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Port on the task's host.
    pub port: u32,
}

/// `CheckInfo`: a general check whose result the executor reports as is
/// (`TaskStatus.check_status`), without judging it. `TaskInfo.check` is kept as JSON; decode it
/// into this with `serde_json::from_value`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CheckInfo {
    /// Which kind of check.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<CheckType>,
    /// `COMMAND`: its exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CheckCommand>,
    /// `HTTP`: the status code of a GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<CheckHttp>,
    /// `TCP`: whether a connection opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<CheckTcp>,
    /// Seconds after the task starts before the first check (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<f64>,
    /// Seconds between checks (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<f64>,
    /// Seconds one check may take (default 20; 0: no limit); a timeout gives an empty result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
}

impl CheckInfo {
    /// `delay_seconds` or its default.
    pub fn delay(&self) -> f64 {
        self.delay_seconds.unwrap_or(15.0)
    }
    /// `interval_seconds` or its default.
    pub fn interval(&self) -> f64 {
        self.interval_seconds.unwrap_or(10.0)
    }
    /// `timeout_seconds` or its default.
    pub fn timeout(&self) -> f64 {
        self.timeout_seconds.unwrap_or(20.0)
    }
}

/// `CheckInfo.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckType {
    /// Run a command.
    Command,
    /// An HTTP GET.
    Http,
    /// A TCP connection.
    Tcp,
    /// `UNKNOWN`, and any name this version does not know.
    #[serde(other)]
    Unknown,
}

/// `CheckInfo.Command`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CheckCommand {
    /// The command.
    pub command: CommandInfo,
}

/// `CheckInfo.Http`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckHttp {
    /// Port on the task's host.
    pub port: u32,
    /// Path (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `CheckInfo.Tcp`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckTcp {
    /// Port on the task's host.
    pub port: u32,
}

/// `CheckStatusInfo`: a check's latest result, in `TaskStatus.check_status` (kept as JSON there;
/// encode this with `serde_json::to_value`). The result field matching `type` is present, and
/// empty while no result is known (not run yet, timed out).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckStatusInfo {
    /// The check's type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<CheckType>,
    /// `COMMAND` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CheckStatusCommand>,
    /// `HTTP` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<CheckStatusHttp>,
    /// `TCP` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<CheckStatusTcp>,
}

/// `CheckStatusInfo.Command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckStatusCommand {
    /// The command's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// `CheckStatusInfo.Http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckStatusHttp {
    /// The answer's status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u32>,
}

/// `CheckStatusInfo.Tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckStatusTcp {
    /// Whether the connection opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<bool>,
}

/// `KillPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KillPolicy {
    /// Time between SIGTERM and SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<DurationInfo>,
}

/// `Filters`: how long declined or unused resources are not offered again.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Filters {
    /// Seconds (proto default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_seconds: Option<f64>,
}

/// `TaskState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    /// Accepted by the master, not yet on the agent.
    TaskStaging,
    /// Being started by the executor.
    TaskStarting,
    /// Running.
    TaskRunning,
    /// Being killed (frameworks with `TASK_KILLING_STATE`).
    TaskKilling,
    /// Terminal: exited 0.
    TaskFinished,
    /// Terminal: failed.
    TaskFailed,
    /// Terminal: killed.
    TaskKilled,
    /// Terminal: invalid description.
    TaskError,
    /// Terminal: lost (frameworks without `PARTITION_AWARE`).
    TaskLost,
    /// Terminal: dropped before it started.
    TaskDropped,
    /// Its agent is unreachable; may come back.
    TaskUnreachable,
    /// Terminal: its agent is gone.
    TaskGone,
    /// Terminal: its agent was marked gone by an operator.
    TaskGoneByOperator,
    /// The master knows nothing of it.
    TaskUnknown,
}

impl TaskState {
    /// Whether no further update follows (Mesos' `protobuf::isTerminalState`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::TaskFinished
                | Self::TaskFailed
                | Self::TaskKilled
                | Self::TaskError
                | Self::TaskLost
                | Self::TaskDropped
                | Self::TaskGone
                | Self::TaskGoneByOperator
        )
    }
}

/// `TaskStatus.Source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatusSource {
    /// Generated by the master.
    SourceMaster,
    /// Generated by the agent.
    SourceAgent,
    /// Sent by the executor.
    SourceExecutor,
}

/// `TaskStatus.Reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)] // The names are Mesos'; see mesos.proto for each one's meaning.
pub enum TaskStatusReason {
    ReasonCommandExecutorFailed,
    ReasonContainerLaunchFailed,
    ReasonContainerLimitation,
    ReasonContainerLimitationDisk,
    ReasonContainerLimitationMemory,
    ReasonContainerPreempted,
    ReasonContainerUpdateFailed,
    ReasonMaxCompletionTimeReached,
    ReasonExecutorRegistrationTimeout,
    ReasonExecutorReregistrationTimeout,
    ReasonExecutorTerminated,
    ReasonExecutorUnregistered,
    ReasonFrameworkRemoved,
    ReasonGcError,
    ReasonInvalidFrameworkid,
    ReasonInvalidOffers,
    ReasonIoSwitchboardExited,
    ReasonMasterDisconnected,
    ReasonReconciliation,
    ReasonResourcesUnknown,
    ReasonAgentDisconnected,
    ReasonAgentDraining,
    ReasonAgentRemoved,
    ReasonAgentRemovedByOperator,
    ReasonAgentReregistered,
    ReasonAgentRestarted,
    ReasonAgentUnknown,
    ReasonTaskKilledDuringLaunch,
    ReasonTaskCheckStatusUpdated,
    ReasonTaskHealthCheckStatusUpdated,
    ReasonTaskGroupInvalid,
    ReasonTaskGroupUnauthorized,
    ReasonTaskInvalid,
    ReasonTaskUnauthorized,
    ReasonTaskUnknown,
    /// A reason this version does not know.
    #[serde(other)]
    Unknown,
}

/// `TaskStatus`: a task's state as reported in `UPDATE` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// The task.
    pub task_id: TaskId,
    /// Its state.
    pub state: TaskState,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Who generated the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TaskStatusSource>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<TaskStatusReason>,
    /// Opaque data from the executor (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// The executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<ExecutorId>,
    /// Seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// Update id (base64); set when the update must be acknowledged with `ACKNOWLEDGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Result of the task's health check, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// Result of the task's general check (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_status: Option<Json>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// Container status: network addresses, … (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_status: Option<Json>,
    /// When the task became unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_time: Option<TimeInfo>,
    /// The limit it hit (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limitation: Option<Json>,
}

/// `Task`: a task as the master knows it (operator API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Name.
    pub name: String,
    /// Id.
    pub task_id: TaskId,
    /// Framework.
    pub framework_id: FrameworkId,
    /// Executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<ExecutorId>,
    /// Agent.
    pub agent_id: AgentId,
    /// Latest state.
    pub state: TaskState,
    /// Resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    /// Status history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<TaskStatus>,
    /// State of the latest update not yet acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_update_state: Option<TaskState>,
    /// Its uuid (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_update_uuid: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// Service discovery (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Json>,
    /// Container settings (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Json>,
    /// Health check (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Json>,
    /// Kill policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
    /// User it runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Limits (see [`TaskInfo::limits`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Json>,
}

/// `AgentInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Hostname.
    pub hostname: String,
    /// Port (proto default 5051).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Total resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<AgentId>,
    /// Fault domain (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Json>,
}

/// `VersionInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Version, e.g. `1.11.0`.
    pub version: String,
    /// Build date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_date: Option<String>,
    /// Build time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_time: Option<f64>,
    /// Who built it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_user: Option<String>,
    /// Git commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_sha: Option<String>,
    /// Git branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    /// Git tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_tag: Option<String>,
}
