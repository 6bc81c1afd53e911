//! Revisions: one per distinct template, identified by a stable hash of the template.

use serde::{Deserialize, Serialize};
use tars_api::deployment::RevisionInfo;
use tars_api::group::GroupTemplate;

/// One revision of a deployment: a template and the number it was last rolled out under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// Revision number, increasing; a rollback gives the old template a new number.
    pub number: u64,
    /// [`template_hash`] of the template.
    pub hash: String,
    /// The template.
    pub template: GroupTemplate,
    /// When this number was given, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// Why (`apply`, `rollback to 3`, `auto-rollback`).
    pub cause: String,
}

impl Revision {
    /// The public view of this revision, for `history()`.
    pub fn info(&self) -> RevisionInfo {
        RevisionInfo {
            revision: self.number,
            template_hash: self.hash.clone(),
            created_at: i64::try_from(self.created_at_ms)
                .ok()
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
            cause: Some(self.cause.clone()),
        }
    }
}

/// A stable hash of `template`: 16 hex digits of FNV-1a over its canonical JSON (struct fields
/// in declaration order, maps sorted), the same in every process and on every machine.
pub fn template_hash(template: &GroupTemplate) -> String {
    // Serializing our own types cannot fail; an empty input would still hash deterministically.
    let bytes = serde_json::to_vec(template).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Records `template` as the newest revision of `history` (giving an already known template a
/// new number, as a rollback does) and trims the history to `limit` old revisions, never
/// dropping `keep` (the last completed revision). Returns the new revision's number; a template
/// that already is the newest revision keeps its number.
pub fn record(
    history: &mut Vec<Revision>,
    template: &GroupTemplate,
    cause: &str,
    now_ms: u64,
    limit: u32,
    keep: Option<&str>,
) -> u64 {
    let hash = template_hash(template);
    let newest = history.iter().map(|r| r.number).max().unwrap_or(0);
    if let Some(r) = history
        .iter()
        .find(|r| r.number == newest && r.hash == hash)
    {
        return r.number;
    }
    history.retain(|r| r.hash != hash);
    let number = newest + 1;
    history.push(Revision {
        number,
        hash,
        template: template.clone(),
        created_at_ms: now_ms,
        cause: cause.to_owned(),
    });
    history.sort_by_key(|r| r.number);
    let mut old = history.len().saturating_sub(1);
    let mut i = 0;
    while old > limit as usize && i < history.len() - 1 {
        if keep == Some(history[i].hash.as_str()) {
            i += 1;
        } else {
            history.remove(i);
            old -= 1;
        }
    }
    number
}

#[cfg(test)]
mod tests {
    use super::*;
    use tars_api::{Container, ContainerGroupSpec};

    fn template(arg: &str) -> GroupTemplate {
        let mut c = Container::new("app", "img", &["sleep"]);
        c.args = vec![arg.to_owned()];
        GroupTemplate {
            labels: Default::default(),
            annotations: Default::default(),
            spec: ContainerGroupSpec::new(vec![c]),
        }
    }

    #[test]
    fn hash_is_stable_and_differs_by_template() {
        assert_eq!(template_hash(&template("1")), template_hash(&template("1")));
        assert_ne!(template_hash(&template("1")), template_hash(&template("2")));
        assert_eq!(template_hash(&template("1")).len(), 16);
    }

    #[test]
    fn same_template_keeps_its_number_and_rollback_renumbers() {
        let mut h = Vec::new();
        assert_eq!(record(&mut h, &template("a"), "apply", 1, 10, None), 1);
        assert_eq!(record(&mut h, &template("a"), "apply", 2, 10, None), 1);
        assert_eq!(record(&mut h, &template("b"), "apply", 3, 10, None), 2);
        assert_eq!(record(&mut h, &template("a"), "rollback", 4, 10, None), 3);
        let numbers: Vec<u64> = h.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [2, 3]);
        assert_eq!(h[1].cause, "rollback");
    }

    #[test]
    fn history_is_trimmed_but_keeps_the_stable_revision() {
        let mut h = Vec::new();
        record(&mut h, &template("a"), "apply", 0, 1, None);
        let stable = template_hash(&template("a"));
        for (i, arg) in ["b", "c", "d"].iter().enumerate() {
            record(&mut h, &template(arg), "apply", i as u64, 1, Some(&stable));
        }
        let hashes: Vec<&str> = h.iter().map(|r| r.hash.as_str()).collect();
        assert_eq!(hashes, [stable.as_str(), &template_hash(&template("d"))]);
    }
}
