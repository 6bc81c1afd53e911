//! Deployment ⇄ apps/v1 Deployment (+ its ReplicaSets for revisions and history).
//!
//! - The selector is `{tars.dev/deployment: name, tars.dev/instance: instance}`; the pod
//!   template carries the template's labels, the selector labels, the ownership labels and
//!   `tars.dev/owner: name` (as the local backend's replicas), and in its [`SPEC_ANNOTATION`]
//!   the group spec, so that every ReplicaSet keeps the tars template it was made from: a
//!   rollback can give back the tars spec ([`spec_from_template`]) and every replica pod reads
//!   back as a group.
//! - No progress deadline in tars is `progressDeadlineSeconds: 2147483647`, which the
//!   Deployment controller treats as none.
//! - `auto_rollback` is kept in the spec annotation only: Kubernetes has no automatic
//!   rollback, the client must do it when `Progressing` turns False with
//!   `ProgressDeadlineExceeded`.
//! - Conditions keep Kubernetes' types (`Available`, `Progressing`, `ReplicaFailure`) and
//!   `Progressing`'s reasons are those of tars' rollout engine, so that waits and checks read
//!   the same on every backend: `NewReplicaSetAvailable` → `NewRevisionAvailable`,
//!   `ReplicaSetUpdated`/`NewReplicaSetCreated`/`FoundNewReplicaSet`/`DeploymentResumed` →
//!   `RolloutInProgress`, `DeploymentPaused` (status True, as tars reports a paused rollout)
//!   and `ProgressDeadlineExceeded` as they are.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment as K8sDeployment, DeploymentSpec as K8sDeploymentSpec, DeploymentStrategy,
    ReplicaSet, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta as K8sMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tars_api::deployment::{IntOrPercent, RevisionInfo};
use tars_api::group::{Condition, GroupTemplate};
use tars_api::meta::{self, Kind};
use tars_api::{
    ContainerGroupSpec, Deployment, DeploymentSpec, DeploymentStatus, Error, Feature, Result,
    Strategy,
};

use super::{DEPLOYMENT_LABEL, SPEC_ANNOTATION, Stamp, i32_of, secs_ceil_i32, u32_of};

/// The annotation in which the Deployment controller numbers revisions.
pub(crate) const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The label the Deployment controller gives the pods of one ReplicaSet.
pub(crate) const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// Why a revision was made (copied by the controller from the Deployment to its ReplicaSet).
pub(crate) const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";

/// The selector of the pods of deployment `name`: `{tars.dev/deployment, tars.dev/instance}`.
pub(crate) fn selector_labels(name: &str, stamp: &Stamp) -> BTreeMap<String, String> {
    BTreeMap::from([
        (DEPLOYMENT_LABEL.to_owned(), name.to_owned()),
        (meta::INSTANCE_LABEL.to_owned(), stamp.instance.clone()),
    ])
}

