//! Fault test: the cluster's kube-apiserver is killed with SIGKILL and restarted
//! (`scripts/engines/k8s/kill-apiserver.sh`) in the middle of a rolling update, again and
//! again (`TARS_K8S_FAULT_ROUNDS`, default 20). In each round tars has started a rollout when
//! the apiserver dies; the next revision is applied while it is down, and every call made
//! then must fail with `Error::Unavailable` (retryable) — a client that retries gets through
//! once it is back. A watch opened before the first fault must keep delivering (it resumes by
//! itself). At the end the Deployment has converged on the last revision with exactly its
//! replicas, and nothing tars made is left over: no second Deployment, no pod of an old
//! revision, no pod without an owner.
//!
//! Runs only when `TARS_K8S_FAULT_STATE_DIR` names the STATE_DIR of a cluster started by
//! `scripts/engines/k8s/up.sh` (the apiserver to kill) and `TARS_K8S_KUBECONFIG` its
//! kubeconfig; otherwise it is reported as ignored (not run), never as passed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment as K8sDeploymentObject, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams as KubeList};
use libtest_mimic::{Arguments, Failed, Trial};
use tars_api::api::{ApplyOptions, DeleteOptions, WatchEvent};
use tars_api::conditions::{Condition, is_deployment_complete};
use tars_api::deployment::IntOrPercent;
use tars_api::group::GroupTemplate;
use tars_api::{
    Backend, Container, ContainerGroupSpec, Deployment, DeploymentSpec, Error, LabelSelector,
    Strategy,
};
use tars_backend_k8s::{K8sBackend, K8sConfig};

mod common;
use common::{client, create_namespace};

const STATE_ENV: &str = "TARS_K8S_FAULT_STATE_DIR";
const KUBECONFIG_ENV: &str = "TARS_K8S_KUBECONFIG";
const CONTEXT_ENV: &str = "TARS_K8S_CONTEXT";
const ROUNDS_ENV: &str = "TARS_K8S_FAULT_ROUNDS";
const REPLICAS: u32 = 3;
const NAME: &str = "faulty";

fn deployment(rev: u32) -> Deployment {
    let mut c = Container::new("main", "busybox", &["sleep"]);
    c.args = vec![format!("{}", 10_000 + rev)];
    Deployment::new(
        NAME,
        DeploymentSpec {
            replicas: REPLICAS,
            template: GroupTemplate {
                labels: [("app".to_owned(), NAME.to_owned())].into(),
                annotations: Default::default(),
                spec: ContainerGroupSpec::new(vec![c]),
            },
            strategy: Strategy::Rolling {
                max_surge: IntOrPercent::Int(1),
                max_unavailable: IntOrPercent::Int(0),
            },
            min_ready: Duration::ZERO,
            progress_deadline: Some(Duration::from_secs(600)),
            auto_rollback: false,
            paused: false,
            revision_history_limit: 3,
        },
    )
}

type Res<T> = Result<T, String>;

/// What the faults did, for the report line.
#[derive(Default, Debug)]
struct Tally {
    unavailable: u32,
    calls_while_down: u32,
    outage_s: Vec<f64>,
    /// Per round, from the apiserver's return: seconds until Kubernetes' own Deployment status
    /// (a raw GET) said the last revision was rolled out, and until tars said so.
    engine_s: Vec<f64>,
    tars_s: Vec<f64>,
}

/// The median and the maximum of `v`.
fn median_max(v: &[f64]) -> (f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (
        v.get(v.len() / 2).copied().unwrap_or(0.0),
        v.last().copied().unwrap_or(0.0),
    )
}

/// Kubernetes' own view: the Deployment's status says generation `generation` is rolled out
/// (observed, every replica updated and available, none of an old ReplicaSet left).
fn engine_complete(d: &K8sDeploymentObject) -> bool {
    let (Some(status), Some(spec)) = (&d.status, &d.spec) else {
        return false;
    };
    let want = spec.replicas.unwrap_or(1);
    status.observed_generation >= d.metadata.generation
        && status.updated_replicas == Some(want)
        && status.available_replicas == Some(want)
        && status.replicas == Some(want)
}

/// Kills and restarts the apiserver; returns how long it was unreachable (from the script).
async fn kill_apiserver(state: String) -> Res<f64> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/engines/k8s/kill-apiserver.sh"
    );
    let out = tokio::process::Command::new("bash")
        .args([script, state.as_str(), "0.5"])
        .output()
        .await
        .map_err(|e| format!("run {script}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!(
            "{script} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // "apiserver unreachable for 13.2s; restarted as pid N"
    text.split("for ")
        .nth(1)
        .and_then(|r| r.split('s').next())
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| format!("unexpected output of {script}: {text}"))
}

