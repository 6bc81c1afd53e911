//! The rollout engine over an in-memory driver: persisted intents come before every action,
//! a restart on the same store resumes within the bounds, delete leaves nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tars_api::api::{ApplyOptions, WatchEvent};
use tars_api::deployment::{DeploymentSpec, IntOrPercent, Strategy};
use tars_api::group::{Condition, GroupTemplate};
use tars_api::meta::OWNER_LABEL;
use tars_api::{
    Container, ContainerGroup, ContainerGroupSpec, ContainerGroupStatus, Deployment, GroupPhase,
    LabelSelector, Result, WatchStream,
};
use tars_engine::driver::GroupDriver;
use tars_engine::rollout::{
    EngineConfig, Intent, PROGRESS, Progress, REVISION_LABEL, RolloutEngine,
};
use tars_engine::store::{MemoryStore, Store, decode};
use tokio::sync::broadcast;

/// Groups in memory, ready as soon as they start.
struct FakeDriver {
    groups: Mutex<BTreeMap<String, ContainerGroup>>,
    changes: broadcast::Sender<()>,
    most: AtomicUsize,
    store: Arc<MemoryStore>,
    /// Starts that were not announced in the persisted progress first.
    unannounced: Mutex<Vec<String>>,
}

impl FakeDriver {
    fn new(store: Arc<MemoryStore>) -> Arc<Self> {
        Arc::new(FakeDriver {
            groups: Mutex::new(BTreeMap::new()),
            changes: broadcast::channel(1024).0,
            most: AtomicUsize::new(0),
            store,
            unannounced: Mutex::new(Vec::new()),
        })
    }

    fn names(&self) -> Vec<String> {
        self.groups.lock().expect("lock").keys().cloned().collect()
    }
}

#[async_trait]
impl GroupDriver for FakeDriver {
    async fn start(&self, group: &ContainerGroup) -> Result<()> {
        let owner = group
            .metadata
            .labels
            .get(OWNER_LABEL)
            .cloned()
            .unwrap_or_default();
        let progress: Option<Progress> = self
            .store
            .get(PROGRESS, &owner)?
            .map(|b| decode(PROGRESS, &owner, &b))
            .transpose()?;
        let announced = progress.is_some_and(|p| {
            p.intents
                .iter()
                .any(|i| matches!(i, Intent::Start { name, .. } if name == group.name()))
        });
        if !announced {
            self.unannounced
                .lock()
                .expect("lock")
                .push(group.name().to_owned());
        }
        let mut g = group.clone();
        g.status = Some(ContainerGroupStatus {
            phase: GroupPhase::Running,
            ready: true,
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: true,
                reason: None,
                message: None,
                last_transition: Some(jiff::Timestamp::now()),
            }],
            ..Default::default()
        });
        let mut groups = self.groups.lock().expect("lock");
        groups.insert(g.name().to_owned(), g);
        self.most.fetch_max(groups.len(), Ordering::SeqCst);
        let _ = self.changes.send(());
        Ok(())
    }

    async fn stop(&self, name: &str, _grace: Option<Duration>) -> Result<()> {
        self.groups.lock().expect("lock").remove(name);
        let _ = self.changes.send(());
        Ok(())
    }

    async fn list(&self, selector: &LabelSelector) -> Result<Vec<ContainerGroup>> {
        Ok(self
            .groups
            .lock()
            .expect("lock")
            .values()
            .filter(|g| selector.matches(&g.metadata.labels))
            .cloned()
            .collect())
    }

    async fn watch(&self, _selector: &LabelSelector) -> Result<WatchStream<ContainerGroupSpec>> {
        let rx = self.changes.subscribe();
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    Some((Ok(WatchEvent::SnapshotDone), rx))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })))
    }
}

