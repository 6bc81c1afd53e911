//! Task status updates as the executor sends them: fresh uuids, the state and message for a
//! process' exit.

use std::process::ExitStatus;
use std::time::{SystemTime, UNIX_EPOCH};
use tars_backend_mesos::v1::mesos::{
    ExecutorId, TaskId, TaskState, TaskStatus, TaskStatusReason, TaskStatusSource,
};

/// A fresh update uuid: 16 random bytes (a version-4 UUID, which the agent parses with
/// `UUID::fromBytes`), base64 as JSON `bytes` are.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    for byte in &mut bytes {
        *byte = fastrand::u8(..);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    base64(&bytes)
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A status of `task_id` from this executor, with a fresh uuid and the current time.
pub fn status(
    task_id: TaskId,
    executor_id: ExecutorId,
    state: TaskState,
    message: Option<String>,
    reason: Option<TaskStatusReason>,
    healthy: Option<bool>,
) -> TaskStatus {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .ok();
    TaskStatus {
        task_id,
        state,
        message,
        source: Some(TaskStatusSource::SourceExecutor),
        reason,
        data: None,
        agent_id: None,
        executor_id: Some(executor_id),
        timestamp,
        uuid: Some(new_uuid()),
        healthy,
        check_status: None,
        labels: None,
        container_status: None,
        unreachable_time: None,
        limitation: None,
    }
}

/// How a task's process ended, in Mesos' words (`WSTRINGIFY`): "Command exited with status 3",
/// "Command terminated with signal 9".
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("Command exited with status {code}"),
        (None, Some(signal)) => format!("Command terminated with signal {signal}"),
        (None, None) => format!("Command ended: {status}"),
    }
}

/// The terminal state of a task whose process ended with `status`: killed when the executor
/// was killing it, else finished on exit 0, else failed.
pub fn terminal_state(status: ExitStatus, killing: bool) -> TaskState {
    if killing {
        TaskState::TaskKilled
    } else if status.success() {
        TaskState::TaskFinished
    } else {
        TaskState::TaskFailed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, output) in cases {
            assert_eq!(base64(input.as_bytes()), output, "{input:?}");
        }
    }

    #[test]
    fn uuids_are_16_bytes_version_4_and_fresh() {
        let a = new_uuid();
        let b = new_uuid();
        assert_ne!(a, b);
        // 16 bytes → 24 base64 characters ending in "==".
        assert_eq!(a.len(), 24);
        assert!(a.ends_with("=="));
    }

    #[test]
    fn exits_map_to_states_and_mesos_messages() {
        let exit0 = ExitStatus::from_raw(0);
        let exit3 = ExitStatus::from_raw(3 << 8);
        let killed = ExitStatus::from_raw(9);
        assert_eq!(terminal_state(exit0, false), TaskState::TaskFinished);
        assert_eq!(terminal_state(exit3, false), TaskState::TaskFailed);
        assert_eq!(terminal_state(killed, false), TaskState::TaskFailed);
        assert_eq!(terminal_state(exit0, true), TaskState::TaskKilled);
        assert_eq!(terminal_state(killed, true), TaskState::TaskKilled);
        assert_eq!(describe_exit(exit3), "Command exited with status 3");
        assert_eq!(describe_exit(killed), "Command terminated with signal 9");
    }

    #[test]
    fn a_status_is_from_the_executor_with_a_uuid() {
        let s = status(
            TaskId::new("t"),
            ExecutorId::new("e"),
            TaskState::TaskRunning,
            None,
            None,
            Some(true),
        );
        assert_eq!(s.source, Some(TaskStatusSource::SourceExecutor));
        assert_eq!(s.executor_id, Some(ExecutorId::new("e")));
        assert!(s.uuid.is_some() && s.timestamp.is_some());
        assert_eq!(s.healthy, Some(true));
    }
}
