//! Manifest parsing and validation, the work done on every apply before anything leaves the
//! process: YAML and JSON text → typed objects → validated, for a small group, a deployment
//! with probes and batches, a cron job, and a 50-document stream.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tars_api::Manifest;

const GROUP: &str = r#"
apiVersion: tars/v1
kind: ContainerGroup
metadata:
  name: hello
  labels: {app: hello, tier: web}
spec:
  containers:
    - name: web
      image: python:3.12-slim
      command: [python3, -m, http.server]
      ports: [{name: http, container_port: 8000}]
      env: [{name: MODE, value: demo}]
    - name: sidecar
      image: busybox
      command: [sh, -c, "while true; do sleep 5; done"]
"#;

const DEPLOYMENT: &str = r#"
apiVersion: tars/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 30
  min_ready: 2s
  progress_deadline: 10m
  auto_rollback: true
  strategy: {type: batches, pattern: "5%+20%+75%", pause_between: 30s, gate: canary}
  template:
    labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.42
          command: [/srv/web]
          args: [--port, "8080"]
          ports: [{name: http, container_port: 8080}]
          resources: {cpu: 500m, memory: 256Mi}
          readiness: {check: {http_get: {port: http, path: /healthz}}, period: 2s}
          liveness: {check: {tcp: {port: http}}, period: 10s}
"#;

const CRON: &str = r#"
apiVersion: tars/v1
kind: CronJob
metadata:
  name: nightly-report
spec:
  schedule: "30 2 * * *"
  time_zone: Europe/Berlin
  concurrency: Forbid
  starting_deadline: 5m
  retries: 3
  parents: [extract, transform]
  template:
    spec:
      restart_policy: Never
      containers:
        - name: report
          image: registry.example/report:7
          command: [/srv/report, --since, yesterday]
"#;

fn documents() -> Vec<(&'static str, &'static str)> {
    vec![
        ("group", GROUP),
        ("deployment", DEPLOYMENT),
        ("cron_job", CRON),
    ]
}

fn parse_and_validate(c: &mut Criterion) {
    let mut g = c.benchmark_group("manifest");
    g.throughput(Throughput::Elements(1));
    for (name, text) in documents() {
        // The fixtures must be valid, or the benchmark measures the error path.
        for m in Manifest::from_yaml(text).unwrap_or_else(|e| panic!("{name}: {e}")) {
            m.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        g.bench_function(format!("yaml_parse_validate/{name}"), |b| {
            b.iter(|| {
                for m in Manifest::from_yaml(black_box(text)).expect("parse") {
                    m.validate().expect("valid");
                }
            })
        });
        let json = serde_json::to_string(
            &serde_yaml_ng::from_str::<serde_json::Value>(text).expect("yaml"),
        )
        .expect("json");
        g.bench_function(format!("json_parse_validate/{name}"), |b| {
            b.iter(|| {
                let m = Manifest::from_json(black_box(&json)).expect("parse");
                m.validate().expect("valid");
            })
        });
        let parsed = Manifest::from_yaml(text).expect("parse");
        g.bench_function(format!("validate_only/{name}"), |b| {
            b.iter(|| black_box(&parsed[0]).validate().expect("valid"))
        });
    }
    g.finish();

    let stream: String = (0..50)
        .map(|i| GROUP.replace("name: hello", &format!("name: hello-{i}")))
        .collect::<Vec<_>>()
        .join("\n---\n");
    let mut g = c.benchmark_group("manifest_stream");
    g.throughput(Throughput::Elements(50));
    g.bench_function("yaml_50_groups", |b| {
        b.iter(|| {
            let all = Manifest::from_yaml(black_box(&stream)).expect("parse");
            assert_eq!(all.len(), 50);
            for m in &all {
                m.validate().expect("valid");
            }
        })
    });
    g.finish();
}

criterion_group!(benches, parse_and_validate);
criterion_main!(benches);
