//! Fault test: Nova's services are killed with SIGKILL and restarted
//! (`scripts/engines/openstack/kill-service.sh`) in the middle of a rolling update and while a
//! CronJob of every minute fires: nova-api, then the nova-compute of every compute host, in
//! turn, `TARS_OS_FAULT_ROUNDS` times each (default 20; scripts/test runs 3). In each round the
//! next revision is applied before each kill, the service dies 0.3–1.2 s into the rollout, and
//! the rollout must complete on that revision
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
/// The services killed in each round, in turn: nova-api, then the nova-compute of every compute
/// host of the stack (`STATE_DIR/pids/nova-compute*.cmd`). Every host restarts in every round:
/// a delete that a nova-api killed mid-DELETE left stalled (see
/// [`stalled_delete`]) is finished by the restart of
/// its host, as Nova does, in the round it happened.
fn services(state_dir: &str) -> Res<Vec<String>> {
    let mut computes: Vec<String> = std::fs::read_dir(format!("{state_dir}/pids"))
        .map_err(|e| format!("{state_dir}/pids: {e}"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".cmd").map(str::to_owned))
        .filter(|f| f.starts_with("nova-compute"))
        .collect();
    computes.sort();
    if computes.is_empty() {
        return Err(format!("no nova-compute in {state_dir}/pids"));
    }
    Ok(std::iter::once("nova-api".to_owned())
        .chain(computes)
        .collect())
}
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

/// A tars instance of its own (`prefix` and a random suffix) in the member's project of the
/// test cloud, with its state in a temporary directory (kept while the guard lives).
fn fresh_instance(clouds: &str, prefix: &str) -> Res<(tempfile::TempDir, String, OpenStackConfig)> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let instance = format!("{prefix}{:08x}", fastrand::u32(..));
    let config = OpenStackConfig::from_clouds_yaml(clouds, "tars")
        .map_err(|e| e.to_string())?
        .instance(instance.clone())
        .state_dir(dir.path().join("tars"));
    Ok((dir, instance, config))
}

fn run(clouds: &str, state_dir: &str, rounds: u32) -> Res<()> {
    let started = Instant::now();
    let (_dir, instance, config) = fresh_instance(clouds, "f")?;
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
        let services = services(state_dir)?;
        let mut down: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut round_times = Vec::new();
        let mut mid_cron = 0;
        for round in 1..=rounds {
            for service in &services {
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
                    let service = service.clone();
                    move || kill(&state_dir, &service)
                })
                .await
                .map_err(|e| e.to_string())??;
                eprintln!("round {round}, revision {rev}, {into} ms into the rollout: {line}");
                let secs = line
                    .split_once(" down for ")
                    .and_then(|(_, rest)| rest.split_once('s'))
                    .and_then(|(n, _)| n.parse::<f64>().ok())
                    .unwrap_or(f64::NAN);
                down.entry(service.as_str()).or_default().push(secs);
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

/// The ids and task states of the servers of tars instance `instance` named `name`, in Nova.
async fn servers_named(
    member: &osauth::Session,
    instance: &str,
    name: &str,
) -> Res<Vec<(String, Option<String>)>> {
    let page: serde_json::Value = member
        .get(osauth::services::COMPUTE, &["servers", "detail"])
        .api_version(osauth::ApiVersion(2, 52))
        .query(&[("tags", format!("tars-instance={instance}"))])
        .fetch()
        .await
        .map_err(|e| format!("server list: {e}"))?;
    Ok(page["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"] == name)
        .map(|s| {
            (
                s["id"].as_str().unwrap_or_default().to_owned(),
                s["OS-EXT-STS:task_state"].as_str().map(str::to_owned),
            )
        })
        .collect())
}

/// Leaves server `id` as a nova-api that dies between marking a DELETE and handing it to the
/// compute host leaves it: task `deleting`, last updated `age_secs` ago, nothing under way.
/// Written into the cell database of the stack (`STATE_DIR/data/nova.db`): the one step no
/// API call can make.
fn mark_deleting(state_dir: &str, id: &str, age_secs: u32) -> Res<()> {
    let script = "import sqlite3, sys\n\
        db = sqlite3.connect(sys.argv[1], timeout=30)\n\
        n = db.execute(\"update instances set task_state='deleting', \
        updated_at=strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ? || ' seconds') \
        where uuid=? and deleted=0\", (sys.argv[3], sys.argv[2])).rowcount\n\
        db.commit()\n\
        sys.exit(0 if n == 1 else 3)\n";
    let db = format!("{state_dir}/data/nova.db");
    let status = std::process::Command::new("python3")
        .args(["-c", script, &db, id, &age_secs.to_string()])
        .status()
        .map_err(|e| format!("python3: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "could not mark server {id} deleting in {db}: {status}"
        ))
    }
}

/// Restarts every nova-compute of the stack (SIGKILL, then its recorded command line) `after`
/// from now, on a thread: the remedy Nova itself has for a stalled delete (a compute host that
/// starts deletes every server of its own that is `deleting`).
fn restart_computes(state_dir: &str, after: Duration) -> std::thread::JoinHandle<Res<()>> {
    let state_dir = state_dir.to_owned();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        for service in services(&state_dir)?.iter().skip(1) {
            eprintln!("{}", kill(&state_dir, service)?);
        }
        Ok(())
    })
}