/// Applies `d`, retrying while the backend says it is unavailable (what a careful client
/// does with a retryable error), for at most two minutes. Counts the retryable failures; any
/// other error fails the test.
async fn apply_through(backend: &K8sBackend, d: &Deployment, tally: &mut Tally) -> Res<()> {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        match backend
            .deployments()
            .apply(d, ApplyOptions::default())
            .await
        {
            Ok(_) => return Ok(()),
            Err(e @ Error::Unavailable { .. }) => {
                tally.unavailable += 1;
                if Instant::now() > until {
                    return Err(format!("still unavailable after 2 minutes: {e}"));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(format!(
                    "apply during the fault: not a retryable error: {e:?}"
                ));
            }
        }
    }
}

/// Waits for the rollout of `d`'s spec to complete, tolerating the apiserver's absence.
/// Returns how long after the call Kubernetes' own status (`raw`) and tars said it was.
async fn wait_complete(
    backend: &K8sBackend,
    raw: &Api<K8sDeploymentObject>,
    rev: u32,
) -> Res<(f64, f64)> {
    let start = Instant::now();
    let until = start + Duration::from_secs(180);
    let want = deployment(rev).spec.template.spec.containers[0]
        .args
        .clone();
    let mut engine = None;
    loop {
        if engine.is_none()
            && let Ok(d) = raw.get(NAME).await
            && engine_complete(&d)
            && d.spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .and_then(|s| s.containers.first())
                .and_then(|c| c.args.as_ref())
                == Some(&want)
        {
            engine = Some(start.elapsed().as_secs_f64());
        }
        match backend.deployments().get(NAME).await {
            Ok(d)
                if d.spec.template.spec.containers[0].args == want
                    && is_deployment_complete().holds(Some(&d)) =>
            {
                let tars = start.elapsed().as_secs_f64();
                return Ok((engine.unwrap_or(tars), tars));
            }
            Ok(_) | Err(Error::Unavailable { .. }) => {}
            Err(e) => return Err(format!("get: {e:?}")),
        }
        if Instant::now() > until {
            return Err(format!("revision {rev} did not complete within 3 minutes"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn run(
    state: String,
    kubeconfig: String,
    context: Option<String>,
    rounds: u32,
) -> Res<String> {
    let client = client(&kubeconfig, context.clone()).await?;
    let namespace = format!("tars-f-{:08x}", fastrand::u32(..));
    create_namespace(&client, &namespace, BTreeMap::new()).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut config = K8sConfig::new()
        .kubeconfig(kubeconfig)
        .namespace(namespace.clone())
        .instance("faults");
    if let Some(c) = context {
        config = config.context(c);
    }
    let backend = K8sBackend::connect(config)
        .await
        .map_err(|e| e.to_string())?;

    // A watch opened before any fault: the generations it reports complete.
    let seen: Arc<Mutex<BTreeMap<u64, bool>>> = Arc::default();
    let mut events = backend
        .deployments()
        .watch(&LabelSelector::everything())
        .await
        .map_err(|e| format!("watch: {e}"))?;
    let watch_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let watcher = {
        let (seen, watch_errors) = (seen.clone(), watch_errors.clone());
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    Ok(
                        WatchEvent::Added(d) | WatchEvent::Modified(d) | WatchEvent::Existing(d),
                    ) => {
                        let complete = is_deployment_complete().holds(Some(&d));
                        let g = d.metadata.generation.unwrap_or(0);
                        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
                        let e = seen.entry(g).or_default();
                        *e |= complete;
                    }
                    Ok(_) => {}
                    Err(e) => watch_errors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(e.to_string()),
                }
            }
        })
    };

    let mut tally = Tally::default();
    let mut rev = 0;
    apply_through(&backend, &deployment(rev), &mut tally).await?;
    let raw: Api<K8sDeploymentObject> = Api::namespaced(client.clone(), &namespace);
    wait_complete(&backend, &raw, rev).await?;
    let started = Instant::now();
    for round in 0..rounds {
        // A rollout is under way when the apiserver dies: at 0–1.5 s into it.
        rev += 1;
        apply_through(&backend, &deployment(rev), &mut tally).await?;
        tokio::time::sleep(Duration::from_millis(u64::from(round * 389 % 1500))).await;
        let fault = tokio::spawn(kill_apiserver(state.clone()));
        // While it is down (the script waits 0.5 s before the restart), the next revision.
        tokio::time::sleep(Duration::from_millis(200)).await;
        rev += 1;
        let before = tally.unavailable;
        apply_through(&backend, &deployment(rev), &mut tally).await?;
        if tally.unavailable > before {
            tally.calls_while_down += 1;
        }
        tally
            .outage_s
            .push(fault.await.map_err(|e| e.to_string())??);
        let (engine, tars) = wait_complete(&backend, &raw, rev).await?;
        tally.engine_s.push(engine);
        tally.tars_s.push(tars);
    }
    let elapsed = started.elapsed();

    // The watch resumed: it reports the last generation complete.
    let last_generation = backend
        .deployments()
        .get(NAME)
        .await
        .map_err(|e| e.to_string())?
        .metadata
        .generation
        .unwrap_or(0);
    let until = Instant::now() + Duration::from_secs(30);
    while !seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&last_generation)
        .copied()
        .unwrap_or(false)
    {
        if Instant::now() > until {
            return Err(format!(
                "the watch opened before the faults never reported generation \
                 {last_generation} complete; it saw {:?}; errors {:?}",
                seen.lock().unwrap_or_else(PoisonError::into_inner),
                watch_errors.lock().unwrap_or_else(PoisonError::into_inner)
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    watcher.abort();

    // Nothing left over: the replicas of the last revision, owned, and old ReplicaSets empty.
    let want = deployment(rev).spec.template.spec.containers[0]
        .args
        .clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let list = pods
            .list(&KubeList::default())
            .await
            .map_err(|e| e.to_string())?;
        let live: Vec<&Pod> = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let current = live
            .iter()
            .filter(|p| {
                p.spec
                    .as_ref()
                    .and_then(|s| s.containers.first())
                    .and_then(|c| c.args.clone())
                    .is_some_and(|a| a == want)
            })
            .count();
        let unowned: Vec<String> = live
            .iter()
            .filter(|p| {
                p.metadata
                    .owner_references
                    .as_ref()
                    .is_none_or(Vec::is_empty)
            })
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        if !unowned.is_empty() {
            return Err(format!("pods without an owner: {unowned:?}"));
        }
        if live.len() == REPLICAS as usize && current == REPLICAS as usize {
            break;
        }
        if Instant::now() > until {
            return Err(format!(
                "{} live pods, {current} of the last revision; want exactly {REPLICAS}",
                live.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &namespace);
    let sets = sets
        .list(&KubeList::default())
        .await
        .map_err(|e| e.to_string())?;
    let busy = sets
        .items
        .iter()
        .filter(|s| s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 0)
        .count();
    if busy != 1 {
        return Err(format!("{busy} ReplicaSets with replicas; want 1"));
    }
    let deployments = backend
        .deployments()
        .list(&tars_api::api::ListParams::all())
        .await
        .map_err(|e| e.to_string())?;
    if deployments.items.len() != 1 {
        return Err(format!("{} Deployments; want 1", deployments.items.len()));
    }

    backend
        .deployments()
        .delete(NAME, DeleteOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    backend.shutdown().await.map_err(|e| e.to_string())?;
    let _ = namespaces
        .delete(&namespace, &DeleteParams::default())
        .await;

    let (outage_median, outage_max) = median_max(&tally.outage_s);
    let (engine_median, engine_max) = median_max(&tally.engine_s);
    let (tars_median, tars_max) = median_max(&tally.tars_s);
    Ok(format!(
        "{rounds} apiserver kills mid-rollout in {:.0} s: {} revisions rolled out, converged on the \
         last; {} of {rounds} applies made while it was down saw Error::Unavailable ({} retryable \
         failures in all, no other error); outage median {:.1} s (max {:.1} s); after the restart \
         the last revision was rolled out per Kubernetes' own status in median {:.1} s (max \
         {:.1} s) and per tars in median {:.1} s (max {:.1} s); the watch resumed after every \
         restart; no orphan pod, one active ReplicaSet",
        elapsed.as_secs_f64(),
        rev,
        tally.calls_while_down,
        tally.unavailable,
        outage_median,
        outage_max,
        engine_median,
        engine_max,
        tars_median,
        tars_max,
    ))
}

fn main() {
    let args = Arguments::from_args();
    let state = std::env::var(STATE_ENV).ok();
    let kubeconfig = std::env::var(KUBECONFIG_ENV).ok();
    let rounds = std::env::var(ROUNDS_ENV)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let name = "apiserver_killed_mid_rollout_converges";
    let trial = match (state, kubeconfig) {
        (Some(state), Some(kubeconfig)) => Trial::test(name, move || {
            let runtime =
                tokio::runtime::Runtime::new().map_err(|e| Failed::from(e.to_string()))?;
            let context = std::env::var(CONTEXT_ENV).ok();
            let report = runtime
                .block_on(run(state, kubeconfig, context, rounds))
                .map_err(Failed::from)?;
            println!("{report}");
            Ok(())
        }),
        _ => {
            println!(
                "not run: set {STATE_ENV} (a cluster of scripts/engines/k8s/up.sh) and \
                 {KUBECONFIG_ENV}; scripts/test does"
            );
            Trial::test(name, || Ok(())).with_ignored_flag(true)
        }
    };
    libtest_mimic::run(&args, vec![trial]).exit();
}
