//! tars ⇄ Mesos, pure: a ContainerGroup becomes one `LAUNCH_GROUP` (one executor, one task per
//! container) on an offer; the tasks' labels carry tars' ownership stamp and the object itself, so
//! that a group can be rebuilt from the master's task list alone (after a tars restart); task
//! states become the group's status.

use std::collections::BTreeMap;

use tars_api::group::{
    Condition, ContainerState, ContainerStatus, Endpoint, GroupPhase, PortRef, Probe, ProbeAction,
    Termination,
};
use tars_api::meta::{INSTANCE_LABEL, Labels, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use tars_api::{Capabilities, ContainerGroup, ContainerGroupSpec, ContainerGroupStatus, Error};
use tars_api::{Feature, ObjectMeta, Result};

use crate::BACKEND;
use crate::v1::mesos::{
    AgentId, Attribute, CommandInfo, DurationInfo, Environment, EnvironmentVariable, ExecutorId,
    ExecutorInfo, ExecutorType, FrameworkId, Json, KillPolicy, Label, Offer, OfferOperation, Range,
    Resource, Task, TaskGroupInfo, TaskId, TaskInfo, TaskState, TaskStatus, TaskStatusReason,
    ValueType,
};

/// Label: the kind of the tars object a task belongs to.
pub const KIND_LABEL: &str = "tars.dev/kind";
/// Label: the name of the group a task belongs to.
pub const NAME_LABEL: &str = "tars.dev/name";
/// Label: the uid of the group's incarnation.
pub const UID_LABEL: &str = "tars.dev/uid";
/// Label: the group's generation the task runs.
pub const GENERATION_LABEL: &str = "tars.dev/generation";
/// Label: when the group was created (RFC 3339).
pub const CREATED_LABEL: &str = "tars.dev/created-at";
/// Label: the container the task runs.
pub const CONTAINER_LABEL: &str = "tars.dev/container";
/// Label: the user part of the object (labels, annotations, spec) as JSON.
pub const OBJECT_LABEL: &str = "tars.dev/object";
/// Label: the endpoints (ports taken from the offer) as JSON.
pub const ENDPOINTS_LABEL: &str = "tars.dev/endpoints";
/// Label: the run of the generation (0 first, one more after each restart per the policy).
pub const RUN_LABEL: &str = "tars.dev/run";
/// Label: the host name of the agent the task was launched on.
pub const HOST_LABEL: &str = "tars.dev/host";

/// Resources given to what the spec does not size: tasks without cpu/memory and the executor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    /// cpus of a container without `resources.cpu`.
    pub task_cpus: f64,
    /// mem (MiB) of a container without `resources.memory`.
    pub task_mem: f64,
    /// cpus of the tars executor.
    pub executor_cpus: f64,
    /// mem (MiB) of the tars executor.
    pub executor_mem: f64,
    /// disk (MiB) of the tars executor (the master refuses an executor without disk).
    pub executor_disk: f64,
}

impl Default for Sizing {
    fn default() -> Self {
        Sizing {
            task_cpus: 0.02,
            task_mem: 16.0,
            executor_cpus: 0.02,
            executor_mem: 32.0,
            executor_disk: 16.0,
        }
    }
}

/// What one incarnation of a group is called on Mesos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incarnation {
    /// The tars instance.
    pub instance: String,
    /// The group's name.
    pub name: String,
    /// The group's uid.
    pub uid: String,
    /// The generation launched.
    pub generation: u64,
    /// The run of that generation (restarts per the restart policy).
    pub run: u32,
}

impl Incarnation {
    /// Run `run` of `group` (whose metadata has uid and generation) for `instance`.
    pub fn of(instance: &str, meta: &ObjectMeta, run: u32) -> Self {
        Incarnation {
            instance: instance.to_owned(),
            name: meta.name.clone(),
            uid: meta.uid.clone().unwrap_or_default(),
            generation: meta.generation.unwrap_or(1),
            run,
        }
    }

    /// The executor's id: unique per incarnation, generation and run.
    pub fn executor_id(&self) -> ExecutorId {
        ExecutorId::new(format!(
            "tars.{}.{}.{}.g{}.r{}",
            self.instance, self.name, self.uid, self.generation, self.run
        ))
    }

