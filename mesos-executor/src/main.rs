//! `tars-mesos-executor` (installed as `mesos-default-executor`): see the library's docs.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use tars_mesos_executor::config::Config;
use tars_mesos_executor::executor;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TARS_EXECUTOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    // The agent passes `--launcher_dir=…` (to Mesos' own executor); nothing here needs it.
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match Config::from_env(&env) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("{error}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("cannot start the runtime: {error}");
            std::process::exit(2);
        }
    };
    let code = match runtime.block_on(executor::run(config)) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error}");
            1
        }
    };
    // Dropping the runtime would wait for the stream reader; exit at once.
    std::process::exit(code);
}
