//! # tars
//!
//! One typed, async API to run workloads — container groups, deployments, cron jobs — on real
//! orchestration engines, or on this host with the embedded backend.
//!
//! ```no_run
//! # async fn demo() -> tars::Result<()> {
//! use tars::{Container, ContainerGroup, ContainerGroupSpec, ApplyOptions};
//! let backend = tars::connect("local:///tmp/tars-state").await?;
//! let group = ContainerGroup::new(
//!     "hello",
//!     ContainerGroupSpec::new(vec![Container::new("main", "busybox", &["sleep", "60"])]),
//! );
//! let outcome = backend.container_groups().apply(&group, ApplyOptions::default()).await?;
//! println!("{:?}", outcome.change);
//! # Ok(()) }
//! ```
//!
//! Backends are chosen by URL ([`connect`]) or built from their typed configuration; each is
//! behind a cargo feature (`local`, on by default; `k8s`; `mesos`; `openstack`).
#![forbid(unsafe_code)]

mod connect;
pub mod url;

pub use connect::{connect, connect_with};
pub use tars_api::*;
pub use tars_engine::wait;

/// The embedded backend.
#[cfg(feature = "local")]
pub use tars_backend_local as local;

/// The Kubernetes backend.
#[cfg(feature = "k8s")]
pub use tars_backend_k8s as k8s;

/// The Mesos backend.
#[cfg(feature = "mesos")]
pub use tars_backend_mesos as mesos;

/// The OpenStack backend.
#[cfg(feature = "openstack")]
pub use tars_backend_openstack as openstack;

/// The README's code samples, compiled as doctests so they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
