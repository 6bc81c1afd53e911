//! # tars-backend-k8s
//!
//! The Kubernetes backend, through kube-rs: a ContainerGroup is a Pod, a Deployment an
//! apps/v1 Deployment, a CronJob a CronJob (batch/v1, or batch/v1beta1 on servers before
//! 1.21), so that Kubernetes' own controllers do the work. Objects are sent by server-side
//! apply with the field manager `tars`, each first checked by a server-side dry run, and carry
//! the ownership labels of [`tars_api::meta`]: tars refuses with `Error::Conflict` to change or
//! delete an object of the same name that this instance does not own.
#![forbid(unsafe_code)]

mod convert;

/// The backend's name in errors and metrics.
pub(crate) const BACKEND: &str = "k8s";
