//! Quickstart: run a two-container group on this machine with the embedded backend, watch it
//! become ready, look at its endpoints and logs, and delete it.
//!
//! ```text
//! cargo run --example quickstart                       # embedded backend, state in a temp dir
//! cargo run --example quickstart -- --backend URL      # another backend (see tars::url)
//! cargo run --example quickstart -- --keep             # leave the group running for inspection
//! cargo run --example quickstart -- --backend URL --delete   # delete a group left by --keep
//! ```
//!
//! On a backend without readiness checks (OpenStack: nothing on a Nova server runs the probe)
//! the web server is applied without one, and the group is ready when its engine says it runs.

use std::time::{Duration, Instant};

use tars::api::{ApplyOptions, DeleteOptions, LogOptions};
use tars::conditions::is_group_ready;
use tars::group::{PortRef, Probe, ProbeAction};
use tars::{Backend, Container, ContainerGroup, ContainerGroupSpec, Error, Feature};

const NAME: &str = "quickstart";

/// The web server: Python's own HTTP server on the port tars gives it, with a readiness check
/// where the backend runs them.
fn server(readiness: bool) -> Container {
    let web = Container::new(
        "web",
        "python:3.12-slim",
        &[
            "sh",
            "-c",
            "exec python3 -m http.server \"$PORT_HTTP\" --bind 127.0.0.1",
        ],
    )
    .with_port("http", Some(8000));
    if !readiness {
        return web;
    }
    web.with_readiness(
        Probe::new(ProbeAction::HttpGet {
            port: PortRef::Name("http".into()),
            path: "/".into(),
        })
        .every(Duration::from_millis(250)),
    )
}

/// A sidecar that polls the server every second and logs what it sees.
fn poller() -> Container {
    let script = r#"
import os, time, urllib.request
url = "http://127.0.0.1:%s/" % os.environ["PORT_HTTP"]
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            print("poller: GET", url, "->", r.status, flush=True)
    except Exception as e:
        print("poller: GET", url, "failed:", e, flush=True)
    time.sleep(1)
"#;
    Container::new("poller", "python:3.12-slim", &["python3", "-c", script])
}

