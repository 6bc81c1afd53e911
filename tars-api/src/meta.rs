//! Object metadata shared by every kind, and the ownership stamp.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Label every object created by tars carries, with the value [`MANAGED_BY_VALUE`].
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY_VALUE: &str = "tars";
/// Label carrying the id of the tars instance that owns the object. Two services embedding tars
/// against the same engine use different instance ids and never touch each other's objects.
pub const INSTANCE_LABEL: &str = "tars.dev/instance";
/// Label carrying the name of the Deployment or CronJob a group belongs to.
pub const OWNER_LABEL: &str = "tars.dev/owner";

/// The workload kinds tars manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// N containers that start, share a network and die together (a pod).
    ContainerGroup,
    /// R replicas of a group, changed by rolling update.
    Deployment,
    /// A group run on a schedule.
    CronJob,
}

impl Kind {
    /// The kind's name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ContainerGroup => "ContainerGroup",
            Kind::Deployment => "Deployment",
            Kind::CronJob => "CronJob",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Labels and annotations: string maps, sorted for stable output and hashing.
pub type Labels = BTreeMap<String, String>;

/// Metadata of an object.
///
/// `name`, `labels` and `annotations` are the user's; the rest is filled in by the backend and
/// ignored on apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMeta {
    /// DNS-1123 label: lower-case letters, digits and `-`, at most 63 characters.
    pub name: String,
    /// Labels, selectable with a [`crate::LabelSelector`].
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Free-form annotations, not selectable.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub annotations: Labels,
    /// Set by the backend: unique id of this incarnation of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Set by the backend: increases by one each time the spec changes. An apply of an unchanged
    /// spec does not increase it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Set by the backend: opaque version of the whole object (spec or status), for watches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Set by the backend: when the object was first created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<jiff::Timestamp>,
}

impl ObjectMeta {
    /// Metadata with just a name.
    pub fn named(name: impl Into<String>) -> Self {
        ObjectMeta {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Adds a label (builder style).
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Stamps the ownership labels of tars instance `instance`.
    pub fn stamp_owner(&mut self, instance: &str) {
        self.labels
            .insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned());
        self.labels
            .insert(INSTANCE_LABEL.to_owned(), instance.to_owned());
    }

    /// True when the object carries the ownership stamp of tars instance `instance`.
    pub fn is_owned_by(&self, instance: &str) -> bool {
        self.labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
            && self.labels.get(INSTANCE_LABEL).map(String::as_str) == Some(instance)
    }

    /// The user's part of the metadata (name, labels, annotations), without what the backend
    /// sets; used to decide whether an apply changes anything.
    pub fn user_part(&self) -> ObjectMeta {
        ObjectMeta {
            name: self.name.clone(),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_needs_both_labels_and_the_same_instance() {
        let mut m = ObjectMeta::named("web");
        assert!(!m.is_owned_by("a"));
        m.stamp_owner("a");
        assert!(m.is_owned_by("a"));
        assert!(!m.is_owned_by("b"));
        m.labels.remove(MANAGED_BY_LABEL);
        assert!(!m.is_owned_by("a"));
    }
}
