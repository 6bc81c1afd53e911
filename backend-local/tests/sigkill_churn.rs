//! The tars process is killed with SIGKILL ten times while it creates, updates and deletes
//! groups; each time a new process takes over the same state. At the end, every group the
//! journal says exists runs with exactly its own processes, no process is left without a group,
//! and deleting everything leaves nothing behind.

mod common;
use common::processes_by_group;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tars_api::api::{ApplyOptions, DeleteOptions, ListParams};
use tars_api::conditions::is_group_ready;
use tars_api::{Backend, Container, ContainerGroup, ContainerGroupSpec};
use tars_backend_local::{LocalBackend, LocalConfig};

const STATE_ENV: &str = "TARS_CHURN_STATE";
const KILLS: u64 = 10;
const GROUPS: usize = 4;

fn config(state: &Path) -> LocalConfig {
    LocalConfig::new(state).instance("churn")
}

fn group(i: usize, round: u64) -> ContainerGroup {
    // The sleep length changes with the round, so re-applying a group is an update.
    let mut c = Container::new("main", "busybox", &["sleep"]);
    c.args = vec![format!("{}", 1000 + round % 3)];
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.termination_grace_period = Duration::from_secs(2);
    ContainerGroup::new(format!("churn-{i}"), spec)
}

/// The child: opens the backend on the state and churns until it is killed. Every operation
/// is journaled before (`begin`) and after (`end`) it, fsynced.
#[test]
fn churn_child() {
    let Some(state) = std::env::var_os(STATE_ENV) else {
        return; // run by the parent only
    };
    let state = PathBuf::from(state);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let backend = LocalBackend::open(config(&state)).await.expect("open");
        let mut journal = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(state.join("journal"))
            .expect("journal");
        let mut note = |line: String| {
            writeln!(journal, "{line}").expect("journal write");
            journal.sync_data().expect("journal sync");
        };
        println!("tars-churn-opened");
        let mut round: u64 = std::process::id().into();
        loop {
            round += 1;
            let i = (round % GROUPS as u64) as usize;
            if round.is_multiple_of(3) {
                note(format!("begin delete churn-{i}"));
                match backend
                    .container_groups()
                    .delete(&format!("churn-{i}"), DeleteOptions::default())
                    .await
                {
                    Ok(()) | Err(tars_api::Error::NotFound { .. }) => {}
                    Err(e) => panic!("delete: {e}"),
                }
                note(format!("end delete churn-{i}"));
            } else {
                note(format!("begin apply churn-{i}"));
                backend
                    .container_groups()
                    .apply(&group(i, round), ApplyOptions::default())
                    .await
                    .expect("apply");
                note(format!("end apply churn-{i}"));
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
}

/// What the journal says must exist: for each group, its last finished operation; a group
/// whose last operation began but did not end may be either way.
fn expected(journal: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    let mut exists = BTreeSet::new();
    let mut uncertain = BTreeSet::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [phase, op, name] = parts.as_slice() else {
            continue;
        };
        match (*phase, *op) {
            ("begin", _) => {
                uncertain.insert(name.to_string());
            }
            ("end", "apply") => {
                uncertain.remove(*name);
                exists.insert(name.to_string());
            }
            ("end", "delete") => {
                uncertain.remove(*name);
                exists.remove(*name);
            }
            _ => {}
        }
    }
    (exists, uncertain)
}

#[test]
fn sigkill_during_churn_leaves_no_orphan_and_loses_no_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state");
    let exe = std::env::current_exe().expect("test binary");
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["churn_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(STATE_ENV, &state)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the churning child");
        let stdout = child.stdout.take().expect("stdout");
        let mut opened = false;
        for line in BufReader::new(stdout).lines() {
            // libtest may print "test churn_child ... " before the output on the same line.
            if line
                .expect("read")
                .trim_end()
                .ends_with("tars-churn-opened")
            {
                opened = true;
                break;
            }
        }
        assert!(opened, "child {kill} never opened the backend");
        // Kill it at varied moments of its churn (deterministic, spread over 0.2–1.3 s).
        std::thread::sleep(Duration::from_millis(200 + (kill * 373) % 1100));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let backend = LocalBackend::open(config(&state))
            .await
            .expect("final open");
        let groups = backend.container_groups();
        let listed: BTreeSet<String> = groups
            .list(&ListParams::all())
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|g| g.metadata.name)
            .collect();
        let (exists, uncertain) = expected(&state.join("journal"));
        for name in &exists {
            assert!(
                listed.contains(name) || uncertain.contains(name),
                "group {name} was applied and never deleted, but is lost; listed: {listed:?}"
            );
        }
        for name in &listed {
            assert!(
                exists.contains(name) || uncertain.contains(name),
                "group {name} exists but the journal deleted it"
            );
        }
        for name in &listed {
            // Ready: every container runs (not one waiting in its restart backoff).
            tars_engine::wait::wait_for(
                groups,
                name,
                is_group_ready(),
                Duration::from_secs(30),
                |_| {},
            )
            .await
            .unwrap_or_else(|e| panic!("{name} does not run after recovery: {e}"));
        }
        // Each group runs exactly its own processes (wrapper + program), nothing else is left.
        let procs = processes_by_group(&state);
        for (name, pids) in &procs {
            assert!(
                listed.contains(name),
                "orphan processes {pids:?} of deleted group {name}"
            );
            assert_eq!(
                pids.len(),
                2,
                "group {name} runs {pids:?}: expected one wrapper and one program"
            );
        }
        for name in &listed {
            assert!(procs.contains_key(name), "group {name} has no process");
        }
        for name in &listed {
            groups
                .delete(name, DeleteOptions::default())
                .await
                .expect("delete");
        }
        let left = processes_by_group(&state);
        assert!(
            left.is_empty(),
            "processes left after deleting everything: {left:?}"
        );
        backend.shutdown().await.expect("shutdown");
    });
}
