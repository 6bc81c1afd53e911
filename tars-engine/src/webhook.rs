//! [`Webhook`]: an [`EventHook`] that POSTs each event as JSON to a URL, from a bounded queue,
//! with retries — so alerting (email, phone, chat) plugs in outside the library.
//!
//! The engines never wait for it: `emit` only queues. When the queue is full the event is
//! dropped and counted (`tars_events_dropped_total`); a delivery that still fails after its
//! retries is counted too (`tars_events_failed_total`); delivered events are counted in
//! `tars_events_delivered_total`, all labelled with `event`.

use std::time::Duration;

use tars_api::events::{Event, EventHook};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The URL type [`Webhook::spawn`] takes (reqwest's).
pub use reqwest::Url;

/// How a [`Webhook`] queues and retries.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Events waiting for delivery, at most.
    pub queue: usize,
    /// Delivery attempts per event, the first included.
    pub attempts: u32,
    /// Delay before the second attempt, doubled for each further one.
    pub backoff: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    /// 1,024 queued events, 5 attempts from 200 ms, 5 s per request.
    fn default() -> Self {
        WebhookConfig {
            queue: 1024,
            attempts: 5,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
        }
    }
}

/// POSTs events to a URL. Drop it (or [`Webhook::close`]) to stop after the queue drains.
pub struct Webhook {
    tx: mpsc::Sender<Event>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").finish_non_exhaustive()
    }
}

impl Webhook {
    /// Starts delivering to `url` (inside a tokio runtime).
    pub fn spawn(url: reqwest::Url, config: WebhookConfig) -> tars_api::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| tars_api::Error::backend("webhook", e))?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(deliver(client, url, config, rx));
        Ok(Webhook { tx, task })
    }

    /// Stops taking events and waits up to `drain` for the queued ones to be delivered.
    pub async fn close(self, drain: Duration) {
        let Webhook { tx, mut task } = self;
        drop(tx);
        if tokio::time::timeout(drain, &mut task).await.is_err() {
            task.abort();
        }
    }
}

impl EventHook for Webhook {
    fn emit(&self, event: &Event) {
        if self.tx.try_send(event.clone()).is_err() {
            metrics::counter!(crate::metrics::EVENTS_DROPPED_TOTAL, "event" => event.name())
                .increment(1);
            tracing::warn!(
                event = event.name(),
                "event queue full or closed; event dropped"
            );
        }
    }
}

async fn deliver(
    client: reqwest::Client,
    url: reqwest::Url,
    config: WebhookConfig,
    mut rx: mpsc::Receiver<Event>,
) {
    while let Some(event) = rx.recv().await {
        let mut delay = config.backoff;
        let mut attempt = 1;
        loop {
            let outcome = client.post(url.clone()).json(&event).send().await;
            let error = match outcome {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("answered {}", r.status())),
                Err(e) => Some(e.to_string()),
            };
            match error {
                None => {
                    metrics::counter!(crate::metrics::EVENTS_DELIVERED_TOTAL, "event" => event.name())
                        .increment(1);
                    break;
                }
                Some(e) if attempt < config.attempts => {
                    tracing::debug!(event = event.name(), attempt, error = %e, "webhook delivery failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                Some(e) => {
                    metrics::counter!(crate::metrics::EVENTS_FAILED_TOTAL, "event" => event.name())
                        .increment(1);
                    tracing::warn!(event = event.name(), attempts = attempt, error = %e, "webhook delivery failed");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback HTTP endpoint that answers the statuses given, in order, and returns the
    /// request bodies it got. Bounded: it serves `statuses.len()` requests, then stops.
    async fn endpoint(statuses: Vec<u16>) -> (reqwest::Url, JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let mut bodies = Vec::new();
            for status in statuses {
                let (mut sock, _) = listener.accept().await.expect("accept");
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let n = sock.read(&mut chunk).await.expect("read");
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break body.to_owned();
                        }
                    }
                    assert!(n > 0, "connection closed early");
                };
                bodies.push(body);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                sock.write_all(reply.as_bytes()).await.expect("write");
            }
            bodies
        });
        (url.parse().expect("url"), task)
    }

    #[tokio::test]
    async fn events_are_posted_as_json_and_retried_after_a_failure() {
        let (url, server) = endpoint(vec![503, 200, 200]).await;
        let config = WebhookConfig {
            backoff: Duration::from_millis(10),
            ..Default::default()
        };
        let hook = Webhook::spawn(url, config).expect("spawn");
        hook.emit(&Event::RolloutFailed {
            deployment: "web".into(),
            revision: 2,
            reason: "ProgressDeadlineExceeded".into(),
        });
        hook.emit(&Event::RolloutComplete {
            deployment: "web".into(),
            revision: 1,
        });
        hook.close(Duration::from_secs(10)).await;
        let bodies = tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("served")
            .expect("server task");
        assert_eq!(bodies.len(), 3);
        assert_eq!(
            bodies[0], bodies[1],
            "the failed delivery is retried with the same event"
        );
        let first: serde_json::Value = serde_json::from_str(&bodies[0]).expect("json");
        assert_eq!(first["event"], "RolloutFailed");
        assert_eq!(first["reason"], "ProgressDeadlineExceeded");
        let second: serde_json::Value = serde_json::from_str(&bodies[2]).expect("json");
        assert_eq!(second["event"], "RolloutComplete");
    }

    #[tokio::test]
    async fn a_full_queue_drops_instead_of_blocking_the_engine() {
        // Nothing listens on this port: deliveries fail slowly while the queue fills.
        let url: reqwest::Url = "http://127.0.0.1:9/hook".parse().expect("url");
        let config = WebhookConfig {
            queue: 2,
            attempts: 1,
            ..Default::default()
        };
        let hook = Webhook::spawn(url, config).expect("spawn");
        let start = std::time::Instant::now();
        for revision in 0..100 {
            hook.emit(&Event::RolloutComplete {
                deployment: "web".into(),
                revision,
            });
        }
        assert!(start.elapsed() < Duration::from_millis(100), "emit blocked");
        hook.close(Duration::from_millis(10)).await;
    }
}
