//! The wire to the agent: the `SUBSCRIBE` stream (RecordIO events, read on a task of its own)
//! and the other calls (separate POSTs, answered `202 Accepted`), sent in order by one sender so
//! that a task's updates reach the agent in the order they were made.

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use std::time::Duration;
use tars_backend_mesos::recordio::Decoder;
use tars_backend_mesos::v1::executor::{Call, Event};
use tokio::sync::mpsc;

/// How a subscription ended (or failed to start).
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Connection or I/O error.
    #[error("request to the agent failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The agent refused the call.
    #[error("agent answered {status}: {body}")]
    Status {
        /// The status.
        status: StatusCode,
        /// Its body (the agent explains in plain text).
        body: String,
    },
    /// The stream is not valid RecordIO or JSON.
    #[error("invalid event stream: {0}")]
    Decode(String),
    /// The agent closed the stream.
    #[error("the agent closed the event stream")]
    Ended,
}

/// What the stream reader tells the executor.
#[derive(Debug)]
pub enum StreamMessage {
    /// An event of subscription `generation`.
    Event(u64, Box<Event>),
    /// Subscription `generation` is over.
    Closed(u64, StreamError),
}

/// An HTTP client for the agent's executor endpoint.
#[derive(Debug, Clone)]
pub struct Agent {
    http: reqwest::Client,
    endpoint: String,
}

impl Agent {
    /// A client of `endpoint` (`http://host:port/slave(1)/api/v1/executor`).
    pub fn new(endpoint: String) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self { http, endpoint })
    }

    /// Sends `SUBSCRIBE` and forwards the stream's events to `tx` as subscription `generation`,
    /// then how it ended. Runs until the stream ends.
    pub async fn subscribe(
        self,
        call: Call,
        generation: u64,
        tx: mpsc::UnboundedSender<StreamMessage>,
    ) {
        let end = match self.stream(&call, generation, &tx).await {
            Ok(()) => StreamError::Ended,
            Err(error) => error,
        };
        let _ = tx.send(StreamMessage::Closed(generation, end));
    }

    async fn stream(
        &self,
        call: &Call,
        generation: u64,
        tx: &mpsc::UnboundedSender<StreamMessage>,
    ) -> Result<(), StreamError> {
        let body = serde_json::to_vec(call).map_err(|e| StreamError::Decode(e.to_string()))?;
        let mut response = self
            .http
            .post(&self.endpoint)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            return Err(status_error(response).await);
        }
        let mut decoder = Decoder::new();
        while let Some(chunk) = response.chunk().await? {
            let records: Vec<Bytes> = decoder
                .decode(&chunk)
                .map_err(|e| StreamError::Decode(e.to_string()))?;
            for record in records {
                let event: Event = serde_json::from_slice(&record)
                    .map_err(|e| StreamError::Decode(e.to_string()))?;
                if tx
                    .send(StreamMessage::Event(generation, Box::new(event)))
                    .is_err()
                {
                    return Ok(()); // the executor is gone
                }
            }
        }
        Err(StreamError::Ended)
    }

    /// Sends one call; `Ok` on `202 Accepted`.
    pub async fn call(&self, call: &Call) -> Result<(), StreamError> {
        let body = serde_json::to_vec(call).map_err(|e| StreamError::Decode(e.to_string()))?;
        let response = self
            .http
            .post(&self.endpoint)
            .timeout(Duration::from_secs(10))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await?;
        match response.status() {
            StatusCode::ACCEPTED | StatusCode::OK => Ok(()),
            _ => Err(status_error(response).await),
        }
    }

    /// Sends the calls of `rx` one after the other, each retried (connection errors and 5xx)
    /// with a growing pause, at most `attempts` times: an update that still did not get through
    /// stays unacknowledged and goes with the next `SUBSCRIBE`.
    pub async fn send_in_order(self, mut rx: mpsc::UnboundedReceiver<Call>, attempts: u32) {
        while let Some(call) = rx.recv().await {
            let mut pause = Duration::from_millis(100);
            for attempt in 1..=attempts {
                match self.call(&call).await {
                    Ok(()) => break,
                    Err(StreamError::Status { status, body }) if status.is_client_error() => {
                        tracing::error!("{:?} refused: {status}: {body}", call.kind);
                        break;
                    }
                    Err(error) => {
                        tracing::warn!("{:?} attempt {attempt}/{attempts}: {error}", call.kind);
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(2));
                    }
                }
            }
        }
    }
}

async fn status_error(response: reqwest::Response) -> StreamError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    StreamError::Status {
        status,
        body: body.trim().to_owned(),
    }
}
