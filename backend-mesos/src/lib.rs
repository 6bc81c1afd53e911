//! # tars-backend-mesos
//!
//! Foundations of tars' Apache Mesos backend (issue 7): the pieces every later part builds on.
//!
//! - [`recordio`]: the RecordIO framing of Mesos' v1 event streams, an incremental decoder and an
//!   encoder.
//! - [`scheduler`]: a minimal scheduler client: `SUBSCRIBE` with the event stream and its
//!   `Mesos-Stream-Id`, calls on it, heartbeat tracking.
//! - [`operator`]: the master's operator API (`GET_VERSION`, `GET_STATE`, …).
//! - [`v1`]: the v1 scheduler, executor and operator API types (JSON, field by field from the
//!   Mesos 1.11 protos).
//!
//! The tars executor (crate `tars-mesos-executor`, over the v1 executor HTTP API) uses these. The
//! backend itself (a framework over the v1 scheduler HTTP API, ContainerGroups launched with
//! `LAUNCH_GROUP` on that executor) is still to come; see this crate's README.
#![forbid(unsafe_code)]

pub mod operator;
pub mod recordio;
pub mod scheduler;
pub mod v1;