    /// The task id of `container`.
    pub fn task_id(&self, container: &str) -> TaskId {
        TaskId::new(format!("{}.{container}", self.executor_id().value))
    }
}

/// What a group asks of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// cpus, executor included.
    pub cpus: f64,
    /// mem (MiB), executor included.
    pub mem: f64,
    /// disk (MiB).
    pub disk: f64,
    /// Number of ports.
    pub ports: usize,
}

fn task_cpus(c: &tars_api::Container, sizing: &Sizing) -> f64 {
    c.resources
        .cpu
        .map_or(sizing.task_cpus, |cpu| f64::from(cpu.as_millis()) / 1000.0)
}

fn task_mem(c: &tars_api::Container, sizing: &Sizing) -> f64 {
    c.resources
        .memory
        .map_or(sizing.task_mem, |m| (m.0 as f64 / (1024.0 * 1024.0)).ceil())
}

/// The resources `spec` needs on one agent.
pub fn demand(spec: &ContainerGroupSpec, sizing: &Sizing) -> Demand {
    Demand {
        cpus: sizing.executor_cpus
            + spec
                .containers
                .iter()
                .map(|c| task_cpus(c, sizing))
                .sum::<f64>(),
        mem: sizing.executor_mem
            + spec
                .containers
                .iter()
                .map(|c| task_mem(c, sizing))
                .sum::<f64>(),
        disk: sizing.executor_disk,
        ports: spec.containers.iter().map(|c| c.ports.len()).sum(),
    }
}

/// An agent's resources (an offer's, or its total) and attributes, as tars matches them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Host {
    /// cpus.
    pub cpus: f64,
    /// mem (MiB).
    pub mem: f64,
    /// disk (MiB).
    pub disk: f64,
    /// Port ranges.
    pub ports: Vec<Range>,
    /// Attributes, with `hostname` added when the agent does not define it.
    pub attributes: BTreeMap<String, String>,
}

