//! Schedules: cron expressions and ISO 8601 repeating intervals, read in an IANA time zone.
//!
//! # Syntax
//!
//! - **Cron**, 5 fields `min hour dom mon dow` or 6 fields with seconds first
//!   `sec min hour dom mon dow`, parsed by [`croner`]: lists, ranges, steps (`*/15`, `1-5/2`),
//!   month and weekday names (`JAN`, `MON`), `0` and `7` both Sunday, and croner's extensions
//!   (`L`, `W`, `#`, `?`, and a `+` before the day of week to require both day fields). When
//!   both the day of month and the day of week are restricted, a day matching **either** fires
//!   (Vixie cron's OR): `0 0 13 * 5` fires on every 13th and on every Friday. A 7-field
//!   expression (with a year) is refused, and so is an expression no date ever matches
//!   (`0 0 30 2 *`).
//! - **Macros**: `@yearly` and `@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`), `@weekly`
//!   (`0 0 * * 0`), `@daily` and `@midnight` (`0 0 * * *`), `@hourly` (`0 * * * *`).
//! - **ISO 8601 repeating intervals**, as Chronos writes them: `R/<start>/<period>` repeats
//!   without end, `Rn/<start>/<period>` fires `n` times (`R0` never). The start is an instant
//!   with `Z` or an offset (`2026-01-01T00:00:00Z`, `2026-01-01T09:00:00+01:00`). The period is
//!   an ISO 8601 duration: its date part (`P1Y`, `P1M`, `P1W`, `P1D`) is added in wall-clock
//!   time of the schedule's time zone, its time part (`PT1H`, `PT30M`) as an exact duration; a
//!   mixed period (`P1DT1H`) adds the date part first, then the time part. Occurrence `k` is
//!   computed from the start each time (`start + k × period`), so month-end clamping does not
//!   drift: `P1M` from January 31 gives February 28, then March 31.
//!
//! # Time zone
//!
//! Any IANA name known to jiff's bundled database (`Europe/Berlin`); UTC when none is given.
//!
//! # Daylight saving time
//!
//! The rules are Vixie cron's. A cron expression whose minute and hour fields are both free of
//! `*` (such as `30 2 * * *`, `0,30 2 * * *` or `0 9-17 * * 1-5`) names **wall-clock times**:
//!
//! - a local time skipped by a DST gap fires once, at the first valid instant after the gap
//!   (Berlin 2026-03-29: `30 2 * * *` fires at 03:00 CEST; `0,30 2 * * *` fires once, also at
//!   03:00 CEST);
//! - a local time that occurs twice fires once, at its first occurrence (Berlin 2026-10-25:
//!   `30 2 * * *` fires at 02:30 CEST, not again at 02:30 CET).
//!
//! An expression with `*` in the minute or hour field (`30 * * * *`, `*/10 2 * * *`,
//! `@hourly`) **follows real time**: it fires whenever the local clock shows a matching time,
//! so a local time skipped by a gap does not fire and one that occurs twice fires twice;
//! `30 * * * *` fires every 60 real minutes straight through both transitions.
//!
//! croner applies the wall-clock rules only when the second, minute and hour each hold a
//! single value; for `0,30 2 * * *` it skips the gap entirely and fires in both passes of a
//! repeated hour. This module therefore computes wall-clock schedules itself: croner finds the
//! matching civil times, and each is resolved in the time zone (the earlier instant of a
//! repeated time, the end of a gap for a skipped one, several times falling in one gap
//! collapsing into one run). Real-time schedules use croner's own zoned search.
//!
//! ISO 8601 intervals need no such rules: their date part is wall-clock arithmetic (a local
//! time skipped by a gap moves forward by the length of the gap, a repeated one takes its
//! first occurrence) and their time part is exact.

use std::fmt;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Span, Timestamp, Zoned};

/// A parsed schedule: a cron expression or an ISO 8601 repeating interval, with its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    time_zone: TimeZone,
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    /// A cron expression. `wall_clock` when neither the minute nor the hour field holds a `*`
    /// (Vixie's "fixed-time" job); see the module documentation.
    Cron { cron: Box<Cron>, wall_clock: bool },
    /// An ISO 8601 repeating interval.
    Interval(Interval),
}

#[derive(Debug, Clone)]
struct Interval {
    /// How many times it fires; `None` without end.
    repetitions: Option<u64>,
    /// The first occurrence.
    start: Timestamp,
    /// Years, months, weeks and days of the period, added in wall-clock time.
    calendar: Span,
    /// Hours and smaller units of the period, in nanoseconds, added exactly.
    exact_nanos: i128,
}

