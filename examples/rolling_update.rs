//! Rolling update: a 6-replica deployment on this machine, updated in three batches (1, 2 and
//! 3 replicas) with a canary gate after the first, showing the rollout live: the deployment's
//! status as it changes and the engine's events (BatchStarted, BatchGated, ScalingUp, ...).
//!
//! ```text
//! cargo run --example rolling_update
//! ```
//!
//! The example resumes the canary gate by itself after a short look, then deletes everything
//! and exits; it finishes within a minute.

use std::time::{Duration, Instant};

use tars::api::{ApplyOptions, DeleteOptions, WatchEvent};
use tars::deployment::{BatchPattern, DeploymentStatus, Gate, Strategy};
use tars::group::{GroupTemplate, Probe, ProbeAction};
use tars::local::{LocalBackend, LocalConfig};
use tars::{Backend, Container, ContainerGroupSpec, Deployment, DeploymentSpec, LabelSelector};
use tokio_stream::StreamExt;

const NAME: &str = "web";

/// A replica: a process that sleeps, ready when its check passes (every 200 ms).
fn template(version: &str) -> GroupTemplate {
    let container = Container::new("app", "busybox", &["sleep", "3600"])
        .with_env("VERSION", version)
        .with_readiness(
            Probe::new(ProbeAction::Exec {
                command: vec!["true".into()],
            })
            .every(Duration::from_millis(200)),
        );
    let mut spec = ContainerGroupSpec::new(vec![container]);
    spec.termination_grace_period = Duration::from_secs(5);
    GroupTemplate {
        labels: [("app".to_owned(), NAME.to_owned())].into(),
        annotations: Default::default(),
        spec,
    }
}

fn deployment(version: &str) -> Result<Deployment, String> {
    Ok(Deployment::new(
        NAME,
        DeploymentSpec {
            replicas: 6,
            template: template(version),
            strategy: Strategy::Batches {
                pattern: "16%+34%+50%".parse::<BatchPattern>()?,
                pause_between: Duration::from_millis(500),
                gate: Gate::Canary,
            },
            min_ready: Duration::from_millis(500),
            progress_deadline: Some(Duration::from_secs(30)),
            auto_rollback: true,
            paused: false,
            revision_history_limit: 5,
        },
    ))
}

fn line(started: Instant, s: &DeploymentStatus) -> String {
    let progressing = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .and_then(|c| c.reason.clone())
        .unwrap_or_default();
    let bar: String = (0..6)
        .map(|i| if i < s.updated { '#' } else { '.' })
        .collect();
    format!(
        "{:>5.1}s  rev {} [{bar}] batch {}  updated {}/6  available {}  total {}  {}{}",
        started.elapsed().as_secs_f32(),
        s.revision,
        s.batch.map_or("-".to_owned(), |b| b.to_string()),
        s.updated,
        s.available,
        s.replicas,
        progressing,
        if s.paused { "  (waiting)" } else { "" },
    )
}

async fn wait_until(
    events: &mut tars::WatchStream<DeploymentSpec>,
    started: Instant,
    last: &mut String,
    done: impl Fn(&Deployment) -> bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = tokio::time::sleep(Duration::from_secs(40));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return Err("the rollout took too long".into()),
            event = events.next() => match event.ok_or("the watch ended")?? {
                WatchEvent::Existing(o) | WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                    if let Some(s) = &o.status {
                        let now = line(started, s);
                        // Print only what changed, not the timestamp alone.
                        if now[7..] != last.get(7..).unwrap_or_default()[..] {
                            println!("{now}");
                            *last = now;
                        }
                    }
                    if done(&o) {
                        return Ok(());
                    }
                }
                _ => {}
            },
        }
    }
}

fn complete(o: &Deployment) -> bool {
    o.status.as_ref().is_some_and(|s| {
        Some(s.observed_generation) == o.metadata.generation
            && s.updated == 6
            && s.available == 6
            && s.replicas == 6
            && s.current_revision == s.revision
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let backend = LocalBackend::open(LocalConfig::new(dir.path())).await?;
    let mut rollout_events = backend.local_deployments().events();
    tokio::spawn(async move {
        while let Ok(e) = rollout_events.recv().await {
            println!("        event {:?}: {}", e.kind, e.message);
        }
    });
    let deployments = backend.deployments();
    let mut watch = deployments.watch(&LabelSelector::everything()).await?;
    let started = Instant::now();
    let mut last = String::new();

    println!("creating {NAME} with 6 replicas of v1");
    deployments
        .apply(&deployment("v1")?, ApplyOptions::default())
        .await?;
    wait_until(&mut watch, started, &mut last, complete).await?;

    println!(
        "\nupdating {NAME} to v2: batches of 1, 2 and 3 replicas, a canary gate after the first"
    );
    deployments
        .apply(&deployment("v2")?, ApplyOptions::default())
        .await?;
    wait_until(&mut watch, started, &mut last, |o| {
        o.status
            .as_ref()
            .is_some_and(|s| s.paused && s.updated == 1)
    })
    .await?;
    println!("\nthe canary runs v2; looking at it for a second, then resume()");
    tokio::time::sleep(Duration::from_secs(1)).await;
    deployments.resume(NAME).await?;
    wait_until(&mut watch, started, &mut last, complete).await?;

    println!("\nhistory:");
    for r in deployments.history(NAME).await? {
        println!(
            "  revision {} ({}): {}",
            r.revision,
            r.template_hash,
            r.cause.unwrap_or_default()
        );
    }
    deployments.delete(NAME, DeleteOptions::default()).await?;
    println!("\ndeleted {NAME}; every replica stopped");
    backend.shutdown().await?;
    Ok(())
}
