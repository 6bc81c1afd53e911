//! # tars-backend-openstack
//!
//! The OpenStack backend: a [`ContainerGroup`](tars_api::ContainerGroup) is one Nova server, as
//! nova-docker ran each container as an instance, through today's APIs: Keystone v3 (password
//! or application credential), Nova (compute microversion 2.52), Glance (image records named
//! after the container image, `container_format` `docker`).
//!
//! - [`OpenStackConfig`]: how to reach the cloud (`clouds.yaml`, `OS_*` variables or code) and
//!   where tars keeps its engines' state ([`OpenStackConfig::state_dir`]).
//! - `convert`: the pure conversions between tars' kinds and Nova's requests and responses.
//! - `client`: an `osauth` session (Nova at microversion 2.52, Glance).
//! - [`OpenStackBackend`]: container groups: apply (validated first, dry-run, idempotent, a
//!   changed spec replaces the server), get, list, delete (returns when Nova answers 404), watch
//!   (**polls Nova** every second: Nova has no change feed for a tenant), logs `Unsupported`.
//!   The spec is kept in the server's metadata (`tars:spec:NN`, base64 chunks): members cannot
//!   read `user_data` back. Servers without tars' stamp are never touched (`Conflict`); servers
//!   of another tars instance are invisible to this one (Nova names are not unique). Quota, no
//!   valid host and image failures are [`OpenStackError`]s (Nova's message) inside
//!   `Error::Backend`; a create that ends in ERROR deletes its server.
//! - **Deployments** run on tars' rollout engine over those servers
//!   (`tars_engine::api::EngineDeployments`); a template asking for a spread over hosts puts the
//!   replicas in one anti-affinity server group per deployment (`tars:<instance>:<deployment>`),
//!   removed with its last server. **CronJobs** run on tars' cron engine: a server per run, the
//!   run complete when its server is SHUTOFF (failed at ERROR), its server deleted then, the
//!   history kept within its limits; schedules fire on whole minutes (a slot off the minute is
//!   `Unsupported`: a server takes seconds to build). Their state is in a database under the state directory, so
//!   a restarted tars resumes rollouts and never starts a slot twice.
//!
//! ## The `openstack` crate (0.6, on `osauth` 0.5), checked against Keystone 30 / Nova 34 / Glance 33
//!
//! `tests/openstack_crate.rs` runs it against `scripts/engines/openstack` (passed: password and
//! application credential auth, 6 flavors listed, a Glance record read back as
//! `container_format` docker, a server ACTIVE in 6.8 s through its 5 s-polling waiter and gone
//! 1.5 s after delete). What it does:
//! Keystone v3 password auth with a project scope (`openstack::auth::Password`); application
//! credentials through `osauth::identity::ApplicationCredential` (not re-exported by
//! `openstack::auth`: depend on `osauth` too); flavors (list, get: vCPUs, RAM, disk); images
//! (list, get); servers (list, get, create with metadata and `user_data`, delete, start/stop,
//! waiters). What it cannot do, so the client sends these through the `osauth::Session`
//! underneath (`session.post(COMPUTE, ..).api_version(..).json(..)`) with this crate's own
//! request types (`convert`):
//!
//! - **no microversion on server create** and `networks` always a list: it cannot send
//!   `"networks": "none"` (2.37), `tags` (2.52), `description` (2.19), nor scheduler hints
//!   (`os:scheduler_hints.group` for anti-affinity); no server groups API at all. (Its
//!   `"networks": []` at the base microversion booted here because the project has no network;
//!   on a cloud with networks that is not "no network".)
//! - **no `fault`** on its `Server`: an ERROR server's message (quota, no valid host) is not
//!   readable through it, and its creation waiter reports only "got into ERROR state";
//! - **Glance is read-only** in it: no image create, no upload, no delete (tars must register
//!   `repo:tag` records and upload data to make them `active`);
//! - **no custom HTTP client for `Cloud`**: `Cloud::new` builds its own, so a CA file or the
//!   insecure opt-out of [`OpenStackConfig`] needs `osauth::Session::new_with_client`;
//! - its `clouds.yaml` loader (`Cloud::from_config`) knows `cacert` but not `verify: false`, and
//!   osauth's `CloudConfig` derives `Debug` with the password in it: tars reads `clouds.yaml`
//!   itself ([`OpenStackConfig::from_clouds_yaml`]).
//! - Errors: HTTP 403 is `ErrorKind::AccessDenied` whether a policy or a quota refused; tars
//!   tells them apart by Nova's message ("Quota exceeded for ...").
//!
//! ```
//! let config = tars_backend_openstack::OpenStackConfig::from_clouds_yaml_str(
//!     "clouds: {test: {auth: {auth_url: 'http://127.0.0.1:17000/v3', username: tars, \
//!      password: tars-secret, project_name: tars, user_domain_name: Default, \
//!      project_domain_name: Default}, region_name: RegionOne}}",
//!     "test",
//! )?;
//! config.check()?;
//! assert_eq!(config.region_name(), Some("RegionOne"));
//! # Ok::<(), tars_api::Error>(())
//! ```
#![forbid(unsafe_code)]

mod backend;
mod client;
mod config;
mod convert;
mod cron_jobs;
mod groups;
mod name_locks;

pub use backend::OpenStackBackend;
pub use client::OpenStackError;

pub use config::{
    ApplicationCredentialRef, Auth, DEFAULT_INSTANCE, Domain, IdOrName, Interface, OpenStackConfig,
    Secret,
};

/// The backend's name in errors and metrics.
pub(crate) const BACKEND: &str = "openstack";
