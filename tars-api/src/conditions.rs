//! Conditions to wait for, as small predicates over an object that may not exist (like
//! kube-runtime's `wait::conditions`). `tars_engine::wait::wait_for` drives them.

use crate::deployment::DeploymentSpec;
use crate::group::{ContainerGroupSpec, GroupPhase};
use crate::object::{Object, Spec};

/// A predicate over the current state of an object (`None`: it does not exist).
pub trait Condition<S: Spec>: Send + Sync {
    /// Whether the condition holds.
    fn holds(&self, object: Option<&Object<S>>) -> bool;
}

impl<S: Spec, F: Fn(Option<&Object<S>>) -> bool + Send + Sync> Condition<S> for F {
    fn holds(&self, object: Option<&Object<S>>) -> bool {
        self(object)
    }
}

/// The object does not exist (any more).
pub fn is_deleted<S: Spec>() -> impl Condition<S> {
    |o: Option<&Object<S>>| o.is_none()
}

/// Every container of the group is running.
pub fn is_group_running() -> impl Condition<ContainerGroupSpec> {
    |o: Option<&Object<ContainerGroupSpec>>| {
        o.and_then(|o| o.status.as_ref())
            .is_some_and(|s| s.phase == GroupPhase::Running)
    }
}

/// The group is running and ready (readiness checks pass).
pub fn is_group_ready() -> impl Condition<ContainerGroupSpec> {
    |o: Option<&Object<ContainerGroupSpec>>| {
        o.and_then(|o| o.status.as_ref())
            .is_some_and(|s| s.phase == GroupPhase::Running && s.ready)
    }
}

/// The group has finished (`Succeeded` or `Failed`).
pub fn is_group_finished() -> impl Condition<ContainerGroupSpec> {
    |o: Option<&Object<ContainerGroupSpec>>| {
        o.and_then(|o| o.status.as_ref())
            .is_some_and(|s| s.phase.is_terminal())
    }
}

/// Every replica of the current revision is available and no old one is left.
pub fn is_deployment_complete() -> impl Condition<DeploymentSpec> {
    |o: Option<&Object<DeploymentSpec>>| {
        o.and_then(|o| o.status.as_ref().map(|s| (o.spec.replicas, s)))
            .is_some_and(|(want, s)| s.updated == want && s.available == want && s.replicas == want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{Container, ContainerGroup, ContainerGroupStatus};

    #[test]
    fn group_conditions_follow_phase_and_ready() {
        let mut g = ContainerGroup::new(
            "g",
            ContainerGroupSpec::new(vec![Container::new("a", "i", &["x"])]),
        );
        assert!(!is_group_running().holds(Some(&g)));
        g.status = Some(ContainerGroupStatus {
            phase: GroupPhase::Running,
            ..Default::default()
        });
        assert!(is_group_running().holds(Some(&g)));
        assert!(!is_group_ready().holds(Some(&g)));
        assert!(is_deleted::<ContainerGroupSpec>().holds(None));
        assert!(!is_deleted().holds(Some(&g)));
    }
}
