//! Cron: a small DAG of jobs on tars' cron engine, running for a few seconds on the embedded
//! backend (or any other, `--backend URL`) and printing each run as it ends.
//!
//! `extract` runs every 2 seconds and `fetch` every 3; `report` has no schedule and runs once
//! each time both of its parents have succeeded since its last run (Chronos' rule). `flaky`
//! fails and is retried with backoff; `slow` overruns and, with `concurrency: Forbid`, makes
//! its next slots be recorded as missed.
//!
//! ```text
//! cargo run --example cron                    # about 10 seconds, then exits
//! cargo run --example cron -- --seconds 30    # longer
//! cargo run --example cron -- --backend mesos://127.0.0.1:5050   # on Mesos
//! ```

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tars::api::{ApplyOptions, DeleteOptions};
use tars::{
    ConcurrencyPolicy, Container, ContainerGroupSpec, CronJob, CronJobSpec, CronRun, RestartPolicy,
    RunOutcome,
};

fn job(name: &str, schedule: Option<&str>, script: &str) -> CronJob {
    let mut c = Container::new("main", "busybox", &["sh", "-c"]);
    c.args = vec![script.to_owned()];
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.restart_policy = RestartPolicy::Never;
    spec.termination_grace_period = Duration::from_secs(1);
    CronJob::new(name, {
        let mut job = CronJobSpec::new(schedule, spec);
        job.time_zone = Some("Europe/London".into());
        job.starting_deadline = Some(Duration::from_secs(5));
        job.retry_backoff = Duration::from_millis(500);
        job.successful_history_limit = 50;
        job.failed_history_limit = 50;
        job.template.labels = [("app".to_owned(), "cron-example".to_owned())].into();
        job
    })
    .with_label("app", "cron-example")
}

fn jobs() -> Vec<CronJob> {
    let extract = job("extract", Some("*/2 * * * * *"), "echo extracted");
    let fetch = job("fetch", Some("*/3 * * * * *"), "echo fetched");
    let mut report = job("report", None, "echo reported");
    report.spec.parents = vec!["extract".into(), "fetch".into()];
    let mut flaky = job("flaky", Some("*/5 * * * * *"), "exit 7");
    flaky.spec.retries = 2;
    let mut slow = job("slow", Some("* * * * * *"), "sleep 2.5");
    slow.spec.concurrency = ConcurrencyPolicy::Forbid;
    vec![extract, fetch, report, flaky, slow]
}

fn describe(job: &str, r: &CronRun) -> String {
    let how = match r.outcome {
        RunOutcome::Succeeded => "succeeded".to_owned(),
        RunOutcome::Failed => format!("FAILED (exit {:?})", r.exit_code),
        RunOutcome::Missed => "missed".to_owned(),
        RunOutcome::Replaced => "replaced".to_owned(),
        RunOutcome::Running => "running".to_owned(),
    };
    let took = match (r.started_at, r.finished_at) {
        (Some(s), Some(f)) => format!(" in {:.0} ms", f.duration_since(s).as_secs_f64() * 1e3),
        _ => String::new(),
    };
    let late = r
        .started_at
        .map(|s| {
            format!(
                ", started {:.1} ms after its slot",
                s.duration_since(r.slot).as_secs_f64() * 1e3
            )
        })
        .unwrap_or_default();
    format!(
        "{job:<8} slot {} attempt {} {how}{took}{late}{}{}",
        r.slot.strftime("%H:%M:%S"),
        r.attempt,
        if r.manual { " (manual)" } else { "" },
        r.reason
            .as_deref()
            .filter(|_| r.outcome != RunOutcome::Succeeded)
            .map(|why| format!(" — {why}"))
            .unwrap_or_default()
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let mut seconds = 10u64;
    let mut url = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().ok_or("--seconds needs a number")?.parse()?,
            "--backend" => url = Some(args.next().ok_or("--backend needs a URL")?),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let state = tempfile::tempdir()?;
    let url = url.unwrap_or_else(|| format!("local://{}", state.path().display()));
    // Shown without the credentials a URL may carry (`chronos=http://user:secret@host`).
    println!("tars cron example: backend {}", tars::url::redact(&url));
    let backend = tars::connect(&url).await?;
    let api = backend.cron_jobs();
    for j in jobs() {
        let applied = api.apply(&j, ApplyOptions::default()).await?;
        let next = applied
            .object
            .status
            .and_then(|s| s.next_schedule)
            .map_or("after its parents".to_owned(), |t| t.to_string());
        println!("applied {:<8} next: {next}", j.name());
    }
    let manual = api.trigger("report").await?;
    println!("triggered report by hand: group {manual}");

    let started = Instant::now();
    // Records end out of slot order (a slow run ends after a quick later one): remember each.
    let mut printed: BTreeSet<(String, String)> = BTreeSet::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for j in jobs() {
            for r in api.runs(j.name()).await? {
                let key = (j.name().to_owned(), format!("{}/{}", r.slot, r.group));
                if r.outcome != RunOutcome::Running && printed.insert(key) {
                    println!(
                        "[{:>4.1}s] {}",
                        started.elapsed().as_secs_f64(),
                        describe(j.name(), &r)
                    );
                }
            }
        }
    }
    println!();
    for j in jobs() {
        let s = api.get(j.name()).await?.status.unwrap_or_default();
        println!(
            "{:<8} succeeded {:>2}, failed {:>2}, missed {:>2}",
            j.name(),
            s.success_count,
            s.error_count,
            s.missed_count
        );
    }
    for j in jobs().iter().rev() {
        api.delete(j.name(), DeleteOptions::default()).await?;
    }
    backend.shutdown().await?;
    Ok(())
}
