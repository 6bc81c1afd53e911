//! Backend comparison (issue 10): the same scenarios against every backend this run can reach,
//! side by side, with a table on stdout, JSON (`--json PATH`) and SVG charts in `docs/bench/`.
//!
//! Backends: `local` always (state in a temporary directory; a replica is a `sleep` process),
//! `k8s` when `TARS_K8S_KUBECONFIG` names a cluster (with `TARS_K8S_CONTEXT`, else its current
//! context; a namespace `tars-bench-<random>` is created and deleted at the end), `mesos` when
//! `TARS_MESOS_MASTER` names a master (tars as a framework of its own, torn down at the end),
//! `openstack` when `TARS_OS_CLOUDS` names a `clouds.yaml` with a cloud `tars` (Nova servers).
//!
//! Scenarios, per backend, through the stack a user gets (call counting, validation):
//! - ContainerGroup apply → running → delete returned and gone (N repetitions);
//! - Deployment apply → all replicas available, for 3 and 30 replicas, then a full rolling
//!   update of it (default strategy: max surge 25 %, max unavailable 25 %);
//! - the calls that reached the backend per operation (from `CountCalls`).
//!
//! And on k8s, the overhead against the raw client, interleaved in one run: `apply` of a
//! ContainerGroup by backend-k8s (as configured by default, and with
//! `K8sConfig::skip_dry_run(true)`) against a raw kube-rs server-side apply of the same Pod
//! (`Api<Pod>::patch(.., &PatchParams::apply("bench").force(), &Patch::Apply(pod))`), each
//! followed by a delete that is not timed; then the same for an apply that changes nothing.
//! On OpenStack, `apply` of a ContainerGroup by backend-openstack (returns once its server is
//! built) against the `openstack` crate creating the same server and polling it at the same
//! pace until it is built (`bench/openstack.rs`).
//!
//! ```text
//! cargo run --release --example bench                                  # local (+ k8s if set)
//! TARS_K8S_KUBECONFIG=/tmp/k8s/kubeconfig cargo run --release --example bench -- --json target/bench.json
//! cargo run --release --example bench -- --backends local --quick      # a smoke run
//! cargo run --release --example bench -- --replot docs/bench/bench.json # redraw the charts
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod, PodSpec, ServiceAccount};
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::{Value, json};
use tars::api::{ApplyOptions, DeleteOptions, WatchEvent};
use tars::conditions::{is_deleted, is_group_running};
use tars::deployment::Strategy;
use tars::group::{GroupTemplate, RestartPolicy};
use tars::k8s::{K8sBackend, K8sConfig};
use tars::layer::{CallCounts, CountCalls, Layered, Operation, Validate};
use tars::local::{LocalBackend, LocalConfig};
use tars::mesos::{MesosBackend, MesosConfig};
use tars::selector::LabelSelector;
use tars::wait::wait_for;
use tars::{
    Backend, Container, ContainerGroup, ContainerGroupSpec, CronJob, CronJobSpec, Deployment,
    DeploymentSpec, Object,
};
use tars_engine::metrics::BACKEND_REQUESTS_TOTAL;

#[path = "bench/mesos.rs"]
mod mesos;
#[path = "bench/openstack.rs"]
mod os;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const KUBECONFIG_ENV: &str = "TARS_K8S_KUBECONFIG";
const MESOS_ENV: &str = "TARS_MESOS_MASTER";
const CONTEXT_ENV: &str = "TARS_K8S_CONTEXT";
const LIMIT: Duration = Duration::from_secs(180);

/// Command-line options.
struct Args {
    backends: Vec<String>,
    json: Option<PathBuf>,
    charts: PathBuf,
    quick: bool,
    replot: Option<PathBuf>,
}