/// The apps/v1 Deployment of a tars deployment. `Batches` is `Unsupported`.
pub(crate) fn deployment(d: &Deployment, stamp: &Stamp) -> Result<K8sDeployment> {
    let name = d.metadata.name.as_str();
    let spec = &d.spec;
    let strategy = match &spec.strategy {
        Strategy::Rolling {
            max_surge,
            max_unavailable,
        } => DeploymentStrategy {
            type_: Some("RollingUpdate".to_owned()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(int_or_string(*max_surge)),
                max_unavailable: Some(int_or_string(*max_unavailable)),
            }),
        },
        Strategy::Recreate => DeploymentStrategy {
            type_: Some("Recreate".to_owned()),
            rolling_update: None,
        },
        Strategy::Batches { .. } => {
            return Err(super::unsupported(
                Feature::Batches,
                "spec.strategy",
                "Kubernetes Deployments roll by maxSurge/maxUnavailable; batch patterns with \
                 gates are not supported on this backend",
            ));
        }
    };
    let selector = selector_labels(name, stamp);
    let mut labels = stamp.labels(&spec.template.labels);
    labels.extend(selector.clone());
    labels.insert(meta::OWNER_LABEL.to_owned(), name.to_owned());
    let mut annotations = spec.template.annotations.clone();
    annotations.insert(
        SPEC_ANNOTATION.to_owned(),
        super::spec_json(&spec.template.spec)?,
    );
    // Kubernetes wants the deadline longer than minReadySeconds, which tars checks before the
    // rounding up to seconds (5.5 s and 5.9 s both become 6): keep it at least a second longer.
    let min_ready = secs_ceil_i32(spec.min_ready);
    let progress_deadline = spec.progress_deadline.map_or(i32::MAX, |d| {
        secs_ceil_i32(d).max(min_ready.saturating_add(1))
    });
    let pod_spec = super::group::pod_spec_at(&spec.template.spec, "spec.template.spec", &selector)?;
    Ok(K8sDeployment {
        metadata: super::k8s_meta(&d.metadata, stamp, super::spec_json(spec)?, None),
        spec: Some(K8sDeploymentSpec {
            replicas: Some(i32_of(spec.replicas)),
            selector: LabelSelector {
                match_labels: Some(selector),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(K8sMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(pod_spec),
            },
            strategy: Some(strategy),
            min_ready_seconds: Some(min_ready),
            progress_deadline_seconds: Some(progress_deadline),
            paused: Some(spec.paused),
            revision_history_limit: Some(i32_of(spec.revision_history_limit)),
        }),
        status: None,
    })
}

fn int_or_string(v: IntOrPercent) -> IntOrString {
    match v {
        IntOrPercent::Int(n) => IntOrString::Int(i32_of(n)),
        IntOrPercent::Percent(p) => IntOrString::String(format!("{p}%")),
    }
}

/// The revision number a ReplicaSet or Deployment carries, if any.
fn revision_of(m: &K8sMeta) -> Option<u64> {
    m.annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)?
        .parse()
        .ok()
}

/// The tars deployment an apps/v1 Deployment shows, given its ReplicaSets.
///
/// `current_revision` (the last revision whose rollout completed): the Deployment's revision
/// when `Progressing` says `NewReplicaSetAvailable` or the rollout is complete by the
/// replica counts; otherwise the newest older ReplicaSet
/// that still has available replicas (what the rollout is replacing); otherwise the newest
/// older revision; 0 when there is none.
pub(crate) fn deployment_from_k8s(
    d: &K8sDeployment,
    replica_sets: &[ReplicaSet],
) -> Result<Deployment> {
    let spec: DeploymentSpec = super::spec_of(Kind::Deployment, &d.metadata)?;
    let revision = revision_of(&d.metadata).unwrap_or(0);
    let s = d.status.clone().unwrap_or_default();
    let k8s_conditions = s.conditions.unwrap_or_default();
    // Complete as `kubectl rollout status` decides (the Progressing condition exists only
    // with a progress deadline): the controller saw this generation, and every replica is
    // updated and available, with none of an older revision left.
    let spec_replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let complete = k8s_conditions
        .iter()
        .any(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("NewReplicaSetAvailable"))
        || (s.observed_generation.is_some()
            && s.observed_generation == d.metadata.generation
            && s.updated_replicas.unwrap_or(0) == spec_replicas
            && s.replicas.unwrap_or(0) == spec_replicas
            && s.available_replicas.unwrap_or(0) == spec_replicas);
    let older = || {
        replica_sets
            .iter()
            .filter_map(|rs| revision_of(&rs.metadata).map(|r| (r, rs)))
            .filter(|(r, _)| *r < revision)
    };
    let current_revision = if complete {
        revision
    } else {
        older()
            .filter(|(_, rs)| rs.status.as_ref().and_then(|s| s.available_replicas) > Some(0))
            .map(|(r, _)| r)
            .max()
            .or_else(|| older().map(|(r, _)| r).max())
            .unwrap_or(0)
    };
    let want = d
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .map_or(spec.replicas, |r| u32_of(Some(r)));
    let available = u32_of(s.available_replicas);
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let conditions = k8s_conditions
        .iter()
        .map(|c| {
            let (status, reason) = match (c.type_.as_str(), c.reason.as_deref()) {
                ("Progressing", Some("NewReplicaSetAvailable")) => {
                    (true, Some("NewRevisionAvailable".to_owned()))
                }
                (
                    "Progressing",
                    Some(
                        "ReplicaSetUpdated"
                        | "NewReplicaSetCreated"
                        | "FoundNewReplicaSet"
                        | "DeploymentResumed",
                    ),
                ) => (c.status == "True", Some("RolloutInProgress".to_owned())),
                ("Progressing", Some("DeploymentPaused")) => {
                    (true, Some("DeploymentPaused".to_owned()))
                }
                (_, reason) => (c.status == "True", reason.map(str::to_owned)),
            };
            Condition {
                type_: c.type_.clone(),
                status,
                reason,
                message: c.message.clone(),
                last_transition: super::timestamp(c.last_transition_time.as_ref()),
            }
        })
        .collect();
    let status = DeploymentStatus {
        observed_generation: s
            .observed_generation
            .and_then(|g| u64::try_from(g).ok())
            .unwrap_or(0),
        revision,
        current_revision,
        replicas: u32_of(s.replicas),
        updated: u32_of(s.updated_replicas),
        ready: u32_of(s.ready_replicas),
        available,
        unavailable: want.saturating_sub(available),
        batch: None,
        paused,
        conditions,
    };
    Ok(Deployment {
        metadata: super::object_meta(&d.metadata),
        spec,
        status: Some(status),
    })
}

