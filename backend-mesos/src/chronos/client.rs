//! The wire: Chronos' REST API over reqwest, one method per documented endpoint.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use tars_api::{Error, Result};

use super::convert::BACKEND;
use super::job::{ChronosJob, JobStat};

/// A Chronos REST client.
#[derive(Clone)]
pub struct ChronosClient {
    base: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for ChronosClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChronosClient")
            .field("base", &redact(&self.base))
            .finish()
    }
}

/// `url` without the credentials it may carry (`http://user:secret@host` → `http://***@host`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// What a failed call tells.
#[derive(Debug)]
pub enum Failure {
    /// Chronos answered 404 or said the job does not exist (400 "not found").
    NotFound,
    /// Any other failure, as a tars error.
    Other(Error),
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        match f {
            Failure::NotFound => Error::backend(BACKEND, "Chronos: no such job"),
            Failure::Other(e) => e,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("Chronos answered {status} to {method} {path}: {body}")]
struct Refused {
    status: StatusCode,
    method: Method,
    path: String,
    body: String,
}

impl ChronosClient {
    /// A client of the Chronos at `base` (`http://host:4400`).
    pub fn new(base: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::backend(BACKEND, e))?;
        Ok(ChronosClient {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&ChronosJob>,
    ) -> Result<bytes::Bytes, Failure> {
        let url = format!("{}{path}", self.base);
        tars_engine::metrics::count_request(crate::BACKEND, method.as_str());
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| {
            // The error's text holds the URL; never its credentials.
            Failure::Other(Error::Unavailable {
                backend: BACKEND.to_owned(),
                reason: format!(
                    "Chronos at {}: {}",
                    redact(&self.base),
                    if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "connection failed"
                    } else {
                        "request failed"
                    }
                ),
            })
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            Failure::Other(Error::Unavailable {
                backend: BACKEND.to_owned(),
                reason: format!("Chronos: reading the answer: {}", e.without_url()),
            })
        })?;
        if status.is_success() {
            return Ok(bytes);
        }
        let text = String::from_utf8_lossy(&bytes)
            .chars()
            .take(500)
            .collect::<String>();
        if status == StatusCode::NOT_FOUND
            || (status == StatusCode::BAD_REQUEST && text.to_lowercase().contains("not found"))
        {
            return Err(Failure::NotFound);
        }
        let refused = Refused {
            status,
            method,
            path: path.to_owned(),
            body: text,
        };
        Err(Failure::Other(if status.is_server_error() {
            Error::Unavailable {
                backend: BACKEND.to_owned(),
                reason: refused.to_string(),
            }
        } else {
            Error::backend(BACKEND, refused)
        }))
    }

    /// `GET /v1/scheduler/jobs`: every job.
    pub async fn jobs(&self) -> Result<Vec<ChronosJob>> {
        let bytes = self.call(Method::GET, "/v1/scheduler/jobs", None).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::backend(BACKEND, e))
    }

    /// `POST /v1/scheduler/iso8601` (a scheduled job) or `/v1/scheduler/dependency` (a job
    /// with parents): creates or replaces the job of that name.
    pub async fn put_job(&self, job: &ChronosJob) -> Result<()> {
        let path = if job.parents.is_empty() {
            "/v1/scheduler/iso8601"
        } else {
            "/v1/scheduler/dependency"
        };
        self.call(Method::POST, path, Some(job)).await?;
        Ok(())
    }

    /// `PUT /v1/scheduler/job/{name}`: runs the job now.
    pub async fn run_job(&self, name: &str) -> Result<(), Failure> {
        self.call(Method::PUT, &format!("/v1/scheduler/job/{name}"), None)
            .await
            .map(drop)
    }

    /// `DELETE /v1/scheduler/job/{name}`.
    pub async fn delete_job(&self, name: &str) -> Result<(), Failure> {
        self.call(Method::DELETE, &format!("/v1/scheduler/job/{name}"), None)
            .await
            .map(drop)
    }

    /// `DELETE /v1/scheduler/task/kill/{name}`: kills the job's running tasks.
    pub async fn kill_tasks(&self, name: &str) -> Result<(), Failure> {
        self.call(
            Method::DELETE,
            &format!("/v1/scheduler/task/kill/{name}"),
            None,
        )
        .await
        .map(drop)
    }

    /// `GET /v1/scheduler/job/stat/{name}`: duration statistics and task history.
    pub async fn stat(&self, name: &str) -> Result<JobStat, Failure> {
        let bytes = self
            .call(Method::GET, &format!("/v1/scheduler/job/stat/{name}"), None)
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| Failure::Other(Error::backend(BACKEND, e)))
    }

    /// `GET /v1/scheduler/graph/csv`: one `node,<name>,<state>,<status>` line per job and one
    /// `link,<parent>,<child>` line per dependency.
    pub async fn graph_csv(&self) -> Result<String> {
        let bytes = self
            .call(Method::GET, "/v1/scheduler/graph/csv", None)
            .await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_leave_through_debug() {
        assert_eq!(
            redact("http://admin:hunter2@chronos:4400"),
            "http://***@chronos:4400"
        );
        assert_eq!(redact("http://chronos:4400/x@y"), "http://chronos:4400/x@y");
        let c = ChronosClient::new("http://admin:hunter2@chronos:4400").expect("client");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
