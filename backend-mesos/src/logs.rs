//! Container output through the agent's files API (`/files/read`): the tars executor writes each
//! task's stdout and stderr into the task's directory of the executor's sandbox, which the agent
//! serves under its virtual path `/frameworks/F/executors/E/runs/latest`.

use tars_api::{Error, Result};

use crate::BACKEND;
use crate::framework::unavailable;
use crate::v1::mesos::{ExecutorId, FrameworkId, TaskId};

/// At most this much is read per request.
const CHUNK: usize = 1 << 20;
/// At most this much of a log is returned.
const LIMIT: usize = 16 << 20;

/// The virtual path of a task's stdout.
pub(crate) fn stdout_path(framework: &FrameworkId, executor: &ExecutorId, task: &TaskId) -> String {
    format!(
        "/frameworks/{}/executors/{}/runs/latest/tasks/{}/stdout",
        framework.value, executor.value, task.value
    )
}

#[derive(serde::Deserialize)]
struct Chunk {
    data: String,
}

/// The whole file at `path` on the agent at `base` (at most 16 MiB); empty when it does not
/// exist yet.
pub(crate) async fn read_all(http: &reqwest::Client, base: &str, path: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        tars_engine::metrics::count_request(crate::BACKEND, "GET");
        let response = http
            .get(format!("{base}/files/read"))
            .query(&[
                ("path", path.to_owned()),
                ("offset", out.len().to_string()),
                ("length", CHUNK.to_string()),
            ])
            .send()
            .await
            .map_err(|e| unavailable(format!("files API: {e}")))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(out);
        }
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(Error::backend(
                BACKEND,
                format!("files API answered {status}: {}", body.trim()),
            ));
        }
        let chunk: Chunk = response
            .json()
            .await
            .map_err(|e| Error::backend(BACKEND, format!("files API: {e}")))?;
        if chunk.data.is_empty() || out.len() >= LIMIT {
            return Ok(out);
        }
        out.push_str(&chunk.data);
    }
}

/// The last `n` lines of `text` (all of it when `n` is `None`).
pub(crate) fn tail(text: &str, n: Option<usize>) -> String {
    let Some(n) = n else {
        return text.to_owned();
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut out = lines[start..].join("\n");
    if text.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", Some(2)), "b\nc\n");
        assert_eq!(tail("a\nb", None), "a\nb");
        assert_eq!(tail("", Some(3)), "");
    }
}
