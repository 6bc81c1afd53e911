//! Pure translation between tars' kinds and Kubernetes objects: no I/O, unit-tested.
//!
//! Every object tars sends carries the ownership labels of [`tars_api::meta`] and, in the
//! [`SPEC_ANNOTATION`] annotation, the tars spec it was rendered from (as JSON), so that `get`
//! returns exactly the spec that was applied, whatever the server defaulted.

pub(crate) mod cronjob;
pub(crate) mod deployment;
pub(crate) mod group;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta as K8sMeta, Time};
use tars_api::meta::{self, Kind, Labels, ObjectMeta};
use tars_api::{Error, Result};

/// The annotation holding the tars spec an object was rendered from (JSON).
pub(crate) const SPEC_ANNOTATION: &str = "tars.dev/spec";

/// The annotation holding a group's tars generation (pods have none of their own): it grows
/// by one each time the spec changes, as a pod is replaced.
pub(crate) const GENERATION_ANNOTATION: &str = "tars.dev/generation";

/// The label that ties the pods of a tars deployment to it (its selector).
pub(crate) const DEPLOYMENT_LABEL: &str = "tars.dev/deployment";

/// The label that ties the jobs and pods of a tars cron job to it.
pub(crate) const CRON_JOB_LABEL: &str = "tars.dev/cron-job";

/// Who sends the objects: the ownership stamp and the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// This tars instance (`tars.dev/instance`).
    pub(crate) instance: String,
    /// The namespace every object goes to.
    pub(crate) namespace: String,
}

/// What the server speaks, discovered once per client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerInfo {
    /// `major.minor` of the server, e.g. (1, 20).
    pub(crate) version: (u32, u32),
    /// Whether `batch/v1` serves CronJob (1.21+); otherwise `batch/v1beta1` is used.
    pub(crate) batch_v1_cron_job: bool,
}

impl ServerInfo {
    /// Whether CronJob's `timeZone` field exists on this server (1.25+ and batch/v1).
    pub(crate) fn cron_time_zone(&self) -> bool {
        self.batch_v1_cron_job && self.version >= (1, 25)
    }
}

impl Stamp {
    /// The labels of an object named by tars: the user's, then the ownership stamp (which the
    /// user cannot override: validation rejects the reserved keys).
    pub(crate) fn labels(&self, user: &Labels) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> =
            user.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        labels.insert(
            meta::MANAGED_BY_LABEL.to_owned(),
            meta::MANAGED_BY_VALUE.to_owned(),
        );
        labels.insert(meta::INSTANCE_LABEL.to_owned(), self.instance.clone());
        labels
    }

    /// The object tars sends for `spec` under `metadata`: the user's part of the metadata
    /// (name, labels, annotations) with the ownership stamp, no status.
    pub(crate) fn desired<S: tars_api::Spec>(
        &self,
        metadata: &ObjectMeta,
        spec: S,
    ) -> tars_api::Object<S> {
        let mut metadata = metadata.user_part();
        metadata.stamp_owner(&self.instance);
        tars_api::Object {
            metadata,
            spec,
            status: None,
        }
    }

    /// Whether an object with these labels belongs to this instance.
    pub(crate) fn owns(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        labels.is_some_and(|l| {
            l.get(meta::MANAGED_BY_LABEL).map(String::as_str) == Some(meta::MANAGED_BY_VALUE)
                && l.get(meta::INSTANCE_LABEL) == Some(&self.instance)
        })
    }
}

/// Copies what tars keeps of a Kubernetes object's metadata: name, labels and annotations
/// (without the [`SPEC_ANNOTATION`] and [`GENERATION_ANNOTATION`] of tars itself), uid,
/// generation, resource version, creation time.
pub(crate) fn object_meta(m: &K8sMeta) -> ObjectMeta {
    let mut annotations: Labels = m.annotations.clone().unwrap_or_default();
    let tars_generation = annotations
        .remove(GENERATION_ANNOTATION)
        .and_then(|g| g.parse().ok());
    annotations.remove(SPEC_ANNOTATION);
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    annotations.remove("deployment.kubernetes.io/revision");
    ObjectMeta {
        name: m.name.clone().unwrap_or_default(),
        labels: m.labels.clone().unwrap_or_default(),
        annotations,
        uid: m.uid.clone(),
        generation: tars_generation.or_else(|| m.generation.and_then(|g| u64::try_from(g).ok())),
        resource_version: m.resource_version.clone(),
        created_at: m
            .creation_timestamp
            .as_ref()
            .and_then(|t| jiff::Timestamp::from_second(t.0.as_second()).ok()),
    }
}

