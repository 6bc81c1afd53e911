//! [`Retry`]: retryable errors of idempotent operations are tried again.

use std::time::Duration;

use futures::future::BoxFuture;
use tars_api::Result;
use tars_api::layer::{Call, Layer, Next};

/// Retries a call that failed with a retryable error (`Unavailable`, `Timeout`), only for
/// idempotent operations (never `trigger` or `rollback`), with exponential backoff and full
/// jitter: attempt `n` waits a random time up to `min(max_delay, base * 2^n)`.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt (before jitter).
    pub base: Duration,
    /// Longest backoff.
    pub max_delay: Duration,
}

impl Default for Retry {
    /// Four attempts, backoff from 100 ms up to 2 s.
    fn default() -> Self {
        Retry {
            max_attempts: 4,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl Retry {
    /// The delay before attempt `attempt + 1` (`attempt` ≥ 1), jittered by `unit` in [0, 1).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << (attempt - 1).min(20))
            .min(self.max_delay);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }
}

impl Layer for Retry {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a>,
        next: Next<'a, T>,
    ) -> BoxFuture<'a, Result<T>> {
        Box::pin(async move {
            let mut attempt = 1;
            loop {
                match next().await {
                    Err(e)
                        if e.is_retryable()
                            && call.operation.is_idempotent()
                            && attempt < self.max_attempts =>
                    {
                        let delay = self.delay(attempt, fastrand::f64());
                        tracing::debug!(
                            backend = call.backend,
                            operation = call.operation.as_str(),
                            attempt,
                            ?delay,
                            error = %e,
                            "retrying"
                        );
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        })
    }
}
