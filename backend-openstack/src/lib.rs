//! # tars-backend-openstack
//!
//! The OpenStack backend (in progress, issue 9): a
//! [`ContainerGroup`](tars_api::ContainerGroup) is one Nova server, as nova-docker ran each
//! container as an instance, through today's APIs: Keystone v3 (password or application
//! credential), Nova (compute microversion 2.52), Glance (image records named after the
//! container image, `container_format` `docker`).
//!
//! So far: [`OpenStackConfig`] (how to reach the cloud: `clouds.yaml`, `OS_*` variables or code)
//! and the pure conversions between tars' kinds and Nova's requests and responses (`convert`).
//! The client and the trait implementations come next.
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

mod config;
#[allow(dead_code)] // used by the client, next
mod convert;

pub use config::{
    ApplicationCredentialRef, Auth, DEFAULT_INSTANCE, Domain, IdOrName, Interface, OpenStackConfig,
    Secret,
};

/// The backend's name in errors and metrics.
pub(crate) const BACKEND: &str = "openstack";