/// The metadata of an object tars sends: name, namespace, the user's labels with the ownership
/// stamp, the user's annotations with the spec (`spec_json`) and, for pods, the generation.
pub(crate) fn k8s_meta(
    meta: &ObjectMeta,
    stamp: &Stamp,
    spec_json: String,
    generation: Option<u64>,
) -> K8sMeta {
    let mut annotations: BTreeMap<String, String> = meta.annotations.clone();
    annotations.insert(SPEC_ANNOTATION.to_owned(), spec_json);
    if let Some(g) = generation {
        annotations.insert(GENERATION_ANNOTATION.to_owned(), g.to_string());
    }
    K8sMeta {
        name: Some(meta.name.clone()),
        namespace: Some(stamp.namespace.clone()),
        labels: Some(stamp.labels(&meta.labels)),
        annotations: Some(annotations),
        ..Default::default()
    }
}

/// Reads the tars spec an object was rendered from (its [`SPEC_ANNOTATION`]).
pub(crate) fn spec_of<S: serde::de::DeserializeOwned>(kind: Kind, m: &K8sMeta) -> Result<S> {
    let name = m.name.as_deref().unwrap_or_default();
    let json = m
        .annotations
        .as_ref()
        .and_then(|a| a.get(SPEC_ANNOTATION))
        .ok_or_else(|| {
            Error::backend(
                crate::BACKEND,
                format!("{kind} {name} has no {SPEC_ANNOTATION} annotation: not made by tars"),
            )
        })?;
    serde_json::from_str(json).map_err(|e| {
        Error::backend(
            crate::BACKEND,
            format!("{kind} {name}: unreadable {SPEC_ANNOTATION} annotation: {e}"),
        )
    })
}

/// The JSON of a tars spec, for the [`SPEC_ANNOTATION`].
pub(crate) fn spec_json<S: serde::Serialize>(spec: &S) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| Error::backend(crate::BACKEND, e))
}

/// A duration in whole seconds, rounded up (Kubernetes counts in seconds), saturating.
pub(crate) fn secs_ceil(d: Duration) -> i64 {
    let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(whole).unwrap_or(i64::MAX)
}

/// [`secs_ceil`] for the many `int32` second fields of Kubernetes, saturating.
pub(crate) fn secs_ceil_i32(d: Duration) -> i32 {
    i32::try_from(secs_ceil(d)).unwrap_or(i32::MAX)
}

