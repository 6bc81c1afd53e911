//! [`OptStamp`]: an optional instant in 16 bytes (an `Option<Timestamp>` takes 24). The cron
//! engine keeps several per job in memory, and at 100,000 jobs the difference is megabytes.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// No instant: a nanosecond part no [`Timestamp`] has.
const NONE_NANOS: i32 = i32::MIN;

/// An `Option<Timestamp>`, exact to the nanosecond, serialized as one (`null` or RFC 3339).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptStamp {
    second: i64,
    nanosecond: i32,
}

impl OptStamp {
    /// No instant.
    pub const NONE: OptStamp = OptStamp {
        second: 0,
        nanosecond: NONE_NANOS,
    };

    /// The instant, if any.
    pub fn get(self) -> Option<Timestamp> {
        if self.nanosecond == NONE_NANOS {
            return None;
        }
        // Built from a valid Timestamp's own parts: always valid again.
        Timestamp::new(self.second, self.nanosecond).ok()
    }

    /// True when there is no instant.
    pub fn is_none(self) -> bool {
        self.nanosecond == NONE_NANOS
    }
}

impl Default for OptStamp {
    fn default() -> Self {
        OptStamp::NONE
    }
}

impl From<Option<Timestamp>> for OptStamp {
    fn from(t: Option<Timestamp>) -> Self {
        match t {
            None => OptStamp::NONE,
            Some(t) => OptStamp {
                second: t.as_second(),
                nanosecond: t.subsec_nanosecond(),
            },
        }
    }
}

impl From<Timestamp> for OptStamp {
    fn from(t: Timestamp) -> Self {
        Some(t).into()
    }
}

impl std::fmt::Debug for OptStamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for OptStamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for OptStamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<Timestamp>::deserialize(d).map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_exactly_and_serializes_as_an_option() {
        for t in [
            "2026-11-26T19:30:00.000000001Z",
            "1969-12-31T23:59:59.999999999Z",
            "1970-01-01T00:00:00Z",
            "-009999-01-02T01:59:59Z",
            "9999-12-30T22:00:00.999999999Z",
        ] {
            let t: Timestamp = t.parse().expect("timestamp");
            let s = OptStamp::from(t);
            assert_eq!(s.get(), Some(t));
            let json = serde_json::to_string(&s).expect("json");
            assert_eq!(json, serde_json::to_string(&Some(t)).expect("json"));
            assert_eq!(serde_json::from_str::<OptStamp>(&json).expect("back"), s);
        }
        assert_eq!(OptStamp::NONE.get(), None);
        assert!(OptStamp::default().is_none());
        assert_eq!(
            serde_json::to_string(&OptStamp::NONE).expect("json"),
            "null"
        );
        assert_eq!(
            serde_json::from_str::<OptStamp>("null").expect("null"),
            OptStamp::NONE
        );
        assert_eq!(std::mem::size_of::<OptStamp>(), 16);
    }
}
