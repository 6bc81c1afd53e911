//! General checks (`TaskInfo.check`), as Mesos' checker runs them: the first after
//! `delay_seconds`, then every `interval_seconds`, each bounded by `timeout_seconds`. The result
//! is not judged: it is reported as `TaskStatus.check_status` in a `TASK_RUNNING` update whenever
//! it differs from the previous one (an empty result when a check timed out or could not run).

use crate::health::{self, Target};
use tars_backend_mesos::v1::mesos::{
    CheckInfo, CheckStatusCommand, CheckStatusHttp, CheckStatusInfo, CheckStatusTcp, CheckType,
};

/// The status before any result: the check's type and its empty result.
pub fn empty_status(check: &CheckInfo) -> CheckStatusInfo {
    let mut status = CheckStatusInfo {
        kind: check.kind,
        ..CheckStatusInfo::default()
    };
    match check.kind {
        Some(CheckType::Command) => status.command = Some(CheckStatusCommand::default()),
        Some(CheckType::Http) => status.http = Some(CheckStatusHttp::default()),
        Some(CheckType::Tcp) => status.tcp = Some(CheckStatusTcp::default()),
        _ => {}
    }
    status
}

/// Runs the check once: its result, or the empty one after the timeout (0: none).
pub async fn run(check: &CheckInfo, target: &Target) -> CheckStatusInfo {
    let timeout = check.timeout();
    let result = async {
        let mut status = empty_status(check);
        match check.kind {
            Some(CheckType::Command) => {
                if let Some(command) = &check.command {
                    let exit_code = health::command_exit_code(&command.command, target).await;
                    status.command = Some(CheckStatusCommand { exit_code });
                }
            }
            Some(CheckType::Http) => {
                if let Some(http) = &check.http {
                    let code = health::http_status("http", http.port, http.path.as_deref()).await;
                    status.http = Some(CheckStatusHttp {
                        status_code: code.map(u32::from),
                    });
                }
            }
            Some(CheckType::Tcp) => {
                if let Some(tcp) = &check.tcp {
                    let succeeded = Some(health::tcp_connects(tcp.port).await);
                    status.tcp = Some(CheckStatusTcp { succeeded });
                }
            }
            _ => {}
        }
        status
    };
    if timeout > 0.0 {
        tokio::time::timeout(health::seconds(timeout), result)
            .await
            .unwrap_or_else(|_| empty_status(check))
    } else {
        result.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tars_backend_mesos::v1::mesos::{CheckCommand, CheckTcp, CommandInfo};

    fn target() -> Target {
        Target {
            dir: std::env::temp_dir(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        }
    }

    fn command(value: &str, timeout: f64) -> CheckInfo {
        CheckInfo {
            kind: Some(CheckType::Command),
            command: Some(CheckCommand {
                command: CommandInfo {
                    value: Some(value.into()),
                    ..CommandInfo::default()
                },
            }),
            timeout_seconds: Some(timeout),
            ..CheckInfo::default()
        }
    }

    #[test]
    fn an_empty_status_has_the_type_and_an_empty_result() {
        let json = serde_json::to_value(empty_status(&command("true", 1.0))).expect("encodes");
        assert_eq!(json, serde_json::json!({"type": "COMMAND", "command": {}}));
    }

    #[tokio::test]
    async fn command_checks_report_the_exit_code_or_nothing_on_timeout() {
        let status = run(&command("exit 7", 5.0), &target()).await;
        assert_eq!(
            status.command,
            Some(CheckStatusCommand { exit_code: Some(7) })
        );
        let status = run(&command("sleep 30", 0.2), &target()).await;
        assert_eq!(status, empty_status(&command("", 1.0)));
    }

    #[tokio::test]
    async fn tcp_checks_report_whether_a_connection_opened() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let port = u32::from(listener.local_addr().expect("addr").port());
        let tcp = |port| CheckInfo {
            kind: Some(CheckType::Tcp),
            tcp: Some(CheckTcp { port }),
            timeout_seconds: Some(5.0),
            ..CheckInfo::default()
        };
        let open = run(&tcp(port), &target()).await;
        assert_eq!(
            open.tcp,
            Some(CheckStatusTcp {
                succeeded: Some(true)
            })
        );
        // A port nothing listens on and no one else can be given meanwhile: the local port of
        // a connection to the listener (a port freed by dropping a listener can be bound by
        // another process before the check connects).
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connects");
        let closed_port = u32::from(client.local_addr().expect("its address").port());
        let closed = run(&tcp(closed_port), &target()).await;
        assert_eq!(
            closed.tcp,
            Some(CheckStatusTcp {
                succeeded: Some(false)
            })
        );
    }
}