/// The revisions of a deployment, oldest first, from its ReplicaSets (those without a
/// revision annotation are left out).
pub(crate) fn history(replica_sets: &[ReplicaSet]) -> Vec<RevisionInfo> {
    let mut out: Vec<RevisionInfo> = replica_sets
        .iter()
        .filter_map(|rs| {
            let m = &rs.metadata;
            Some(RevisionInfo {
                revision: revision_of(m)?,
                template_hash: m
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(TEMPLATE_HASH_LABEL).cloned())
                    .unwrap_or_default(),
                created_at: super::timestamp(m.creation_timestamp.as_ref()),
                cause: m
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(CHANGE_CAUSE_ANNOTATION).cloned()),
            })
        })
        .collect();
    out.sort_by_key(|r| r.revision);
    out
}

/// The template to roll back to, as `kubectl rollout undo` picks it: revision `to`, or the
/// newest revision below `current` when `None`; without its `pod-template-hash` label.
/// An unknown revision, or none to go back to, is `Error::Invalid` on field `to` (as on the
/// local backend).
pub(crate) fn rollback_template(
    replica_sets: &[ReplicaSet],
    current: u64,
    to: Option<u64>,
) -> Result<(u64, PodTemplateSpec)> {
    let revisions = || {
        replica_sets
            .iter()
            .filter_map(|rs| revision_of(&rs.metadata).map(|r| (r, rs)))
    };
    let target = match to {
        Some(n) => revisions().find(|(r, _)| *r == n),
        None => revisions()
            .filter(|(r, _)| *r < current)
            .max_by_key(|(r, _)| *r),
    };
    let Some((revision, rs)) = target else {
        let mut kept: Vec<u64> = revisions().map(|(r, _)| r).collect();
        kept.sort_unstable();
        let kept: Vec<String> = kept.iter().map(u64::to_string).collect();
        return Err(Error::invalid(
            "to",
            match to {
                Some(n) => format!(
                    "revision {n} is not in the history (kept: {})",
                    kept.join(", ")
                ),
                None => "there is no earlier revision to roll back to".to_owned(),
            },
        ));
    };
    let mut template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .ok_or_else(|| {
            Error::backend(
                crate::BACKEND,
                format!("the ReplicaSet of revision {revision} has no pod template"),
            )
        })?;
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(TEMPLATE_HASH_LABEL);
    }
    Ok((revision, template))
}

