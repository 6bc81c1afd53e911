//! A minimal client of Mesos' v1 operator API on the master (`POST /api/v1`, JSON), for the
//! read-only calls tars lists with and the event stream (`SUBSCRIBE`) it keeps its view of the
//! cluster from.

use crate::scheduler::{Error, MISSED_HEARTBEATS, Records, endpoint, http_client, status_error};
use crate::v1::master::{Call, CallType, Event, EventType, GetState, Response};
use crate::v1::mesos::VersionInfo;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use std::time::Duration;
use tokio::time::Instant;

/// How long one operator call may take (a call to `/api/v1` once hung here).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the event stream may take to connect, and to send `SUBSCRIBED` (the whole state of
/// the cluster: a large one takes a while).
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest event the operator stream accepts: `SUBSCRIBED` carries the whole cluster's
/// state (every task the master remembers, completed ones included).
const MAX_EVENT_SIZE: usize = 512 * 1024 * 1024;

/// The operator endpoint of one master.
#[derive(Clone)]
pub struct OperatorClient {
    http: reqwest::Client,
    /// Without a total timeout: the event stream stays open.
    stream_http: reqwest::Client,
    endpoint: Url,
}

impl std::fmt::Debug for OperatorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorClient")
            .field(
                "endpoint",
                &tars_api::redact::url_credentials(self.endpoint.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl OperatorClient {
    /// A client of the master at `master` (`host:port` or `http://host:port`).
    pub fn new(master: &str) -> Result<Self, Error> {
        Self::with_tls(master, &crate::TlsSettings::default())
    }

    /// [`Self::new`], for an `https://` master whose certificate is checked as `tls` says.
    pub fn with_tls(master: &str, tls: &crate::TlsSettings) -> Result<Self, Error> {
        let endpoint = endpoint(master, "/api/v1")?;
        let http = http_client(
            master,
            tls,
            reqwest::Client::builder().timeout(CALL_TIMEOUT),
        )?;
        let stream_http = http_client(
            master,
            tls,
            reqwest::Client::builder().connect_timeout(CALL_TIMEOUT),
        )?;
        Ok(Self {
            http,
            stream_http,
            endpoint,
        })
    }

    /// Sends `SUBSCRIBE` and returns the open event stream; its first event is `SUBSCRIBED`.
    pub async fn subscribe(&self) -> Result<OperatorEvents, Error> {
        tars_engine::metrics::count_request(crate::BACKEND, "POST");
        let response = tokio::time::timeout(
            SUBSCRIBE_TIMEOUT,
            self.stream_http
                .post(self.endpoint.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header(ACCEPT, HeaderValue::from_static("application/json"))
                .body(serde_json::to_vec(&Call::new(CallType::Subscribe))?)
                .send(),
        )
        .await
        .map_err(|_| Error::HeartbeatTimeout(SUBSCRIBE_TIMEOUT))??;
        if response.status() != StatusCode::OK {
            return Err(status_error(response).await);
        }
        Ok(OperatorEvents {
            records: Records::new(response, MAX_EVENT_SIZE),
            heartbeat_interval: None,
            last_event_at: Instant::now(),
        })
    }

    /// Sends a call without arguments and decodes the response.
    pub async fn call(&self, kind: CallType) -> Result<Response, Error> {
        tars_engine::metrics::count_request(crate::BACKEND, "POST");
        let response = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(serde_json::to_vec(&Call::new(kind))?)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if status != StatusCode::OK {
            return Err(Error::Status {
                status,
                body: String::from_utf8_lossy(&body).trim().to_owned(),
            });
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// `GET_VERSION`.
    pub async fn version(&self) -> Result<VersionInfo, Error> {
        let response = self.call(CallType::GetVersion).await?;
        response
            .get_version
            .map(|v| v.version_info)
            .ok_or_else(|| missing("get_version"))
    }

    /// `GET_STATE`.
    pub async fn state(&self) -> Result<GetState, Error> {
        let response = self.call(CallType::GetState).await?;
        response.get_state.ok_or_else(|| missing("get_state"))
    }
}

/// An open operator event stream (`SUBSCRIBE` on `/api/v1`).
#[derive(Debug)]
pub struct OperatorEvents {
    records: Records,
    heartbeat_interval: Option<Duration>,
    last_event_at: Instant,
}

impl OperatorEvents {
    /// The next event. Fails with [`Error::HeartbeatTimeout`] when nothing (not even a
    /// `HEARTBEAT`) came for [`MISSED_HEARTBEATS`] intervals (before `SUBSCRIBED`: for the
    /// subscribe timeout, 60 s), and with [`Error::StreamEnded`] when the master closes it.
    pub async fn next_event(&mut self) -> Result<Event, Error> {
        let limit = self
            .heartbeat_interval
            .map_or(SUBSCRIBE_TIMEOUT, |interval| interval * MISSED_HEARTBEATS);
        let event: Event = self.records.next(self.last_event_at + limit, limit).await?;
        self.last_event_at = Instant::now();
        if event.kind == EventType::Subscribed {
            self.heartbeat_interval = event
                .subscribed
                .as_ref()
                .and_then(|s| s.heartbeat_interval_seconds)
                .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
                .map(Duration::from_secs_f64);
        }
        Ok(event)
    }
}

/// A response without the field its type promises.
fn missing(field: &'static str) -> Error {
    Error::Json(serde::de::Error::missing_field(field))
}