/// A count for an `int32` field of Kubernetes, saturating.
pub(crate) fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A non-negative `int32` count of Kubernetes as tars' `u32` (negative as 0).
pub(crate) fn u32_of(n: Option<i32>) -> u32 {
    n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

/// A Kubernetes time as a jiff timestamp.
pub(crate) fn timestamp(t: Option<&Time>) -> Option<jiff::Timestamp> {
    t.map(|t| t.0)
}

/// The error for something Kubernetes cannot express: `Unsupported` for `feature`, with the
/// tars field path first in the reason (`spec.time_zone: ...`).
pub(crate) fn unsupported(feature: tars_api::Feature, field: &str, reason: &str) -> Error {
    Error::unsupported(feature, crate::BACKEND, format!("{field}: {reason}"))
}

/// The JSON merge patch that turns the labels and annotations of `current` into those of
/// `desired`: every key of `desired` is set, every key only `current` has is removed (null).
/// A merge patch, unlike a server-side apply, removes a key whoever set it.
pub(crate) fn metadata_patch(current: &K8sMeta, desired: &K8sMeta) -> serde_json::Value {
    fn map(
        current: Option<&BTreeMap<String, String>>,
        desired: Option<&BTreeMap<String, String>>,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut out: serde_json::Map<String, serde_json::Value> = desired
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        for k in current.into_iter().flatten().map(|(k, _)| k) {
            out.entry(k.clone()).or_insert(serde_json::Value::Null);
        }
        out
    }
    serde_json::json!({
        "metadata": {
            "labels": map(current.labels.as_ref(), desired.labels.as_ref()),
            "annotations": map(current.annotations.as_ref(), desired.annotations.as_ref()),
        }
    })
}

#[cfg(test)]
mod patch_tests {
    use super::*;

    fn meta(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> K8sMeta {
        let m = |kv: &[(&str, &str)]| {
            Some(
                kv.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        K8sMeta {
            labels: m(labels),
            annotations: m(annotations),
            ..Default::default()
        }
    }

    #[test]
    fn a_metadata_patch_sets_what_is_desired_and_removes_what_is_not() {
        let current = meta(
            &[("a", "1"), ("gone", "x")],
            &[("tars.dev/spec", "{}"), ("old", "y")],
        );
        let desired = meta(
            &[("a", "2"), ("new", "3")],
            &[("tars.dev/spec", "{\"v\":1}")],
        );
        assert_eq!(
            metadata_patch(&current, &desired),
            serde_json::json!({
                "metadata": {
                    "labels": {"a": "2", "new": "3", "gone": null},
                    "annotations": {"tars.dev/spec": "{\"v\":1}", "old": null},
                }
            })
        );
    }

    #[test]
    fn a_metadata_patch_of_equal_metadata_only_restates_it() {
        let m = meta(&[("a", "1")], &[]);
        let patch = metadata_patch(&m, &m);
        assert_eq!(patch["metadata"]["labels"], serde_json::json!({"a": "1"}));
        assert_eq!(patch["metadata"]["annotations"], serde_json::json!({}));
    }
}

/// Renders one object of every kind and variant tars sends, for schema validation against
/// current Kubernetes (`scripts/engines/k8s/validate.sh`): written as YAML, one file each,
/// into `TARS_RENDER_DIR` when it is set; always checked to read back as its k8s-openapi type.
#[cfg(test)]
mod render_tests {
    use std::path::PathBuf;

    use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
    use k8s_openapi::api::batch::v1::{CronJob as K8sCronJob, Job};
    use k8s_openapi::api::core::v1::Pod;
    use serde::de::DeserializeOwned;
    use tars_api::Strategy;
    use tars_api::deployment::IntOrPercent;

    use super::{ServerInfo, cronjob, deployment, group};

    /// The YAML of `value`, checked to read back as a `T`.
    fn yaml_of<T: DeserializeOwned>(name: &str, value: &serde_json::Value) -> String {
        let yaml = serde_yaml_ng::to_string(value).expect("YAML");
        let _: T = serde_yaml_ng::from_str(&yaml)
            .unwrap_or_else(|e| panic!("{name} does not read back as its k8s-openapi type: {e}"));
        assert!(
            value["apiVersion"].is_string() && value["kind"].is_string(),
            "{name}"
        );
        yaml
    }

    #[test]
    fn render_every_object_tars_sends() {
        let stamp = group::tests::stamp();
        let mut objects: Vec<(&str, String)> = Vec::new();

        let pod = group::pod(&group::tests::full_group(), &stamp).expect("pod");
        let pod = serde_json::to_value(&pod).expect("json");
        objects.push(("pod-probes-secret-affinity", yaml_of::<Pod>("pod", &pod)));

        let rolling = Strategy::Rolling {
            max_surge: IntOrPercent::Int(1),
            max_unavailable: IntOrPercent::Percent(25),
        };
        for (name, strategy) in [
            ("deployment-rolling", rolling),
            ("deployment-recreate", Strategy::Recreate),
        ] {
            let mut d = deployment::tests::tars_deployment(strategy);
            d.spec.template.spec = group::tests::full_spec();
            let k = deployment::deployment(&d, &stamp).expect("deployment");
            let v = serde_json::to_value(&k).expect("json");
            objects.push((name, yaml_of::<K8sDeployment>(name, &v)));
        }

        let server = ServerInfo {
            version: (1, 33),
            batch_v1_cron_job: true,
        };
        let mut c = cronjob::tests::tars_cron_job("0 30 2 * * MON-FRI");
        c.spec.time_zone = Some("Europe/Berlin".into());
        c.spec.template.spec.placement = group::tests::full_spec().placement;
        let v = cronjob::cron_job(&c, &stamp, &server).expect("cron job");
        assert_eq!(v["apiVersion"], "batch/v1");
        objects.push((
            "cronjob-batch-v1-time-zone",
            yaml_of::<K8sCronJob>("cronjob", &v),
        ));

        let job = cronjob::job_from_cron_job(&c, &stamp, "report-manual-1").expect("job");
        let v = serde_json::to_value(&job).expect("json");
        assert_eq!(v["apiVersion"], "batch/v1");
        assert_eq!(v["kind"], "Job");
        objects.push(("job-manual", yaml_of::<Job>("job", &v)));

        match std::env::var_os("TARS_RENDER_DIR") {
            None => println!(
                "render: TARS_RENDER_DIR is not set; {} objects rendered and checked, none written",
                objects.len()
            ),
            Some(dir) => {
                let dir = PathBuf::from(dir);
                std::fs::create_dir_all(&dir).expect("render dir");
                for (name, yaml) in &objects {
                    let path = dir.join(format!("{name}.yaml"));
                    std::fs::write(&path, yaml).expect("write");
                    println!("render: wrote {}", path.display());
                }
            }
        }
    }
}
