//! # tars-engine
//!
//! The backend-neutral machinery of tars that needs a runtime: waiting for conditions now; the
//! rollout and cron engines and the state store as their issues land. Like kube-runtime next to
//! kube-core, it builds only on the traits of `tars-api`.
#![forbid(unsafe_code)]

pub mod wait;
