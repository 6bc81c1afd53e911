//! `Deployment`: keep R replicas of a group running; change them by rolling update or batches.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::group::{Condition, GroupTemplate};
use crate::meta::Kind;
use crate::object::{Object, Spec};

/// A deployment object.
pub type Deployment = Object<DeploymentSpec>;

fn default_history() -> u32 {
    10
}

/// What a deployment should keep running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSpec {
    /// How many replicas of the template to keep.
    pub replicas: u32,
    /// The group every replica runs.
    pub template: GroupTemplate,
    /// How a change of template is rolled out.
    #[serde(default)]
    pub strategy: Strategy,
    /// A replica counts as available once it has been ready this long.
    #[serde(default, with = "crate::serde_duration")]
    pub min_ready: Duration,
    /// A rollout that makes no progress for this long is marked failed
    /// (`Progressing=False`, reason `ProgressDeadlineExceeded`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_duration::option"
    )]
    pub progress_deadline: Option<Duration>,
    /// Roll back to the last complete revision when the progress deadline is exceeded.
    #[serde(default)]
    pub auto_rollback: bool,
    /// A paused deployment keeps its replicas but starts no new rollout step.
    #[serde(default)]
    pub paused: bool,
    /// How many old revisions to keep for rollback.
    #[serde(default = "default_history")]
    pub revision_history_limit: u32,
}

impl Spec for DeploymentSpec {
    const KIND: Kind = Kind::Deployment;
    type Status = DeploymentStatus;

    fn validate(&self, path: &str) -> crate::Result<()> {
        crate::validate::deployment_spec(self, path)
    }
}

/// How a new revision replaces the old one. In manifests: `type: rolling|batches|recreate` and
/// the fields of that type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StrategyFields", into = "StrategyFields")]
pub enum Strategy {
    /// Kubernetes' rolling update.
    Rolling {
        /// How many replicas above `replicas` may exist during the update.
        #[serde(default = "IntOrPercent::quarter")]
        max_surge: IntOrPercent,
        /// How many replicas below `replicas` may be unavailable during the update.
        #[serde(default = "IntOrPercent::quarter")]
        max_unavailable: IntOrPercent,
    },
    /// Percentage batches (`10%+20%+70%`), optionally gated.
    Batches {
        /// The batch sizes, summing to 100%.
        pattern: BatchPattern,
        /// Wait this long after each batch is available before the next.
        #[serde(default, with = "crate::serde_duration")]
        pause_between: Duration,
        /// Where the rollout waits for `resume()`.
        #[serde(default)]
        gate: Gate,
    },
    /// Stop every old replica, then start the new ones.
    Recreate,
}

/// The strategy as written: a flat record, so that a parse error names the exact field
/// (`spec.strategy.pattern`), which an internally tagged enum cannot.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StrategyFields {
    #[serde(rename = "type")]
    kind: StrategyKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_surge: Option<IntOrPercent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_unavailable: Option<IntOrPercent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pattern: Option<BatchPattern>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_duration::option"
    )]
    pause_between: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gate: Option<Gate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StrategyKind {
    Rolling,
    Batches,
    Recreate,
}

impl TryFrom<StrategyFields> for Strategy {
    type Error = String;
    fn try_from(f: StrategyFields) -> Result<Self, String> {
        let misplaced =
            |name: &str, kind: &str| Err(format!("`{name}` does not apply to the {kind} strategy"));
        match f.kind {
            StrategyKind::Rolling => {
                if f.pattern.is_some() {
                    return misplaced("pattern", "rolling");
                }
                if f.pause_between.is_some() || f.gate.is_some() {
                    return misplaced("pause_between and gate", "rolling");
                }
                Ok(Strategy::Rolling {
                    max_surge: f.max_surge.unwrap_or_else(IntOrPercent::quarter),
                    max_unavailable: f.max_unavailable.unwrap_or_else(IntOrPercent::quarter),
                })
            }
            StrategyKind::Batches => {
                if f.max_surge.is_some() || f.max_unavailable.is_some() {
                    return misplaced("max_surge and max_unavailable", "batches");
                }
                Ok(Strategy::Batches {
                    pattern: f
                        .pattern
                        .ok_or("the batches strategy needs a `pattern` like \"10%+20%+70%\"")?,
                    pause_between: f.pause_between.unwrap_or_default(),
                    gate: f.gate.unwrap_or_default(),
                })
            }
            StrategyKind::Recreate => {
                if f.max_surge.is_some()
                    || f.max_unavailable.is_some()
                    || f.pattern.is_some()
                    || f.pause_between.is_some()
                    || f.gate.is_some()
                {
                    return Err("the recreate strategy takes no other field than `type`".to_owned());
                }
                Ok(Strategy::Recreate)
            }
        }
    }
}

