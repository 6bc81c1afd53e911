//! ISO 8601 repeating intervals as Chronos reads them: `R[n]/start/period`, an empty start
//! meaning now, and `scheduleTimeZone` taking precedence over the start's own offset. The
//! period is added in that zone: years, months, weeks and days in local (wall-clock) time,
//! hours and smaller units in elapsed time.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

/// A parsed schedule and where it stands.
#[derive(Debug, Clone)]
pub struct Repeating {
    /// Runs left; `None` forever.
    pub remaining: Option<u64>,
    /// The next due instant, in the schedule's zone.
    pub next: Zoned,
    /// The period.
    pub period: Span,
}

/// Parses an ISO 8601 duration (`PT30M`, `P1DT2H`).
pub fn duration(text: &str) -> Result<Span, String> {
    let span: Span = text
        .parse()
        .map_err(|e| format!("{text:?} is not an ISO 8601 duration: {e}"))?;
    if span.is_negative() {
        return Err(format!("{text:?} is negative"));
    }
    Ok(span)
}

/// The time zone of a job: `scheduleTimeZone` when given, else UTC.
pub fn zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None => Ok(TimeZone::UTC),
        Some(n) => TimeZone::get(n).map_err(|_| format!("unknown scheduleTimeZone {n:?}")),
    }
}

impl Repeating {
    /// Parses `schedule` read in `tz`; `now` stands for an empty start.
    pub fn parse(schedule: &str, tz: &TimeZone, now: Timestamp) -> Result<Repeating, String> {
        let parts: Vec<&str> = schedule.split('/').collect();
        let [reps, start, period] = parts.as_slice() else {
            return Err(format!("schedule {schedule:?} must be R[n]/start/period"));
        };
        let remaining = match reps.strip_prefix('R') {
            Some("") => None,
            Some(n) => Some(
                n.parse::<u64>()
                    .map_err(|_| format!("bad repetitions {reps:?}"))?,
            ),
            None => return Err(format!("schedule {schedule:?} must begin with R")),
        };
        let start = if start.is_empty() {
            now.to_zoned(tz.clone())
        } else if let Ok(ts) = start.parse::<Timestamp>() {
            ts.to_zoned(tz.clone())
        } else {
            let civil: jiff::civil::DateTime = start
                .parse()
                .map_err(|e| format!("start {start:?} is not an ISO 8601 date-time: {e}"))?;
            civil.to_zoned(tz.clone()).map_err(|e| e.to_string())?
        };
        let period = duration(period)?;
        if period.is_zero() {
            return Err(format!("period of {schedule:?} must be positive"));
        }
        Ok(Repeating {
            remaining,
            next: start,
            period,
        })
    }

    /// True when no run is left.
    pub fn done(&self) -> bool {
        self.remaining == Some(0)
    }

    /// Moves to the following occurrence, counting one repetition off.
    pub fn advance(&mut self) -> Result<(), String> {
        self.next = self
            .next
            .checked_add(self.period)
            .map_err(|e| e.to_string())?;
        if let Some(n) = &mut self.remaining {
            *n = n.saturating_sub(1);
        }
        Ok(())
    }

    /// The schedule as Chronos writes it back after runs: `R[n]/<next start>/<period>`.
    pub fn render(&self) -> String {
        let reps = self.remaining.map_or(String::new(), |n| n.to_string());
        let start = self
            .next
            .timestamp()
            .to_zoned(TimeZone::UTC)
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ");
        format!("R{reps}/{start}/{}", self.period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    #[test]
    fn days_follow_the_zone_and_hours_elapsed_time() {
        let berlin = zone(Some("Europe/Berlin")).expect("zone");
        // The night of 29 March 2026 has 23 hours in Berlin.
        let mut daily = Repeating::parse(
            "R2/2026-03-28T09:00:00+01:00/P1D",
            &berlin,
            ts("2026-01-01T00:00:00Z"),
        )
        .expect("parse");
        daily.advance().expect("advance");
        assert_eq!(daily.next.timestamp(), ts("2026-03-29T07:00:00Z"));
        assert_eq!(daily.remaining, Some(1));
        assert_eq!(daily.render(), "R1/2026-03-29T07:00:00.000Z/P1D");
        daily.advance().expect("advance");
        assert!(daily.done());
        let mut hourly = Repeating::parse(
            "R/2026-03-29T00:30:00Z/PT1H",
            &berlin,
            ts("2026-01-01T00:00:00Z"),
        )
        .expect("parse");
        hourly.advance().expect("advance");
        assert_eq!(hourly.next.timestamp(), ts("2026-03-29T01:30:00Z"));
    }

    #[test]
    fn an_empty_start_is_now_and_bad_schedules_are_refused() {
        let now = ts("2026-05-01T12:00:00Z");
        let r = Repeating::parse("R//PT2S", &TimeZone::UTC, now).expect("parse");
        assert_eq!(r.next.timestamp(), now);
        for bad in [
            "2026-01-01T00:00:00Z/PT1H",
            "R/2026-01-01T00:00:00Z",
            "R/x/PT1H",
            "R/2026-01-01T00:00:00Z/PT0S",
            "Rx/2026-01-01T00:00:00Z/PT1H",
        ] {
            assert!(Repeating::parse(bad, &TimeZone::UTC, now).is_err(), "{bad}");
        }
    }
}
