//! The Mesos side of the overhead: backend-mesos launching a ContainerGroup against a raw
//! framework on the same master making the same launch with bare v1 scheduler calls.
//!
//! The raw framework is what a hand-written Mesos framework does for one launch, and no more:
//! `REVIVE`, the first `OFFERS`, one `ACCEPT` with the `LAUNCH_GROUP`, then the `UPDATE`s
//! (each acknowledged) until every task is `TASK_RUNNING`. Between launches it asks for no
//! offers (`SUPPRESS`, and any offer that still comes is declined for two minutes), as tars
//! does when it has nothing to launch, so that neither side holds the agent's resources while
//! the other is timed. It sends its calls with backend-mesos' wire client
//! (`scheduler::SchedulerClient`: one POST per call, the RecordIO event stream) and the same
//! `LAUNCH_GROUP` tars builds (`convert::launch_group`, pure), so that both sides start the same
//! tasks under the same tars executor; what differs is everything tars does around the call
//! (validation, its store, its registry of groups, its offer matching, its watch).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tars::api::{ApplyOptions, DeleteOptions};
use tars::conditions::{is_deleted, is_group_running};
use tars::mesos::convert::{self, Sizing};
use tars::mesos::scheduler::{Caller, SchedulerClient};
use tars::mesos::v1::mesos::{
    Filters, FrameworkCapability, FrameworkCapabilityType, FrameworkId, FrameworkInfo, Offer,
    TaskId, TaskState, TaskStatus,
};
use tars::mesos::v1::scheduler::{Call, EventType};
use tars::mesos::{MesosBackend, MesosConfig};
use tars::wait::wait_for;
use tars::{Backend, ContainerGroup};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Res, Side, ms, spec};

/// How long one launch or kill may take.
const WAIT: Duration = Duration::from_secs(60);

/// How long offers the raw framework does not want are refused.
const IDLE_REFUSE: f64 = 120.0;

/// A framework of its own on the master: its subscription's event loop and its calls.
struct RawFramework {
    caller: Caller,
    id: FrameworkId,
    /// True while a launch waits for an offer; otherwise offers are declined.
    wanted: Arc<AtomicBool>,
    offers: mpsc::UnboundedReceiver<Offer>,
    updates: mpsc::UnboundedReceiver<TaskStatus>,
    events: JoinHandle<()>,
}

