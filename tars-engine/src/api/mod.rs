//! The Deployment and CronJob APIs of a backend whose engine has neither: tars' rollout and
//! cron engines over the backend's own container groups (through a [`GroupDriver`]), with
//! their state in a [`Store`]. The embedded, Mesos and OpenStack backends use these.
//!
//! A backend hands in what it can run: a [`SupportCheck`] on the groups a template would make,
//! so that a deployment or a job it cannot run is refused at apply (naming the field under
//! `spec.template.spec`), not replica by replica or run by run later.
//!
//! [`GroupDriver`]: crate::driver::GroupDriver
//! [`Store`]: crate::store::Store

mod cron_jobs;
mod deployments;

use std::sync::Arc;

use tars_api::capability::{Capabilities, Feature, Support};
use tars_api::{ContainerGroup, Error, Result};

pub use cron_jobs::EngineCronJobs;
pub use deployments::EngineDeployments;

/// Whether this backend can run a group: `Err(Unsupported | Invalid)` naming the field of the
/// group (`spec.…`) when it cannot.
pub type SupportCheck = Arc<dyn Fn(&ContainerGroup) -> Result<()> + Send + Sync>;

/// `caps` with what tars' rollout and cron engines provide over any backend's groups
/// (deployments: rolling updates, batches, gates, rollback, auto-rollback, pause/resume, scale;
/// cron jobs: time zones, per-second and ISO 8601 schedules, parents, concurrency, retries,
/// trigger), each `Emulated`.
pub fn with_engine_features(caps: Capabilities) -> Capabilities {
    use Feature::*;
    [
        Deployments,
        RollingUpdate,
        Batches,
        Gates,
        Rollback,
        AutoRollback,
        PauseResume,
        Scale,
        CronJobs,
        TimeZones,
        SecondsSchedules,
        Iso8601Schedules,
        Parents,
        Concurrency,
        Retries,
        Trigger,
    ]
    .into_iter()
    .fold(caps, |caps, f| caps.with(f, Support::Emulated))
}

/// A check that accepts every group.
pub fn any_group() -> SupportCheck {
    Arc::new(|_| Ok(()))
}

/// Runs `check` on the group a template makes, with the field paths of its error moved under
/// `spec.template.` (where the template is in a deployment or a cron job).
pub(crate) fn check_template(
    check: &SupportCheck,
    name: &str,
    template: &tars_api::ContainerGroupSpec,
) -> Result<()> {
    let group = ContainerGroup::new(name, template.clone());
    check(&group).map_err(|e| match e {
        Error::Unsupported {
            feature,
            backend,
            reason,
        } => Error::Unsupported {
            feature,
            backend,
            reason: under_template(&reason),
        },
        Error::Invalid { field, reason } => Error::Invalid {
            field: under_template(&field),
            reason,
        },
        other => other,
    })
}

fn under_template(path: &str) -> String {
    match path.strip_prefix("spec.") {
        Some(rest) => format!("spec.template.spec.{rest}"),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use tars_api::{Container, ContainerGroupSpec, Feature};

    use super::*;

    #[test]
    fn errors_of_the_check_name_the_template_field() {
        let check: SupportCheck = Arc::new(|g| {
            if g.spec.containers.len() > 1 {
                return Err(Error::Unsupported {
                    feature: Feature::ContainerGroups,
                    backend: "test".into(),
                    reason: "spec.containers[1]: one container only".into(),
                });
            }
            Err(Error::Invalid {
                field: "spec.containers[0].image".into(),
                reason: "no".into(),
            })
        });
        let one = ContainerGroupSpec::new(vec![Container::new("a", "img", &["true"])]);
        match check_template(&check, "x", &one) {
            Err(Error::Invalid { field, .. }) => {
                assert_eq!(field, "spec.template.spec.containers[0].image")
            }
            other => panic!("{other:?}"),
        }
        let two = ContainerGroupSpec::new(vec![
            Container::new("a", "img", &["true"]),
            Container::new("b", "img", &["true"]),
        ]);
        match check_template(&check, "x", &two) {
            Err(Error::Unsupported { reason, .. }) => {
                assert_eq!(
                    reason,
                    "spec.template.spec.containers[1]: one container only"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(check_template(&any_group(), "x", &two).is_ok());
    }
}
