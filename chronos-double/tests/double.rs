//! The double behaves as Chronos' API documents, over HTTP.

use std::time::Duration;

use chronos_double::{ChronosDouble, DoubleConfig};
use serde_json::{Value, json};

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(d: &ChronosDouble) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: d.url(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    async fn job(&self, name: &str) -> Value {
        let (_, text) = self
            .send(reqwest::Method::GET, "/v1/scheduler/jobs", None)
            .await;
        let jobs: Vec<Value> = serde_json::from_str(&text).expect("jobs");
        jobs.into_iter()
            .find(|j| j["name"] == name)
            .expect("job listed")
    }

    async fn stat(&self, name: &str) -> Value {
        let (status, text) = self
            .send(
                reqwest::Method::GET,
                &format!("/v1/scheduler/job/stat/{name}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).expect("stat")
    }

    /// Polls `job(name)` until `done`, for at most 10 s.
    async fn until(&self, name: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let j = self.job(name).await;
            if done(&j) {
                return j;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out: {j}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn fast() -> DoubleConfig {
    DoubleConfig {
        failure_retry: Duration::from_millis(200),
        job_history_limit: 100,
        ..DoubleConfig::default()
    }
}

#[tokio::test]
async fn a_scheduled_job_runs_each_period_and_its_start_moves_on() {
    let d = ChronosDouble::start(0, fast()).await.expect("start");
    let api = Api::new(&d);
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            "/v1/scheduler/iso8601",
            Some(json!({
                "name": "tick", "command": "true", "schedule": "R3//PT1S", "epsilon": "PT5S"
            })),
        )
        .await;
    assert_eq!(status, 204);
    let j = api.until("tick", |j| j["successCount"] == 3).await;
    assert!(
        j["schedule"].as_str().is_some_and(|s| s.starts_with("R0/")),
        "{j}"
    );
    assert_eq!(j["retries"], 2, "Chronos' default");
    assert!(j["lastSuccess"].as_str().is_some_and(|s| s.ends_with('Z')));
    let stat = api.stat("tick").await;
    let history = stat["taskStatHistory"].as_array().expect("history");
    assert_eq!(history.len(), 3);
    let dues: Vec<i64> = history
        .iter()
        .map(|t| {
            t["taskId"]
                .as_str()
                .expect("id")
                .split(':')
                .nth(1)
                .expect("due")
                .parse()
                .expect("ms")
        })
        .collect();
    assert!(
        dues[0] - dues[1] == 1000 && dues[1] - dues[2] == 1000,
        "newest first, 1 s apart: {dues:?}"
    );
    assert!(history.iter().all(|t| t["status"] == "Success"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        api.job("tick").await["successCount"],
        3,
        "R3 ran more than 3 times"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_failing_task_is_retried_after_failure_retry_then_counted_once() {
    let d = ChronosDouble::start(0, fast()).await.expect("start");
    let api = Api::new(&d);
    api.send(reqwest::Method::POST, "/v1/scheduler/iso8601", Some(json!({
        "name": "flaky", "command": "exit 3", "schedule": "R/2099-01-01T00:00:00Z/P1D", "retries": 2
    })))
    .await;
    assert_eq!(
        api.send(reqwest::Method::PUT, "/v1/scheduler/job/flaky", None)
            .await
            .0,
        204
    );
    let j = api.until("flaky", |j| j["errorCount"] == 1).await;
    assert_eq!(j["successCount"], 0);
    let tasks = d.tasks();
    let attempts: Vec<&str> = tasks
        .iter()
        .map(|t| t.id.split(':').nth(2).expect("attempt"))
        .collect();
    assert_eq!(attempts, ["0", "1", "2"]);
    assert!(tasks.iter().all(|t| t.exit_code == Some(3)));
    let due = |i: usize| tasks[i].id.split(':').nth(1).map(str::to_owned);
    assert!(due(0) == due(2), "retries keep the due time");
    assert!(
        tasks[1].start.duration_since(tasks[0].end.expect("end"))
            >= jiff::SignedDuration::from_millis(190)
    );
    d.stop().await;
}

#[tokio::test]
async fn a_dependent_job_runs_once_all_parents_succeeded_since_its_last_run() {
    let d = ChronosDouble::start(0, fast()).await.expect("start");
    let api = Api::new(&d);
    for p in ["a", "b"] {
        api.send(
            reqwest::Method::POST,
            "/v1/scheduler/iso8601",
            Some(json!({
                "name": p, "command": "true", "schedule": "R/2099-01-01T00:00:00Z/P1D"
            })),
        )
        .await;
    }
    let (status, text) = api
        .send(
            reqwest::Method::POST,
            "/v1/scheduler/dependency",
            Some(json!({
                "name": "child", "command": "true", "parents": ["a", "nope"]
            })),
        )
        .await;
    assert!(status == 400 && text.contains("nope"), "{status} {text}");
    api.send(
        reqwest::Method::POST,
        "/v1/scheduler/dependency",
        Some(json!({
            "name": "child", "command": "true", "parents": ["a", "b"]
        })),
    )
    .await;
    api.send(reqwest::Method::PUT, "/v1/scheduler/job/a", None)
        .await;
    api.until("a", |j| j["successCount"] == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.job("child").await["successCount"], 0);
    api.send(reqwest::Method::PUT, "/v1/scheduler/job/b", None)
        .await;
    api.until("child", |j| j["successCount"] == 1).await;
    api.send(reqwest::Method::PUT, "/v1/scheduler/job/a", None)
        .await;
    api.until("a", |j| j["successCount"] == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        api.job("child").await["successCount"],
        1,
        "ran with one parent of two"
    );
    let (_, csv) = api
        .send(reqwest::Method::GET, "/v1/scheduler/graph/csv", None)
        .await;
    assert!(
        csv.contains("node,child,success,idle\n")
            && csv.contains("link,a,child\n")
            && csv.contains("link,b,child\n"),
        "{csv}"
    );
    d.stop().await;
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// The pid a task wrote to `dir/name`.
async fn pid_in(dir: &std::path::Path, name: &str) -> i32 {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(dir.join(name))
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no pid in {name}");
}

#[tokio::test]
async fn kill_delete_and_stop_end_every_process() {
    let dir = tempfile::tempdir().expect("dir");
    let d = ChronosDouble::start(0, fast()).await.expect("start");
    let api = Api::new(&d);
    for name in ["long-a", "long-b"] {
        let command = format!("echo $$ > {}/{name}; exec sleep 300", dir.path().display());
        api.send(
            reqwest::Method::POST,
            "/v1/scheduler/iso8601",
            Some(json!({
                "name": name, "command": command, "schedule": "R/2099-01-01T00:00:00Z/P1D",
                "disabled": true, "concurrent": true,
            })),
        )
        .await;
        assert_eq!(
            api.send(
                reqwest::Method::PUT,
                &format!("/v1/scheduler/job/{name}"),
                None
            )
            .await
            .0,
            204,
            "a manual run ignores disabled"
        );
    }
    let a = pid_in(dir.path(), "long-a").await;
    let b = pid_in(dir.path(), "long-b").await;
    assert!(alive(a) && alive(b));
    assert_eq!(
        api.send(
            reqwest::Method::DELETE,
            "/v1/scheduler/task/kill/long-a",
            None
        )
        .await
        .0,
        204
    );
    let stat = loop {
        let s = api.stat("long-a").await;
        if s["taskStatHistory"][0]["status"] != "Running" {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(stat["taskStatHistory"][0]["status"], "Fail");
    assert!(!alive(a), "killed task still alive");
    let j = api.job("long-a").await;
    assert_eq!(
        (j["errorCount"].clone(), j["successCount"].clone()),
        (json!(0), json!(0)),
        "a kill is not counted"
    );
    assert_eq!(
        api.send(reqwest::Method::DELETE, "/v1/scheduler/job/long-a", None)
            .await
            .0,
        204
    );
    let (status, text) = api
        .send(reqwest::Method::DELETE, "/v1/scheduler/job/long-a", None)
        .await;
    assert!(
        status == 400 && text.contains("not found"),
        "{status} {text}"
    );
    d.stop().await;
    assert!(!alive(b), "the double stopped, its task did not");
}

#[tokio::test]
async fn bad_jobs_are_refused_with_400_and_the_reason() {
    let d = ChronosDouble::start(0, fast()).await.expect("start");
    let api = Api::new(&d);
    for (body, needle) in [
        (json!({"name": "x", "command": "true"}), "schedule"),
        (
            json!({"name": "x y", "command": "true", "schedule": "R//PT1S"}),
            "name",
        ),
        (
            json!({"name": "x", "command": "true", "schedule": "R/2026-01-01T00:00:00Z/PT1S", "scheduleTimeZone": "Mars/Olympus"}),
            "Mars/Olympus",
        ),
        (
            json!({"name": "x", "command": "true", "schedule": "every day"}),
            "schedule",
        ),
    ] {
        let (status, text) = api
            .send(reqwest::Method::POST, "/v1/scheduler/iso8601", Some(body))
            .await;
        assert!(status == 400 && text.contains(needle), "{status} {text}");
    }
    assert_eq!(
        api.send(reqwest::Method::GET, "/v1/scheduler/jobs", None)
            .await
            .1,
        "[]"
    );
    d.stop().await;
}
