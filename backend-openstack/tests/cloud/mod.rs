//! The test cloud of the tests that need a real OpenStack: the `clouds.yaml` that
//! `TARS_OS_CLOUDS` names (`scripts/engines/openstack/up.sh STATE_DIR` writes
//! `STATE_DIR/clouds.yaml`), and sessions around tars for the tests' own looks.

use std::collections::BTreeMap;

use osauth::services::COMPUTE;
use tars_backend_openstack::{Auth, OpenStackConfig};

/// The variable naming the test cloud's `clouds.yaml`.
pub(crate) const CLOUDS_ENV: &str = "TARS_OS_CLOUDS";

/// The path of the test cloud's `clouds.yaml`, or why there is none.
pub(crate) fn clouds() -> Result<String, String> {
    std::env::var(CLOUDS_ENV).map_err(|_| {
        format!(
            "no OpenStack cloud: set {CLOUDS_ENV}=STATE_DIR/clouds.yaml \
             (scripts/engines/openstack/up.sh STATE_DIR starts one)"
        )
    })
}

/// A session of user `user` in project `project` (both in the default domain), with the
/// password of `config` (cloud `tars` for the member, `tars-admin` for the admin).
#[allow(dead_code)] // not every test binary that has this module uses it
pub(crate) async fn probe_session(
    config: &OpenStackConfig,
    user: &str,
    project: &str,
) -> Result<osauth::Session, String> {
    let Auth::Password { password, .. } = config.auth() else {
        return Err("the test cloud uses a password".into());
    };
    let auth = osauth::identity::Password::new(
        config.auth_url().as_str(),
        user,
        password.expose(),
        "Default",
    )
    .map_err(|e| e.to_string())?
    .with_project_scope(
        osauth::common::IdOrName::Name(project.into()),
        osauth::common::IdOrName::Name("Default".into()),
    );
    osauth::Session::new(auth).await.map_err(|e| e.to_string())
}

/// The servers of tars instance `instance` in Nova, by the tag tars gives them at create (so also
/// those a killed tars created and never recorded): their statuses by server name.
#[allow(dead_code)] // not every test binary that has this module uses it
pub(crate) async fn instance_servers(
    member: &osauth::Session,
    instance: &str,
) -> BTreeMap<String, Vec<String>> {
    let tag = format!("tars-instance={instance}");
    let page: serde_json::Value = member
        .get(COMPUTE, &["servers", "detail"])
        .api_version(osauth::ApiVersion(2, 52))
        .query(&[("tags", tag)])
        .fetch()
        .await
        .expect("server list");
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in page["servers"].as_array().into_iter().flatten() {
        by_name
            .entry(s["name"].as_str().unwrap_or("?").to_owned())
            .or_default()
            .push(s["status"].as_str().unwrap_or("?").to_owned());
    }
    by_name
}
