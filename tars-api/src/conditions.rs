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

/// Every replica of the current revision is available and no old one is left, in a status
/// that reflects the current spec (its observed generation is the object's generation).
pub fn is_deployment_complete() -> impl Condition<DeploymentSpec> {
    |o: Option<&Object<DeploymentSpec>>| {
        o.and_then(|o| {
            o.status
                .as_ref()
                .map(|s| (o.spec.replicas, o.metadata.generation, s))
        })
        .is_some_and(|(want, generation, s)| {
            generation.is_none_or(|g| s.observed_generation >= g)
                && s.updated == want
                && s.available == want
                && s.replicas == want
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::DeploymentStatus;
    use crate::group::{Container, ContainerGroup, ContainerGroupStatus, GroupTemplate};

    #[test]
    fn a_deployment_is_complete_only_in_a_status_of_its_current_generation() {
        let mut d = Object::new(
            "web",
            DeploymentSpec {
                replicas: 2,
                template: GroupTemplate {
                    labels: Default::default(),
                    annotations: Default::default(),
                    spec: ContainerGroupSpec::new(vec![Container::new("a", "i", &["x"])]),
                },
                strategy: Default::default(),
                min_ready: Default::default(),
                progress_deadline: None,
                auto_rollback: false,
                paused: false,
                revision_history_limit: 10,
            },
        );
        d.metadata.generation = Some(2);
        d.status = Some(DeploymentStatus {
            observed_generation: 1,
            replicas: 2,
            updated: 2,
            available: 2,
            ..Default::default()
        });
        assert!(!is_deployment_complete().holds(Some(&d)), "a stale status");
        if let Some(s) = d.status.as_mut() {
            s.observed_generation = 2;
        }
        assert!(is_deployment_complete().holds(Some(&d)));
    }

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
