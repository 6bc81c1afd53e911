//! The cron engine's precision and scale, measured with a no-op driver (a started run
//! succeeds at once) and the store the embedded backend uses (`RedbStore`, in a temporary
//! directory: its data lives on disk, and memory growth is the engine's and redb's own; pass
//! `--memory-store` for the in-memory store, whose copy of every job is counted): schedules spread evenly over the minute
//! (`<i mod 60> * * * * *`), at 1k, 10k and 100k jobs. Prints, per size: time to schedule the
//! jobs, memory per job, firings observed, firing lateness (p50, p99, max; from the slot to the
//! driver's start call), CPU while firing, and CPU with nothing due (no polling).
//!
//! ```text
//! cargo run --release --example cron_bench                 # 1k, 10k, 100k; about 2 minutes
//! cargo run --release --example cron_bench -- 1000 15      # one size, 15 s window
//! cargo run --release --example cron_bench -- 1000 15 --memory-store
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::Timestamp;
use tars_api::{
    ContainerGroup, ContainerGroupSpec, ContainerGroupStatus, GroupPhase, LabelSelector, Result,
    WatchEvent, WatchStream,
};
use tars_engine::cron::CronEngine;
use tars_engine::driver::GroupDriver;
use tars_engine::store::{MemoryStore, RedbStore, Store};
use tars_examples::{bench_cron_job as job, cpu_seconds, rss};
use tokio::sync::mpsc;

/// Runs succeed the moment they start; lateness is taken at the start call.
struct NoopDriver {
    /// (slot, lateness in µs) of every start.
    lateness_us: Mutex<Vec<(i64, i64)>>,
    /// Runs started: their name and labels; the watch turns them into succeeded groups, so
    /// that the start call itself stays as cheap as a driver that hands a run over.
    events: mpsc::UnboundedSender<(String, tars_api::meta::Labels)>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<(String, tars_api::meta::Labels)>>>,
}

impl NoopDriver {
    fn new() -> Arc<Self> {
        let (events, rx) = mpsc::unbounded_channel();
        Arc::new(NoopDriver {
            lateness_us: Mutex::new(Vec::new()),
            events,
            receiver: Mutex::new(Some(rx)),
        })
    }

