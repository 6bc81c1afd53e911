//! On a real OpenStack (`TARS_OS_CLOUDS=STATE_DIR/clouds.yaml`; without it the test is reported
//! ignored, with the reason): the tars process is killed with SIGKILL at least twenty times, and on
//! until 70 s have passed, while a Deployment rolls from one revision to the next and a CronJob
//! of every minute fires (`tars_conformance::kills`; OpenStack schedules fire on whole minutes,
//! so at least one slot falls among the kills); each time a new process takes over the same
//! state directory. The stand-in of the conformance column ends the cron runs' servers, as a
//! container runtime would. At the end the Deployment has converged on the last revision
//! applied (exactly its replicas have servers in Nova, one each, all of that revision), every
//! slot of the CronJob is one run or one `Missed` record (none started twice, none vanished),
//! and after deleting both Nova lists no server of this tars instance.

use std::path::Path;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed};
use tars_api::Backend;
use tars_backend_openstack::{OpenStackBackend, OpenStackConfig};
use tars_conformance::kills::{self, Every};

mod cloud;
mod stand_in;

use cloud::{clouds, instance_servers, probe_session};

/// Kills at least, mid-rollout most of them.
const KILLS: u64 = 20;

/// Kills go on until this long has passed: a minute boundary (a cron slot) falls among them.
const KILL_PHASE: Duration = Duration::from_secs(70);

/// A kill this soon after a minute boundary falls while the slot's run starts or ends.
const MID_CRON: Duration = Duration::from_secs(10);

/// The variable that gives the children the parent's tars instance.
const INSTANCE_ENV: &str = "TARS_OS_KILL_INSTANCE";

fn config(clouds: &str, instance: &str, state: &Path) -> OpenStackConfig {
    OpenStackConfig::from_clouds_yaml(clouds, "tars")
        .expect("clouds.yaml")
        .instance(instance)
        .state_dir(state.join("tars"))
}

/// The tars process the parent kills.
fn child(clouds: &str) -> Result<(), Failed> {
    let Some(state) = kills::child_state() else {
        return Ok(());
    };
    let instance = std::env::var(INSTANCE_ENV).map_err(|_| Failed::from("no instance"))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| Failed::from(e.to_string()))?;
    runtime.block_on(async move {
        let backend = OpenStackBackend::connect(config(clouds, &instance, &state))
            .await
            .expect("connect");
        kills::child_every(&backend, &state, Every::Minute).await;
    });
    Ok(())
}

fn parent(clouds: &str) -> Result<(), Failed> {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state");
    let instance = format!("k{:08x}", fastrand::u32(..));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let member_config = config(clouds, &instance, &state);
    let admin_config = OpenStackConfig::from_clouds_yaml(clouds, "tars-admin").expect("admin");
    let (member, admin) = runtime.block_on(async {
        (
            probe_session(&member_config, "tars", "tars")
                .await
                .expect("member session"),
            probe_session(&admin_config, "admin", "admin")
                .await
                .expect("admin session"),
        )
    });
    // Ends the cron runs' servers while the children come and go (on the runtime's workers).
    let _stand_in = {
        let _in_runtime = runtime.enter();
        stand_in::StandIn::start(member.clone(), admin, &instance)
    };
    let kills = kills::kill_children_for(
        "rollout_child",
        &state,
        KILLS,
        KILL_PHASE,
        &[(INSTANCE_ENV, &instance)],
    );
    let killing = started.elapsed();
    // A run's server is created at its slot and ended by the stand-in seconds later.
    let mid_cron = kills
        .at
        .iter()
        .filter(|t| t.as_second().rem_euclid(60) < MID_CRON.as_secs() as i64)
        .count();

    runtime.block_on(async {
        let backend = OpenStackBackend::connect(member_config)
            .await
            .expect("final connect");
        let rev = kills::converged_revision(&backend, &state).await;

        // Exactly REPLICAS servers of the Deployment in Nova, every one a group of the
        // converged revision; none of tars' after deleting (Nova deletes asynchronously: the
        // servers go within a minute).
        let history = kills::end_state(
            &backend,
            rev,
            Every::Minute,
            1,
            Duration::from_secs(60),
            || instance_servers(&member, &instance),
        )
        .await;
        let _ = backend.shutdown().await;
        eprintln!(
            "{}; {mid_cron} kills less than {MID_CRON:?} after a minute boundary (mid-cron); \
             kills for {:.1} s, {:.1} s in all",
            kills::summary(kills.count, kills.mid_rollout, &state, rev, &history),
            killing.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    });
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, kills::trials(clouds(), child, parent)).exit()
}
