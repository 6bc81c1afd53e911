//! A sentinel secret goes through a whole life cycle — apply, run, status, a failing apply, a
//! missing-secret start, delete — with every tracing event of tars captured at TRACE level.
//! The sentinel must appear in none of: the captured log output, `Debug` of anything returned,
//! error messages, or any file under the state directory. It must reach the container.

use std::sync::Arc;
use std::time::Duration;

use tars_api::api::{ApplyOptions, DeleteOptions, LogOptions};
use tars_api::conditions::is_group_running;
use tars_api::group::SecretRef;
use tars_api::layer::Layered;
use tars_api::{Backend, Container, ContainerGroup, ContainerGroupSpec, EnvVar, GroupPhase};
use tars_backend_local::{LocalBackend, LocalConfig};
use tars_conformance::shown::Captured;
use tars_engine::layer::{Retry, Trace};

const SENTINEL: &str = "redaction-sentinel-4c1d9e7b2a";

fn files_containing(dir: &std::path::Path, needle: &[u8], found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_containing(&path, needle, found);
        } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            found.push(path.display().to_string());
        }
    }
}

fn with_secret(name: &str, key: &str) -> ContainerGroup {
    let mut c = Container::new("app", "busybox", &["sh", "-c"]);
    c.args = vec!["case \"$TOKEN\" in redaction-sentinel-*) echo token-present;; *) echo token-absent;; esac; exec sleep 1000".into()];
    c.env.push(EnvVar::from_secret(
        "TOKEN",
        SecretRef {
            name: name.into(),
            key: key.into(),
        },
    ));
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.termination_grace_period = Duration::from_secs(2);
    ContainerGroup::new("redaction", spec)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_never_reaches_logs_debug_errors_or_state() {
    let capture = Captured::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(secrets.join("api")).expect("mkdir");
    std::fs::write(secrets.join("api/token"), SENTINEL).expect("secret");

    let raw = LocalBackend::open(LocalConfig::new(&state).secrets_dir(&secrets))
        .await
        .expect("open");
    let traced: Arc<dyn Backend> = Arc::new(Layered::new(Arc::new(raw), Trace));
    let backend: Arc<dyn Backend> = Arc::new(Layered::new(traced, Retry::default()));
    let groups = backend.container_groups();
    let mut seen = Vec::new();

    let out = groups
        .apply(&with_secret("api", "token"), ApplyOptions::default())
        .await
        .expect("apply");
    seen.push(format!("{out:?}"));
    let running = tars_engine::wait::wait_for(
        groups,
        "redaction",
        is_group_running(),
        Duration::from_secs(30),
        |o| {
            seen.push(format!("{o:?}"));
        },
    )
    .await
    .expect("running");
    seen.push(format!("{running:?}"));
    // The container got the value (it says so without printing it).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = groups
            .logs("redaction", "app", &LogOptions::default())
            .await
            .expect("logs");
        if log.contains("token-present") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the container never saw its secret: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An update to a secret that does not exist: the group cannot start, and says why.
    groups
        .apply(&with_secret("api", "missing"), ApplyOptions::default())
        .await
        .expect("apply");
    let stuck = tars_engine::wait::wait_for(
        groups,
        "redaction",
        |o: Option<&ContainerGroup>| {
            o.and_then(|g| g.status.as_ref())
                .is_some_and(|s| s.phase == GroupPhase::Pending && s.message.is_some())
        },
        Duration::from_secs(30),
        |_| {},
    )
    .await
    .expect("pending with a message")
    .expect("exists");
    let message = stuck
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("api/missing"),
        "the reason names the secret: {message}"
    );
    seen.push(format!("{stuck:?}"));
    // An invalid apply and a not-found: their errors.
    let mut bad = with_secret("api", "token");
    bad.spec.containers[0].env[0].name = "1-bad".into();
    seen.push(
        groups
            .apply(&bad, ApplyOptions::default())
            .await
            .expect_err("invalid")
            .to_string(),
    );
    seen.push(
        groups
            .get("nothing-here")
            .await
            .expect_err("not found")
            .to_string(),
    );
    groups
        .delete("redaction", DeleteOptions::default())
        .await
        .expect("delete");
    backend.shutdown().await.expect("shutdown");

    let logged = capture.text();
    assert!(
        logged.contains("tars.call"),
        "the capture saw tars' spans: {logged}"
    );
    assert!(
        !logged.contains(SENTINEL),
        "the secret reached the log output"
    );
    for s in &seen {
        assert!(
            !s.contains(SENTINEL),
            "the secret reached Debug or an error: {s}"
        );
    }
    let mut found = Vec::new();
    files_containing(&state, SENTINEL.as_bytes(), &mut found);
    assert!(found.is_empty(), "the secret is stored in {found:?}");
}
