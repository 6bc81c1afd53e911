//! The groups of the active runs' current attempts, and a count of the ones that ended.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Group name → the key of its run's record, for every active run's current attempt; and how
/// many groups were ever removed, so that runs prepared ahead of their slot can tell, with one
/// comparison and without the engine's lock, that none of them ended before they were started.
#[derive(Debug, Default)]
pub(super) struct RunGroups {
    keys: HashMap<String, String>,
    /// Only ever raised, and only by [`RunGroups::remove`] (under the engine's lock); read
    /// from anywhere through [`RunGroups::removed`].
    removed: Arc<AtomicU64>,
}

impl RunGroups {
    /// Records `group` as the current attempt of the run whose record is `key`.
    pub(super) fn insert(&mut self, group: String, key: String) {
        self.keys.insert(group, key);
    }

    /// Forgets `group`; returns its run's key if it was known (and counts the removal).
    pub(super) fn remove(&mut self, group: &str) -> Option<String> {
        let key = self.keys.remove(group);
        if key.is_some() {
            self.removed.fetch_add(1, Ordering::Release);
        }
        key
    }

    /// The key of `group`'s run, if it is an active run's current attempt.
    pub(super) fn get(&self, group: &str) -> Option<&String> {
        self.keys.get(group)
    }

    /// True when `group` is an active run's current attempt.
    pub(super) fn contains_key(&self, group: &str) -> bool {
        self.keys.contains_key(group)
    }

    /// Every (group, key).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.keys.iter()
    }

    /// Every group.
    pub(super) fn keys(&self) -> impl Iterator<Item = &String> {
        self.keys.keys()
    }

    /// How many groups were removed so far, readable without `self`: unchanged between two
    /// readings means that every group known at the first was still known at the second.
    pub(super) fn removed(&self) -> Arc<AtomicU64> {
        self.removed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_removal_of_a_known_group_is_counted() {
        let mut groups = RunGroups::default();
        groups.insert("a-1".into(), "a/1".into());
        groups.insert("b-1".into(), "b/1".into());
        let removed = groups.removed();
        let count = || removed.load(Ordering::Acquire);
        assert_eq!(count(), 0);
        assert_eq!(groups.remove("c-1"), None);
        assert_eq!(count(), 0);
        assert_eq!(groups.remove("a-1").as_deref(), Some("a/1"));
        assert_eq!(count(), 1);
        assert!(!groups.contains_key("a-1"));
        assert_eq!(groups.get("b-1").map(String::as_str), Some("b/1"));
        assert_eq!(groups.remove("a-1"), None);
        assert_eq!(count(), 1);
    }
}
