//! Validation of everything a user hands to tars, before any call leaves the process.
//! Each error names the field path (`spec.template.containers[1].ports[0].container_port`).
//!
//! Every check walks the fields in declaration order and returns the first error found, as
//! [`Error::Invalid`] with the dotted path of the offending field (`[i]` for list items, the
//! key for a label: `metadata.labels.app`). Names follow Kubernetes' rules, so that every
//! backend can carry them unchanged:
//!
//! - object, container and parent names are DNS-1123 labels ([`name`]);
//! - label and annotation keys are qualified names with an optional DNS-1123 subdomain prefix
//!   ([`label_key`]), label values at most 63 characters ([`label_value`]);
//! - port names are IANA service names ([`port_name`]), environment variable names C
//!   identifiers ([`env_name`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use crate::cronjob::{CronJob, CronJobSpec};
use crate::deployment::{DeploymentSpec, IntOrPercent, Strategy};
use crate::error::{Error, Result};
use crate::group::{
    ConstraintOp, Container, ContainerGroupSpec, GroupTemplate, Placement, PortRef, Probe,
    ProbeAction, Protocol, RestartPolicy,
};
use crate::manifest::Manifest;
use crate::meta::{Kind, ObjectMeta};
use crate::schedule::{Schedule, parse_time_zone};

/// Most containers a group may have.
pub const MAX_CONTAINERS: usize = 64;
/// Most replicas a deployment may ask for.
pub const MAX_REPLICAS: u32 = 10_000;
/// Longest termination grace period of a group.
pub const MAX_TERMINATION_GRACE: Duration = Duration::from_secs(3600);
/// Largest total size of an object's annotations (keys and values), as in Kubernetes.
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;
/// Largest revision history and run history limits.
pub const MAX_HISTORY_LIMIT: u32 = 1000;
/// Most retries of a failed cron job run.
pub const MAX_RETRIES: u32 = 100;

type Reason = std::result::Result<(), String>;

fn at(path: impl Into<String>, reason: Reason) -> Result<()> {
    reason.map_err(|r| Error::invalid(path, r))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Checks that `name` is a DNS-1123 label (`path` names the field): 1 to 63 characters,
/// lower-case letters, digits and `-`, starting and ending with a letter or digit.
pub fn name(name: &str, path: &str) -> Result<()> {
    at(path, dns_label(name))
}

fn dns_label(s: &str) -> Reason {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let n = s.chars().count();
    if n > 63 {
        return Err(format!(
            "{s:?} is {n} characters long; at most 63 are allowed"
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "{s:?} contains {c:?}; only lower-case letters, digits and '-' are allowed"
        ));
    }
    if s.starts_with('-') {
        return Err(format!(
            "{s:?} must start with a lower-case letter or digit"
        ));
    }
    if s.ends_with('-') {
        return Err(format!("{s:?} must end with a lower-case letter or digit"));
    }
    Ok(())
}

/// Checks that `name` is a DNS-1123 subdomain: at most 253 characters, dot-separated parts of
/// lower-case letters, digits and `-`, each starting and ending with a letter or digit
/// (`example.com`, `db-password`).
pub fn dns_subdomain(name: &str, path: &str) -> Result<()> {
    at(path, subdomain(name))
}

fn subdomain(s: &str) -> Reason {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let n = s.chars().count();
    if n > 253 {
        return Err(format!(
            "{s:?} is {n} characters long; at most 253 are allowed"
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        return Err(format!(
            "{s:?} contains {c:?}; only lower-case letters, digits, '-' and '.' are allowed"
        ));
    }
    for part in s.split('.') {
        if part.is_empty() {
            return Err(format!("{s:?} has an empty part between dots"));
        }
        if part.starts_with('-') || part.ends_with('-') {
            return Err(format!(
                "{s:?}: each dot-separated part must start and end with a lower-case letter or digit"
            ));
        }
    }
    Ok(())
}

fn is_qualified_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// The name part of a label key, or a label value when `allow_empty`.
fn qualified(s: &str, what: &str, allow_empty: bool) -> Reason {
    if s.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            Err(format!("{what} must not be empty"))
        };
    }
    let n = s.chars().count();
    if n > 63 {
        return Err(format!(
            "{what} {s:?} is {n} characters long; at most 63 are allowed"
        ));
    }
    if let Some(c) = s.chars().find(|c| !is_qualified_char(*c)) {
        return Err(format!(
            "{what} {s:?} contains {c:?}; only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        return Err(format!(
            "{what} {s:?} must start and end with a letter or digit"
        ));
    }
    Ok(())
}

fn key_reason(key: &str) -> Reason {
    match key.split_once('/') {
        Some((prefix, name)) => {
            subdomain(prefix).map_err(|r| format!("prefix of key {key:?}: {r}"))?;
            qualified(name, "name part of the key", false)
        }
        None => qualified(key, "key", false),
    }
}

/// Checks a label or annotation key: an optional DNS-1123 subdomain prefix and `/`, then a
/// name of at most 63 letters, digits, `-`, `_` and `.` starting and ending with a letter or
/// digit (`app`, `app.kubernetes.io/name`).
pub fn label_key(key: &str, path: &str) -> Result<()> {
    at(path, key_reason(key))
}

/// Checks a label value: empty, or at most 63 letters, digits, `-`, `_` and `.` starting and
/// ending with a letter or digit.
pub fn label_value(value: &str, path: &str) -> Result<()> {
    at(path, qualified(value, "value", true))
}

/// Checks a label map at `path` (`metadata.labels`); an error names the label
/// (`metadata.labels.app`). The ownership labels tars stamps itself are allowed.
pub fn labels(labels: &BTreeMap<String, String>, path: &str) -> Result<()> {
    for (key, value) in labels {
        let field = format!("{path}.{key}");
        label_key(key, &field)?;
        label_value(value, &field)?;
    }
    Ok(())
}

/// Checks an annotation map at `path` (`metadata.annotations`): keys as for labels, values
/// free, at most [`MAX_ANNOTATIONS_BYTES`] in all. Errors name the map itself, as in
/// Kubernetes.
pub fn annotations(annotations: &BTreeMap<String, String>, path: &str) -> Result<()> {
    let mut total = 0usize;
    for (key, value) in annotations {
        at(path, key_reason(key))?;
        total = total.saturating_add(key.len()).saturating_add(value.len());
    }
    if total > MAX_ANNOTATIONS_BYTES {
        return Err(Error::invalid(
            path,
            format!(
                "annotations take {total} bytes in all; at most {MAX_ANNOTATIONS_BYTES} (256 KiB) are allowed"
            ),
        ));
    }
    Ok(())
}

/// Checks an environment variable name: letters, digits and `_`, not starting with a digit.
pub fn env_name(name: &str, path: &str) -> Result<()> {
    at(path, env_name_reason(name))
}

fn env_name_reason(s: &str) -> Reason {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return Err("must not be empty".to_owned());
    };
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(format!("{s:?} must start with a letter or '_'"));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!(
            "{s:?} contains {c:?}; only letters, digits and '_' are allowed"
        ));
    }
    Ok(())
}

/// Checks a port name (IANA_SVC_NAME): 1 to 15 lower-case letters, digits and `-`, with at
/// least one letter, no `-` at either end and no `--`.
pub fn port_name(name: &str, path: &str) -> Result<()> {
    at(path, port_name_reason(name))
}

