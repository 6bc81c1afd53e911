//! Observability: tars' metrics served in the Prometheus text format and written as InfluxDB
//! line protocol (both ingestible by Telegraf), and its events posted to a webhook.
//!
//! The example starts a small webhook receiver on 127.0.0.1 that prints each event it gets,
//! installs the Prometheus recorder with its endpoint on 127.0.0.1, opens the embedded backend
//! with a [`Webhook`] event hook, and then:
//!
//! - rolls out a deployment whose second revision never becomes ready (its readiness check is
//!   `false`), with a 3 s progress deadline and automatic rollback: the receiver gets
//!   `RolloutFailed`, then `RolledBack`;
//! - runs three per-second cron jobs meanwhile: one succeeds, one fails (`CronRunFailed`), one
//!   overruns its second with `concurrency: Forbid`, so its next slots are missed
//!   (`CronRunMissed`);
//! - asks for a deployment that does not exist, to count an error;
//! - prints the metrics fetched from the endpoint, then the same as line protocol.
//!
//! ```text
//! cargo run --example observability      # about 15 seconds, then exits
//! ```
//!
//! The Grafana dashboard `observability/grafana-dashboard.json` charts these metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tars::api::{ApplyOptions, DeleteOptions};
use tars::deployment::Strategy;
use tars::group::{GroupTemplate, Probe, ProbeAction};
use tars::layer::Layered;
use tars::local::{LocalBackend, LocalConfig};
use tars::{
    Backend, ConcurrencyPolicy, Container, ContainerGroupSpec, CronJob, CronJobSpec, Deployment,
    DeploymentSpec, RestartPolicy,
};
use tars_engine::layer::Metrics;
use tars_engine::metrics::{HISTOGRAMS, prometheus_to_line_protocol};
use tars_engine::webhook::{Webhook, WebhookConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Buckets of every histogram, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// A replica that sleeps; ready when `ready_check` succeeds.
fn template(version: &str, ready_check: &str) -> GroupTemplate {
    let mut probe = Probe::new(ProbeAction::Exec {
        command: vec![ready_check.to_owned()],
    })
    .every(Duration::from_millis(200));
    probe.failure_threshold = 1;
    let container = Container::new("app", "busybox", &["sleep", "3600"])
        .with_env("VERSION", version)
        .with_readiness(probe);
    let mut spec = ContainerGroupSpec::new(vec![container]);
    spec.termination_grace_period = Duration::from_secs(1);
    GroupTemplate {
        labels: [("app".to_owned(), "web".to_owned())].into(),
        annotations: Default::default(),
        spec,
    }
}

fn deployment(version: &str, ready_check: &str) -> Deployment {
    Deployment::new(
        "web",
        DeploymentSpec {
            replicas: 1,
            template: template(version, ready_check),
            strategy: Strategy::Recreate,
            min_ready: Duration::from_millis(200),
            progress_deadline: Some(Duration::from_secs(3)),
            auto_rollback: true,
            paused: false,
            revision_history_limit: 5,
        },
    )
}

fn cron_job(name: &str, script: &str) -> CronJob {
    let mut c = Container::new("main", "busybox", &["sh", "-c"]);
    c.args = vec![script.to_owned()];
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.restart_policy = RestartPolicy::Never;
    spec.termination_grace_period = Duration::from_secs(1);
    CronJob::new(name, CronJobSpec::new(Some("* * * * * *"), spec))
}

/// A loopback HTTP endpoint that answers 200 to every POST and sends on each JSON body.
async fn receiver() -> Result<(String, mpsc::UnboundedReceiver<serde_json::Value>), Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/events", listener.local_addr()?);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        // Ends when the runtime does (at the end of main), or when `rx` is dropped.
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Ok(Some(body)) = serve(sock).await
                    && let Ok(json) = serde_json::from_slice(&body)
                {
                    let _ = tx.send(json);
                }
            });
        }
    });
    Ok((url, rx))
}

/// Reads one request, answers 200, returns its body.
async fn serve(mut sock: TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let body = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break buf[end + 4..end + 4 + len].to_vec();
            }
        }
    };
    sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await?;
    Ok(Some(body))
}

