//! Running one health check (HTTP GET, TCP connect, command) against a local container.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tars_api::group::{PortRef, ProbeAction};

/// Where the container's named ports are and how to run commands beside it.
#[derive(Debug, Clone)]
pub(crate) struct ProbeContext {
    pub(crate) address: String,
    pub(crate) ports: BTreeMap<String, u16>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) working_dir: std::path::PathBuf,
}

impl ProbeContext {
    fn port(&self, port: &PortRef) -> Result<u16, String> {
        match port {
            PortRef::Number(n) => Ok(*n),
            PortRef::Name(name) => self
                .ports
                .get(name)
                .copied()
                .ok_or_else(|| format!("no port named {name:?}")),
        }
    }
}

/// Runs `check` once, within `timeout`. `Err` carries why it failed.
pub(crate) async fn run(
    check: &ProbeAction,
    ctx: &ProbeContext,
    client: &reqwest::Client,
    timeout: Duration,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, run_inner(check, ctx, client)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

async fn run_inner(
    check: &ProbeAction,
    ctx: &ProbeContext,
    client: &reqwest::Client,
) -> Result<(), String> {
    match check {
        ProbeAction::HttpGet { port, path } => {
            let url = format!("http://{}:{}{}", ctx.address, ctx.port(port)?, path);
            let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            if status.is_success() || status.is_redirection() {
                Ok(())
            } else {
                Err(format!("GET {url} answered {status}"))
            }
        }
        ProbeAction::Tcp { port } => {
            let port = ctx.port(port)?;
            tokio::net::TcpStream::connect((ctx.address.as_str(), port))
                .await
                .map(drop)
                .map_err(|e| format!("connect to port {port}: {e}"))
        }
        ProbeAction::Exec { command } => exec(command, &ctx.env, &ctx.working_dir).await,
    }
}

async fn exec(
    command: &[String],
    env: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<(), String> {
    let (program, args) = command.split_first().ok_or("empty command")?;
    let status = tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} exited with {status}"))
    }
}