fn port_name_reason(s: &str) -> Reason {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let n = s.chars().count();
    if n > 15 {
        return Err(format!(
            "{s:?} is {n} characters long; at most 15 are allowed"
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "{s:?} contains {c:?}; only lower-case letters, digits and '-' are allowed"
        ));
    }
    if !s.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(format!("{s:?} must contain at least one letter"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(format!("{s:?} must not start or end with '-'"));
    }
    if s.contains("--") {
        return Err(format!("{s:?} must not contain \"--\""));
    }
    Ok(())
}

/// Checks an object's metadata (`path` is usually `metadata`): the name, the labels and the
/// annotations.
pub fn metadata(meta: &ObjectMeta, path: &str) -> Result<()> {
    name(&meta.name, &format!("{path}.name"))?;
    labels(&meta.labels, &format!("{path}.labels"))?;
    annotations(&meta.annotations, &format!("{path}.annotations"))
}

/// Checks a container group spec at `path`.
pub fn container_group_spec(spec: &ContainerGroupSpec, path: &str) -> Result<()> {
    group_spec(
        spec,
        path,
        &[
            RestartPolicy::Always,
            RestartPolicy::OnFailure,
            RestartPolicy::Never,
        ],
        "ContainerGroup",
    )
}

/// What the walk over a group's containers has seen so far.
#[derive(Default)]
struct GroupSeen<'a> {
    containers: HashMap<&'a str, usize>,
    port_names: HashMap<&'a str, &'a str>,
    port_numbers: Vec<(u16, Protocol, &'a str)>,
}

fn group_spec(
    spec: &ContainerGroupSpec,
    path: &str,
    restart_policies: &[RestartPolicy],
    kind: &str,
) -> Result<()> {
    let containers = format!("{path}.containers");
    if spec.containers.is_empty() {
        return Err(Error::invalid(containers, "needs at least one container"));
    }
    if spec.containers.len() > MAX_CONTAINERS {
        return Err(Error::invalid(
            containers,
            format!(
                "has {} containers; at most {MAX_CONTAINERS} are allowed",
                spec.containers.len()
            ),
        ));
    }
    let mut seen = GroupSeen::default();
    for (i, c) in spec.containers.iter().enumerate() {
        container(c, i, &format!("{containers}[{i}]"), &mut seen)?;
    }
    if !restart_policies.contains(&spec.restart_policy) {
        let allowed: Vec<String> = restart_policies.iter().map(|p| format!("{p:?}")).collect();
        return Err(Error::invalid(
            format!("{path}.restart_policy"),
            format!(
                "must be {} for a {kind}, not {:?}",
                allowed.join(" or "),
                spec.restart_policy
            ),
        ));
    }
    if spec.termination_grace_period > MAX_TERMINATION_GRACE {
        return Err(Error::invalid(
            format!("{path}.termination_grace_period"),
            format!(
                "is {}; at most 1 hour is allowed",
                crate::serde_duration::format(&spec.termination_grace_period)
            ),
        ));
    }
    placement(&spec.placement, &format!("{path}.placement"))
}

fn no_nul(s: &str, path: String) -> Result<()> {
    if s.contains('\0') {
        return Err(Error::invalid(path, "must not contain a NUL byte"));
    }
    Ok(())
}

fn container<'a>(c: &'a Container, i: usize, path: &str, seen: &mut GroupSeen<'a>) -> Result<()> {
    name(&c.name, &format!("{path}.name"))?;
    if let Some(j) = seen.containers.insert(&c.name, i) {
        return Err(Error::invalid(
            format!("{path}.name"),
            format!(
                "duplicate container name {:?} (also containers[{j}])",
                c.name
            ),
        ));
    }
    if c.image.is_empty() {
        return Err(Error::invalid(format!("{path}.image"), "must not be empty"));
    }
    if c.image.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            format!("{path}.image"),
            format!("{:?} must not contain whitespace", c.image),
        ));
    }
    for (j, arg) in c.command.iter().enumerate() {
        no_nul(arg, format!("{path}.command[{j}]"))?;
    }
    for (j, arg) in c.args.iter().enumerate() {
        no_nul(arg, format!("{path}.args[{j}]"))?;
    }
    let mut env_names = HashSet::new();
    for (j, var) in c.env.iter().enumerate() {
        let env_path = format!("{path}.env[{j}]");
        env_name(&var.name, &format!("{env_path}.name"))?;
        if !env_names.insert(var.name.as_str()) {
            return Err(Error::invalid(
                format!("{env_path}.name"),
                format!("duplicate environment variable {:?}", var.name),
            ));
        }
        match (&var.value, &var.secret) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    env_path,
                    "sets both value and secret; set exactly one",
                ));
            }
            (None, None) => {
                return Err(Error::invalid(
                    env_path,
                    "sets neither value nor secret; set exactly one",
                ));
            }
            (Some(value), None) => no_nul(value, format!("{env_path}.value"))?,
            (None, Some(secret)) => {
                dns_subdomain(&secret.name, &format!("{env_path}.secret.name"))?;
                let key_path = format!("{env_path}.secret.key");
                if secret.key.is_empty() {
                    return Err(Error::invalid(key_path, "must not be empty"));
                }
                if let Some(ch) = secret.key.chars().find(|c| !is_qualified_char(*c)) {
                    return Err(Error::invalid(
                        key_path,
                        format!(
                            "{:?} contains {ch:?}; only letters, digits, '-', '_' and '.' are allowed",
                            secret.key
                        ),
                    ));
                }
            }
        }
    }
    if let Some(dir) = &c.working_dir {
        let dir_path = format!("{path}.working_dir");
        if !dir.starts_with('/') {
            return Err(Error::invalid(
                dir_path,
                format!("must be an absolute path, not {dir:?}"),
            ));
        }
        no_nul(dir, dir_path)?;
    }
    for (k, port) in c.ports.iter().enumerate() {
        let port_path = format!("{path}.ports[{k}]");
        port_name(&port.name, &format!("{port_path}.name"))?;
        if let Some(other) = seen.port_names.insert(&port.name, &c.name) {
            return Err(Error::invalid(
                format!("{port_path}.name"),
                format!(
                    "duplicate port name {:?} (also a port of container {other:?}); port names are unique in a group",
                    port.name
                ),
            ));
        }
        if let Some(number) = port.container_port {
            let number_path = format!("{port_path}.container_port");
            if number == 0 {
                return Err(Error::invalid(
                    number_path,
                    "must be between 1 and 65535, not 0",
                ));
            }
            if let Some((_, _, other)) = seen
                .port_numbers
                .iter()
                .find(|(n, p, _)| *n == number && *p == port.protocol)
            {
                return Err(Error::invalid(
                    number_path,
                    format!(
                        "port {number}/{:?} is also used by container {other:?}; the containers of a group share one network",
                        port.protocol
                    ),
                ));
            }
            seen.port_numbers.push((number, port.protocol, &c.name));
        }
    }
    if c.resources.cpu.is_some_and(|cpu| cpu.as_millis() == 0) {
        return Err(Error::invalid(
            format!("{path}.resources.cpu"),
            "must be more than 0 when set",
        ));
    }
    if c.resources.memory.is_some_and(|m| m.as_bytes() == 0) {
        return Err(Error::invalid(
            format!("{path}.resources.memory"),
            "must be more than 0 when set",
        ));
    }
    if let Some(p) = &c.readiness {
        probe(p, c, &format!("{path}.readiness"), false)?;
    }
    if let Some(p) = &c.liveness {
        probe(p, c, &format!("{path}.liveness"), true)?;
    }
    Ok(())
}

