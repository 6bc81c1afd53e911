//! Objects the cases apply. They are portable: any backend able to run the `python` image (or
//! host processes with `python3` and `sh`) runs them.

use std::time::Duration;

use tars_api::group::{PortRef, Probe, ProbeAction};
use tars_api::{Container, ContainerGroup, ContainerGroupSpec};

/// The label every object of the suite carries, to find (and clean) them.
pub const SUITE_LABEL: &str = "tars-conformance";

/// The image the fixtures name.
pub const IMAGE: &str = "python:3.12-slim";

/// A container serving HTTP on its port `http`, ready when it answers.
pub fn http_server() -> Container {
    Container::new(
        "server",
        IMAGE,
        &[
            "sh",
            "-c",
            "exec python3 -m http.server \"$PORT_HTTP\" --bind 127.0.0.1",
        ],
    )
    .with_port("http", Some(8080))
    .with_readiness(
        Probe::new(ProbeAction::HttpGet {
            port: PortRef::Name("http".into()),
            path: "/".into(),
        })
        .every(Duration::from_millis(200)),
    )
}

/// A container that prints `line` once, then sleeps until stopped.
pub fn printer(name: &str, line: &str) -> Container {
    let mut c = Container::new(name, IMAGE, &["sh", "-c"]);
    c.args = vec![format!("echo {line}; while true; do sleep 1; done")];
    c
}

/// A group of a web server and a sidecar that prints `sidecar-started`.
pub fn web_group(name: &str) -> ContainerGroup {
    ContainerGroup::new(
        name,
        ContainerGroupSpec::new(vec![http_server(), printer("sidecar", "sidecar-started")]),
    )
    .with_label(SUITE_LABEL, "true")
}

/// A one-container group that prints `line` and sleeps; cheap to start and stop.
pub fn sleeper(name: &str, line: &str) -> ContainerGroup {
    let mut spec = ContainerGroupSpec::new(vec![printer("main", line)]);
    spec.termination_grace_period = Duration::from_secs(5);
    ContainerGroup::new(name, spec).with_label(SUITE_LABEL, "true")
}
