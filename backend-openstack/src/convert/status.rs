//! A Nova server (`GET /servers/{id}`) → the status of its group.
//!
//! | Nova status | phase | |
//! |---|---|---|
//! | `BUILD`, `REBUILD` | Pending | containers waiting |
//! | `ACTIVE` | Running | ready; containers running since `launched_at` |
//! | `REBOOT`, `HARD_REBOOT`, `MIGRATING`, `RESIZE`, `VERIFY_RESIZE`, `REVERT_RESIZE`, `PASSWORD` | Running | not ready while Nova works on it |
//! | `SHUTOFF` | Succeeded | the containers completed (Nova says nothing of an exit code) |
//! | `ERROR` | Failed | the message is Nova's fault message |
//! | anything else (`PAUSED`, `SUSPENDED`, `SHELVED*`, `RESCUE`, `DELETED`, `UNKNOWN`, ...) | Unknown | the message names the status |

use std::collections::BTreeMap;

use serde::Deserialize;
use tars_api::group::{Condition, ContainerState, ContainerStatus, Endpoint, Termination};
use tars_api::{ContainerGroupSpec, ContainerGroupStatus, GroupPhase};

/// The fields of a Nova server tars reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Server {
    /// The server's id.
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// `BUILD`, `ACTIVE`, `SHUTOFF`, `ERROR`, ...
    pub(crate) status: String,
    /// Metadata.
    #[serde(default)]
    pub(crate) metadata: BTreeMap<String, String>,
    /// Why it is in `ERROR`.
    #[serde(default)]
    pub(crate) fault: Option<Fault>,
    /// Addresses by network name.
    #[serde(default)]
    pub(crate) addresses: BTreeMap<String, Vec<Address>>,
    /// When Nova accepted it (`2026-11-26T16:01:29Z`).
    #[serde(default)]
    pub(crate) created: Option<String>,
    /// When it last changed.
    #[serde(default)]
    pub(crate) updated: Option<String>,
    /// When it was launched (`2026-11-26T16:01:31.000000`, UTC without an offset).
    #[serde(rename = "OS-SRV-USG:launched_at", default)]
    pub(crate) launched_at: Option<String>,
    /// The compute host (admins only).
    #[serde(rename = "OS-EXT-SRV-ATTR:host", default)]
    pub(crate) host: Option<String>,
    /// An opaque id of the host, unique per project.
    #[serde(rename = "hostId", default)]
    pub(crate) host_id: Option<String>,
    /// What Nova is doing to it (`spawning`, `deleting`, ...).
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    pub(crate) task_state: Option<String>,
}

/// A server's fault.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Fault {
    /// Nova's message (`No valid host was found. ...`).
    pub(crate) message: String,
    /// The HTTP-style code (500 for no valid host).
    #[serde(default)]
    pub(crate) code: Option<u16>,
}

/// One address of a server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Address {
    /// The address.
    pub(crate) addr: String,
    /// 4 or 6.
    pub(crate) version: u8,
}

/// A Nova timestamp, with or without an offset (Nova writes `launched_at` without one, in UTC).
pub(crate) fn timestamp(s: Option<&str>) -> Option<jiff::Timestamp> {
    let s = s?;
    s.parse::<jiff::Timestamp>().ok().or_else(|| {
        s.parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })
}

/// How long a delete may show as `deleting` before it is taken as stalled. Nova finishes a
/// delete in seconds; a server still `deleting` after this was left so by a nova-api that died
/// after it marked the server but before it handed the delete to the compute host: it stays
/// so for good. Nova ignores another DELETE of it while its host is up; the host's nova-compute
/// deletes it when it next starts (or an admin resets its state).
pub(crate) const STALLED_DELETE: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether `server` is on its way out at `now`: Nova is deleting it, and the delete is not
/// stalled (its `updated` less than [`STALLED_DELETE`] ago; a server without a readable
/// `updated` counts as going). A server on its way out is not shown as a group; a stalled one
/// is, so that whoever wants it gone deletes it again.
pub(crate) fn is_going(server: &Server, now: jiff::Timestamp) -> bool {
    if server.task_state.as_deref() != Some("deleting") {
        return false;
    }
    let Some(updated) = timestamp(server.updated.as_deref()) else {
        return true;
    };
    std::time::Duration::try_from(now.duration_since(updated))
        .map_or(true, |age| age < STALLED_DELETE)
}