fn port_ref(port: &PortRef, c: &Container, path: String) -> Result<()> {
    match port {
        PortRef::Number(0) => Err(Error::invalid(path, "must be between 1 and 65535, not 0")),
        PortRef::Number(_) => Ok(()),
        PortRef::Name(n) if c.ports.iter().any(|p| &p.name == n) => Ok(()),
        PortRef::Name(n) => {
            let names: Vec<&str> = c.ports.iter().map(|p| p.name.as_str()).collect();
            let known = if names.is_empty() {
                "it declares none".to_owned()
            } else {
                format!("it declares {}", names.join(", "))
            };
            Err(Error::invalid(
                path,
                format!("{n:?} is not a port of container {:?} ({known})", c.name),
            ))
        }
    }
}

fn probe(p: &Probe, c: &Container, path: &str, liveness: bool) -> Result<()> {
    match &p.check {
        ProbeAction::HttpGet {
            port,
            path: http_path,
        } => {
            port_ref(port, c, format!("{path}.check.http_get.port"))?;
            if !http_path.starts_with('/') {
                return Err(Error::invalid(
                    format!("{path}.check.http_get.path"),
                    format!("must start with '/', not {http_path:?}"),
                ));
            }
        }
        ProbeAction::Tcp { port } => port_ref(port, c, format!("{path}.check.tcp.port"))?,
        ProbeAction::Exec { command } => {
            if command.is_empty() {
                return Err(Error::invalid(
                    format!("{path}.check.exec.command"),
                    "must not be empty",
                ));
            }
            for (j, arg) in command.iter().enumerate() {
                no_nul(arg, format!("{path}.check.exec.command[{j}]"))?;
            }
        }
    }
    if p.period.is_zero() {
        return Err(Error::invalid(
            format!("{path}.period"),
            "must be more than 0",
        ));
    }
    if p.timeout.is_zero() {
        return Err(Error::invalid(
            format!("{path}.timeout"),
            "must be more than 0",
        ));
    }
    if p.success_threshold == 0 {
        return Err(Error::invalid(
            format!("{path}.success_threshold"),
            "must be at least 1",
        ));
    }
    if liveness && p.success_threshold != 1 {
        return Err(Error::invalid(
            format!("{path}.success_threshold"),
            format!(
                "must be 1 for a liveness check (as in Kubernetes), not {}",
                p.success_threshold
            ),
        ));
    }
    if p.failure_threshold == 0 {
        return Err(Error::invalid(
            format!("{path}.failure_threshold"),
            "must be at least 1",
        ));
    }
    Ok(())
}

fn placement(placement: &Placement, path: &str) -> Result<()> {
    for (i, constraint) in placement.constraints.iter().enumerate() {
        let constraint_path = format!("{path}.constraints[{i}]");
        if constraint.attribute.trim().is_empty() {
            return Err(Error::invalid(
                format!("{constraint_path}.attribute"),
                "must not be empty",
            ));
        }
        let n = constraint.values.len();
        let op = constraint.operator;
        let problem = match op {
            ConstraintOp::Eq | ConstraintOp::NotEq if n != 1 => Some("exactly one value"),
            ConstraintOp::In | ConstraintOp::NotIn if n == 0 => Some("at least one value"),
            ConstraintOp::Exists | ConstraintOp::DoesNotExist if n != 0 => Some("no values"),
            _ => None,
        };
        if let Some(wanted) = problem {
            return Err(Error::invalid(
                format!("{constraint_path}.values"),
                format!(
                    "operator {op:?} takes {wanted}, found {}",
                    plural(n, "value", "values")
                ),
            ));
        }
    }
    if placement
        .spread
        .as_ref()
        .is_some_and(|s| s.trim().is_empty())
    {
        return Err(Error::invalid(
            format!("{path}.spread"),
            "must not be empty when set",
        ));
    }
    Ok(())
}

fn template(
    t: &GroupTemplate,
    path: &str,
    restart_policies: &[RestartPolicy],
    kind: &str,
) -> Result<()> {
    labels(&t.labels, &format!("{path}.labels"))?;
    annotations(&t.annotations, &format!("{path}.annotations"))?;
    group_spec(&t.spec, &format!("{path}.spec"), restart_policies, kind)
}

fn percent_at_most_100(v: IntOrPercent, path: String) -> Result<()> {
    match v {
        IntOrPercent::Percent(p) if p > 100 => Err(Error::invalid(
            path,
            format!("is {p}%; a percentage must be at most 100%"),
        )),
        _ => Ok(()),
    }
}

/// Checks a deployment spec at `path`. The template's restart policy must be `Always`.
pub fn deployment_spec(spec: &DeploymentSpec, path: &str) -> Result<()> {
    if spec.replicas > MAX_REPLICAS {
        return Err(Error::invalid(
            format!("{path}.replicas"),
            format!("is {}; at most {MAX_REPLICAS} are allowed", spec.replicas),
        ));
    }
    template(
        &spec.template,
        &format!("{path}.template"),
        &[RestartPolicy::Always],
        "Deployment",
    )?;
    let strategy = format!("{path}.strategy");
    match &spec.strategy {
        Strategy::Rolling {
            max_surge,
            max_unavailable,
        } => {
            percent_at_most_100(*max_surge, format!("{strategy}.max_surge"))?;
            percent_at_most_100(*max_unavailable, format!("{strategy}.max_unavailable"))?;
            if max_surge.is_zero() && max_unavailable.is_zero() {
                return Err(Error::invalid(
                    strategy,
                    "max_surge and max_unavailable must not both be 0: the rollout could never make progress",
                ));
            }
        }
        Strategy::Batches { pattern, .. } => {
            let pattern_path = format!("{strategy}.pattern");
            let batches = pattern.percentages();
            if batches.is_empty() {
                return Err(Error::invalid(pattern_path, "needs at least one batch"));
            }
            if let Some((i, p)) = batches
                .iter()
                .enumerate()
                .find(|(_, p)| !(1..=100).contains(*p))
            {
                return Err(Error::invalid(
                    pattern_path,
                    format!(
                        "batch {} is {p}%; each batch must be between 1% and 100%",
                        i + 1
                    ),
                ));
            }
            let sum: u64 = batches.iter().map(|p| u64::from(*p)).sum();
            if sum != 100 {
                return Err(Error::invalid(
                    pattern_path,
                    format!("batches {pattern} sum to {sum}%, not 100%"),
                ));
            }
        }
        Strategy::Recreate => {}
    }
    if let Some(deadline) = spec.progress_deadline
        && deadline <= spec.min_ready
    {
        return Err(Error::invalid(
            format!("{path}.progress_deadline"),
            format!(
                "is {}; it must be longer than min_ready ({})",
                crate::serde_duration::format(&deadline),
                crate::serde_duration::format(&spec.min_ready)
            ),
        ));
    }
    if spec.auto_rollback && spec.progress_deadline.is_none() {
        return Err(Error::invalid(
            format!("{path}.auto_rollback"),
            "needs a progress_deadline: the rollback happens when the deadline is exceeded",
        ));
    }
    if spec.revision_history_limit > MAX_HISTORY_LIMIT {
        return Err(Error::invalid(
            format!("{path}.revision_history_limit"),
            format!(
                "is {}; at most {MAX_HISTORY_LIMIT} is allowed",
                spec.revision_history_limit
            ),
        ));
    }
    Ok(())
}

