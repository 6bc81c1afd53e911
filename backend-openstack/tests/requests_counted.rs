//! Every HTTP request backend-openstack sends to OpenStack's services is counted in
//! `tars_backend_requests_total{backend="openstack"}`: a group's create sends its server (a
//! POST) and looks at it until it is built (GETs), an apply that changes nothing only reads, and
//! a delete is a DELETE.
//!
//! Runs only when `TARS_OS_CLOUDS` names a cloud (scripts/test starts one); otherwise it is
//! reported as ignored (not run), never as passed.

mod cloud;

use std::collections::BTreeMap;

use libtest_mimic::{Arguments, Failed, Trial};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tars_api::api::{ApplyOptions, Change, DeleteOptions};
use tars_api::{Backend, Container, ContainerGroup, ContainerGroupSpec};
use tars_backend_openstack::{OpenStackBackend, OpenStackConfig};
use tars_engine::metrics::BACKEND_REQUESTS_TOTAL;

type Res<T> = Result<T, String>;

/// Requests counted since the last call, by method (the recorder's counters start again at 0).
fn requests(snapshotter: &Snapshotter) -> Res<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key().clone();
        if key.name() != BACKEND_REQUESTS_TOTAL {
            continue;
        }
        let label = |k: &str| {
            key.labels()
                .find(|l| l.key() == k)
                .map(|l| l.value().to_owned())
        };
        if label("backend").as_deref() != Some("openstack") {
            return Err(format!("{key:?}: not the openstack backend"));
        }
        let DebugValue::Counter(n) = value else {
            return Err(format!("{key:?} is not a counter"));
        };
        if n > 0 {
            out.insert(label("method").unwrap_or_default(), n);
        }
    }
    Ok(out)
}

async fn exercise(backend: &OpenStackBackend, snapshotter: &Snapshotter) -> Res<()> {
    let groups = backend.container_groups();
    let mut spec =
        ContainerGroupSpec::new(vec![Container::new("main", "busybox", &["sleep", "3600"])]);
    spec.termination_grace_period = std::time::Duration::from_secs(1);
    let group = ContainerGroup::new("counted", spec);
    requests(snapshotter)?;
    let created = groups
        .apply(&group, ApplyOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    if !matches!(created.change, Change::Created) {
        return Err(format!("first apply: {:?}", created.change));
    }
    let sent = requests(snapshotter)?;
    if sent.get("POST").copied().unwrap_or(0) < 1 || sent.get("GET").copied().unwrap_or(0) < 1 {
        return Err(format!("creating a server: {sent:?}, not a POST and GETs"));
    }
    let again = groups
        .apply(&group, ApplyOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    if !matches!(again.change, Change::Unchanged) {
        return Err(format!("second apply: {:?}", again.change));
    }
    let sent = requests(snapshotter)?;
    if sent.keys().any(|m| m != "GET") {
        return Err(format!(
            "an apply that changes nothing should only read: {sent:?}"
        ));
    }
    groups
        .delete("counted", DeleteOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let sent = requests(snapshotter)?;
    if sent.get("DELETE").copied().unwrap_or(0) < 1 {
        return Err(format!("deleting a server: {sent:?}, no DELETE"));
    }
    Ok(())
}

fn run(clouds: &str) -> Res<()> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .map_err(|_| "a metrics recorder is installed already".to_owned())?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = OpenStackConfig::from_clouds_yaml(clouds, "tars")
        .map_err(|e| e.to_string())?
        .instance(format!("counted{:06x}", fastrand::u32(..0xff_ffff)))
        .state_dir(state.path());
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let backend = OpenStackBackend::connect(config)
            .await
            .map_err(|e| e.to_string())?;
        let checked = exercise(&backend, &snapshotter).await;
        let _ = backend
            .container_groups()
            .delete("counted", DeleteOptions::default())
            .await;
        let _ = backend.shutdown().await;
        checked
    })
}

fn main() {
    let args = Arguments::from_args();
    let name = "the_requests_of_a_server_are_counted";
    let trial = match cloud::clouds() {
        Ok(clouds) => Trial::test(name, move || run(&clouds).map_err(Failed::from)),
        Err(why) => {
            eprintln!("{why}: not run");
            Trial::test(name, || Ok(())).with_ignored_flag(true)
        }
    };
    libtest_mimic::run(&args, vec![trial]).exit()
}
