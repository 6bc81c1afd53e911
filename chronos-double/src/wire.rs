//! Job hashes as Chronos' REST API documents them ("Job Configuration" in `docs/docs/api.md`),
//! read field by field from what a client POSTs and written back field by field on
//! `GET /v1/scheduler/jobs`, the way Chronos' own serializer writes them.

use serde_json::{Map, Value, json};

/// What a client may set on a job; Chronos' defaults where a field is absent.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDef {
    /// `name`: `([\w\.-]+)`.
    pub name: String,
    /// `command`.
    pub command: String,
    /// `shell` (default true): run `command` through `/bin/sh -c`.
    pub shell: bool,
    /// `arguments`, used when `shell` is false.
    pub arguments: Vec<String>,
    /// `schedule`: `R[n]/start/period` (scheduled jobs).
    pub schedule: Option<String>,
    /// `scheduleTimeZone`: a tz database name.
    pub schedule_time_zone: Option<String>,
    /// `parents` (dependent jobs).
    pub parents: Vec<String>,
    /// `epsilon`: ISO 8601 duration (default: the server's task epsilon).
    pub epsilon: Option<String>,
    /// `retries` (default 2).
    pub retries: u32,
    /// `concurrent` (default false).
    pub concurrent: bool,
    /// `disabled` (default false).
    pub disabled: bool,
    /// `maxCompletionTime`, seconds (0: none).
    pub max_completion_time: u64,
    /// `cpus`, `mem`, `disk` (defaults 0.1, 128, 256).
    pub cpus: f64,
    /// Memory, MB.
    pub mem: f64,
    /// Disk, MB.
    pub disk: f64,
    /// `owner`, `ownerName`, `description`.
    pub owner: String,
    /// Name of who is responsible.
    pub owner_name: String,
    /// Free text.
    pub description: String,
    /// `container`, kept as sent (the double runs host processes; see the crate docs).
    pub container: Option<Value>,
    /// `environmentVariables`: `[{name, value}]`.
    pub environment_variables: Vec<(String, String)>,
    /// `runAsUser`.
    pub run_as_user: String,
    /// `successCount`, `errorCount`, `lastSuccess`, `lastError`, `errorsSinceLastSuccess`: read
    /// from a posted job as Chronos' deserializer does (0 and `""` when absent).
    pub counters: Counters,
}

fn string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{key} must be a string, got {other}")),
    }
}

fn boolean(m: &Map<String, Value>, key: &str, default: bool) -> Result<bool, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("{key} must be a boolean, got {other}")),
    }
}

/// Chronos' own examples send numbers as strings (`"cpus": "0.5"`); both are read.
fn number(m: &Map<String, Value>, key: &str, default: f64) -> Result<f64, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("{key}: {n}")),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| format!("{key} must be a number, got {s:?}")),
        Some(other) => Err(format!("{key} must be a number, got {other}")),
    }
}

fn strings(m: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{key} must hold strings"))
            })
            .collect(),
        Some(other) => Err(format!("{key} must be a list, got {other}")),
    }
}

/// True for a valid job name, `([\w\.-]+)`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
}

impl JobDef {
    /// Reads a posted job hash; the error is the 400 answer's text.
    pub fn from_json(value: &Value) -> Result<JobDef, String> {
        let m = value.as_object().ok_or("the job must be a JSON object")?;
        let name = string(m, "name")?.ok_or("name is required")?;
        if !valid_name(&name) {
            return Err(format!("name {name:?} must match ([\\w\\.-]+)"));
        }
        let environment_variables = match m.get("environmentVariables") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    let n = v.get("name").and_then(Value::as_str);
                    let val = v.get("value").and_then(Value::as_str);
                    match (n, val) {
                        (Some(n), Some(val)) => Ok((n.to_owned(), val.to_owned())),
                        _ => Err("environmentVariables items need a name and a value".to_owned()),
                    }
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("environmentVariables must be a list".into()),
        };
        let max = number(m, "maxCompletionTime", 0.0)?;
        Ok(JobDef {
            name,
            command: string(m, "command")?.unwrap_or_default(),
            shell: boolean(m, "shell", true)?,
            arguments: strings(m, "arguments")?,
            schedule: string(m, "schedule")?.filter(|s| !s.is_empty()),
            schedule_time_zone: string(m, "scheduleTimeZone")?.filter(|s| !s.is_empty()),
            parents: strings(m, "parents")?,
            epsilon: string(m, "epsilon")?.filter(|s| !s.is_empty()),
            retries: number(m, "retries", 2.0)? as u32,
            concurrent: boolean(m, "concurrent", false)?,
            disabled: boolean(m, "disabled", false)?,
            max_completion_time: if max > 0.0 { max as u64 } else { 0 },
            cpus: number(m, "cpus", 0.1)?,
            mem: number(m, "mem", 128.0)?,
            disk: number(m, "disk", 256.0)?,
            owner: string(m, "owner")?.unwrap_or_default(),
            owner_name: string(m, "ownerName")?.unwrap_or_default(),
            description: string(m, "description")?.unwrap_or_default(),
            container: m.get("container").filter(|v| !v.is_null()).cloned(),
            environment_variables,
            run_as_user: string(m, "runAsUser")?.unwrap_or_else(|| "root".to_owned()),
            counters: Counters {
                success_count: number(m, "successCount", 0.0)? as u64,
                error_count: number(m, "errorCount", 0.0)? as u64,
                last_success: string(m, "lastSuccess")?.unwrap_or_default(),
                last_error: string(m, "lastError")?.unwrap_or_default(),
                errors_since_last_success: number(m, "errorsSinceLastSuccess", 0.0)? as u64,
            },
        })
    }
}