/// Checks a cron job spec at `path`. The template's restart policy must be `OnFailure` or
/// `Never`.
///
/// The spec alone does not know the job's name, so a job naming itself as a parent is caught
/// by [`cron_job`] and [`manifests`].
pub fn cron_job_spec(spec: &CronJobSpec, path: &str) -> Result<()> {
    cron_spec(spec, path, None)
}

fn positive_when_set(d: Option<Duration>, path: String) -> Result<()> {
    if d.is_some_and(|d| d.is_zero()) {
        return Err(Error::invalid(path, "must be more than 0 when set"));
    }
    Ok(())
}

fn history_limit(limit: u32, path: String) -> Result<()> {
    if limit > MAX_HISTORY_LIMIT {
        return Err(Error::invalid(
            path,
            format!("is {limit}; at most {MAX_HISTORY_LIMIT} is allowed"),
        ));
    }
    Ok(())
}

fn cron_spec(spec: &CronJobSpec, path: &str, own_name: Option<&str>) -> Result<()> {
    let schedule_path = format!("{path}.schedule");
    match &spec.schedule {
        None if spec.parents.is_empty() => {
            return Err(Error::invalid(
                schedule_path,
                "is required for a job without parents (set a schedule, parents, or both)",
            ));
        }
        None => {}
        // The zone is checked on its own below, so that a bad zone is reported there.
        Some(expr) => {
            Schedule::parse(expr, None).map_err(|r| Error::invalid(&schedule_path, r))?;
        }
    }
    if let Some(zone) = &spec.time_zone {
        parse_time_zone(zone).map_err(|r| Error::invalid(format!("{path}.time_zone"), r))?;
        if let Some(expr) = &spec.schedule {
            Schedule::parse(expr, Some(zone)).map_err(|r| Error::invalid(&schedule_path, r))?;
        }
    }
    positive_when_set(spec.starting_deadline, format!("{path}.starting_deadline"))?;
    if spec.retries > MAX_RETRIES {
        return Err(Error::invalid(
            format!("{path}.retries"),
            format!("is {}; at most {MAX_RETRIES} are allowed", spec.retries),
        ));
    }
    positive_when_set(spec.active_deadline, format!("{path}.active_deadline"))?;
    let mut parents = HashSet::new();
    for (i, parent) in spec.parents.iter().enumerate() {
        let parent_path = format!("{path}.parents[{i}]");
        name(parent, &parent_path)?;
        if !parents.insert(parent.as_str()) {
            return Err(Error::invalid(
                parent_path,
                format!("duplicate parent {parent:?}"),
            ));
        }
        if own_name == Some(parent.as_str()) {
            return Err(Error::invalid(
                parent_path,
                format!("{parent:?} is the job itself; a job cannot be its own parent"),
            ));
        }
    }
    history_limit(
        spec.successful_history_limit,
        format!("{path}.successful_history_limit"),
    )?;
    history_limit(
        spec.failed_history_limit,
        format!("{path}.failed_history_limit"),
    )?;
    template(
        &spec.template,
        &format!("{path}.template"),
        &[RestartPolicy::OnFailure, RestartPolicy::Never],
        "CronJob",
    )
}

/// Checks a whole cron job: what [`crate::Object::validate`] checks, and also that the job is
/// not its own parent (`spec.parents[i]`), which the spec alone cannot know.
/// Checks a cron job spec, knowing the job's name (a job cannot be its own parent).
pub fn cron_job_spec_named(spec: &CronJobSpec, name: &str, path: &str) -> Result<()> {
    cron_spec(spec, path, Some(name))
}

/// Checks a whole cron job, its own name among its parents included.
pub fn cron_job(job: &CronJob) -> Result<()> {
    metadata(&job.metadata, "metadata")?;
    cron_spec(&job.spec, "spec", Some(&job.metadata.name))
}

/// Checks a set of manifests applied together: each one, unique names per kind, and cron job
/// parents acyclic.
///
/// Errors of one manifest carry its own field paths (`spec.containers[0].image`); a name used
/// twice is reported at `documents[i].metadata.name` of the second document, a cycle at
/// `documents[i].spec.parents` of its first job, naming the cycle (`a -> b -> a`). A parent
/// that is not among `items` is allowed: it may exist already.
pub fn manifests(items: &[Manifest]) -> Result<()> {
    for m in items {
        match m {
            Manifest::CronJob(job) => cron_job(job)?,
            other => other.validate()?,
        }
    }
    let mut seen: HashMap<(Kind, &str), usize> = HashMap::new();
    for (i, m) in items.iter().enumerate() {
        let name = m.metadata().name.as_str();
        if let Some(j) = seen.insert((m.kind(), name), i) {
            return Err(Error::invalid(
                format!("documents[{i}].metadata.name"),
                format!("{} {name:?} is also defined by documents[{j}]", m.kind()),
            ));
        }
    }
    // The cron jobs among the items: (document index, name, parents).
    let jobs: Vec<(usize, &str, &[String])> = items
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match m {
            Manifest::CronJob(job) => Some((i, job.name(), job.spec.parents.as_slice())),
            _ => None,
        })
        .collect();
    if let Some(cycle) = find_cycle(&jobs) {
        let names: Vec<&str> = cycle.iter().map(|&j| jobs[j].1).collect();
        let first = cycle.first().map_or(0, |&j| jobs[j].0);
        return Err(Error::invalid(
            format!("documents[{first}].spec.parents"),
            format!("parents form a cycle: {}", names.join(" -> ")),
        ));
    }
    Ok(())
}

