//! The REST endpoints, routed by method and path as Chronos' resources declare them.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use crate::state::Shared;
use crate::wire::JobDef;

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn no_content() -> Answer {
    answer(StatusCode::NO_CONTENT, "text/plain", Bytes::new())
}

/// Chronos answers a refused request (an unknown job, a bad hash) with 400 and the reason.
fn bad_request(reason: String) -> Answer {
    answer(StatusCode::BAD_REQUEST, "text/plain", reason)
}

fn json(value: &serde_json::Value) -> Answer {
    answer(StatusCode::OK, "application/json", value.to_string())
}

fn done(r: Result<(), String>) -> Answer {
    match r {
        Ok(()) => no_content(),
        Err(e) => bad_request(e),
    }
}

/// Answers one request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    leader: String,
    req: Request<Incoming>,
) -> Result<Answer, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(bad_request(format!("reading the body: {e}"))),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let post_job = |dependent: bool| -> Answer {
        let value: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return bad_request(format!("the job is not JSON: {e}")),
        };
        match JobDef::from_json(&value) {
            Ok(def) => done(shared.put_job(def, dependent)),
            Err(e) => bad_request(e),
        }
    };
    let out = match (&method, segments.as_slice()) {
        (&Method::GET, ["leader"]) => json(&serde_json::json!({ "leader": leader })),
        (&Method::GET, ["v1", "scheduler", "jobs"]) => json(&shared.jobs_json()),
        (&Method::POST, ["v1", "scheduler", "iso8601"]) => post_job(false),
        (&Method::POST, ["v1", "scheduler", "dependency"]) => post_job(true),
        (&Method::PUT, ["v1", "scheduler", "job", name]) => done(shared.run_now(name)),
        (&Method::DELETE, ["v1", "scheduler", "job", name]) => done(shared.delete_job(name)),
        (&Method::GET, ["v1", "scheduler", "job", "stat", name]) => match shared.stat_json(name) {
            Ok(v) => json(&v),
            Err(e) => bad_request(e),
        },
        (&Method::DELETE, ["v1", "scheduler", "task", "kill", name]) => {
            done(shared.kill_tasks(name))
        }
        (&Method::GET, ["v1", "scheduler", "graph", "csv"]) => {
            answer(StatusCode::OK, "text/plain", shared.graph_csv())
        }
        _ => answer(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("chronos-double does not implement {method} {path}"),
        ),
    };
    Ok(out)
}
