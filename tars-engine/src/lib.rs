//! # tars-engine
//!
//! The backend-neutral machinery of tars that needs a runtime, built only on the traits of
//! `tars-api` (as kube-runtime on kube-core): the [`driver::GroupDriver`] the engines use to
//! start, stop and observe groups on any backend, the crash-safe [`store`], and
//! [`wait::wait_for`], and the [`rollout`] engine behind Deployments.
#![forbid(unsafe_code)]

pub mod api;
pub mod cron;
pub mod driver;
pub mod layer;
pub mod metrics;
pub mod rollout;
pub mod store;
pub mod uid;
pub mod wait;
pub mod watcher;
pub mod webhook;
