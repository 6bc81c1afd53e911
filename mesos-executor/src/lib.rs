//! # tars-mesos-executor
//!
//! tars' Mesos executor: runs the tasks of a `LAUNCH_GROUP` as processes, speaking the v1
//! executor HTTP API to the agent. Installed in the agent's launcher directory as
//! `mesos-default-executor`, it is what an `ExecutorInfo` of `type: DEFAULT` starts (see this
//! crate's README for what a framework sends and where each task's output goes).
//!
//! - [`config`]: the agent's `MESOS_*` variables.
//! - [`agent`]: the `SUBSCRIBE` stream and the calls.
//! - [`executor`]: the event loop (launch, kill, updates, acknowledgements, re-subscription).
//! - [`process`]: a task's process (directory, environment, output files, process group).
//! - [`health`]: health checks.
//! - [`check`]: general checks.
//! - [`status`]: updates, uuids, exit statuses.
#![forbid(unsafe_code)]

pub mod agent;
pub mod check;
pub mod config;
pub mod executor;
pub mod health;
pub mod process;
pub mod status;