/// A free port on the loopback interface.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let at = move || format!("[{:>4.1}s]", started.elapsed().as_secs_f64());

    // 1. The webhook receiver and the metrics endpoint, both on 127.0.0.1 only.
    let (hook_url, mut received) = receiver().await?;
    println!("webhook receiver on {hook_url}");
    let metrics_addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let mut builder = PrometheusBuilder::new().with_http_listener(metrics_addr);
    for h in HISTOGRAMS {
        builder = builder.set_buckets_for_metric(Matcher::Full((*h).to_owned()), BUCKETS)?;
    }
    let (recorder, exporter) = builder.build()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)?;
    let exporter = tokio::spawn(exporter);
    println!("metrics endpoint on http://{metrics_addr}/metrics");

    // 2. The backend, with the webhook as its event hook and the metrics layer on its API.
    let webhook = Arc::new(Webhook::spawn(
        reqwest::Url::parse(&hook_url)?,
        WebhookConfig {
            attempts: 3,
            backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
            ..WebhookConfig::default()
        },
    )?);
    let state = tempfile::tempdir()?;
    let raw =
        LocalBackend::open(LocalConfig::new(state.path()).event_hook(webhook.clone())).await?;
    let backend = Layered::new(Arc::new(raw), Metrics);

    // 3. Cron jobs every second: one succeeds, one fails, one overruns and misses slots.
    let cron = backend.cron_jobs();
    let mut slow = cron_job("slow", "sleep 1.5");
    slow.spec.concurrency = ConcurrencyPolicy::Forbid;
    for job in [
        cron_job("tick", "echo tick"),
        cron_job("broken", "exit 3"),
        slow,
    ] {
        cron.apply(&job, ApplyOptions::default()).await?;
    }
    println!(
        "{} applied cron jobs tick (ok), broken (exit 3) and slow (1.5 s, Forbid)",
        at()
    );

    // 4. A rollout that fails: v1 is ready, v2 never is.
    let deployments = backend.deployments();
    deployments
        .apply(&deployment("v1", "true"), ApplyOptions::default())
        .await?;
    println!("{} applied web v1", at());
    let mut seen = Vec::new();
    let mut updated = false;
    let deadline = tokio::time::sleep(Duration::from_secs(25));
    tokio::pin!(deadline);
    while !(seen.contains(&"RolloutFailed".to_owned()) && seen.contains(&"RolledBack".to_owned())) {
        tokio::select! {
            () = &mut deadline => return Err(format!("no RolloutFailed and RolledBack at the webhook; got {seen:?}").into()),
            event = received.recv() => {
                let event = event.ok_or("the receiver stopped")?;
                let name = event["event"].as_str().unwrap_or_default().to_owned();
                if !matches!(name.as_str(), "CronRunStarted" | "CronRunSucceeded") {
                    println!("{} webhook received {event}", at());
                }
                if name == "RolloutComplete" && !updated {
                    updated = true;
                    deployments
                        .apply(&deployment("v2", "false"), ApplyOptions::default())
                        .await?;
                    println!("{} applied web v2, whose readiness check always fails (deadline 3 s)", at());
                }
                seen.push(name);
            }
        }
    }
    println!(
        "{} the webhook got RolloutFailed and RolledBack; also {} cron events",
        at(),
        seen.iter().filter(|n| n.starts_with("Cron")).count()
    );

    // 5. An error for the errors counter, then stop the jobs and the deployment.
    let missing = deployments.get("missing").await;
    println!(
        "get deployment missing: {}",
        missing.err().ok_or("it exists")?
    );
    for job in ["tick", "broken", "slow"] {
        let s = cron.get(job).await?.status.unwrap_or_default();
        println!(
            "cron job {job:<6}: {} succeeded, {} failed, {} missed",
            s.success_count, s.error_count, s.missed_count
        );
        cron.delete(job, DeleteOptions::default()).await?;
    }
    deployments.delete("web", DeleteOptions::default()).await?;

    // 6. The metrics, over HTTP from the endpoint, then as line protocol.
    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await?
        .text()
        .await?;
    println!("\n--- GET http://{metrics_addr}/metrics (tars_ series, buckets left out) ---");
    for line in text.lines() {
        if line.starts_with("tars_") && !line.contains("_bucket{") {
            println!("{line}");
        }
    }
    let now_ns = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos(),
    )?;
    println!("\n--- InfluxDB line protocol (buckets left out) ---");
    for line in prometheus_to_line_protocol(&handle.render(), now_ns).lines() {
        if !line.contains("_bucket,") {
            println!("{line}");
        }
    }

    // 7. Stop everything this example started.
    backend.shutdown().await?;
    drop(backend);
    if let Ok(webhook) = Arc::try_unwrap(webhook) {
        webhook.close(Duration::from_secs(2)).await;
    }
    exporter.abort();
    println!("\n{} done", at());
    Ok(())
}