impl From<Strategy> for StrategyFields {
    fn from(s: Strategy) -> Self {
        let empty = |kind| StrategyFields {
            kind,
            max_surge: None,
            max_unavailable: None,
            pattern: None,
            pause_between: None,
            gate: None,
        };
        match s {
            Strategy::Rolling {
                max_surge,
                max_unavailable,
            } => StrategyFields {
                max_surge: Some(max_surge),
                max_unavailable: Some(max_unavailable),
                ..empty(StrategyKind::Rolling)
            },
            Strategy::Batches {
                pattern,
                pause_between,
                gate,
            } => StrategyFields {
                pattern: Some(pattern),
                pause_between: Some(pause_between),
                gate: Some(gate),
                ..empty(StrategyKind::Batches)
            },
            Strategy::Recreate => empty(StrategyKind::Recreate),
        }
    }
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::Rolling {
            max_surge: IntOrPercent::quarter(),
            max_unavailable: IntOrPercent::quarter(),
        }
    }
}

/// Where a batched rollout waits for a manual `resume()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// Never.
    #[default]
    None,
    /// After the first batch (the canary).
    Canary,
    /// After every batch but the last.
    EveryBatch,
}

/// A count or a percentage of `replicas` (`2` or `"25%"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    /// An absolute number of replicas.
    Int(u32),
    /// A percentage of the replicas, 0 to 100.
    Percent(u32),
}

impl IntOrPercent {
    fn quarter() -> Self {
        IntOrPercent::Percent(25)
    }

    /// The value for `replicas`, rounding percentages up (`round_up`) or down, as Kubernetes
    /// does for max_surge (up) and max_unavailable (down).
    pub fn resolve(self, replicas: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let num = u64::from(replicas) * u64::from(p);
                let v = if round_up {
                    num.div_ceil(100)
                } else {
                    num / 100
                };
                u32::try_from(v).unwrap_or(u32::MAX)
            }
        }
    }

    /// True for `0` and `0%`.
    pub fn is_zero(self) -> bool {
        matches!(self, IntOrPercent::Int(0) | IntOrPercent::Percent(0))
    }
}

impl fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrPercent::Int(n) => write!(f, "{n}"),
            IntOrPercent::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for IntOrPercent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            p.trim()
                .parse()
                .map(IntOrPercent::Percent)
                .map_err(|_| format!("{s:?} is not a percentage like \"25%\""))
        } else {
            s.parse()
                .map(IntOrPercent::Int)
                .map_err(|_| format!("{s:?} is not a count or a percentage like \"25%\""))
        }
    }
}

