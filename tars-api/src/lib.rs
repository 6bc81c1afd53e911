//! # tars-api
//!
//! The pure core of tars: the workload kinds ([`ContainerGroup`], [`Deployment`], [`CronJob`]),
//! their manifests, validation that names the offending field, the one [`Error`] type, the
//! per-backend [`Capabilities`], and the object-safe backend traits every engine implements.
//!
//! This crate performs no I/O and starts no runtime (like `kube-core` or `tower-service`): it is
//! what a backend, a decorator or a test double builds on.
#![forbid(unsafe_code)]

pub mod api;
pub mod capability;
pub mod conditions;
pub mod cronjob;
pub mod deployment;
pub mod diff;
pub mod error;
pub mod events;
pub mod group;
pub mod layer;
pub mod manifest;
pub mod meta;
pub mod object;
pub mod quantity;
pub mod redact;
pub mod schedule;
pub mod selector;
pub mod serde_duration;
pub mod unsupported;
pub mod validate;

pub use api::{
    ApplyOptions, ApplyOutcome, Backend, Change, ContainerGroups, CronJobs, DeleteOptions,
    Deployments, ListParams, LogOptions, ObjectApi, ObjectList, WatchEvent, WatchStream,
};
pub use capability::{Capabilities, Feature, Support};
pub use cronjob::{ConcurrencyPolicy, CronJob, CronJobSpec, CronJobStatus, CronRun, RunOutcome};
pub use deployment::{Deployment, DeploymentSpec, DeploymentStatus, Strategy};
pub use error::{Error, Result};
pub use group::{
    Container, ContainerGroup, ContainerGroupSpec, ContainerGroupStatus, EnvVar, GroupPhase, Port,
    Probe, ProbeAction, RestartPolicy,
};
pub use manifest::Manifest;
pub use meta::{Kind, ObjectMeta};
pub use object::{Object, Spec};
pub use quantity::{Cpu, Memory};
pub use schedule::Schedule;
pub use selector::LabelSelector;
