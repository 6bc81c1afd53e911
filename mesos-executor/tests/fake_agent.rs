//! The executor against a fake agent (a local HTTP server speaking the executor API): the
//! update sequence of a task, its output files, and what a re-`SUBSCRIBE` carries when the
//! stream broke before the agent acknowledged anything.
#![allow(missing_docs)]

use serde_json::{Value, json};
use std::time::Duration;
use tars_backend_mesos::recordio;
use tars_backend_mesos::v1::mesos::{ExecutorId, FrameworkId};
use tars_mesos_executor::config::Config;
use tars_mesos_executor::executor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the fake agent receives.
enum Incoming {
    /// A SUBSCRIBE, with the sender of its event stream (`None` closes it).
    Subscribe(Value, mpsc::UnboundedSender<Option<Value>>),
    /// Any other call (answered 202).
    Call(Value),
}

/// Reads one request (head and `Content-Length` body); `None` when the connection closed.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Value> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                let body: Vec<u8> = buffer.drain(..end + 4 + length).skip(end + 4).collect();
                return serde_json::from_slice(&body).ok();
            }
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn serve(mut socket: TcpStream, incoming: mpsc::UnboundedSender<Incoming>) {
    let mut buffer = Vec::new();
    while let Some(call) = read_request(&mut socket, &mut buffer).await {
        if call["type"] == "SUBSCRIBE" {
            let (tx, mut events) = mpsc::unbounded_channel();
            let _ = incoming.send(Incoming::Subscribe(call, tx));
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            while let Some(Some(event)) = events.recv().await {
                let record =
                    recordio::encode_to_bytes(&serde_json::to_vec(&event).expect("encodes"))
                        .to_vec();
                let chunk = [
                    format!("{:x}\r\n", record.len()).into_bytes(),
                    record,
                    b"\r\n".to_vec(),
                ]
                .concat();
                if socket.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = socket.write_all(b"0\r\n\r\n").await;
            return; // the stream is over: close the connection
        }
        let _ = incoming.send(Incoming::Call(call));
        let accepted = "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n";
        if socket.write_all(accepted.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn next(incoming: &mut mpsc::UnboundedReceiver<Incoming>) -> Incoming {
    tokio::time::timeout(Duration::from_secs(10), incoming.recv())
        .await
        .expect("the executor called in time")
        .expect("server running")
}

fn subscribed() -> Value {
    json!({"type": "SUBSCRIBED", "subscribed": {
        "executor_info": {"executor_id": {"value": "ex"}, "framework_id": {"value": "fw"}},
        "framework_info": {"user": "u", "name": "fw"},
        "agent_info": {"hostname": "127.0.0.1"}}})
}

type Run = tokio::task::JoinHandle<Result<i32, reqwest::Error>>;

/// Starts a fake agent and the executor against it (checkpointing: it re-subscribes).
async fn start() -> (mpsc::UnboundedReceiver<Incoming>, tempfile::TempDir, Run) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("addr").port();
    let (incoming_tx, incoming) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, incoming_tx.clone()));
        }
    });
    let sandbox = tempfile::tempdir().expect("tempdir");
    let config = Config {
        framework_id: FrameworkId::new("fw"),
        executor_id: ExecutorId::new("ex"),
        endpoint: format!("http://127.0.0.1:{port}/slave(1)/api/v1/executor"),
        sandbox: sandbox.path().to_owned(),
        checkpoint: true,
        recovery_timeout: Duration::from_secs(10),
        subscription_backoff_max: Duration::from_secs(1),
        shutdown_grace_period: Duration::from_secs(5),
        path: "/usr/bin:/bin".into(),
    };
    let executor = tokio::spawn(executor::run(config));
    (incoming, sandbox, executor)
}

fn launch_group(command: &str) -> Value {
    json!({"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": [{
        "name": "t", "task_id": {"value": "t"}, "agent_id": {"value": "a"},
        "command": {"value": command}}]}}})
}

/// The next `n` calls, which must be UPDATEs: their statuses.
async fn updates(incoming: &mut mpsc::UnboundedReceiver<Incoming>, n: usize) -> Vec<Value> {
    let mut statuses = Vec::new();
    while statuses.len() < n {
        let Incoming::Call(call) = next(incoming).await else {
            panic!("an UPDATE expected, not a SUBSCRIBE")
        };
        assert_eq!(call["type"], "UPDATE");
        statuses.push(call["update"]["status"].clone());
    }
    statuses
}

