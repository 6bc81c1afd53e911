//! ContainerGroup → the body of Nova's `POST /servers`.
//!
//! Sent at compute microversion [`COMPUTE_MICROVERSION`]: `"networks": "none"` (2.37) boots a
//! server with no network, `tags` in the create (2.52) let tars list its servers by tag (Nova
//! filters lists by tag for any user, by metadata only for admins), `description` (2.19).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use tars_api::{ContainerGroup, Feature, Result};

use super::flavor::{Flavor, Need, smallest_fitting};
use super::image::image_name;
use super::metadata::server_metadata;
use super::{Stamp, unsupported};

/// The compute API microversion tars speaks.
pub(crate) const COMPUTE_MICROVERSION: &str = "2.52";
/// Nova's limit on `user_data`, base64 included, in bytes.
pub(crate) const MAX_USER_DATA: usize = 65535;
/// The tag every server tars makes carries.
pub(crate) const TAG: &str = "tars";

/// The request body: `{"server": {...}, "os:scheduler_hints": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ServerCreateRequest {
    /// The server.
    pub(crate) server: ServerCreate,
    /// The server group to place it in (anti-affinity), if any.
    #[serde(rename = "os:scheduler_hints", skip_serializing_if = "Option::is_none")]
    pub(crate) scheduler_hints: Option<SchedulerHints>,
}

/// The server of a create request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ServerCreate {
    /// The group's name.
    pub(crate) name: String,
    /// `tars ContainerGroup <name>`.
    pub(crate) description: String,
    /// The Glance image's id.
    #[serde(rename = "imageRef")]
    pub(crate) image_ref: String,
    /// The flavor's id.
    #[serde(rename = "flavorRef")]
    pub(crate) flavor_ref: String,
    /// Always `none`: containers-as-servers get no network of their own here.
    pub(crate) networks: &'static str,
    /// The group as JSON, base64.
    pub(crate) user_data: String,
    /// Labels, ownership stamp, kind, generation.
    pub(crate) metadata: BTreeMap<String, String>,
    /// [`TAG`] and the instance's tag.
    pub(crate) tags: Vec<String>,
}

/// Scheduler hints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SchedulerHints {
    /// The server group's id.
    pub(crate) group: String,
}

/// The body of `POST /os-server-groups` for the replicas of a deployment that asks for a spread:
/// anti-affinity (at microversions below 2.64 the policy is a one-item `policies` list).
pub(crate) fn server_group_create(name: &str) -> serde_json::Value {
    serde_json::json!({"server_group": {"name": name, "policies": ["anti-affinity"]}})
}

/// The tag of the servers of tars instance `instance`: Nova tags are 1 to 60 characters without
/// `/` or `,`.
pub(crate) fn instance_tag(instance: &str) -> Result<String> {
    let tag = format!("tars-instance={instance}");
    if tag.chars().count() > 60 || tag.contains(['/', ',']) {
        return Err(unsupported(
            Feature::ContainerGroups,
            "instance",
            &format!("{tag:?} is not a Nova tag (at most 60 characters, no '/' or ',')"),
        ));
    }
    Ok(tag)
}

/// What the server boots from: the Glance image name of the group's first container (the others
/// travel in `user_data` only).
pub(crate) fn boot_image_name(group: &ContainerGroup) -> Result<String> {
    let first = group.spec.containers.first().ok_or_else(|| {
        tars_api::Error::invalid("spec.containers", "a group needs at least one container")
    })?;
    image_name(&first.image, "spec.containers[0].image")
}

