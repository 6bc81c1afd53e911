//! What the integration tests against a real Mesos share: a test framework (offers kept,
//! updates acknowledged and recorded), task specs, process and sandbox probes.
#![allow(dead_code, missing_docs, unreachable_pub)] // shared by test binaries, each using a part

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tars_backend_mesos::scheduler::{Caller, SchedulerClient, Subscription};
use tars_backend_mesos::v1::mesos::{
    CommandInfo, ExecutorId, ExecutorInfo, ExecutorType, Filters, FrameworkId, FrameworkInfo, Json,
    KillPolicy, Offer, OfferOperation, Resource, TaskGroupInfo, TaskId, TaskInfo, TaskState,
    TaskStatus,
};
use tars_backend_mesos::v1::scheduler::{Call, EventType};

pub const WITHIN: Duration = Duration::from_secs(30);

pub struct Framework {
    pub master: String,
    pub subscription: Subscription,
    pub caller: Caller,
    pub id: FrameworkId,
    pub offers: VecDeque<Offer>,
    pub statuses: Vec<TaskStatus>,
    pub started: Instant,
}

impl Framework {
    /// Subscribes a framework (`info.id` set: fails over to it) and waits for `SUBSCRIBED`.
    pub async fn subscribe(master: &str, info: FrameworkInfo) -> Self {
        let client = SchedulerClient::new(master).expect("master address");
        let mut subscription = client.subscribe(info).await.expect("SUBSCRIBE");
        let deadline = Instant::now() + WITHIN;
        let mut offers = VecDeque::new();
        while subscription.framework_id().is_none() {
            assert!(Instant::now() < deadline, "no SUBSCRIBED within {WITHIN:?}");
            let event = subscription.next_event().await.expect("event");
            assert_ne!(event.kind, EventType::Error, "{:?}", event.error);
            if let Some(o) = event.offers {
                offers.extend(o.offers);
            }
        }
        let id = subscription.framework_id().cloned().expect("SUBSCRIBED");
        let caller = subscription.caller();
        Self {
            master: master.to_owned(),
            subscription,
            caller,
            id,
            offers,
            statuses: Vec::new(),
            started: Instant::now(),
        }
    }
    /// Reads one event: offers are kept, updates acknowledged and recorded.
    pub async fn step(&mut self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, self.subscription.next_event())
            .await
            .unwrap_or_else(|_| panic!("timed out; updates so far: {:#?}", summary(&self.statuses)))
            .expect("event");
        match event.kind {
            EventType::Offers => self.offers.extend(event.offers.expect("offers set").offers),
            EventType::Rescind => {
                let id = event.rescind.expect("rescind set").offer_id;
                self.offers.retain(|o| o.id != id);
            }
            EventType::Update => {
                let status = event.update.expect("update set").status;
                println!(
                    "  {:>6} ms  {} {:?}{}{}",
                    self.started.elapsed().as_millis(),
                    status.task_id.value,
                    status.state,
                    status
                        .healthy
                        .map(|h| format!(" healthy={h}"))
                        .unwrap_or_default(),
                    status
                        .message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                );
                if let Some(ack) = Call::acknowledge(self.id.clone(), &status) {
                    self.caller.call(&ack).await.expect("ACKNOWLEDGE");
                }
                self.statuses.push(status);
            }
            EventType::Error => panic!("ERROR event: {:?}", event.error),
            EventType::Failure => println!("  FAILURE: {:?}", event.failure),
            _ => {}
        }
    }

    pub async fn offer(&mut self) -> Offer {
        let deadline = Instant::now() + WITHIN;
        loop {
            if let Some(offer) = self.offers.pop_back() {
                return offer;
            }
            self.step(deadline).await;
        }
    }

    /// Waits until every `(task, state)` was reported; returns when (since `since`).
    pub async fn wait_for(&mut self, wanted: &[(&TaskId, TaskState)], since: Instant) -> Duration {
        let deadline = Instant::now() + WITHIN;
        while !wanted
            .iter()
            .all(|(task, state)| self.seen(task, *state).is_some())
        {
            self.step(deadline).await;
        }
        since.elapsed()
    }

    /// Waits until `done` holds for the updates so far.
    pub async fn wait_until(&mut self, done: impl Fn(&[TaskStatus]) -> bool) {
        let deadline = Instant::now() + WITHIN;
        while !done(&self.statuses) {
            self.step(deadline).await;
        }
    }

    pub fn seen(&self, task: &TaskId, state: TaskState) -> Option<&TaskStatus> {
        self.statuses
            .iter()
            .find(|s| &s.task_id == task && s.state == state)
    }

    /// Accepts an offer with one LAUNCH_GROUP of `tasks` on a DEFAULT executor.
    pub async fn launch(&mut self, executor_id: &ExecutorId, tasks: Vec<Spec>) -> Instant {
        // The executor and each task take 0.1 cpus and 32 MB; the executor 32 MB of disk too.
        // Resources a previous test's tasks held may come back as further offers: the offers
        // of one agent are gathered until they cover the group, and accepted together.
        let n = tasks.len() as f64 + 1.0;
        let need = [("cpus", 0.1 * n - 1e-9), ("mem", 32.0 * n), ("disk", 32.0)];
        let deadline = Instant::now() + WITHIN;
        let offers: Vec<Offer> = loop {
            let mut by_agent: std::collections::BTreeMap<String, Vec<&Offer>> = Default::default();
            for o in &self.offers {
                by_agent
                    .entry(o.agent_id.value.clone())
                    .or_default()
                    .push(o);
            }
            let fits = by_agent.into_values().find(|os| {
                need.iter().all(|(name, want)| {
                    let have: f64 = os
                        .iter()
                        .flat_map(|o| &o.resources)
                        .filter(|r| r.name == *name)
                        .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
                        .sum();
                    have >= *want
                })
            });
            if let Some(os) = fits {
                let ids: Vec<_> = os.iter().map(|o| o.id.clone()).collect();
                let taken: Vec<Offer> = self
                    .offers
                    .iter()
                    .filter(|o| ids.contains(&o.id))
                    .cloned()
                    .collect();
                self.offers.retain(|o| !ids.contains(&o.id));
                break taken;
            }
            self.step(deadline).await;
        };
        let offer = offers[0].clone();
        let role = offer
            .resources
            .iter()
            .find_map(|r| r.allocation_info.clone());
        let resources = |cpus: f64, mem: f64, disk: Option<f64>| {
            let mut list = vec![Resource::scalar("cpus", cpus), Resource::scalar("mem", mem)];
            list.extend(disk.map(|d| Resource::scalar("disk", d)));
            for r in &mut list {
                r.allocation_info = role.clone();
            }
            list
        };
        let executor = ExecutorInfo {
            kind: Some(ExecutorType::Default),
            executor_id: executor_id.clone(),
            framework_id: Some(self.id.clone()),
            command: None,
            container: None,
            resources: resources(0.1, 32.0, Some(32.0)),
            name: Some("tars executor test".into()),
            source: None,
            data: None,
            discovery: None,
            shutdown_grace_period: None,
            labels: None,
        };
        let tasks = tasks
            .into_iter()
            .map(|spec| TaskInfo {
                name: spec.id.value.clone(),
                task_id: spec.id,
                agent_id: offer.agent_id.clone(),
                resources: resources(0.1, 32.0, None),
                executor: None,
                command: Some(spec.command),
                container: None,
                health_check: spec.health_check,
                check: spec.check,
                kill_policy: spec.kill_policy,
                data: None,
                labels: None,
                discovery: None,
                max_completion_time: None,
                limits: Default::default(),
            })
            .collect();
        let operation = OfferOperation::launch_group(executor, TaskGroupInfo { tasks });
        let filters = Some(Filters {
            refuse_seconds: Some(0.0),
        });
        let sent = Instant::now();
        self.caller
            .call(&Call::accept(
                self.id.clone(),
                offers.iter().map(|o| o.id.clone()).collect(),
                vec![operation],
                filters,
            ))
            .await
            .expect("ACCEPT");
        sent
    }
}

