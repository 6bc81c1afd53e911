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
//! | [`BACKEND_REQUESTS_TOTAL`] | counter | `backend`, `method` (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `other`) | backends' HTTP clients ([`count_request`]) |
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

/// HTTP requests a backend sent to its engine (the Kubernetes apiserver, the Mesos master and
/// agents, Chronos, OpenStack's services), by `backend` and `method`. A watch or an event
/// stream counts once, when it is opened.
pub const BACKEND_REQUESTS_TOTAL: &str = "tars_backend_requests_total";

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
    BACKEND_REQUESTS_TOTAL,
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

/// Counts one HTTP request of `backend` to its engine in [`BACKEND_REQUESTS_TOTAL`]; the
/// method's label is one of a fixed few (no allocation).
pub fn count_request(backend: &'static str, method: &str) {
    let method = match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "other",
    };
    metrics::counter!(BACKEND_REQUESTS_TOTAL, "backend" => backend, "method" => method)
        .increment(1);
}

/// Rewrites metrics in the Prometheus text format (as `metrics-exporter-prometheus` renders
/// them) as InfluxDB line protocol, one line per sample, all at `timestamp_ns`: the sample's
/// name is the measurement, its labels are tags, its value the float field `value`
/// (`tars_cron_runs_total,outcome=failed value=1 1700000000000000000`). Comments, blank lines
/// and non-finite values (which line protocol cannot carry) are left out. Both formats are
/// ingestible by Telegraf.
pub fn prometheus_to_line_protocol(text: &str, timestamp_ns: i64) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, labels, rest)) = split_sample(line) else {
            continue;
        };
        let Some(value) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
        else {
            continue;
        };
        out.push_str(&escape(name, ", "));
        for (k, v) in labels {
            if v.is_empty() {
                continue;
            }
            out.push(',');
            out.push_str(&escape(&k, ",= "));
            out.push('=');
            out.push_str(&escape(&v, ",= "));
        }
        out.push_str(&format!(" value={value:?} {timestamp_ns}\n"));
    }
    out
}

/// A sample's labels, as (name, value) pairs.
type Labels = Vec<(String, String)>;

/// `name{a="x",b="y"} rest` → (`name`, [(a, x), (b, y)], `rest`).
fn split_sample(line: &str) -> Option<(&str, Labels, &str)> {
    let Some(open) = line.find('{') else {
        let (name, rest) = line.split_once(char::is_whitespace)?;
        return Some((name, Vec::new(), rest));
    };
    let name = &line[..open];
    let mut labels = Vec::new();
    let mut chars = line[open + 1..].char_indices();
    let base = open + 1;
    loop {
        // A label name up to `=`, or the end of the set.
        let mut key = String::new();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => break Some(i),
                '=' => break None,
                ',' | ' ' => {}
                c => key.push(c),
            }
        };
        if let Some(i) = end {
            return Some((name, labels, &line[base + i + 1..]));
        }
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            let (_, c) = chars.next()?;
            match c {
                '"' => break,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                c => value.push(c),
            }
        }
        labels.push((key, value));
    }
}

/// Backslash before each of `special`; newlines become spaces.
fn escape(s: &str, special: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\n' {
            out.push_str("\\ ");
        } else {
            if special.contains(c) || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_becomes_line_protocol() {
        let text = "# HELP tars_cron_runs_total runs\n\
            # TYPE tars_cron_runs_total counter\n\
            tars_cron_runs_total{outcome=\"failed\"} 2\n\
            tars_objects{backend=\"local\",kind=\"CronJob\"} 1\n\
            tars_cron_lateness_seconds_bucket{le=\"+Inf\"} 3\n\
            tars_cron_lateness_seconds_sum 0.015\n\
            tars_odd{reason=\"a, b=\\\"c\\\"\"} 1\n\
            tars_quantile{quantile=\"0.99\"} NaN\n\
            \n";
        let lines = prometheus_to_line_protocol(text, 42);
        assert_eq!(
            lines,
            "tars_cron_runs_total,outcome=failed value=2.0 42\n\
             tars_objects,backend=local,kind=CronJob value=1.0 42\n\
             tars_cron_lateness_seconds_bucket,le=+Inf value=3.0 42\n\
             tars_cron_lateness_seconds_sum value=0.015 42\n\
             tars_odd,reason=a\\,\\ b\\=\"c\" value=1.0 42\n"
        );
    }

    #[test]
    fn every_histogram_is_a_documented_metric_and_names_are_unique() {
        for h in HISTOGRAMS {
            assert!(ALL.contains(h), "{h}");
            assert!(h.ends_with("_seconds"), "{h}");
        }
        let mut names = ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(ALL.iter().all(|n| n.starts_with("tars_")));
    }

    #[test]
    fn a_request_is_counted_by_backend_and_method_and_odd_methods_share_one_label() {
        use metrics_util::debugging::{DebugValue, DebuggingRecorder};
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            count_request("k8s", "GET");
            count_request("k8s", "GET");
            count_request("mesos", "POST");
            count_request("openstack", "OPTIONS");
            count_request("openstack", "TRACE");
        });
        let mut counts: Vec<(String, u64)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let (kind, key) = key.into_parts();
                assert_eq!(kind, metrics_util::MetricKind::Counter);
                assert_eq!(key.name(), BACKEND_REQUESTS_TOTAL);
                let labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                let DebugValue::Counter(n) = value else {
                    panic!("{value:?} is not a counter")
                };
                (labels.join(","), n)
            })
            .collect();
        counts.sort();
        assert_eq!(
            counts,
            vec![
                ("backend=k8s,method=GET".to_owned(), 2),
                ("backend=mesos,method=POST".to_owned(), 1),
                ("backend=openstack,method=other".to_owned(), 2),
            ]
        );
    }
}