impl Schedule {
    /// Parses `expr` read in `time_zone` (UTC when `None`).
    ///
    /// The error says what is wrong, in words a user can act on.
    pub fn parse(expr: &str, time_zone: Option<&str>) -> Result<Schedule, String> {
        let tz = match time_zone {
            None => TimeZone::UTC,
            Some(name) => parse_time_zone(name)?,
        };
        let trimmed = expr.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".to_owned());
        }
        let rule = if trimmed.starts_with('R') {
            Rule::Interval(parse_interval(trimmed)?)
        } else {
            parse_cron(trimmed)?
        };
        Ok(Schedule {
            expr: expr.to_owned(),
            time_zone: tz,
            rule,
        })
    }

    /// The expression as given.
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// The time zone the schedule is read in (UTC when none was given).
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// True for an ISO 8601 repeating interval, false for a cron expression or macro.
    pub fn is_interval(&self) -> bool {
        matches!(self.rule, Rule::Interval(_))
    }

    /// The instants the schedule fires at, strictly after `after`, in order (UTC instants).
    ///
    /// The iterator ends when the schedule has no further occurrence (an `Rn` interval that is
    /// used up, or a date beyond what the calendar arithmetic can represent).
    pub fn upcoming(&self, after: Timestamp) -> impl Iterator<Item = Timestamp> + '_ {
        let state = match &self.rule {
            Rule::Cron {
                wall_clock: true, ..
            } => State::WallClock {
                cursor: after.to_zoned(self.time_zone.clone()).datetime(),
            },
            Rule::Cron {
                wall_clock: false, ..
            } => State::RealTime {
                cursor: after.to_zoned(self.time_zone.clone()),
            },
            Rule::Interval(interval) => match interval.first_index_after(&self.time_zone, after) {
                Some(k) => State::Interval { k },
                None => State::Done,
            },
        };
        Upcoming {
            schedule: self,
            state,
            last: after,
        }
    }

    /// The first instant the schedule fires at strictly after `after`, if any.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.upcoming(after).next()
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

/// Looks an IANA time zone (`Europe/Berlin`) up in jiff's bundled database; the error reads
/// `unknown time zone "X"`.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("unknown time zone {name:?}"))
}

/// Where the search for any matching date starts: 401 years below croner's upper year limit
/// (5000), one whole 400-year cycle of the calendar and then some.
const NEVER_FIRES_PROBE_YEAR: i16 = 4599;

/// Parses a cron expression or macro.
fn parse_cron(expr: &str) -> Result<Rule, String> {
    let expanded = match expr.strip_prefix('@') {
        Some(name) => match name.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            _ => {
                return Err(format!(
                    "{expr:?} is not a known macro (use @yearly, @annually, @monthly, @weekly, \
                     @daily, @midnight or @hourly)"
                ));
            }
        },
        None => expr,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    let (minute, hour) = match fields.as_slice() {
        [minute, hour, _, _, _] => (*minute, *hour),
        [_, minute, hour, _, _, _] => (*minute, *hour),
        [_, _, _, _, _, _, _] => {
            return Err(format!(
                "{expr:?} has 7 fields; a year field is not supported (use 5 fields \
                 `min hour dom mon dow`, or 6 with seconds first)"
            ));
        }
        other => {
            let n = other.len();
            let fields = if n == 1 { "field" } else { "fields" };
            return Err(format!(
                "{expr:?} has {n} {fields}; a cron expression has 5 (`min hour dom mon dow`) or \
                 6 (seconds first), or is a macro like @daily, or an ISO 8601 repeating interval \
                 like R/2026-01-01T00:00:00Z/PT1H"
            ));
        }
    };
    // croner reads an empty list item (`,`, `1,,2`, a lone `+`) as a field no value matches,
    // and then proving that nothing fires takes seconds; it is a typo, refuse it as such
    // (found by the cron fuzz target).
    if let Some(field) = fields
        .iter()
        .find(|f| f.trim_start_matches('+').split(',').any(str::is_empty))
    {
        return Err(format!(
            "{expr:?} is not a valid cron expression: {field:?} has an empty list item"
        ));
    }
    let cron = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .dom_and_dow(false)
        .build()
        .parse(expanded)
        .map_err(|e| format!("{expr:?} is not a valid cron expression: {e}"))?;
    // A pattern no date matches (`0 0 30 2 *`) makes croner search up to its year limit;
    // refuse it here rather than leave a job that never runs. The Gregorian calendar repeats
    // every 400 years (146 097 days, whole weeks), so a pattern that matches any date matches
    // one in the last 401 years below croner's limit: searching only those keeps the refusal
    // cheap (searching from 1970, 3 030 years, took over 100 ms; found by the cron fuzz target).
    let probe = DateTime::constant(NEVER_FIRES_PROBE_YEAR, 1, 1, 0, 0, 0, 0);
    if cron.find_next_occurrence(&probe, true).is_err() {
        return Err(format!("{expr:?} never fires: no date matches it"));
    }
    let wall_clock = !minute.starts_with('*') && !hour.starts_with('*');
    Ok(Rule::Cron {
        cron: Box::new(cron),
        wall_clock,
    })
}

