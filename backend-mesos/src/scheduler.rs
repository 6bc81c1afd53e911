//! A minimal client of Mesos' v1 scheduler HTTP API (`POST /api/v1/scheduler`, JSON).
//!
//! [`SchedulerClient::subscribe`] sends `SUBSCRIBE` and keeps the response open: it is the
//! framework's event stream, RecordIO-framed JSON [`Event`]s, identified by the `Mesos-Stream-Id`
//! response header. Every other call is a separate POST carrying that header, sent through the
//! [`Caller`] of the [`Subscription`]; Mesos answers `202 Accepted`.
//!
//! Heartbeats: `SUBSCRIBED` says how often the master sends `HEARTBEAT` events;
//! [`Subscription::next_event`] fails with [`Error::HeartbeatTimeout`] when nothing arrived for
//! [`MISSED_HEARTBEATS`] intervals, the sign of a dead connection (the framework then
//! re-subscribes). Reconnection with backoff, redirects to a new leading master and state
//! persistence are the caller's (a later part of the backend).

use crate::recordio::{Decoder, RecordIoError};
use crate::v1::mesos::{FrameworkId, FrameworkInfo};
use crate::v1::scheduler::{Call, Event, EventType};
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// The response header naming a subscription's stream.
pub const STREAM_ID_HEADER: &str = "Mesos-Stream-Id";

/// Heartbeat intervals without any event after which the connection is considered dead.
pub const MISSED_HEARTBEATS: u32 = 3;

/// How long to wait for the first event (`SUBSCRIBED` or `ERROR`) before the master has said
/// anything about heartbeats.
pub const FIRST_EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for a TCP connection to the master.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a non-streaming call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong talking to the master.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The master address is not usable.
    #[error("invalid Mesos master address {address:?}: {reason}")]
    InvalidAddress {
        /// The address given.
        address: String,
        /// Why.
        reason: String,
    },
    /// The request failed (connection, I/O, timeout of a call).
    #[error("request to the Mesos master failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The master answered with an unexpected status.
    #[error("Mesos master answered {status}: {body}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The response body (Mesos explains errors in plain text).
        body: String,
    },
    /// The `SUBSCRIBE` response had no usable `Mesos-Stream-Id` header.
    #[error("SUBSCRIBE response without a Mesos-Stream-Id header")]
    MissingStreamId,
    /// The event stream is not valid RecordIO.
    #[error(transparent)]
    RecordIo(#[from] RecordIoError),
    /// A record is not a valid event, or a call could not be encoded.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// No event (not even a heartbeat) arrived in time.
    #[error("no event from the Mesos master for {0:?}")]
    HeartbeatTimeout(Duration),
    /// The master closed the event stream.
    #[error("the Mesos master closed the event stream")]
    StreamEnded,
    /// A call needs the framework id, which `SUBSCRIBED` has not given yet.
    #[error("not subscribed yet: no framework id")]
    NotSubscribed,
}

/// The scheduler endpoint of one master.
#[derive(Debug, Clone)]
pub struct SchedulerClient {
    http: reqwest::Client,
    endpoint: Url,
}

impl SchedulerClient {
    /// A client of the master at `master`: `host:port` or an `http://host:port` URL (its path,
    /// if any, is replaced by `/api/v1/scheduler`).
    pub fn new(master: &str) -> Result<Self, Error> {
        let endpoint = endpoint(master, "/api/v1/scheduler")?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        Ok(Self { http, endpoint })
    }

    /// The URL calls go to.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Sends `SUBSCRIBE` for `framework_info` (with its `id` set to fail over to an existing
    /// framework) and returns the open event stream. The first event is `SUBSCRIBED` or `ERROR`.
    pub async fn subscribe(&self, framework_info: FrameworkInfo) -> Result<Subscription, Error> {
        let call = Call::subscribe(framework_info);
        let response = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(serde_json::to_vec(&call)?)
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            return Err(status_error(response).await);
        }
        let stream_id = response
            .headers()
            .get(STREAM_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .ok_or(Error::MissingStreamId)?
            .to_owned();
        // Calls go where the subscription ended up (after a redirect to the leading master).
        let caller = Caller {
            http: self.http.clone(),
            endpoint: response.url().clone(),
            stream_id,
            framework_id: call.framework_id,
        };
        Ok(Subscription {
            response,
            decoder: Decoder::new(),
            pending: VecDeque::new(),
            caller,
            heartbeat_interval: None,
            last_event_at: Instant::now(),
        })
    }
}

/// An open `SUBSCRIBE` stream.
#[derive(Debug)]
pub struct Subscription {
    response: reqwest::Response,
    decoder: Decoder,
    pending: VecDeque<Bytes>,
    caller: Caller,
    heartbeat_interval: Option<Duration>,
    last_event_at: Instant,
}

impl Subscription {
    /// The value of `Mesos-Stream-Id`.
    pub fn stream_id(&self) -> &str {
        &self.caller.stream_id
    }

