//! [`Metrics`]: operation counts, errors and latencies through the `metrics` facade, so any
//! exporter (Prometheus, StatsD, InfluxDB through Telegraf) can serve them.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tars_operations_total` | counter | `backend`, `kind`, `operation`, `outcome` (`ok` or the error's variant) |
//! | `tars_operation_errors_total` | counter | `backend`, `kind`, `operation`, `error` (the error's variant) |
//! | `tars_operation_duration_seconds` | histogram | `backend`, `kind`, `operation` |
//!
//! (The names are constants of [`crate::metrics`].)
//!
//! Labels are names of things, never values from a spec: no secret can reach a metric.

use std::time::Instant;

use futures::future::BoxFuture;
use tars_api::Result;
use tars_api::layer::{Call, Layer, Next};

use super::outcome;
use crate::metrics::{OPERATION_DURATION_SECONDS, OPERATION_ERRORS_TOTAL, OPERATIONS_TOTAL};

/// Counts and times every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics;

impl Layer for Metrics {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a>,
        next: Next<'a, T>,
    ) -> BoxFuture<'a, Result<T>> {
        Box::pin(async move {
            let start = Instant::now();
            let result = next().await;
            let backend = call.backend.to_owned();
            let kind = call.kind.map_or("none", |k| k.as_str());
            let operation = call.operation.as_str();
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => outcome(e),
            };
            if result.is_err() {
                metrics::counter!(
                    OPERATION_ERRORS_TOTAL,
                    "backend" => backend.clone(),
                    "kind" => kind,
                    "operation" => operation,
                    "error" => outcome
                )
                .increment(1);
            }
            metrics::counter!(
                OPERATIONS_TOTAL,
                "backend" => backend.clone(),
                "kind" => kind,
                "operation" => operation,
                "outcome" => outcome
            )
            .increment(1);
            metrics::histogram!(
                OPERATION_DURATION_SECONDS,
                "backend" => backend,
                "kind" => kind,
                "operation" => operation
            )
            .record(start.elapsed().as_secs_f64());
            result
        })
    }
}