/// Parses `R[n]/<start>/<period>`.
fn parse_interval(expr: &str) -> Result<Interval, String> {
    const FORM: &str = "an ISO 8601 repeating interval is R[n]/<start>/<period>, like \
                        R/2026-01-01T00:00:00Z/PT1H or R5/2026-01-01T09:00:00+01:00/P1D";
    let parts: Vec<&str> = expr.split('/').collect();
    let [repeat, start, period] = parts.as_slice() else {
        return Err(format!("{expr:?}: {FORM}"));
    };
    let count = repeat.strip_prefix('R').unwrap_or(repeat);
    let repetitions = if count.is_empty() {
        None
    } else if count.bytes().all(|b| b.is_ascii_digit()) {
        Some(
            count
                .parse::<u64>()
                .map_err(|_| format!("{expr:?}: repetition count {count:?} is too large"))?,
        )
    } else {
        return Err(format!(
            "{expr:?}: {repeat:?} is not R or Rn with a number of repetitions n; {FORM}"
        ));
    };
    let start: Timestamp = start.parse().map_err(|e| {
        format!(
            "{expr:?}: start {start:?} is not an instant with Z or an offset \
             (like 2026-01-01T00:00:00Z): {e}"
        )
    })?;
    if !(period.starts_with('P') || period.starts_with('p')) {
        return Err(format!(
            "{expr:?}: period {period:?} is not an ISO 8601 duration like PT1H, P1D or P1M"
        ));
    }
    let span: Span = period.parse().map_err(|e| {
        format!(
            "{expr:?}: period {period:?} is not an ISO 8601 duration like PT1H, P1D or P1M: {e}"
        )
    })?;
    if span.is_negative() || span.is_zero() {
        return Err(format!("{expr:?}: period {period:?} must be positive"));
    }
    let calendar = Span::new()
        .years(span.get_years())
        .months(span.get_months())
        .weeks(span.get_weeks())
        .days(span.get_days());
    let exact_nanos = i128::from(span.get_hours()) * 3_600_000_000_000
        + i128::from(span.get_minutes()) * 60_000_000_000
        + i128::from(span.get_seconds()) * 1_000_000_000
        + i128::from(span.get_milliseconds()) * 1_000_000
        + i128::from(span.get_microseconds()) * 1_000
        + i128::from(span.get_nanoseconds());
    Ok(Interval {
        repetitions,
        start,
        calendar,
        exact_nanos,
    })
}

impl Interval {
    /// Occurrence `k`: the start plus `k` times the calendar part in wall-clock time of `tz`,
    /// plus `k` times the exact part. `None` beyond what can be represented.
    fn occurrence(&self, tz: &TimeZone, k: u64) -> Option<Timestamp> {
        let k = i64::try_from(k).ok()?;
        let base = if self.calendar.is_zero() {
            self.start
        } else {
            let calendar = self.calendar.checked_mul(k).ok()?;
            self.start
                .to_zoned(tz.clone())
                .checked_add(calendar)
                .ok()?
                .timestamp()
        };
        let offset = self.exact_nanos.checked_mul(i128::from(k))?;
        Timestamp::from_nanosecond(base.as_nanosecond().checked_add(offset)?).ok()
    }

    /// The smallest index `k` whose occurrence is strictly after `after`, if it is within the
    /// repetitions. Occurrences strictly increase with `k` (the period is positive), so this
    /// is a binary search; an unrepresentable occurrence counts as infinitely late.
    fn first_index_after(&self, tz: &TimeZone, after: Timestamp) -> Option<u64> {
        let limit = self.repetitions.unwrap_or(u64::MAX);
        let later = |k: u64| self.occurrence(tz, k).is_none_or(|t| t > after);
        let found = if later(0) {
            0
        } else {
            // `lo` is not later, `hi` is.
            let mut lo = 0u64;
            let mut hi = 1u64;
            while !later(hi) {
                lo = hi;
                hi = hi.checked_mul(2)?;
            }
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if later(mid) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            hi
        };
        (found < limit).then_some(found)
    }
}

