//! Fault test: Nova's services are killed with SIGKILL and restarted
//! (`scripts/engines/openstack/kill-service.sh`) in the middle of a rolling update and while a
//! CronJob of every minute fires: nova-api and nova-compute in turn, `TARS_OS_FAULT_ROUNDS`
//! times each (default 20; scripts/test runs 3). In each round the next revision is applied,
//! the service dies 0.3–1.2 s into the rollout, and the rollout must complete on that revision
//! after the restart: while nova-api is down tars' calls fail as `Unavailable` and its engines
//! retry; a server caught building when its nova-compute died goes to ERROR at the restart,
//! and tars deletes and replaces it. The stand-in of the conformance column ends the cron runs'
//! servers, as a container runtime would. Meanwhile a call is made every 250 ms: each one
//! that fails must fail with `Unavailable` (retryable), and at least one must have; and a watch
//! of the groups opened before the first kill must still be delivering at the end, showing the
//! last revision's replicas.
//!
//! At the end the Deployment has converged on the last revision (exactly its replicas have one
//! server each in Nova, of that revision), every cron slot is one record (a run, a `Missed`, or
//! a run that failed because its server was lost to the fault: recorded, not vanished, never
//! twice), and after deleting both Nova lists no server of this tars instance.
//!
//! Runs only when `TARS_OS_CLOUDS` (the stack's clouds.yaml) and `TARS_OS_FAULT_STATE_DIR` (the
//! STATE_DIR of `scripts/engines/openstack/up.sh`, whose services it kills) are both set;
//! otherwise it is reported as ignored (not run), never as passed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use tars_api::api::ApplyOptions;
use tars_api::{Backend, CronRun, RunOutcome};
use tars_backend_openstack::{OpenStackBackend, OpenStackConfig};
use tars_conformance::kills::{self, Every};
use tars_conformance::outage::{Probes, WatchedGroups};

mod cloud;
mod stand_in;

use cloud::{clouds, instance_servers, probe_session};

const STATE_ENV: &str = "TARS_OS_FAULT_STATE_DIR";
const ROUNDS_ENV: &str = "TARS_OS_FAULT_ROUNDS";
/// The services killed, in turn.
const SERVICES: [&str; 2] = ["nova-api", "nova-compute"];
/// A kill this soon after a minute boundary falls while the slot's run starts or ends.
const MID_CRON: Duration = Duration::from_secs(10);

type Res<T> = Result<T, String>;

fn kill(state_dir: &str, service: &str) -> Res<String> {
    kills::fault_script(
        "scripts/engines/openstack/kill-service.sh",
        &[state_dir, service, "1"],
        &[],
    )
}

/// A cron run whose server was lost to the fault: it failed with no exit code (the stand-in
/// ends runs as their program, `true`, says: with success).
fn lost_to_the_fault(r: &CronRun) -> bool {
    r.outcome == RunOutcome::Failed && r.exit_code.is_none()
}