    /// The framework's id, once `SUBSCRIBED` arrived (or from the `FrameworkInfo` when failing
    /// over).
    pub fn framework_id(&self) -> Option<&FrameworkId> {
        self.caller.framework_id.as_ref()
    }

    /// The heartbeat interval `SUBSCRIBED` announced.
    pub fn heartbeat_interval(&self) -> Option<Duration> {
        self.heartbeat_interval
    }

    /// When the last event (of any type) arrived.
    pub fn last_event_at(&self) -> Instant {
        self.last_event_at
    }

    /// How long [`next_event`](Self::next_event) waits: [`MISSED_HEARTBEATS`] heartbeat
    /// intervals, or [`FIRST_EVENT_TIMEOUT`] before `SUBSCRIBED`.
    pub fn event_timeout(&self) -> Duration {
        self.heartbeat_interval
            .map_or(FIRST_EVENT_TIMEOUT, |interval| interval * MISSED_HEARTBEATS)
    }

    /// A handle for sending calls on this subscription (cheap to clone; valid while the stream
    /// is open).
    pub fn caller(&self) -> Caller {
        self.caller.clone()
    }

    /// The next event. Updates the framework id and heartbeat interval on `SUBSCRIBED`. Fails
    /// with [`Error::HeartbeatTimeout`] when the stream is silent for too long and with
    /// [`Error::StreamEnded`] when the master closes it.
    pub async fn next_event(&mut self) -> Result<Event, Error> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                let event: Event = serde_json::from_slice(&record)?;
                self.last_event_at = Instant::now();
                self.observe(&event);
                return Ok(event);
            }
            let limit = self.event_timeout();
            let deadline = self.last_event_at + limit;
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .map_err(|_| Error::HeartbeatTimeout(limit))??;
            match chunk {
                Some(chunk) => self.pending.extend(self.decoder.decode(&chunk)?),
                None => {
                    self.decoder.finish()?;
                    return Err(Error::StreamEnded);
                }
            }
        }
    }

    /// Takes what `SUBSCRIBED` says about the subscription.
    fn observe(&mut self, event: &Event) {
        if event.kind != EventType::Subscribed {
            return;
        }
        if let Some(subscribed) = &event.subscribed {
            self.caller.framework_id = Some(subscribed.framework_id.clone());
            self.heartbeat_interval = subscribed
                .heartbeat_interval_seconds
                .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
                .map(Duration::from_secs_f64);
        }
    }
}

/// Sends calls on a subscription: each one a POST with its `Mesos-Stream-Id`.
#[derive(Debug, Clone)]
pub struct Caller {
    http: reqwest::Client,
    endpoint: Url,
    stream_id: String,
    framework_id: Option<FrameworkId>,
}

impl Caller {
    /// The framework's id, if known when this handle was taken.
    pub fn framework_id(&self) -> Result<&FrameworkId, Error> {
        self.framework_id.as_ref().ok_or(Error::NotSubscribed)
    }

    /// Sends `call` (built with the [`Call`] constructors and [`framework_id`](Self::framework_id)).
    /// Succeeds when Mesos accepts it (`202 Accepted`, or `200 OK`); that it then acts on it is
    /// seen in events.
    pub async fn call(&self, call: &Call) -> Result<(), Error> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .timeout(CALL_TIMEOUT)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(STREAM_ID_HEADER, self.stream_id.as_str())
            .body(serde_json::to_vec(call)?)
            .send()
            .await?;
        match response.status() {
            StatusCode::ACCEPTED | StatusCode::OK => Ok(()),
            _ => Err(status_error(response).await),
        }
    }
}

/// The URL of `path` on the master at `master` (`host:port` or `http://host:port`).
pub(crate) fn endpoint(master: &str, path: &str) -> Result<Url, Error> {
    let invalid = |reason: String| Error::InvalidAddress {
        address: master.to_owned(),
        reason,
    };
    let with_scheme = if master.contains("://") {
        master.to_owned()
    } else {
        format!("http://{master}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| invalid(e.to_string()))?;
    if url.scheme() != "http" {
        // TLS needs a real OpenSSL in libmesos, which the Mesos run here does not have.
        return Err(invalid(format!("scheme {} is not supported", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    url.set_path(path);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The error for an unexpected response, with its body.
async fn status_error(response: reqwest::Response) -> Error {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    Error::Status {
        status,
        body: body.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_host_port_or_url() {
        let url = endpoint("127.0.0.1:5050", "/api/v1/scheduler").expect("valid");
        assert_eq!(url.as_str(), "http://127.0.0.1:5050/api/v1/scheduler");
        let url = endpoint("http://master.example:5151/x?y#z", "/api/v1").expect("valid");
        assert_eq!(url.as_str(), "http://master.example:5151/api/v1");
        for bad in ["https://m:5050", "http://", "::::"] {
            assert!(
                matches!(endpoint(bad, "/api/v1"), Err(Error::InvalidAddress { .. })),
                "{bad} accepted"
            );
        }
    }
}
