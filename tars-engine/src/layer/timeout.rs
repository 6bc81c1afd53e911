//! [`Timeout`]: every call gets a deadline.

use std::time::Duration;

use futures::future::BoxFuture;
use tars_api::layer::{Call, Layer, Next};
use tars_api::{Error, Result};

/// Fails a call that takes longer than its deadline with `Error::Timeout` (retryable).
/// For `watch`, the deadline covers opening the stream, not its lifetime.
#[derive(Debug, Clone, Copy)]
pub struct Timeout {
    after: Duration,
}

impl Timeout {
    /// A deadline of `after` for every call.
    pub fn new(after: Duration) -> Self {
        Timeout { after }
    }
}

impl Layer for Timeout {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a>,
        next: Next<'a, T>,
    ) -> BoxFuture<'a, Result<T>> {
        Box::pin(async move {
            match tokio::time::timeout(self.after, next()).await {
                Ok(result) => result,
                Err(_) => Err(Error::Timeout {
                    operation: describe(&call),
                    after: self.after,
                }),
            }
        })
    }
}

/// `local apply ContainerGroup web`.
pub(crate) fn describe(call: &Call<'_>) -> String {
    let mut s = format!("{} {}", call.backend, call.operation.as_str());
    if let Some(kind) = call.kind {
        s.push_str(&format!(" {kind}"));
    }
    if let Some(name) = call.name {
        s.push_str(&format!(" {name}"));
    }
    s
}