fn run(clouds: &str, state_dir: &str, rounds: u32) -> Res<()> {
    let started = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let instance = format!("f{:08x}", fastrand::u32(..));
    let config = OpenStackConfig::from_clouds_yaml(clouds, "tars")
        .map_err(|e| e.to_string())?
        .instance(instance.clone())
        .state_dir(dir.path().join("tars"));
    let admin_config =
        OpenStackConfig::from_clouds_yaml(clouds, "tars-admin").map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let member = probe_session(&config, "tars", "tars").await?;
        let admin = probe_session(&admin_config, "admin", "admin").await?;
        let _stand_in = stand_in::StandIn::start(member.clone(), admin, &instance);
        let shared = Arc::new(
            OpenStackBackend::connect(config)
                .await
                .map_err(|e| e.to_string())?,
        );
        let backend = &*shared;
        backend
            .cron_jobs()
            .apply(
                &kills::tick_every(Every::Minute, false),
                ApplyOptions::default(),
            )
            .await
            .map_err(|e| format!("cron job: {e}"))?;
        let apply = |rev| async move {
            backend
                .deployments()
                .apply(&kills::deployment(rev), ApplyOptions::default())
                .await
                .map(drop)
                .map_err(|e| format!("apply revision {rev}: {e}"))
        };
        apply(1).await?;
        kills::wait_rollout(backend, Duration::from_secs(180)).await?;

        // A watch opened before the first kill must keep delivering (it skips the polls that
        // fail while nova-api is down), and a call made while it is down must fail as
        // retryable, `Unavailable`, never as something else.
        let watched = WatchedGroups::open(backend).await?;
        let probes = Probes::start(shared.clone());

        let mut rev = 1;
        let mut down: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut round_times = Vec::new();
        let mut mid_cron = 0;
        for round in 1..=rounds {
            for service in SERVICES {
                let t = Instant::now();
                rev += 1;
                apply(rev).await?;
                // The kill lands at varied points of the rollout (deterministic, 0.3–1.2 s).
                let into = 300 + (rev * 373) % 900;
                tokio::time::sleep(Duration::from_millis(into)).await;
                // A run's server is created at its slot and ended by the stand-in seconds later.
                if jiff::Timestamp::now().as_second().rem_euclid(60) < MID_CRON.as_secs() as i64 {
                    mid_cron += 1;
                }
                let line = tokio::task::spawn_blocking({
                    let state_dir = state_dir.to_owned();
                    move || kill(&state_dir, service)
                })
                .await
                .map_err(|e| e.to_string())??;
                eprintln!("round {round}, revision {rev}, {into} ms into the rollout: {line}");
                let secs = line
                    .split_once(" down for ")
                    .and_then(|(_, rest)| rest.split_once('s'))
                    .and_then(|(n, _)| n.parse::<f64>().ok())
                    .unwrap_or(f64::NAN);
                down.entry(service).or_default().push(secs);
                // A create whose answer died with nova-api can leave a server that never
                // leaves BUILD (its build request lost): tars waits for it as long as for any
                // build (180 s), then replaces it.
                let done = kills::wait_rollout(backend, Duration::from_secs(400))
                    .await
                    .map_err(|e| format!("round {round} ({service} killed): {e}"))?;
                if done != rev {
                    return Err(format!(
                        "round {round}: completed on revision {done}, not {rev}"
                    ));
                }
                round_times.push(t.elapsed().as_secs_f64());
            }
        }

        let probed = probes.stop(true).await?;
        watched.saw_revision(rev, Duration::from_secs(30)).await?;

        let history = kills::end_state_allowing(
            backend,
            rev,
            Every::Minute,
            1,
            Duration::from_secs(120),
            || instance_servers(&member, &instance),
            lost_to_the_fault,
        )
        .await;
        let _ = backend.shutdown().await;
        eprintln!(
            "calls through the faults: {} ok, {} Unavailable, no other failure; the watch opened \
             before the first kill showed the last revision",
            probed.ok, probed.unavailable
        );
        for r in history.iter().filter(|r| lost_to_the_fault(r)) {
            eprintln!("lost to the fault: slot {}: {:?}", r.slot, r.reason);
        }
        round_times.sort_by(f64::total_cmp);
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        let count = |o| history.iter().filter(|r| r.outcome == o).count();
        let downs: Vec<String> = down
            .iter_mut()
            .map(|(s, v)| format!("{s} {} kills, down {:.1} s median", v.len(), median(v)))
            .collect();
        eprintln!(
            "{}; {mid_cron} kills less than {MID_CRON:?} after a minute boundary (mid-cron); \
             converged on revision {rev} after every kill; round time median {:.1} s (max \
             {:.1} s); cron: {} slots, {} succeeded once, {} failed (their server lost to the \
             fault), {} missed, none twice; no server left; {:.0} s in all",
            downs.join(", "),
            median(&mut round_times),
            round_times.last().copied().unwrap_or_default(),
            history.len(),
            count(RunOutcome::Succeeded),
            count(RunOutcome::Failed),
            count(RunOutcome::Missed),
            started.elapsed().as_secs_f64(),
        );
        Ok(())
    })
}

fn main() {
    let args = Arguments::from_args();
    let name = "nova_api_and_compute_killed_mid_rollout_and_mid_cron_converge_with_nothing_lost";
    let trial = match (clouds(), std::env::var(STATE_ENV)) {
        (Ok(clouds), Ok(state)) => {
            let rounds = std::env::var(ROUNDS_ENV)
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(20);
            Trial::test(name, move || {
                run(&clouds, &state, rounds).map_err(Failed::from)
            })
        }
        (clouds, _) => {
            eprintln!(
                "{}: not run",
                clouds.err().unwrap_or_else(|| format!(
                    "{STATE_ENV} is not set (the STATE_DIR of scripts/engines/openstack/up.sh, \
                     whose services the test kills)"
                ))
            );
            Trial::test(name, || Ok(())).with_ignored_flag(true)
        }
    };
    libtest_mimic::run(&args, vec![trial]).exit()
}
