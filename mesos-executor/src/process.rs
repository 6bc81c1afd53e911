//! Running a task's command as a process of its own: its directory in the sandbox, its
//! environment, its output files, its own process group (so that a kill reaches its children).

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tars_backend_mesos::v1::mesos::{CommandInfo, TaskInfo};
use tokio::process::{Child, Command};

/// Why a task cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The `TaskInfo` asks for something this executor does not do.
    #[error("{0}")]
    Unsupported(String),
    /// The task's directory or output files could not be made.
    #[error("cannot prepare {path}: {source}")]
    Sandbox {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The process could not be started.
    #[error("cannot start the command: {0}")]
    Spawn(std::io::Error),
}

/// The directory of task `task_id` in the executor's sandbox: `tasks/<task id>`, holding the
/// task's `stdout` and `stderr`. Task ids Mesos accepts cannot escape it (no `/`, not `.`/`..`);
/// others are refused.
pub fn task_dir(sandbox: &Path, task_id: &str) -> Result<PathBuf, LaunchError> {
    if task_id.is_empty() || task_id == "." || task_id == ".." || task_id.contains(['/', '\0']) {
        return Err(LaunchError::Unsupported(format!(
            "task id {task_id:?} cannot name a directory"
        )));
    }
    Ok(sandbox.join("tasks").join(task_id))
}

/// The environment of a task: only `PATH`, `MESOS_SANDBOX` (its own directory), `MESOS_TASK_ID`
/// and its `CommandInfo.environment` (which wins). Secrets are not supported.
pub fn task_env(
    path: &str,
    dir: &Path,
    task_id: &str,
    command: &CommandInfo,
) -> Result<Vec<(String, String)>, LaunchError> {
    let mut env = vec![
        ("PATH".to_owned(), path.to_owned()),
        ("MESOS_SANDBOX".to_owned(), dir.display().to_string()),
        ("MESOS_TASK_ID".to_owned(), task_id.to_owned()),
    ];
    for variable in command.environment.iter().flat_map(|e| &e.variables) {
        if variable.kind.as_deref().is_some_and(|k| k != "VALUE") || variable.secret.is_some() {
            return Err(LaunchError::Unsupported(format!(
                "environment variable {} is a secret (not supported by the tars executor)",
                variable.name
            )));
        }
        let value = variable.value.clone().unwrap_or_default();
        env.retain(|(name, _)| *name != variable.name);
        env.push((variable.name.clone(), value));
    }
    Ok(env)
}

/// The process for `command`: `/bin/sh -c value` when `shell` (the proto's default), else
/// `value` with `arguments` as its argv (argv\[0\] included), in `dir`, with exactly `env`, in a
/// process group of its own.
pub fn command(
    command: &CommandInfo,
    dir: &Path,
    env: &[(String, String)],
) -> Result<Command, LaunchError> {
    let value = command
        .value
        .as_deref()
        .ok_or_else(|| LaunchError::Unsupported("the command has no value".into()))?;
    let mut process = if command.shell.unwrap_or(true) {
        let mut process = Command::new("/bin/sh");
        process.arg("-c").arg(value);
        process
    } else {
        let mut process = Command::new(value);
        if let Some((argv0, rest)) = command.arguments.split_first() {
            process.arg0(argv0).args(rest);
        }
        process
    };
    process
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(false);
    Ok(process)
}

/// Refuses what this executor cannot do for a task: images, fetched URIs, another user.
pub fn check_supported(task: &TaskInfo) -> Result<&CommandInfo, LaunchError> {
    let command = task
        .command
        .as_ref()
        .ok_or_else(|| LaunchError::Unsupported("the task has no command".into()))?;
    if !command.uris.is_empty() {
        return Err(LaunchError::Unsupported(
            "CommandInfo.uris (fetching) is not supported by the tars executor".into(),
        ));
    }
    if let Some(container) = &task.container {
        let image = container.get("docker").is_some()
            || container
                .get("mesos")
                .and_then(|m| m.get("image"))
                .is_some();
        if image {
            return Err(LaunchError::Unsupported(
                "container images are not supported by the tars executor".into(),
            ));
        }
    }
    Ok(command)
}

/// Starts `task` in `sandbox`: makes its directory, sends its output to `stdout`/`stderr` there.
pub fn spawn(task: &TaskInfo, sandbox: &Path, path: &str) -> Result<Child, LaunchError> {
    let info = check_supported(task)?;
    let dir = task_dir(sandbox, &task.task_id.value)?;
    std::fs::create_dir_all(&dir).map_err(|source| LaunchError::Sandbox {
        path: dir.clone(),
        source,
    })?;
    let output = |name: &str| {
        let file = dir.join(name);
        File::create(&file).map_err(|source| LaunchError::Sandbox { path: file, source })
    };
    let (stdout, stderr) = (output("stdout")?, output("stderr")?);
    let env = task_env(path, &dir, &task.task_id.value, info)?;
    command(info, &dir, &env)?
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(LaunchError::Spawn)
}

