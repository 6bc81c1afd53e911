//! `chronos-double [--port N] [--failure-retry-ms N] [--task-epsilon-s N] [--history N]`: a test
//! double of Chronos' REST API on 127.0.0.1 (see the crate docs: it is not Chronos). Runs until
//! SIGINT or SIGTERM, then stops every process it started.
#![forbid(unsafe_code)]

use std::time::Duration;

use chronos_double::{ChronosDouble, DoubleConfig};

fn main() -> Result<(), String> {
    let mut config = DoubleConfig::default();
    let mut port = 4400u16;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || -> Result<u64, String> {
            args.next()
                .ok_or(format!("{flag} needs a value"))?
                .parse()
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--port" => port = u16::try_from(value()?).map_err(|e| e.to_string())?,
            "--failure-retry-ms" => config.failure_retry = Duration::from_millis(value()?),
            "--task-epsilon-s" => config.task_epsilon = Duration::from_secs(value()?),
            "--history" => config.job_history_limit = value()? as usize,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let double = ChronosDouble::start(port, config)
            .await
            .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
        println!(
            "chronos-double (a test double, not Chronos) on {}",
            double.url()
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        double.stop().await;
        Ok(())
    })
}