/// A cycle in the parent graph of `jobs` (edges from a job to each of its parents), as
/// indices into `jobs` starting and ending with the same job; depth-first in item order, so
/// the answer is deterministic. Iterative, so a long chain cannot overflow the stack.
fn find_cycle(jobs: &[(usize, &str, &[String])]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(j, (_, name, _))| (*name, j))
        .collect();
    let mut marks = vec![Mark::New; jobs.len()];
    for root in 0..jobs.len() {
        if marks[root] != Mark::New {
            continue;
        }
        marks[root] = Mark::OnPath;
        // (job, index of the next parent to follow)
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(top) = path.last_mut() {
            let (job, next) = *top;
            let parents = jobs[job].2;
            let Some(parent) = parents.get(next) else {
                marks[job] = Mark::Done;
                path.pop();
                continue;
            };
            top.1 += 1;
            let Some(&p) = index.get(parent.as_str()) else {
                continue; // not among the items: it may exist already
            };
            match marks[p] {
                Mark::New => {
                    marks[p] = Mark::OnPath;
                    path.push((p, 0));
                }
                Mark::OnPath => {
                    let start = path.iter().position(|&(j, _)| j == p)?;
                    let mut cycle: Vec<usize> = path[start..].iter().map(|&(j, _)| j).collect();
                    cycle.push(p);
                    return Some(cycle);
                }
                Mark::Done => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cronjob::CronJob;
    use crate::deployment::{BatchPattern, Deployment, Gate};
    use crate::group::{Constraint, ContainerGroup, EnvVar, SecretRef};
    use crate::meta::{INSTANCE_LABEL, Labels, MANAGED_BY_LABEL, OWNER_LABEL};
    use crate::quantity::{Cpu, Memory};

    /// The field and reason of an `Invalid` error.
    fn invalid(r: Result<()>) -> (String, String) {
        match r.expect_err("should be invalid") {
            Error::Invalid { field, reason } => (field, reason),
            other => panic!("not Invalid: {other}"),
        }
    }

    fn field(r: Result<()>) -> String {
        invalid(r).0
    }

    fn c(name: &str) -> Container {
        Container::new(name, "busybox:1.36", &["sleep", "1000"])
    }

    fn group(containers: Vec<Container>) -> ContainerGroup {
        ContainerGroup::new("web", ContainerGroupSpec::new(containers))
    }

    /// Validates a one-container group after `edit`, through `Object::validate`.
    fn group_with(edit: impl FnOnce(&mut ContainerGroup)) -> Result<()> {
        let mut g = group(vec![c("app").with_port("http", Some(8080))]);
        edit(&mut g);
        g.validate()
    }

    /// Validates a container `app` (ports `http` 8080) after `edit`.
    fn container_with(edit: impl FnOnce(&mut Container)) -> Result<()> {
        group_with(|g| edit(&mut g.spec.containers[0]))
    }

    fn http_probe(port: PortRef) -> Probe {
        Probe::new(ProbeAction::HttpGet {
            port,
            path: "/healthz".to_owned(),
        })
    }

    fn template(restart_policy: RestartPolicy) -> GroupTemplate {
        let mut spec = ContainerGroupSpec::new(vec![c("app")]);
        spec.restart_policy = restart_policy;
        GroupTemplate {
            labels: Labels::from([("app".to_owned(), "web".to_owned())]),
            annotations: Labels::new(),
            spec,
        }
    }

    fn deployment() -> Deployment {
        Deployment::new(
            "web",
            DeploymentSpec {
                replicas: 3,
                template: template(RestartPolicy::Always),
                strategy: Strategy::default(),
                min_ready: Duration::ZERO,
                progress_deadline: None,
                auto_rollback: false,
                paused: false,
                revision_history_limit: 10,
            },
        )
    }

    fn deployment_with(edit: impl FnOnce(&mut DeploymentSpec)) -> Result<()> {
        let mut d = deployment();
        edit(&mut d.spec);
        d.validate()
    }

    fn cron(name: &str, parents: &[&str]) -> CronJob {
        CronJob::new(
            name,
            CronJobSpec {
                schedule: Some("*/5 * * * *".to_owned()),
                time_zone: None,
                concurrency: Default::default(),
                starting_deadline: None,
                retries: 0,
                retry_backoff: Duration::from_secs(10),
                active_deadline: None,
                parents: parents.iter().map(|p| p.to_string()).collect(),
                suspend: false,
                successful_history_limit: 3,
                failed_history_limit: 1,
                template: template(RestartPolicy::OnFailure),
            },
        )
    }

    fn cron_with(edit: impl FnOnce(&mut CronJobSpec)) -> Result<()> {
        let mut j = cron("nightly", &[]);
        edit(&mut j.spec);
        j.validate()
    }

    #[test]
    fn valid_objects_pass() {
        group_with(|_| {}).expect("group");
        container_with(|c| {
            c.env.push(EnvVar::from_secret(
                "DB_PASSWORD",
                SecretRef {
                    name: "db.credentials".into(),
                    key: "pass_word-1.txt".into(),
                },
            ));
            c.working_dir = Some("/srv".into());
            c.resources.cpu = Some(Cpu(250));
            c.resources.memory = Some(Memory::mebibytes(64));
            c.readiness = Some(http_probe(PortRef::Name("http".into())));
            c.liveness = Some(Probe::new(ProbeAction::Tcp {
                port: PortRef::Number(8080),
            }));
        })
        .expect("full container");
        deployment().validate().expect("deployment");
        cron("nightly", &[]).validate().expect("cron job");
        cron_job(&cron("after", &["nightly"])).expect("cron job with a parent");
    }

    #[test]
    fn names_are_dns_1123_labels() {
        for ok in ["a", "web", "web-1", "0abc", &"a".repeat(63)] {
            name(ok, "name").unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for bad in [
            "",
            "Web",
            "web_1",
            "-web",
            "web-",
            "wéb",
            "a.b",
            &"a".repeat(64),
        ] {
            let (f, reason) = invalid(name(bad, "name"));
            assert_eq!(f, "name", "{bad:?}");
            assert!(!reason.is_empty());
        }
        assert!(
            invalid(name(&"a".repeat(64), "name"))
                .1
                .contains("64 characters")
        );
        assert!(invalid(name("Web", "name")).1.contains("'W'"));
        let e = group(vec![c("app")]);
        let mut e = e;
        e.metadata.name = "Web".into();
        assert_eq!(field(e.validate()), "metadata.name");
    }

    #[test]
    fn labels_follow_kubernetes_rules() {
        let with_label = |k: &str, v: &str| group(vec![c("app")]).with_label(k, v).validate();
        with_label("app", "web").expect("plain");
        with_label("app.kubernetes.io/name", "web_1.x-y").expect("prefixed");
        with_label("tier", "").expect("empty value");
        with_label(MANAGED_BY_LABEL, "tars").expect("ownership labels are allowed");
        with_label(INSTANCE_LABEL, "a").expect("ownership labels are allowed");
        with_label(OWNER_LABEL, "web").expect("ownership labels are allowed");
        assert_eq!(field(with_label("-app", "x")), "metadata.labels.-app");
        assert_eq!(
            field(with_label("Example.com/app", "x")),
            "metadata.labels.Example.com/app"
        );
        assert_eq!(field(with_label("a/b/c", "x")), "metadata.labels.a/b/c");
        assert_eq!(field(with_label("/app", "x")), "metadata.labels./app");
        assert_eq!(
            field(with_label(&"k".repeat(64), "x")),
            format!("metadata.labels.{}", "k".repeat(64))
        );
        assert_eq!(field(with_label("app", "a b")), "metadata.labels.app");
        assert_eq!(field(with_label("app", "-web")), "metadata.labels.app");
        let (f, reason) = invalid(with_label("app", &"v".repeat(64)));
        assert_eq!(f, "metadata.labels.app");
        assert!(reason.contains("64 characters"), "{reason}");
    }

    #[test]
    fn annotations_keys_and_total_size() {
        let mut g = group(vec![c("app")]);
        g.metadata
            .annotations
            .insert("example.com/note".into(), "any text: at all!".into());
        g.validate().expect("free-form value");
        g.metadata.annotations.insert("bad key".into(), "x".into());
        assert_eq!(field(g.validate()), "metadata.annotations");
        g.metadata.annotations.remove("bad key");
        g.metadata
            .annotations
            .insert("big".into(), "x".repeat(MAX_ANNOTATIONS_BYTES));
        let (f, reason) = invalid(g.validate());
        assert_eq!(f, "metadata.annotations");
        assert!(reason.contains("bytes"), "{reason}");
    }

    #[test]
    fn a_group_needs_between_1_and_64_containers() {
        assert_eq!(field(group(vec![]).validate()), "spec.containers");
        let many: Vec<Container> = (0..65).map(|i| c(&format!("c{i}"))).collect();
        assert_eq!(field(group(many).validate()), "spec.containers");
        let max: Vec<Container> = (0..64).map(|i| c(&format!("c{i}"))).collect();
        group(max).validate().expect("64 containers");
    }

    #[test]
    fn container_names_are_labels_and_unique() {
        assert_eq!(
            field(group(vec![c("App")]).validate()),
            "spec.containers[0].name"
        );
        let (f, reason) = invalid(group(vec![c("a"), c("b"), c("a")]).validate());
        assert_eq!(f, "spec.containers[2].name");
        assert!(reason.contains("containers[0]"), "{reason}");
    }

    #[test]
    fn the_first_error_in_declaration_order_wins() {
        let mut first = c("a");
        first.image = String::new();
        let r = group(vec![first, c("B")]).validate();
        assert_eq!(field(r), "spec.containers[0].image");
        // metadata before spec
        let mut g = group(vec![]);
        g.metadata.name = String::new();
        assert_eq!(field(g.validate()), "metadata.name");
    }

    #[test]
    fn image_must_be_set_without_whitespace() {
        assert_eq!(
            field(container_with(|c| c.image.clear())),
            "spec.containers[0].image"
        );
        assert_eq!(
            field(container_with(|c| c.image = "busybox latest".into())),
            "spec.containers[0].image"
        );
    }

    #[test]
    fn command_and_args_have_no_nul_bytes() {
        assert_eq!(
            field(container_with(|c| c.command[1] = "10\x00".into())),
            "spec.containers[0].command[1]"
        );
        assert_eq!(
            field(container_with(|c| c.args = vec!["ok".into(), "a\0".into()])),
            "spec.containers[0].args[1]"
        );
    }

    #[test]
    fn env_names_values_and_secrets() {
        assert_eq!(
            field(container_with(|c| c.env.push(EnvVar::literal("1X", "v")))),
            "spec.containers[0].env[0].name"
        );
        assert_eq!(
            field(container_with(|c| c.env.push(EnvVar::literal("A-B", "v")))),
            "spec.containers[0].env[0].name"
        );
        container_with(|c| c.env.push(EnvVar::literal("_a1", "v"))).expect("valid name");
        assert_eq!(
            field(container_with(|c| {
                c.env.push(EnvVar::literal("A", "1"));
                c.env.push(EnvVar::literal("A", "2"));
            })),
            "spec.containers[0].env[1].name"
        );
        let secret = SecretRef {
            name: "db".into(),
            key: "password".into(),
        };
        let both = EnvVar {
            name: "A".into(),
            value: Some("x".into()),
            secret: Some(secret.clone()),
        };
        assert_eq!(
            field(container_with(|c| {
                c.env.push(EnvVar::literal("OK", "1"));
                c.env.push(both);
            })),
            "spec.containers[0].env[1]"
        );
        let neither = EnvVar {
            name: "A".into(),
            value: None,
            secret: None,
        };
        assert_eq!(
            field(container_with(|c| c.env.push(neither))),
            "spec.containers[0].env[0]"
        );
        let bad_name = SecretRef {
            name: "DB".into(),
            ..secret.clone()
        };
        assert_eq!(
            field(container_with(|c| c
                .env
                .push(EnvVar::from_secret("A", bad_name)))),
            "spec.containers[0].env[0].secret.name"
        );
        let empty_name = SecretRef {
            name: String::new(),
            ..secret.clone()
        };
        assert_eq!(
            field(container_with(|c| c
                .env
                .push(EnvVar::from_secret("A", empty_name)))),
            "spec.containers[0].env[0].secret.name"
        );
        for key in ["", "a/b", "a b"] {
            let bad_key = SecretRef {
                key: key.into(),
                ..secret.clone()
            };
            assert_eq!(
                field(container_with(|c| c
                    .env
                    .push(EnvVar::from_secret("A", bad_key)))),
                "spec.containers[0].env[0].secret.key",
                "{key:?}"
            );
        }
    }

    #[test]
    fn working_dir_is_absolute() {
        assert_eq!(
            field(container_with(|c| c.working_dir = Some("srv".into()))),
            "spec.containers[0].working_dir"
        );
    }

    #[test]
    fn port_names_are_iana_service_names() {
        for ok in ["http", "h2", "web-api", "a23456789012345"] {
            port_name(ok, "p").unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for bad in [
            "",
            "HTTP",
            "8080",
            "-http",
            "http-",
            "web--api",
            "a234567890123456",
            "h_p",
        ] {
            assert!(port_name(bad, "p").is_err(), "{bad:?}");
        }
        assert_eq!(
            field(container_with(|c| c.ports[0].name = "Http".into())),
            "spec.containers[0].ports[0].name"
        );
    }

    #[test]
    fn port_names_are_unique_across_the_group() {
        let r = group(vec![
            c("a").with_port("http", None),
            c("b").with_port("metrics", None).with_port("http", None),
        ])
        .validate();
        let (f, reason) = invalid(r);
        assert_eq!(f, "spec.containers[1].ports[1].name");
        assert!(reason.contains("\"a\""), "{reason}");
        assert_eq!(
            field(container_with(|c| c.ports.push(c.ports[0].clone()))),
            "spec.containers[0].ports[1].name"
        );
    }

    #[test]
    fn container_port_zero_is_invalid() {
        let r = group(vec![
            c("a").with_port("http", Some(8080)),
            c("b").with_port("metrics", Some(0)),
        ])
        .validate();
        assert_eq!(field(r), "spec.containers[1].ports[0].container_port");
        group(vec![c("a").with_port("top", Some(65535))])
            .validate()
            .expect("65535");
    }

    #[test]
    fn port_numbers_are_unique_per_protocol_across_the_group() {
        let r = group(vec![
            c("a").with_port("http", Some(8080)),
            c("b").with_port("alt", Some(8080)),
        ])
        .validate();
        assert_eq!(field(r), "spec.containers[1].ports[0].container_port");
        let mut udp = c("b").with_port("dns", Some(8080));
        udp.ports[0].protocol = Protocol::Udp;
        group(vec![c("a").with_port("http", Some(8080)), udp])
            .validate()
            .expect("same number, other protocol");
    }

    #[test]
    fn resources_must_be_positive() {
        assert_eq!(
            field(container_with(|c| c.resources.cpu = Some(Cpu(0)))),
            "spec.containers[0].resources.cpu"
        );
        assert_eq!(
            field(container_with(|c| c.resources.memory = Some(Memory(0)))),
            "spec.containers[0].resources.memory"
        );
    }

    #[test]
    fn probe_ports_name_a_port_of_the_same_container() {
        let (f, reason) = invalid(container_with(|c| {
            c.readiness = Some(http_probe(PortRef::Name("metrics".into())))
        }));
        assert_eq!(f, "spec.containers[0].readiness.check.http_get.port");
        assert!(reason.contains("http"), "{reason}");
        // A port of another container of the group does not count.
        let mut b = c("b");
        b.readiness = Some(http_probe(PortRef::Name("http".into())));
        let r = group(vec![c("a").with_port("http", None), b]).validate();
        assert_eq!(field(r), "spec.containers[1].readiness.check.http_get.port");
        assert_eq!(
            field(container_with(|c| {
                c.liveness = Some(Probe::new(ProbeAction::Tcp {
                    port: PortRef::Number(0),
                }))
            })),
            "spec.containers[0].liveness.check.tcp.port"
        );
    }

    #[test]
    fn probe_actions_and_timings() {
        let readiness = |edit: fn(&mut Probe)| {
            container_with(|c| {
                let mut p = http_probe(PortRef::Name("http".into()));
                edit(&mut p);
                c.readiness = Some(p);
            })
        };
        let path = "spec.containers[0].readiness";
        assert_eq!(
            field(readiness(|p| {
                p.check = ProbeAction::HttpGet {
                    port: PortRef::Number(80),
                    path: "healthz".into(),
                }
            })),
            format!("{path}.check.http_get.path")
        );
        assert_eq!(
            field(readiness(
                |p| p.check = ProbeAction::Exec { command: vec![] }
            )),
            format!("{path}.check.exec.command")
        );
        assert_eq!(
            field(readiness(|p| p.period = Duration::ZERO)),
            format!("{path}.period")
        );
        assert_eq!(
            field(readiness(|p| p.timeout = Duration::ZERO)),
            format!("{path}.timeout")
        );
        assert_eq!(
            field(readiness(|p| p.success_threshold = 0)),
            format!("{path}.success_threshold")
        );
        readiness(|p| p.success_threshold = 3).expect("readiness may need several successes");
        assert_eq!(
            field(readiness(|p| p.failure_threshold = 0)),
            format!("{path}.failure_threshold")
        );
        let (f, reason) = invalid(container_with(|c| {
            let mut p = http_probe(PortRef::Number(8080));
            p.success_threshold = 2;
            c.liveness = Some(p);
        }));
        assert_eq!(f, "spec.containers[0].liveness.success_threshold");
        assert!(reason.contains("must be 1"), "{reason}");
    }

    #[test]
    fn termination_grace_period_is_at_most_an_hour() {
        group_with(|g| g.spec.termination_grace_period = Duration::from_secs(3600)).expect("1h");
        assert_eq!(
            field(group_with(
                |g| g.spec.termination_grace_period = Duration::from_secs(3601)
            )),
            "spec.termination_grace_period"
        );
    }

    #[test]
    fn placement_constraints_take_the_right_number_of_values() {
        let constraint = |operator, values: &[&str]| Constraint {
            attribute: "rack".into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let with = |cs: Vec<Constraint>| group_with(|g| g.spec.placement.constraints = cs);
        with(vec![
            constraint(ConstraintOp::Eq, &["a"]),
            constraint(ConstraintOp::NotIn, &["b", "c"]),
            constraint(ConstraintOp::Exists, &[]),
        ])
        .expect("valid constraints");
        let cases = [
            (ConstraintOp::Eq, &["a", "b"][..]),
            (ConstraintOp::NotEq, &[][..]),
            (ConstraintOp::In, &[][..]),
            (ConstraintOp::NotIn, &[][..]),
            (ConstraintOp::Exists, &["a"][..]),
            (ConstraintOp::DoesNotExist, &["a"][..]),
        ];
        for (op, values) in cases {
            let r = with(vec![
                constraint(ConstraintOp::Exists, &[]),
                constraint(op, values),
            ]);
            assert_eq!(field(r), "spec.placement.constraints[1].values", "{op:?}");
        }
        let mut no_attribute = constraint(ConstraintOp::Exists, &[]);
        no_attribute.attribute.clear();
        assert_eq!(
            field(with(vec![no_attribute])),
            "spec.placement.constraints[0].attribute"
        );
        assert_eq!(
            field(group_with(|g| g.spec.placement.spread = Some(String::new()))),
            "spec.placement.spread"
        );
    }

    #[test]
    fn deployment_replicas_and_template() {
        deployment_with(|d| d.replicas = MAX_REPLICAS).expect("max replicas");
        assert_eq!(
            field(deployment_with(|d| d.replicas = 10_001)),
            "spec.replicas"
        );
        assert_eq!(
            field(deployment_with(|d| {
                d.template.labels.insert("bad key".into(), "x".into());
            })),
            "spec.template.labels.bad key"
        );
        assert_eq!(
            field(deployment_with(|d| d.template.spec.containers[0]
                .image
                .clear())),
            "spec.template.spec.containers[0].image"
        );
        let (f, reason) = invalid(deployment_with(|d| {
            d.template.spec.restart_policy = RestartPolicy::OnFailure
        }));
        assert_eq!(f, "spec.template.spec.restart_policy");
        assert!(reason.contains("Always"), "{reason}");
    }

    #[test]
    fn rolling_strategy_limits() {
        let rolling = |max_surge, max_unavailable| {
            deployment_with(|d| {
                d.strategy = Strategy::Rolling {
                    max_surge,
                    max_unavailable,
                }
            })
        };
        rolling(IntOrPercent::Int(1), IntOrPercent::Int(0)).expect("surge only");
        rolling(IntOrPercent::Percent(100), IntOrPercent::Percent(0)).expect("100%");
        assert_eq!(
            field(rolling(IntOrPercent::Percent(101), IntOrPercent::Int(0))),
            "spec.strategy.max_surge"
        );
        assert_eq!(
            field(rolling(IntOrPercent::Int(1), IntOrPercent::Percent(150))),
            "spec.strategy.max_unavailable"
        );
        assert_eq!(
            field(rolling(IntOrPercent::Percent(0), IntOrPercent::Int(0))),
            "spec.strategy"
        );
    }

    #[test]
    fn batches_sum_to_100() {
        let batches = |p: Vec<u32>| {
            deployment_with(|d| {
                d.strategy = Strategy::Batches {
                    pattern: BatchPattern(p),
                    pause_between: Duration::ZERO,
                    gate: Gate::Canary,
                }
            })
        };
        batches(vec![10, 20, 70]).expect("sums to 100");
        batches(vec![100]).expect("one batch");
        let (f, reason) = invalid(batches(vec![10, 80]));
        assert_eq!(f, "spec.strategy.pattern");
        assert!(reason.contains("90%"), "{reason}");
        assert!(invalid(batches(vec![60, 60])).1.contains("120%"));
        assert_eq!(field(batches(vec![])), "spec.strategy.pattern");
        assert_eq!(field(batches(vec![0, 100])), "spec.strategy.pattern");
        assert_eq!(field(batches(vec![101])), "spec.strategy.pattern");
    }

    #[test]
    fn progress_deadline_rollback_and_history() {
        deployment_with(|d| {
            d.min_ready = Duration::from_secs(10);
            d.progress_deadline = Some(Duration::from_secs(600));
            d.auto_rollback = true;
        })
        .expect("valid");
        assert_eq!(
            field(deployment_with(|d| {
                d.min_ready = Duration::from_secs(60);
                d.progress_deadline = Some(Duration::from_secs(60));
            })),
            "spec.progress_deadline"
        );
        assert_eq!(
            field(deployment_with(
                |d| d.progress_deadline = Some(Duration::ZERO)
            )),
            "spec.progress_deadline"
        );
        assert_eq!(
            field(deployment_with(|d| d.auto_rollback = true)),
            "spec.auto_rollback"
        );
        assert_eq!(
            field(deployment_with(|d| d.revision_history_limit = 1001)),
            "spec.revision_history_limit"
        );
    }

    #[test]
    fn cron_job_needs_a_schedule_or_parents() {
        assert_eq!(field(cron_with(|s| s.schedule = None)), "spec.schedule");
        cron_with(|s| {
            s.schedule = None;
            s.parents = vec!["extract".into()];
        })
        .expect("parents only");
    }

    #[test]
    fn cron_job_schedule_and_time_zone() {
        for ok in ["@daily", "0 30 2 * * *", "R/2026-01-01T00:00:00Z/PT1H"] {
            cron_with(|s| s.schedule = Some(ok.into())).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let (f, reason) = invalid(cron_with(|s| s.schedule = Some("61 * * * *".into())));
        assert_eq!(f, "spec.schedule");
        assert!(reason.contains("61 * * * *"), "{reason}");
        assert_eq!(
            field(cron_with(|s| s.schedule = Some("0 0 0 1 1 * 2026".into()))),
            "spec.schedule"
        );
        cron_with(|s| s.time_zone = Some("Europe/Berlin".into())).expect("zone");
        let (f, reason) = invalid(cron_with(|s| s.time_zone = Some("Mars/Olympus".into())));
        assert_eq!(f, "spec.time_zone");
        assert_eq!(reason, "unknown time zone \"Mars/Olympus\"");
    }

    #[test]
    fn cron_job_parents() {
        assert_eq!(
            field(cron_with(|s| s.parents = vec!["ok".into(), "Bad".into()])),
            "spec.parents[1]"
        );
        let (f, reason) = invalid(cron_with(|s| {
            s.parents = vec!["a".into(), "b".into(), "a".into()]
        }));
        assert_eq!(f, "spec.parents[2]");
        assert!(reason.contains("duplicate"), "{reason}");
        // The object (and `cron_job`) know the job's name: it cannot be its own parent.
        let own = cron("nightly", &["extract", "nightly"]);
        assert_eq!(field(own.validate()), "spec.parents[1]");
        let (f, reason) = invalid(cron_job(&own));
        assert_eq!(f, "spec.parents[1]");
        assert!(reason.contains("own parent"), "{reason}");
    }

    #[test]
    fn cron_job_limits_and_deadlines() {
        cron_with(|s| s.retries = MAX_RETRIES).expect("100 retries");
        assert_eq!(field(cron_with(|s| s.retries = 101)), "spec.retries");
        assert_eq!(
            field(cron_with(|s| s.active_deadline = Some(Duration::ZERO))),
            "spec.active_deadline"
        );
        assert_eq!(
            field(cron_with(|s| s.starting_deadline = Some(Duration::ZERO))),
            "spec.starting_deadline"
        );
        assert_eq!(
            field(cron_with(|s| s.successful_history_limit = 1001)),
            "spec.successful_history_limit"
        );
        assert_eq!(
            field(cron_with(|s| s.failed_history_limit = 1001)),
            "spec.failed_history_limit"
        );
    }

    #[test]
    fn cron_job_template_restart_policy_is_on_failure_or_never() {
        cron_with(|s| s.template.spec.restart_policy = RestartPolicy::Never).expect("Never");
        let (f, reason) = invalid(cron_with(|s| {
            s.template.spec.restart_policy = RestartPolicy::Always
        }));
        assert_eq!(f, "spec.template.spec.restart_policy");
        assert!(reason.contains("OnFailure or Never"), "{reason}");
        assert_eq!(
            field(cron_with(|s| s.template.spec.containers.clear())),
            "spec.template.spec.containers"
        );
    }

    #[test]
    fn manifests_validate_each_item() {
        let mut bad = cron("b", &[]);
        bad.spec.retries = 1000;
        let items = [Manifest::CronJob(cron("a", &[])), Manifest::CronJob(bad)];
        assert_eq!(field(manifests(&items)), "spec.retries");
        let own = [Manifest::CronJob(cron("a", &["a"]))];
        assert_eq!(field(manifests(&own)), "spec.parents[0]");
    }

    #[test]
    fn manifests_names_are_unique_per_kind() {
        let items = [
            Manifest::ContainerGroup(group(vec![c("app")])),
            Manifest::Deployment(deployment()), // also "web", another kind
            Manifest::CronJob(cron("nightly", &[])),
            Manifest::Deployment(deployment()),
        ];
        let (f, reason) = invalid(manifests(&items));
        assert_eq!(f, "documents[3].metadata.name");
        assert!(reason.contains("documents[1]"), "{reason}");
        manifests(&items[..3]).expect("distinct per kind");
    }

    #[test]
    fn manifests_cron_parents_are_acyclic() {
        let items = [
            Manifest::Deployment(deployment()),
            Manifest::CronJob(cron("a", &["b"])),
            Manifest::CronJob(cron("b", &["a"])),
        ];
        let (f, reason) = invalid(manifests(&items));
        assert_eq!(f, "documents[1].spec.parents");
        assert!(reason.contains("a -> b -> a"), "{reason}");

        // Found from a job outside the cycle; parents outside the items are fine.
        let items = [
            Manifest::CronJob(cron("x", &["elsewhere", "c"])),
            Manifest::CronJob(cron("c", &["d"])),
            Manifest::CronJob(cron("d", &["e", "elsewhere"])),
            Manifest::CronJob(cron("e", &["c"])),
        ];
        let (f, reason) = invalid(manifests(&items));
        assert_eq!(f, "documents[1].spec.parents");
        assert!(reason.contains("c -> d -> e -> c"), "{reason}");

        // A diamond is not a cycle.
        let items = [
            Manifest::CronJob(cron("top", &["left", "right"])),
            Manifest::CronJob(cron("left", &["root"])),
            Manifest::CronJob(cron("right", &["root"])),
            Manifest::CronJob(cron("root", &["already-there"])),
        ];
        manifests(&items).expect("a DAG");
    }

    #[test]
    fn manifests_long_parent_chain_does_not_overflow() {
        let items: Vec<Manifest> = (0..5000)
            .map(|i| {
                let parents = if i == 0 {
                    vec![]
                } else {
                    vec![format!("j{}", i - 1)]
                };
                let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
                Manifest::CronJob(cron(&format!("j{i}"), &parents))
            })
            .collect();
        manifests(&items).expect("a long chain");
    }

    #[test]
    fn a_yaml_group_validates_through_manifests() {
        let yaml = r#"
apiVersion: tars/v1
kind: ContainerGroup
metadata: {name: web, labels: {app: web}}
spec:
  containers:
    - name: server
      image: python:3.11
      ports: [{name: http}]
      readiness: {check: {http_get: {port: http, path: /}}, period: 1s}
    - name: sidecar
      image: busybox
      ports: [{name: admin, container_port: 0}]
"#;
        let items = Manifest::from_yaml(yaml).expect("parses");
        assert_eq!(
            field(manifests(&items)),
            "spec.containers[1].ports[0].container_port"
        );
    }
}
