//! The rollout planner's cost per reconcile step for a 1,000-replica deployment in the middle
//! of a rollout (target: under 1 ms).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tars_api::deployment::{BatchPattern, DeploymentSpec, Gate, IntOrPercent, Strategy};
use tars_api::group::GroupTemplate;
use tars_api::{Container, ContainerGroupSpec};
use tars_engine::rollout::{PlanInput, Progress, Replica, plan, replica_name};

const OLD: &str = "aaaaaaaaaaaaaaaa";
const NEW: &str = "bbbbbbbbbbbbbbbb";
const REPLICAS: u32 = 1_000;

fn spec(strategy: Strategy) -> DeploymentSpec {
    DeploymentSpec {
        replicas: REPLICAS,
        template: GroupTemplate {
            labels: Default::default(),
            annotations: Default::default(),
            spec: ContainerGroupSpec::new(vec![Container::new("app", "img", &["sleep"])]),
        },
        strategy,
        min_ready: Duration::from_secs(5),
        progress_deadline: Some(Duration::from_secs(600)),
        auto_rollback: true,
        paused: false,
        revision_history_limit: 10,
    }
}

/// Mid-rollout: 600 old replicas available, 300 new available, 100 new still starting.
fn replicas() -> Vec<Replica> {
    (0..REPLICAS as u64)
        .map(|i| {
            let (hash, ready) = match i {
                0..600 => (OLD, true),
                600..900 => (NEW, true),
                _ => (NEW, false),
            };
            Replica {
                name: replica_name("web", hash, i),
                hash: hash.to_owned(),
                ordinal: i,
                ready,
                ready_since_ms: ready.then_some(1_000),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let replicas = replicas();
    let progress = Progress {
        update_hash: NEW.to_owned(),
        stable_hash: Some(OLD.to_owned()),
        next_ordinal: u64::from(REPLICAS),
        ..Default::default()
    };
    let strategies = [
        (
            "rolling_25pct",
            Strategy::Rolling {
                max_surge: IntOrPercent::Percent(25),
                max_unavailable: IntOrPercent::Percent(25),
            },
        ),
        (
            "batches_10_20_70",
            Strategy::Batches {
                pattern: "10%+20%+70%".parse::<BatchPattern>().expect("pattern"),
                pause_between: Duration::ZERO,
                gate: Gate::None,
            },
        ),
    ];
    for (label, strategy) in strategies {
        let spec = spec(strategy);
        c.bench_function(&format!("plan_step_1000_replicas_{label}"), |b| {
            b.iter(|| {
                plan(black_box(&PlanInput {
                    name: "web",
                    spec: &spec,
                    generation: 2,
                    update_hash: NEW,
                    update_number: 2,
                    stable_number: 1,
                    replicas: &replicas,
                    progress: &progress,
                    now_ms: 60_000,
                }))
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
