//! The metrics tars records through the [`metrics`] facade, in one place: install any
//! recorder (`metrics-exporter-prometheus`, a StatsD or InfluxDB exporter, Telegraf scraping
//! the Prometheus endpoint) before opening a backend and they appear there.
//!
//! | metric | type | labels | recorded by |
//! |---|---|---|---|
//! | [`OPERATIONS_TOTAL`] | counter | `backend`, `kind`, `operation`, `outcome` (`ok` or the error's variant) | [`crate::layer::Metrics`] |
//! | [`OPERATION_ERRORS_TOTAL`] | counter | `backend`, `kind`, `operation`, `error` | [`crate::layer::Metrics`] |
//! | [`OPERATION_DURATION_SECONDS`] | histogram | `backend`, `kind`, `operation` | [`crate::layer::Metrics`] |
//! | [`ROLLOUTS_TOTAL`] | counter | `backend`, `deployment`, `outcome` (`started`, `complete`, `failed`, `rolled_back`) | rollout engine |
//! | [`ROLLOUT_DURATION_SECONDS`] | histogram | `backend`, `deployment`, `outcome` (`complete`, `failed`) | rollout engine |
//! | [`CRON_RUNS_STARTED_TOTAL`] | counter | `attempt` (`first`, `retry`) | cron engine |
//! | [`CRON_LATENESS_SECONDS`] | histogram | — | cron engine: start instant − slot instant of scheduled runs |
//! | [`CRON_RUNS_TOTAL`] | counter | `outcome` (`succeeded`, `failed`, `retried`, `replaced`) | cron engine: ends of attempts |
//! | [`CRON_RUN_DURATION_SECONDS`] | histogram | `outcome` (as above) | cron engine |
//! | [`CRON_MISSED_SLOTS_TOTAL`] | counter | `reason` (`starting_deadline`, `caught_up`, `concurrency`) | cron engine |
//! | [`OBJECTS`] | gauge | `backend`, `kind` (`Deployment`, `CronJob`, `ContainerGroup`) | engines, backend |
//! | [`EVENTS_DELIVERED_TOTAL`], [`EVENTS_FAILED_TOTAL`], [`EVENTS_DROPPED_TOTAL`] | counter | `event` | [`crate::webhook::Webhook`] |
//!
//! Labels are names of things (a backend, a kind, a verb, a deployment, an outcome), never
//! values from a spec: no environment value or secret can reach a metric. Cron metrics carry
//! no job label: at 100,000 jobs that would be 100,000 series, and the firing path records
//! them with static labels only (no allocation). Per-job alerting goes through the
//! [`tars_api::events::EventHook`]s instead.

/// Calls of the API, by `backend`, `kind`, `operation` and `outcome`.
pub const OPERATIONS_TOTAL: &str = "tars_operations_total";
/// Failed calls of the API, by `backend`, `kind`, `operation` and `error` (the error's variant).
pub const OPERATION_ERRORS_TOTAL: &str = "tars_operation_errors_total";
/// Latency of API calls, by `backend`, `kind` and `operation`.
pub const OPERATION_DURATION_SECONDS: &str = "tars_operation_duration_seconds";
/// Rollouts by `backend`, `deployment` and `outcome`.
pub const ROLLOUTS_TOTAL: &str = "tars_rollouts_total";
/// Time from a revision's creation to its rollout completing or failing.
pub const ROLLOUT_DURATION_SECONDS: &str = "tars_rollout_duration_seconds";
/// Attempts of cron runs started, by `attempt` (`first` or `retry`).
pub const CRON_RUNS_STARTED_TOTAL: &str = "tars_cron_runs_started_total";
/// How late a scheduled run started after its slot.
pub const CRON_LATENESS_SECONDS: &str = "tars_cron_lateness_seconds";
/// Ended attempts of cron runs, by `outcome`.
pub const CRON_RUNS_TOTAL: &str = "tars_cron_runs_total";
/// Duration of ended attempts of cron runs, by `outcome`.
pub const CRON_RUN_DURATION_SECONDS: &str = "tars_cron_run_duration_seconds";
/// Slots not run, by `reason`.
pub const CRON_MISSED_SLOTS_TOTAL: &str = "tars_cron_missed_slots_total";
/// Objects managed, by `backend` and `kind`.
pub const OBJECTS: &str = "tars_objects";
/// Events a webhook delivered, by `event`.
pub const EVENTS_DELIVERED_TOTAL: &str = "tars_events_delivered_total";
/// Events a webhook gave up on after its retries, by `event`.
pub const EVENTS_FAILED_TOTAL: &str = "tars_events_failed_total";
/// Events dropped because a webhook's queue was full, by `event`.
pub const EVENTS_DROPPED_TOTAL: &str = "tars_events_dropped_total";

/// Every metric name above, for exporters' bucket settings and for checking dashboards.
pub const ALL: &[&str] = &[
    OPERATIONS_TOTAL,
    OPERATION_ERRORS_TOTAL,
    OPERATION_DURATION_SECONDS,
    ROLLOUTS_TOTAL,
    ROLLOUT_DURATION_SECONDS,
    CRON_RUNS_STARTED_TOTAL,
    CRON_LATENESS_SECONDS,
    CRON_RUNS_TOTAL,
    CRON_RUN_DURATION_SECONDS,
    CRON_MISSED_SLOTS_TOTAL,
    OBJECTS,
    EVENTS_DELIVERED_TOTAL,
    EVENTS_FAILED_TOTAL,
    EVENTS_DROPPED_TOTAL,
];

/// The histograms among [`ALL`] (their values are seconds).
pub const HISTOGRAMS: &[&str] = &[
    OPERATION_DURATION_SECONDS,
    ROLLOUT_DURATION_SECONDS,
    CRON_LATENESS_SECONDS,
    CRON_RUN_DURATION_SECONDS,
];

/// Seconds from `earlier` to `later`, zero when `later` is not after it.
pub(crate) fn seconds_between(earlier: jiff::Timestamp, later: jiff::Timestamp) -> f64 {
    let d = later.as_duration().saturating_sub(earlier.as_duration());
    if d.is_negative() {
        0.0
    } else {
        d.as_secs_f64()
    }
}

/// Sets the [`OBJECTS`] gauge of `kind` on `backend`.
pub fn set_objects(backend: &str, kind: &'static str, count: usize) {
    metrics::gauge!(OBJECTS, "backend" => backend.to_owned(), "kind" => kind).set(count as f64);
}
