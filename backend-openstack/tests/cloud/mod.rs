//! The test cloud of the tests that need a real OpenStack: the `clouds.yaml` that
//! `TARS_OS_CLOUDS` names (`scripts/engines/openstack/up.sh STATE_DIR` writes
//! `STATE_DIR/clouds.yaml`), and sessions around tars for the tests' own looks.

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