/// An attribute's value as text: text as is, scalars as numbers, sets and ranges joined by `,`.
fn attribute_text(a: &Attribute) -> String {
    match a.kind {
        ValueType::Text => a.text.as_ref().map(|t| t.value.clone()).unwrap_or_default(),
        ValueType::Scalar => a.scalar.map(|s| s.value.to_string()).unwrap_or_default(),
        ValueType::Set => a.set.as_ref().map(|s| s.item.join(",")).unwrap_or_default(),
        ValueType::Ranges => a
            .ranges
            .as_ref()
            .map(|r| {
                r.range
                    .iter()
                    .map(|r| format!("{}-{}", r.begin, r.end))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
    }
}

impl Host {
    /// Sums `resources` (unreserved and reserved alike: tars subscribes with one role) and
    /// takes the attributes.
    pub fn new(hostname: &str, resources: &[Resource], attributes: &[Attribute]) -> Self {
        let mut host = Host::default();
        for r in resources {
            let scalar = r.scalar.map_or(0.0, |s| s.value);
            match r.name.as_str() {
                "cpus" => host.cpus += scalar,
                "mem" => host.mem += scalar,
                "disk" => host.disk += scalar,
                "ports" => {
                    if let Some(ranges) = &r.ranges {
                        host.ports.extend(ranges.range.iter().cloned());
                    }
                }
                _ => {}
            }
        }
        for a in attributes {
            host.attributes.insert(a.name.clone(), attribute_text(a));
        }
        host.attributes
            .entry("hostname".to_owned())
            .or_insert_with(|| hostname.to_owned());
        host
    }

    /// Of an offer.
    pub fn of_offer(offer: &Offer) -> Self {
        Host::new(&offer.hostname, &offer.resources, &offer.attributes)
    }

    fn port_count(&self) -> u64 {
        self.ports
            .iter()
            .map(|r| r.end.saturating_sub(r.begin) + 1)
            .sum()
    }

    /// `Ok` when a group of `spec` fits here; else why not, naming the first shortfall.
    pub fn fits(
        &self,
        spec: &ContainerGroupSpec,
        sizing: &Sizing,
    ) -> std::result::Result<(), String> {
        for (i, c) in spec.placement.constraints.iter().enumerate() {
            if !c.matches(&self.attributes) {
                return Err(format!(
                    "spec.placement.constraints[{i}] ({} {:?} {:?}) does not hold for attributes {:?}",
                    c.attribute, c.operator, c.values, self.attributes
                ));
            }
        }
        let d = demand(spec, sizing);
        // Float sums of small fractions: compare with a tolerance.
        const EPS: f64 = 1e-6;
        if d.cpus > self.cpus + EPS {
            return Err(format!("needs {:.2} cpus, has {:.2}", d.cpus, self.cpus));
        }
        if d.mem > self.mem + EPS {
            return Err(format!("needs {} MiB of mem, has {}", d.mem, self.mem));
        }
        if d.disk > self.disk + EPS {
            return Err(format!("needs {} MiB of disk, has {}", d.disk, self.disk));
        }
        if d.ports as u64 > self.port_count() {
            return Err(format!(
                "needs {} ports, has {}",
                d.ports,
                self.port_count()
            ));
        }
        Ok(())
    }

    /// The first `n` ports of the ranges.
    pub fn take_ports(&self, n: usize) -> Vec<u16> {
        self.ports
            .iter()
            .flat_map(|r| r.begin..=r.end)
            .filter_map(|p| u16::try_from(p).ok())
            .take(n)
            .collect()
    }

    /// Takes `demand` and `ports` away (what is left for the next group of the same offer).
    pub fn consume(&mut self, demand: &Demand, ports: &[u16]) {
        self.cpus -= demand.cpus;
        self.mem -= demand.mem;
        self.disk -= demand.disk;
        let mut left = Vec::new();
        for r in &self.ports {
            let mut begin = r.begin;
            for p in r.begin..=r.end {
                if ports.contains(&u16::try_from(p).unwrap_or(0)) && p != 0 {
                    if begin < p {
                        left.push(Range { begin, end: p - 1 });
                    }
                    begin = p + 1;
                }
            }
            if begin <= r.end {
                left.push(Range { begin, end: r.end });
            }
        }
        self.ports = left;
    }
}

/// The labels stamped on every task of `group` (its metadata has uid, generation, created_at).
pub fn stamp(
    instance: &str,
    group: &ContainerGroup,
    container: &str,
    endpoints: &[Endpoint],
) -> Result<Vec<Label>> {
    let object = serde_json::json!({
        "labels": group.metadata.labels,
        "annotations": group.metadata.annotations,
        "spec": group.spec,
    });
    let mut labels = vec![
        (MANAGED_BY_LABEL, MANAGED_BY_VALUE.to_owned()),
        (INSTANCE_LABEL, instance.to_owned()),
        (KIND_LABEL, "ContainerGroup".to_owned()),
        (NAME_LABEL, group.metadata.name.clone()),
        (UID_LABEL, group.metadata.uid.clone().unwrap_or_default()),
        (
            GENERATION_LABEL,
            group.metadata.generation.unwrap_or(1).to_string(),
        ),
        (CONTAINER_LABEL, container.to_owned()),
        (OBJECT_LABEL, to_json(&object)?),
        (ENDPOINTS_LABEL, to_json(&endpoints)?),
    ];
    if let Some(t) = group.metadata.created_at {
        labels.push((CREATED_LABEL, t.to_string()));
    }
    Ok(labels
        .into_iter()
        .map(|(k, v)| Label {
            key: k.to_owned(),
            value: Some(v),
        })
        .collect())
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::backend(BACKEND, e))
}

fn seconds(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

fn probe_port(port: &PortRef, ports: &BTreeMap<String, u16>) -> Option<u16> {
    match port {
        PortRef::Number(n) => Some(*n),
        PortRef::Name(name) => ports.get(name).copied(),
    }
}

/// A probe as Mesos' `HealthCheck`, which the tars executor runs and reports in
/// `TaskStatus.healthy`; `consecutive_failures` failures in a row kill the task.
fn health_check(
    p: &Probe,
    ports: &BTreeMap<String, u16>,
    consecutive_failures: u32,
) -> Option<Json> {
    let mut check = match &p.check {
        ProbeAction::HttpGet { port, path } => serde_json::json!({
            "type": "HTTP",
            "http": {"port": probe_port(port, ports)?, "path": path, "scheme": "http"},
        }),
        ProbeAction::Tcp { port } => serde_json::json!({
            "type": "TCP", "tcp": {"port": probe_port(port, ports)?},
        }),
        ProbeAction::Exec { command } => serde_json::json!({
            "type": "COMMAND",
            "command": command_info(command, &[]),
        }),
    };
    let obj = check.as_object_mut()?;
    obj.insert("delay_seconds".into(), seconds(p.initial_delay).into());
    obj.insert(
        "grace_period_seconds".into(),
        seconds(p.initial_delay).into(),
    );
    obj.insert("interval_seconds".into(), seconds(p.period).into());
    obj.insert("timeout_seconds".into(), seconds(p.timeout).into());
    obj.insert("consecutive_failures".into(), consecutive_failures.into());
    Some(check)
}

/// A readiness probe as Mesos' general check (`CheckInfo`): the tars executor runs it and
/// reports each new result in `TaskStatus.check_status`; it never kills.
fn check_info(p: &Probe, ports: &BTreeMap<String, u16>) -> Option<Json> {
    let mut check = match &p.check {
        ProbeAction::HttpGet { port, path } => serde_json::json!({
            "type": "HTTP", "http": {"port": probe_port(port, ports)?, "path": path},
        }),
        ProbeAction::Tcp { port } => serde_json::json!({
            "type": "TCP", "tcp": {"port": probe_port(port, ports)?},
        }),
        ProbeAction::Exec { command } => serde_json::json!({
            "type": "COMMAND", "command": {"command": command_info(command, &[])},
        }),
    };
    let obj = check.as_object_mut()?;
    obj.insert("delay_seconds".into(), seconds(p.initial_delay).into());
    obj.insert("interval_seconds".into(), seconds(p.period).into());
    obj.insert("timeout_seconds".into(), seconds(p.timeout).into());
    Some(check)
}

fn command_info(command: &[String], args: &[String]) -> CommandInfo {
    let argv: Vec<String> = command.iter().chain(args).cloned().collect();
    CommandInfo {
        shell: Some(false),
        value: argv.first().cloned(),
        arguments: argv,
        ..Default::default()
    }
}

/// Refuses what this backend cannot run, before anything is sent (`Error::Unsupported`).
pub fn check_supported(spec: &ContainerGroupSpec, caps: &Capabilities) -> Result<()> {
    for c in &spec.containers {
        if c.command.is_empty() {
            caps.require(Feature::ImageEntrypoint, BACKEND)?;
        }
        if c.env.iter().any(|e| e.secret.is_some()) {
            caps.require(Feature::Secrets, BACKEND)?;
        }
        if c.resources.cpu.is_some() {
            caps.require(Feature::CpuLimits, BACKEND)?;
        }
        if c.resources.memory.is_some() {
            caps.require(Feature::MemoryLimits, BACKEND)?;
        }
    }
    if spec.placement.spread.is_some() {
        caps.require(Feature::Spread, BACKEND)?;
    }
    Ok(())
}

/// The `LAUNCH_GROUP` of `group` (metadata complete: uid, generation, created_at) on agent
/// `agent_id` (`hostname`) with `ports` taken from its offer, and the endpoints it will have.
/// The group must fit the offer ([`Host::fits`]).
#[allow(clippy::too_many_arguments)]
pub fn launch_group(
    instance: &str,
    framework_id: &FrameworkId,
    group: &ContainerGroup,
    agent_id: &AgentId,
    hostname: &str,
    ports: Vec<u16>,
    sizing: &Sizing,
    run: u32,
) -> Result<(OfferOperation, Vec<Endpoint>)> {
    let mut free = ports.into_iter();
    let mut endpoints = Vec::new();
    let mut ports_of: Vec<BTreeMap<String, u16>> = Vec::new();
    for c in &group.spec.containers {
        let mut mine = BTreeMap::new();
        for p in &c.ports {
            let port = free.next().ok_or_else(|| {
                Error::backend(
                    BACKEND,
                    format!("the offer of {hostname} has too few ports"),
                )
            })?;
            mine.insert(p.name.clone(), port);
            endpoints.push(Endpoint {
                container: c.name.clone(),
                port_name: p.name.clone(),
                address: hostname.to_owned(),
                port,
            });
        }
        ports_of.push(mine);
    }
    // Every port of the group is visible to every container (they share the host's network).
    let all_ports: BTreeMap<String, u16> = ports_of
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let inc = Incarnation::of(instance, &group.metadata, run);
    let grace = DurationInfo {
        nanoseconds: i64::try_from(group.spec.termination_grace_period.as_nanos())
            .unwrap_or(i64::MAX),
    };
    let mut tasks = Vec::new();
    for (c, mine) in group.spec.containers.iter().zip(&ports_of) {
        let mut env: Vec<EnvironmentVariable> = c
            .env
            .iter()
            .filter_map(|e| {
                e.value.as_ref().map(|v| EnvironmentVariable {
                    name: e.name.clone(),
                    kind: None,
                    value: Some(v.clone()),
                    secret: None,
                })
            })
            .collect();
        for p in group.spec.containers.iter().flat_map(|c| &c.ports) {
            if let Some(port) = all_ports.get(&p.name) {
                env.push(EnvironmentVariable {
                    name: p.env_name(),
                    kind: None,
                    value: Some(port.to_string()),
                    secret: None,
                });
            }
        }
        let mut command = command_info(&c.command, &c.args);
        command.environment = Some(Environment { variables: env });
        let mut resources = vec![
            Resource::scalar("cpus", task_cpus(c, sizing)),
            Resource::scalar("mem", task_mem(c, sizing)),
        ];
        if !mine.is_empty() {
            resources.push(Resource::ranges(
                "ports",
                mine.values()
                    .map(|p| Range {
                        begin: u64::from(*p),
                        end: u64::from(*p),
                    })
                    .collect(),
            ));
        }
        let mut labels = stamp(instance, group, &c.name, &endpoints)?;
        labels.push(Label {
            key: HOST_LABEL.to_owned(),
            value: Some(hostname.to_owned()),
        });
        labels.push(Label {
            key: RUN_LABEL.to_owned(),
            value: Some(run.to_string()),
        });
        if let Some(dir) = &c.working_dir {
            labels.push(Label {
                key: "tars.dev/working-dir".into(),
                value: Some(dir.clone()),
            });
        }
        tasks.push(TaskInfo {
            name: c.name.clone(),
            task_id: inc.task_id(&c.name),
            agent_id: agent_id.clone(),
            resources,
            executor: None,
            command: Some(command),
            container: None,
            health_check: c
                .liveness
                .as_ref()
                .and_then(|p| health_check(p, &all_ports, p.failure_threshold)),
            check: c.readiness.as_ref().and_then(|p| check_info(p, &all_ports)),
            kill_policy: Some(KillPolicy {
                grace_period: Some(grace),
            }),
            data: None,
            labels: Some(crate::v1::mesos::Labels { labels }),
            discovery: None,
            max_completion_time: None,
            limits: BTreeMap::new(),
        });
    }
    // `DEFAULT`: the agent starts `mesos-default-executor` from its launcher directory, which
    // is the tars executor there (scripts/engines/mesos); such an executor has no command.
    let executor = ExecutorInfo {
        kind: Some(ExecutorType::Default),
        executor_id: inc.executor_id(),
        framework_id: Some(framework_id.clone()),
        command: None,
        container: None,
        resources: vec![
            Resource::scalar("cpus", sizing.executor_cpus),
            Resource::scalar("mem", sizing.executor_mem),
            Resource::scalar("disk", sizing.executor_disk),
        ],
        name: Some(format!("tars {}", group.metadata.name)),
        source: None,
        data: None,
        discovery: None,
        shutdown_grace_period: Some(grace),
        labels: Some(crate::v1::mesos::Labels {
            labels: stamp(instance, group, "", &endpoints)?,
        }),
    };
    Ok((
        OfferOperation::launch_group(executor, TaskGroupInfo { tasks }),
        endpoints,
    ))
}

fn label<'a>(labels: &'a Option<crate::v1::mesos::Labels>, key: &str) -> Option<&'a str> {
    labels
        .as_ref()?
        .labels
        .iter()
        .find(|l| l.key == key)
        .and_then(|l| l.value.as_deref())
}