/// Resolves a wall-clock time in `tz` by the wall-clock rules: the single instant, the
/// earlier of two, or the first valid instant after a gap (the transition itself).
fn resolve_wall_clock(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(dt);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.earlier().ok()
        }
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the offset after the gap, a time inside the gap lands before the
            // transition; the next transition from there is the end of the gap.
            let probe = after.to_timestamp(dt).ok()?;
            match tz.following(probe).next() {
                Some(transition) => Some(transition.timestamp()),
                None => ambiguous.compatible().ok(),
            }
        }
    }
}

enum State {
    /// Wall-clock cron: the civil time searched from.
    WallClock {
        cursor: DateTime,
    },
    /// Real-time cron: the zoned instant searched from.
    RealTime {
        cursor: Zoned,
    },
    /// Interval: the index of the next occurrence.
    Interval {
        k: u64,
    },
    Done,
}

struct Upcoming<'a> {
    schedule: &'a Schedule,
    state: State,
    /// Every instant returned is strictly after this one.
    last: Timestamp,
}

impl Upcoming<'_> {
    fn step(&mut self) -> Option<Timestamp> {
        let tz = &self.schedule.time_zone;
        match (&mut self.state, &self.schedule.rule) {
            (State::WallClock { cursor }, Rule::Cron { cron, .. }) => loop {
                let next = cron.find_next_occurrence(&*cursor, false).ok()?;
                *cursor = next;
                let at = resolve_wall_clock(tz, next)?;
                // Several civil times in one gap resolve to the same instant, and a time in
                // the first pass of a repeated hour may lie before a start in the second.
                if at > self.last {
                    return Some(at);
                }
            },
            (State::RealTime { cursor }, Rule::Cron { cron, .. }) => loop {
                let next = cron.find_next_occurrence(&*cursor, false).ok()?;
                let at = next.timestamp();
                *cursor = next;
                if at > self.last {
                    return Some(at);
                }
            },
            (State::Interval { k }, Rule::Interval(interval)) => {
                if interval.repetitions.is_some_and(|n| *k >= n) {
                    return None;
                }
                let at = interval.occurrence(tz, *k)?;
                *k = k.checked_add(1)?;
                Some(at)
            }
            _ => None,
        }
    }
}

