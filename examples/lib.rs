//! Runnable examples of tars live beside this file; run them with
//! `cargo run --example <name>` from the repository root. This library is empty.
#![forbid(unsafe_code)]