/// True when `labels` carry the stamp of tars instance `instance`.
pub fn owned(labels: &Option<crate::v1::mesos::Labels>, instance: &str) -> bool {
    label(labels, MANAGED_BY_LABEL) == Some(MANAGED_BY_VALUE)
        && label(labels, INSTANCE_LABEL) == Some(instance)
        && label(labels, KIND_LABEL) == Some("ContainerGroup")
}

/// The tars group name a task carries, if any (any instance).
pub fn group_name(task: &Task) -> Option<&str> {
    label(&task.labels, NAME_LABEL)
}

/// What the stamp of one task says about its group.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamped {
    /// The group (metadata with uid, generation, created_at; no status).
    pub group: ContainerGroup,
    /// The container this task runs.
    pub container: String,
    /// The group's endpoints.
    pub endpoints: Vec<Endpoint>,
    /// The agent's host name.
    pub host: String,
    /// The run (restarts) of the generation.
    pub run: u32,
}

/// Reads the stamp of a task of `instance`; `None` when it carries none (or another's).
pub fn stamped(task_labels: &Option<crate::v1::mesos::Labels>, instance: &str) -> Option<Stamped> {
    if !owned(task_labels, instance) {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct UserPart {
        #[serde(default)]
        labels: Labels,
        #[serde(default)]
        annotations: Labels,
        spec: ContainerGroupSpec,
    }
    let user: UserPart = serde_json::from_str(label(task_labels, OBJECT_LABEL)?).ok()?;
    let endpoints = label(task_labels, ENDPOINTS_LABEL)
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();
    let metadata = ObjectMeta {
        name: label(task_labels, NAME_LABEL)?.to_owned(),
        labels: user.labels,
        annotations: user.annotations,
        uid: Some(label(task_labels, UID_LABEL)?.to_owned()),
        generation: label(task_labels, GENERATION_LABEL)?.parse().ok(),
        resource_version: None,
        created_at: label(task_labels, CREATED_LABEL).and_then(|t| t.parse().ok()),
    };
    Some(Stamped {
        group: ContainerGroup {
            metadata,
            spec: user.spec,
            status: None,
        },
        container: label(task_labels, CONTAINER_LABEL)?.to_owned(),
        endpoints,
        host: label(task_labels, HOST_LABEL)
            .unwrap_or_default()
            .to_owned(),
        run: label(task_labels, RUN_LABEL)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
    })
}

/// What tars keeps of one task: its latest state and what the status history said.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    /// The task.
    pub task_id: TaskId,
    /// Its agent, once known.
    pub agent_id: Option<AgentId>,
    /// Latest state.
    pub state: TaskState,
    /// Latest `healthy` (liveness).
    pub healthy: Option<bool>,
    /// Latest readiness check result.
    pub check_ok: Option<bool>,
    /// Reason of the latest status.
    pub reason: Option<TaskStatusReason>,
    /// Message of the latest status.
    pub message: Option<String>,
    /// First `TASK_RUNNING` (seconds since the epoch).
    pub started_at: Option<f64>,
    /// First terminal status.
    pub finished_at: Option<f64>,
}

