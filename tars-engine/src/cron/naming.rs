//! Names of run groups and keys of run records.

use jiff::Timestamp;

/// Longest DNS-1123 label.
const MAX_NAME: usize = 63;

/// What started a run; part of its group name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A scheduled slot: `<job>-<slot unix seconds>`.
    Slot,
    /// `trigger`: `<job>-m<unix milliseconds>`.
    Manual,
    /// All parents succeeded: `<job>-p<unix milliseconds>`.
    Parents,
}

/// The group name of the first attempt of a run of `job` at `at`.
pub fn base_name(job: &str, origin: Origin, at: Timestamp) -> String {
    let suffix = match origin {
        Origin::Slot => at.as_second().to_string(),
        Origin::Manual => format!("m{}", at.as_millisecond()),
        Origin::Parents => format!("p{}", at.as_millisecond()),
    };
    join(job, &suffix)
}

/// The group name of attempt `attempt` (1 for the first) of the run whose first attempt is
/// `base`: `<base>-<attempt>` from the second attempt on.
pub fn attempt_name(base: &str, attempt: u32) -> String {
    if attempt <= 1 {
        base.to_owned()
    } else {
        // The base already fits; the attempt suffix may push it over, so shorten again.
        let (job, rest) = base.rsplit_once('-').unwrap_or((base, ""));
        join(job, &format!("{rest}-{attempt}"))
    }
}

/// `<job>-<suffix>`, with `job` shortened and given a hash of its full name when the result
/// would exceed 63 characters (so two long job names still get different groups).
fn join(job: &str, suffix: &str) -> String {
    let room = MAX_NAME.saturating_sub(suffix.len() + 1);
    if job.len() <= room {
        return format!("{job}-{suffix}");
    }
    let hash = fnv(job);
    let keep = room.saturating_sub(9);
    let head = job[..keep].trim_end_matches('-');
    format!("{head}-{hash:08x}-{suffix}")
}

fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Key of a run record in the `cron/runs` table: sorted by job, then slot, then group.
pub fn record_key(job: &str, slot: Timestamp, base: &str) -> String {
    format!("{job}/{:020}/{base}", slot.as_millisecond().max(0))
}

/// Prefix of every record key of `job`.
pub fn record_prefix(job: &str) -> String {
    format!("{job}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_of_at_most_63_characters() {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().expect("ts");
        assert_eq!(base_name("nightly", Origin::Slot, at), "nightly-1767225600");
        assert_eq!(
            base_name("nightly", Origin::Manual, at),
            "nightly-m1767225600000"
        );
        assert_eq!(
            attempt_name("nightly-1767225600", 3),
            "nightly-1767225600-3"
        );
        let long = "a".repeat(63);
        let other = format!("{}b", "a".repeat(62));
        let n1 = attempt_name(&base_name(&long, Origin::Parents, at), 100);
        let n2 = attempt_name(&base_name(&other, Origin::Parents, at), 100);
        assert!(n1.len() <= 63 && n2.len() <= 63, "{n1} {n2}");
        assert_ne!(n1, n2);
        assert!(n1.ends_with("-p1767225600000-100"), "{n1}");
        assert!(
            n1.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn record_keys_sort_by_slot() {
        let a: Timestamp = "2026-01-01T00:00:09Z".parse().expect("ts");
        let b: Timestamp = "2026-01-01T00:00:10Z".parse().expect("ts");
        assert!(record_key("j", a, "x") < record_key("j", b, "x"));
        assert!(record_key("j", b, "x").starts_with(&record_prefix("j")));
    }
}
