//! One tars instance on the Mesos master of `TARS_MESOS_MASTER`, as the conformance targets
//! (the `mesos` and `chronos-double` columns) open it: the raw backend, and the stack a user
//! gets (validation outermost, then call counting).

use std::sync::Arc;
use std::time::Duration;

use tars_api::Backend;
use tars_api::layer::{CallCounts, CountCalls, Layered, Validate};
use tars_backend_mesos::{MesosBackend, MesosConfig};

/// The variable naming the master.
pub(crate) const MASTER_ENV: &str = "TARS_MESOS_MASTER";

/// The master to test against, or why there is none.
pub(crate) fn master() -> Result<String, String> {
    std::env::var(MASTER_ENV).map_err(|_| {
        format!(
            "no Mesos master: set {MASTER_ENV}=HOST:PORT \
             (scripts/engines/mesos/up.sh starts one on 127.0.0.1)"
        )
    })
}

/// One tars instance: the raw backend and the stack a user gets.
pub(crate) struct Instance {
    pub(crate) raw: Arc<MesosBackend>,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) calls: CallCounts,
}

impl Instance {
    /// Connects, waiting up to 5 s for the previous instance's state store to be released.
    pub(crate) async fn open(config: MesosConfig) -> Result<Self, String> {
        let mut last = String::new();
        for _ in 0..50 {
            match MesosBackend::connect(config.clone()).await {
                Ok(raw) => {
                    let raw = Arc::new(raw);
                    let counter = CountCalls::new();
                    let calls = counter.counts();
                    let counted: Arc<dyn Backend> = Arc::new(Layered::new(raw.clone(), counter));
                    let backend: Arc<dyn Backend> = Arc::new(Layered::new(counted, Validate));
                    return Ok(Instance {
                        raw,
                        backend,
                        calls,
                    });
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(last)
    }
}