/// Whether a `CheckStatusInfo` (JSON) says the check passed (HTTP 2xx/3xx, TCP connected,
/// command exit 0).
fn check_passed(check: &Json) -> Option<bool> {
    if let Some(code) = check.pointer("/http/status_code").and_then(Json::as_u64) {
        return Some((200..400).contains(&code));
    }
    if let Some(ok) = check.pointer("/tcp/succeeded").and_then(Json::as_bool) {
        return Some(ok);
    }
    if let Some(code) = check.pointer("/command/exit_code").and_then(Json::as_i64) {
        return Some(code == 0);
    }
    // No result yet, or the check timed out or could not run.
    Some(false)
}

impl TaskView {
    /// A task launched and not heard of yet.
    pub fn staging(task_id: TaskId, agent_id: Option<AgentId>) -> Self {
        TaskView {
            task_id,
            agent_id,
            state: TaskState::TaskStaging,
            healthy: None,
            check_ok: None,
            reason: None,
            message: None,
            started_at: None,
            finished_at: None,
        }
    }

    /// Takes in a status update. Returns whether anything changed.
    pub fn observe(&mut self, s: &TaskStatus) -> bool {
        let before = self.clone();
        // A terminal task stays terminal (a late reconciliation answer cannot revive it).
        if self.state.is_terminal() && !s.state.is_terminal() {
            return false;
        }
        self.state = s.state;
        if s.agent_id.is_some() {
            self.agent_id = s.agent_id.clone();
        }
        if s.healthy.is_some() {
            self.healthy = s.healthy;
        }
        if let Some(c) = s.check_status.as_ref().and_then(check_passed) {
            self.check_ok = Some(c);
        }
        self.reason = s.reason;
        if s.message.is_some() || s.state.is_terminal() {
            self.message = s.message.clone();
        }
        if s.state == TaskState::TaskRunning && self.started_at.is_none() {
            self.started_at = s.timestamp;
        }
        if s.state.is_terminal() && self.finished_at.is_none() {
            self.finished_at = s.timestamp;
        }
        *self != before
    }

