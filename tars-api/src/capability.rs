//! What a backend can do, feature by feature (as OpenDAL's `Capability`, but three-valued).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An operation or optional field a backend may or may not support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Feature {
    /// Container groups: apply, get, list, delete.
    ContainerGroups,
    /// Deployments.
    Deployments,
    /// Cron jobs.
    CronJobs,
    /// `watch` with snapshot, end-of-snapshot marker and deltas.
    Watch,
    /// `apply` with `dry_run`.
    DryRun,
    /// Label selectors in `list` and `watch`.
    Selectors,
    /// Paging in `list`.
    Paging,
    /// `logs(container)`.
    Logs,
    /// Containers with no `command` (the image's entrypoint).
    ImageEntrypoint,
    /// Environment variables from secrets.
    Secrets,
    /// Readiness checks.
    ReadinessChecks,
    /// Liveness checks.
    LivenessChecks,
    /// Host attribute constraints.
    PlacementConstraints,
    /// Spread / anti-affinity.
    Spread,
    /// CPU limits.
    CpuLimits,
    /// Memory limits.
    MemoryLimits,
    /// Restart policies.
    RestartPolicy,
    /// Rolling updates with max_surge / max_unavailable.
    RollingUpdate,
    /// Percentage batches.
    Batches,
    /// Manual gates between batches.
    Gates,
    /// Roll back to an earlier revision.
    Rollback,
    /// Automatic rollback on a progress deadline.
    AutoRollback,
    /// Pause and resume a rollout.
    PauseResume,
    /// Scale a deployment.
    Scale,
    /// Cron schedules in an IANA time zone.
    TimeZones,
    /// Schedules with a seconds field.
    SecondsSchedules,
    /// ISO 8601 repeating-interval schedules.
    Iso8601Schedules,
    /// Cron job parents (DAG).
    Parents,
    /// Concurrency policies.
    Concurrency,
    /// Retries of failed runs.
    Retries,
    /// Run a cron job now.
    Trigger,
}

impl Feature {
    /// Every feature, in a stable order.
    pub const ALL: &'static [Feature] = &[
        Feature::ContainerGroups,
        Feature::Deployments,
        Feature::CronJobs,
        Feature::Watch,
        Feature::DryRun,
        Feature::Selectors,
        Feature::Paging,
        Feature::Logs,
        Feature::ImageEntrypoint,
        Feature::Secrets,
        Feature::ReadinessChecks,
        Feature::LivenessChecks,
        Feature::PlacementConstraints,
        Feature::Spread,
        Feature::CpuLimits,
        Feature::MemoryLimits,
        Feature::RestartPolicy,
        Feature::RollingUpdate,
        Feature::Batches,
        Feature::Gates,
        Feature::Rollback,
        Feature::AutoRollback,
        Feature::PauseResume,
        Feature::Scale,
        Feature::TimeZones,
        Feature::SecondsSchedules,
        Feature::Iso8601Schedules,
        Feature::Parents,
        Feature::Concurrency,
        Feature::Retries,
        Feature::Trigger,
    ];
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How a backend supports a feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Support {
    /// The engine does it itself.
    Native,
    /// tars does it on top of the engine (its rollout or cron engine, for example).
    Emulated,
    /// Not available; operations needing it return `Error::Unsupported` with this reason.
    Unsupported(String),
}

impl Support {
    /// True for `Native` and `Emulated`.
    pub fn is_supported(&self) -> bool {
        !matches!(self, Support::Unsupported(_))
    }
}

/// A backend's support for every [`Feature`]. Features not listed are unsupported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    features: BTreeMap<Feature, Support>,
}

impl Capabilities {
    /// No feature supported.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the support of one feature (builder style).
    pub fn with(mut self, feature: Feature, support: Support) -> Self {
        self.features.insert(feature, support);
        self
    }

    /// Marks several features natively supported (builder style).
    pub fn native(mut self, features: &[Feature]) -> Self {
        for f in features {
            self.features.insert(*f, Support::Native);
        }
        self
    }

    /// Marks several features unsupported for one reason (builder style).
    pub fn unsupported(mut self, features: &[Feature], reason: &str) -> Self {
        for f in features {
            self.features
                .insert(*f, Support::Unsupported(reason.to_owned()));
        }
        self
    }

    /// The support of `feature`.
    pub fn get(&self, feature: Feature) -> Support {
        self.features
            .get(&feature)
            .cloned()
            .unwrap_or_else(|| Support::Unsupported("not implemented by this backend".to_owned()))
    }

    /// True when `feature` is native or emulated.
    pub fn supports(&self, feature: Feature) -> bool {
        self.get(feature).is_supported()
    }

    /// `Ok(())` when `feature` is supported, else `Error::Unsupported` naming `backend`.
    pub fn require(&self, feature: Feature, backend: &str) -> crate::Result<()> {
        match self.get(feature) {
            Support::Unsupported(reason) => {
                Err(crate::Error::unsupported(feature, backend, reason))
            }
            _ => Ok(()),
        }
    }

    /// Every feature with its support, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = (Feature, Support)> + '_ {
        Feature::ALL.iter().map(|f| (*f, self.get(*f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_features_are_unsupported_and_require_says_so() {
        let caps = Capabilities::new().native(&[Feature::Logs]);
        assert!(caps.supports(Feature::Logs));
        assert!(!caps.supports(Feature::Batches));
        let err = caps
            .require(Feature::Batches, "local")
            .expect_err("unsupported");
        assert!(matches!(
            err,
            crate::Error::Unsupported {
                feature: Feature::Batches,
                ..
            }
        ));
        assert_eq!(caps.iter().count(), Feature::ALL.len());
    }
}
