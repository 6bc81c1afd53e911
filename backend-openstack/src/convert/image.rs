//! Container image reference ⇄ Glance image record, by nova-docker's convention: the image is
//! named after the Docker reference `repo:tag`, with `container_format` `docker`.

use serde::Serialize;
use tars_api::{Error, Result};

/// The Glance image name of a container image reference: the reference as written, with
/// `:latest` added when it has neither a tag nor a digest (`busybox` → `busybox:latest`,
/// `registry:5000/team/app` → `registry:5000/team/app:latest`; a `:` in the registry's host part
/// is a port, not a tag). Glance names are at most 255 characters.
pub(crate) fn image_name(reference: &str, path: &str) -> Result<String> {
    let reference = reference.trim();
    if reference.is_empty() {
        return Err(Error::invalid(path, "an image reference is needed"));
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let name = if reference.contains('@') || last.contains(':') {
        reference.to_owned()
    } else {
        format!("{reference}:latest")
    };
    if name.chars().count() > 255 {
        return Err(Error::invalid(
            path,
            format!("{name:?} is longer than the 255 characters of a Glance image name"),
        ));
    }
    Ok(name)
}

/// The body of `POST /v2/images` that registers the record of a container image tars needs and
/// Glance lacks, private to the project. Nova boots only from an `active` image and a record
/// without data stays `queued` ("Image ... is not active", 400), so the client then uploads
/// [`PLACEHOLDER_DATA`] to it (`PUT /v2/images/{id}/file`): the fake driver never reads it, and a
/// real nova-docker host pulled the container image by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ImageCreate {
    /// `repo:tag`.
    pub(crate) name: String,
    /// `docker`.
    pub(crate) container_format: &'static str,
    /// `raw`.
    pub(crate) disk_format: &'static str,
    /// `private`.
    pub(crate) visibility: &'static str,
    /// Who registered it (a Glance property).
    #[serde(rename = "tars_managed_by")]
    pub(crate) managed_by: &'static str,
}

/// The data uploaded to a registered record to make it `active`.
pub(crate) const PLACEHOLDER_DATA: &[u8] = &[0; 512];

/// The query of `GET /v2/images` that finds the record named `name`. Glance reads `name=a:b` as
/// the filter operator `a` (and answers 400 "Unable to filter by unknown operator"): names of
/// container images have a `:`, so the filter is `eq:` + the name.
pub(crate) fn find_query(name: &str) -> [(&'static str, String); 2] {
    [
        ("name", format!("eq:{name}")),
        ("container_format", "docker".to_owned()),
    ]
}

/// The record of the container image `reference` (of the field at `path`).
pub(crate) fn image_create(reference: &str, path: &str) -> Result<ImageCreate> {
    Ok(ImageCreate {
        name: image_name(reference, path)?,
        container_format: "docker",
        disk_format: "raw",
        visibility: "private",
        managed_by: tars_api::meta::MANAGED_BY_VALUE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker_references() {
        for (reference, name) in [
            ("busybox", "busybox:latest"),
            ("busybox:1.36", "busybox:1.36"),
            ("library/nginx", "library/nginx:latest"),
            ("registry:5000/team/app", "registry:5000/team/app:latest"),
            ("registry:5000/team/app:v2", "registry:5000/team/app:v2"),
            ("app@sha256:0123abcd", "app@sha256:0123abcd"),
        ] {
            assert_eq!(
                image_name(reference, "spec.containers[0].image").expect(reference),
                name
            );
        }
    }

    #[test]
    fn empty_or_overlong_references_are_invalid_with_their_path() {
        let err = image_name(" ", "spec.containers[1].image").expect_err("empty");
        assert_eq!(err.field(), Some("spec.containers[1].image"));
        let err = image_name(&"a".repeat(300), "spec.containers[0].image").expect_err("long");
        assert_eq!(err.field(), Some("spec.containers[0].image"));
    }

    #[test]
    fn lookup_by_name_uses_glance_eq_operator() {
        assert_eq!(
            find_query("busybox:latest"),
            [
                ("name", "eq:busybox:latest".to_owned()),
                ("container_format", "docker".to_owned())
            ]
        );
    }

    #[test]
    fn glance_record_is_a_docker_container_image() {
        let body =
            serde_json::to_value(image_create("busybox", "p").expect("record")).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "name": "busybox:latest",
                "container_format": "docker",
                "disk_format": "raw",
                "visibility": "private",
                "tars_managed_by": "tars",
            })
        );
    }
}