/// Counters and dates Chronos keeps per job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// `successCount`.
    pub success_count: u64,
    /// `errorCount`.
    pub error_count: u64,
    /// `lastSuccess`, ISO 8601 (`""` when none).
    pub last_success: String,
    /// `lastError`, ISO 8601 (`""` when none).
    pub last_error: String,
    /// `errorsSinceLastSuccess`.
    pub errors_since_last_success: u64,
}

/// The job hash as `GET /v1/scheduler/jobs` shows it; `schedule` is the current one (its start
/// moves forward as the job runs).
pub fn to_json(def: &JobDef, counters: &Counters, schedule: Option<&str>, epsilon: &str) -> Value {
    let mut v = json!({
        "name": def.name,
        "command": def.command,
        "shell": def.shell,
        "executor": "",
        "executorFlags": "",
        "taskInfoData": "",
        "retries": def.retries,
        "owner": def.owner,
        "ownerName": def.owner_name,
        "description": def.description,
        "successCount": counters.success_count,
        "errorCount": counters.error_count,
        "lastSuccess": counters.last_success,
        "lastError": counters.last_error,
        "cpus": def.cpus,
        "disk": def.disk,
        "mem": def.mem,
        "disabled": def.disabled,
        "softError": false,
        "dataProcessingJobType": false,
        "errorsSinceLastSuccess": counters.errors_since_last_success,
        "fetch": [],
        "uris": [],
        "environmentVariables": def.environment_variables.iter()
            .map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        "arguments": def.arguments,
        "highPriority": false,
        "runAsUser": def.run_as_user,
        "concurrent": def.concurrent,
        "maxCompletionTime": def.max_completion_time,
        "constraints": [],
        "epsilon": epsilon,
    });
    if let Some(c) = &def.container {
        v["container"] = c.clone();
    }
    if def.parents.is_empty() {
        v["schedule"] = json!(schedule.unwrap_or_default());
        v["scheduleTimeZone"] = json!(def.schedule_time_zone.clone().unwrap_or_default());
    } else {
        v["parents"] = json!(def.parents);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_docker_example_reads_with_string_numbers() {
        let v = json!({
            "schedule": "R/2014-09-25T17:22:00Z/PT2M", "name": "dockerjob",
            "container": {"type": "DOCKER", "image": "libmesos/ubuntu", "network": "BRIDGE"},
            "cpus": "0.5", "mem": "512", "fetch": [], "command": "while sleep 10; do date; done"
        });
        let d = JobDef::from_json(&v).expect("job");
        assert_eq!(
            (d.cpus, d.mem, d.disk, d.retries, d.shell),
            (0.5, 512.0, 256.0, 2, true)
        );
        let out = to_json(&d, &Counters::default(), d.schedule.as_deref(), "PT60S");
        assert_eq!(out["container"]["image"], "libmesos/ubuntu");
        assert_eq!(out["successCount"], 0);
        let posted = JobDef::from_json(&json!({
            "name": "kept", "successCount": 190, "errorCount": 3, "lastError": "2014-03-01T00:10:15.957Z"
        }))
        .expect("job");
        assert_eq!(
            (posted.counters.success_count, posted.counters.error_count),
            (190, 3)
        );
        assert_eq!(posted.counters.last_error, "2014-03-01T00:10:15.957Z");
        assert!(out.get("parents").is_none());
    }

    #[test]
    fn names_follow_the_documented_pattern() {
        assert!(valid_name("db_export-airbed.v2"));
        assert!(!valid_name("a b") && !valid_name("") && !valid_name("a/b"));
        assert!(JobDef::from_json(&json!({"name": "a:b"})).is_err());
    }
}
