//! ContainerGroup ⇄ Pod.

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use tars_api::{ContainerGroup, ContainerGroupSpec, Result};

use super::Stamp;

/// The pod of a group: metadata from [`super::k8s_meta`] (spec annotation, generation
/// annotation from `group.metadata.generation`), spec from [`pod_spec`].
pub(crate) fn pod(group: &ContainerGroup, stamp: &Stamp) -> Result<Pod> {
    let _ = (group, stamp);
    todo!()
}

/// The pod spec of a group spec (shared by pods, deployment and job templates). Anything
/// Kubernetes cannot express → `Error::Unsupported` naming the field.
pub(crate) fn pod_spec(spec: &ContainerGroupSpec) -> Result<PodSpec> {
    let _ = spec;
    todo!()
}

/// The group a pod shows: metadata from [`super::object_meta`], spec from the spec
/// annotation, status from the pod's status.
pub(crate) fn group_from_pod(pod: &Pod) -> Result<ContainerGroup> {
    let _ = pod;
    todo!()
}
