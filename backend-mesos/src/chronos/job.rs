//! Chronos' job JSON, field by field as its REST API documents it (`docs/docs/api.md`, "Job
//! Configuration") and as its serializer writes it: what tars sends to `/v1/scheduler/iso8601`
//! and `/v1/scheduler/dependency`, and what `/v1/scheduler/jobs` returns.
//!
//! Fields tars does not use are kept on reading (`extra`) and not sent. The counters and dates
//! are Chronos' own; Chronos also reads them from a posted job (its `JobDeserializer`), so tars
//! sends back the current ones when it replaces a job, which would otherwise restart them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One Chronos job (scheduled: `schedule` set; dependent: `parents` set).
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChronosJob {
    /// The job name, `([\w\.-]+)`.
    pub name: String,
    /// The command; with `shell` run as `/bin/sh -c <command>`.
    #[serde(default)]
    pub command: String,
    /// Run `command` through `/bin/sh -c` (Chronos' default: true).
    #[serde(default = "yes")]
    pub shell: bool,
    /// Arguments when `shell` is false.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
    /// ISO 8601 repeating interval `R[n]/start/period`; absent on a dependent job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// tz database name the schedule is read in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_time_zone: Option<String>,
    /// Parent jobs of a dependent job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    /// How late a missed run may still start (ISO 8601 duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<String>,
    /// Retries after a non-zero exit (Chronos' default: 2).
    #[serde(default = "two")]
    pub retries: u32,
    /// Whether runs may overlap (default false).
    #[serde(default)]
    pub concurrent: bool,
    /// A disabled job is not run.
    #[serde(default)]
    pub disabled: bool,
    /// Seconds a run may take before Mesos kills it (0: no limit).
    #[serde(default)]
    pub max_completion_time: u64,
    /// Mesos CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Mesos memory, MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<f64>,
    /// Mesos disk, MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<f64>,
    /// Notification e-mail addresses.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    /// Name of who is responsible for the job.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner_name: String,
    /// Free text; tars keeps its stamp and the object here (see `convert`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The container (`type`, `image`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ChronosContainer>,
    /// Environment of the task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Runs that succeeded since the job was last modified (Chronos sets it).
    #[serde(default)]
    pub success_count: u64,
    /// Runs that failed since the job was last modified (Chronos sets it).
    #[serde(default)]
    pub error_count: u64,
    /// Date of the last success, ISO 8601, `""` when none (Chronos sets it).
    #[serde(default)]
    pub last_success: String,
    /// Date of the last failure, ISO 8601, `""` when none (Chronos sets it).
    #[serde(default)]
    pub last_error: String,
    /// Fields tars does not interpret (`executor`, `fetch`, `constraints`, ...).
    #[serde(flatten, skip_serializing)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl std::fmt::Debug for ChronosJob {
    // The command, the environment and the description (which carries the tars spec, its
    // environment included) may hold what a user considers secret: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChronosJob")
            .field("name", &self.name)
            .field("schedule", &self.schedule)
            .field("schedule_time_zone", &self.schedule_time_zone)
            .field("parents", &self.parents)
            .field("retries", &self.retries)
            .field("concurrent", &self.concurrent)
            .field("disabled", &self.disabled)
            .field("owner_name", &self.owner_name)
            .field("environment_variables", &self.environment_variables)
            .field("success_count", &self.success_count)
            .field("error_count", &self.error_count)
            .finish_non_exhaustive()
    }
}

fn yes() -> bool {
    true
}

fn two() -> u32 {
    2
}

/// `container` of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChronosContainer {
    /// `DOCKER` or `MESOS`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The image.
    pub image: String,
    /// Pull the image before every run.
    #[serde(default)]
    pub force_pull_image: bool,
}

/// One of `environmentVariables`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentVariable {
    /// Variable name.
    pub name: String,
    /// Its value.
    pub value: String,
}

impl std::fmt::Debug for EnvironmentVariable {
    // Values may be credentials a user put in the environment: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentVariable")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// `GET /v1/scheduler/job/stat/{name}`: duration percentiles and the task history Chronos
/// keeps (in Cassandra; empty when Chronos runs without it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobStat {
    /// Run duration statistics.
    #[serde(default)]
    pub histogram: serde_json::Value,
    /// Recent tasks, newest first.
    #[serde(default)]
    pub task_stat_history: Vec<TaskStat>,
}

