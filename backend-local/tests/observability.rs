//! Metrics and events of a failing rollout and a failing cron run on the embedded backend:
//! the documented names and labels are recorded, the hook gets `RolloutFailed`, `RolledBack`
//! and `CronRunFailed`, and a secret the containers receive appears in neither.
//!
//! Alone in its test binary: it installs the process-wide metrics recorder.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tars_api::api::{ApplyOptions, DeleteOptions};
use tars_api::deployment::{DeploymentSpec, Strategy};
use tars_api::events::{Event, EventHook};
use tars_api::group::{GroupTemplate, Probe, ProbeAction, SecretRef};
use tars_api::layer::Layered;
use tars_api::{
    Backend, Container, ContainerGroupSpec, CronJob, CronJobSpec, Deployment, EnvVar, RestartPolicy,
};
use tars_backend_local::{LocalBackend, LocalConfig};
use tars_engine::layer::Metrics;

const SENTINEL: &str = "observability-sentinel-93b1f0c4d7";

#[derive(Default)]
struct Recording(Mutex<Vec<Event>>);

impl EventHook for Recording {
    fn emit(&self, event: &Event) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.clone());
    }
}

impl Recording {
    fn events(&self) -> Vec<Event> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn wait_for(&self, what: &str, f: impl Fn(&Event) -> bool) {
        for _ in 0..300 {
            if self.events().iter().any(&f) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {what} within 30 s: {:?}", self.events());
    }
}

fn secret_env() -> EnvVar {
    EnvVar::from_secret(
        "TOKEN",
        SecretRef {
            name: "api".into(),
            key: "token".into(),
        },
    )
}

fn template(ready_check: &str) -> GroupTemplate {
    let mut probe = Probe::new(ProbeAction::Exec {
        command: vec![ready_check.to_owned()],
    })
    .every(Duration::from_millis(100));
    probe.failure_threshold = 1;
    let mut c = Container::new("app", "busybox", &["sleep", "3600"]).with_readiness(probe);
    c.env.push(secret_env());
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.termination_grace_period = Duration::from_secs(1);
    GroupTemplate {
        labels: Default::default(),
        annotations: Default::default(),
        spec,
    }
}

fn deployment(ready_check: &str) -> Deployment {
    Deployment::new(
        "web",
        DeploymentSpec {
            replicas: 1,
            template: template(ready_check),
            strategy: Strategy::Recreate,
            min_ready: Duration::from_millis(100),
            progress_deadline: Some(Duration::from_secs(2)),
            auto_rollback: true,
            paused: false,
            revision_history_limit: 5,
        },
    )
}

/// Fails with exit code 4 only when the secret reached it.
fn cron_job() -> CronJob {
    let mut c = Container::new("main", "busybox", &["sh", "-c"]);
    c.args = vec!["case \"$TOKEN\" in observability-sentinel-*) exit 4;; *) exit 0;; esac".into()];
    c.env.push(secret_env());
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.restart_policy = RestartPolicy::Never;
    spec.termination_grace_period = Duration::from_secs(1);
    CronJob::new("nightly", CronJobSpec::new(Some("* * * * * *"), spec))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_and_cron_metrics_and_events_carry_names_never_secrets() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");

    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(secrets.join("api")).expect("mkdir");
    std::fs::write(secrets.join("api/token"), SENTINEL).expect("secret");
    let hook = Arc::new(Recording::default());
    let raw = LocalBackend::open(
        LocalConfig::new(dir.path().join("state"))
            .secrets_dir(&secrets)
            .event_hook(hook.clone()),
    )
    .await
    .expect("open");
    let backend = Layered::new(Arc::new(raw), Metrics);

    backend
        .cron_jobs()
        .apply(&cron_job(), ApplyOptions::default())
        .await
        .expect("cron job");
    let deployments = backend.deployments();
    deployments
        .apply(&deployment("true"), ApplyOptions::default())
        .await
        .expect("v1");
    hook.wait_for("RolloutComplete", |e| {
        matches!(e, Event::RolloutComplete { revision: 1, .. })
    })
    .await;
    deployments
        .apply(&deployment("false"), ApplyOptions::default())
        .await
        .expect("v2");
    hook.wait_for("RolledBack", |e| matches!(e, Event::RolledBack { .. }))
        .await;
    hook.wait_for("CronRunFailed with exit code 4", |e| {
        matches!(e, Event::CronRunFailed { exit_code: Some(4), final_attempt: true, job, .. } if job == "nightly")
    })
    .await;
    backend
        .cron_jobs()
        .delete("nightly", DeleteOptions::default())
        .await
        .expect("delete job");
    deployments
        .delete("web", DeleteOptions::default())
        .await
        .expect("delete deployment");
    backend.shutdown().await.expect("shutdown");

    // Events: the failure and the rollback, with their revisions.
    let events = hook.events();
    assert!(
        events.contains(&Event::RolloutFailed {
            deployment: "web".into(),
            revision: 2,
            reason: "ProgressDeadlineExceeded".into()
        }),
        "{events:?}"
    );
    assert!(
        events.contains(&Event::RolledBack {
            deployment: "web".into(),
            from: 2,
            to: 3,
            reason: "auto-rollback: ProgressDeadlineExceeded".into()
        }),
        "{events:?}"
    );

    // Metrics: names and labels.
    let mut series = std::collections::BTreeMap::new();
    let mut dump = String::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let name = key.key().name().to_owned();
        assert!(
            tars_engine::metrics::ALL.contains(&name.as_str()),
            "{name} is not among tars_engine::metrics::ALL"
        );
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let id = format!("{name}{{{}}}", labels.join(","));
        dump.push_str(&format!("{id} {value:?}\n"));
        series.insert(id, value);
    }
    let counter = |id: &str| match series.get(id) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{id}: {other:?}\n{dump}"),
    };
    let histogram = |id: &str| match series.get(id) {
        Some(DebugValue::Histogram(v)) => v.iter().map(|x| x.into_inner()).collect::<Vec<f64>>(),
        other => panic!("{id}: {other:?}\n{dump}"),
    };
    let gauge = |id: &str| match series.get(id) {
        Some(DebugValue::Gauge(v)) => v.into_inner(),
        other => panic!("{id}: {other:?}\n{dump}"),
    };
    for outcome in ["started", "complete", "failed", "rolled_back"] {
        assert!(
            counter(&format!(
                "tars_rollouts_total{{backend=local,deployment=web,outcome={outcome}}}"
            )) >= 1,
            "{outcome}"
        );
    }
    let failed =
        histogram("tars_rollout_duration_seconds{backend=local,deployment=web,outcome=failed}");
    assert!(failed.len() == 1 && failed[0] >= 2.0, "{failed:?}");
    assert!(counter("tars_cron_runs_started_total{attempt=first}") >= 1);
    assert!(counter("tars_cron_runs_total{outcome=failed}") >= 1);
    assert!(!histogram("tars_cron_run_duration_seconds{outcome=failed}").is_empty());
    let lateness = histogram("tars_cron_lateness_seconds{}");
    assert!(
        !lateness.is_empty() && lateness.iter().all(|l| (0.0..1.0).contains(l)),
        "{lateness:?}"
    );
    assert_eq!(
        counter("tars_operations_total{backend=local,kind=Deployment,operation=apply,outcome=ok}"),
        2
    );
    for kind in ["Deployment", "CronJob", "ContainerGroup"] {
        assert_eq!(
            gauge(&format!("tars_objects{{backend=local,kind={kind}}}")),
            0.0
        );
    }

    // The secret reached the cron run (exit code 4), and neither metrics nor events.
    assert!(!dump.contains(SENTINEL), "{dump}");
    for e in &events {
        let json = serde_json::to_string(e).expect("json");
        assert!(!json.contains(SENTINEL), "{json}");
        assert!(!format!("{e:?}").contains(SENTINEL));
    }
}
