//! The pure decisions of the cron engine: which slots are due and which are missed, whether the
//! concurrency policy admits a run, when a failed run is retried, whether a child's parents
//! have all succeeded. Everything takes `now` explicitly, so tests run on a virtual clock.

use std::time::Duration;

use jiff::Timestamp;
use tars_api::ConcurrencyPolicy;
use tars_api::Schedule;

/// At most this many missed slots are recorded one by one after a long outage; the rest are
/// only counted (the history keeps at most that many records anyway).
pub const MAX_MISSED_RECORDS: usize = 1000;

/// At most this many slots are enumerated when catching up; after that, the scan jumps close
/// to `now` so that a tars process down for a year does not spend minutes counting seconds.
const MAX_SCANNED_SLOTS: u64 = 200_000;

/// The slots of one job that passed since it was last handled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Due {
    /// The slot to run now: the most recent passed slot, when within the starting deadline.
    pub run: Option<Timestamp>,
    /// Passed slots that get no run, oldest first (the last [`MAX_MISSED_RECORDS`] of them).
    pub missed: Vec<Timestamp>,
    /// How many slots were missed in all (at least `missed.len()`).
    pub missed_count: u64,
    /// The latest slot handled (run or missed); the job's new `last_slot`.
    pub handled_up_to: Option<Timestamp>,
    /// The first slot after `now`.
    pub next: Option<Timestamp>,
}

/// The slots of `schedule` in `(after, now]`: at most one is run (the most recent, and only
/// when `now` is within `starting_deadline` of it); every other one is missed. However many
/// slots passed, this never asks for more than one run (no storm) and always moves the job on
/// to its next slot (no permanent stop).
pub fn due(
    schedule: &Schedule,
    after: Timestamp,
    starting_deadline: Option<Duration>,
    now: Timestamp,
) -> Due {
    let mut out = Due::default();
    let mut passed: std::collections::VecDeque<Timestamp> = std::collections::VecDeque::new();
    let mut scanned = 0u64;
    let mut cursor = after;
    loop {
        let mut jumped = false;
        for slot in schedule.upcoming(cursor) {
            if slot > now {
                out.next = Some(slot);
                break;
            }
            scanned += 1;
            out.missed_count += 1;
            passed.push_back(slot);
            if passed.len() > MAX_MISSED_RECORDS + 1 {
                passed.pop_front();
            }
            if scanned == MAX_SCANNED_SLOTS {
                // Only the most recent slots matter for what runs and what is recorded.
                let window = starting_deadline
                    .unwrap_or(Duration::ZERO)
                    .max(Duration::from_secs(86_400));
                let jump_to = jiff::SignedDuration::try_from(window)
                    .ok()
                    .and_then(|w| now.checked_sub(w).ok())
                    .unwrap_or(now);
                if jump_to > slot {
                    cursor = jump_to;
                    jumped = true;
                    // The slots jumped over are missed but not enumerated; counted as one.
                    out.missed_count += 1;
                    break;
                }
            }
        }
        if !jumped {
            break;
        }
    }
    out.handled_up_to = passed.back().copied();
    if let Some(last) = passed.back().copied() {
        let within = starting_deadline.is_none_or(|d| {
            now.duration_since(last)
                .try_into()
                .is_ok_and(|late: Duration| late <= d)
        });
        if within {
            passed.pop_back();
            out.run = Some(last);
            out.missed_count -= 1;
        }
    }
    if passed.len() > MAX_MISSED_RECORDS {
        passed.pop_front();
    }
    out.missed = passed.into_iter().collect();
    out
}

/// What to do with a run that is due while `active` runs of the job are still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Start it.
    Start,
    /// Record the slot as missed (`Forbid`).
    Skip,
    /// Stop the active runs (recorded as replaced), then start it (`Replace`).
    Replace,
}

/// The concurrency policy's answer for a due run.
pub fn admit(policy: ConcurrencyPolicy, active: usize) -> Admit {
    match (policy, active) {
        (_, 0) | (ConcurrencyPolicy::Allow, _) => Admit::Start,
        (ConcurrencyPolicy::Forbid, _) => Admit::Skip,
        (ConcurrencyPolicy::Replace, _) => Admit::Replace,
    }
}

/// Longest delay between two attempts, whatever the backoff and the attempt.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// When attempt `failed_attempt` (1 for the first) that ended at `ended` is retried, or `None`
/// when no retry is left: `backoff`, doubled for each further retry, capped at
/// [`MAX_RETRY_DELAY`].
pub fn retry_at(
    retries: u32,
    backoff: Duration,
    failed_attempt: u32,
    ended: Timestamp,
) -> Option<Timestamp> {
    if failed_attempt == 0 || failed_attempt > retries {
        return None;
    }
    let factor = 1u32 << (failed_attempt - 1).min(20);
    let delay = backoff.saturating_mul(factor).min(MAX_RETRY_DELAY);
    ended
        .checked_add(jiff::SignedDuration::try_from(delay).ok()?)
        .ok()
}

