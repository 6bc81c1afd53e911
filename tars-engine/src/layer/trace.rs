//! [`Trace`]: the span conventions of tars.
//!
//! Every call runs in a span `tars.call` with the fields `backend`, `operation`, `kind`,
//! `object` (the name) and `outcome` (`ok`, or the error's variant: `invalid`, `not_found`,
//! `conflict`, `unsupported`, `unavailable`, `timeout`, `backend`). The redaction rule: a span
//! or event of tars carries names, kinds and outcomes only — never a spec, an environment value
//! or a secret — and errors carry field paths and engine messages, never values of
//! environment variables. Values of `EnvVar` are hidden from `Debug` too.

use futures::future::BoxFuture;
use tars_api::layer::{Call, Layer, Next};
use tars_api::{Error, Result};
use tracing::Instrument;

/// Wraps every call in a `tars.call` span and logs its outcome at debug level (warn for
/// errors other than `NotFound`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Trace;

/// The short name of an error's variant, for the `outcome` field.
pub fn outcome(e: &Error) -> &'static str {
    match e {
        Error::Invalid { .. } => "invalid",
        Error::NotFound { .. } => "not_found",
        Error::AlreadyExists { .. } => "already_exists",
        Error::Conflict { .. } => "conflict",
        Error::Unsupported { .. } => "unsupported",
        Error::Unavailable { .. } => "unavailable",
        Error::Timeout { .. } => "timeout",
        Error::Backend { .. } => "backend",
        _ => "other",
    }
}

impl Layer for Trace {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a>,
        next: Next<'a, T>,
    ) -> BoxFuture<'a, Result<T>> {
        let span = tracing::debug_span!(
            "tars.call",
            backend = call.backend,
            operation = call.operation.as_str(),
            kind = call.kind.map(|k| k.as_str()),
            object = call.name,
            outcome = tracing::field::Empty,
        );
        let inner = span.clone();
        Box::pin(
            async move {
                let result = next().await;
                match &result {
                    Ok(_) => {
                        inner.record("outcome", "ok");
                        tracing::debug!("done");
                    }
                    Err(e) => {
                        inner.record("outcome", outcome(e));
                        if matches!(e, Error::NotFound { .. }) {
                            tracing::debug!(error = %e, "failed");
                        } else {
                            tracing::warn!(error = %e, "failed");
                        }
                    }
                }
                result
            }
            .instrument(span),
        )
    }
}
