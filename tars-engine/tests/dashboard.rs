//! The Grafana dashboard in `observability/` queries only metrics tars records (the names of
//! `tars_engine::metrics`), and charts each of them.

use std::collections::BTreeSet;

use tars_engine::metrics::{ALL, HISTOGRAMS};

/// Every `tars_...` identifier in `expr`, with the suffixes Prometheus adds to histograms
/// (`_bucket`, `_sum`, `_count`) taken off.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("tars_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| HISTOGRAMS.contains(b))
            .unwrap_or(name);
        names.push(base.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_dashboard_queries_documented_metrics_and_charts_them_all() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../observability/grafana-dashboard.json"
    );
    let text = std::fs::read_to_string(path).expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut used = BTreeSet::new();
    for panel in panels {
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{}", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{expr}");
            for name in names {
                assert!(
                    ALL.contains(&name.as_str()),
                    "{name} in {expr} is not a tars metric"
                );
                used.insert(name);
            }
        }
    }
    let unused: Vec<&&str> = ALL.iter().filter(|n| !used.contains(**n)).collect();
    assert!(unused.is_empty(), "not charted: {unused:?}");
}

#[test]
fn names_are_read_from_expressions() {
    assert_eq!(
        metric_names(
            "histogram_quantile(0.99, rate(tars_cron_lateness_seconds_bucket[5m])) + tars_objects"
        ),
        ["tars_cron_lateness_seconds", "tars_objects"]
    );
    assert_eq!(
        metric_names("rate(tars_nope_bucket[1m])"),
        ["tars_nope_bucket"]
    );
}
