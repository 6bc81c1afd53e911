//! The properties tars' fuzz targets check, one function per target, each returning what was
//! violated. The same files are compiled into the crates' corpus replay tests
//! (`tars-api/tests/fuzz_corpus.rs`, `backend-mesos/tests/fuzz_corpus.rs`), so CI checks every
//! committed corpus file exactly as the fuzzer did.

pub mod api;
pub mod mesos;
pub mod replay;
