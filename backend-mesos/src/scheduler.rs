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
        /// The address given, its credentials hidden.
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
#[derive(Clone)]
pub struct SchedulerClient {
    http: reqwest::Client,
    endpoint: Url,
}

impl std::fmt::Debug for SchedulerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerClient")
            .field(
                "endpoint",
                &tars_api::redact::url_credentials(self.endpoint.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl SchedulerClient {
    /// A client of the master at `master`: `host:port` or an `http://host:port` URL (its path,
    /// if any, is replaced by `/api/v1/scheduler`).
    pub fn new(master: &str) -> Result<Self, Error> {
        Self::with_tls(master, &crate::TlsSettings::default())
    }

    /// [`Self::new`], for an `https://` master whose certificate is checked as `tls` says.
    pub fn with_tls(master: &str, tls: &crate::TlsSettings) -> Result<Self, Error> {
        let endpoint = endpoint(master, "/api/v1/scheduler")?;
        let http = http_client(
            master,
            tls,
            reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT),
        )?;
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
        tars_engine::metrics::count_request(crate::BACKEND, "POST");
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
            records: Records::new(response, crate::recordio::DEFAULT_MAX_RECORD_SIZE),
            caller,
            heartbeat_interval: None,
            last_event_at: Instant::now(),
        })
    }
}

/// The records of a streamed response body (RecordIO), as they arrive.
#[derive(Debug)]
pub(crate) struct Records {
    response: reqwest::Response,
    decoder: Decoder,
    pending: VecDeque<Bytes>,
}

impl Records {
    /// The records of `response`'s body, none larger than `max_record_size` bytes.
    pub(crate) fn new(response: reqwest::Response, max_record_size: usize) -> Self {
        Self {
            response,
            decoder: Decoder::with_max_record_size(max_record_size),
            pending: VecDeque::new(),
        }
    }

    /// The next record decoded as JSON. Fails with [`Error::HeartbeatTimeout`] (saying
    /// `limit`) when none is complete by `deadline` and with [`Error::StreamEnded`] when the
    /// body ends.
    pub(crate) async fn next<T: serde::de::DeserializeOwned>(
        &mut self,
        deadline: Instant,
        limit: Duration,
    ) -> Result<T, Error> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                return Ok(serde_json::from_slice(&record)?);
            }
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
}

