//! One lock per group name. Nova keeps no name unique, so two applies of one name at once
//! would each find no server and each create one; within one tars process they take turns.
//! Across processes nothing can order them: one tars instance belongs in one process (its
//! state directory, when it has one, is opened by one process at a time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The locks of the names being applied or deleted; an entry lives while it is held or awaited.
#[derive(Default)]
pub(crate) struct NameLocks {
    held: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

/// Holds the name until dropped.
pub(crate) struct NameGuard<'a> {
    locks: &'a NameLocks,
    name: String,
    _guard: OwnedMutexGuard<()>,
}

impl NameLocks {
    /// Waits until no other apply or delete of `name` is under way, and holds the name.
    pub(crate) async fn lock(&self, name: &str) -> NameGuard<'_> {
        let lock = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_owned())
            .or_default()
            .clone();
        NameGuard {
            locks: self,
            name: name.to_owned(),
            _guard: lock.lock_owned().await,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for NameGuard<'_> {
    fn drop(&mut self) {
        let mut held = self
            .locks
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's handle and this guard's: no one else waits for the name.
        if held
            .get(&self.name)
            .is_some_and(|l| Arc::strong_count(l) <= 2)
        {
            held.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_name_is_held_by_one_caller_at_a_time_and_forgotten_after() {
        let locks = Arc::new(NameLocks::default());
        let first = locks.lock("web").await;
        // Another name is not held up.
        drop(locks.lock("db").await);
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _second = locks.lock("web").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "a second holder of the name");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter got the name")
            .expect("no panic");
        assert_eq!(locks.len(), 0, "no entry is kept for a name no one holds");
    }
}