/// The status of the group that `server` runs, made from `spec`.
pub(crate) fn group_status(server: &Server, spec: &ContainerGroupSpec) -> ContainerGroupStatus {
    let (phase, ready, message) = match server.status.as_str() {
        "BUILD" | "REBUILD" => (GroupPhase::Pending, false, None),
        "ACTIVE" => (GroupPhase::Running, server.task_state.is_none(), None),
        "REBOOT" | "HARD_REBOOT" | "MIGRATING" | "RESIZE" | "VERIFY_RESIZE" | "REVERT_RESIZE"
        | "PASSWORD" => (
            GroupPhase::Running,
            false,
            Some(format!("server is {}", server.status)),
        ),
        "SHUTOFF" => (GroupPhase::Succeeded, false, None),
        "ERROR" => (
            GroupPhase::Failed,
            false,
            Some(server.fault.as_ref().map_or_else(
                || "server is in ERROR (Nova gave no fault)".to_owned(),
                |f| f.message.clone(),
            )),
        ),
        other => (
            GroupPhase::Unknown,
            false,
            Some(format!("server is {other}")),
        ),
    };
    let started = timestamp(server.launched_at.as_deref()).or(timestamp(server.created.as_deref()));
    let state = match phase {
        GroupPhase::Pending => ContainerState::Waiting {
            reason: server
                .task_state
                .clone()
                .unwrap_or_else(|| server.status.clone()),
        },
        GroupPhase::Running => match started {
            Some(started_at) => ContainerState::Running { started_at },
            None => ContainerState::Waiting {
                reason: server.status.clone(),
            },
        },
        GroupPhase::Succeeded | GroupPhase::Failed => ContainerState::Terminated(Termination {
            exit_code: None,
            signal: None,
            reason: if phase == GroupPhase::Succeeded {
                "Completed".to_owned()
            } else {
                "Error".to_owned()
            },
            finished_at: timestamp(server.updated.as_deref()),
        }),
        GroupPhase::Unknown => ContainerState::Waiting {
            reason: server.status.clone(),
        },
    };
    let containers = spec
        .containers
        .iter()
        .map(|c| ContainerStatus {
            name: c.name.clone(),
            state: state.clone(),
            ready,
            restart_count: 0,
            last_termination: None,
        })
        .collect();
    ContainerGroupStatus {
        phase,
        ready,
        containers,
        endpoints: if ready {
            endpoints(server, spec)
        } else {
            Vec::new()
        },
        conditions: vec![Condition {
            type_: "Ready".to_owned(),
            status: ready,
            reason: Some(server.status.clone()),
            message: message.clone(),
            last_transition: None,
        }],
        message,
        host: server
            .host
            .clone()
            .or_else(|| server.host_id.clone())
            .filter(|h| !h.is_empty()),
    }
}

