//! # tars-conformance
//!
//! One behavioural suite for every backend, in the manner of object_store's integration suite:
//! each case is an `async fn` over a [`Target`] (a backend plus the few engine-specific probes
//! a generic case cannot do through the API, such as "is any process of this group left?").
//! A backend's test binary calls [`harness::run`] with its column name and a way to make a
//! target; each case writes its cell, and the `conformance-matrix` binary merges the cells into
//! `target/conformance/matrix.md` and compares them with the committed expectation in
//! `conformance-tests/expected/<column>.md`.
//!
//! A case checks the backend's [`Capabilities`](tars_api::Capabilities) first: for a feature
//! the backend declares unsupported it asserts that the operation fails with
//! `Error::Unsupported` (never a silent no-op), and its cell says `unsupported`.
#![forbid(unsafe_code)]

pub mod cases;
pub mod fixtures;
pub mod harness;
pub mod kills;
pub mod matrix;
pub mod outage;
mod outcome;
pub mod shown;
mod target;

pub use outcome::Outcome;
pub use target::Target;