fn deployment(replicas: u32, version: &str) -> Deployment {
    let container = Container::new("app", "img", &["sleep"]).with_env("VERSION", version);
    Deployment::new(
        "web",
        DeploymentSpec {
            replicas,
            template: GroupTemplate {
                labels: Default::default(),
                annotations: Default::default(),
                spec: ContainerGroupSpec::new(vec![container]),
            },
            strategy: Strategy::Rolling {
                max_surge: IntOrPercent::Int(1),
                max_unavailable: IntOrPercent::Int(0),
            },
            min_ready: Duration::from_millis(50),
            progress_deadline: None,
            auto_rollback: false,
            paused: false,
            revision_history_limit: 10,
        },
    )
}

fn engine(driver: &Arc<FakeDriver>, store: &Arc<MemoryStore>) -> RolloutEngine {
    let mut config = EngineConfig::new("fake", "test");
    config.active_tick = Duration::from_millis(10);
    RolloutEngine::start(driver.clone(), store.clone(), config).expect("start")
}

async fn wait(engine: &RolloutEngine, what: &str, f: impl Fn(&Deployment) -> bool) {
    for _ in 0..500 {
        if engine.get("web").is_ok_and(|d| f(&d)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}: {:?}", engine.get("web"));
}

fn complete(d: &Deployment) -> bool {
    d.status.as_ref().is_some_and(|s| {
        Some(s.observed_generation) == d.metadata.generation
            && s.updated == d.spec.replicas
            && s.available == d.spec.replicas
            && s.replicas == d.spec.replicas
            && s.current_revision == s.revision
    })
}

fn hashes(driver: &FakeDriver) -> Vec<String> {
    let groups = driver.groups.lock().expect("lock");
    let mut h: Vec<String> = groups
        .values()
        .filter_map(|g| g.metadata.labels.get(REVISION_LABEL).cloned())
        .collect();
    h.sort();
    h.dedup();
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_start_is_persisted_before_the_driver_sees_it_and_a_restart_resumes() {
    let store = Arc::new(MemoryStore::new());
    let driver = FakeDriver::new(store.clone());
    let first = engine(&driver, &store);
    first
        .apply(&deployment(4, "v1"), ApplyOptions::default())
        .expect("apply v1");
    wait(&first, "v1 complete", complete).await;
    first
        .apply(&deployment(4, "v2"), ApplyOptions::default())
        .expect("apply v2");
    wait(&first, "the rollout to start", |d| {
        d.status
            .as_ref()
            .is_some_and(|s| Some(s.observed_generation) == d.metadata.generation && s.updated >= 1)
    })
    .await;
    first.abandon().await;
    drop(first);

    let second = engine(&driver, &store);
    wait(&second, "v2 complete after the restart", complete).await;
    assert_eq!(
        second
            .get("web")
            .expect("get")
            .status
            .expect("status")
            .revision,
        2
    );
    assert_eq!(
        hashes(&driver).len(),
        1,
        "old replicas left: {:?}",
        driver.names()
    );
    assert_eq!(driver.names().len(), 4);
    assert!(
        driver.most.load(Ordering::SeqCst) <= 5,
        "more than replicas + max_surge at once"
    );
    let unannounced = driver.unannounced.lock().expect("lock").clone();
    assert!(
        unannounced.is_empty(),
        "started without a persisted intent: {unannounced:?}"
    );

    second.delete("web", None).await.expect("delete");
    assert!(driver.names().is_empty());
    assert!(store.get(PROGRESS, "web").expect("get").is_none());
    assert!(second.get("web").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_deployment_stays_deleted_after_a_restart() {
    let store = Arc::new(MemoryStore::new());
    let driver = FakeDriver::new(store.clone());
    let first = engine(&driver, &store);
    first
        .apply(&deployment(2, "v1"), ApplyOptions::default())
        .expect("apply");
    wait(&first, "complete", complete).await;
    first.delete("web", None).await.expect("delete");
    first.shutdown().await;
    let second = engine(&driver, &store);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(second.get("web").is_err());
    assert!(driver.names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_of_another_instance_is_refused_with_conflict() {
    let store = Arc::new(MemoryStore::new());
    let driver = FakeDriver::new(store.clone());
    let mut theirs = deployment(1, "v1");
    theirs.metadata.stamp_owner("someone-else");
    store
        .write(
            tars_engine::store::Batch::new()
                .put_json(tars_engine::rollout::OBJECTS, "web", &theirs)
                .expect("encode"),
        )
        .expect("write");
    let ours = engine(&driver, &store);
    assert!(
        ours.get("web").is_err(),
        "a foreign deployment was taken over"
    );
    match ours.apply(&deployment(1, "v2"), ApplyOptions::default()) {
        Err(tars_api::Error::Conflict { .. }) => {}
        other => panic!("apply over a foreign deployment: {other:?}"),
    }
    match ours.delete("web", None).await {
        Err(tars_api::Error::Conflict { .. }) => {}
        other => panic!("delete of a foreign deployment: {other:?}"),
    }
    assert!(driver.names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_the_revision_and_fields_and_changes_nothing() {
    let store = Arc::new(MemoryStore::new());
    let driver = FakeDriver::new(store.clone());
    let engine = engine(&driver, &store);
    let created = engine
        .apply(&deployment(2, "v1"), ApplyOptions::dry_run())
        .expect("dry run");
    assert_eq!(created.change, tars_api::Change::Created);
    assert!(
        engine.get("web").is_err(),
        "a dry run created the deployment"
    );
    engine
        .apply(&deployment(2, "v1"), ApplyOptions::default())
        .expect("apply");
    wait(&engine, "complete", complete).await;
    let names = driver.names();
    let dry = engine
        .apply(&deployment(3, "v2"), ApplyOptions::dry_run())
        .expect("dry run");
    match &dry.change {
        tars_api::Change::Updated { fields } => {
            assert!(fields.contains(&"spec.replicas".to_owned()), "{fields:?}");
            assert!(
                fields.iter().any(|f| f.starts_with("spec.template")),
                "{fields:?}"
            );
        }
        other => panic!("dry run change: {other:?}"),
    }
    assert_eq!(dry.object.status.as_ref().map(|s| s.revision), Some(2));
    assert_eq!(dry.object.metadata.generation, Some(2));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(driver.names(), names, "a dry run touched the replicas");
    assert_eq!(engine.history("web").expect("history").len(), 1);
    assert_eq!(engine.get("web").expect("get").metadata.generation, Some(1));
}

/// Keeps every event it is given.
#[derive(Default)]
struct Recording(Mutex<Vec<tars_api::events::Event>>);

impl tars_api::events::EventHook for Recording {
    fn emit(&self, event: &tars_api::events::Event) {
        self.0.lock().expect("lock").push(event.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_get_each_rollout_and_a_manual_rollback_with_their_revisions() {
    use tars_api::events::{Event, EventHooks};

    let store = Arc::new(MemoryStore::new());
    let driver = FakeDriver::new(store.clone());
    let hook = Arc::new(Recording::default());
    let mut config = EngineConfig::new("fake", "test").hooks(EventHooks::new().with(hook.clone()));
    config.active_tick = Duration::from_millis(10);
    let engine = RolloutEngine::start(driver.clone(), store.clone(), config).expect("start");
    for version in ["v1", "v2"] {
        engine
            .apply(&deployment(2, version), ApplyOptions::default())
            .expect("apply");
        wait(&engine, "complete", complete).await;
    }
    engine.rollback("web", None).expect("rollback");
    wait(&engine, "revision 3 complete", |d| {
        complete(d) && d.status.as_ref().is_some_and(|s| s.revision == 3)
    })
    .await;
    engine.delete("web", None).await.expect("delete");

    let events = hook.0.lock().expect("lock").clone();
    let started = |revision| Event::RolloutStarted {
        deployment: "web".into(),
        revision,
    };
    let done = |revision| Event::RolloutComplete {
        deployment: "web".into(),
        revision,
    };
    assert_eq!(
        events,
        [
            started(1),
            done(1),
            started(2),
            done(2),
            Event::RolledBack {
                deployment: "web".into(),
                from: 2,
                to: 3,
                reason: "manual".into()
            },
            started(3),
            done(3),
        ]
    );
}