/// The `user_data` of a group: its name, labels, annotations, generation and spec as JSON
/// (`apiVersion` `tars/v1`, `kind` `ContainerGroup`), base64. Environment variables from secrets
/// are `Unsupported` unless `stamp` allows them here; more than Nova's 65535 bytes is
/// `Unsupported` too.
pub(crate) fn user_data(group: &ContainerGroup, stamp: &Stamp) -> Result<String> {
    if !stamp.secrets_in_user_data {
        for (i, c) in group.spec.containers.iter().enumerate() {
            if let Some(j) = c.env.iter().position(|e| e.secret.is_some()) {
                return Err(unsupported(
                    Feature::Secrets,
                    &format!("spec.containers[{i}].env[{j}]"),
                    "a secret would travel in the server's user_data, readable by the cloud's \
                     admins and inside the server; allow it with \
                     OpenStackConfig::allow_secrets_in_user_data",
                ));
            }
        }
    }
    let doc = serde_json::json!({
        "apiVersion": tars_api::object::API_VERSION,
        "kind": tars_api::meta::Kind::ContainerGroup.as_str(),
        "metadata": {
            "name": group.metadata.name,
            "labels": group.metadata.labels,
            "annotations": group.metadata.annotations,
            "generation": group.metadata.generation,
        },
        "spec": group.spec,
    });
    let json = serde_json::to_vec(&doc).map_err(|e| tars_api::Error::backend(crate::BACKEND, e))?;
    let encoded = BASE64.encode(json);
    if encoded.len() > MAX_USER_DATA {
        return Err(unsupported(
            Feature::ContainerGroups,
            "spec",
            &format!(
                "the group is {} bytes as base64 user_data; Nova takes at most {MAX_USER_DATA}",
                encoded.len()
            ),
        ));
    }
    Ok(encoded)
}

/// Placement constraints are `Unsupported`: Nova shows tenants no host attributes.
pub(crate) fn refuse_constraints(group: &ContainerGroup) -> Result<()> {
    if group.spec.placement.constraints.is_empty() {
        return Ok(());
    }
    Err(unsupported(
        Feature::PlacementConstraints,
        "spec.placement.constraints",
        "host attributes are not exposed to tenants by Nova",
    ))
}