impl RawFramework {
    async fn subscribe(master: &str, user: &str) -> Res<RawFramework> {
        let info = FrameworkInfo {
            user: user.to_owned(),
            name: "tars-bench-raw".into(),
            id: None,
            failover_timeout: Some(0.0),
            checkpoint: Some(true),
            role: None,
            roles: vec!["*".into()],
            hostname: None,
            principal: None,
            webui_url: None,
            capabilities: vec![
                FrameworkCapability::new(FrameworkCapabilityType::MultiRole),
                FrameworkCapability::new(FrameworkCapabilityType::TaskKillingState),
                FrameworkCapability::new(FrameworkCapabilityType::PartitionAware),
            ],
            labels: None,
            offer_filters: BTreeMap::new(),
        };
        let mut sub = SchedulerClient::new(master)?.subscribe(info).await?;
        let first = sub.next_event().await?;
        let id = match (first.kind, first.subscribed) {
            (EventType::Subscribed, Some(s)) => s.framework_id,
            (kind, _) => return Err(format!("first event {kind:?}, not SUBSCRIBED").into()),
        };
        let caller = sub.caller();
        let wanted = Arc::new(AtomicBool::new(false));
        let (offer_tx, offers) = mpsc::unbounded_channel();
        let (update_tx, updates) = mpsc::unbounded_channel();
        let loop_caller = caller.clone();
        let loop_id = id.clone();
        let loop_wanted = wanted.clone();
        let events = tokio::spawn(async move {
            loop {
                let event = match sub.next_event().await {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("[mesos raw] event stream ended: {e}");
                        return;
                    }
                };
                match event.kind {
                    EventType::Offers => {
                        for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                            if loop_wanted.load(Ordering::SeqCst) {
                                let _ = offer_tx.send(offer);
                            } else {
                                let decline = Call::decline(
                                    loop_id.clone(),
                                    vec![offer.id],
                                    Some(Filters {
                                        refuse_seconds: Some(IDLE_REFUSE),
                                    }),
                                );
                                if let Err(e) = loop_caller.call(&decline).await {
                                    eprintln!("[mesos raw] DECLINE failed: {e}");
                                }
                            }
                        }
                    }
                    EventType::Update => {
                        if let Some(update) = event.update {
                            if let Some(ack) = Call::acknowledge(loop_id.clone(), &update.status)
                                && let Err(e) = loop_caller.call(&ack).await
                            {
                                eprintln!("[mesos raw] ACKNOWLEDGE failed: {e}");
                            }
                            let _ = update_tx.send(update.status);
                        }
                    }
                    EventType::Error => {
                        eprintln!("[mesos raw] ERROR event: {:?}", event.error);
                        return;
                    }
                    _ => {}
                }
            }
        });
        let raw = RawFramework {
            caller,
            id,
            wanted,
            offers,
            updates,
            events,
        };
        raw.caller
            .call(&Call::suppress(raw.id.clone(), Vec::new()))
            .await?;
        Ok(raw)
    }

    /// Launches `group` (metadata complete) on the first offer after a `REVIVE`; returns when
    /// every task is running.
    async fn launch(&mut self, group: &ContainerGroup) -> Res<Vec<TaskId>> {
        // Offers that came between launches (declined by the loop unless one was in flight).
        while let Ok(stale) = self.offers.try_recv() {
            self.decline(stale).await?;
        }
        self.wanted.store(true, Ordering::SeqCst);
        self.caller
            .call(&Call::revive(self.id.clone(), Vec::new()))
            .await?;
        let offer = tokio::time::timeout(WAIT, self.offers.recv())
            .await
            .map_err(|_| "no offer for the raw framework within a minute")?
            .ok_or("the raw framework's event loop ended")?;
        self.wanted.store(false, Ordering::SeqCst);
        let (operation, _) = convert::launch_group(
            "bench-raw",
            &self.id,
            group,
            &offer.agent_id,
            &offer.hostname,
            Vec::new(),
            &Sizing::default(),
            0,
        )?;
        let tasks: Vec<TaskId> = operation
            .launch_group
            .as_ref()
            .map(|l| {
                l.task_group
                    .tasks
                    .iter()
                    .map(|t| t.task_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        self.caller
            .call(&Call::accept(
                self.id.clone(),
                vec![offer.id],
                vec![operation],
                Some(Filters {
                    refuse_seconds: Some(0.0),
                }),
            ))
            .await?;
        self.caller
            .call(&Call::suppress(self.id.clone(), Vec::new()))
            .await?;
        self.until(&tasks, |s| s == TaskState::TaskRunning).await?;
        Ok(tasks)
    }

    /// Kills the group of `tasks` (a kill of one task kills its group) and waits until every
    /// task is terminal.
    async fn kill(&mut self, tasks: &[TaskId]) -> Res<()> {
        let first = tasks.first().ok_or("a group without tasks")?;
        self.caller
            .call(&Call::kill(self.id.clone(), first.clone(), None))
            .await?;
        self.until(tasks, TaskState::is_terminal).await
    }

    /// Waits until every one of `tasks` has reached a state `done` accepts; a terminal state
    /// it does not accept is an error.
    async fn until(&mut self, tasks: &[TaskId], done: impl Fn(TaskState) -> bool) -> Res<()> {
        let mut left: Vec<&TaskId> = tasks.iter().collect();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !left.is_empty() {
            let status = tokio::time::timeout_at(deadline, self.updates.recv())
                .await
                .map_err(|_| format!("{} task(s) not there within a minute", left.len()))?
                .ok_or("the raw framework's event loop ended")?;
            let Some(i) = left.iter().position(|t| **t == status.task_id) else {
                continue;
            };
            if done(status.state) {
                left.swap_remove(i);
            } else if status.state.is_terminal() {
                return Err(format!(
                    "task {} ended {:?}: {}",
                    status.task_id.value,
                    status.state,
                    status.message.unwrap_or_default()
                )
                .into());
            }
        }
        Ok(())
    }

    async fn decline(&self, offer: Offer) -> Res<()> {
        self.caller
            .call(&Call::decline(
                self.id.clone(),
                vec![offer.id],
                Some(Filters {
                    refuse_seconds: Some(IDLE_REFUSE),
                }),
            ))
            .await?;
        Ok(())
    }

    async fn teardown(self) {
        let _ = self.caller.call(&Call::teardown(self.id.clone())).await;
        self.events.abort();
    }
}

/// The group both sides launch: the bench's one-container group, with the metadata tars gives
/// an object it stores (uid, generation, creation time).
fn group(name: &str) -> ContainerGroup {
    let mut g = ContainerGroup::new(name, spec("v1"));
    g.metadata.uid = Some(format!("{:016x}", fastrand::u64(..)));
    g.metadata.generation = Some(1);
    g.metadata.created_at = Some(jiff::Timestamp::now());
    g
}

/// `pairs` interleaved rounds: backend-mesos `apply` → group running (its watch), against the
/// raw framework's `REVIVE` → `OFFERS` → `ACCEPT` → every task `TASK_RUNNING`; each followed by
/// a kill that is not timed.
pub(crate) async fn overhead(master: &str, pairs: usize) -> Res<Vec<(Side, Vec<f64>)>> {
    let dir = tempfile::tempdir()?;
    let config = MesosConfig::new(master)
        .state_dir(dir.path())
        .instance("bench-ov");
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let tars = MesosBackend::connect(config).await?;
    let mut raw = RawFramework::subscribe(master, &user).await?;
    let result = rounds(&tars, &mut raw, pairs).await;
    raw.teardown().await;
    let _ = tars.teardown().await;
    result
}

async fn rounds(
    tars: &MesosBackend,
    raw: &mut RawFramework,
    pairs: usize,
) -> Res<Vec<(Side, Vec<f64>)>> {
    let sides = [Side::MesosTars, Side::MesosRaw];
    let mut out: Vec<(Side, Vec<f64>)> = sides.iter().map(|&s| (s, vec![])).collect();
    // Round 0 is the warm-up: connections, the executor's first start, the allocator.
    for k in 0..=pairs {
        for j in 0..sides.len() {
            let idx = (k + j) % sides.len();
            let name = format!("ov-{}-{k}", sides[idx].key().replace('_', "-"));
            let d = match sides[idx] {
                Side::MesosTars => {
                    let groups = tars.container_groups();
                    let t0 = Instant::now();
                    groups
                        .apply(
                            &ContainerGroup::new(&name, spec("v1")),
                            ApplyOptions::default(),
                        )
                        .await?;
                    wait_for(groups, &name, is_group_running(), WAIT, |_| {}).await?;
                    let d = t0.elapsed();
                    groups.delete(&name, DeleteOptions::default()).await?;
                    wait_for(groups, &name, is_deleted(), WAIT, |_| {}).await?;
                    d
                }
                _ => {
                    let g = group(&name);
                    let t0 = Instant::now();
                    let tasks = raw.launch(&g).await?;
                    let d = t0.elapsed();
                    raw.kill(&tasks).await?;
                    d
                }
            };
            if k > 0 {
                out[idx].1.push(ms(d));
            }
        }
    }
    Ok(out)
}
