//! The generic object envelope: `apiVersion`, `kind`, `metadata`, `spec`, `status`.

use std::fmt::Debug;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::meta::{Kind, ObjectMeta};

/// The API version every tars manifest carries.
pub const API_VERSION: &str = "tars/v1";

/// A spec type: ties a spec to its kind and its status type.
pub trait Spec:
    Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The kind this spec describes.
    const KIND: Kind;
    /// The status the backend reports for it.
    type Status: Clone
        + Debug
        + Default
        + PartialEq
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;

    /// Checks the spec; `path` is the field path of the spec itself (`spec`), to prefix the
    /// path of an offending field in `Error::Invalid`.
    fn validate(&self, path: &str) -> crate::Result<()>;

    /// Checks the spec of the object named `name` (what needs the name, such as a cron job
    /// listing itself among its parents); by default the same as [`Spec::validate`].
    fn validate_named(&self, name: &str, path: &str) -> crate::Result<()> {
        let _ = name;
        self.validate(path)
    }
}

/// An object of kind `S::KIND`: metadata, the desired state (`spec`) and the observed state
/// (`status`, filled in by the backend).
#[derive(Debug, Clone, PartialEq)]
pub struct Object<S: Spec> {
    /// Name, labels, annotations, and what the backend sets.
    pub metadata: ObjectMeta,
    /// What the user asked for.
    pub spec: S,
    /// What the backend observed; `None` on objects built by the user.
    pub status: Option<S::Status>,
}

impl<S: Spec> Object<S> {
    /// A new object with a name and a spec.
    pub fn new(name: impl Into<String>, spec: S) -> Self {
        Object {
            metadata: ObjectMeta::named(name),
            spec,
            status: None,
        }
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Adds a label (builder style).
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata = self.metadata.with_label(key, value);
        self
    }

    /// The object's kind.
    pub fn kind(&self) -> Kind {
        S::KIND
    }

    /// Checks metadata and spec before anything leaves the process; the error names the field.
    pub fn validate(&self) -> crate::Result<()> {
        crate::validate::metadata(&self.metadata, "metadata")?;
        self.spec.validate_named(&self.metadata.name, "spec")
    }

    /// The status, or its default when the backend has not reported one.
    pub fn status_or_default(&self) -> S::Status {
        self.status.clone().unwrap_or_default()
    }
}

#[derive(Serialize)]
struct Out<'a, S: Spec> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    metadata: &'a ObjectMeta,
    spec: &'a S,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: &'a Option<S::Status>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound = "S: Spec")]
struct In<S: Spec> {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: S,
    #[serde(default)]
    status: Option<S::Status>,
}

impl<S: Spec> Serialize for Object<S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        Out {
            api_version: API_VERSION,
            kind: S::KIND.as_str(),
            metadata: &self.metadata,
            spec: &self.spec,
            status: &self.status,
        }
        .serialize(serializer)
    }
}

impl<'de, S: Spec> Deserialize<'de> for Object<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = In::<S>::deserialize(deserializer)?;
        if raw.api_version != API_VERSION {
            return Err(D::Error::custom(format!(
                "apiVersion must be {API_VERSION:?}, found {:?}",
                raw.api_version
            )));
        }
        if raw.kind != S::KIND.as_str() {
            return Err(D::Error::custom(format!(
                "kind must be {:?}, found {:?}",
                S::KIND.as_str(),
                raw.kind
            )));
        }
        Ok(Object {
            metadata: raw.metadata,
            spec: raw.spec,
            status: raw.status,
        })
    }
}