/// The create request of `group`: booted from `image_id` (the Glance image named
/// [`boot_image_name`]), on the smallest of `flavors` that fits, in `server_group` if given.
/// A spread without a server group, and placement constraints, are `Unsupported`.
pub(crate) fn server_create(
    group: &ContainerGroup,
    stamp: &Stamp,
    image_id: &str,
    flavors: &[Flavor],
    server_group: Option<&str>,
) -> Result<ServerCreateRequest> {
    refuse_constraints(group)?;
    if group.spec.placement.spread.is_some() && server_group.is_none() {
        return Err(unsupported(
            Feature::Spread,
            "spec.placement.spread",
            "a spread keeps the replicas of a deployment apart through a Nova server group; a \
             lone group has none",
        ));
    }
    let flavor = smallest_fitting(flavors, Need::of(&group.spec), "spec")?;
    Ok(ServerCreateRequest {
        server: ServerCreate {
            name: group.metadata.name.clone(),
            description: format!("tars ContainerGroup {}", group.metadata.name),
            image_ref: image_id.to_owned(),
            flavor_ref: flavor.id.clone(),
            networks: "none",
            user_data: user_data(group, stamp)?,
            metadata: server_metadata(
                &group.metadata.labels,
                group.metadata.generation,
                stamp,
                "metadata.labels",
            )?,
            tags: vec![TAG.to_owned(), instance_tag(&stamp.instance)?],
        },
        scheduler_hints: server_group.map(|g| SchedulerHints {
            group: g.to_owned(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use tars_api::group::{ConstraintOp, Placement};
    use tars_api::{ContainerGroupSpec, Error};

    use super::super::tests::{group, stamp, with_secret};
    use super::*;

    fn flavors() -> Vec<Flavor> {
        [
            ("1", "m1.nano", 1, 128),
            ("2", "m1.tiny", 1, 512),
            ("3", "m1.small", 1, 2048),
        ]
        .into_iter()
        .map(|(id, name, vcpus, ram)| Flavor {
            id: id.into(),
            name: name.into(),
            vcpus,
            ram,
            disk: 1,
        })
        .collect()
    }

    #[test]
    fn create_request_is_what_nova_takes() {
        let g = group();
        let req = server_create(&g, &stamp(), "img-1", &flavors(), None).expect("request");
        let body = serde_json::to_value(&req).expect("json");
        let server = &body["server"];
        assert_eq!(server["name"], "web-1");
        assert_eq!(server["imageRef"], "img-1");
        assert_eq!(server["flavorRef"], "2", "750m and 320 MiB: m1.tiny");
        assert_eq!(server["networks"], "none");
        assert_eq!(server["description"], "tars ContainerGroup web-1");
        assert_eq!(
            server["tags"],
            serde_json::json!(["tars", "tars-instance=billing"])
        );
        assert_eq!(server["metadata"]["label:app"], "web");
        assert_eq!(server["metadata"]["label:tars.dev:instance"], "billing");
        assert_eq!(server["metadata"]["tars:generation"], "3");
        assert!(body.get("os:scheduler_hints").is_none());
        assert_eq!(boot_image_name(&g).expect("image"), "nginx:1.27");
    }

    #[test]
    fn user_data_carries_the_whole_group() {
        let g = group();
        let req = server_create(&g, &stamp(), "img", &flavors(), None).expect("request");
        let json = BASE64.decode(&req.server.user_data).expect("base64");
        let doc: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(doc["apiVersion"], "tars/v1");
        assert_eq!(doc["kind"], "ContainerGroup");
        assert_eq!(doc["metadata"]["name"], "web-1");
        assert_eq!(doc["metadata"]["generation"], 3);
        let spec: ContainerGroupSpec = serde_json::from_value(doc["spec"].clone()).expect("spec");
        assert_eq!(spec, g.spec);
    }

    #[test]
    fn secrets_stay_out_of_user_data_unless_allowed() {
        let g = with_secret(group());
        let err = server_create(&g, &stamp(), "img", &flavors(), None).expect_err("secret");
        let Error::Unsupported {
            feature, reason, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(*feature, Feature::Secrets);
        assert!(
            reason.starts_with("spec.containers[0].env[1]: "),
            "{reason}"
        );
        let allowed = Stamp {
            secrets_in_user_data: true,
            ..stamp()
        };
        server_create(&g, &allowed, "img", &flavors(), None).expect("allowed");
    }

    #[test]
    fn spread_needs_a_server_group_and_constraints_are_unsupported() {
        let mut g = group();
        g.spec.placement = Placement {
            constraints: Vec::new(),
            spread: Some("hostname".into()),
        };
        let err = server_create(&g, &stamp(), "img", &flavors(), None).expect_err("spread");
        assert!(
            matches!(
                err,
                Error::Unsupported {
                    feature: Feature::Spread,
                    ..
                }
            ),
            "{err}"
        );
        let req = server_create(&g, &stamp(), "img", &flavors(), Some("sg-1")).expect("grouped");
        let body = serde_json::to_value(&req).expect("json");
        assert_eq!(body["os:scheduler_hints"]["group"], "sg-1");

        let mut g = group();
        g.spec
            .placement
            .constraints
            .push(tars_api::group::Constraint {
                attribute: "zone".into(),
                operator: ConstraintOp::In,
                values: vec!["a".into()],
            });
        let err = server_create(&g, &stamp(), "img", &flavors(), None).expect_err("constraint");
        assert!(
            matches!(
                err,
                Error::Unsupported {
                    feature: Feature::PlacementConstraints,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn server_group_is_anti_affinity_in_the_2_52_form() {
        assert_eq!(
            server_group_create("web"),
            serde_json::json!({"server_group": {"name": "web", "policies": ["anti-affinity"]}})
        );
    }

    #[test]
    fn too_big_for_user_data_or_a_tag_is_unsupported() {
        let mut g = group();
        g.metadata
            .annotations
            .insert("blob".into(), "x".repeat(MAX_USER_DATA));
        let err = server_create(&g, &stamp(), "img", &flavors(), None).expect_err("big");
        assert!(err.to_string().contains("at most 65535"), "{err}");
        let long = Stamp {
            instance: "i".repeat(60),
            ..stamp()
        };
        let err = server_create(&group(), &long, "img", &flavors(), None).expect_err("tag");
        assert!(err.to_string().contains("not a Nova tag"), "{err}");
    }
}
