//! What the cron engine keeps per job, counted by the allocator rather than read from the
//! resident set: the heap bytes and the allocations still live after scheduling N jobs (the
//! jobs of `cron_bench`, on 60 schedules that fire next on 1 January, so that nothing runs while
//! it counts), beside the resident-memory growth `cron_bench` reports. The counts do not depend
//! on the machine's load; the resident set also holds what the allocator keeps for itself
//! (chunk headers, per-thread arenas, freed space it has not returned).
//!
//! ```text
//! cargo run --release --example cron_heap                   # 100,000 jobs, redb store
//! cargo run --release --example cron_heap -- 10000 --memory-store
//! ```

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tars_api::{
    ContainerGroup, ContainerGroupSpec, Error, Kind, LabelSelector, Result, WatchEvent, WatchStream,
};
use tars_engine::cron::CronEngine;
use tars_engine::driver::GroupDriver;
use tars_engine::store::{MemoryStore, RedbStore, Store};
use tars_examples::{bench_cron_job, rss};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Nothing is due while this example counts: a start would be a bug here, and says so.
struct IdleDriver;

#[async_trait]
impl GroupDriver for IdleDriver {
    async fn start(&self, group: &ContainerGroup) -> Result<()> {
        Err(Error::Conflict {
            kind: Kind::ContainerGroup,
            name: group.name().to_owned(),
            reason: "cron_heap starts no run: nothing should be due".to_owned(),
        })
    }

    async fn stop(&self, _: &str, _: Option<Duration>) -> Result<()> {
        Ok(())
    }

    async fn list(&self, _: &LabelSelector) -> Result<Vec<ContainerGroup>> {
        Ok(Vec::new())
    }

    async fn watch(&self, _: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
        Ok(Box::pin(futures::StreamExt::chain(
            futures::stream::iter([Ok(WatchEvent::SnapshotDone)]),
            futures::stream::pending(),
        )))
    }
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let memory = args.iter().any(|a| a == "--memory-store");
    args.retain(|a| a != "--memory-store");
    let jobs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);

    let dir = tempfile::tempdir().expect("temporary directory");
    let store: Arc<dyn Store> = if memory {
        Arc::new(MemoryStore::new())
    } else {
        Arc::new(RedbStore::open(dir.path()).expect("redb store"))
    };
    let rss0 = rss();
    let region = Region::new(GLOBAL);
    let engine =
        CronEngine::start(Arc::new(IdleDriver), store, Box::new(|_| true)).expect("engine");
    for i in 0..jobs {
        // 00:00–00:59 on 1 January: 60 schedules, as cron_bench's 60 seconds of the minute.
        engine
            .put(bench_cron_job(i, &format!("0 {} 0 1 1 *", i % 60)))
            .expect("put");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = region.change();
    let grown = rss().saturating_sub(rss0);
    // A realloc adds its growth to `bytes_allocated` (or its shrinking to `bytes_deallocated`).
    let live_bytes = stats.bytes_allocated as i128 - stats.bytes_deallocated as i128;
    let live_allocs = stats.allocations as i128 - stats.deallocations as i128;
    let per = |v: f64| v / jobs as f64;
    println!(
        "cron engine, {jobs} jobs, {} store:",
        if memory { "in-memory" } else { "redb" }
    );
    println!(
        "  live heap       {:>8.0} B/job  ({:.1} MiB)",
        per(live_bytes as f64),
        live_bytes as f64 / 1_048_576.0
    );
    println!(
        "  live allocations {:>7.2} /job   (glibc adds 8 B to each, and rounds it up to 16 B)",
        per(live_allocs as f64)
    );
    println!(
        "  allocated while scheduling {:>8.0} B/job in {:.1} allocations/job (freed again but for the above)",
        per(stats.bytes_allocated as f64),
        per(stats.allocations as f64)
    );
    println!(
        "  resident growth {:>8.0} B/job  ({:.1} MiB)",
        per(grown as f64),
        grown as f64 / 1_048_576.0
    );
    engine.shutdown().await;
}
