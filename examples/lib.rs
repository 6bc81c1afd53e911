//! Runnable examples of tars live beside this file; run them with
//! `cargo run --example <name>` from the repository root. This library holds what two of them
//! share: the cron benchmarks' job shape and the process' resident memory.
#![forbid(unsafe_code)]

use tars_api::{
    ConcurrencyPolicy, Container, ContainerGroupSpec, CronJob, CronJobSpec, RestartPolicy,
};

/// The job the cron benchmarks schedule: `job-<i>` on `schedule`, one container running
/// `true`, Forbid, one successful run kept.
pub fn bench_cron_job(i: usize, schedule: &str) -> CronJob {
    let mut spec = ContainerGroupSpec::new(vec![Container::new("main", "none", &["true"])]);
    spec.restart_policy = RestartPolicy::Never;
    CronJob::new(
        format!("job-{i}"),
        CronJobSpec {
            concurrency: ConcurrencyPolicy::Forbid,
            successful_history_limit: 1,
            ..CronJobSpec::new(Some(schedule), spec)
        },
    )
}

/// Resident memory of this process, in bytes (`/proc/self/statm`; 0 where there is none).
pub fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// CPU time (user + system) this process used, in seconds (`/proc/self/stat`; 0 where there
/// is none).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}