/// Sends `signal` to process group `pgid`; a group that is gone already is not an error.
pub fn signal_group(pgid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pgid) else { return };
    if raw <= 1 {
        return; // never the whole session or init
    }
    if let Err(error) = killpg(Pid::from_raw(raw), signal)
        && error != nix::errno::Errno::ESRCH
    {
        tracing::warn!("kill({signal}) of process group {pgid}: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tars_backend_mesos::v1::mesos::{Environment, EnvironmentVariable};

    fn shell(value: &str) -> CommandInfo {
        CommandInfo {
            value: Some(value.into()),
            ..CommandInfo::default()
        }
    }

    fn var(name: &str, value: &str) -> EnvironmentVariable {
        EnvironmentVariable {
            name: name.into(),
            kind: None,
            value: Some(value.into()),
            secret: None,
        }
    }

    #[test]
    fn task_dirs_stay_inside_the_sandbox() {
        let sandbox = Path::new("/sb");
        assert_eq!(
            task_dir(sandbox, "web.1").expect("valid"),
            Path::new("/sb/tasks/web.1")
        );
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(task_dir(sandbox, bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_command_environment_overrides_and_secrets_are_refused() {
        let mut info = shell("true");
        info.environment = Some(Environment {
            variables: vec![var("PATH", "/custom"), var("GREETING", "hi")],
        });
        let env = task_env("/usr/bin", Path::new("/sb/tasks/t"), "t", &info).expect("valid");
        assert_eq!(
            env,
            [
                ("MESOS_SANDBOX".into(), "/sb/tasks/t".into()),
                ("MESOS_TASK_ID".into(), "t".into()),
                ("PATH".into(), "/custom".into()),
                ("GREETING".into(), "hi".into()),
            ]
        );
        let mut secret = var("TOKEN", "");
        secret.kind = Some("SECRET".into());
        info.environment = Some(Environment {
            variables: vec![secret],
        });
        assert!(task_env("/usr/bin", Path::new("/x"), "t", &info).is_err());
    }

    #[tokio::test]
    async fn shell_and_argv_commands_run_in_their_dir_with_only_their_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = vec![
            ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
            ("X".to_owned(), "1".to_owned()),
        ];
        let out = command(&shell("echo $X $HOME; pwd"), dir.path(), &env)
            .expect("command")
            .output()
            .await
            .expect("runs");
        let cwd = std::fs::canonicalize(dir.path()).expect("canonical");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("1\n{}\n", cwd.display())
        );
        let argv = CommandInfo {
            shell: Some(false),
            value: Some("/bin/sh".into()),
            // argv[0] is the process' name (seen in /proc), the rest its arguments.
            arguments: vec![
                "my-name".into(),
                "-c".into(),
                "echo \"$0|$1\"; head -c 7 /proc/$$/cmdline".into(),
                "zero".into(),
                "a b".into(),
            ],
            ..CommandInfo::default()
        };
        let out = command(&argv, dir.path(), &env)
            .expect("command")
            .output()
            .await
            .expect("runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "zero|a b\nmy-name");
        let no_value = CommandInfo::default();
        assert!(command(&no_value, dir.path(), &env).is_err());
    }

    #[tokio::test]
    async fn a_group_signal_reaches_the_grandchildren() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())];
        // The shell starts a grandchild that outlives it unless the group is signalled.
        let mut child = command(
            &shell("sleep 300 & echo $! > grandchild; wait"),
            dir.path(),
            &env,
        )
        .expect("command")
        .spawn()
        .expect("spawns");
        let pgid = child.id().expect("pid");
        let file = dir.path().join("grandchild");
        let mut grandchild = String::new();
        for _ in 0..100 {
            grandchild = std::fs::read_to_string(&file).unwrap_or_default();
            if grandchild.ends_with('\n') {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let grandchild: i32 = grandchild.trim().parse().expect("grandchild pid");
        signal_group(pgid, Signal::SIGKILL);
        let status = child.wait().await.expect("waits");
        assert!(!status.success());
        // The grandchild (re-parented, maybe a zombie for a moment) is dead too.
        let mut alive = true;
        for _ in 0..100 {
            let stat =
                std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
            alive = !stat.is_empty() && !stat.contains(") Z ");
            if !alive {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!alive, "grandchild {grandchild} survived the group kill");
    }
}