/// Acknowledges the updates of task `t` with `uuids`; the executor must then exit 0.
async fn acknowledge_all_then_exit_0(
    stream: &mpsc::UnboundedSender<Option<Value>>,
    uuids: &[Value],
    executor: Run,
) {
    for uuid in uuids {
        stream
            .send(Some(json!({"type": "ACKNOWLEDGED",
                "acknowledged": {"task_id": {"value": "t"}, "uuid": uuid}})))
            .expect("stream open");
    }
    let code = tokio::time::timeout(Duration::from_secs(10), executor)
        .await
        .expect("the executor exits once everything is acknowledged")
        .expect("joins")
        .expect("runs");
    assert_eq!(code, 0);
}

#[tokio::test]
async fn updates_are_ordered_and_resent_with_a_resubscribe_until_acknowledged() {
    let (mut incoming, sandbox, executor) = start().await;
    // First subscription: nothing to report yet.
    let Incoming::Subscribe(call, stream) = next(&mut incoming).await else {
        panic!("SUBSCRIBE first")
    };
    assert_eq!(call["executor_id"], json!({"value": "ex"}));
    assert_eq!(call["subscribe"], json!({}));
    stream.send(Some(subscribed())).expect("stream open");
    stream
        .send(Some(
            json!({"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": [{
            "name": "t", "task_id": {"value": "t"}, "agent_id": {"value": "a"},
            "command": {"value": "echo out; echo err >&2"}}]}}}),
        ))
        .expect("stream open");

    // Its updates, in order, each with its own uuid.
    let updates = updates(&mut incoming, 3).await;
    let states: Vec<_> = updates.iter().map(|s| s["state"].clone()).collect();
    assert_eq!(states, ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert_eq!(updates[2]["message"], "Command exited with status 0");
    let uuids: Vec<_> = updates.iter().map(|s| s["uuid"].clone()).collect();
    assert!(uuids[0] != uuids[1] && uuids[1] != uuids[2] && uuids[0] != uuids[2]);
    let dir = sandbox.path().join("tasks/t");
    assert_eq!(
        std::fs::read_to_string(dir.join("stdout")).expect("stdout"),
        "out\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("stderr")).expect("stderr"),
        "err\n"
    );

    // The agent goes away before acknowledging: the executor re-subscribes with all three
    // updates and the task, none of whose updates was acknowledged.
    stream.send(None).expect("stream open");
    let Incoming::Subscribe(call, stream) = next(&mut incoming).await else {
        panic!("a re-SUBSCRIBE")
    };
    let resent: Vec<_> = call["subscribe"]["unacknowledged_updates"]
        .as_array()
        .expect("unacknowledged updates")
        .iter()
        .map(|u| u["status"].clone())
        .collect();
    assert_eq!(resent, updates);
    let tasks = call["subscribe"]["unacknowledged_tasks"]
        .as_array()
        .expect("unacknowledged tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["task_id"], json!({"value": "t"}));

    // Acknowledged now: the executor is done and exits 0.
    stream.send(Some(subscribed())).expect("stream open");
    acknowledge_all_then_exit_0(&stream, &uuids, executor).await;
}

#[tokio::test]
async fn an_update_made_while_resubscribing_is_sent_once_subscribed() {
    let (mut incoming, sandbox, executor) = start().await;
    let Incoming::Subscribe(_, stream) = next(&mut incoming).await else {
        panic!("SUBSCRIBE first")
    };
    stream.send(Some(subscribed())).expect("stream open");
    // The task ends when the test says so (file `go`), and says when it ends (file `done`).
    let task = "while [ ! -e go ]; do sleep 0.02; done; touch done";
    stream.send(Some(launch_group(task))).expect("stream open");
    let first = updates(&mut incoming, 2).await;
    stream.send(None).expect("stream open");
    // The re-SUBSCRIBE carries STARTING and RUNNING; the agent answers only after the task
    // ended, so its FINISHED is in no SUBSCRIBE and must follow as an UPDATE.
    let Incoming::Subscribe(call, stream) = next(&mut incoming).await else {
        panic!("a re-SUBSCRIBE")
    };
    let resent = call["subscribe"]["unacknowledged_updates"]
        .as_array()
        .expect("unacknowledged updates")
        .len();
    assert_eq!(resent, 2);
    let dir = sandbox.path().join("tasks/t");
    std::fs::write(dir.join("go"), "").expect("go");
    for _ in 0..250 {
        if dir.join("done").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dir.join("done").exists(), "the task did not end");
    // Time for the executor to see the exit (were it slower, FINISHED would follow SUBSCRIBED
    // anyway: the test would pass without exercising the case, never fail for it).
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.send(Some(subscribed())).expect("stream open");
    let [finished] = &updates(&mut incoming, 1).await[..] else {
        unreachable!("one update")
    };
    assert_eq!(finished["state"], "TASK_FINISHED");
    let uuids: Vec<_> = first
        .iter()
        .chain([finished])
        .map(|s| s["uuid"].clone())
        .collect();
    acknowledge_all_then_exit_0(&stream, &uuids, executor).await;
}
