//! What tars knows of the cluster without asking: the tasks that hold names, the frameworks and
//! the agents, kept from the master's operator event stream (`SUBSCRIBE` on `/api/v1`:
//! `SUBSCRIBED` with the whole state, then `TASK_ADDED`, `TASK_UPDATED`, `AGENT_*`,
//! `FRAMEWORK_*`).
//!
//! A create asks "does a task of someone else go by this name?" and "can any agent run it?".
//! Asked of the master (`GET_TASKS`, `GET_AGENTS`), the first answer is every task the master
//! remembers, finished ones included: it grows with the cluster's history (1.35 MB, 30–43 ms
//! on the bench's master after a few hundred tasks). Kept from the stream, both answers are a
//! lookup. While the stream is not live (not subscribed yet, or broken and re-subscribing) the
//! view says so and callers ask the master as before.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::backoff::Backoff;
use crate::convert;
use crate::operator::OperatorClient;
use crate::v1::master::{Agent, Event, EventType, Framework, GetState};
use crate::v1::mesos::{FrameworkId, Task, TaskState};

/// A task that holds a name: for a tars group's task, the group's name (any instance); for any
/// other task, its Mesos task name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Holder {
    /// The name it holds.
    pub(crate) name: String,
    /// The task's id.
    pub(crate) task_id: String,
    /// Whose task.
    pub(crate) framework_id: FrameworkId,
    /// Its latest state.
    pub(crate) state: TaskState,
    /// Whether it is a tars group's task.
    pub(crate) group: bool,
    /// Whether its labels say this tars instance created it.
    pub(crate) owned: bool,
}

impl Holder {
    /// The holder `task` is, as `instance` sees it.
    pub(crate) fn of(task: &Task, instance: &str) -> Self {
        let group = convert::group_name(task);
        Self {
            name: group.unwrap_or(&task.name).to_owned(),
            task_id: task.task_id.value.clone(),
            framework_id: task.framework_id.clone(),
            state: task.state,
            group: group.is_some(),
            owned: convert::owned(&task.labels, instance),
        }
    }

    /// Where it is kept: a group's tasks by framework, group and container (a restarted
    /// group's new task replaces the ended one), any other task by its id.
    fn slot(&self, task: &Task) -> String {
        if self.group {
            format!("{}\0{}\0{}", self.framework_id.value, self.name, task.name)
        } else {
            self.task_id.clone()
        }
    }

    /// Whether it can still answer the name question: a live task, or a group's task that
    /// ended by itself (its instance still lists the group). A task killed, or another
    /// framework's ended task, holds nothing.
    fn holds(&self) -> bool {
        !self.state.is_terminal() || (self.group && self.state != TaskState::TaskKilled)
    }
}

/// The cluster as the event stream has told it.
#[derive(Debug, Default)]
struct State {
    /// Tasks holding a name, by slot (see [`Holder::slot`]).
    holders: HashMap<String, Holder>,
    /// Slot of each task id in `holders`.
    slots: HashMap<String, String>,
    /// Frameworks by id: connected?
    frameworks: HashMap<String, bool>,
    /// Registered agents by id.
    agents: HashMap<String, Agent>,
}

impl State {
    /// The state `SUBSCRIBED` gives.
    fn of_snapshot(state: GetState, instance: &str) -> Self {
        let mut out = State::default();
        let tasks = state.get_tasks.unwrap_or_default();
        // Ended before live, older before newer: a slot keeps the latest task.
        let mut completed = tasks.completed_tasks;
        completed.sort_by(|a, b| last_change(a).total_cmp(&last_change(b)));
        for task in completed
            .iter()
            .chain(&tasks.unreachable_tasks)
            .chain(&tasks.tasks)
        {
            out.add_task(task, instance);
        }
        for f in state.get_frameworks.unwrap_or_default().frameworks {
            out.put_framework(&f);
        }
        for a in state.get_agents.unwrap_or_default().agents {
            out.put_agent(a);
        }
        out
    }

    fn add_task(&mut self, task: &Task, instance: &str) {
        let holder = Holder::of(task, instance);
        let slot = holder.slot(task);
        if !holder.holds() {
            self.remove_slot(&slot);
            return;
        }
        if let Some(old) = self.holders.insert(slot.clone(), holder) {
            self.slots.remove(&old.task_id);
        }
        self.slots.insert(task.task_id.value.clone(), slot);
    }

    fn update_task(&mut self, task_id: &str, state: TaskState) {
        let Some(slot) = self.slots.get(task_id).cloned() else {
            return;
        };
        let Some(holder) = self.holders.get_mut(&slot) else {
            return;
        };
        holder.state = state;
        if !holder.holds() {
            self.remove_slot(&slot);
        }
    }

