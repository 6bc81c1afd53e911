//! tars' Chronos client against `chronos-double` (a test double of Chronos' REST API), without
//! a Mesos master: ownership, the endpoints jobs go to, and refusals before any call.

use std::time::Duration;

use chronos_double::{ChronosDouble, DoubleConfig};
use tars_api::api::{ApplyOptions, DeleteOptions, ListParams, ObjectApi};
use tars_api::{
    ConcurrencyPolicy, Container, ContainerGroupSpec, CronJob, CronJobSpec, CronJobs, Error,
    RestartPolicy, RunOutcome,
};
use tars_backend_mesos::chronos::{ChronosClient, ChronosCronJobs, ServerSettings};

fn job(name: &str, schedule: Option<&str>, script: &str) -> CronJob {
    let mut c = Container::new("main", "busybox", &["sh", "-c"]);
    c.args = vec![script.to_owned()];
    let mut spec = ContainerGroupSpec::new(vec![c]);
    spec.restart_policy = RestartPolicy::Never;
    CronJob::new(name, CronJobSpec::new(schedule, spec))
}

fn api(url: &str, instance: &str) -> ChronosCronJobs {
    ChronosCronJobs::new(
        ChronosClient::new(url).expect("client"),
        instance,
        ServerSettings::default(),
    )
}

