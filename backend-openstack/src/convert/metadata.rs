//! Nova server metadata ⇄ tars labels and ownership.
//!
//! Nova accepts metadata keys of 1 to 255 characters from `[a-zA-Z0-9-_:. ]` and values of at
//! most 255 characters (the API refuses anything else with 400). tars' label keys are
//! Kubernetes-style (`prefix/name`, the prefix a DNS subdomain, the name letters, digits, `-_.`),
//! so a `/` cannot be sent as it is. A label `k` becomes the key `label:` + `k` with its `/` as
//! `:` (reversible: label keys have no `:`); tars' own keys start with `tars:`, which no mapped
//! label does. A label whose mapped key would be longer than 255 characters is `Unsupported`
//! naming it (label values are at most 63 characters: always fit).
//!
//! ```text
//! label:app.kubernetes.io:managed-by = tars       the ownership stamp (MANAGED_BY_LABEL)
//! label:tars.dev:instance            = billing    (INSTANCE_LABEL)
//! label:tars.dev:template-hash       = 5f6d...    a deployment replica's template revision
//! label:app                          = web        the user's labels
//! tars:kind                          = ContainerGroup
//! tars:generation                    = 3          the group spec's generation
//! ```

use std::collections::BTreeMap;

use tars_api::meta::{self, Labels};
use tars_api::{Feature, Result};

use super::{Stamp, unsupported};

/// Nova's limit on metadata keys and values, in characters.
pub(crate) const MAX_LEN: usize = 255;
/// The prefix of metadata keys that carry labels.
pub(crate) const LABEL_PREFIX: &str = "label:";
/// The metadata key of the tars kind (`ContainerGroup`).
pub(crate) const KIND_KEY: &str = "tars:kind";
/// The metadata key of the group's generation.
pub(crate) const GENERATION_KEY: &str = "tars:generation";

/// The metadata key of label `key`.
pub(crate) fn label_key(key: &str) -> String {
    format!("{LABEL_PREFIX}{}", key.replace('/', ":"))
}

/// The label key of metadata key `key`, if it carries a label.
pub(crate) fn label_of_key(key: &str) -> Option<String> {
    key.strip_prefix(LABEL_PREFIX)
        .map(|k| k.replacen(':', "/", 1))
}

/// Whether Nova accepts `key` as a metadata key.
pub(crate) fn valid_key(key: &str) -> bool {
    (1..=MAX_LEN).contains(&key.chars().count())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | ' '))
}

/// The metadata of a server for a group with `labels` (the user's) and `generation`: the
/// labels with the ownership stamp of `stamp`, the kind, the generation. `path` is the field path
/// of the labels (`metadata.labels`), for errors.
pub(crate) fn server_metadata(
    labels: &Labels,
    generation: Option<u64>,
    stamp: &Stamp,
    path: &str,
) -> Result<BTreeMap<String, String>> {
    let mut stamped = labels.clone();
    stamped.insert(
        meta::MANAGED_BY_LABEL.to_owned(),
        meta::MANAGED_BY_VALUE.to_owned(),
    );
    stamped.insert(meta::INSTANCE_LABEL.to_owned(), stamp.instance.clone());
    let mut out = BTreeMap::new();
    for (k, v) in &stamped {
        let key = label_key(k);
        if !valid_key(&key) {
            return Err(unsupported(
                Feature::ContainerGroups,
                &format!("{path}.{k:?}"),
                &format!(
                    "Nova metadata keys are at most {MAX_LEN} characters of [a-zA-Z0-9-_:. ]; \
                     this label becomes {key:?} ({} characters)",
                    key.chars().count()
                ),
            ));
        }
        if v.chars().count() > MAX_LEN {
            return Err(unsupported(
                Feature::ContainerGroups,
                &format!("{path}.{k:?}"),
                &format!("Nova metadata values are at most {MAX_LEN} characters"),
            ));
        }
        out.insert(key, v.clone());
    }
    out.insert(KIND_KEY.to_owned(), meta::Kind::ContainerGroup.to_string());
    if let Some(g) = generation {
        out.insert(GENERATION_KEY.to_owned(), g.to_string());
    }
    Ok(out)
}

/// The labels carried by a server's metadata (ownership stamp included).
pub(crate) fn labels_of(metadata: &BTreeMap<String, String>) -> Labels {
    metadata
        .iter()
        .filter_map(|(k, v)| label_of_key(k).map(|k| (k, v.clone())))
        .collect()
}

/// The generation carried by a server's metadata.
pub(crate) fn generation_of(metadata: &BTreeMap<String, String>) -> Option<u64> {
    metadata.get(GENERATION_KEY).and_then(|g| g.parse().ok())
}

/// Whether a server with this metadata belongs to the tars instance of `stamp`.
pub(crate) fn owned_by(metadata: &BTreeMap<String, String>, stamp: &Stamp) -> bool {
    metadata
        .get(&label_key(meta::MANAGED_BY_LABEL))
        .map(String::as_str)
        == Some(meta::MANAGED_BY_VALUE)
        && metadata.get(&label_key(meta::INSTANCE_LABEL)) == Some(&stamp.instance)
}

#[cfg(test)]
mod tests {
    use super::super::tests::stamp;
    use super::*;

    #[test]
    fn labels_become_valid_keys_and_read_back() {
        let mut labels = Labels::new();
        labels.insert("app".into(), "web".into());
        labels.insert("tars.dev/template-hash".into(), "5f6d7c".into());
        let m = server_metadata(&labels, Some(3), &stamp(), "metadata.labels").expect("metadata");
        assert_eq!(m["label:app"], "web");
        assert_eq!(m["label:tars.dev:template-hash"], "5f6d7c");
        assert_eq!(m["label:app.kubernetes.io:managed-by"], "tars");
        assert_eq!(m["label:tars.dev:instance"], "billing");
        assert_eq!(m["tars:kind"], "ContainerGroup");
        assert_eq!(m["tars:generation"], "3");
        for (k, v) in &m {
            assert!(valid_key(k), "{k}");
            assert!(v.chars().count() <= MAX_LEN, "{k}");
        }
        let back = labels_of(&m);
        assert_eq!(back["app"], "web");
        assert_eq!(back["tars.dev/template-hash"], "5f6d7c");
        assert_eq!(back[meta::MANAGED_BY_LABEL], meta::MANAGED_BY_VALUE);
        assert_eq!(back.len(), 4);
        assert_eq!(generation_of(&m), Some(3));
        assert!(owned_by(&m, &stamp()));
        let other = Stamp {
            instance: "other".into(),
            ..stamp()
        };
        assert!(!owned_by(&m, &other));
    }

    #[test]
    fn a_label_too_long_for_a_nova_key_is_unsupported_naming_it() {
        let key = format!("{}.example/{}", "a".repeat(240), "name");
        let mut labels = Labels::new();
        labels.insert(key.clone(), "v".into());
        let err = server_metadata(&labels, None, &stamp(), "metadata.labels").expect_err("long");
        let text = err.to_string();
        assert!(matches!(err, tars_api::Error::Unsupported { .. }), "{text}");
        assert!(text.contains(&format!("metadata.labels.{key:?}")), "{text}");
    }

    #[test]
    fn nova_key_rule() {
        assert!(valid_key("label:tars.dev:instance"));
        assert!(valid_key("a b"));
        assert!(!valid_key("tars.dev/instance"));
        assert!(!valid_key(""));
        assert!(!valid_key(&"k".repeat(256)));
        assert_eq!(label_of_key("tars:kind"), None);
    }
}
