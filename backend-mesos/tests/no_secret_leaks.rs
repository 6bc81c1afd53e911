//! The credentials a Mesos configuration can carry — HTTP basic credentials in the master's URL
//! (`http://user:secret@host:5050`) and in Chronos' (`http://user:secret@host:4400`) — never
//! appear in what tars shows: the configuration's and the backend's `Debug`, the errors of a
//! failed connection (both on closed loopback ports), or the logs at TRACE level.
//!
//! Secret *values* never enter a Mesos spec: a group names its secrets (`SecretRef`: name and
//! key), and Mesos refuses the feature before anything is sent, so no refusal can carry one.

use tars_api::Backend;
use tars_api::api::ListParams;
use tars_backend_mesos::chronos::ChronosConfig;
use tars_backend_mesos::{MesosBackend, MesosConfig};
use tars_conformance::shown::{Captured, closed_port};

const MASTER_SENTINEL: &str = "tars-sentinel-mesos-3b9e1f";
const CHRONOS_SENTINEL: &str = "tars-sentinel-chronos-8c2d4a";

#[tokio::test(flavor = "multi_thread")]
async fn master_and_chronos_credentials_never_reach_debug_errors_or_logs() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    // Global: the framework's driver logs from the runtime's other threads.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let (master_port, chronos_port) = (closed_port(), closed_port());
    let master = format!("http://tars:{MASTER_SENTINEL}@127.0.0.1:{master_port}");
    let chronos = format!("http://tars:{CHRONOS_SENTINEL}@127.0.0.1:{chronos_port}");
    let config = MesosConfig::new(&master)
        .instance("leaks")
        .chronos(ChronosConfig::new(&chronos));
    let mut shown = vec![("config Debug", format!("{config:?}"))];
    assert!(
        shown[0].1.contains(&format!("***@127.0.0.1:{master_port}"))
            && shown[0]
                .1
                .contains(&format!("***@127.0.0.1:{chronos_port}")),
        "the Debug shows both addresses, credentials hidden: {}",
        shown[0].1
    );

    let backend = MesosBackend::connect(config)
        .await
        .expect("connect returns at once");
    shown.push(("backend Debug", format!("{backend:?}")));

    // Groups wait for the subscription, which never comes (30 s), then say why.
    let err = backend
        .container_groups()
        .get("never")
        .await
        .expect_err("no master listens there");
    assert!(err.is_retryable(), "an unreachable master: {err}");
    let text = format!("{err} {err:?}");
    assert!(
        text.contains(&format!("***@127.0.0.1:{master_port}")),
        "the error names the master, credentials hidden: {text}"
    );
    shown.push(("groups error", text));

    // Cron jobs go to Chronos, which does not answer either.
    let err = backend
        .cron_jobs()
        .list(&ListParams::default())
        .await
        .expect_err("no Chronos listens there");
    let text = format!("{err} {err:?}");
    assert!(
        text.contains(&format!("***@127.0.0.1:{chronos_port}")) && text.contains("connection"),
        "the error names Chronos, credentials hidden: {text}"
    );
    shown.push(("cron error", text));
    backend.shutdown().await.expect("shutdown");

    let logs = logs.text();
    assert!(
        logs.contains("Mesos subscription ended") && logs.contains(&master_port.to_string()),
        "the failed subscriptions are logged with the master: {logs}"
    );
    shown.push(("logs", logs));
    for (what, text) in &shown {
        for sentinel in [MASTER_SENTINEL, CHRONOS_SENTINEL] {
            assert!(
                !text.contains(sentinel),
                "a credential leaked into the {what}: {text}"
            );
        }
    }
}