async fn raw_jobs(url: &str) -> Vec<serde_json::Value> {
    reqwest::get(format!("{url}/v1/scheduler/jobs"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn tars_touches_only_its_own_jobs() {
    let double = ChronosDouble::start(0, DoubleConfig::default())
        .await
        .expect("double");
    let url = double.url();
    // A job someone created directly in Chronos.
    let status = reqwest::Client::new()
        .post(format!("{url}/v1/scheduler/iso8601"))
        .json(&serde_json::json!({
            "name": "legacy", "command": "true", "schedule": "R/2099-01-01T00:00:00Z/P1D"
        }))
        .send()
        .await
        .expect("post")
        .status();
    assert_eq!(status, 204);
    let mine = api(&url, "me");
    let theirs = api(&url, "them");
    theirs
        .apply(
            &job("their-job", Some("@daily"), "true"),
            ApplyOptions::default(),
        )
        .await
        .expect("apply");
    let names: Vec<String> = mine
        .list(&ListParams::all())
        .await
        .expect("list")
        .items
        .iter()
        .map(|o| o.name().to_owned())
        .collect();
    assert!(names.is_empty(), "listed someone else's jobs: {names:?}");
    for name in ["legacy", "their-job"] {
        match mine
            .apply(&job(name, Some("@daily"), "true"), ApplyOptions::default())
            .await
        {
            Err(Error::Conflict { .. }) => {}
            other => panic!("{name}: expected Conflict, got {other:?}"),
        }
        // Not ours to read; and what would change it says whose it is.
        assert!(matches!(mine.get(name).await, Err(Error::NotFound { .. })));
        assert!(matches!(
            mine.delete(name, DeleteOptions::default()).await,
            Err(Error::Conflict { .. })
        ));
        assert!(matches!(
            mine.trigger(name).await,
            Err(Error::Conflict { .. })
        ));
    }
    assert_eq!(
        raw_jobs(&url).await.len(),
        2,
        "a refused call changed Chronos"
    );
    double.stop().await;
}

#[tokio::test]
async fn jobs_with_parents_are_dependent_jobs_and_runs_come_from_chronos() {
    let double = ChronosDouble::start(0, DoubleConfig::default())
        .await
        .expect("double");
    let url = double.url();
    let jobs = api(&url, "me");
    jobs.apply(
        &job("extract", Some("0 0 3 * * *"), "true"),
        ApplyOptions::default(),
    )
    .await
    .expect("parent");
    let mut child = job("load", None, "exit 4");
    child.spec.parents = vec!["extract".into()];
    jobs.apply(&child, ApplyOptions::default())
        .await
        .expect("child");
    let csv = ChronosClient::new(&url)
        .expect("client")
        .graph_csv()
        .await
        .expect("graph");
    assert!(csv.lines().any(|l| l == "link,extract,load"), "{csv}");
    let raw = raw_jobs(&url).await;
    let load = raw.iter().find(|j| j["name"] == "load").expect("load");
    assert_eq!(load["parents"], serde_json::json!(["extract"]));
    assert!(load.get("schedule").is_none());
    let extract = raw
        .iter()
        .find(|j| j["name"] == "extract")
        .expect("extract");
    assert!(
        extract["schedule"]
            .as_str()
            .is_some_and(|s| s.ends_with("/P1D"))
    );
    assert_eq!(
        extract["retries"], 0,
        "Chronos' default of 2 retries must not apply"
    );
    let group = jobs.trigger("extract").await.expect("trigger");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let load_runs = loop {
        let r = jobs.runs("load").await.expect("runs");
        if r.iter().any(|r| r.outcome == RunOutcome::Failed) {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the child never failed: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(load_runs.len(), 1);
    assert_eq!(
        load_runs[0].exit_code, None,
        "Chronos keeps no exit code: none is invented"
    );
    let extract_runs = jobs.runs("extract").await.expect("runs");
    assert!(
        extract_runs[0].manual && extract_runs[0].group == group,
        "{extract_runs:?}"
    );
    let status = jobs.get("load").await.expect("get").status_or_default();
    assert_eq!((status.error_count, status.success_count), (1, 0));
    assert!(status.last_error.is_some());
    // A changed job is replaced in Chronos; its counters go with it.
    let changed = child.with_label("tier", "gold");
    jobs.apply(&changed, ApplyOptions::default())
        .await
        .expect("update");
    let after = jobs.get("load").await.expect("get");
    assert_eq!(after.metadata.generation, Some(2));
    assert_eq!(
        after.status_or_default().error_count,
        1,
        "the update lost the counters"
    );
    assert_eq!(after.status_or_default().last_error, status.last_error);
    double.stop().await;
}

#[tokio::test]
async fn delete_returns_once_the_runs_are_gone() {
    let double = ChronosDouble::start(0, DoubleConfig::default())
        .await
        .expect("double");
    let jobs = api(&double.url(), "me");
    jobs.apply(
        &job("long", Some("@yearly"), "sleep 300"),
        ApplyOptions::default(),
    )
    .await
    .expect("apply");
    jobs.trigger("long").await.expect("trigger");
    jobs.delete("long", DeleteOptions::default())
        .await
        .expect("delete");
    let tasks = double.tasks();
    assert_eq!(tasks.len(), 1);
    assert!(
        tasks[0].end.is_some(),
        "the run outlived the delete: {tasks:?}"
    );
    assert!(matches!(
        jobs.get("long").await,
        Err(Error::NotFound { .. })
    ));
    double.stop().await;
}

#[tokio::test]
async fn what_chronos_cannot_express_is_refused_before_any_call() {
    // Nothing listens here: a refusal that needed a call would be Unavailable.
    let jobs = api("http://127.0.0.1:9", "me");
    let mut replace = job("r", Some("@daily"), "true");
    replace.spec.concurrency = ConcurrencyPolicy::Replace;
    let mut uneven = job("u", Some("0 0 9 * * 1-5"), "true");
    uneven.spec.time_zone = Some("Europe/Berlin".into());
    for (j, field) in [(replace, "spec.concurrency"), (uneven, "spec.schedule")] {
        match jobs.apply(&j, ApplyOptions::default()).await {
            Err(Error::Unsupported { reason, .. }) => {
                assert!(reason.starts_with(field), "{reason}")
            }
            other => panic!("{field}: expected Unsupported, got {other:?}"),
        }
    }
    let mut bad = job("b", Some("@daily"), "true");
    bad.spec.time_zone = Some("Mars/Olympus".into());
    assert_eq!(
        jobs.apply(&bad, ApplyOptions::default())
            .await
            .err()
            .and_then(|e| e.field().map(str::to_owned)),
        Some("spec.time_zone".to_owned())
    );
    assert!(matches!(
        jobs.list(&ListParams::all()).await,
        Err(Error::Unavailable { .. })
    ));
}
