//! Resource quantities: CPU in millicores and memory in bytes, written as Kubernetes does
//! (`500m`, `2`, `0.5`; `256Mi`, `1G`, `1048576`).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// CPU, in thousandths of a core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cpu(pub u32);

/// Memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Memory(pub u64);

impl Cpu {
    /// `n` millicores.
    pub const fn millis(n: u32) -> Self {
        Cpu(n)
    }
    /// `n` whole cores.
    pub const fn cores(n: u32) -> Self {
        Cpu(n * 1000)
    }
    /// The value in millicores.
    pub const fn as_millis(self) -> u32 {
        self.0
    }
}

impl Memory {
    /// `n` bytes.
    pub const fn bytes(n: u64) -> Self {
        Memory(n)
    }
    /// `n` MiB.
    pub const fn mebibytes(n: u64) -> Self {
        Memory(n * 1024 * 1024)
    }
    /// The value in bytes.
    pub const fn as_bytes(self) -> u64 {
        self.0
    }
}

/// Why a quantity did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QuantityError(String);

/// Splits `"1.5Gi"` into (`"1.5"`, `"Gi"`).
fn split_number(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Parses a non-negative decimal as an exact fraction `(numerator, denominator)`.
fn parse_decimal(num: &str, what: &str) -> Result<(u128, u128), QuantityError> {
    let bad = || QuantityError(format!("{what} {num:?} is not a non-negative number"));
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() || frac.len() > 9 || int.len() > 20 {
        return Err(bad());
    }
    let digits = format!("{int}{frac}");
    let n: u128 = digits.parse().map_err(|_| bad())?;
    Ok((n, 10u128.pow(frac.len() as u32)))
}

impl FromStr for Cpu {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (num, unit) = split_number(s);
        let (n, d) = parse_decimal(num, "cpu")?;
        let millis = match unit {
            "m" if d == 1 => n,
            "m" => {
                return Err(QuantityError(format!(
                    "cpu {s:?}: millicores must be a whole number"
                )));
            }
            "" if (n * 1000) % d == 0 => n * 1000 / d,
            "" => {
                return Err(QuantityError(format!(
                    "cpu {s:?} is finer than one millicore"
                )));
            }
            other => {
                return Err(QuantityError(format!(
                    "cpu unit {other:?} is not known (use cores like \"0.5\" or millicores like \"500m\")"
                )));
            }
        };
        u32::try_from(millis)
            .map(Cpu)
            .map_err(|_| QuantityError(format!("cpu {s:?} is too large")))
    }
}

impl FromStr for Memory {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (num, unit) = split_number(s);
        let (n, d) = parse_decimal(num, "memory")?;
        let mult: u128 = match unit {
            "" => 1,
            "k" | "K" => 1_000,
            "M" => 1_000_000,
            "G" => 1_000_000_000,
            "T" => 1_000_000_000_000,
            "Ki" => 1 << 10,
            "Mi" => 1 << 20,
            "Gi" => 1 << 30,
            "Ti" => 1 << 40,
            other => {
                return Err(QuantityError(format!(
                    "memory unit {other:?} is not known (use bytes, Ki, Mi, Gi, Ti, k, M, G or T)"
                )));
            }
        };
        let total = n * mult;
        if !total.is_multiple_of(d) {
            return Err(QuantityError(format!(
                "memory {s:?} is not a whole number of bytes"
            )));
        }
        u64::try_from(total / d)
            .map(Memory)
            .map_err(|_| QuantityError(format!("memory {s:?} is too large")))
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}m", self.0)
        }
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [
            ("Ti", 1u64 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

macro_rules! quantity_serde {
    ($ty:ident, $expect:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expect)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        if v < 0 {
                            return Err(E::custom("a quantity cannot be negative"));
                        }
                        v.to_string().parse().map_err(E::custom)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        if !(v.is_finite() && v >= 0.0) {
                            return Err(E::custom("a quantity must be a non-negative number"));
                        }
                        format!("{v}").parse().map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

quantity_serde!(Cpu, "cpu as cores (0.5, 2) or millicores (\"500m\")");
quantity_serde!(Memory, "memory as bytes or with a unit (\"256Mi\", \"1G\")");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses_cores_and_millicores() {
        for (s, m) in [
            ("500m", 500),
            ("2", 2000),
            ("0.5", 500),
            ("1.25", 1250),
            ("0", 0),
        ] {
            assert_eq!(s.parse::<Cpu>(), Ok(Cpu(m)), "{s}");
        }
        for bad in ["", "m", "-1", "1.0005", "2x", "1.5m", "abc", "99999999999"] {
            assert!(bad.parse::<Cpu>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn memory_parses_binary_and_decimal_units() {
        for (s, b) in [
            ("1024", 1024),
            ("256Mi", 256 << 20),
            ("1Gi", 1 << 30),
            ("1.5Ki", 1536),
            ("1G", 1_000_000_000),
            ("64k", 64_000),
        ] {
            assert_eq!(s.parse::<Memory>(), Ok(Memory(b)), "{s}");
        }
        for bad in ["", "Mi", "1.3", "12XB", "-5"] {
            assert!(bad.parse::<Memory>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn display_round_trips() {
        for c in [Cpu(500), Cpu(2000), Cpu(1)] {
            assert_eq!(c.to_string().parse::<Cpu>(), Ok(c));
        }
        for m in [Memory(256 << 20), Memory(1000), Memory(3 << 30)] {
            assert_eq!(m.to_string().parse::<Memory>(), Ok(m));
        }
        assert_eq!(Memory(256 << 20).to_string(), "256Mi");
        assert_eq!(Cpu(250).to_string(), "250m");
    }

    #[test]
    fn serde_accepts_numbers_and_strings() {
        let c: Cpu = serde_json::from_str("0.5").expect("number");
        assert_eq!(c, Cpu(500));
        let c: Cpu = serde_json::from_str("\"250m\"").expect("string");
        assert_eq!(c, Cpu(250));
        let m: Memory = serde_json::from_str("1048576").expect("number");
        assert_eq!(m, Memory(1 << 20));
        assert!(serde_json::from_str::<Memory>("-1").is_err());
    }
}