fn parse_args() -> Res<Args> {
    let mut args = Args {
        backends: vec![
            "local".into(),
            "k8s".into(),
            "mesos".into(),
            "openstack".into(),
        ],
        json: None,
        charts: PathBuf::from("docs/bench"),
        quick: false,
        replot: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--backends" => {
                let list = it
                    .next()
                    .ok_or("--backends needs a list: local,k8s,mesos,openstack")?;
                args.backends = list.split(',').map(str::to_owned).collect();
            }
            "--json" => args.json = Some(it.next().ok_or("--json needs a path")?.into()),
            "--charts" => args.charts = it.next().ok_or("--charts needs a directory")?.into(),
            "--quick" => args.quick = true,
            "--replot" => args.replot = Some(it.next().ok_or("--replot needs a JSON path")?.into()),
            "-h" | "--help" => {
                println!(
                    "usage: bench [--backends local,k8s,mesos,openstack] [--json PATH] [--charts DIR] [--quick] [--replot JSON]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    Ok(args)
}

/// Sizes of one run.
struct Sizes {
    group_reps: usize,
    replicas: Vec<u32>,
    deploy_reps: usize,
    pairs: usize,
    quick: bool,
}

/// Min, median and max of a sample, in the sample's unit.
#[derive(Clone, Copy, Debug)]
struct Spread {
    min: f64,
    median: f64,
    max: f64,
}

impl Spread {
    fn of(v: &[f64]) -> Spread {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        if n == 0 {
            return Spread {
                min: f64::NAN,
                median: f64::NAN,
                max: f64::NAN,
            };
        }
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Spread {
            min: s[0],
            median,
            max: s[n - 1],
        }
    }

    fn json(&self, n: usize) -> Value {
        json!({"n": n, "min": self.min, "median": self.median, "max": self.max})
    }
}

/// The `q` quantile of `v` (nearest rank; NaN when empty).
fn percentile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let rank = (q * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

/// One measured operation of one backend: latencies in milliseconds, calls per repetition.
struct Measured {
    backend: String,
    operation: String,
    ms: Vec<f64>,
    calls: BTreeMap<String, f64>,
}

/// The HTTP requests each backend sent to its engine: a `metrics` recorder that keeps
/// `tars_backend_requests_total` per `backend` label and drops every other metric.
#[derive(Clone, Default)]
struct RequestCounts(Arc<std::sync::Mutex<BTreeMap<String, Arc<AtomicU64>>>>);

impl RequestCounts {
    fn get(&self, backend: &str) -> u64 {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(backend).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

impl metrics::Recorder for RequestCounts {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        if key.name() != BACKEND_REQUESTS_TOTAL {
            return Counter::noop();
        }
        let backend = key
            .labels()
            .find(|l| l.key() == "backend")
            .map_or_else(String::new, |l| l.value().to_owned());
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Counter::from_arc(map.entry(backend).or_default().clone())
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// A backend as a user gets it: counted, then validated.
struct Target {
    name: String,
    backend: Arc<dyn Backend>,
    calls: CallCounts,
    requests: RequestCounts,
}

impl Target {
    fn new(name: &str, raw: Arc<dyn Backend>, requests: &RequestCounts) -> Target {
        let counter = CountCalls::new();
        let calls = counter.counts();
        let counted: Arc<dyn Backend> = Arc::new(Layered::new(raw, counter));
        Target {
            name: name.to_owned(),
            backend: Arc::new(Layered::new(counted, Validate)),
            calls,
            requests: requests.clone(),
        }
    }

    fn snapshot(&self) -> BTreeMap<String, u64> {
        [
            Operation::Apply,
            Operation::DryRun,
            Operation::Get,
            Operation::List,
            Operation::Delete,
            Operation::Watch,
        ]
        .into_iter()
        .map(|op| (format!("{op:?}").to_lowercase(), self.calls.get(op)))
        .chain([("total".to_owned(), self.calls.total())])
        // Every backend but the embedded one talks HTTP to its engine.
        .chain((self.name != "local").then(|| (HTTP.to_owned(), self.requests.get(&self.name))))
        .collect()
    }
}

/// The key of HTTP requests to the engine among the call counts.
const HTTP: &str = "http";

/// Calls between two snapshots, per repetition.
fn calls_between(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
    reps: usize,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (k.clone(), d as f64 / reps as f64)
        })
        .filter(|(k, v)| *v > 0.0 || k == "total" || k == HTTP)
        .collect()
}

/// The mean of per-repetition call counts.
fn mean_calls(reps: &[BTreeMap<String, f64>]) -> BTreeMap<String, f64> {
    let mut sum: BTreeMap<String, f64> = BTreeMap::new();
    for r in reps {
        for (k, v) in r {
            *sum.entry(k.clone()).or_default() += v;
        }
    }
    sum.values_mut()
        .for_each(|v| *v /= reps.len().max(1) as f64);
    sum
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A replica or group: one `sleep` (a process on local; on a hollow node nothing runs).
fn spec(version: &str) -> ContainerGroupSpec {
    let container =
        Container::new("main", "busybox", &["sleep", "3600"]).with_env("VERSION", version);
    let mut spec = ContainerGroupSpec::new(vec![container]);
    spec.termination_grace_period = Duration::from_secs(1);
    spec
}

fn deployment(name: &str, replicas: u32, version: &str) -> Deployment {
    Deployment::new(
        name,
        DeploymentSpec {
            replicas,
            template: GroupTemplate {
                labels: [("app".to_owned(), name.to_owned())].into(),
                annotations: Default::default(),
                spec: spec(version),
            },
            strategy: Strategy::default(),
            min_ready: Duration::ZERO,
            progress_deadline: Some(Duration::from_secs(600)),
            auto_rollback: false,
            paused: false,
            revision_history_limit: 5,
        },
    )
}

/// Every replica of `generation` or later available, none of another revision left.
fn complete_at(generation: u64) -> impl Fn(Option<&Object<DeploymentSpec>>) -> bool + Send + Sync {
    move |o: Option<&Object<DeploymentSpec>>| {
        o.is_some_and(|o| {
            o.status.as_ref().is_some_and(|s| {
                let want = o.spec.replicas;
                s.observed_generation >= generation
                    && s.updated == want
                    && s.available == want
                    && s.replicas == want
            })
        })
    }
}

/// ContainerGroup apply → running → deleted, `reps` times.
async fn group_lifecycle(t: &Target, reps: usize, out: &mut Vec<Measured>) -> Res<()> {
    let groups = t.backend.container_groups();
    let (mut up, mut down, mut total) = (vec![], vec![], vec![]);
    let (mut up_calls, mut down_calls) = (vec![], vec![]);
    for i in 0..reps {
        let name = format!("bench-g-{i}");
        let group = ContainerGroup::new(&name, spec("v1"));
        let c0 = t.snapshot();
        let t0 = Instant::now();
        groups.apply(&group, ApplyOptions::default()).await?;
        wait_for(groups, &name, is_group_running(), LIMIT, |_| {}).await?;
        let t1 = Instant::now();
        let c1 = t.snapshot();
        groups.delete(&name, DeleteOptions::default()).await?;
        wait_for(groups, &name, is_deleted(), LIMIT, |_| {}).await?;
        let t2 = Instant::now();
        let c2 = t.snapshot();
        up.push(ms(t1 - t0));
        down.push(ms(t2 - t1));
        total.push(ms(t2 - t0));
        up_calls.push(calls_between(&c0, &c1, 1));
        down_calls.push(calls_between(&c1, &c2, 1));
    }
    let (up_calls, down_calls) = (mean_calls(&up_calls), mean_calls(&down_calls));
    let name = &t.name;
    out.push(Measured {
        backend: name.clone(),
        operation: "group apply → running".into(),
        ms: up,
        calls: up_calls,
    });
    out.push(Measured {
        backend: name.clone(),
        operation: "group delete → gone".into(),
        ms: down,
        calls: down_calls,
    });
    out.push(Measured {
        backend: name.clone(),
        operation: "group create → running → deleted".into(),
        ms: total,
        calls: BTreeMap::new(),
    });
    Ok(())
}

/// Deployment apply → available, then a full rolling update, then delete (not timed); `reps`
/// times, each with a deployment of its own.
async fn deployment_rollout(
    t: &Target,
    replicas: u32,
    reps: usize,
    out: &mut Vec<Measured>,
) -> Res<()> {
    let deployments = t.backend.deployments();
    let (mut up, mut update) = (vec![], vec![]);
    let (mut up_calls, mut update_calls) = (vec![], vec![]);
    for i in 0..reps {
        let name = format!("bench-d{replicas}-{i}");
        let c0 = t.snapshot();
        let t0 = Instant::now();
        let applied = deployments
            .apply(&deployment(&name, replicas, "v1"), ApplyOptions::default())
            .await?;
        let generation = applied.object.metadata.generation.unwrap_or(1);
        wait_for(deployments, &name, complete_at(generation), LIMIT, |_| {}).await?;
        let t1 = Instant::now();
        let c1 = t.snapshot();
        let updated = deployments
            .apply(&deployment(&name, replicas, "v2"), ApplyOptions::default())
            .await?;
        let generation = updated.object.metadata.generation.unwrap_or(generation + 1);
        wait_for(deployments, &name, complete_at(generation), LIMIT, |_| {}).await?;
        let t2 = Instant::now();
        let c2 = t.snapshot();
        deployments.delete(&name, DeleteOptions::default()).await?;
        wait_for(deployments, &name, is_deleted(), LIMIT, |_| {}).await?;
        up.push(ms(t1 - t0));
        update.push(ms(t2 - t1));
        up_calls.push(calls_between(&c0, &c1, 1));
        update_calls.push(calls_between(&c1, &c2, 1));
    }
    let (up_calls, update_calls) = (mean_calls(&up_calls), mean_calls(&update_calls));
    out.push(Measured {
        backend: t.name.clone(),
        operation: format!("deployment ×{replicas} apply → available"),
        ms: up,
        calls: up_calls,
    });
    out.push(Measured {
        backend: t.name.clone(),
        operation: format!("deployment ×{replicas} rolling update"),
        ms: update,
        calls: update_calls,
    });
    Ok(())
}

/// How a backend's cron jobs are measured: `jobs` jobs on `schedule`, until each has `runs`
/// runs started.
struct CronLoad {
    jobs: usize,
    schedule: &'static str,
    runs: usize,
}

impl CronLoad {
    /// Seconds in schedules where the backend has them (tars' cron engine on local and
    /// Mesos); one slot a minute on Kubernetes (its CronJob has minutes only) and on OpenStack
    /// (a run is a Nova server: backend-openstack refuses schedules off the minute).
    fn of(backend: &str, quick: bool) -> CronLoad {
        let (jobs, schedule, runs): (usize, &str, usize) = match backend {
            "k8s" => (5, "* * * * *", 2),
            "openstack" => (3, "* * * * *", 2),
            _ => (5, "*/2 * * * * *", 6),
        };
        let runs = if quick { runs.div_ceil(2) } else { runs };
        CronLoad {
            jobs,
            schedule,
            runs,
        }
    }
}

/// CronJob slot → run start: `load.jobs` jobs fire until each has started `load.runs` runs.
///
/// A run's start is when its group was created, as the backend stamps the group (tars at the
/// driver's start call on local and Mesos, to the microsecond; Nova's `created`, to the second,
/// on OpenStack), seen through a watch of the groups; on Kubernetes, where a run is a Job, the
/// Job's start as `runs()` reports it (to the second). Not `runs()`' `started_at` on tars' cron
/// engine: a run prepared ahead of its slot is recorded as started at the slot.
async fn cron_lateness(t: &Target, load: &CronLoad, out: &mut Vec<Measured>) -> Res<()> {
    let api = t.backend.cron_jobs();
    let names: Vec<String> = (0..load.jobs).map(|i| format!("bench-cron-{i}")).collect();
    let container = Container::new("main", "busybox", &["true"]);
    let mut job_spec = CronJobSpec::new(
        Some(load.schedule),
        ContainerGroupSpec::new(vec![container]),
    );
    job_spec.template.spec.termination_grace_period = Duration::from_secs(1);
    job_spec.template.spec.restart_policy = RestartPolicy::Never;
    job_spec.successful_history_limit = 100;
    job_spec.failed_history_limit = 100;
    let by_job = t.name == "k8s";
    let created: Arc<std::sync::Mutex<BTreeMap<String, jiff::Timestamp>>> = Arc::default();
    let watcher = if by_job {
        None
    } else {
        let mut stream = t
            .backend
            .container_groups()
            .watch(&LabelSelector::everything())
            .await?;
        let seen = created.clone();
        Some(tokio::spawn(async move {
            while let Some(Ok(event)) = stream.next().await {
                if let WatchEvent::Existing(o) | WatchEvent::Added(o) | WatchEvent::Modified(o) =
                    event
                    && let Some(at) = o.metadata.created_at
                {
                    let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
                    seen.entry(o.metadata.name).or_insert(at);
                }
            }
        }))
    };
    for name in &names {
        api.apply(
            &CronJob::new(name, job_spec.clone()),
            ApplyOptions::default(),
        )
        .await?;
    }
    // A minute per slot where schedules have minutes only (and Kubernetes' controller looks
    // every 10 s).
    let by_minute = load.schedule.split_whitespace().count() == 5;
    let limit = Duration::from_secs(if by_minute { 200 } else { 90 });
    let deadline = Instant::now() + limit;
    let mut late = vec![];
    let result: Res<()> = async {
        loop {
            late.clear();
            let mut enough = true;
            for name in &names {
                let runs = api.runs(name).await?;
                let mut started = vec![];
                for r in runs.iter().filter(|r| !r.manual) {
                    let start = if by_job {
                        r.started_at
                    } else {
                        let seen = created.lock().unwrap_or_else(PoisonError::into_inner);
                        seen.get(&r.group).copied()
                    };
                    if let Some(s) = start {
                        started.push((s - r.slot).total(jiff::Unit::Millisecond)?);
                    }
                }
                enough &= started.len() >= load.runs;
                late.extend(started.into_iter().take(load.runs));
            }
            if enough {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "cron jobs on {} did not start {} runs each in {limit:?}",
                    t.name, load.runs
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    .await;
    if let Some(w) = watcher {
        w.abort();
    }
    for name in &names {
        let _ = api.delete(name, DeleteOptions::default()).await;
    }
    for name in &names {
        let _ = wait_for(api, name, is_deleted(), LIMIT, |_| {}).await;
    }
    result?;
    out.push(Measured {
        backend: t.name.clone(),
        operation: format!("cron slot → run start ({})", load.schedule),
        ms: late,
        calls: BTreeMap::new(),
    });
    Ok(())
}

async fn scenarios(t: &Target, sizes: &Sizes, out: &mut Vec<Measured>) -> Res<()> {
    eprintln!("[{}] group lifecycle ×{}", t.name, sizes.group_reps);
    group_lifecycle(t, sizes.group_reps, out).await?;
    for &r in &sizes.replicas {
        eprintln!("[{}] deployment ×{r}, {} times", t.name, sizes.deploy_reps);
        deployment_rollout(t, r, sizes.deploy_reps, out).await?;
    }
    let load = CronLoad::of(&t.name, sizes.quick);
    eprintln!(
        "[{}] cron: {} jobs on {:?}, {} runs each",
        t.name, load.jobs, load.schedule, load.runs
    );
    cron_lateness(t, &load, out).await
}

/// The k8s side: a client, a fresh namespace, and the configuration for tars.
struct Cluster {
    client: Client,
    namespace: String,
    config: K8sConfig,
}

impl Cluster {
    async fn open(path: &str) -> Res<Cluster> {
        let context = std::env::var(CONTEXT_ENV).ok();
        let kc = Kubeconfig::read_from(path)?;
        let options = KubeConfigOptions {
            context: context.clone(),
            ..Default::default()
        };
        let client = Client::try_from(Config::from_custom_kubeconfig(kc, &options).await?)?;
        let namespace = format!("tars-bench-{:08x}", fastrand::u32(..));
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        // Pods need the namespace's default service account, which a controller creates.
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
        for _ in 0..100 {
            if accounts.get_opt("default").await.ok().flatten().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut config = K8sConfig::new()
            .kubeconfig(path)
            .namespace(namespace.clone())
            .instance("bench");
        if let Some(c) = context {
            config = config.context(c);
        }
        Ok(Cluster {
            client,
            namespace,
            config,
        })
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn close(&self) {
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.namespace, &DeleteParams::default())
            .await;
    }

    /// Deletes pod `name` at once (grace 0) and waits until it is gone; not timed.
    async fn remove_pod(&self, name: &str) -> Res<()> {
        let pods = self.pods();
        pods.delete(name, &DeleteParams::default().grace_period(0))
            .await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while pods.get_opt(name).await?.is_some() {
            if Instant::now() > deadline {
                return Err(format!("pod {name} still there after a minute").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

/// The Pod a raw client sends for the same group: the labels, annotations and pod spec tars
/// sent (read back from the pod tars created; defaults the server added to the containers are
/// the values it would add anyway), without anything the server owns (node, volumes, status).
fn raw_pod(from_tars: &Pod, name: &str) -> Pod {
    let spec = from_tars.spec.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: from_tars.metadata.labels.clone(),
            annotations: from_tars.metadata.annotations.clone(),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: spec
                .containers
                .into_iter()
                .map(|mut c| {
                    c.volume_mounts = None;
                    c
                })
                .collect(),
            restart_policy: spec.restart_policy,
            termination_grace_period_seconds: spec.termination_grace_period_seconds,
            affinity: spec.affinity,
            ..Default::default()
        }),
        status: None,
    }
}

/// One side of an overhead comparison.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    /// backend-k8s as configured by default (server-side dry run before an update).
    Tars,
    /// backend-k8s with `skip_dry_run(true)`.
    TarsSkip,
    /// kube-rs server-side apply.
    Raw,
    /// backend-openstack.
    OsTars,
    /// The `openstack` crate.
    OsRaw,
    /// backend-mesos.
    MesosTars,
    /// A raw framework: bare v1 scheduler calls.
    MesosRaw,
}

/// Every side, in the order of the tables.
const SIDES: [Side; 7] = [
    Side::Tars,
    Side::TarsSkip,
    Side::Raw,
    Side::MesosTars,
    Side::MesosRaw,
    Side::OsTars,
    Side::OsRaw,
];

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Tars => "tars (default)",
            Side::TarsSkip => "tars skip_dry_run",
            Side::Raw => "raw kube-rs SSA",
            Side::OsTars => "tars (openstack)",
            Side::OsRaw => "raw openstack crate",
            Side::MesosTars => "tars (mesos)",
            Side::MesosRaw => "raw v1 scheduler calls",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Side::Tars => "tars",
            Side::TarsSkip => "tars_skip_dry_run",
            Side::Raw => "raw",
            Side::OsTars => "openstack_tars",
            Side::OsRaw => "openstack_raw",
            Side::MesosTars => "mesos_tars",
            Side::MesosRaw => "mesos_raw",
        }
    }
    fn is_raw(self) -> bool {
        matches!(self, Side::Raw | Side::OsRaw | Side::MesosRaw)
    }
}

/// Overhead results: case → side → latencies (ms); one side of each case is the raw client.
type Overhead = Vec<(String, Vec<(Side, Vec<f64>)>)>;

/// The raw client's latencies of a case.
fn raw_of(sides: &[(Side, Vec<f64>)]) -> &[f64] {
    sides
        .iter()
        .find(|(s, _)| s.is_raw())
        .map_or(&[], |(_, v)| v.as_slice())
}

async fn overhead(cluster: &Cluster, pairs: usize) -> Res<Overhead> {
    let tars = K8sBackend::connect(cluster.config.clone().instance("bench-ov")).await?;
    let skip = K8sBackend::connect(
        cluster
            .config
            .clone()
            .instance("bench-ov-skip")
            .skip_dry_run(true),
    )
    .await?;
    let pods = cluster.pods();
    let params = PatchParams::apply("bench").force();
    let sides = [Side::Tars, Side::TarsSkip, Side::Raw];
    let backend_of = |s: Side| -> &K8sBackend { if s == Side::Tars { &tars } else { &skip } };

    // The pod tars sends, to send the same one raw.
    let template_group = ContainerGroup::new("ov-template", spec("v1"));
    tars.container_groups()
        .apply(&template_group, ApplyOptions::default())
        .await?;
    let template = pods.get("ov-template").await?;
    cluster.remove_pod("ov-template").await?;

    // Warm-up: one of each, not recorded (connections, watches, caches).
    for &s in &sides {
        let name = format!("ov-warm-{}", s.key().replace('_', "-"));
        one_create(s, &name, backend_of(s), &pods, &params, &template).await?;
        cluster.remove_pod(&name).await?;
    }

    let mut create: Vec<(Side, Vec<f64>)> = sides.iter().map(|&s| (s, vec![])).collect();
    for k in 0..pairs {
        // Rotate the order so that drift and caches favour no side.
        for j in 0..sides.len() {
            let idx = (k + j) % sides.len();
            let s = sides[idx];
            let name = format!("ov-{}-{k}", s.key().replace('_', "-"));
            let d = one_create(s, &name, backend_of(s), &pods, &params, &template).await?;
            create[idx].1.push(ms(d));
            cluster.remove_pod(&name).await?;
        }
    }

    // An apply that changes nothing, on one existing pod per side.
    let mut names = BTreeMap::new();
    for &s in &sides {
        let name = format!("ov-same-{}", s.key().replace('_', "-"));
        one_create(s, &name, backend_of(s), &pods, &params, &template).await?;
        names.insert(s.key(), name);
    }
    let mut same: Vec<(Side, Vec<f64>)> = sides.iter().map(|&s| (s, vec![])).collect();
    for k in 0..pairs {
        for j in 0..sides.len() {
            let idx = (k + j) % sides.len();
            let s = sides[idx];
            let name = &names[s.key()];
            let t0 = Instant::now();
            match s {
                Side::Raw => {
                    pods.patch(name, &params, &Patch::Apply(raw_pod(&template, name)))
                        .await?;
                }
                _ => {
                    let outcome = backend_of(s)
                        .container_groups()
                        .apply(
                            &ContainerGroup::new(name, spec("v1")),
                            ApplyOptions::default(),
                        )
                        .await?;
                    if !matches!(outcome.change, tars::api::Change::Unchanged) {
                        return Err(format!(
                            "{name}: expected Unchanged, got {:?}",
                            outcome.change
                        )
                        .into());
                    }
                }
            }
            same[idx].1.push(ms(t0.elapsed()));
        }
    }
    for name in names.values() {
        cluster.remove_pod(name).await?;
    }
    let _ = tars.shutdown().await;
    let _ = skip.shutdown().await;
    Ok(vec![
        ("k8s: create a pod".to_owned(), create),
        ("k8s: apply, nothing changed".to_owned(), same),
    ])
}

async fn one_create(
    s: Side,
    name: &str,
    backend: &K8sBackend,
    pods: &Api<Pod>,
    params: &PatchParams,
    template: &Pod,
) -> Res<Duration> {
    match s {
        Side::Raw => {
            let pod = raw_pod(template, name);
            let t0 = Instant::now();
            pods.patch(name, params, &Patch::Apply(pod)).await?;
            Ok(t0.elapsed())
        }
        _ => {
            let group = ContainerGroup::new(name, spec("v1"));
            let t0 = Instant::now();
            backend
                .container_groups()
                .apply(&group, ApplyOptions::default())
                .await?;
            Ok(t0.elapsed())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output

fn fmt_ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn fmt_calls(c: &BTreeMap<String, f64>) -> String {
    let fmt = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let total = c.get("total").copied().unwrap_or(0.0);
    let parts: Vec<String> = c
        .iter()
        .filter(|(k, _)| *k != "total" && *k != HTTP)
        .map(|(k, v)| format!("{k} {}", fmt(*v)))
        .collect();
    if parts.is_empty() {
        "–".into()
    } else {
        format!("{} ({})", fmt(total), parts.join(", "))
    }
}

/// HTTP requests to the engine per operation, or "–" (the embedded backend; no count).
fn fmt_http(c: &BTreeMap<String, f64>) -> String {
    c.get(HTTP)
        .map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

fn print_tables(measured: &[Measured], over: &Overhead) {
    println!("\n## Operations (per backend)\n");
    println!(
        "| operation | backend | n | min | median | max | calls to the backend | HTTP requests to the engine |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut ops: Vec<&str> = vec![];
    for m in measured {
        if !ops.contains(&m.operation.as_str()) {
            ops.push(&m.operation);
        }
    }
    for op in ops {
        for m in measured.iter().filter(|m| m.operation == op) {
            let s = Spread::of(&m.ms);
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                m.operation,
                m.backend,
                m.ms.len(),
                fmt_ms(s.min),
                fmt_ms(s.median),
                fmt_ms(s.max),
                fmt_calls(&m.calls),
                fmt_http(&m.calls)
            );
        }
    }
    let cron: Vec<&Measured> = measured
        .iter()
        .filter(|m| m.operation.starts_with("cron slot"))
        .collect();
    if !cron.is_empty() {
        println!("\n## CronJob slot → run start (lateness)\n");
        println!("| backend | schedule | runs | p50 | p99 | max | start read from |");
        println!("|---|---|---|---|---|---|---|");
        for m in cron {
            let schedule = m
                .operation
                .split_once('(')
                .map_or("", |(_, r)| r.trim_end_matches(')'));
            let source = match m.backend.as_str() {
                "k8s" => "the Job's start (to the second)",
                "openstack" => "Nova's `created` (to the second: 0 is under 1 s)",
                _ => "the group's creation by tars (to the µs)",
            };
            println!(
                "| {} | `{schedule}` | {} | {} | {} | {} | {source} |",
                m.backend,
                m.ms.len(),
                fmt_ms(percentile(&m.ms, 0.50)),
                fmt_ms(percentile(&m.ms, 0.99)),
                fmt_ms(Spread::of(&m.ms).max)
            );
        }
    }
    if over.is_empty() {
        return;
    }
    println!("\n## Overhead against the raw client (interleaved)\n");
    println!("| case | client | n | min | median | max | median ratio to raw |");
    println!("|---|---|---|---|---|---|---|");
    for (case, sides) in over {
        let raw = Spread::of(raw_of(sides)).median;
        for (s, v) in sides {
            let sp = Spread::of(v);
            println!(
                "| {case} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} |",
                s.label(),
                v.len(),
                sp.min,
                sp.median,
                sp.max,
                sp.median / raw
            );
        }
    }
    println!("\nPer-pair ratios (tars / raw of the same round), min / median / max:");
    for (case, sides) in over {
        let raw = raw_of(sides);
        for (s, v) in sides.iter().filter(|(s, _)| !s.is_raw()) {
            let r: Vec<f64> = v.iter().zip(raw).map(|(a, b)| a / b).collect();
            let sp = Spread::of(&r);
            println!(
                "  {case}, {}: {:.2} / {:.2} / {:.2}",
                s.label(),
                sp.min,
                sp.median,
                sp.max
            );
        }
    }
}

fn to_json(measured: &[Measured], over: &Overhead, sizes: &Sizes, backends: &[String]) -> Value {
    let ops: Vec<Value> = measured
        .iter()
        .map(|m| {
            json!({
                "backend": m.backend,
                "operation": m.operation,
                "ms": Spread::of(&m.ms).json(m.ms.len()),
                "samples_ms": m.ms,
                "calls": m.calls,
            })
        })
        .collect();
    let overhead: Vec<Value> = over
        .iter()
        .map(|(case, sides)| {
            let raw = raw_of(sides);
            let raw_median = Spread::of(raw).median;
            let mut o = serde_json::Map::new();
            o.insert("case".into(), json!(case));
            for (s, v) in sides {
                let sp = Spread::of(v);
                let pair: Vec<f64> = v.iter().zip(raw).map(|(a, b)| a / b).collect();
                o.insert(
                    s.key().into(),
                    json!({
                        "ms": sp.json(v.len()),
                        "samples_ms": v,
                        "median_ratio": sp.median / raw_median,
                        "pair_ratio": Spread::of(&pair).json(pair.len()),
                    }),
                );
            }
            Value::Object(o)
        })
        .collect();
    json!({
        "backends": backends,
        "sizes": {"group_reps": sizes.group_reps, "replicas": sizes.replicas, "deploy_reps": sizes.deploy_reps, "pairs": sizes.pairs},
        "operations": ops,
        "overhead": overhead,
    })
}

/// One bar: label, min, median, max.
type Bar = (String, f64, f64, f64);

/// Panels side by side, each with its own linear scale; bars show the median, whiskers the
/// range. `target` draws a dashed line at that value in every panel.
fn bar_panels(
    path: &std::path::Path,
    title: &str,
    unit: &str,
    panels: &[(String, Vec<Bar>)],
    target: Option<f64>,
) -> Res<()> {
    let cols = panels.len().clamp(1, 4);
    let rows = panels.len().div_ceil(cols);
    let (w, h) = ((300 * cols as u32).max(720), 60 + 300 * rows as u32);
    let root = SVGBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let colors = [
        RGBColor(66, 133, 244),
        RGBColor(219, 68, 55),
        RGBColor(244, 180, 0),
        RGBColor(15, 157, 88),
    ];
    for (area, (name, bars)) in root.split_evenly((rows, cols)).iter().zip(panels) {
        let top = bars
            .iter()
            .map(|b| b.3)
            .chain(target)
            .fold(0.0f64, f64::max)
            * 1.2;
        let top = if top > 0.0 { top } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(name, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(
                (0usize..bars.len().saturating_sub(1)).into_segmented(),
                0.0..top,
            )?;
        let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(unit)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_style(("sans-serif", 11))
            .draw()?;
        for (i, b) in bars.iter().enumerate() {
            let color = colors[i % colors.len()];
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), b.2),
                ],
                color.mix(0.8).filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            chart.draw_series(std::iter::once(bar))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![
                    (SegmentValue::CenterOf(i), b.1),
                    (SegmentValue::CenterOf(i), b.3),
                ],
                BLACK.stroke_width(2),
            )))?;
            let text = if b.2 >= 100.0 {
                format!("{:.0}", b.2)
            } else if b.2 >= 0.1 || b.2 == 0.0 {
                format!("{:.2}", b.2)
            } else {
                format!("{:.4}", b.2)
            };
            chart.draw_series(std::iter::once(Text::new(
                text,
                (SegmentValue::CenterOf(i), b.3.max(b.2) + top * 0.02),
                TextStyle::from(("sans-serif", 12)).pos(Pos::new(HPos::Center, VPos::Bottom)),
            )))?;
        }
        if let Some(t) = target {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![
                    (SegmentValue::Exact(0), t),
                    (SegmentValue::Exact(bars.len()), t),
                ],
                RED.stroke_width(1),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}

fn charts(dir: &std::path::Path, measured: &[Measured], over: &Overhead) -> Res<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = vec![];
    // (a) operation latency per backend, one panel per operation.
    let mut ops: Vec<&str> = vec![];
    for m in measured {
        if !ops.contains(&m.operation.as_str())
            && !m.operation.contains("create → running → deleted")
        {
            ops.push(&m.operation);
        }
    }
    let panels: Vec<(String, Vec<Bar>)> = ops
        .iter()
        .map(|op| {
            let bars = measured
                .iter()
                .filter(|m| m.operation == *op)
                .map(|m| {
                    let s = Spread::of(&m.ms);
                    (
                        m.backend.clone(),
                        s.min / 1000.0,
                        s.median / 1000.0,
                        s.max / 1000.0,
                    )
                })
                .collect();
            ((*op).to_owned(), bars)
        })
        .collect();
    let path = dir.join("latency.svg");
    bar_panels(
        &path,
        "Operation latency per backend (median, whisker min–max)",
        "seconds",
        &panels,
        None,
    )?;
    written.push(path);

    // (b) HTTP requests to the engine per operation (the engines that speak HTTP).
    let panels: Vec<(String, Vec<Bar>)> = ops
        .iter()
        .map(|op| {
            let bars: Vec<Bar> = measured
                .iter()
                .filter(|m| m.operation == *op)
                .filter_map(|m| {
                    let c = *m.calls.get(HTTP)?;
                    Some((m.backend.clone(), c, c, c))
                })
                .collect();
            ((*op).to_owned(), bars)
        })
        .filter(|(_, bars)| !bars.is_empty())
        .collect();
    if !panels.is_empty() {
        let path = dir.join("calls.svg");
        bar_panels(
            &path,
            "HTTP requests to the engine per operation (tars_backend_requests_total, mean of the repetitions)",
            "requests",
            &panels,
            None,
        )?;
        written.push(path);
    }

    if over.is_empty() {
        return Ok(written);
    }
    // (c) tars vs raw latency, (d) ratios with the 1.05 target.
    let panels: Vec<(String, Vec<Bar>)> = over
        .iter()
        .map(|(case, sides)| {
            let bars = sides
                .iter()
                .map(|(s, v)| {
                    let sp = Spread::of(v);
                    (s.label().to_owned(), sp.min, sp.median, sp.max)
                })
                .collect();
            (case.clone(), bars)
        })
        .collect();
    let path = dir.join("overhead_latency.svg");
    bar_panels(
        &path,
        "tars vs the raw client on the same engine (interleaved)",
        "ms",
        &panels,
        None,
    )?;
    written.push(path);
    let panels: Vec<(String, Vec<Bar>)> = over
        .iter()
        .map(|(case, sides)| {
            let raw = raw_of(sides);
            let bars = sides
                .iter()
                .filter(|(s, _)| !s.is_raw())
                .map(|(s, v)| {
                    let pair: Vec<f64> = v.iter().zip(raw).map(|(a, b)| a / b).collect();
                    let sp = Spread::of(&pair);
                    let median_ratio = Spread::of(v).median / Spread::of(raw).median;
                    (s.label().to_owned(), sp.min, median_ratio, sp.max)
                })
                .collect();
            (case.clone(), bars)
        })
        .collect();
    let path = dir.join("overhead_ratio.svg");
    bar_panels(
        &path,
        "tars / raw: median ratio; whisker: per-round min–max; red: 1.05",
        "ratio",
        &panels,
        Some(1.05),
    )?;
    written.push(path);
    Ok(written)
}

/// The measurements of an earlier run, from its `--json` output (to redraw its charts).
fn from_json(v: &Value) -> Res<(Vec<Measured>, Overhead)> {
    let samples = |v: &Value| -> Vec<f64> {
        v["samples_ms"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let measured = v["operations"]
        .as_array()
        .ok_or("no operations in the JSON")?
        .iter()
        .map(|o| Measured {
            backend: text(&o["backend"]),
            operation: text(&o["operation"]),
            ms: samples(o),
            calls: o["calls"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let over = v["overhead"]
        .as_array()
        .map(|cases| {
            cases
                .iter()
                .map(|c| {
                    let sides = SIDES
                        .into_iter()
                        .filter(|s| c.get(s.key()).is_some())
                        .map(|s| (s, samples(&c[s.key()])))
                        .collect();
                    (text(&c["case"]), sides)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((measured, over))
}

#[tokio::main]
async fn main() -> Res<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args()?;
    if let Some(path) = &args.replot {
        let (measured, over) = from_json(&serde_json::from_str(&std::fs::read_to_string(path)?)?)?;
        print_tables(&measured, &over);
        for p in charts(&args.charts, &measured, &over)? {
            eprintln!("chart: {}", p.display());
        }
        return Ok(());
    }
    let sizes = if args.quick {
        Sizes {
            group_reps: 3,
            replicas: vec![3],
            deploy_reps: 1,
            pairs: 5,
            quick: true,
        }
    } else {
        Sizes {
            group_reps: 5,
            replicas: vec![3, 30],
            deploy_reps: 3,
            pairs: 20,
            quick: false,
        }
    };
    let requests = RequestCounts::default();
    metrics::set_global_recorder(requests.clone())
        .map_err(|_| "a metrics recorder is installed already")?;
    let started = Instant::now();
    let mut measured = vec![];
    let mut over = vec![];
    let mut reached = vec![];

    if args.backends.iter().any(|b| b == "local") {
        let dir = tempfile::tempdir()?;
        let raw: Arc<dyn Backend> =
            Arc::new(LocalBackend::open(LocalConfig::new(dir.path())).await?);
        let t = Target::new("local", raw, &requests);
        let result = scenarios(&t, &sizes, &mut measured).await;
        let _ = t.backend.shutdown().await;
        result?;
        reached.push("local".to_owned());
    }

    if args.backends.iter().any(|b| b == "k8s") {
        match std::env::var(KUBECONFIG_ENV) {
            Err(_) => eprintln!("k8s: skipped ({KUBECONFIG_ENV} is not set)"),
            Ok(path) => {
                let cluster = Cluster::open(&path).await?;
                eprintln!("k8s: namespace {}", cluster.namespace);
                let result = async {
                    let raw: Arc<dyn Backend> =
                        Arc::new(K8sBackend::connect(cluster.config.clone()).await?);
                    let t = Target::new("k8s", raw, &requests);
                    let r = scenarios(&t, &sizes, &mut measured).await;
                    let _ = t.backend.shutdown().await;
                    r?;
                    eprintln!("[k8s] overhead against raw kube-rs, {} rounds", sizes.pairs);
                    overhead(&cluster, sizes.pairs).await
                }
                .await;
                cluster.close().await;
                over = result?;
                reached.push("k8s".to_owned());
            }
        }
    }

    if args.backends.iter().any(|b| b == "mesos") {
        match std::env::var(MESOS_ENV) {
            Err(_) => eprintln!("mesos: skipped ({MESOS_ENV} is not set)"),
            Ok(master) => {
                let dir = tempfile::tempdir()?;
                let raw = Arc::new(
                    MesosBackend::connect(
                        MesosConfig::new(master.clone())
                            .state_dir(dir.path())
                            .instance("bench"),
                    )
                    .await?,
                );
                let t = Target::new("mesos", raw.clone(), &requests);
                let result = scenarios(&t, &sizes, &mut measured).await;
                // The framework goes with its tasks, whatever happened.
                let _ = raw.teardown().await;
                result?;
                eprintln!(
                    "[mesos] overhead against raw v1 scheduler calls, {} rounds",
                    sizes.pairs
                );
                let sides = mesos::overhead(&master, sizes.pairs).await?;
                over.push(("mesos: launch a group → running".to_owned(), sides));
                reached.push("mesos".to_owned());
            }
        }
    }

    if args.backends.iter().any(|b| b == "openstack") {
        match std::env::var(os::CLOUDS_ENV) {
            Err(_) => eprintln!("openstack: skipped ({} is not set)", os::CLOUDS_ENV),
            Ok(clouds) => {
                let dir = tempfile::tempdir()?;
                let config = os::config(&clouds, "bench", dir.path())?;
                let raw =
                    Arc::new(tars::openstack::OpenStackBackend::connect(config.clone()).await?);
                let t = Target::new("openstack", raw.clone(), &requests);
                let result = scenarios(&t, &sizes, &mut measured).await;
                let _ = raw.shutdown().await;
                result?;
                eprintln!(
                    "[openstack] overhead against the raw openstack crate, {} rounds",
                    sizes.pairs
                );
                // A tars process of its own: one state directory serves one tars process.
                let ov_dir = tempfile::tempdir()?;
                let ov_config = config.instance("bench-ov").state_dir(ov_dir.path());
                let sides = os::overhead(&ov_config, sizes.pairs).await?;
                over.push(("openstack: create a server → built".to_owned(), sides));
                reached.push("openstack".to_owned());
            }
        }
    }

    print_tables(&measured, &over);
    let written = charts(&args.charts, &measured, &over)?;
    for p in &written {
        eprintln!("chart: {}", p.display());
    }
    if let Some(path) = &args.json {
        let value = to_json(&measured, &over, &sizes, &reached);
        std::fs::write(path, serde_json::to_string_pretty(&value)?)?;
        eprintln!("json: {}", path.display());
    }
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