/// One task in [`JobStat::task_stat_history`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStat {
    /// `ct:<due ms>:<attempt>:<job>:<arguments>`.
    pub task_id: String,
    /// The job's name.
    pub job_name: String,
    /// The agent that ran it.
    #[serde(default)]
    pub slave_id: String,
    /// `MM/dd/yy HH:mm:ss` (UTC), or `N/A`.
    #[serde(default)]
    pub start_time: String,
    /// `MM/dd/yy HH:mm:ss` (UTC), or `N/A` while running.
    #[serde(default)]
    pub end_time: String,
    /// Run time as `1d2h3m4s`, once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// `Success`, `Fail`, `Running` or `Idle`.
    pub status: String,
}

/// A parsed Chronos task id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskId<'a> {
    /// The due time, ms since the epoch.
    pub due_ms: i64,
    /// 0 for the first attempt.
    pub attempt: u32,
    /// The job's name.
    pub job: &'a str,
}

impl<'a> TaskId<'a> {
    /// Parses `ct:<due>:<attempt>:<job>[:<arguments>]`.
    pub fn parse(id: &'a str) -> Option<Self> {
        let rest = id.strip_prefix("ct:")?;
        let mut parts = rest.splitn(3, ':');
        let due_ms = parts.next()?.parse().ok()?;
        let attempt = parts.next()?.parse().ok()?;
        let tail = parts.next()?;
        // Job names cannot hold ':' (`[\w.-]+`), so the job ends at the first one.
        let job = tail.split(':').next()?;
        (!job.is_empty()).then_some(TaskId {
            due_ms,
            attempt,
            job,
        })
    }

    /// Formats a task id as Chronos does (`ct:%d:%d:%s:%s`).
    pub fn format(due_ms: i64, attempt: u32, job: &str, arguments: &str) -> String {
        format!("ct:{due_ms}:{attempt}:{job}:{arguments}")
    }
}

/// The `MM/dd/yy HH:mm:ss` format of task statistics.
pub const STAT_TIME_FORMAT: &str = "%m/%d/%y %H:%M:%S";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_sample_job_reads_field_by_field() {
        let text = r#"{
          "name": "camus_kafka2hdfs", "command": "/srv/job.bash", "arguments": ["-verbose"],
          "shell": false, "epsilon": "PT30M", "executor": "", "executorFlags": "",
          "retries": 2, "owner": "bofh@example.com", "async": false, "successCount": 190,
          "errorCount": 3, "lastSuccess": "2014-03-08T16:57:17.507Z",
          "lastError": "2014-03-01T00:10:15.957Z", "cpus": 1.0, "disk": 10240, "mem": 1024,
          "disabled": false, "schedule": "R/2014-03-08T20:00:00.000Z/PT2H",
          "environmentVariables": [{"name": "JVMOPTS", "value": "-Xmx1000m"}]
        }"#;
        let job: ChronosJob = serde_json::from_str(text).expect("parse");
        assert_eq!(job.name, "camus_kafka2hdfs");
        assert!(!job.shell);
        assert_eq!(job.arguments, ["-verbose"]);
        assert_eq!(job.success_count, 190);
        assert_eq!(job.error_count, 3);
        assert_eq!(job.disk, Some(10240.0));
        assert_eq!(job.environment_variables[0].value, "-Xmx1000m");
        assert!(job.extra.contains_key("executor"));
        // Counters go back (a replaced job keeps them); fields tars does not know do not.
        let sent = serde_json::to_value(&job).expect("serialize");
        assert_eq!(sent["successCount"], 190);
        assert!(sent.get("executor").is_none());
        let debug = format!("{job:?}");
        assert!(
            !debug.contains("Xmx1000m") && !debug.contains("job.bash"),
            "{debug}"
        );
    }

    #[test]
    fn task_ids_parse_as_chronos_formats_them() {
        let id = TaskId::format(1428515194358, 2, "NewJob", "");
        assert_eq!(id, "ct:1428515194358:2:NewJob:");
        let t = TaskId::parse(&id).expect("parse");
        assert_eq!((t.due_ms, t.attempt, t.job), (1428515194358, 2, "NewJob"));
        assert_eq!(TaskId::parse("ct:1:0:job").map(|t| t.job), Some("job"));
        assert_eq!(TaskId::parse("mesos-task-1"), None);
    }
}