    /// From the master's task list (its status history, oldest first).
    pub fn from_task(t: &Task) -> Self {
        let mut v = TaskView::staging(t.task_id.clone(), Some(t.agent_id.clone()));
        let mut statuses = t.statuses.clone();
        statuses.sort_by(|a, b| {
            a.timestamp
                .partial_cmp(&b.timestamp)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for s in &statuses {
            v.observe(s);
        }
        if v.state != t.state && !v.state.is_terminal() {
            v.state = t.state;
        }
        v
    }
}

fn timestamp(seconds: Option<f64>) -> Option<jiff::Timestamp> {
    let s = seconds?;
    jiff::Timestamp::from_nanosecond((s * 1e9) as i128).ok()
}

fn state_name(s: TaskState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{s:?}"))
}

fn reason_text(v: &TaskView) -> String {
    let mut out = state_name(v.state);
    if let Some(r) = v.reason
        && let Some(name) = serde_json::to_value(r)
            .ok()
            .and_then(|j| j.as_str().map(str::to_owned))
    {
        out.push_str(&format!(" ({name})"));
    }
    if let Some(m) = v.message.as_deref().filter(|m| !m.is_empty()) {
        out.push_str(&format!(": {m}"));
    }
    out
}

/// The number after `marker` in `message` (`Command exited with status 3`).
fn number_after(message: &str, marker: &str) -> Option<i32> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// How a terminal task ended, with the exit code or signal the executor reported.
pub fn termination(t: &TaskView) -> Termination {
    let message = t.message.as_deref().unwrap_or_default();
    Termination {
        exit_code: if t.state == TaskState::TaskFinished {
            Some(0)
        } else {
            number_after(message, "exited with status")
        },
        signal: number_after(message, "terminated with signal"),
        reason: match t.state {
            TaskState::TaskFinished => "Completed".to_owned(),
            TaskState::TaskKilled => "Killed".to_owned(),
            TaskState::TaskLost | TaskState::TaskGone | TaskState::TaskGoneByOperator => {
                "Lost".to_owned()
            }
            _ => reason_text(t),
        },
        finished_at: timestamp(t.finished_at),
    }
}

/// How often a group was restarted per its policy, and how each container's last run ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restarts {
    /// Restarts so far (the run number).
    pub count: u32,
    /// Each container's termination in the previous run.
    pub last: BTreeMap<String, Termination>,
}

/// One container's status from its task.
pub fn container_status(
    name: &str,
    has_readiness: bool,
    task: Option<&TaskView>,
    restarts: &Restarts,
) -> ContainerStatus {
    let Some(t) = task else {
        return ContainerStatus {
            name: name.to_owned(),
            state: ContainerState::Waiting {
                reason: if restarts.count > 0 {
                    "BackOff".to_owned()
                } else {
                    "WaitingForOffer".to_owned()
                },
            },
            ready: false,
            restart_count: restarts.count,
            last_termination: restarts.last.get(name).cloned(),
        };
    };
    let state = match t.state {
        TaskState::TaskRunning => ContainerState::Running {
            started_at: timestamp(t.started_at).unwrap_or_default(),
        },
        s if s.is_terminal() => ContainerState::Terminated(termination(t)),
        s => ContainerState::Waiting {
            reason: state_name(s),
        },
    };
    let running = t.state == TaskState::TaskRunning;
    let ready = running && (!has_readiness || t.check_ok == Some(true)) && t.healthy != Some(false);
    ContainerStatus {
        name: name.to_owned(),
        state,
        ready,
        restart_count: restarts.count,
        last_termination: restarts.last.get(name).cloned(),
    }
}

/// Where a group is in its launch.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Waiting for an offer; `Some(reason)` when no agent could ever take it.
    Pending(Option<String>),
    /// Launched on an agent.
    Launched {
        /// The agent's host name.
        hostname: String,
        /// The endpoints.
        endpoints: Vec<Endpoint>,
    },
}

