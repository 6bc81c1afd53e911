//! The cron engine's exactly-once promise over more than 100 slots: a per-second job while
//! tars is killed (abandoned, as a crash) and reopened on the same state again and again, at
//! varying moments. Every slot from the first to the last is one run or one missed record.

use std::time::Duration;

use tars_api::{
    ApplyOptions, Backend, Container, ContainerGroupSpec, CronJob, CronJobSpec, RestartPolicy,
    RunOutcome,
};
use tars_backend_local::{LocalBackend, LocalConfig};
use tars_conformance::cases::cron::check_every_slot_once;

fn job(suspend: bool) -> CronJob {
    let mut spec = ContainerGroupSpec::new(vec![Container::new("main", "none", &["true"])]);
    spec.restart_policy = RestartPolicy::Never;
    CronJob::new(
        "exact",
        CronJobSpec {
            retry_backoff: Duration::from_secs(1),
            suspend,
            successful_history_limit: 1000,
            failed_history_limit: 1000,
            ..CronJobSpec::new(Some("* * * * * *"), spec)
        },
    )
}

async fn open(dir: &std::path::Path) -> LocalBackend {
    LocalBackend::open(LocalConfig::new(dir).instance("exact"))
        .await
        .expect("open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_100_slots_through_restarts_each_runs_once_or_is_missed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = tokio::time::Instant::now();
    {
        let backend = open(dir.path()).await;
        backend
            .cron_jobs()
            .apply(&job(false), ApplyOptions::default())
            .await
            .expect("apply");
        backend.abandon().await;
    }
    // Uneven lifetimes, so restarts fall at every phase of a slot; some outages span several
    // slots, which must then be caught up once and recorded as missed.
    let lifetimes_ms = [1300u64, 2100, 700, 3700, 1900, 2900, 450, 5100];
    let outages_ms = [0u64, 2600, 0, 1200, 0, 0, 3300, 400];
    let mut restarts = 0;
    while start.elapsed() < Duration::from_secs(108) {
        let backend = open(dir.path()).await;
        tokio::time::sleep(Duration::from_millis(
            lifetimes_ms[restarts % lifetimes_ms.len()],
        ))
        .await;
        backend.abandon().await;
        drop(backend);
        tokio::time::sleep(Duration::from_millis(
            outages_ms[restarts % outages_ms.len()],
        ))
        .await;
        restarts += 1;
    }
    let backend = open(dir.path()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    backend
        .cron_jobs()
        .apply(&job(true), ApplyOptions::default())
        .await
        .expect("suspend");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let history = loop {
        let h = backend.cron_jobs().runs("exact").await.expect("runs");
        if h.iter().all(|r| r.outcome != RunOutcome::Running) {
            break h;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runs still active: {h:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    backend.shutdown().await.expect("shutdown");
    check_every_slot_once(&history).unwrap_or_else(|e| panic!("{e}"));
    let ran = history
        .iter()
        .filter(|r| r.outcome == RunOutcome::Succeeded)
        .count();
    assert!(
        ran < history.len(),
        "the outages missed no slot: nothing was caught up"
    );
    assert!(
        history.len() >= 100,
        "only {} slots over {restarts} restarts",
        history.len()
    );
    eprintln!(
        "{} slots through {restarts} restarts: {ran} run once, {} recorded as missed",
        history.len(),
        history.len() - ran
    );
}
