//! Layers that need a clock, for any backend (tower-style decorators over
//! [`tars_api::layer::Layer`]; stack them with [`tars_api::layer::Layered`]):
//! [`Timeout`] on every call, [`Retry`] of retryable errors on idempotent operations with
//! backoff and jitter, a client-side [`RateLimit`], and [`Trace`], the tracing span
//! conventions.
//!
//! A typical stack, outermost first: validation (in `tars::connect`), trace, retry, timeout,
//! rate limit, then the backend:
//!
//! ```
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! # fn demo(raw: Arc<dyn tars_api::Backend>) -> Arc<dyn tars_api::Backend> {
//! use tars_api::layer::Layered;
//! use tars_engine::layer::{RateLimit, Retry, Timeout, Trace};
//! let b: Arc<dyn tars_api::Backend> = Arc::new(Layered::new(raw, RateLimit::per_second(50.0, 100)));
//! let b: Arc<dyn tars_api::Backend> = Arc::new(Layered::new(b, Timeout::new(Duration::from_secs(30))));
//! let b: Arc<dyn tars_api::Backend> = Arc::new(Layered::new(b, Retry::default()));
//! Arc::new(Layered::new(b, Trace))
//! # }
//! ```

mod metrics;
mod rate_limit;
mod retry;
mod timeout;
mod trace;

pub use metrics::Metrics;
pub use rate_limit::RateLimit;
pub use retry::Retry;
pub use timeout::Timeout;
pub use trace::{Trace, outcome};

#[cfg(test)]
mod tests;
