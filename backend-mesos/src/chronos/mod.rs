//! CronJobs through an existing Chronos (its REST API, `/v1/scheduler/...`): for users who run
//! Chronos next to Mesos and want tars to manage their jobs through the same `CronJobs` API.
//!
//! Read top to bottom: [`job`] (Chronos' job JSON) → [`convert`] (tars ⇄ Chronos, pure) →
//! [`client`] (the wire) → [`api`] (the `CronJobs` impl). Selected with
//! `MesosConfig::chronos(url)`, or `mesos://HOST:5050?chronos=http://HOST:4400`.
//!
//! What Chronos cannot express is refused with `Error::Unsupported` naming the field (see
//! [`convert`]); what it cannot tell is not invented: `runs()` comes from Chronos' task history
//! (`job/stat`, which Chronos keeps only when it has Cassandra), with no exit code for a failed
//! run and no record of skipped slots.

pub mod api;
pub mod client;
pub mod convert;
pub mod job;

use std::time::Duration;

use tars_api::capability::{Capabilities, Feature};

pub use api::ChronosCronJobs;
pub use client::ChronosClient;
pub use convert::ServerSettings;

/// How to reach Chronos, and what tars must know of its configuration.
#[derive(Clone, PartialEq)]
pub struct ChronosConfig {
    /// Base URL (`http://host:4400`).
    pub url: String,
    /// Chronos' own settings that change what a job means.
    pub server: ServerSettings,
}

impl std::fmt::Debug for ChronosConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChronosConfig")
            .field("url", &client::redact(&self.url))
            .field("server", &self.server)
            .finish()
    }
}

impl ChronosConfig {
    /// The Chronos at `url`, with Chronos' default settings.
    pub fn new(url: impl Into<String>) -> Self {
        ChronosConfig {
            url: url.into(),
            server: ServerSettings::default(),
        }
    }

    /// The server's `--failure_retry` (default 60 s): the delay before every retry.
    pub fn failure_retry(mut self, delay: Duration) -> Self {
        self.server.failure_retry = delay;
        self
    }
}

/// `caps` with cron jobs served by Chronos.
pub fn capabilities(caps: Capabilities) -> Capabilities {
    caps.native(&[
        Feature::CronJobs,
        Feature::TimeZones,
        Feature::SecondsSchedules,
        Feature::Iso8601Schedules,
        Feature::Parents,
        Feature::Concurrency,
        Feature::Retries,
        Feature::Trigger,
    ])
}
