//! The wait between two attempts at one of the master's long-lived streams (the scheduler
//! subscription, the operator event stream): 0.2 s, doubling up to 10 s, and 0.2 s again after
//! an attempt that lasted longer than 30 s.

use std::time::Duration;
use tokio::time::Instant;

/// First wait after a failed attempt.
const MIN: Duration = Duration::from_millis(200);
/// Longest wait between two attempts.
const MAX: Duration = Duration::from_secs(10);

/// The next wait.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    /// Starting at the shortest wait.
    pub(crate) fn new() -> Self {
        Self { next: MIN }
    }

    /// Sleeps before the next attempt, after one that began at `started`.
    pub(crate) async fn wait(&mut self, started: Instant) {
        let wait = self.next_after(started.elapsed());
        tracing::debug!(?wait, "next attempt after a backoff");
        tokio::time::sleep(wait).await;
    }

    /// The wait after an attempt that lasted `lasted`; the one after it doubles.
    fn next_after(&mut self, lasted: Duration) -> Duration {
        if lasted > MAX * 3 {
            self.next = MIN;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(MAX);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_starts_again_after_a_long_attempt() {
        let mut b = Backoff::new();
        let short = Duration::from_millis(5);
        let waits: Vec<u128> = (0..8).map(|_| b.next_after(short).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 6400, 10000, 10000]);
        assert_eq!(b.next_after(MAX * 3 + Duration::from_secs(1)), MIN);
        assert_eq!(b.next_after(short), MIN * 2);
    }
}
