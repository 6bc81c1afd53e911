//! # tars-backend-mesos
//!
//! Foundations of tars' Apache Mesos backend (issue 7): the pieces every later part builds on.
//!
//! - [`recordio`]: the RecordIO framing of Mesos' v1 event streams, an incremental decoder and an
//!   encoder.
//! - [`v1`]: the v1 scheduler and operator API types (JSON, field by field from the Mesos 1.11
//!   protos).
//!
//! The backend itself (a framework over the v1 scheduler HTTP API, the tars executor over the v1
//! executor HTTP API, ContainerGroups launched with `LAUNCH_GROUP`) is still to come; see this
//! crate's README.
#![forbid(unsafe_code)]

pub mod recordio;
pub mod v1;
