//! [`RateLimit`]: a client-side token bucket, so tars never floods an engine's API.

use std::time::Duration;

use futures::future::BoxFuture;
use tars_api::Result;
use tars_api::layer::{Call, Layer, Next};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Lets at most `burst` calls through at once and `per_second` on average; a call over the
/// rate waits for its token (it is delayed, never refused).
#[derive(Debug)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimit {
    /// `per_second` calls a second on average, bursts of up to `burst`.
    pub fn per_second(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimit {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst,
            bucket: Mutex::new((burst, Instant::now())),
        }
    }

    async fn acquire(&self) {
        let wait = {
            let mut bucket = self.bucket.lock().await;
            let (tokens, last) = &mut *bucket;
            let now = Instant::now();
            *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second)
                .min(self.burst);
            *last = now;
            *tokens -= 1.0;
            if *tokens >= 0.0 {
                Duration::ZERO
            } else {
                // The token is taken now (the count goes negative): later callers queue behind.
                Duration::from_secs_f64(-*tokens / self.per_second)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

impl Layer for RateLimit {
    fn call<'a, T: Send + 'a>(
        &'a self,
        _call: Call<'a>,
        next: Next<'a, T>,
    ) -> BoxFuture<'a, Result<T>> {
        Box::pin(async move {
            self.acquire().await;
            next().await
        })
    }
}
