//! `ContainerGroup`: N containers that start, share a network and die together (a pod).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::meta::{Kind, Labels};
use crate::object::{Object, Spec};
use crate::quantity::{Cpu, Memory};

/// A container group object.
pub type ContainerGroup = Object<ContainerGroupSpec>;

fn default_grace() -> Duration {
    Duration::from_secs(30)
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// What a container group should run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerGroupSpec {
    /// The containers; at least one, with unique names.
    pub containers: Vec<Container>,
    /// What to do when a container exits.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// How long a container is given between SIGTERM and SIGKILL on delete.
    #[serde(default = "default_grace", with = "crate::serde_duration")]
    pub termination_grace_period: Duration,
    /// Where the group may run.
    #[serde(default, skip_serializing_if = "is_default")]
    pub placement: Placement,
}

impl ContainerGroupSpec {
    /// A spec with these containers and defaults for the rest.
    pub fn new(containers: Vec<Container>) -> Self {
        ContainerGroupSpec {
            containers,
            restart_policy: RestartPolicy::default(),
            termination_grace_period: default_grace(),
            placement: Placement::default(),
        }
    }
}

impl Spec for ContainerGroupSpec {
    const KIND: Kind = Kind::ContainerGroup;
    type Status = ContainerGroupStatus;

    fn validate(&self, path: &str) -> crate::Result<()> {
        crate::validate::container_group_spec(self, path)
    }
}

/// One container of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// DNS-1123 label, unique within the group.
    pub name: String,
    /// Container image reference (`repo:tag`). Backends that run host processes record it.
    pub image: String,
    /// When to pull the image.
    #[serde(default, skip_serializing_if = "is_default")]
    pub image_pull_policy: PullPolicy,
    /// The program and its fixed arguments (the image's entrypoint when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Further arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment variables, literal or from a secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Working directory of the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Named ports the container listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// CPU and memory.
    #[serde(default, skip_serializing_if = "is_default")]
    pub resources: Resources,
    /// Gates `ready` and endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
    /// Restarts the container when it stops answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
}

impl Container {
    /// A container with a name, an image and a command.
    pub fn new(name: impl Into<String>, image: impl Into<String>, command: &[&str]) -> Self {
        Container {
            name: name.into(),
            image: image.into(),
            image_pull_policy: PullPolicy::default(),
            command: command.iter().map(|s| s.to_string()).collect(),
            args: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            ports: Vec::new(),
            resources: Resources::default(),
            readiness: None,
            liveness: None,
        }
    }

    /// Adds a named port (builder style).
    pub fn with_port(mut self, name: impl Into<String>, container_port: Option<u16>) -> Self {
        self.ports.push(Port {
            name: name.into(),
            container_port,
            protocol: Protocol::default(),
        });
        self
    }

    /// Adds a literal environment variable (builder style).
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push(EnvVar::literal(name, value));
        self
    }

    /// Sets the readiness check (builder style).
    pub fn with_readiness(mut self, probe: Probe) -> Self {
        self.readiness = Some(probe);
        self
    }
}

/// When to pull a container image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PullPolicy {
    /// Pull only when the image is not present.
    #[default]
    IfNotPresent,
    /// Pull on every start.
    Always,
    /// Never pull.
    Never,
}

/// An environment variable: exactly one of `value` and `secret`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name: letters, digits and `_`, not starting with a digit.
    pub name: String,
    /// A literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A reference to a secret, resolved by the backend when the container starts. The value
    /// is never stored by tars, logged, or shown in `Debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
}

impl EnvVar {
    /// A literal variable.
    pub fn literal(name: impl Into<String>, value: impl Into<String>) -> Self {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            secret: None,
        }
    }

    /// A variable taken from secret `name`, key `key`.
    pub fn from_secret(name: impl Into<String>, secret: SecretRef) -> Self {
        EnvVar {
            name: name.into(),
            value: None,
            secret: Some(secret),
        }
    }
}

impl fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Literal values may still be sensitive in the user's eyes; show only that one is set.
        f.debug_struct("EnvVar")
            .field("name", &self.name)
            .field("value", &self.value.as_ref().map(|_| "<set>"))
            .field("secret", &self.secret)
            .finish()
    }
}

/// A reference to one key of a named secret. Kubernetes maps it to `secretKeyRef`; the embedded
/// backend resolves it from its environment or a secrets directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The secret's name.
    pub name: String,
    /// The key within the secret.
    pub key: String,
}