/// `spec` with the tars template a pod template was rendered from (its group spec from the
/// [`SPEC_ANNOTATION`], its labels and annotations without those tars and Kubernetes add):
/// the spec a deployment has after a rollback to that template.
pub(crate) fn spec_from_template(
    spec: &DeploymentSpec,
    template: &PodTemplateSpec,
) -> Result<DeploymentSpec> {
    let m = template.metadata.clone().unwrap_or_default();
    let group: ContainerGroupSpec = super::spec_of(Kind::Deployment, &m)?;
    let mut labels = m.labels.unwrap_or_default();
    for key in [
        DEPLOYMENT_LABEL,
        meta::INSTANCE_LABEL,
        meta::MANAGED_BY_LABEL,
        meta::OWNER_LABEL,
        TEMPLATE_HASH_LABEL,
    ] {
        labels.remove(key);
    }
    let mut annotations = m.annotations.unwrap_or_default();
    annotations.remove(SPEC_ANNOTATION);
    Ok(DeploymentSpec {
        template: GroupTemplate {
            labels,
            annotations,
            spec: group,
        },
        ..spec.clone()
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use tars_api::group::PortRef;
    use tars_api::{Container, ContainerGroupSpec, Probe, ProbeAction};

    use super::*;
    use crate::convert::group::tests::stamp;

    pub(crate) fn template(version: &str) -> GroupTemplate {
        let c = Container::new("web", format!("nginx:{version}"), &[])
            .with_port("http", Some(80))
            .with_readiness(Probe::new(ProbeAction::HttpGet {
                port: PortRef::Name("http".into()),
                path: "/".into(),
            }));
        GroupTemplate {
            labels: [("app".to_owned(), "web".to_owned())].into(),
            annotations: [("version".to_owned(), version.to_owned())].into(),
            spec: ContainerGroupSpec::new(vec![c]),
        }
    }

    pub(crate) fn tars_deployment(strategy: Strategy) -> Deployment {
        Deployment::new(
            "web",
            DeploymentSpec {
                replicas: 3,
                template: template("1.27"),
                strategy,
                min_ready: Duration::from_secs(5),
                progress_deadline: Some(Duration::from_secs(120)),
                auto_rollback: false,
                paused: false,
                revision_history_limit: 4,
            },
        )
    }

    #[test]
    fn rolling_and_recreate_map_to_kubernetes_strategies_and_batches_is_refused() {
        let rolling = Strategy::Rolling {
            max_surge: IntOrPercent::Int(1),
            max_unavailable: IntOrPercent::Percent(25),
        };
        let k = deployment(&tars_deployment(rolling), &stamp()).expect("renders");
        let spec = k.spec.expect("spec");
        let s = spec.strategy.expect("strategy");
        assert_eq!(s.type_.as_deref(), Some("RollingUpdate"));
        let ru = s.rolling_update.expect("rollingUpdate");
        assert_eq!(ru.max_surge, Some(IntOrString::Int(1)));
        assert_eq!(ru.max_unavailable, Some(IntOrString::String("25%".into())));
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.min_ready_seconds, Some(5));
        assert_eq!(spec.progress_deadline_seconds, Some(120));
        assert_eq!(spec.revision_history_limit, Some(4));
        assert_eq!(spec.paused, Some(false));

        let k = deployment(&tars_deployment(Strategy::Recreate), &stamp()).expect("renders");
        let s = k.spec.and_then(|s| s.strategy).expect("strategy");
        assert_eq!(s.type_.as_deref(), Some("Recreate"));
        assert!(s.rolling_update.is_none());

        let batches: Strategy =
            serde_json::from_value(serde_json::json!({"type": "batches", "pattern": "50%+50%"}))
                .expect("strategy");
        let err = deployment(&tars_deployment(batches), &stamp()).expect_err("batches");
        assert!(
            matches!(&err, Error::Unsupported { feature: Feature::Batches, reason, .. }
                if reason.starts_with("spec.strategy:") && reason.contains("maxSurge/maxUnavailable")),
            "{err}"
        );
    }

    #[test]
    fn the_progress_deadline_stays_longer_than_min_ready_after_rounding() {
        let mut d = tars_deployment(Strategy::default());
        d.spec.min_ready = Duration::from_millis(5900);
        d.spec.progress_deadline = Some(Duration::from_millis(5950));
        let spec = deployment(&d, &stamp())
            .expect("renders")
            .spec
            .expect("spec");
        assert_eq!(spec.min_ready_seconds, Some(6));
        assert_eq!(spec.progress_deadline_seconds, Some(7));
    }

    #[test]
    fn no_progress_deadline_is_the_largest_one_kubernetes_knows() {
        let mut d = tars_deployment(Strategy::default());
        d.spec.progress_deadline = None;
        let k = deployment(&d, &stamp()).expect("renders");
        assert_eq!(
            k.spec.and_then(|s| s.progress_deadline_seconds),
            Some(i32::MAX)
        );
    }

    #[test]
    fn selector_and_template_labels_tie_the_pods_to_the_deployment() {
        let k = deployment(&tars_deployment(Strategy::default()), &stamp()).expect("renders");
        let spec = k.spec.expect("spec");
        let selector = spec.selector.match_labels.expect("matchLabels");
        assert_eq!(
            selector,
            BTreeMap::from([
                ("tars.dev/deployment".to_owned(), "web".to_owned()),
                ("tars.dev/instance".to_owned(), "test".to_owned()),
            ])
        );
        let tm = spec.template.metadata.expect("template metadata");
        let labels = tm.labels.expect("labels");
        for (k, v) in &selector {
            assert_eq!(labels.get(k), Some(v), "selector label {k}");
        }
        assert_eq!(labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("tars")
        );
        assert_eq!(
            labels.get("tars.dev/owner").map(String::as_str),
            Some("web")
        );
        let annotations = tm.annotations.expect("annotations");
        assert_eq!(annotations.get("version").map(String::as_str), Some("1.27"));
        assert!(annotations.contains_key(SPEC_ANNOTATION));
        // Replica pods read back as groups with the template's spec.
        let pod = k8s_openapi::api::core::v1::Pod {
            metadata: K8sMeta {
                name: Some("web-abc".into()),
                labels: Some(labels),
                annotations: Some(annotations),
                ..Default::default()
            },
            spec: spec.template.spec,
            status: None,
        };
        let g = crate::convert::group::group_from_pod(&pod).expect("a group");
        assert_eq!(g.spec, template("1.27").spec);
        // The metadata of the Deployment itself holds the whole tars spec.
        let back = deployment_from_k8s(
            &K8sDeployment {
                metadata: k.metadata,
                ..Default::default()
            },
            &[],
        )
        .expect("reads back");
        assert_eq!(back.spec, tars_deployment(Strategy::default()).spec);
    }

    /// A ReplicaSet of revision `revision` with the template of `version`.
    pub(crate) fn replica_set(revision: u64, version: &str, available: i32) -> ReplicaSet {
        let d = deployment(
            &Deployment {
                spec: DeploymentSpec {
                    template: template(version),
                    ..tars_deployment(Strategy::default()).spec
                },
                ..tars_deployment(Strategy::default())
            },
            &stamp(),
        )
        .expect("renders");
        let mut template = d.spec.expect("spec").template;
        let hash = format!("hash{revision}");
        if let Some(l) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            l.insert(TEMPLATE_HASH_LABEL.into(), hash.clone());
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": format!("web-{hash}"),
                "namespace": "ns",
                "creationTimestamp": format!("2026-11-2{revision}T10:00:00Z"),
                "labels": {"tars.dev/deployment": "web", "tars.dev/instance": "test", "pod-template-hash": hash},
                "annotations": {
                    "deployment.kubernetes.io/revision": revision.to_string(),
                    "deployment.kubernetes.io/desired-replicas": "3",
                    "deployment.kubernetes.io/max-replicas": "4"
                }
            },
            "spec": {
                "replicas": available,
                "selector": {"matchLabels": {"tars.dev/deployment": "web", "tars.dev/instance": "test", "pod-template-hash": hash}},
                "template": template
            },
            "status": {"replicas": available, "availableReplicas": available, "readyReplicas": available, "observedGeneration": 2}
        }))
        .expect("a ReplicaSet")
    }

    #[test]
    fn history_is_sorted_by_revision_with_hash_time_and_cause() {
        let mut rs4 = replica_set(4, "1.25", 3);
        rs4.metadata
            .annotations
            .get_or_insert_default()
            .insert(CHANGE_CAUSE_ANNOTATION.into(), "rollback to 1".into());
        let mut no_revision = replica_set(9, "x", 0);
        no_revision.metadata.annotations = None;
        let h = history(&[
            rs4,
            replica_set(2, "1.26", 0),
            no_revision,
            replica_set(3, "1.27", 0),
        ]);
        let numbers: Vec<u64> = h.iter().map(|r| r.revision).collect();
        assert_eq!(numbers, [2, 3, 4]);
        assert_eq!(h[0].template_hash, "hash2");
        assert!(h[0].created_at.is_some());
        assert_eq!(h[2].cause.as_deref(), Some("rollback to 1"));
        assert_eq!(h[0].cause, None);
    }

    #[test]
    fn rollback_picks_the_revision_like_kubectl_rollout_undo() {
        let rss = [
            replica_set(4, "1.25", 3),
            replica_set(2, "1.26", 0),
            replica_set(3, "1.27", 0),
        ];
        let (r, t) = rollback_template(&rss, 4, None).expect("previous");
        assert_eq!(r, 3);
        let labels = t
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref())
            .expect("labels");
        assert!(!labels.contains_key(TEMPLATE_HASH_LABEL), "hash stripped");
        let d = tars_deployment(Strategy::default());
        let spec = spec_from_template(&d.spec, &t).expect("tars spec");
        assert_eq!(spec.template, template("1.27"));
        assert_eq!(spec.replicas, d.spec.replicas);

        let (r, t) = rollback_template(&rss, 4, Some(2)).expect("revision 2");
        assert_eq!(r, 2);
        let spec = spec_from_template(&d.spec, &t).expect("tars spec");
        assert_eq!(
            spec.template.annotations.get("version").map(String::as_str),
            Some("1.26")
        );

        let err = rollback_template(&rss, 4, Some(99)).expect_err("unknown");
        assert_eq!(err.field(), Some("to"));
        assert!(err.to_string().contains("revision 99") && err.to_string().contains("2, 3, 4"));
        let err = rollback_template(&rss[1..2], 2, None).expect_err("nothing earlier");
        assert_eq!(err.field(), Some("to"));
    }

    fn k8s_deployment_json(conditions: serde_json::Value) -> serde_json::Value {
        let k = deployment(&tars_deployment(Strategy::default()), &stamp()).expect("renders");
        let mut v = serde_json::to_value(&k).expect("json");
        v["metadata"]["uid"] = "7d0e4ad8-4a4e-4b5f-8d4c-0b1f2c3d4e5f".into();
        v["metadata"]["generation"] = 3.into();
        v["metadata"]["resourceVersion"] = "91234".into();
        v["metadata"]["creationTimestamp"] = "2026-11-20T10:00:00Z".into();
        v["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "4".into();
        v["status"] = serde_json::json!({
            "observedGeneration": 3,
            "replicas": 4,
            "updatedReplicas": 2,
            "readyReplicas": 3,
            "availableReplicas": 2,
            "unavailableReplicas": 2,
            "conditions": conditions
        });
        v
    }

    #[test]
    fn the_status_comes_from_the_deployment_and_its_replica_sets() {
        let v = k8s_deployment_json(serde_json::json!([
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
             "message": "Deployment does not have minimum availability.",
             "lastUpdateTime": "2026-11-26T10:00:00Z", "lastTransitionTime": "2026-11-26T10:00:00Z"},
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
             "message": "ReplicaSet \"web-hash4\" is progressing.",
             "lastUpdateTime": "2026-11-26T10:00:05Z", "lastTransitionTime": "2026-11-25T09:00:00Z"}
        ]));
        let k: K8sDeployment = serde_json::from_value(v).expect("a Deployment");
        let rss = [
            replica_set(4, "1.25", 2),
            replica_set(3, "1.27", 2),
            replica_set(2, "1.26", 0),
        ];
        let d = deployment_from_k8s(&k, &rss).expect("reads");
        assert_eq!(d.metadata.generation, Some(3));
        assert!(!d.metadata.annotations.contains_key(REVISION_ANNOTATION));
        let s = d.status.expect("status");
        assert_eq!(
            (s.observed_generation, s.revision, s.current_revision),
            (3, 4, 3)
        );
        assert_eq!((s.replicas, s.updated, s.ready, s.available), (4, 2, 3, 2));
        assert_eq!(s.unavailable, 1, "3 wanted, 2 available");
        let available = s
            .conditions
            .iter()
            .find(|c| c.type_ == "Available")
            .expect("Available");
        assert!(!available.status && available.last_transition.is_some());
        assert_eq!(
            available.reason.as_deref(),
            Some("MinimumReplicasUnavailable")
        );
        let progressing = s
            .conditions
            .iter()
            .find(|c| c.type_ == "Progressing")
            .expect("Progressing");
        assert!(progressing.status);
        assert_eq!(progressing.reason.as_deref(), Some("RolloutInProgress"));
    }

    #[test]
    fn a_complete_and_a_failed_rollout_read_as_tars_reports_them() {
        let v = k8s_deployment_json(serde_json::json!([
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "lastTransitionTime": "2026-11-26T10:00:00Z"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "lastTransitionTime": "2026-11-26T10:00:00Z"}
        ]));
        let k: K8sDeployment = serde_json::from_value(v).expect("a Deployment");
        let s = deployment_from_k8s(&k, &[])
            .expect("reads")
            .status
            .expect("status");
        assert_eq!(s.current_revision, 4);
        let reason = |s: &DeploymentStatus| {
            s.conditions
                .iter()
                .find(|c| c.type_ == "Progressing")
                .map(|c| (c.status, c.reason.clone()))
        };
        assert_eq!(
            reason(&s),
            Some((true, Some("NewRevisionAvailable".into())))
        );

        let v = k8s_deployment_json(serde_json::json!([
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "lastTransitionTime": "2026-11-26T10:00:00Z"},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": "ReplicaSet \"web-hash4\" has timed out progressing.",
             "lastTransitionTime": "2026-11-26T10:02:00Z"}
        ]));
        let k: K8sDeployment = serde_json::from_value(v).expect("a Deployment");
        let s = deployment_from_k8s(&k, &[replica_set(3, "1.27", 3)])
            .expect("reads")
            .status
            .expect("status");
        assert_eq!(
            reason(&s),
            Some((false, Some("ProgressDeadlineExceeded".into())))
        );
        assert_eq!(s.current_revision, 3);

        let mut v = k8s_deployment_json(serde_json::json!([
            {"type": "Progressing", "status": "Unknown", "reason": "DeploymentPaused",
             "lastTransitionTime": "2026-11-26T10:02:00Z"}
        ]));
        v["spec"]["paused"] = true.into();
        let k: K8sDeployment = serde_json::from_value(v).expect("a Deployment");
        let s = deployment_from_k8s(&k, &[])
            .expect("reads")
            .status
            .expect("status");
        assert!(s.paused);
        assert_eq!(reason(&s), Some((true, Some("DeploymentPaused".into()))));
    }

    #[test]
    fn a_replica_set_spec_is_what_rollback_reads() {
        // ReplicaSetSpec's template is optional; a ReplicaSet without one cannot be a target.
        let mut rs = replica_set(1, "1.0", 0);
        rs.spec = Some(ReplicaSetSpec::default());
        assert!(matches!(
            rollback_template(&[rs], 2, None),
            Err(Error::Backend { .. })
        ));
    }
}