impl Iterator for Upcoming<'_> {
    type Item = Timestamp;

    fn next(&mut self) -> Option<Timestamp> {
        if matches!(self.state, State::Done) {
            return None;
        }
        match self.step() {
            Some(at) => {
                self.last = at;
                Some(at)
            }
            None => {
                self.state = State::Done;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    fn schedule(expr: &str, tz: Option<&str>) -> Schedule {
        Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
    }

    /// The first `n` occurrences after `after`, as RFC 3339 UTC strings.
    fn next_n(expr: &str, tz: Option<&str>, after: &str, n: usize) -> Vec<String> {
        schedule(expr, tz)
            .upcoming(ts(after))
            .take(n)
            .map(|t| t.to_string())
            .collect()
    }

    fn seconds_between(times: &[String]) -> Vec<i64> {
        times
            .windows(2)
            .map(|w| ts(&w[1]).as_second() - ts(&w[0]).as_second())
            .collect()
    }

    fn parse_err(expr: &str, tz: Option<&str>) -> String {
        match Schedule::parse(expr, tz) {
            Ok(s) => panic!("{expr:?} should not parse: {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn never_fires_probe_covers_a_whole_calendar_cycle_below_the_search_limit() {
        assert_eq!(
            i32::from(NEVER_FIRES_PROBE_YEAR) + 401,
            croner::YEAR_UPPER_LIMIT
        );
        // Rare but real: February 29 falling on a Monday (both day fields required), and a
        // leap day alone. Both must still be accepted, with their true next dates.
        assert_eq!(
            next_n("0 0 29 2 +1", None, "2026-01-01T00:00:00Z", 1),
            ["2044-02-29T00:00:00Z"]
        );
        assert_eq!(
            next_n("0 0 29 2 *", None, "2026-01-01T00:00:00Z", 1),
            ["2028-02-29T00:00:00Z"]
        );
    }

    #[test]
    fn an_empty_list_item_is_refused_at_once() {
        // Found by the cron fuzz target: croner took these for fields no value matches, and
        // refusing them took from 0.1 s to several seconds of search.
        for expr in [
            "0 0 13 * +",
            "2 * , * *",
            ", 41 * * * *",
            "0 1,,2 * * *",
            "0 0 1, * *",
        ] {
            let started = std::time::Instant::now();
            let e = parse_err(expr, None);
            assert!(e.contains("empty list item"), "{expr:?}: {e}");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "{expr:?}"
            );
        }
        schedule("0 0 * * +1", None);
        schedule("0,30 1,2 * * *", None);
    }

    #[test]
    fn five_field_cron_in_utc() {
        assert_eq!(
            next_n("*/15 * * * *", None, "2026-01-01T00:07:00Z", 4),
            [
                "2026-01-01T00:15:00Z",
                "2026-01-01T00:30:00Z",
                "2026-01-01T00:45:00Z",
                "2026-01-01T01:00:00Z"
            ]
        );
        assert_eq!(
            next_n("0 9 * * 1-5", None, "2026-01-02T10:00:00Z", 2),
            ["2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"]
        );
    }

    #[test]
    fn occurrences_are_strictly_after_the_given_instant() {
        assert_eq!(
            next_n("0 * * * *", None, "2026-01-01T01:00:00Z", 1),
            ["2026-01-01T02:00:00Z"]
        );
        assert_eq!(
            next_n("0 * * * *", None, "2026-01-01T00:59:59.5Z", 1),
            ["2026-01-01T01:00:00Z"]
        );
        assert_eq!(
            next_n("0 * * * *", None, "2026-01-01T01:00:00.5Z", 1),
            ["2026-01-01T02:00:00Z"]
        );
    }

    #[test]
    fn six_field_cron_has_seconds_first() {
        assert_eq!(
            next_n("*/20 * * * * *", None, "2026-01-01T00:00:00Z", 3),
            [
                "2026-01-01T00:00:20Z",
                "2026-01-01T00:00:40Z",
                "2026-01-01T00:01:00Z"
            ]
        );
        assert_eq!(
            next_n("30 0 12 * * *", None, "2026-01-01T00:00:00Z", 2),
            ["2026-01-01T12:00:30Z", "2026-01-02T12:00:30Z"]
        );
    }

    #[test]
    fn macros_expand_like_vixie_cron() {
        let after = "2026-01-01T00:00:00Z"; // a Thursday
        let first = |m: &str| next_n(m, None, after, 1).remove(0);
        assert_eq!(first("@yearly"), "2027-01-01T00:00:00Z");
        assert_eq!(first("@annually"), "2027-01-01T00:00:00Z");
        assert_eq!(first("@monthly"), "2026-02-01T00:00:00Z");
        assert_eq!(first("@weekly"), "2026-01-04T00:00:00Z"); // Sunday
        assert_eq!(first("@daily"), "2026-01-02T00:00:00Z");
        assert_eq!(first("@midnight"), "2026-01-02T00:00:00Z");
        assert_eq!(first("@hourly"), "2026-01-01T01:00:00Z");
        assert_eq!(first("@DAILY"), "2026-01-02T00:00:00Z");
        assert!(parse_err("@reboot", None).contains("not a known macro"));
    }

    #[test]
    fn day_of_month_and_day_of_week_combine_with_or() {
        // January 2026: Fridays are the 2nd, 9th, 16th, 23rd and 30th; the 13th is a Tuesday.
        assert_eq!(
            next_n("0 0 13 * 5", None, "2026-01-01T00:00:00Z", 6),
            [
                "2026-01-02T00:00:00Z",
                "2026-01-09T00:00:00Z",
                "2026-01-13T00:00:00Z",
                "2026-01-16T00:00:00Z",
                "2026-01-23T00:00:00Z",
                "2026-01-30T00:00:00Z"
            ]
        );
        // Only one day field restricted: only that one counts.
        assert_eq!(
            next_n("0 0 13 * *", None, "2026-01-01T00:00:00Z", 2),
            ["2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"]
        );
        assert_eq!(
            next_n("0 0 * * FRI", None, "2026-01-01T00:00:00Z", 2),
            ["2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"]
        );
        // croner's `+` asks for both: Friday the 13th (February and March 2026).
        assert_eq!(
            next_n("0 0 13 * +5", None, "2026-01-01T00:00:00Z", 2),
            ["2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z"]
        );
    }

    #[test]
    fn cron_is_read_in_the_time_zone() {
        let s = schedule("0 9 * * *", Some("America/New_York"));
        assert_eq!(s.time_zone().iana_name(), Some("America/New_York"));
        assert_eq!(
            s.next_after(ts("2026-01-01T00:00:00Z")),
            Some(ts("2026-01-01T14:00:00Z"))
        );
        let utc = schedule("0 9 * * *", None);
        assert_eq!(utc.time_zone().iana_name(), Some("UTC"));
        assert_eq!(utc.as_str(), "0 9 * * *");
        assert_eq!(utc.to_string(), "0 9 * * *");
        assert!(!utc.is_interval());
    }

    #[test]
    fn berlin_spring_gap_fixed_hour_fires_once_after_the_gap() {
        // 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z): 02:30 does not exist.
        let berlin = Some("Europe/Berlin");
        assert_eq!(
            next_n("30 2 * * *", berlin, "2026-03-28T12:00:00Z", 3),
            [
                "2026-03-29T01:00:00Z", // 03:00 CEST, the first instant after the gap
                "2026-03-30T00:30:00Z",
                "2026-03-31T00:30:00Z"
            ]
        );
        // Two local times in the gap still fire once (croner alone skips them).
        assert_eq!(
            next_n("0,30 2 * * *", berlin, "2026-03-28T12:00:00Z", 3),
            [
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:00:00Z",
                "2026-03-30T00:30:00Z"
            ]
        );
        // A local time right after the gap that also matches is not run twice.
        assert_eq!(
            next_n("0 2,3 * * *", berlin, "2026-03-28T12:00:00Z", 3),
            [
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:00:00Z",
                "2026-03-30T01:00:00Z"
            ]
        );
    }

    #[test]
    fn berlin_autumn_fold_fixed_hour_fires_once_at_the_first_occurrence() {
        // 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z): 02:00-03:00 happens twice.
        let berlin = Some("Europe/Berlin");
        assert_eq!(
            next_n("30 2 * * *", berlin, "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        );
        assert_eq!(
            next_n("0,30 2 * * *", berlin, "2026-10-24T12:00:00Z", 4),
            [
                "2026-10-25T00:00:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-26T01:00:00Z",
                "2026-10-26T01:30:00Z"
            ]
        );
        // Asked from inside the second pass, the run of the first pass is not repeated.
        assert_eq!(
            next_n("30 2 * * *", berlin, "2026-10-25T01:10:00Z", 1),
            ["2026-10-26T01:30:00Z"]
        );
    }

    #[test]
    fn berlin_wildcard_hour_follows_real_time() {
        let berlin = Some("Europe/Berlin");
        let spring = next_n("30 * * * *", berlin, "2026-03-28T22:00:00Z", 5);
        assert_eq!(
            spring,
            [
                "2026-03-28T22:30:00Z", // 23:30 CET
                "2026-03-28T23:30:00Z", // 00:30 CET
                "2026-03-29T00:30:00Z", // 01:30 CET
                "2026-03-29T01:30:00Z", // 03:30 CEST
                "2026-03-29T02:30:00Z"  // 04:30 CEST
            ]
        );
        assert_eq!(seconds_between(&spring), [3600; 4]);
        let autumn = next_n("30 * * * *", berlin, "2026-10-24T22:00:00Z", 5);
        assert_eq!(
            autumn,
            [
                "2026-10-24T22:30:00Z", // 00:30 CEST
                "2026-10-24T23:30:00Z", // 01:30 CEST
                "2026-10-25T00:30:00Z", // 02:30 CEST
                "2026-10-25T01:30:00Z", // 02:30 CET
                "2026-10-25T02:30:00Z"  // 03:30 CET
            ]
        );
        assert_eq!(seconds_between(&autumn), [3600; 4]);
        // `*` in the minute field is real time too: the 02:xx hour is gone on the gap day.
        assert_eq!(
            next_n("*/30 2 * * *", berlin, "2026-03-28T12:00:00Z", 2),
            ["2026-03-30T00:00:00Z", "2026-03-30T00:30:00Z"]
        );
    }

    #[test]
    fn new_york_transitions() {
        let ny = Some("America/New_York");
        // 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z).
        assert_eq!(
            next_n("30 2 * * *", ny, "2026-03-07T12:00:00Z", 2),
            ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]
        );
        // 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z): 01:30 happens twice, fires at the first.
        assert_eq!(
            next_n("30 1 * * *", ny, "2026-10-31T12:00:00Z", 2),
            ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
        );
        assert_eq!(
            next_n("30 1 * * *", ny, "2026-11-01T06:10:00Z", 1),
            ["2026-11-02T06:30:00Z"]
        );
        let hourly = next_n("0 * * * *", ny, "2026-11-01T04:30:00Z", 4);
        assert_eq!(
            hourly,
            [
                "2026-11-01T05:00:00Z", // 01:00 EDT
                "2026-11-01T06:00:00Z", // 01:00 EST
                "2026-11-01T07:00:00Z", // 02:00 EST
                "2026-11-01T08:00:00Z"
            ]
        );
        assert_eq!(seconds_between(&hourly), [3600; 3]);
    }

    /// What croner does by itself, without this module's wall-clock resolution; documents why
    /// that resolution exists (and notices if a croner upgrade changes its behaviour).
    #[test]
    fn croner_alone_applies_wall_clock_rules_only_to_single_value_times() {
        let berlin = TimeZone::get("Europe/Berlin").expect("zone");
        let cron = |p: &str| {
            CronParser::builder()
                .seconds(Seconds::Optional)
                .year(Year::Disallowed)
                .build()
                .parse(p)
                .expect("pattern")
        };
        let next = |p: &str, from: &str, n: usize| -> Vec<String> {
            let c = cron(p);
            let mut z = ts(from).to_zoned(berlin.clone());
            let mut out = Vec::new();
            for _ in 0..n {
                z = c.find_next_occurrence(&z, false).expect("occurrence");
                out.push(z.timestamp().to_string());
            }
            out
        };
        // Single values: gap -> first instant after it; fold -> first occurrence only.
        assert_eq!(
            next("30 2 * * *", "2026-03-28T12:00:00Z", 1),
            ["2026-03-29T01:00:00Z"]
        );
        assert_eq!(
            next("30 2 * * *", "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        );
        // Two minutes at a fixed hour count as an interval job: the gap day is skipped and the
        // repeated hour fires twice.
        assert_eq!(
            next("0,30 2 * * *", "2026-03-28T12:00:00Z", 1),
            ["2026-03-30T00:00:00Z"]
        );
        assert_eq!(
            next("0,30 2 * * *", "2026-10-24T12:00:00Z", 4),
            [
                "2026-10-25T00:00:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-25T01:00:00Z",
                "2026-10-25T01:30:00Z"
            ]
        );
    }

    #[test]
    fn iso_interval_without_end() {
        let s = schedule("R/2026-01-01T00:00:00Z/PT1H", None);
        assert!(s.is_interval());
        let first: Vec<String> = s
            .upcoming(ts("2025-06-01T00:00:00Z"))
            .take(3)
            .map(|t| t.to_string())
            .collect();
        assert_eq!(
            first,
            [
                "2026-01-01T00:00:00Z",
                "2026-01-01T01:00:00Z",
                "2026-01-01T02:00:00Z"
            ]
        );
        // From the middle, and on a slot exactly (strictly after).
        assert_eq!(
            s.next_after(ts("2026-01-01T05:30:00Z")),
            Some(ts("2026-01-01T06:00:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2026-01-01T06:00:00Z")),
            Some(ts("2026-01-01T07:00:00Z"))
        );
        // Far ahead, without walking every slot.
        assert_eq!(
            s.next_after(ts("2040-03-04T05:06:07Z")),
            Some(ts("2040-03-04T06:00:00Z"))
        );
    }

    #[test]
    fn iso_interval_rn_stops_after_n() {
        let s = schedule("R5/2026-01-01T00:00:00Z/PT30M", None);
        let all: Vec<String> = s
            .upcoming(ts("2025-01-01T00:00:00Z"))
            .map(|t| t.to_string())
            .collect();
        assert_eq!(
            all,
            [
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:30:00Z",
                "2026-01-01T01:00:00Z",
                "2026-01-01T01:30:00Z",
                "2026-01-01T02:00:00Z"
            ]
        );
        assert_eq!(s.upcoming(ts("2026-01-01T01:00:00Z")).count(), 2);
        assert_eq!(s.next_after(ts("2026-01-01T02:00:00Z")), None);
    }

    #[test]
    fn iso_interval_r0_never_fires() {
        let s = schedule("R0/2026-01-01T00:00:00Z/PT1H", None);
        assert_eq!(s.upcoming(ts("2020-01-01T00:00:00Z")).count(), 0);
    }

    #[test]
    fn iso_interval_start_may_carry_an_offset() {
        assert_eq!(
            next_n(
                "R2/2026-01-01T00:00:00+05:00/PT30M",
                None,
                "2025-01-01T00:00:00Z",
                5
            ),
            ["2025-12-31T19:00:00Z", "2025-12-31T19:30:00Z"]
        );
    }

    #[test]
    fn iso_monthly_period_is_computed_from_the_start() {
        assert_eq!(
            next_n(
                "R4/2026-01-31T10:00:00Z/P1M",
                None,
                "2026-01-01T00:00:00Z",
                5
            ),
            [
                "2026-01-31T10:00:00Z",
                "2026-02-28T10:00:00Z",
                "2026-03-31T10:00:00Z",
                "2026-04-30T10:00:00Z"
            ]
        );
    }

    #[test]
    fn iso_weekly_and_yearly_periods() {
        assert_eq!(
            next_n(
                "R2/2026-01-01T00:00:00Z/P1W",
                None,
                "2025-01-01T00:00:00Z",
                5
            ),
            ["2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"]
        );
        assert_eq!(
            next_n(
                "R3/2024-02-29T12:00:00Z/P1Y",
                None,
                "2024-01-01T00:00:00Z",
                5
            ),
            [
                "2024-02-29T12:00:00Z",
                "2025-02-28T12:00:00Z",
                "2026-02-28T12:00:00Z"
            ]
        );
    }

    #[test]
    fn iso_hourly_period_is_exact_across_dst() {
        let berlin = Some("Europe/Berlin");
        let spring = next_n(
            "R/2026-03-29T00:00:00+01:00/PT1H",
            berlin,
            "2026-03-28T00:00:00Z",
            4,
        );
        assert_eq!(
            spring,
            [
                "2026-03-28T23:00:00Z",
                "2026-03-29T00:00:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-29T02:00:00Z"
            ]
        );
        assert_eq!(seconds_between(&spring), [3600; 3]);
        let autumn = next_n(
            "R/2026-10-25T00:00:00+02:00/PT1H",
            berlin,
            "2026-10-24T00:00:00Z",
            5,
        );
        assert_eq!(seconds_between(&autumn), [3600; 4]);
        assert_eq!(autumn[0], "2026-10-24T22:00:00Z");
    }

    #[test]
    fn iso_daily_period_keeps_the_wall_clock_across_dst() {
        let times = next_n(
            "R/2026-03-27T09:00:00+01:00/P1D",
            Some("Europe/Berlin"),
            "2026-03-01T00:00:00Z",
            4,
        );
        assert_eq!(
            times,
            [
                "2026-03-27T08:00:00Z", // 09:00 CET
                "2026-03-28T08:00:00Z", // 09:00 CET
                "2026-03-29T07:00:00Z", // 09:00 CEST
                "2026-03-30T07:00:00Z"  // 09:00 CEST
            ]
        );
        // Read in UTC instead, a day is 24 hours.
        assert_eq!(
            next_n(
                "R/2026-03-27T09:00:00+01:00/P1D",
                None,
                "2026-03-01T00:00:00Z",
                3
            ),
            [
                "2026-03-27T08:00:00Z",
                "2026-03-28T08:00:00Z",
                "2026-03-29T08:00:00Z"
            ]
        );
    }

    #[test]
    fn iso_mixed_period_adds_the_date_part_then_the_exact_part() {
        // k=1: 2026-03-29 09:00 CEST (07:00Z) + 1 h; k=2: 2026-03-30 09:00 CEST + 2 h.
        assert_eq!(
            next_n(
                "R3/2026-03-28T09:00:00+01:00/P1DT1H",
                Some("Europe/Berlin"),
                "2026-03-01T00:00:00Z",
                5
            ),
            [
                "2026-03-28T08:00:00Z",
                "2026-03-29T08:00:00Z",
                "2026-03-30T09:00:00Z"
            ]
        );
    }

    #[test]
    fn invalid_expressions_are_refused_with_a_reason() {
        assert!(parse_err("", None).contains("empty"));
        assert!(parse_err("garbage", None).contains("has 1 field;"));
        assert!(parse_err("* * * *", None).contains("has 4 fields"));
        assert!(parse_err("0 0 0 1 1 * 2026", None).contains("7 fields"));
        assert!(parse_err("61 * * * *", None).contains("not a valid cron expression"));
        assert!(parse_err("* 24 * * *", None).contains("not a valid cron expression"));
        assert!(parse_err("0 0 30 2 *", None).contains("never fires"));
        assert_eq!(
            parse_err("@daily", Some("Mars/Olympus")),
            "unknown time zone \"Mars/Olympus\""
        );
        assert!(parse_err("R/notadate/PT1H", None).contains("start \"notadate\""));
        assert!(parse_err("R/2026-01-01T00:00:00/PT1H", None).contains("Z or an offset"));
        assert!(parse_err("R/2026-01-01T00:00:00Z/PT0S", None).contains("must be positive"));
        assert!(parse_err("R/2026-01-01T00:00:00Z/1h", None).contains("ISO 8601 duration"));
        assert!(parse_err("R/2026-01-01T00:00:00Z/Pxyz", None).contains("ISO 8601 duration"));
        assert!(parse_err("R/2026-01-01T00:00:00Z", None).contains("R[n]/<start>/<period>"));
        assert!(parse_err("Rx/2026-01-01T00:00:00Z/PT1H", None).contains("\"Rx\""));
        assert!(parse_err("R-1/2026-01-01T00:00:00Z/PT1H", None).contains("\"R-1\""));
    }
}
