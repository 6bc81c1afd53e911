//! Label selectors, with Kubernetes' syntax: `app=web,tier!=db,env in (a,b),env notin (c),k,!k`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::meta::Labels;

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Requirement {
    /// `key=value` (also `key==value`).
    Equals(String, String),
    /// `key!=value`: the label is absent or has another value.
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, BTreeSet<String>),
    /// `key notin (a,b)`: absent or none of the values.
    NotIn(String, BTreeSet<String>),
    /// `key`: the label is present.
    Exists(String),
    /// `!key`: the label is absent.
    DoesNotExist(String),
}

impl Requirement {
    /// Whether labels satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

/// A conjunction of requirements; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// `key=value` (builder style: chain for more).
    pub fn eq(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.requirements
            .push(Requirement::Equals(key.into(), value.into()));
        self
    }

    /// Adds a requirement (builder style).
    pub fn and(mut self, requirement: Requirement) -> Self {
        self.requirements.push(requirement);
        self
    }

    /// The requirements.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when it has no requirement.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether labels satisfy every requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

fn check_key(key: &str, whole: &str) -> Result<String, Error> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_owned())
    } else {
        Err(Error::invalid(
            "selector",
            format!("{key:?} in {whole:?} is not a label key"),
        ))
    }
}

fn check_value(value: &str, whole: &str) -> Result<String, Error> {
    let ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            "selector",
            format!("{value:?} in {whole:?} is not a label value"),
        ))
    }
}

/// Splits at commas that are not inside parentheses.
fn split_top_level(s: &str) -> Result<Vec<&str>, Error> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(Error::invalid(
                "selector",
                format!("unbalanced parentheses in {s:?}"),
            ));
        }
    }
    if depth != 0 {
        return Err(Error::invalid(
            "selector",
            format!("unbalanced parentheses in {s:?}"),
        ));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

fn parse_set(rest: &str, whole: &str) -> Result<BTreeSet<String>, Error> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| Error::invalid("selector", format!("expected (a,b) in {whole:?}")))?;
    inner
        .split(',')
        .map(|v| check_value(v.trim(), whole))
        .collect()
}

impl FromStr for LabelSelector {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut sel = LabelSelector::default();
        if s.trim().is_empty() {
            return Ok(sel);
        }
        for part in split_top_level(s)? {
            let p = part.trim();
            let req = if let Some((k, v)) = p.split_once("!=") {
                Requirement::NotEquals(check_key(k.trim(), s)?, check_value(v.trim(), s)?)
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                Requirement::Equals(check_key(k.trim(), s)?, check_value(v.trim(), s)?)
            } else if let Some((k, rest)) = p.split_once(" notin ") {
                Requirement::NotIn(check_key(k.trim(), s)?, parse_set(rest, s)?)
            } else if let Some((k, rest)) = p.split_once(" in ") {
                Requirement::In(check_key(k.trim(), s)?, parse_set(rest, s)?)
            } else if let Some(k) = p.strip_prefix('!') {
                Requirement::DoesNotExist(check_key(k.trim(), s)?)
            } else {
                Requirement::Exists(check_key(p, s)?)
            };
            sel.requirements.push(req);
        }
        Ok(sel)
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |vs: &BTreeSet<String>| vs.iter().cloned().collect::<Vec<_>>().join(",");
        match self {
            Requirement::Equals(k, v) => write!(f, "{k}={v}"),
            Requirement::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Requirement::In(k, vs) => write!(f, "{k} in ({})", join(vs)),
            Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", join(vs)),
            Requirement::Exists(k) => write!(f, "{k}"),
            Requirement::DoesNotExist(k) => write!(f, "!{k}"),
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for LabelSelector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LabelSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_every_operator_and_matches() {
        let sel: LabelSelector =
            "app=web, tier!=db, env in (prod,staging), zone notin (b), team, !legacy"
                .parse()
                .expect("valid");
        assert_eq!(sel.requirements().len(), 6);
        let good = labels(&[
            ("app", "web"),
            ("env", "prod"),
            ("zone", "a"),
            ("team", "x"),
        ]);
        assert!(sel.matches(&good));
        let mut bad = good.clone();
        bad.insert("legacy".into(), "1".into());
        assert!(!sel.matches(&bad));
        let mut bad = good.clone();
        bad.insert("env".into(), "dev".into());
        assert!(!sel.matches(&bad));
        let mut bad = good;
        bad.insert("tier".into(), "db".into());
        assert!(!sel.matches(&bad));
    }

    #[test]
    fn empty_selector_matches_everything_and_round_trips() {
        let sel: LabelSelector = "".parse().expect("valid");
        assert!(sel.matches(&Labels::new()));
        let s = "app=web,env in (a,b),!x";
        assert_eq!(s.parse::<LabelSelector>().expect("valid").to_string(), s);
    }

    #[test]
    fn malformed_selectors_are_invalid() {
        for bad in ["app=web space", "env in (a", "env in a,b", "=x", "a=(b)"] {
            let e = bad.parse::<LabelSelector>().expect_err(bad);
            assert_eq!(e.field(), Some("selector"), "{bad}");
        }
    }
}