impl Serialize for IntOrPercent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrPercent::Int(n) => s.serialize_u32(*n),
            IntOrPercent::Percent(_) => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u32),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(IntOrPercent::Int(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Batch sizes as percentages of `replicas`, written `10%+20%+70%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPattern(pub Vec<u32>);

impl BatchPattern {
    /// The percentages, in order.
    pub fn percentages(&self) -> &[u32] {
        &self.0
    }

    /// Cumulative replica targets after each batch for `replicas`, rounding up, ending at
    /// `replicas`; empty batches (that round to no new replica) are dropped.
    pub fn targets(&self, replicas: u32) -> Vec<u32> {
        let mut acc = 0u64;
        let mut out: Vec<u32> = Vec::new();
        for p in &self.0 {
            acc += u64::from(*p);
            let t = (u64::from(replicas) * acc)
                .div_ceil(100)
                .min(u64::from(replicas));
            let t = u32::try_from(t).unwrap_or(replicas);
            if out.last() != Some(&t) && t > 0 {
                out.push(t);
            }
        }
        out
    }
}

impl fmt::Display for BatchPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|p| format!("{p}%")).collect();
        f.write_str(&parts.join("+"))
    }
}

impl FromStr for BatchPattern {
    type Err = String;
    /// Parses the syntax; [`crate::validate`] checks that it sums to 100%.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = Vec::new();
        for part in s.split('+') {
            let p = part.trim();
            let n = p
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<u32>().ok())
                .ok_or_else(|| format!("batch {p:?} of {s:?} is not a percentage like \"10%\""))?;
            out.push(n);
        }
        Ok(BatchPattern(out))
    }
}

impl Serialize for BatchPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BatchPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What a backend observed of a deployment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentStatus {
    /// The generation of the spec this status reflects.
    #[serde(default)]
    pub observed_generation: u64,
    /// The revision the spec currently asks for (the update revision).
    pub revision: u64,
    /// The last revision whose rollout completed (0 before any did).
    #[serde(default)]
    pub current_revision: u64,
    /// Replicas that exist, of any revision.
    pub replicas: u32,
    /// Replicas of the current revision.
    pub updated: u32,
    /// Replicas whose readiness checks pass.
    pub ready: u32,
    /// Replicas ready for at least `min_ready`.
    pub available: u32,
    /// How many of `spec.replicas` are not available (`replicas - available`, at least 0).
    #[serde(default)]
    pub unavailable: u32,
    /// The batch the rollout is in (batches strategy), starting at 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// True while the rollout waits at a gate or is paused.
    #[serde(default)]
    pub paused: bool,
    /// `Progressing`, `Available`, ...
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// One entry of a deployment's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionInfo {
    /// Revision number, increasing.
    pub revision: u64,
    /// Stable hash of the template.
    pub template_hash: String,
    /// When it was created.
    pub created_at: Option<jiff::Timestamp>,
    /// Why it was created (`apply`, `rollback to 3`).
    pub cause: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_or_percent_resolves_like_kubernetes() {
        let p = IntOrPercent::Percent(25);
        assert_eq!(p.resolve(10, true), 3);
        assert_eq!(p.resolve(10, false), 2);
        assert_eq!(IntOrPercent::Int(4).resolve(10, false), 4);
        assert_eq!("30%".parse::<IntOrPercent>(), Ok(IntOrPercent::Percent(30)));
        assert!("x%".parse::<IntOrPercent>().is_err());
    }

    #[test]
    fn batch_pattern_parses_and_gives_cumulative_targets() {
        let b: BatchPattern = "10%+20%+70%".parse().expect("valid");
        assert_eq!(b.percentages(), &[10, 20, 70]);
        assert_eq!(b.targets(10), vec![1, 3, 10]);
        assert_eq!(b.targets(3), vec![1, 3]);
        assert_eq!(b.to_string(), "10%+20%+70%");
        assert!("10+90%".parse::<BatchPattern>().is_err());
    }

    #[test]
    fn strategy_reads_from_yaml() {
        let s: Strategy =
            serde_yaml_ng::from_str("type: batches\npattern: 10%+90%\ngate: canary\n")
                .expect("valid");
        assert_eq!(
            s,
            Strategy::Batches {
                pattern: BatchPattern(vec![10, 90]),
                pause_between: Duration::ZERO,
                gate: Gate::Canary
            }
        );
        let r: Strategy =
            serde_yaml_ng::from_str("type: rolling\nmax_surge: 1\nmax_unavailable: 0\n")
                .expect("valid");
        assert_eq!(
            r,
            Strategy::Rolling {
                max_surge: IntOrPercent::Int(1),
                max_unavailable: IntOrPercent::Int(0)
            }
        );
    }
}
