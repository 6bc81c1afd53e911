//! Object uids for the objects tars itself keeps (groups of the embedded backend, deployments
//! and cron jobs of tars' engines).

use std::sync::atomic::{AtomicU64, Ordering};

/// A uid unique across processes and restarts: the time in nanoseconds, the process id and a
/// per-process counter, in hex.
pub fn new_uid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = jiff::Timestamp::now().as_nanosecond();
    format!(
        "{now:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_differ() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        assert_eq!(a.split('-').count(), 3, "{a}");
    }
}