/// The status of a group from its placement and its tasks (by container name).
pub fn group_status(
    spec: &ContainerGroupSpec,
    placement: &Placement,
    tasks: &BTreeMap<String, TaskView>,
    restarts: &Restarts,
) -> ContainerGroupStatus {
    let containers: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| container_status(&c.name, c.readiness.is_some(), tasks.get(&c.name), restarts))
        .collect();
    let (hostname, endpoints) = match placement {
        // Between two runs (restart back-off) the group is running, its containers waiting.
        Placement::Pending(None) if restarts.count > 0 => {
            return ContainerGroupStatus {
                phase: GroupPhase::Running,
                ready: false,
                containers,
                endpoints: Vec::new(),
                conditions: Vec::new(),
                message: Some("restarting per the restart policy".to_owned()),
                host: None,
            };
        }
        Placement::Pending(reason) => {
            let condition = Condition {
                type_: "Scheduled".to_owned(),
                status: false,
                reason: Some(if reason.is_some() {
                    "Unschedulable".to_owned()
                } else {
                    "WaitingForOffer".to_owned()
                }),
                message: reason.clone(),
                last_transition: None,
            };
            return ContainerGroupStatus {
                phase: GroupPhase::Pending,
                ready: false,
                containers,
                endpoints: Vec::new(),
                conditions: vec![condition],
                message: reason.clone(),
                host: None,
            };
        }
        Placement::Launched {
            hostname,
            endpoints,
        } => (hostname, endpoints),
    };
    let views: Vec<&TaskView> = spec
        .containers
        .iter()
        .filter_map(|c| tasks.get(&c.name))
        .collect();
    let failed = views
        .iter()
        .find(|t| t.state.is_terminal() && t.state != TaskState::TaskFinished);
    let all_finished = views.len() == spec.containers.len()
        && views.iter().all(|t| t.state == TaskState::TaskFinished);
    let all_running = views.len() == spec.containers.len()
        && views
            .iter()
            .all(|t| matches!(t.state, TaskState::TaskRunning | TaskState::TaskFinished));
    let (phase, message) = if let Some(t) = failed {
        (GroupPhase::Failed, Some(reason_text(t)))
    } else if all_finished {
        (GroupPhase::Succeeded, None)
    } else if views.iter().any(|t| t.state == TaskState::TaskUnreachable) {
        (
            GroupPhase::Unknown,
            Some("the agent is unreachable".to_owned()),
        )
    } else if all_running {
        (GroupPhase::Running, None)
    } else {
        (GroupPhase::Pending, None)
    };
    let ready = phase == GroupPhase::Running && containers.iter().all(|c| c.ready);
    ContainerGroupStatus {
        phase,
        ready,
        containers,
        endpoints: if ready { endpoints.clone() } else { Vec::new() },
        conditions: vec![
            Condition {
                type_: "Scheduled".to_owned(),
                status: true,
                reason: None,
                message: None,
                last_transition: None,
            },
            Condition {
                type_: "Ready".to_owned(),
                status: ready,
                reason: None,
                message: None,
                last_transition: None,
            },
        ],
        message,
        host: Some(hostname.clone()),
    }
}

#[cfg(test)]
mod tests;