/// A task of a group: id, command, and optionally a health check, a general check, a kill
/// policy.
pub struct Spec {
    pub id: TaskId,
    pub command: CommandInfo,
    pub health_check: Option<Json>,
    pub check: Option<Json>,
    pub kill_policy: Option<KillPolicy>,
}

impl Spec {
    pub fn new(id: &TaskId, command: CommandInfo) -> Self {
        Self {
            id: id.clone(),
            command,
            health_check: None,
            check: None,
            kill_policy: None,
        }
    }

    pub fn health_check(mut self, check: Json) -> Self {
        self.health_check = Some(check);
        self
    }

    pub fn check(mut self, check: Json) -> Self {
        self.check = Some(check);
        self
    }

    pub fn kill_policy(mut self, policy: KillPolicy) -> Self {
        self.kill_policy = Some(policy);
        self
    }
}

pub fn summary(statuses: &[TaskStatus]) -> Vec<String> {
    statuses
        .iter()
        .map(|s| {
            format!(
                "{} {:?} {:?} {:?}",
                s.task_id.value, s.state, s.healthy, s.message
            )
        })
        .collect()
}

pub fn shell(value: &str) -> CommandInfo {
    CommandInfo {
        value: Some(value.into()),
        ..CommandInfo::default()
    }
}

/// Live (non-zombie) processes whose environment has `NAME=value`.
pub fn processes_with_env(name: &str, value: &str) -> Vec<u32> {
    let needle = format!("{name}={value}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let found = environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes());
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'));
        if found && !zombie {
            pids.push(pid);
        }
    }
    pids
}

pub async fn wait_gone(name: &str, value: &str) -> Duration {
    let started = Instant::now();
    loop {
        let pids = processes_with_env(name, value);
        if pids.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < WITHIN,
            "processes with {name}={value} still alive: {pids:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A file of the executor's sandbox through the agent's files API (`/files/read`), by the
/// executor's virtual path.
pub async fn read_sandbox_file(
    master: &str,
    framework: &FrameworkId,
    executor: &ExecutorId,
    file: &str,
) -> String {
    let path = format!(
        "/frameworks/{}/executors/{}/runs/latest/{file}",
        framework.value, executor.value
    );
    let url = reqwest::Url::parse_with_params(
        &format!("http://{master}/files/read"),
        &[
            ("path", path.as_str()),
            ("offset", "0"),
            ("length", "65536"),
        ],
    )
    .expect("url");
    let response = reqwest::get(url).await.expect("files/read");
    let status = response.status();
    let body = response.text().await.expect("body");
    assert!(status.is_success(), "files/read {path}: {status}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json["data"].as_str().expect("data").to_owned()
}
