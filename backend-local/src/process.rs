//! Host processes: starting a container's process in the group's process group, signalling a
//! whole group, and finding what is left of it in `/proc`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// What to start for one container. (No `Debug`: the environment holds resolved secrets.)
pub(crate) struct Launch<'a> {
    pub(crate) program: &'a str,
    pub(crate) args: Vec<String>,
    /// The complete environment (nothing is inherited but what is listed).
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) working_dir: &'a Path,
    pub(crate) log_file: &'a Path,
    /// Where the wrapper writes the program's exit code.
    pub(crate) exit_file: &'a Path,
}

/// The shell that runs each container's program: it stays its parent, so that the exit code
/// is written to a file even when the tars process that started it is gone (and a new one
/// adopts the container). SIGTERM, SIGINT and SIGHUP get a no-op handler in the shell only
/// (handlers, unlike ignored signals, are reset in the program), so the shell outlives the
/// program on a graceful stop and still records how it ended.
const WRAPPER: &str = r#"trap : TERM INT HUP; f=$1; shift; "$@"; s=$?; echo "$s" > "$f.tmp" && mv -f "$f.tmp" "$f"; exit "$s""#;

/// Starts a container's program under its wrapper shell; it joins process group `pgid` when
/// one is given and still has members, and leads a new group otherwise. Returns the child (the
/// wrapper) and the group it is in.
pub(crate) fn spawn(launch: &Launch<'_>, pgid: Option<i32>) -> std::io::Result<(Child, i32)> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(launch.log_file)?;
    let start = |group: i32| -> std::io::Result<Child> {
        let log_err: File = log.try_clone()?;
        let log_out: File = log.try_clone()?;
        Command::new("/bin/sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("tars-container")
            .arg(launch.exit_file)
            .arg(launch.program)
            .args(&launch.args)
            .env_clear()
            .envs(&launch.env)
            .current_dir(launch.working_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_out))
            .stderr(Stdio::from(log_err))
            .process_group(group)
            .kill_on_drop(false)
            .spawn()
    };
    if let Some(pgid) = pgid {
        match start(pgid) {
            Ok(child) => return Ok((child, pgid)),
            // The group has no member left (EPERM from setpgid): lead a new one below.
            Err(e) if e.raw_os_error() == Some(Errno::EPERM as i32) => {}
            Err(e) => return Err(e),
        }
    }
    let child = start(0)?;
    let pid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| std::io::Error::other("the new process has no pid"))?;
    Ok((child, pid))
}

/// True when process `pid` is the one that started at `start_ticks` and has not exited.
pub(crate) fn is_alive(pid: i32, start_ticks: u64) -> bool {
    read_stat(pid).is_some_and(|s| s.start_ticks == start_ticks && s.state != 'Z')
}

/// The live children of process `pid`.
pub(crate) fn children_of(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|p| read_stat(*p).is_some_and(|s| s.ppid == pid && s.state != 'Z'))
        .collect()
}

/// Live processes whose environment holds a variable starting with `prefix` (such as
/// `HOME=<state>/groups/`): every process of the embedded backend's containers carries its
/// group's sandbox as `HOME`, which finds them even when no record names them.
pub(crate) fn with_env_prefix(prefix: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| read_stat(*pid).is_some_and(|s| s.state != 'Z'))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|var| var.starts_with(prefix.as_bytes()))
            })
        })
        .collect()
}

/// `pid` and all its live descendants.
pub(crate) fn with_descendants(pid: i32) -> Vec<i32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let children = children_of(out[i]);
        out.extend(children);
        i += 1;
    }
    out
}

/// The exit code a container's wrapper recorded, if it did.
pub(crate) fn read_exit_code(exit_file: &Path) -> Option<i32> {
    std::fs::read_to_string(exit_file).ok()?.trim().parse().ok()
}

/// Sends `signal` to every process of group `pgid`; a group that is already gone is fine.
pub(crate) fn signal_group(pgid: i32, signal: Signal) -> std::io::Result<()> {
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(std::io::Error::from(e)),
    }
}

/// Pids of the live (not zombie) processes whose process group is `pgid`.
pub(crate) fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if read_stat(pid).is_some_and(|s| s.pgrp == pgid && s.state != 'Z') {
            out.push(pid);
        }
    }
    out
}

/// The fields of `/proc/<pid>/stat` tars needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) ppid: i32,
    pub(crate) pgrp: i32,
    /// Start time in clock ticks since boot: with the pid, identifies one process for good.
    pub(crate) start_ticks: u64,
}

/// Reads `/proc/<pid>/stat`.
pub(crate) fn read_stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Stat> {
    // The command name (field 2) may contain spaces and parentheses: fields after it start
    // after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); pgrp is field 5, starttime field 22.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Stops group `pgid`: SIGTERM, up to `grace` for it to empty, then SIGKILL and up to five
/// seconds more. Returns the pids still alive after that (none, normally).
pub(crate) async fn terminate_group(pgid: i32, grace: Duration) -> std::io::Result<Vec<i32>> {
    signal_group(pgid, Signal::SIGTERM)?;
    if wait_empty(pgid, grace).await {
        return Ok(Vec::new());
    }
    signal_group(pgid, Signal::SIGKILL)?;
    wait_empty(pgid, Duration::from_secs(5)).await;
    Ok(group_members(pgid))
}

/// Sends SIGKILL to each of `pids` and waits (at most `limit`) until none is alive: a kill is
/// only queued when `kill(2)` returns, and the process still runs until it is scheduled to die.
/// Returns the pids still alive.
pub(crate) async fn kill_and_wait(pids: &[i32], limit: Duration) -> Vec<i32> {
    for &pid in pids {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let running = || -> Vec<i32> {
        pids.iter()
            .copied()
            .filter(|&p| read_stat(p).is_some_and(|s| s.state != 'Z'))
            .collect()
    };
    poll_until(limit, || running().is_empty()).await;
    running()
}

async fn wait_empty(pgid: i32, limit: Duration) -> bool {
    poll_until(limit, || group_members(pgid).is_empty()).await
}

/// Checks `done` every 20 ms until it holds or `limit` has passed; whether it held.
async fn poll_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let line = "4242 (my (odd) prog) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        let s = parse_stat(line).expect("parses");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.pgrp, 4240);
        assert_eq!(s.start_ticks, 987654);
    }

    #[test]
    fn own_process_is_found_in_proc() {
        let me = std::process::id() as i32;
        let s = read_stat(me).expect("own stat");
        assert!(s.start_ticks > 0);
        assert!(group_members(s.pgrp).contains(&me));
    }
}
