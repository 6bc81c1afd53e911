//! Pure translation between tars' kinds and Nova/Glance requests and responses: no I/O,
//! unit-tested.
//!
//! The model is nova-docker's: a [`ContainerGroup`](tars_api::ContainerGroup) is one Nova server.
//!
//! - **Image**: a Glance image named after the container image's `repo:tag` (`:latest` added
//!   when the reference has neither tag nor digest), `container_format` `docker`
//!   ([`image`]). A group with several containers boots from its first container's image; every
//!   container travels in `user_data`.
//! - **Flavor**: the smallest flavor that holds the summed CPU and memory of the containers
//!   ([`flavor`]); none → `Error::Unsupported` naming the need.
//! - **`user_data`**: the group (metadata and spec) as JSON, base64 ([`server`]); Nova caps it
//!   at 65535 bytes. Environment variables from secrets are refused unless the configuration
//!   allows them there.
//! - **Metadata**: the group's labels, with the ownership stamp, and tars' own keys
//!   ([`metadata`]); Nova allows only `[a-zA-Z0-9-_:. ]` in keys and 255 characters in keys and
//!   values.
//! - **Status**: Nova's server status as a group phase ([`status`]).
//! - **Spread**: the replicas of a deployment asking for one share an anti-affinity server
//!   group ([`placement`]).

pub(crate) mod flavor;
pub(crate) mod image;
pub(crate) mod metadata;
pub(crate) mod placement;
pub(crate) mod server;
pub(crate) mod status;

use tars_api::{Error, Feature};

/// Who sends the servers: the ownership stamp, and what the configuration allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// This tars instance (`tars.dev/instance`).
    pub(crate) instance: String,
    /// Whether environment variables from secrets may travel in `user_data`.
    pub(crate) secrets_in_user_data: bool,
}

/// The error for something Nova cannot express: `Unsupported` for `feature`, with the tars field
/// path first in the reason (`spec.containers[0].env[1]: ...`).
pub(crate) fn unsupported(feature: Feature, field: &str, reason: &str) -> Error {
    Error::unsupported(feature, crate::BACKEND, format!("{field}: {reason}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use tars_api::group::{Container, EnvVar, SecretRef};
    use tars_api::{ContainerGroup, ContainerGroupSpec, Cpu, Memory};

    use super::Stamp;

    pub(crate) fn stamp() -> Stamp {
        Stamp {
            instance: "billing".into(),
            secrets_in_user_data: false,
        }
    }

    /// A two-container group: web (500m, 256 MiB, port 8080) and a sidecar (250m, 64 MiB).
    pub(crate) fn group() -> ContainerGroup {
        let mut web = Container::new("web", "nginx:1.27", &["nginx", "-g", "daemon off;"])
            .with_port("http", Some(8080))
            .with_env("MODE", "prod");
        web.resources.cpu = Some(Cpu::millis(500));
        web.resources.memory = Some(Memory::mebibytes(256));
        let mut sidecar = Container::new("log", "busybox", &["tail", "-f", "/dev/null"]);
        sidecar.resources.cpu = Some(Cpu::millis(250));
        sidecar.resources.memory = Some(Memory::mebibytes(64));
        let mut g = ContainerGroup::new("web-1", ContainerGroupSpec::new(vec![web, sidecar]));
        g.metadata.labels.insert("app".into(), "web".into());
        g.metadata.generation = Some(3);
        g
    }

    pub(crate) fn with_secret(mut g: ContainerGroup) -> ContainerGroup {
        g.spec.containers[0].env.push(EnvVar::from_secret(
            "DB_PASSWORD",
            SecretRef {
                name: "db".into(),
                key: "password".into(),
            },
        ));
        g
    }
}
