//! Behaviour of the layers over a scripted backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tars_api::api::{
    ApplyOptions, ApplyOutcome, ContainerGroups, CronJobs, DeleteOptions, Deployments, ListParams,
    LogOptions, ObjectApi, ObjectList, WatchStream,
};
use tars_api::capability::{Capabilities, Feature};
use tars_api::layer::Layered;
use tars_api::unsupported::UnsupportedApi;
use tars_api::{
    Backend, ContainerGroup, ContainerGroupSpec, CronJobSpec, DeploymentSpec, Error, LabelSelector,
    Result,
};

use super::*;

/// A backend whose `get` fails with `Unavailable` `failures` times, then succeeds after
/// `delay`; `capabilities` counts its calls.
struct Flaky {
    failures: u32,
    delay: Duration,
    calls: AtomicU32,
    groups_unsupported: UnsupportedApi<DeploymentSpec>,
    cron_unsupported: UnsupportedApi<CronJobSpec>,
}

impl Flaky {
    fn new(failures: u32, delay: Duration) -> Arc<Self> {
        Arc::new(Flaky {
            failures,
            delay,
            calls: AtomicU32::new(0),
            groups_unsupported: UnsupportedApi::new(Feature::Deployments, "flaky", "test"),
            cron_unsupported: UnsupportedApi::new(Feature::CronJobs, "flaky", "test"),
        })
    }
}

#[async_trait]
impl ObjectApi<ContainerGroupSpec> for Flaky {
    async fn apply(
        &self,
        _: &ContainerGroup,
        _: ApplyOptions,
    ) -> Result<ApplyOutcome<ContainerGroupSpec>> {
        Err(Error::Unavailable {
            backend: "flaky".into(),
            reason: "down".into(),
        })
    }
    async fn get(&self, name: &str) -> Result<ContainerGroup> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.failures {
            return Err(Error::Unavailable {
                backend: "flaky".into(),
                reason: "down".into(),
            });
        }
        tokio::time::sleep(self.delay).await;
        Err(Error::NotFound {
            kind: tars_api::Kind::ContainerGroup,
            name: name.into(),
        })
    }
    async fn list(&self, _: &ListParams) -> Result<ObjectList<ContainerGroupSpec>> {
        Ok(ObjectList {
            items: Vec::new(),
            continue_token: None,
        })
    }
    async fn delete(&self, _: &str, _: DeleteOptions) -> Result<()> {
        Ok(())
    }
    async fn watch(&self, _: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
        Err(Error::unsupported(Feature::Watch, "flaky", "test"))
    }
}

#[async_trait]
impl ContainerGroups for Flaky {
    async fn logs(&self, _: &str, _: &str, _: &LogOptions) -> Result<String> {
        Ok(String::new())
    }
}

#[async_trait]
impl Backend for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn instance(&self) -> &str {
        "test"
    }
    async fn capabilities(&self) -> Result<Capabilities> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Capabilities::new())
    }
    fn container_groups(&self) -> &dyn ContainerGroups {
        self
    }
    fn deployments(&self) -> &dyn Deployments {
        &self.groups_unsupported
    }
    fn cron_jobs(&self) -> &dyn CronJobs {
        &self.cron_unsupported
    }
    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }
}

fn fast_retry() -> Retry {
    Retry {
        max_attempts: 4,
        base: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

#[tokio::test]
async fn retry_recovers_from_transient_unavailability_of_idempotent_calls() {
    let flaky = Flaky::new(2, Duration::ZERO);
    let b = Layered::new(flaky.clone(), fast_retry());
    let e = b
        .container_groups()
        .get("x")
        .await
        .expect_err("not found in the end");
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retry_gives_up_after_max_attempts() {
    let flaky = Flaky::new(100, Duration::ZERO);
    let b = Layered::new(flaky.clone(), fast_retry());
    let e = b
        .container_groups()
        .get("x")
        .await
        .expect_err("unavailable");
    assert!(e.is_retryable());
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn retry_never_repeats_a_non_idempotent_call() {
    let flaky = Flaky::new(100, Duration::ZERO);
    let b = Layered::new(flaky.clone(), fast_retry());
    // trigger is not idempotent: the unsupported error comes back at once, once.
    let e = b.cron_jobs().trigger("x").await.expect_err("unsupported");
    assert!(matches!(e, Error::Unsupported { .. }));
}

#[test]
fn retry_delay_grows_and_is_capped() {
    let r = Retry {
        max_attempts: 10,
        base: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
    };
    assert_eq!(
        r.delay(1, 0.999_999),
        Duration::from_millis(100).mul_f64(0.999_999)
    );
    assert!(r.delay(3, 0.999_999) > Duration::from_millis(399));
    assert_eq!(r.delay(9, 1.0), Duration::from_secs(1));
    assert_eq!(r.delay(2, 0.0), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn timeout_turns_a_slow_call_into_a_retryable_timeout() {
    let flaky = Flaky::new(0, Duration::from_secs(10));
    let b = Layered::new(flaky, Timeout::new(Duration::from_millis(50)));
    let e = b.container_groups().get("slow").await.expect_err("timeout");
    match e {
        Error::Timeout { operation, after } => {
            assert_eq!(operation, "flaky get ContainerGroup slow");
            assert_eq!(after, Duration::from_millis(50));
        }
        other => panic!("{other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_spaces_calls_beyond_the_burst() {
    let flaky = Flaky::new(0, Duration::ZERO);
    let b = Layered::new(flaky, RateLimit::per_second(10.0, 2));
    let start = tokio::time::Instant::now();
    for _ in 0..6 {
        b.capabilities().await.expect("capabilities");
    }
    // 2 at once, then 4 more at 10 per second.
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(390), "{took:?}");
    assert!(took < Duration::from_millis(600), "{took:?}");
}

#[test]
fn metrics_count_operations_by_backend_kind_operation_and_outcome() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let b = Layered::new(Flaky::new(1, Duration::ZERO), Metrics);
            let _ = b.container_groups().get("web").await; // unavailable
            let _ = b.container_groups().get("web").await; // not found
            let _ = b.container_groups().list(&ListParams::all()).await; // ok
        });
    });
    let mut counts = std::collections::BTreeMap::new();
    let mut errors = std::collections::BTreeMap::new();
    let mut timed = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        match (key.key().name(), value) {
            ("tars_operations_total", DebugValue::Counter(n)) => {
                counts.insert(labels.join(","), n);
            }
            ("tars_operation_errors_total", DebugValue::Counter(n)) => {
                errors.insert(labels.join(","), n);
            }
            ("tars_operation_duration_seconds", DebugValue::Histogram(v)) => timed += v.len(),
            (other, _) => panic!("unexpected metric {other}"),
        }
    }
    assert_eq!(
        counts["backend=flaky,kind=ContainerGroup,operation=get,outcome=unavailable"],
        1
    );
    assert_eq!(
        counts["backend=flaky,kind=ContainerGroup,operation=get,outcome=not_found"],
        1
    );
    assert_eq!(
        counts["backend=flaky,kind=ContainerGroup,operation=list,outcome=ok"],
        1
    );
    assert_eq!(timed, 3);
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        [
            "backend=flaky,kind=ContainerGroup,operation=get,error=not_found",
            "backend=flaky,kind=ContainerGroup,operation=get,error=unavailable"
        ]
    );
}