    fn remove_slot(&mut self, slot: &str) {
        if let Some(old) = self.holders.remove(slot) {
            self.slots.remove(&old.task_id);
        }
    }

    fn put_framework(&mut self, f: &Framework) {
        if let Some(id) = &f.framework_info.id {
            self.frameworks.insert(id.value.clone(), f.connected);
        }
    }

    fn put_agent(&mut self, agent: Agent) {
        if let Some(id) = &agent.agent_info.id {
            self.agents.insert(id.value.clone(), agent);
        }
    }

    /// Takes one event of the stream.
    fn apply(&mut self, event: Event, instance: &str) {
        match event.kind {
            EventType::TaskAdded => {
                if let Some(added) = event.task_added {
                    self.add_task(&added.task, instance);
                }
            }
            EventType::TaskUpdated => {
                if let Some(updated) = event.task_updated {
                    self.update_task(&updated.status.task_id.value, updated.state);
                }
            }
            EventType::FrameworkAdded => {
                if let Some(added) = event.framework_added {
                    self.put_framework(&added.framework);
                }
            }
            EventType::FrameworkUpdated => {
                if let Some(updated) = event.framework_updated {
                    self.put_framework(&updated.framework);
                }
            }
            EventType::FrameworkRemoved => {
                // Torn down: its tasks are killed, it lists no group.
                if let Some(id) = event.framework_removed.and_then(|r| r.framework_info.id) {
                    self.frameworks.remove(&id.value);
                    let gone: Vec<String> = self
                        .holders
                        .iter()
                        .filter(|(_, h)| h.framework_id == id)
                        .map(|(slot, _)| slot.clone())
                        .collect();
                    for slot in gone {
                        self.remove_slot(&slot);
                    }
                }
            }
            EventType::AgentAdded => {
                if let Some(added) = event.agent_added {
                    self.put_agent(added.agent);
                }
            }
            EventType::AgentRemoved => {
                if let Some(removed) = event.agent_removed {
                    self.agents.remove(&removed.agent_id.value);
                }
            }
            EventType::Subscribed | EventType::Heartbeat | EventType::Unknown => {}
        }
    }
}

/// When `task` last changed state (its latest status' timestamp; 0 without one).
fn last_change(task: &Task) -> f64 {
    task.statuses
        .iter()
        .filter_map(|s| s.timestamp)
        .fold(0.0, f64::max)
}

/// The view: `None` from its reads while the stream is not live.
#[derive(Debug)]
pub(crate) struct MasterView {
    instance: String,
    state: Mutex<Option<State>>,
}

impl MasterView {
    /// An empty view (not live) for tars instance `instance`.
    pub(crate) fn new(instance: &str) -> Self {
        Self {
            instance: instance.to_owned(),
            state: Mutex::new(None),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> Option<T> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(f)
    }

    /// The tasks that hold `name`, and whether each one's framework is connected.
    pub(crate) fn holders(&self, name: &str) -> Option<Vec<(Holder, bool)>> {
        self.read(|s| {
            s.holders
                .values()
                .filter(|h| h.name == name)
                .map(|h| {
                    let connected = s
                        .frameworks
                        .get(&h.framework_id.value)
                        .copied()
                        .unwrap_or(false);
                    (h.clone(), connected)
                })
                .collect()
        })
    }

    /// The registered agents.
    pub(crate) fn agents(&self) -> Option<Vec<Agent>> {
        self.read(|s| s.agents.values().cloned().collect())
    }

    fn set(&self, state: Option<State>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// Keeps the view from `operator`'s event stream until the future is dropped,
    /// re-subscribing with a bounded exponential backoff when the stream fails.
    pub(crate) async fn run(&self, operator: &OperatorClient) {
        let mut backoff = Backoff::new();
        loop {
            let started = tokio::time::Instant::now();
            let why = self.follow(operator).await;
            self.set(None);
            tracing::info!(%why, "Mesos operator event stream ended; asking the master until it is back");
            backoff.wait(started).await;
        }
    }

    /// One subscription, until it fails.
    async fn follow(&self, operator: &OperatorClient) -> crate::scheduler::Error {
        let mut events = match operator.subscribe().await {
            Ok(events) => events,
            Err(e) => return e,
        };
        loop {
            let event = match events.next_event().await {
                Ok(event) => event,
                Err(e) => return e,
            };
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match (event.kind, state.as_mut()) {
                (EventType::Subscribed, _) => {
                    let snapshot = event
                        .subscribed
                        .and_then(|s| s.get_state)
                        .unwrap_or_default();
                    *state = Some(State::of_snapshot(snapshot, &self.instance));
                    tracing::debug!("Mesos operator event stream live");
                }
                (_, Some(s)) => s.apply(event, &self.instance),
                (_, None) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