struct Args {
    backend: Option<String>,
    keep: bool,
    delete: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        backend: None,
        keep: false,
        delete: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--backend" => args.backend = Some(it.next().ok_or("--backend needs a URL")?),
            "--keep" => args.keep = true,
            "--delete" => args.delete = true,
            "-h" | "--help" => {
                println!("usage: quickstart [--backend URL] [--keep | --delete]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if args.keep && args.delete {
        return Err("--keep and --delete exclude each other".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = parse_args()?;
    // The embedded backend keeps its state in a temporary directory unless told otherwise.
    let state = tempfile::tempdir()?;
    let url = match &args.backend {
        Some(url) => url.clone(),
        None => format!("local://{}", state.path().display()),
    };
    // Shown without the credentials a URL may carry (`chronos=http://user:secret@host`).
    println!("tars quickstart: backend {}", tars::url::redact(&url));
    let backend = tars::connect(&url).await?;
    let caps = backend.capabilities().await?;
    if args.delete {
        let result = backend
            .container_groups()
            .delete(NAME, DeleteOptions::default())
            .await;
        backend.shutdown().await?;
        result?;
        println!("deleted {NAME}");
        return Ok(());
    }

    let group = ContainerGroup::new(
        NAME,
        ContainerGroupSpec::new(vec![
            server(caps.supports(Feature::ReadinessChecks)),
            poller(),
        ]),
    )
    .with_label("app", "quickstart");
    let plan = backend
        .container_groups()
        .apply(&group, ApplyOptions::dry_run())
        .await?;
    println!("plan (dry run): {:?}", plan.change);
    let applied = backend
        .container_groups()
        .apply(&group, ApplyOptions::default())
        .await?;
    println!(
        "applied {NAME}: {:?}, generation {}",
        applied.change,
        applied.object.metadata.generation.unwrap_or(0)
    );

    // Whatever goes wrong from here on, the group is not left running behind the user's back.
    if let Err(e) = watch_and_show(&*backend, caps.supports(Feature::Logs)).await {
        eprintln!("quickstart failed: {e}");
        if !args.keep {
            let _ = backend
                .container_groups()
                .delete(NAME, DeleteOptions::default())
                .await;
            eprintln!("deleted {NAME}");
        }
        backend.shutdown().await?;
        return Err(e);
    }

    if args.keep {
        // The local backend's state directory is where the group lives: keep it too.
        let url = match &args.backend {
            Some(url) => url.clone(),
            None => format!("local://{}", state.keep().display()),
        };
        println!("--keep: {NAME} stays running; inspect it with the engine's own tools");
        // Credentials in the URL are hidden (`***`): give them again to delete.
        println!(
            "remove it with: cargo run --example quickstart -- --backend '{}' --delete",
            tars::url::redact(&url)
        );
        backend.shutdown().await?;
        return Ok(());
    }
    let t = Instant::now();
    backend
        .container_groups()
        .delete(NAME, DeleteOptions::default())
        .await?;
    match backend.container_groups().get(NAME).await {
        Err(Error::NotFound { .. }) => println!(
            "deleted {NAME} in {:.2}s; nothing of it is left",
            t.elapsed().as_secs_f64()
        ),
        other => return Err(format!("{NAME} still there after delete: {other:?}").into()),
    }
    backend.shutdown().await?;
    Ok(())
}

/// Waits for the group to be ready while showing progress, then prints its status,
/// endpoints and logs.
async fn watch_and_show(
    backend: &dyn Backend,
    logs_supported: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut last = String::new();
    let ready = tars::wait::wait_for(
        backend.container_groups(),
        NAME,
        is_group_ready(),
        Duration::from_secs(45),
        |o| {
            let line = describe(o);
            if line != last {
                println!("  [{:>5.1}s] {line}", started.elapsed().as_secs_f64());
                last = line;
            }
        },
    )
    .await?
    .ok_or("the group vanished while waiting")?;
    let status = ready.status.clone().unwrap_or_default();
    println!(
        "ready after {:.1}s: phase {:?}, host {}",
        started.elapsed().as_secs_f64(),
        status.phase,
        status.host.as_deref().unwrap_or("?")
    );
    for c in &status.containers {
        println!(
            "  container {:<7} ready={} restarts={}",
            c.name, c.ready, c.restart_count
        );
    }
    for e in &status.endpoints {
        println!("  endpoint {}/{} -> http://{e}/", e.container, e.port_name);
    }

    // Give the poller a moment to reach the server, then show its log.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    show_logs(backend, logs_supported).await?;
    Ok(())
}

async fn show_logs(backend: &dyn Backend, supported: bool) -> Result<(), Error> {
    if !supported {
        println!(
            "logs: this backend ({}) offers no container logs",
            backend.name()
        );
        return Ok(());
    }
    for container in ["web", "poller"] {
        let text = backend
            .container_groups()
            .logs(NAME, container, &LogOptions { tail: Some(3) })
            .await?;
        println!("last lines of {container}:");
        for line in text.lines() {
            println!("  | {line}");
        }
    }
    Ok(())
}

fn describe(o: Option<&ContainerGroup>) -> String {
    let Some(s) = o.and_then(|o| o.status.as_ref()) else {
        return "accepted, waiting for status".to_owned();
    };
    let containers: Vec<String> = s
        .containers
        .iter()
        .map(|c| {
            let state = match &c.state {
                tars::group::ContainerState::Waiting { reason } => format!("waiting ({reason})"),
                tars::group::ContainerState::Running { .. } if c.ready => "ready".to_owned(),
                tars::group::ContainerState::Running { .. } => "running".to_owned(),
                tars::group::ContainerState::Terminated(t) => format!("exited ({})", t.reason),
            };
            format!("{}: {state}", c.name)
        })
        .collect();
    format!("{:?}, {}", s.phase, containers.join(", "))
}