    fn take_lateness(&self) -> Vec<(i64, i64)> {
        std::mem::take(
            &mut *self
                .lateness_us
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

#[async_trait]
impl GroupDriver for NoopDriver {
    async fn start(&self, group: &ContainerGroup) -> Result<()> {
        let now = Timestamp::now();
        // Scheduled runs are named `<job>-<slot unix seconds>`.
        if let Some(slot) = group
            .name()
            .rsplit_once('-')
            .and_then(|(_, s)| s.parse::<i64>().ok())
            .and_then(|s| Timestamp::from_second(s).ok())
        {
            let late = now.duration_since(slot).as_micros() as i64;
            self.lateness_us
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((slot.as_second(), late));
        }
        let _ = self
            .events
            .send((group.name().to_owned(), group.metadata.labels.clone()));
        Ok(())
    }

    async fn stop(&self, _: &str, _: Option<Duration>) -> Result<()> {
        Ok(())
    }

    async fn list(&self, _: &LabelSelector) -> Result<Vec<ContainerGroup>> {
        Ok(Vec::new())
    }

    async fn watch(&self, _: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
        let rx = self
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(rx) = rx else {
            return Ok(Box::pin(futures::stream::pending()));
        };
        let events = futures::stream::unfold(rx, |mut rx| async move {
            let (name, labels) = rx.recv().await?;
            let mut done = ContainerGroup::new(name, ContainerGroupSpec::new(Vec::new()));
            done.metadata.labels = labels;
            done.status = Some(ContainerGroupStatus {
                phase: GroupPhase::Succeeded,
                ..Default::default()
            });
            Some((Ok(WatchEvent::Modified(done)), rx))
        });
        Ok(Box::pin(futures::StreamExt::chain(
            futures::stream::iter([Ok(WatchEvent::SnapshotDone)]),
            events,
        )))
    }
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

struct Row {
    jobs: usize,
    schedule_s: f64,
    bytes_per_job: f64,
    firings: usize,
    p50: f64,
    p99: f64,
    max: f64,
    cpu_firing: f64,
    cpu_idle: f64,
    /// Median over slots of the first start's lateness, ms.
    wake: f64,
    /// Median over slots of first-to-last start, ms.
    spread: f64,
}

/// A fresh store: redb in a temporary directory (removed when the guard drops), or in memory.
fn store(memory: bool) -> (Arc<dyn Store>, Option<tempfile::TempDir>) {
    if memory {
        return (Arc::new(MemoryStore::new()), None);
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = RedbStore::open(dir.path()).expect("redb store");
    (Arc::new(store), Some(dir))
}

async fn measure(jobs: usize, window: Duration, memory: bool) -> Row {
    let base = rss();
    let driver = NoopDriver::new();
    let (firing_store, _dir) = store(memory);
    let engine =
        CronEngine::start(driver.clone(), firing_store, Box::new(|_| true)).expect("engine");
    let t = Instant::now();
    for i in 0..jobs {
        engine
            .put(job(i, &format!("{} * * * * *", i % 60)))
            .expect("put");
    }
    let schedule_s = t.elapsed().as_secs_f64();
    let bytes_per_job = rss().saturating_sub(base) as f64 / jobs as f64;
    // Firings while the window runs, after a second to settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    driver.take_lateness();
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(window).await;
    let cpu_firing = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64() * 100.0;
    let starts = driver.take_lateness();
    let (wake, spread) = per_slot(&starts);
    let mut late: Vec<i64> = starts.iter().map(|(_, l)| *l).collect();
    late.sort_unstable();
    engine.shutdown().await;
    drop(engine);

    // The same number of jobs with nothing due for a year: the engine must sleep.
    let (idle_store, _idle_dir) = store(memory);
    let idle =
        CronEngine::start(NoopDriver::new(), idle_store, Box::new(|_| true)).expect("engine");
    for i in 0..jobs {
        idle.put(job(i, "0 0 0 1 1 *")).expect("put");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu_idle = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64() * 100.0;
    idle.shutdown().await;
    Row {
        jobs,
        schedule_s,
        bytes_per_job,
        firings: late.len(),
        p50: percentile(&late, 0.50),
        p99: percentile(&late, 0.99),
        max: late.last().map_or(f64::NAN, |m| *m as f64 / 1000.0),
        cpu_firing,
        cpu_idle,
        wake,
        spread,
    }
}

/// Medians over the slots of the window: the first start's lateness (how late the engine
/// woke) and the time from the first start to the last (handing the slot's runs out).
fn per_slot(starts: &[(i64, i64)]) -> (f64, f64) {
    let mut by_slot: std::collections::BTreeMap<i64, (i64, i64)> = Default::default();
    for &(slot, late) in starts {
        let e = by_slot.entry(slot).or_insert((late, late));
        e.0 = e.0.min(late);
        e.1 = e.1.max(late);
    }
    let mut first: Vec<i64> = by_slot.values().map(|(a, _)| *a).collect();
    let mut spread: Vec<i64> = by_slot.values().map(|(a, b)| b - a).collect();
    first.sort_unstable();
    spread.sort_unstable();
    (percentile(&first, 0.5), percentile(&spread, 0.5))
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let memory = args.iter().any(|a| a == "--memory-store");
    args.retain(|a| a != "--memory-store");
    let sizes: Vec<usize> = match args.first().and_then(|a| a.parse().ok()) {
        Some(n) => vec![n],
        None => vec![1_000, 10_000, 100_000],
    };
    let window = Duration::from_secs(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20));
    let which = if memory {
        "in-memory store"
    } else {
        "redb store in a temporary directory"
    };
    println!(
        "cron engine benchmark: no-op driver, {which}, `<i mod 60> * * * * *`, {window:?} window per size"
    );
    println!(
        "| jobs | schedule all | memory/job | firings | lateness p50 | p99 | max | woke (first start) | first→last start | CPU firing | CPU nothing due |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let r = measure(n, window, memory).await;
        println!(
            "| {} | {:.2} s | {:.0} B | {} ({:.0}/s) | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} % | {:.2} % |",
            r.jobs,
            r.schedule_s,
            r.bytes_per_job,
            r.firings,
            r.firings as f64 / window.as_secs_f64(),
            r.p50,
            r.p99,
            r.max,
            r.wake,
            r.spread,
            r.cpu_firing,
            r.cpu_idle
        );
    }
}