/// A server left `deleting` for good (nova-api killed right after it accepted a DELETE, before
/// it handed the delete to the compute host) is hidden while a delete could still be under
/// way, and shown again once it has been `deleting` for a minute, so that whoever wants it gone
/// deletes it again. Nova ignores that DELETE while the host is up; the host's restart (Nova's
/// remedy, made by the test a few seconds into the call) finishes it, and tars' call, still
/// waiting, then completes: an apply of the name with a new server, a delete with none left.
fn stalled_delete(clouds: &str, state_dir: &str) -> Res<()> {
    use tars_api::Error;
    let (_dir, instance, config) = fresh_instance(clouds, "s")?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let member = probe_session(&config, "tars", "tars").await?;
        let backend = OpenStackBackend::connect(config)
            .await
            .map_err(|e| e.to_string())?;
        let groups = backend.container_groups();
        let group = tars_api::ContainerGroup::new(
            "stalled",
            tars_api::ContainerGroupSpec::new(vec![tars_api::Container::new(
                "main",
                "busybox",
                &["sleep", "3600"],
            )]),
        );
        let listed = || async {
            groups
                .list(&Default::default())
                .await
                .map(|l| l.items.len())
                .map_err(|e| format!("list: {e}"))
        };
        let ended = async {
            groups
                .apply(&group, ApplyOptions::default())
                .await
                .map_err(|e| format!("apply: {e}"))?;
            let servers = servers_named(&member, &instance, "stalled").await?;
            let [(first, None)] = servers.as_slice() else {
                return Err(format!("after the apply Nova has {servers:?}"));
            };

            // Just marked: a delete could be under way; to tars the group is gone.
            mark_deleting(state_dir, first, 0)?;
            match groups.get("stalled").await {
                Err(Error::NotFound { .. }) => {}
                other => return Err(format!("get of a server being deleted: {other:?}")),
            }
            if listed().await? != 0 {
                return Err("a server being deleted was listed".into());
            }

            // Deleting for two minutes: stalled. Shown, so that it is deleted again.
            mark_deleting(state_dir, first, 120)?;
            groups
                .get("stalled")
                .await
                .map_err(|e| format!("get of a stalled delete: {e}"))?;
            if listed().await? != 1 {
                return Err("a stalled delete was not listed".into());
            }
            // An apply of its name deletes it again and makes a new server.
            let restart = restart_computes(state_dir, Duration::from_secs(3));
            let out = groups
                .apply(&group, ApplyOptions::default())
                .await
                .map_err(|e| format!("apply over a stalled delete: {e}"))?;
            restart.join().map_err(|_| "restart panicked")??;
            if out.change != tars_api::api::Change::Created {
                return Err(format!("apply over a stalled delete: {:?}", out.change));
            }
            let servers = servers_named(&member, &instance, "stalled").await?;
            let [(second, None)] = servers.as_slice() else {
                return Err(format!(
                    "after the apply over a stalled delete: {servers:?}"
                ));
            };
            if second == first {
                return Err("the stalled server was taken for the group".into());
            }

            // A delete of the name deletes a stalled server too.
            mark_deleting(state_dir, second, 120)?;
            let restart = restart_computes(state_dir, Duration::from_secs(3));
            groups
                .delete("stalled", Default::default())
                .await
                .map_err(|e| format!("delete of a stalled delete: {e}"))?;
            restart.join().map_err(|_| "restart panicked")??;
            let left = instance_servers(&member, &instance).await;
            if !left.is_empty() {
                return Err(format!("left in Nova after the delete: {left:?}"));
            }
            eprintln!(
                "stalled delete: hidden while fresh, listed after 120 s, replaced by an apply, \
                 removed by a delete"
            );
            Ok(())
        }
        .await;
        if ended.is_err() {
            let _ = groups.delete("stalled", Default::default()).await;
        }
        let _ = backend.shutdown().await;
        ended
    })
}

fn main() {
    let mut args = Arguments::from_args();
    // The kills must not fall in the other trial's calls.
    args.test_threads = Some(1);
    let kills = "nova_api_and_compute_killed_mid_rollout_and_mid_cron_converge_with_nothing_lost";
    let stalled = "a_delete_left_stalled_by_a_dead_nova_api_is_done_again";
    let trials = match (clouds(), std::env::var(STATE_ENV)) {
        (Ok(clouds), Ok(state)) => {
            let rounds = std::env::var(ROUNDS_ENV)
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(20);
            let (c, s) = (clouds.clone(), state.clone());
            vec![
                Trial::test(stalled, move || {
                    stalled_delete(&c, &s).map_err(Failed::from)
                }),
                Trial::test(kills, move || {
                    run(&clouds, &state, rounds).map_err(Failed::from)
                }),
            ]
        }
        (clouds, _) => {
            eprintln!(
                "{}: not run",
                clouds.err().unwrap_or_else(|| format!(
                    "{STATE_ENV} is not set (the STATE_DIR of scripts/engines/openstack/up.sh, \
                     whose services the test kills and whose database it writes)"
                ))
            );
            [stalled, kills]
                .map(|name| Trial::test(name, || Ok(())).with_ignored_flag(true))
                .into()
        }
    };
    libtest_mimic::run(&args, trials).exit()
}