/// A named port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// IANA_SVC_NAME-like name (lower-case, at most 15 characters), unique within the group;
    /// the process finds its port in `PORT_<NAME>` (upper-cased, `-` as `_`).
    pub name: String,
    /// The port inside the container's network. Backends that share the host network
    /// (the embedded one) pick a free host port instead and report it in the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u16>,
    /// TCP or UDP.
    #[serde(default, skip_serializing_if = "is_default")]
    pub protocol: Protocol,
}

impl Port {
    /// The environment variable through which the process learns this port.
    pub fn env_name(&self) -> String {
        format!("PORT_{}", self.name.to_ascii_uppercase().replace('-', "_"))
    }
}

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Protocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

/// CPU and memory of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU limit (and request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Memory limit (and request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
}

/// A health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// What to check: `{http_get: {port, path}}`, `{tcp: {port}}` or `{exec: {command}}`.
    pub check: ProbeAction,
    /// Wait this long after the container starts before the first check.
    #[serde(default, with = "crate::serde_duration")]
    pub initial_delay: Duration,
    /// Time between checks.
    #[serde(default = "Probe::default_period", with = "crate::serde_duration")]
    pub period: Duration,
    /// A check taking longer fails.
    #[serde(default = "Probe::default_timeout", with = "crate::serde_duration")]
    pub timeout: Duration,
    /// Consecutive successes to count as healthy.
    #[serde(default = "Probe::one")]
    pub success_threshold: u32,
    /// Consecutive failures to count as unhealthy.
    #[serde(default = "Probe::three")]
    pub failure_threshold: u32,
}

impl Probe {
    fn default_period() -> Duration {
        Duration::from_secs(10)
    }
    fn default_timeout() -> Duration {
        Duration::from_secs(1)
    }
    fn one() -> u32 {
        1
    }
    fn three() -> u32 {
        3
    }

    /// A probe with this action and Kubernetes' defaults (period 10 s, timeout 1 s,
    /// thresholds 1 and 3).
    pub fn new(check: ProbeAction) -> Self {
        Probe {
            check,
            initial_delay: Duration::ZERO,
            period: Self::default_period(),
            timeout: Self::default_timeout(),
            success_threshold: 1,
            failure_threshold: 3,
        }
    }

    /// Sets the period (builder style).
    pub fn every(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeAction {
    /// An HTTP GET answered with a status in 200..400.
    HttpGet {
        /// Port name or number.
        port: PortRef,
        /// Request path.
        #[serde(default = "ProbeAction::root")]
        path: String,
    },
    /// A TCP connection that opens.
    Tcp {
        /// Port name or number.
        port: PortRef,
    },
    /// A command that exits 0, run beside the container.
    Exec {
        /// The command and its arguments.
        command: Vec<String>,
    },
}

impl ProbeAction {
    fn root() -> String {
        "/".to_owned()
    }
}

/// A port named in the container's `ports`, or a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortRef {
    /// A port number.
    Number(u16),
    /// The name of one of the container's ports.
    Name(String),
}

/// What happens when a container exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RestartPolicy {
    /// Restart whatever the exit code.
    #[default]
    Always,
    /// Restart only after a non-zero exit.
    OnFailure,
    /// Never restart; the group completes.
    Never,
}

/// Where a group may run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Constraints on the attributes of the host (node, agent, hypervisor).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    /// Spread replicas over distinct values of this host attribute (anti-affinity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<String>,
}

/// A constraint on a host attribute, like `rack = a` or `zone != b`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// Attribute name (`rack`, `zone`, `hostname`, ...).
    pub attribute: String,
    /// How to compare.
    pub operator: ConstraintOp,
    /// Values to compare with (none for `Exists`/`DoesNotExist`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Comparison of a [`Constraint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstraintOp {
    /// Equal to the single value.
    Eq,
    /// Not equal to the single value.
    NotEq,
    /// One of the values.
    In,
    /// None of the values.
    NotIn,
    /// The attribute is present.
    Exists,
    /// The attribute is absent.
    DoesNotExist,
}

impl Constraint {
    /// Whether a host with these attributes satisfies the constraint.
    pub fn matches(&self, attributes: &BTreeMap<String, String>) -> bool {
        let v = attributes.get(&self.attribute);
        match self.operator {
            ConstraintOp::Eq | ConstraintOp::In => v.is_some_and(|v| self.values.contains(v)),
            ConstraintOp::NotEq | ConstraintOp::NotIn => v.is_none_or(|v| !self.values.contains(v)),
            ConstraintOp::Exists => v.is_some(),
            ConstraintOp::DoesNotExist => v.is_none(),
        }
    }
}

