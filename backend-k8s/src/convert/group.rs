//! ContainerGroup ⇄ Pod.
//!
//! Choices where Kubernetes and tars differ:
//!
//! - A port without a `container_port` is refused with `Error::Invalid` on its
//!   `container_port` path: pods do not share the host network, so there is no free host port
//!   to pick, and Kubernetes needs the number.
//! - Durations are whole seconds in Kubernetes: probe delays, periods and timeouts and the
//!   termination grace period are rounded up (a period or timeout to at least one second).
//! - Placement attributes are node labels; `hostname`, `zone` and `region` stand for the
//!   well-known `kubernetes.io/hostname`, `topology.kubernetes.io/zone` and
//!   `topology.kubernetes.io/region`, any other attribute is used as the label key itself. A key
//!   or value Kubernetes does not accept as a label is `Unsupported` naming its field.
//! - Spread is required pod anti-affinity over the spread attribute, selecting the pods that
//!   carry the labels given to [`pod_spec_with_labels`]: the pod's own labels for a group, the
//!   deployment's selector labels for its replicas, the job labels for a cron job's runs.
//!   [`pod_spec`] has no labels to select with and refuses a spread (`Unsupported`) rather than
//!   send an anti-affinity that matches nothing or everything.
//! - The group read back has the labels the pod has, ownership labels included (so that
//!   `ObjectMeta::is_owned_by` holds, as on every backend).
//! - Endpoints are listed while the pod is ready and has an IP (readiness gates endpoints, as
//!   on the local backend): one per declared port, at the pod IP.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container as K8sContainer, ContainerPort, ContainerState as K8sState,
    ContainerStateTerminated, EnvVar as K8sEnv, EnvVarSource, ExecAction, HTTPGetAction,
    NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinityTerm,
    PodAntiAffinity, PodCondition, PodSpec, Probe as K8sProbe, ResourceRequirements,
    SecretKeySelector, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tars_api::group::{
    Condition, ConstraintOp, ContainerState, ContainerStatus, Endpoint, Placement, PortRef,
    Protocol, PullPolicy, Termination,
};
use tars_api::meta::Kind;
use tars_api::{
    Container, ContainerGroup, ContainerGroupSpec, ContainerGroupStatus, Error, Feature,
    GroupPhase, Probe, ProbeAction, RestartPolicy, Result,
};

use super::{Stamp, i32_of, secs_ceil, secs_ceil_i32, timestamp, unsupported};

/// The pod of a group: metadata from [`super::k8s_meta`] (spec annotation, generation
/// annotation from `group.metadata.generation`), spec from [`pod_spec_with_labels`] with the
/// pod's own labels (what a spread keeps apart).
pub(crate) fn pod(group: &ContainerGroup, stamp: &Stamp) -> Result<Pod> {
    let metadata = super::k8s_meta(
        &group.metadata,
        stamp,
        super::spec_json(&group.spec)?,
        group.metadata.generation,
    );
    let labels = metadata.labels.clone().unwrap_or_default();
    Ok(Pod {
        metadata,
        spec: Some(pod_spec_at(&group.spec, "spec", &labels)?),
        status: None,
    })
}

/// The pod spec of a group spec (shared by pods, deployment and job templates). Anything
/// Kubernetes cannot express → `Error::Unsupported` naming the field. A spread needs the
/// labels of the pods to keep apart: use [`pod_spec_with_labels`]; here it is `Unsupported`.
#[cfg(test)]
pub(crate) fn pod_spec(spec: &ContainerGroupSpec) -> Result<PodSpec> {
    pod_spec_at(spec, "spec", &BTreeMap::new())
}

/// [`pod_spec`], with a spread rendered as required pod anti-affinity against the pods carrying
/// `labels` (the labels of the pods made from this spec).
#[cfg(test)]
pub(crate) fn pod_spec_with_labels(
    spec: &ContainerGroupSpec,
    labels: &BTreeMap<String, String>,
) -> Result<PodSpec> {
    pod_spec_at(spec, "spec", labels)
}

