//! Durations in manifests: `"30s"`, `"5m"`, `"1h 30m"`, `"250ms"` or ISO 8601 (`"PT30S"`).
//!
//! Use with `#[serde(with = "crate::serde_duration")]` on a [`Duration`] field, or
//! `with = "crate::serde_duration::option"` on an `Option<Duration>`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

/// Parses a duration written as jiff's friendly format or ISO 8601. Negative durations are refused.
pub fn parse(s: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = s
        .trim()
        .parse()
        .map_err(|e| format!("{s:?} is not a duration like \"30s\", \"5m\" or \"PT1H\": {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("{s:?}: a duration cannot be negative"))
}

/// Formats a duration the way [`parse`] reads it (`"1m 30s"`).
pub fn format(d: &Duration) -> String {
    match jiff::SignedDuration::try_from(*d) {
        Ok(sd) => format!("{sd:#}"),
        Err(_) => format!("{}s", d.as_secs()),
    }
}

/// Serializes a [`Duration`] as a friendly string.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(d))
}

/// Deserializes a [`Duration`] from a friendly or ISO 8601 string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).map_err(D::Error::custom)
}

/// The same for `Option<Duration>`.
pub mod option {
    use super::*;

    /// Serializes `Some(d)` as a string and `None` as null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format(d)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes an optional duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => super::parse(&s).map(Some).map_err(D::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_and_iso_forms_parse() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("PT1H"), Ok(Duration::from_secs(3600)));
        assert!(parse("soon").is_err());
        assert!(parse("-5s").is_err());
    }

    #[test]
    fn format_round_trips() {
        for d in [
            Duration::from_secs(90),
            Duration::from_millis(1500),
            Duration::ZERO,
        ] {
            assert_eq!(parse(&format(&d)), Ok(d));
        }
    }
}