/// A template for the groups a Deployment or CronJob creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupTemplate {
    /// Labels given to every group made from the template.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Annotations given to every group made from the template.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub annotations: Labels,
    /// The group's spec.
    pub spec: ContainerGroupSpec,
}

/// Lifecycle phase of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GroupPhase {
    /// Accepted, not all containers started yet.
    #[default]
    Pending,
    /// All containers started; some may be restarting.
    Running,
    /// All containers exited 0 and will not restart.
    Succeeded,
    /// A container failed and will not restart.
    Failed,
    /// The backend lost track of the group (its host or engine is gone).
    Unknown,
}

impl GroupPhase {
    /// True for `Succeeded` and `Failed`: the group will not run again.
    pub fn is_terminal(self) -> bool {
        matches!(self, GroupPhase::Succeeded | GroupPhase::Failed)
    }
}

/// What a backend observed of a group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerGroupStatus {
    /// The group's phase.
    pub phase: GroupPhase,
    /// True when every container with a readiness check passes it and all are running.
    pub ready: bool,
    /// One entry per container, in spec order.
    #[serde(default)]
    pub containers: Vec<ContainerStatus>,
    /// Where each named port can be reached.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// Conditions such as `Ready` and `Scheduled`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Human-readable detail of the phase (an engine's fault message, for example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The host (node, agent, server) the group runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl ContainerGroupStatus {
    /// The endpoint of the named port, if any.
    pub fn endpoint(&self, port_name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.port_name == port_name)
    }

    /// The status of the named container, if any.
    pub fn container(&self, name: &str) -> Option<&ContainerStatus> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// What a backend observed of one container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerStatus {
    /// The container's name.
    pub name: String,
    /// Its current state.
    pub state: ContainerState,
    /// Whether its readiness check passes (true when it has none and is running).
    pub ready: bool,
    /// How often it was restarted.
    pub restart_count: u32,
    /// How its previous run ended, after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_termination: Option<Termination>,
}

/// State of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    /// Not started yet, or waiting to restart.
    Waiting {
        /// Why it waits.
        reason: String,
    },
    /// Running.
    Running {
        /// When it started.
        started_at: jiff::Timestamp,
    },
    /// Exited.
    Terminated(Termination),
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState::Waiting {
            reason: "Pending".to_owned(),
        }
    }
}

/// How a container run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Termination {
    /// Exit code, when it exited by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Signal number, when a signal ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Short reason (`Completed`, `Error`, `Killed`, `Lost`).
    pub reason: String,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<jiff::Timestamp>,
}

/// Where a named port of a running group can be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The container that declares the port.
    pub container: String,
    /// The port's name.
    pub port_name: String,
    /// Host name or IP address.
    pub address: String,
    /// Port number at that address.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.address, self.port)
    }
}

/// A condition of an object, as Kubernetes reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Condition type (`Ready`, `Progressing`, `Available`, ...).
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether it holds.
    pub status: bool,
    /// Machine-readable reason (`ProgressDeadlineExceeded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When `status` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition: Option<jiff::Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_env_values() {
        let c = Container::new("app", "busybox", &["sh"]).with_env("TOKEN", "hunter2-sentinel");
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2-sentinel"), "{printed}");
        assert!(printed.contains("TOKEN"));
    }

    #[test]
    fn port_env_name_is_upper_snake_case() {
        let c = Container::new("app", "img", &[]).with_port("http-alt", None);
        assert_eq!(c.ports[0].env_name(), "PORT_HTTP_ALT");
    }

    #[test]
    fn constraints_match_host_attributes() {
        let attrs: BTreeMap<String, String> = [("rack".to_string(), "a".to_string())].into();
        let c = |op, vals: &[&str]| Constraint {
            attribute: "rack".into(),
            operator: op,
            values: vals.iter().map(|s| s.to_string()).collect(),
        };
        assert!(c(ConstraintOp::Eq, &["a"]).matches(&attrs));
        assert!(!c(ConstraintOp::NotEq, &["a"]).matches(&attrs));
        assert!(c(ConstraintOp::NotIn, &["b", "c"]).matches(&attrs));
        assert!(c(ConstraintOp::Exists, &[]).matches(&attrs));
        assert!(!c(ConstraintOp::DoesNotExist, &[]).matches(&attrs));
        assert!(!c(ConstraintOp::Eq, &["a"]).matches(&BTreeMap::new()));
    }
}
