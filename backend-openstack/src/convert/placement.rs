//! Spread → a Nova server group.
//!
//! A Deployment whose template asks for `placement.spread` over hosts keeps its replicas on
//! distinct compute hosts through one anti-affinity server group per deployment, named
//! `tars:<instance>:<deployment>` (neither part can hold a `:`), passed to each replica's create
//! as the scheduler hint `group`. The group driver sees replica groups, not deployments: a
//! replica is a group carrying the rollout engine's labels ([`OWNER_LABEL`], the deployment,
//! and [`REVISION_LABEL`]) and not the cron engine's ([`CRON_JOB_LABEL`]). Nova's anti-affinity
//! is about compute hosts only: a spread over another attribute (a zone, a rack) is
//! `Unsupported`.

use tars_api::meta::OWNER_LABEL;
use tars_api::{ContainerGroup, Feature, Result};
use tars_engine::cron::CRON_JOB_LABEL;
use tars_engine::rollout::REVISION_LABEL;

use super::unsupported;

/// The spread attributes that name the host a server runs on.
pub(crate) const HOST_ATTRIBUTES: &[&str] = &["hostname", "host", "kubernetes.io/hostname"];

/// The deployment `group` is a replica of, if it is one.
pub(crate) fn replica_of(group: &ContainerGroup) -> Option<&str> {
    let labels = &group.metadata.labels;
    if labels.contains_key(CRON_JOB_LABEL) || !labels.contains_key(REVISION_LABEL) {
        return None;
    }
    labels.get(OWNER_LABEL).map(String::as_str)
}

/// The name of the server group of `deployment`'s replicas in tars instance `instance`.
pub(crate) fn server_group_name(instance: &str, deployment: &str) -> String {
    format!("tars:{instance}:{deployment}")
}

/// Whether `name` is the name of a server group of tars instance `instance`.
pub(crate) fn is_server_group_of(name: &str, instance: &str) -> bool {
    name.strip_prefix("tars:")
        .and_then(|rest| rest.strip_prefix(instance))
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|deployment| !deployment.is_empty() && !deployment.contains(':'))
}

/// Checks a spread's attribute (`path` is the placement's field path): only hosts are
/// something Nova keeps servers apart on.
pub(crate) fn check_spread(group: &ContainerGroup, path: &str) -> Result<()> {
    match group.spec.placement.spread.as_deref() {
        Some(attribute) if !HOST_ATTRIBUTES.contains(&attribute) => Err(unsupported(
            Feature::Spread,
            &format!("{path}.spread"),
            &format!(
                "Nova server groups keep servers on distinct compute hosts only; {attribute:?} is \
                 not a host attribute (use one of {})",
                HOST_ATTRIBUTES.join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// The server group `group` is to be placed in (`tars:<instance>:<deployment>`): `Some` for a
/// replica of a deployment that asks for a spread over hosts, `None` for a group that asks for
/// none. A spread on a group that is no deployment replica is `Unsupported` (there is nothing
/// to keep it apart from), as is a spread over anything but hosts.
pub(crate) fn server_group_for(group: &ContainerGroup, instance: &str) -> Result<Option<String>> {
    if group.spec.placement.spread.is_none() {
        return Ok(None);
    }
    check_spread(group, "spec.placement")?;
    match replica_of(group) {
        Some(deployment) => Ok(Some(server_group_name(instance, deployment))),
        None => Err(unsupported(
            Feature::Spread,
            "spec.placement.spread",
            "a spread keeps the replicas of a deployment apart through a Nova server group; a \
             lone group has none",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::group;
    use super::*;

    fn replica(deployment: &str) -> ContainerGroup {
        let mut g = group();
        g.metadata
            .labels
            .insert(OWNER_LABEL.into(), deployment.into());
        g.metadata
            .labels
            .insert(REVISION_LABEL.into(), "5f6d7c1a".into());
        g.spec.placement.spread = Some("hostname".into());
        g
    }

    #[test]
    fn replicas_that_ask_for_a_spread_get_their_deployments_server_group() {
        assert_eq!(
            server_group_for(&replica("web"), "billing").expect("replica"),
            Some("tars:billing:web".to_owned())
        );
        let mut plain = replica("web");
        plain.spec.placement.spread = None;
        assert_eq!(server_group_for(&plain, "billing").expect("plain"), None);
        assert!(is_server_group_of("tars:billing:web", "billing"));
        assert!(!is_server_group_of("tars:billing:web", "bill"));
        assert!(!is_server_group_of("tars:billing", "billing"));
        assert!(
            !is_server_group_of("tars:a:b:web", "a"),
            "instance a:b is not a"
        );
    }

    #[test]
    fn lone_groups_cron_runs_and_other_attributes_cannot_spread() {
        let mut lone = group();
        lone.spec.placement.spread = Some("hostname".into());
        let mut run = replica("nightly");
        run.metadata
            .labels
            .insert(CRON_JOB_LABEL.into(), "nightly".into());
        let mut zone = replica("web");
        zone.spec.placement.spread = Some("zone".into());
        for g in [lone, run, zone] {
            let err = server_group_for(&g, "billing").expect_err("refused");
            let tars_api::Error::Unsupported {
                feature, reason, ..
            } = &err
            else {
                panic!("{err}")
            };
            assert_eq!(*feature, Feature::Spread);
            assert!(reason.starts_with("spec.placement.spread: "), "{reason}");
        }
    }
}
