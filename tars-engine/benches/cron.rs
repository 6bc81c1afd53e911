//! Next-fire throughput: how fast the engine finds a job's next slot (the work done once per
//! firing and once per job at start), and how fast it decides an on-time firing.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use tars_api::Schedule;
use tars_engine::cron::plan;

fn schedules() -> Vec<(&'static str, Schedule)> {
    let parse = |e: &str, tz: Option<&str>| Schedule::parse(e, tz).expect("schedule");
    vec![
        ("every_15s_utc", parse("*/15 * * * * *", None)),
        (
            "hourly_new_york",
            parse("0 * * * *", Some("America/New_York")),
        ),
        (
            "wall_clock_0230_berlin",
            parse("30 2 * * *", Some("Europe/Berlin")),
        ),
        ("weekdays_9_to_17", parse("0 */5 9-17 * * 1-5", None)),
        ("iso8601_pt1h", parse("R/2026-01-01T00:00:00Z/PT1H", None)),
    ]
}

fn next_fire(c: &mut Criterion) {
    let now: Timestamp = "2026-03-28T23:59:59.5Z".parse().expect("ts");
    let mut group = c.benchmark_group("next_fire");
    group.throughput(Throughput::Elements(1));
    for (name, schedule) in schedules() {
        group.bench_function(name, |b| {
            b.iter(|| black_box(schedule.next_after(black_box(now))))
        });
    }
    group.finish();
}

fn on_time_decision(c: &mut Criterion) {
    let schedule = Schedule::parse("* * * * * *", None).expect("schedule");
    let after: Timestamp = "2026-01-01T00:00:00Z".parse().expect("ts");
    let now: Timestamp = "2026-01-01T00:00:01.002Z".parse().expect("ts");
    let mut group = c.benchmark_group("due");
    group.throughput(Throughput::Elements(1));
    group.bench_function("on_time", |b| {
        b.iter(|| black_box(plan::due(&schedule, black_box(after), None, black_box(now))))
    });
    group.finish();
}

criterion_group!(benches, next_fire, on_time_decision);
criterion_main!(benches);