/// Chronos' rule: a child runs once after **all** its parents have succeeded since its own
/// last run (or, when it never ran, since it was created).
pub fn parents_satisfied(since: Timestamp, parent_successes: &[Option<Timestamp>]) -> bool {
    !parent_successes.is_empty()
        && parent_successes
            .iter()
            .all(|s| s.is_some_and(|at| at > since))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn sched(expr: &str, tz: Option<&str>) -> Schedule {
        Schedule::parse(expr, tz).expect("schedule")
    }

    #[test]
    fn on_time_firing_runs_the_slot_and_misses_nothing() {
        let s = sched("*/2 * * * * *", None);
        let d = due(
            &s,
            ts("2026-01-01T00:00:00Z"),
            None,
            ts("2026-01-01T00:00:02.003Z"),
        );
        assert_eq!(d.run, Some(ts("2026-01-01T00:00:02Z")));
        assert!(d.missed.is_empty());
        assert_eq!(d.missed_count, 0);
        assert_eq!(d.next, Some(ts("2026-01-01T00:00:04Z")));
        assert_eq!(d.handled_up_to, d.run);
    }

    #[test]
    fn an_outage_collapses_into_one_catch_up_run_and_records_the_rest_as_missed() {
        let s = sched("0 * * * *", None);
        // Down from 00:30 to 05:10: slots 01:00 .. 05:00 passed.
        let d = due(
            &s,
            ts("2026-01-01T00:30:00Z"),
            Some(Duration::from_secs(3600)),
            ts("2026-01-01T05:10:00Z"),
        );
        assert_eq!(d.run, Some(ts("2026-01-01T05:00:00Z")));
        assert_eq!(
            d.missed,
            [
                ts("2026-01-01T01:00:00Z"),
                ts("2026-01-01T02:00:00Z"),
                ts("2026-01-01T03:00:00Z"),
                ts("2026-01-01T04:00:00Z"),
            ]
        );
        assert_eq!(d.missed_count, 4);
        assert_eq!(d.handled_up_to, Some(ts("2026-01-01T05:00:00Z")));
        assert_eq!(d.next, Some(ts("2026-01-01T06:00:00Z")));
    }

    #[test]
    fn a_slot_past_the_starting_deadline_is_missed_not_run() {
        let s = sched("0 * * * *", None);
        let d = due(
            &s,
            ts("2026-01-01T00:30:00Z"),
            Some(Duration::from_secs(60)),
            ts("2026-01-01T01:05:00Z"),
        );
        assert_eq!(d.run, None);
        assert_eq!(d.missed, [ts("2026-01-01T01:00:00Z")]);
        assert_eq!(d.missed_count, 1);
        assert_eq!(d.handled_up_to, Some(ts("2026-01-01T01:00:00Z")));
    }

    #[test]
    fn a_year_long_outage_of_a_per_second_job_is_bounded_and_still_moves_on() {
        let s = sched("* * * * * *", None);
        let d = due(
            &s,
            ts("2025-01-01T00:00:00Z"),
            None,
            ts("2026-01-01T00:00:00.5Z"),
        );
        assert_eq!(d.run, Some(ts("2026-01-01T00:00:00Z")));
        assert_eq!(d.missed.len(), MAX_MISSED_RECORDS);
        assert!(d.missed_count >= MAX_SCANNED_SLOTS, "{}", d.missed_count);
        assert_eq!(d.next, Some(ts("2026-01-01T00:00:01Z")));
    }

    #[test]
    fn nothing_due_before_the_first_slot() {
        let s = sched("0 0 * * *", None);
        let d = due(
            &s,
            ts("2026-01-01T00:30:00Z"),
            None,
            ts("2026-01-01T12:00:00Z"),
        );
        assert_eq!(
            d,
            Due {
                next: Some(ts("2026-01-02T00:00:00Z")),
                ..Due::default()
            }
        );
    }

    /// Walks a virtual clock from `from` to `to`, firing at each due slot as the engine does,
    /// and returns the slots run.
    fn fire_through(s: &Schedule, from: &str, to: &str) -> Vec<Timestamp> {
        let mut after = ts(from);
        let end = ts(to);
        let mut fired = Vec::new();
        while let Some(next) = s.next_after(after) {
            if next > end {
                break;
            }
            let d = due(s, after, None, next);
            assert!(d.missed.is_empty(), "on time, nothing is missed");
            fired.extend(d.run);
            after = d.handled_up_to.expect("handled");
        }
        fired
    }

    #[test]
    fn new_york_spring_forward_fires_a_skipped_wall_time_once_after_the_gap() {
        // 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist.
        let s = sched("30 2 * * *", Some("America/New_York"));
        let fired = fire_through(&s, "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z");
        assert_eq!(
            fired,
            [
                ts("2026-03-07T07:30:00Z"), // 02:30 EST
                ts("2026-03-08T07:00:00Z"), // 03:00 EDT, first instant after the gap
                ts("2026-03-09T06:30:00Z"), // 02:30 EDT
            ]
        );
    }

    #[test]
    fn new_york_fall_back_fires_a_repeated_wall_time_once() {
        // 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice.
        let s = sched("30 1 * * *", Some("America/New_York"));
        let fired = fire_through(&s, "2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z");
        assert_eq!(
            fired,
            [ts("2026-11-01T05:30:00Z"), ts("2026-11-02T06:30:00Z")]
        );
    }

    #[test]
    fn london_hourly_follows_real_time_through_both_transitions() {
        let s = sched("30 * * * *", Some("Europe/London"));
        // 2026-03-29 01:00 GMT -> 02:00 BST.
        let spring = fire_through(&s, "2026-03-29T00:00:00Z", "2026-03-29T03:00:00Z");
        assert_eq!(
            spring,
            [
                ts("2026-03-29T00:30:00Z"),
                ts("2026-03-29T01:30:00Z"),
                ts("2026-03-29T02:30:00Z"),
            ]
        );
        // 2026-10-25 02:00 BST -> 01:00 GMT: 01:30 local twice, both fire.
        let autumn = fire_through(&s, "2026-10-24T23:00:00Z", "2026-10-25T02:00:00Z");
        assert_eq!(
            autumn,
            [
                ts("2026-10-24T23:30:00Z"),
                ts("2026-10-25T00:30:00Z"),
                ts("2026-10-25T01:30:00Z"),
            ]
        );
    }

    #[test]
    fn london_fixed_time_in_the_spring_gap_fires_once_at_the_end_of_the_gap() {
        let s = sched("30 1 * * *", Some("Europe/London"));
        let fired = fire_through(&s, "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z");
        assert_eq!(
            fired,
            [ts("2026-03-29T01:00:00Z"), ts("2026-03-30T00:30:00Z")]
        );
    }

    #[test]
    fn lord_howe_half_hour_shift_is_handled_both_ways() {
        // Lord Howe: +10:30 standard, +11:00 daylight. 2026-10-04 02:00 -> 02:30 (gap of 30
        // minutes); 2026-04-05 02:00 -> 01:30 (01:30..02:00 repeated).
        let s = sched("15 2 * * *", Some("Australia/Lord_Howe"));
        let fired = fire_through(&s, "2026-10-02T12:00:00Z", "2026-10-05T12:00:00Z");
        assert_eq!(
            fired,
            [
                ts("2026-10-02T15:45:00Z"), // 02:15 +10:30
                ts("2026-10-03T15:30:00Z"), // 02:30 +11:00, end of the gap
                ts("2026-10-04T15:15:00Z"), // 02:15 +11:00
            ]
        );
        let s = sched("45 1 * * *", Some("Australia/Lord_Howe"));
        let fired = fire_through(&s, "2026-04-03T12:00:00Z", "2026-04-05T12:00:00Z");
        assert_eq!(
            fired,
            [
                ts("2026-04-03T14:45:00Z"), // 01:45 +11:00
                ts("2026-04-04T14:45:00Z"), // first 01:45 (+11:00), not again at +10:30
            ]
        );
    }

    #[test]
    fn concurrency_policies() {
        assert_eq!(admit(ConcurrencyPolicy::Forbid, 0), Admit::Start);
        assert_eq!(admit(ConcurrencyPolicy::Forbid, 1), Admit::Skip);
        assert_eq!(admit(ConcurrencyPolicy::Replace, 2), Admit::Replace);
        assert_eq!(admit(ConcurrencyPolicy::Allow, 5), Admit::Start);
    }

    #[test]
    fn retries_back_off_exponentially_and_end() {
        let t = ts("2026-01-01T00:00:00Z");
        let b = Duration::from_secs(10);
        assert_eq!(retry_at(3, b, 1, t), Some(ts("2026-01-01T00:00:10Z")));
        assert_eq!(retry_at(3, b, 2, t), Some(ts("2026-01-01T00:00:20Z")));
        assert_eq!(retry_at(3, b, 3, t), Some(ts("2026-01-01T00:00:40Z")));
        assert_eq!(retry_at(3, b, 4, t), None);
        assert_eq!(retry_at(0, b, 1, t), None);
        assert_eq!(
            retry_at(100, b, 90, t),
            Some(ts("2026-01-01T01:00:00Z")),
            "capped"
        );
    }

    #[test]
    fn a_child_needs_every_parent_to_succeed_after_its_last_run() {
        let last = ts("2026-01-01T01:00:00Z");
        let before = Some(ts("2026-01-01T00:59:00Z"));
        let after = Some(ts("2026-01-01T01:01:00Z"));
        assert!(parents_satisfied(last, &[after, after]));
        assert!(!parents_satisfied(last, &[after, before]));
        assert!(!parents_satisfied(last, &[after, None]));
        assert!(!parents_satisfied(last, &[]));
    }
}
