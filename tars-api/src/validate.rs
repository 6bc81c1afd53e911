//! Validation of everything a user hands to tars, before any call leaves the process.
//! Each error names the field path (`spec.template.containers[1].ports[0].container_port`).

use crate::cronjob::CronJobSpec;
use crate::deployment::DeploymentSpec;
use crate::error::{Error, Result};
use crate::group::ContainerGroupSpec;
use crate::manifest::Manifest;
use crate::meta::ObjectMeta;

/// Checks that `name` is a DNS-1123 label (`path` names the field).
pub fn name(name: &str, path: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(path, "must not be empty"));
    }
    Ok(())
}

/// Checks an object's metadata (`path` is usually `metadata`).
pub fn metadata(meta: &ObjectMeta, path: &str) -> Result<()> {
    if meta.name.is_empty() {
        return Err(Error::invalid(format!("{path}.name"), "must not be empty"));
    }
    Ok(())
}

/// Checks a container group spec at `path`.
pub fn container_group_spec(spec: &ContainerGroupSpec, path: &str) -> Result<()> {
    if spec.containers.is_empty() {
        return Err(Error::invalid(format!("{path}.containers"), "needs at least one container"));
    }
    Ok(())
}

/// Checks a deployment spec at `path`.
pub fn deployment_spec(spec: &DeploymentSpec, path: &str) -> Result<()> {
    container_group_spec(&spec.template.spec, &format!("{path}.template.spec"))
}

/// Checks a cron job spec at `path`.
pub fn cron_job_spec(spec: &CronJobSpec, path: &str) -> Result<()> {
    container_group_spec(&spec.template.spec, &format!("{path}.template.spec"))
}

/// Checks a set of manifests applied together: each one, unique names per kind, and cron job
/// parents acyclic.
pub fn manifests(items: &[Manifest]) -> Result<()> {
    for m in items {
        m.validate()?;
    }
    Ok(())
}