/// An open `SUBSCRIBE` stream.
#[derive(Debug)]
pub struct Subscription {
    records: Records,
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
        let limit = self.event_timeout();
        let event: Event = self.records.next(self.last_event_at + limit, limit).await?;
        self.last_event_at = Instant::now();
        self.observe(&event);
        Ok(event)
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
        tars_engine::metrics::count_request(crate::BACKEND, "POST");
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
        address: tars_api::redact::url_credentials(master),
        reason,
    };
    let with_scheme = if master.contains("://") {
        master.to_owned()
    } else {
        format!("http://{master}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| invalid(e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
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

/// `builder` with `tls` applied, built: a client of the master at `master`.
pub(crate) fn http_client(
    master: &str,
    tls: &crate::TlsSettings,
    builder: reqwest::ClientBuilder,
) -> Result<reqwest::Client, Error> {
    Ok(tls
        .apply(builder)
        .map_err(|e| Error::InvalidAddress {
            address: tars_api::redact::url_credentials(master),
            reason: e.to_string(),
        })?
        .build()?)
}

/// The error for an unexpected response, with its body.
pub(crate) async fn status_error(response: reqwest::Response) -> Error {
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
        let url = endpoint("https://master.example:5050", "/api/v1").expect("valid");
        assert_eq!(url.as_str(), "https://master.example:5050/api/v1");
        for bad in ["ftp://m:5050", "http://", "::::"] {
            assert!(
                matches!(endpoint(bad, "/api/v1"), Err(Error::InvalidAddress { .. })),
                "{bad} accepted"
            );
        }
    }

    use crate::recordio::encode_to_bytes;
    use crate::v1::scheduler::CallType;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// Reads one HTTP/1.1 request (head and `Content-Length` body): (head, body).
    async fn read_request(socket: &mut TcpStream) -> (String, Vec<u8>) {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).into_owned();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>())
                    })
                    .map_or(0, |v| v.expect("numeric Content-Length"));
                while data.len() < end + 4 + length {
                    let n = socket.read(&mut buf).await.expect("read");
                    assert!(n > 0, "request cut short");
                    data.extend_from_slice(&buf[..n]);
                }
                return (head, data[end + 4..end + 4 + length].to_vec());
            }
            let n = socket.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed before the request head ended");
            data.extend_from_slice(&buf[..n]);
        }
    }

    /// Writes `bytes` as one HTTP chunk.
    async fn write_chunk(socket: &mut TcpStream, bytes: &[u8]) {
        let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
        socket.write_all(&out).await.expect("write");
        socket.flush().await.expect("flush");
    }

    const STREAM_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nMesos-Stream-Id: stream-1\r\n\r\n";

    #[tokio::test]
    async fn subscription_reads_events_split_across_chunks_and_calls_carry_the_stream_id() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let (head, body) = read_request(&mut stream).await;
            assert!(
                head.starts_with("POST /api/v1/scheduler HTTP/1.1"),
                "{head}"
            );
            assert!(
                head.to_ascii_lowercase()
                    .contains("accept: application/json"),
                "{head}"
            );
            let call: Call = serde_json::from_slice(&body).expect("a Call");
            assert_eq!(call.kind, CallType::Subscribe);
            stream
                .write_all(STREAM_HEAD.as_bytes())
                .await
                .expect("write");
            let mut records = encode_to_bytes(
                br#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"fw-1"},"heartbeat_interval_seconds":15}}"#,
            )
            .to_vec();
            records.extend_from_slice(&encode_to_bytes(br#"{"type":"HEARTBEAT"}"#));
            // Cut inside the first record's header and inside the second record.
            for piece in [
                &records[..1],
                &records[1..40],
                &records[40..records.len() - 3],
                &records[records.len() - 3..],
            ] {
                write_chunk(&mut stream, piece).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // Then a call on its own connection.
            let (mut call_conn, _) = listener.accept().await.expect("accept call");
            let (head, body) = read_request(&mut call_conn).await;
            assert!(
                head.to_ascii_lowercase()
                    .contains("mesos-stream-id: stream-1"),
                "{head}"
            );
            let call: Call = serde_json::from_slice(&body).expect("a Call");
            call_conn
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .await
                .expect("write");
            write_chunk(&mut stream, b"").await; // end of the stream
            call
        });

        let client = SchedulerClient::new(&address).expect("address");
        let info = FrameworkInfo {
            user: "u".into(),
            name: "n".into(),
            ..FrameworkInfo::default()
        };
        let mut subscription = client.subscribe(info).await.expect("subscribed");
        assert_eq!(subscription.stream_id(), "stream-1");
        assert_eq!(subscription.event_timeout(), FIRST_EVENT_TIMEOUT);
        let first = subscription.next_event().await.expect("first event");
        assert_eq!(first.kind, EventType::Subscribed);
        assert_eq!(subscription.framework_id(), Some(&FrameworkId::new("fw-1")));
        assert_eq!(
            subscription.heartbeat_interval(),
            Some(Duration::from_secs(15))
        );
        assert_eq!(subscription.event_timeout(), Duration::from_secs(45));
        assert_eq!(
            subscription.next_event().await.expect("heartbeat").kind,
            EventType::Heartbeat
        );

        let caller = subscription.caller();
        let framework = caller.framework_id().expect("known").clone();
        caller
            .call(&Call::teardown(framework))
            .await
            .expect("accepted");
        assert!(matches!(
            subscription.next_event().await,
            Err(Error::StreamEnded)
        ));
        let sent = server.await.expect("server");
        assert_eq!(sent, Call::teardown(FrameworkId::new("fw-1")));
    }

    #[tokio::test]
    async fn a_silent_stream_times_out_after_missed_heartbeats() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            read_request(&mut stream).await;
            stream
                .write_all(STREAM_HEAD.as_bytes())
                .await
                .expect("write");
            let subscribed = encode_to_bytes(
                br#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"fw"},"heartbeat_interval_seconds":0.05}}"#,
            );
            write_chunk(&mut stream, &subscribed).await;
            tokio::time::sleep(Duration::from_secs(5)).await; // silent, connection open
        });
        let client = SchedulerClient::new(&address).expect("address");
        let info = FrameworkInfo {
            user: "u".into(),
            name: "n".into(),
            ..FrameworkInfo::default()
        };
        let mut subscription = client.subscribe(info).await.expect("subscribed");
        subscription.next_event().await.expect("SUBSCRIBED");
        let started = Instant::now();
        match subscription.next_event().await {
            Err(Error::HeartbeatTimeout(limit)) => assert_eq!(limit, Duration::from_millis(150)),
            other => panic!("expected a heartbeat timeout, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        server.abort();
    }

    #[tokio::test]
    async fn refused_subscriptions_and_missing_stream_ids_are_errors() {
        for (response, check) in [
            (
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 24\r\n\r\nFailed to validate call\n",
                (|e: &Error| matches!(e, Error::Status { status, body } if *status == StatusCode::BAD_REQUEST && body == "Failed to validate call"))
                    as fn(&Error) -> bool,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                |e: &Error| matches!(e, Error::MissingStreamId),
            ),
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let address = listener.local_addr().expect("address").to_string();
            let server = tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.expect("accept");
                read_request(&mut stream).await;
                stream.write_all(response.as_bytes()).await.expect("write");
                stream.flush().await.expect("flush");
            });
            let client = SchedulerClient::new(&address).expect("address");
            let info = FrameworkInfo {
                user: "u".into(),
                name: "n".into(),
                ..FrameworkInfo::default()
            };
            let error = client.subscribe(info).await.expect_err("refused");
            assert!(check(&error), "{response:?} gave {error:?}");
            server.await.expect("server");
        }
    }
}