/// The pod spec of a group spec (pods, deployment and job templates), with a spread rendered
/// as required pod anti-affinity against the pods carrying `labels`, for a group spec at field
/// path `path` (`spec`,
/// `spec.template.spec`), which errors name.
pub(crate) fn pod_spec_at(
    spec: &ContainerGroupSpec,
    path: &str,
    labels: &BTreeMap<String, String>,
) -> Result<PodSpec> {
    let containers = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| container(c, &format!("{path}.containers[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    let restart_policy = match spec.restart_policy {
        RestartPolicy::Always => "Always",
        RestartPolicy::OnFailure => "OnFailure",
        RestartPolicy::Never => "Never",
    };
    Ok(PodSpec {
        containers,
        restart_policy: Some(restart_policy.to_owned()),
        termination_grace_period_seconds: Some(secs_ceil(spec.termination_grace_period)),
        affinity: affinity(&spec.placement, &format!("{path}.placement"), labels)?,
        ..Default::default()
    })
}

fn container(c: &Container, path: &str) -> Result<K8sContainer> {
    let env = c
        .env
        .iter()
        .map(|e| K8sEnv {
            name: e.name.clone(),
            value: e.value.clone(),
            value_from: e.secret.as_ref().map(|s| EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: s.name.clone(),
                    key: s.key.clone(),
                    optional: None,
                }),
                ..Default::default()
            }),
        })
        .collect::<Vec<_>>();
    let ports = c
        .ports
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let number = p.container_port.ok_or_else(|| {
                Error::invalid(
                    format!("{path}.ports[{k}].container_port"),
                    "Kubernetes needs a port number: pods do not share the host network, \
                     so no free host port can be picked for them",
                )
            })?;
            Ok(ContainerPort {
                container_port: i32::from(number),
                name: Some(p.name.clone()),
                protocol: Some(protocol(p.protocol).to_owned()),
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut quantities = BTreeMap::new();
    if let Some(cpu) = c.resources.cpu {
        quantities.insert("cpu".to_owned(), Quantity(format!("{}m", cpu.as_millis())));
    }
    if let Some(memory) = c.resources.memory {
        quantities.insert("memory".to_owned(), Quantity(memory.as_bytes().to_string()));
    }
    let resources = (!quantities.is_empty()).then(|| ResourceRequirements {
        limits: Some(quantities.clone()),
        requests: Some(quantities),
        ..Default::default()
    });
    let pull = match c.image_pull_policy {
        PullPolicy::IfNotPresent => "IfNotPresent",
        PullPolicy::Always => "Always",
        PullPolicy::Never => "Never",
    };
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    Ok(K8sContainer {
        name: c.name.clone(),
        image: Some(c.image.clone()),
        image_pull_policy: Some(pull.to_owned()),
        command: non_empty(&c.command),
        args: non_empty(&c.args),
        env: (!env.is_empty()).then_some(env),
        working_dir: c.working_dir.clone(),
        ports: (!ports.is_empty()).then_some(ports),
        resources,
        readiness_probe: c.readiness.as_ref().map(probe),
        liveness_probe: c.liveness.as_ref().map(probe),
        ..Default::default()
    })
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}

fn port_ref(p: &PortRef) -> IntOrString {
    match p {
        PortRef::Number(n) => IntOrString::Int(i32::from(*n)),
        PortRef::Name(name) => IntOrString::String(name.clone()),
    }
}

fn probe(p: &Probe) -> K8sProbe {
    let mut out = K8sProbe {
        initial_delay_seconds: Some(secs_ceil_i32(p.initial_delay)),
        period_seconds: Some(secs_ceil_i32(p.period).max(1)),
        timeout_seconds: Some(secs_ceil_i32(p.timeout).max(1)),
        success_threshold: Some(i32_of(p.success_threshold)),
        failure_threshold: Some(i32_of(p.failure_threshold)),
        ..Default::default()
    };
    match &p.check {
        ProbeAction::HttpGet { port, path } => {
            out.http_get = Some(HTTPGetAction {
                path: Some(path.clone()),
                port: port_ref(port),
                ..Default::default()
            });
        }
        ProbeAction::Tcp { port } => {
            out.tcp_socket = Some(TCPSocketAction {
                port: port_ref(port),
                host: None,
            });
        }
        ProbeAction::Exec { command } => {
            out.exec = Some(ExecAction {
                command: Some(command.clone()),
            });
        }
    }
    out
}

/// The node label a placement attribute stands for.
pub(crate) fn node_label(attribute: &str) -> &str {
    match attribute {
        "hostname" => "kubernetes.io/hostname",
        "zone" => "topology.kubernetes.io/zone",
        "region" => "topology.kubernetes.io/region",
        "os" => "kubernetes.io/os",
        "arch" => "kubernetes.io/arch",
        other => other,
    }
}

/// Whether `s` is a Kubernetes label name or value part: at most 63 characters of
/// alphanumerics, `-`, `_` and `.`, beginning and ending with an alphanumeric (a value may be
/// empty).
fn label_segment(s: &str, may_be_empty: bool) -> bool {
    if s.is_empty() {
        return may_be_empty;
    }
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.len() <= 63
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars()
            .all(|c| alnum(c) || c == '-' || c == '_' || c == '.')
}

/// Whether `key` is a Kubernetes label key: `[prefix/]name`, the prefix a DNS subdomain.
fn label_key(key: &str) -> bool {
    match key.split_once('/') {
        None => label_segment(key, false),
        Some((prefix, name)) => {
            let dns = prefix.len() <= 253
                && prefix.split('.').all(|part| {
                    !part.is_empty()
                        && part.len() <= 63
                        && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                        && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                });
            dns && label_segment(name, false)
        }
    }
}

fn affinity(
    placement: &Placement,
    path: &str,
    labels: &BTreeMap<String, String>,
) -> Result<Option<Affinity>> {
    let mut requirements = Vec::new();
    for (i, c) in placement.constraints.iter().enumerate() {
        let at = format!("{path}.constraints[{i}]");
        let key = node_label(&c.attribute);
        if !label_key(key) {
            return Err(unsupported(
                Feature::PlacementConstraints,
                &format!("{at}.attribute"),
                &format!("{key:?} is not a Kubernetes node label key"),
            ));
        }
        for (j, v) in c.values.iter().enumerate() {
            if !label_segment(v, true) {
                return Err(unsupported(
                    Feature::PlacementConstraints,
                    &format!("{at}.values[{j}]"),
                    &format!(
                        "{v:?} is not a Kubernetes label value (at most 63 letters, digits, \
                         '-', '_' and '.', alphanumeric at both ends)"
                    ),
                ));
            }
        }
        let operator = match c.operator {
            ConstraintOp::Eq | ConstraintOp::In => "In",
            ConstraintOp::NotEq | ConstraintOp::NotIn => "NotIn",
            ConstraintOp::Exists => "Exists",
            ConstraintOp::DoesNotExist => "DoesNotExist",
        };
        requirements.push(NodeSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: (!c.values.is_empty()).then(|| c.values.clone()),
        });
    }
    let node_affinity = (!requirements.is_empty()).then(|| NodeAffinity {
        required_during_scheduling_ignored_during_execution: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(requirements),
                match_fields: None,
            }],
        }),
        ..Default::default()
    });
    let pod_anti_affinity = match &placement.spread {
        None => None,
        Some(attribute) => {
            let at = format!("{path}.spread");
            if labels.is_empty() {
                return Err(unsupported(
                    Feature::Spread,
                    &at,
                    "a spread needs the labels of the pods to keep apart, and none were given",
                ));
            }
            let key = node_label(attribute);
            if !label_key(key) {
                return Err(unsupported(
                    Feature::Spread,
                    &at,
                    &format!("{key:?} is not a Kubernetes node label key"),
                ));
            }
            Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                    label_selector: Some(LabelSelector {
                        match_labels: Some(labels.clone()),
                        match_expressions: None,
                    }),
                    topology_key: key.to_owned(),
                    ..Default::default()
                }]),
                ..Default::default()
            })
        }
    };
    if node_affinity.is_none() && pod_anti_affinity.is_none() {
        return Ok(None);
    }
    Ok(Some(Affinity {
        node_affinity,
        pod_anti_affinity,
        ..Default::default()
    }))
}