/// One endpoint per declared container port with a number, at the server's first address
/// (IPv4 first, networks by name). A server with no network has none.
fn endpoints(server: &Server, spec: &ContainerGroupSpec) -> Vec<Endpoint> {
    let mut addresses: Vec<&Address> = server.addresses.values().flatten().collect();
    addresses.sort_by_key(|a| a.version);
    let Some(address) = addresses.first() else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .flat_map(|c| {
            c.ports.iter().filter_map(|p| {
                p.container_port.map(|port| Endpoint {
                    container: c.name.clone(),
                    port_name: p.name.clone(),
                    address: address.addr.clone(),
                    port,
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::group;
    use super::*;

    /// A server as Nova 34 returns it (microversion 2.52, user tars), in `status`.
    fn server(status: &str) -> Server {
        let json = format!(
            r#"{{"id": "096c4573-fa40-4556-a111-b3b95cc6ee82", "name": "web-1", "status": "{status}",
            "tenant_id": "t", "user_id": "u", "metadata": {{"label:app": "web"}},
            "hostId": "8d6fc1a4c6e0", "image": {{"id": "i"}}, "flavor": {{"vcpus": 1}},
            "created": "2026-11-26T16:01:29Z", "updated": "2026-11-26T16:01:31Z",
            "addresses": {{}}, "accessIPv4": "", "accessIPv6": "", "links": [],
            "OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": "nova",
            "config_drive": "", "key_name": null, "OS-SRV-USG:launched_at": "2026-11-26T16:01:31.000000",
            "OS-SRV-USG:terminated_at": null, "OS-EXT-STS:task_state": null,
            "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:power_state": 1,
            "os-extended-volumes:volumes_attached": [], "locked": false,
            "description": "tars ContainerGroup web-1", "tags": ["tars"], "trusted_image_certificates": null,
            "server_groups": [], "security_groups": []}}"#
        );
        serde_json::from_str(&json).expect("server")
    }

    #[test]
    fn a_delete_is_going_until_it_stalls() {
        let updated = timestamp(Some("2026-11-26T16:01:31Z")).expect("updated");
        let at = |secs: i64| {
            updated
                .checked_add(jiff::SignedDuration::from_secs(secs))
                .expect("at")
        };
        let mut s = server("ACTIVE");
        assert!(!is_going(&s, at(1)), "no task: live");
        s.task_state = Some("deleting".into());
        assert!(is_going(&s, at(1)));
        assert!(is_going(&s, at(59)));
        assert!(
            !is_going(&s, at(60)),
            "deleting for 60 s: stalled, shown again"
        );
        assert!(!is_going(&s, at(3_600)));
        // A clock behind Nova's: the delete has just begun.
        assert!(is_going(&s, at(-5)));
        s.updated = None;
        assert!(is_going(&s, at(3_600)), "no time to judge by: going");
        s.task_state = Some("spawning".into());
        assert!(!is_going(&s, at(1)));
    }

    #[test]
    fn build_is_pending_with_containers_waiting() {
        let mut s = server("BUILD");
        s.task_state = Some("spawning".into());
        let st = group_status(&s, &group().spec);
        assert_eq!(st.phase, GroupPhase::Pending);
        assert!(!st.ready);
        assert_eq!(st.containers.len(), 2);
        assert_eq!(
            st.containers[0].state,
            ContainerState::Waiting {
                reason: "spawning".into()
            }
        );
    }

    #[test]
    fn active_is_running_and_ready_since_launch() {
        let st = group_status(&server("ACTIVE"), &group().spec);
        assert_eq!(st.phase, GroupPhase::Running);
        assert!(st.ready);
        let launched: jiff::Timestamp = "2026-11-26T16:01:31Z".parse().expect("ts");
        assert_eq!(
            st.containers[1].state,
            ContainerState::Running {
                started_at: launched
            }
        );
        assert_eq!(st.host.as_deref(), Some("8d6fc1a4c6e0"));
        assert!(st.endpoints.is_empty(), "no network, no endpoint");
        assert!(st.conditions[0].status);
    }

    #[test]
    fn active_with_an_address_lists_the_declared_ports() {
        let mut s = server("ACTIVE");
        s.addresses.insert(
            "private".into(),
            vec![
                Address {
                    addr: "fd00::5".into(),
                    version: 6,
                },
                Address {
                    addr: "10.0.0.5".into(),
                    version: 4,
                },
            ],
        );
        let st = group_status(&s, &group().spec);
        assert_eq!(
            st.endpoints,
            vec![Endpoint {
                container: "web".into(),
                port_name: "http".into(),
                address: "10.0.0.5".into(),
                port: 8080,
            }]
        );
    }

    #[test]
    fn shutoff_is_completed() {
        let st = group_status(&server("SHUTOFF"), &group().spec);
        assert_eq!(st.phase, GroupPhase::Succeeded);
        let ContainerState::Terminated(t) = &st.containers[0].state else {
            panic!("{:?}", st.containers[0].state)
        };
        assert_eq!(t.reason, "Completed");
        assert_eq!(t.exit_code, None);
    }

    #[test]
    fn error_is_failed_with_novas_fault_message() {
        let mut s = server("ERROR");
        s.fault = Some(Fault {
            message: "No valid host was found. There are not enough hosts available.".into(),
            code: Some(500),
        });
        let st = group_status(&s, &group().spec);
        assert_eq!(st.phase, GroupPhase::Failed);
        assert_eq!(
            st.message.as_deref(),
            Some("No valid host was found. There are not enough hosts available.")
        );
        s.fault = None;
        let st = group_status(&s, &group().spec);
        assert!(st.message.expect("message").contains("no fault"));
    }

    #[test]
    fn other_statuses_are_unknown_or_running_not_ready() {
        let st = group_status(&server("SUSPENDED"), &group().spec);
        assert_eq!(st.phase, GroupPhase::Unknown);
        assert_eq!(st.message.as_deref(), Some("server is SUSPENDED"));
        let st = group_status(&server("HARD_REBOOT"), &group().spec);
        assert_eq!(st.phase, GroupPhase::Running);
        assert!(!st.ready);
    }

    #[test]
    fn nova_timestamps_with_and_without_offset() {
        let a = timestamp(Some("2026-11-26T16:01:29Z")).expect("with Z");
        let b = timestamp(Some("2026-11-26T16:01:29.000000")).expect("without");
        assert_eq!(a, b);
        assert_eq!(timestamp(Some("yesterday")), None);
    }
}
