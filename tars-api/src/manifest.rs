//! Manifests: `apiVersion: tars/v1` documents in YAML or JSON, of any kind.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cronjob::CronJob;
use crate::deployment::Deployment;
use crate::error::{Error, Result};
use crate::group::ContainerGroup;
use crate::meta::{Kind, ObjectMeta};
use crate::object::API_VERSION;

/// Manifests larger than this are refused before parsing.
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// One object of any kind, as read from a manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Manifest {
    /// A container group.
    ContainerGroup(ContainerGroup),
    /// A deployment.
    Deployment(Deployment),
    /// A cron job.
    CronJob(CronJob),
}

impl Manifest {
    /// The manifest's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Manifest::ContainerGroup(_) => Kind::ContainerGroup,
            Manifest::Deployment(_) => Kind::Deployment,
            Manifest::CronJob(_) => Kind::CronJob,
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Manifest::ContainerGroup(o) => &o.metadata,
            Manifest::Deployment(o) => &o.metadata,
            Manifest::CronJob(o) => &o.metadata,
        }
    }

    /// Validates the object (metadata and spec).
    pub fn validate(&self) -> Result<()> {
        match self {
            Manifest::ContainerGroup(o) => o.validate(),
            Manifest::Deployment(o) => o.validate(),
            Manifest::CronJob(o) => o.validate(),
        }
    }

    /// Reads every document of a YAML stream (`---` separated; JSON is YAML too). Each manifest
    /// is parsed, not yet validated; see [`crate::validate::manifests`].
    pub fn from_yaml(text: &str) -> Result<Vec<Manifest>> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(Error::invalid(
                "manifest",
                format!(
                    "is {} bytes, more than the limit of {MAX_MANIFEST_BYTES}",
                    text.len()
                ),
            ));
        }
        let mut out = Vec::new();
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let value = Value::deserialize(doc)
                .map_err(|e| Error::invalid(format!("documents[{i}]"), e.to_string()))?;
            if value.is_null() {
                continue; // an empty document, as after a trailing `---`
            }
            out.push(Self::from_value(value, &format!("documents[{i}]"))?);
        }
        Ok(out)
    }

    /// [`Manifest::from_yaml`] for bytes: text that is not UTF-8 is refused.
    pub fn from_yaml_bytes(bytes: &[u8]) -> Result<Vec<Manifest>> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(too_large(bytes.len()));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Error::invalid("manifest", format!("is not UTF-8 text: {e}")))?;
        Self::from_yaml(text)
    }

    /// Reads one JSON document.
    pub fn from_json(text: &str) -> Result<Manifest> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(Error::invalid(
                "manifest",
                format!(
                    "is {} bytes, more than the limit of {MAX_MANIFEST_BYTES}",
                    text.len()
                ),
            ));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| Error::invalid("manifest", e.to_string()))?;
        Self::from_value(value, "manifest")
    }

    /// Reads one manifest from a JSON value; errors name the field path, prefixed with
    /// `where_` only when the document itself is wrong.
    pub fn from_value(value: Value, where_: &str) -> Result<Manifest> {
        let api = value.get("apiVersion").and_then(Value::as_str);
        if api != Some(API_VERSION) {
            return Err(Error::invalid(
                "apiVersion",
                format!("{where_}: must be {API_VERSION:?}, found {api:?}"),
            ));
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid("kind", format!("{where_}: missing")))?
            .to_owned();
        match kind.as_str() {
            "ContainerGroup" => typed(value).map(Manifest::ContainerGroup),
            "Deployment" => typed(value).map(Manifest::Deployment),
            "CronJob" => typed(value).map(Manifest::CronJob),
            other => Err(Error::invalid(
                "kind",
                format!("{where_}: {other:?} is not ContainerGroup, Deployment or CronJob"),
            )),
        }
    }
}

fn too_large(len: usize) -> Error {
    Error::invalid(
        "manifest",
        format!("is {len} bytes, more than the limit of {MAX_MANIFEST_BYTES}"),
    )
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let reason = e.into_inner().to_string();
        // serde names a missing field in its message, at the path of the record that lacks it.
        let missing = reason
            .strip_prefix("missing field `")
            .and_then(|r| r.split_once('`'))
            .map(|(name, _)| name.to_owned());
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name,
            // An empty path is a top-level key that is itself empty (`"": 1`): the field
            // path must still name something.
            (".", None) | ("", None) => "manifest".to_owned(),
            (_, Some(name)) => format!("{path}.{name}"),
            (_, None) => path,
        };
        Error::invalid(field, reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: &str = r#"
apiVersion: tars/v1
kind: ContainerGroup
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
    - name: server
      image: python:3.11
      command: [python3, -m, http.server]
      ports: [{name: http}]
      resources: {cpu: 250m, memory: 64Mi}
      readiness:
        check: {http_get: {port: http, path: /}}
        period: 1s
"#;

    #[test]
    fn reads_a_yaml_group_with_defaults() {
        let ms = Manifest::from_yaml(GROUP).expect("valid");
        let Manifest::ContainerGroup(g) = &ms[0] else {
            panic!("not a group: {ms:?}")
        };
        assert_eq!(g.name(), "web");
        assert_eq!(g.spec.containers[0].resources.cpu, Some(crate::Cpu(250)));
        assert_eq!(g.spec.termination_grace_period.as_secs(), 30);
    }

    #[test]
    fn json_round_trip_keeps_the_object() {
        let ms = Manifest::from_yaml(GROUP).expect("valid");
        let json = serde_json::to_string(&ms[0]).expect("serializes");
        assert_eq!(Manifest::from_json(&json).expect("reads back"), ms[0]);
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let bad = GROUP.replace("image: python", "imagee: python");
        let e = Manifest::from_yaml(&bad).expect_err("unknown field");
        assert_eq!(e.field(), Some("spec.containers[0].imagee"), "{e}");
        let bad = GROUP.replace("memory: 64Mi", "memory: 64Q");
        let e = Manifest::from_yaml(&bad).expect_err("bad unit");
        assert_eq!(
            e.field(),
            Some("spec.containers[0].resources.memory"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_top_level_key_is_refused_naming_the_manifest() {
        // Found by the `manifest` fuzz target: the field path came out empty.
        for text in [
            "{\"apiVersion\": \"tars/v1\", \"kind\": \"ContainerGroup\", \"\": 1}",
            "apiVersion: tars/v1\nkind: CronJob\n'': x\n",
        ] {
            let e = Manifest::from_yaml(text).expect_err("unknown empty key");
            assert_eq!(e.field(), Some("manifest"), "{e}");
            assert!(e.to_string().contains("unknown field ``"), "{e}");
        }
    }

    #[test]
    fn wrong_kind_or_version_is_refused() {
        let e = Manifest::from_yaml(&GROUP.replace("ContainerGroup", "Pod")).expect_err("kind");
        assert_eq!(e.field(), Some("kind"));
        let e = Manifest::from_yaml(&GROUP.replace("tars/v1", "v1")).expect_err("version");
        assert_eq!(e.field(), Some("apiVersion"));
    }
}