/// The group a pod shows: metadata from [`super::object_meta`], spec from the spec
/// annotation, status from the pod's status.
pub(crate) fn group_from_pod(pod: &Pod) -> Result<ContainerGroup> {
    let spec: ContainerGroupSpec = super::spec_of(Kind::ContainerGroup, &pod.metadata)?;
    let status = group_status(&spec, pod);
    Ok(ContainerGroup {
        metadata: super::object_meta(&pod.metadata),
        spec,
        status: Some(status),
    })
}

fn group_status(spec: &ContainerGroupSpec, pod: &Pod) -> ContainerGroupStatus {
    let Some(s) = pod.status.as_ref() else {
        return ContainerGroupStatus::default();
    };
    let phase = match s.phase.as_deref() {
        Some("Running") => GroupPhase::Running,
        Some("Succeeded") => GroupPhase::Succeeded,
        Some("Failed") => GroupPhase::Failed,
        Some("Unknown") => GroupPhase::Unknown,
        _ => GroupPhase::Pending,
    };
    let pod_conditions: &[PodCondition] = s.conditions.as_deref().unwrap_or_default();
    let ready = phase == GroupPhase::Running
        && pod_conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
    let statuses = s.container_statuses.as_deref().unwrap_or_default();
    let containers = spec
        .containers
        .iter()
        .map(|c| match statuses.iter().find(|cs| cs.name == c.name) {
            None => ContainerStatus {
                name: c.name.clone(),
                ..Default::default()
            },
            Some(cs) => ContainerStatus {
                name: c.name.clone(),
                state: container_state(cs.state.as_ref()),
                ready: cs.ready,
                restart_count: u32::try_from(cs.restart_count).unwrap_or(0),
                last_termination: cs
                    .last_state
                    .as_ref()
                    .and_then(|l| l.terminated.as_ref())
                    .map(termination),
            },
        })
        .collect();
    let endpoints = match (&s.pod_ip, ready) {
        (Some(ip), true) if !ip.is_empty() => spec
            .containers
            .iter()
            .flat_map(|c| {
                c.ports.iter().filter_map(move |p| {
                    p.container_port.map(|port| Endpoint {
                        container: c.name.clone(),
                        port_name: p.name.clone(),
                        address: ip.clone(),
                        port,
                    })
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    let conditions = pod_conditions
        .iter()
        .map(|c| Condition {
            type_: c.type_.clone(),
            status: c.status == "True",
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_transition: timestamp(c.last_transition_time.as_ref()),
        })
        .collect();
    ContainerGroupStatus {
        phase,
        ready,
        containers,
        endpoints,
        conditions,
        message: s.message.clone().or_else(|| s.reason.clone()),
        host: pod.spec.as_ref().and_then(|p| p.node_name.clone()),
    }
}

fn container_state(state: Option<&K8sState>) -> ContainerState {
    let Some(state) = state else {
        return ContainerState::default();
    };
    if let Some(t) = &state.terminated {
        return ContainerState::Terminated(termination(t));
    }
    if let Some(r) = &state.running
        && let Some(started_at) = timestamp(r.started_at.as_ref())
    {
        return ContainerState::Running { started_at };
    }
    let reason = state
        .waiting
        .as_ref()
        .and_then(|w| w.reason.clone())
        .unwrap_or_else(|| "Pending".to_owned());
    ContainerState::Waiting { reason }
}

fn termination(t: &ContainerStateTerminated) -> Termination {
    Termination {
        exit_code: Some(t.exit_code),
        signal: t.signal,
        reason: t.reason.clone().unwrap_or_else(|| {
            if t.exit_code == 0 {
                "Completed".to_owned()
            } else {
                "Error".to_owned()
            }
        }),
        finished_at: timestamp(t.finished_at.as_ref()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use tars_api::group::{Constraint, EnvVar, Port, Resources, SecretRef};
    use tars_api::{Cpu, Memory};

    use super::*;

    pub(crate) fn stamp() -> Stamp {
        Stamp {
            instance: "test".into(),
            namespace: "ns".into(),
        }
    }

    /// A group using every field: two containers, probes of all three kinds, a secret,
    /// resources, constraints and a spread.
    pub(crate) fn full_spec() -> ContainerGroupSpec {
        let mut web = Container::new("web", "nginx:1.27", &["nginx", "-g", "daemon off;"])
            .with_port("http", Some(8080))
            .with_env("MODE", "prod")
            .with_readiness(
                Probe::new(ProbeAction::HttpGet {
                    port: PortRef::Name("http".into()),
                    path: "/healthz".into(),
                })
                .every(Duration::from_millis(2500)),
            );
        web.env.push(EnvVar::from_secret(
            "TOKEN",
            SecretRef {
                name: "api".into(),
                key: "token".into(),
            },
        ));
        web.args = vec!["--verbose".into()];
        web.working_dir = Some("/srv".into());
        web.image_pull_policy = PullPolicy::Always;
        web.resources = Resources {
            cpu: Some(Cpu::millis(250)),
            memory: Some(Memory::mebibytes(64)),
        };
        web.liveness = Some(Probe::new(ProbeAction::Tcp {
            port: PortRef::Number(8080),
        }));
        let mut side = Container::new("side", "busybox:1.36", &["sleep", "3600"]);
        side.ports.push(Port {
            name: "metrics".into(),
            container_port: Some(9100),
            protocol: Protocol::Udp,
        });
        side.readiness = Some(Probe::new(ProbeAction::Exec {
            command: vec!["true".into()],
        }));
        let mut spec = ContainerGroupSpec::new(vec![web, side]);
        spec.termination_grace_period = Duration::from_millis(1500);
        spec.placement = Placement {
            constraints: vec![
                Constraint {
                    attribute: "zone".into(),
                    operator: ConstraintOp::Eq,
                    values: vec!["eu-1a".into()],
                },
                Constraint {
                    attribute: "rack".into(),
                    operator: ConstraintOp::NotIn,
                    values: vec!["r1".into(), "r2".into()],
                },
                Constraint {
                    attribute: "gpu".into(),
                    operator: ConstraintOp::Exists,
                    values: vec![],
                },
            ],
            spread: Some("hostname".into()),
        };
        spec
    }

    pub(crate) fn full_group() -> ContainerGroup {
        let mut g = ContainerGroup::new("web-1", full_spec()).with_label("app", "web");
        g.metadata
            .annotations
            .insert("team".into(), "platform".into());
        g.metadata.generation = Some(3);
        g
    }

    #[test]
    fn a_pod_reads_back_as_the_same_group() {
        let g = full_group();
        let pod = pod(&g, &stamp()).expect("renders");
        assert_eq!(pod.metadata.namespace.as_deref(), Some("ns"));
        let back = group_from_pod(&pod).expect("reads back");
        assert_eq!(back.spec, g.spec);
        assert_eq!(back.metadata.name, "web-1");
        assert_eq!(back.metadata.generation, Some(3));
        assert_eq!(back.metadata.annotations, g.metadata.annotations);
        assert_eq!(
            back.metadata.labels.get("app").map(String::as_str),
            Some("web")
        );
        assert!(back.metadata.is_owned_by("test"), "ownership labels stay");
        // A pod that has not been scheduled yet is pending, not ready, without endpoints.
        let status = back.status.expect("status");
        assert_eq!(status.phase, GroupPhase::Pending);
        assert!(!status.ready && status.endpoints.is_empty());
    }

    #[test]
    fn the_pod_spec_carries_every_field() {
        let g = full_group();
        let spec = pod(&g, &stamp()).expect("renders").spec.expect("spec");
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.termination_grace_period_seconds, Some(2));
        let web = &spec.containers[0];
        assert_eq!(web.image.as_deref(), Some("nginx:1.27"));
        assert_eq!(web.image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(web.args.as_deref(), Some(&["--verbose".to_owned()][..]));
        assert_eq!(web.working_dir.as_deref(), Some("/srv"));
        let ports = web.ports.as_ref().expect("ports");
        assert_eq!(ports[0].container_port, 8080);
        assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
        let side_ports = spec.containers[1].ports.as_ref().expect("ports");
        assert_eq!(side_ports[0].protocol.as_deref(), Some("UDP"));
        let res = web.resources.as_ref().expect("resources");
        for q in [&res.limits, &res.requests] {
            let q = q.as_ref().expect("quantities");
            assert_eq!(q["cpu"], Quantity("250m".into()));
            assert_eq!(q["memory"], Quantity("67108864".into()));
        }
        let readiness = web.readiness_probe.as_ref().expect("readiness");
        let http = readiness.http_get.as_ref().expect("http");
        assert_eq!(http.port, IntOrString::String("http".into()));
        assert_eq!(http.path.as_deref(), Some("/healthz"));
        assert_eq!(readiness.period_seconds, Some(3), "2.5 s rounds up");
        assert_eq!(readiness.timeout_seconds, Some(1));
        assert_eq!(readiness.failure_threshold, Some(3));
        let liveness = web.liveness_probe.as_ref().expect("liveness");
        assert_eq!(
            liveness.tcp_socket.as_ref().map(|t| &t.port),
            Some(&IntOrString::Int(8080))
        );
        let exec = spec.containers[1].readiness_probe.as_ref().expect("exec");
        assert!(exec.exec.is_some());
        let affinity = spec.affinity.expect("affinity");
        let terms = affinity
            .node_affinity
            .and_then(|n| n.required_during_scheduling_ignored_during_execution)
            .expect("node affinity")
            .node_selector_terms;
        let exprs = terms[0].match_expressions.as_ref().expect("expressions");
        let ops: Vec<(&str, &str)> = exprs
            .iter()
            .map(|e| (e.key.as_str(), e.operator.as_str()))
            .collect();
        assert_eq!(
            ops,
            [
                ("topology.kubernetes.io/zone", "In"),
                ("rack", "NotIn"),
                ("gpu", "Exists")
            ]
        );
        assert_eq!(exprs[2].values, None);
        let anti = affinity
            .pod_anti_affinity
            .and_then(|a| a.required_during_scheduling_ignored_during_execution)
            .expect("anti-affinity");
        assert_eq!(anti[0].topology_key, "kubernetes.io/hostname");
        let selector = anti[0]
            .label_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .expect("selector");
        assert_eq!(selector.get("app").map(String::as_str), Some("web"));
        assert_eq!(
            selector.get("tars.dev/instance").map(String::as_str),
            Some("test")
        );
    }

    #[test]
    fn secrets_become_secret_key_refs_and_their_values_never_appear() {
        let spec = pod_spec_with_labels(&full_spec(), &[("a".into(), "b".into())].into())
            .expect("renders");
        let token = spec.containers[0]
            .env
            .as_ref()
            .and_then(|e| e.iter().find(|v| v.name == "TOKEN"))
            .expect("TOKEN");
        assert_eq!(token.value, None);
        let r = token
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
            .expect("secretKeyRef");
        assert_eq!((r.name.as_str(), r.key.as_str()), ("api", "token"));
        // The reference is all the pod holds: no resolved value anywhere in the object.
        let g = full_group();
        let json = serde_json::to_string(&pod(&g, &stamp()).expect("renders")).expect("json");
        assert!(json.contains("secretKeyRef"));
        assert!(!json.contains("hunter2"));
    }

    #[test]
    fn what_kubernetes_cannot_express_is_refused_naming_the_field() {
        let mut spec = full_spec();
        spec.containers[1].ports[0].container_port = None;
        let err = pod_spec_with_labels(&spec, &[("a".into(), "b".into())].into())
            .expect_err("no port number");
        assert_eq!(
            err.field(),
            Some("spec.containers[1].ports[0].container_port")
        );

        let err = pod_spec(&full_spec()).expect_err("spread without labels");
        assert!(
            matches!(&err, Error::Unsupported { feature: Feature::Spread, reason, .. }
                if reason.starts_with("spec.placement.spread:")),
            "{err}"
        );

        let mut spec = full_spec();
        spec.placement.constraints[1].values[0] = "not a label value!".into();
        let err =
            pod_spec_with_labels(&spec, &[("a".into(), "b".into())].into()).expect_err("bad value");
        assert!(
            matches!(&err, Error::Unsupported { feature: Feature::PlacementConstraints, reason, .. }
                if reason.starts_with("spec.placement.constraints[1].values[0]:")),
            "{err}"
        );

        let mut spec = full_spec();
        spec.placement.constraints[0].attribute = "Bad Key".into();
        let err =
            pod_spec_with_labels(&spec, &[("a".into(), "b".into())].into()).expect_err("bad key");
        assert!(
            err.to_string()
                .contains("spec.placement.constraints[0].attribute:")
        );
    }

    /// A pod as the API server returns it for a running, ready group.
    fn running_pod_json() -> serde_json::Value {
        let g = full_group();
        let sent = serde_json::to_value(pod(&g, &stamp()).expect("renders")).expect("json");
        let mut v = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-1",
                "namespace": "ns",
                "uid": "4f1c2a6e-0d3b-4a59-9a39-2b1f6f0f7c11",
                "resourceVersion": "48213",
                "creationTimestamp": "2026-11-26T10:00:00Z",
                "labels": sent["metadata"]["labels"],
                "annotations": sent["metadata"]["annotations"],
                "managedFields": []
            },
            "spec": sent["spec"],
            "status": {
                "phase": "Running",
                "hostIP": "10.0.0.7",
                "podIP": "10.244.1.23",
                "podIPs": [{"ip": "10.244.1.23"}],
                "qosClass": "Guaranteed",
                "startTime": "2026-11-26T10:00:01Z",
                "conditions": [
                    {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2026-11-26T10:00:03Z"},
                    {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-26T10:00:01Z"},
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-26T10:00:09Z"},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-11-26T10:00:09Z"},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-26T10:00:01Z"}
                ],
                "containerStatuses": [
                    {
                        "name": "side", "image": "busybox:1.36", "imageID": "docker.io/library/busybox@sha256:00",
                        "containerID": "containerd://bb", "ready": true, "started": true, "restartCount": 2,
                        "state": {"running": {"startedAt": "2026-11-26T10:00:05Z"}},
                        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                            "startedAt": "2026-11-26T10:00:02Z", "finishedAt": "2026-11-26T10:00:04Z",
                            "containerID": "containerd://aa"}}
                    },
                    {
                        "name": "web", "image": "nginx:1.27", "imageID": "docker.io/library/nginx@sha256:11",
                        "containerID": "containerd://cc", "ready": true, "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": "2026-11-26T10:00:03Z"}}
                    }
                ]
            }
        });
        // What the API server defaults and the admission plugins add.
        let spec = &mut v["spec"];
        spec["nodeName"] = "node-7".into();
        spec["dnsPolicy"] = "ClusterFirst".into();
        spec["enableServiceLinks"] = true.into();
        spec["preemptionPolicy"] = "PreemptLowerPriority".into();
        spec["priority"] = 0.into();
        spec["schedulerName"] = "default-scheduler".into();
        spec["securityContext"] = serde_json::json!({});
        spec["serviceAccount"] = "default".into();
        spec["serviceAccountName"] = "default".into();
        spec["tolerations"] = serde_json::json!([
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}
        ]);
        spec["volumes"] = serde_json::json!([{"name": "kube-api-access-7x2kq", "projected": {
            "defaultMode": 420,
            "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]
        }}]);
        for c in spec["containers"].as_array_mut().expect("containers") {
            c["terminationMessagePath"] = "/dev/termination-log".into();
            c["terminationMessagePolicy"] = "File".into();
            c["volumeMounts"] = serde_json::json!([{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "name": "kube-api-access-7x2kq", "readOnly": true}]);
        }
        v
    }

    #[test]
    fn a_running_pod_is_a_running_ready_group_with_endpoints() {
        let pod: Pod = serde_json::from_value(running_pod_json()).expect("a Pod");
        let g = group_from_pod(&pod).expect("reads");
        assert_eq!(g.spec, full_spec());
        assert_eq!(
            g.metadata.uid.as_deref(),
            Some("4f1c2a6e-0d3b-4a59-9a39-2b1f6f0f7c11")
        );
        assert_eq!(g.metadata.resource_version.as_deref(), Some("48213"));
        assert!(g.metadata.created_at.is_some());
        let s = g.status.expect("status");
        assert_eq!(s.phase, GroupPhase::Running);
        assert!(s.ready);
        assert_eq!(s.host.as_deref(), Some("node-7"));
        let names: Vec<&str> = s.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["web", "side"], "spec order");
        let side = s.container("side").expect("side");
        assert_eq!(side.restart_count, 2);
        assert!(matches!(side.state, ContainerState::Running { .. }));
        let last = side.last_termination.as_ref().expect("last termination");
        assert_eq!(
            (last.exit_code, last.reason.as_str()),
            (Some(137), "OOMKilled")
        );
        assert_eq!(
            s.endpoint("http").map(ToString::to_string).as_deref(),
            Some("10.244.1.23:8080")
        );
        assert_eq!(
            s.endpoint("metrics").map(|e| e.container.as_str()),
            Some("side")
        );
        let ready = s
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .expect("Ready");
        assert!(ready.status && ready.last_transition.is_some());
        assert_eq!(s.conditions.len(), 5);
    }

    #[test]
    fn finished_and_waiting_pods_map_their_phase_and_states() {
        let mut v = running_pod_json();
        v["status"]["phase"] = "Failed".into();
        v["status"]["message"] = "Pod was evicted".into();
        v["status"]["conditions"][2]["status"] = "False".into();
        v["status"]["containerStatuses"][0]["state"] = serde_json::json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-26T11:00:00Z"}});
        v["status"]["containerStatuses"][1]["state"] =
            serde_json::json!({"waiting": {"reason": "CrashLoopBackOff"}});
        let pod: Pod = serde_json::from_value(v).expect("a Pod");
        let s = group_from_pod(&pod).expect("reads").status.expect("status");
        assert_eq!(s.phase, GroupPhase::Failed);
        assert!(!s.ready && s.endpoints.is_empty());
        assert_eq!(s.message.as_deref(), Some("Pod was evicted"));
        assert!(matches!(
            &s.container("side").expect("side").state,
            ContainerState::Terminated(t) if t.exit_code == Some(1) && t.finished_at.is_some()
        ));
        assert_eq!(
            s.container("web").expect("web").state,
            ContainerState::Waiting {
                reason: "CrashLoopBackOff".into()
            }
        );
    }

    #[test]
    fn a_pod_not_made_by_tars_is_an_error() {
        let pod = Pod::default();
        assert!(matches!(group_from_pod(&pod), Err(Error::Backend { .. })));
    }
}
