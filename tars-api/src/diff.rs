//! Which fields differ between two versions of an object: what `apply` reports as changed.

use serde::Serialize;
use serde_json::Value;

use crate::object::{Object, Spec};

/// Field paths of the user part (labels, annotations, spec) that differ between `old` and
/// `new`, in document order; empty when they are the same.
pub fn changed_fields<S: Spec>(old: &Object<S>, new: &Object<S>) -> Vec<String> {
    let mut out = Vec::new();
    diff_value(
        &to_value(&old.metadata.labels),
        &to_value(&new.metadata.labels),
        "metadata.labels",
        &mut out,
    );
    diff_value(
        &to_value(&old.metadata.annotations),
        &to_value(&new.metadata.annotations),
        "metadata.annotations",
        &mut out,
    );
    diff_value(&to_value(&old.spec), &to_value(&new.spec), "spec", &mut out);
    out
}

fn to_value<T: Serialize>(v: &T) -> Value {
    // Our types serialize to JSON by construction; a failure would be a bug in a Serialize
    // impl, and shows as a changed field rather than a panic.
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn diff_value(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let sub = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff_value(x, y, &sub, out),
                    _ => out.push(sub),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_value(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        _ => out.push(path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{Container, ContainerGroup, ContainerGroupSpec};

    fn group(args: &[&str]) -> ContainerGroup {
        let mut c = Container::new("app", "img", &["sleep"]);
        c.args = args.iter().map(|s| s.to_string()).collect();
        ContainerGroup::new("g", ContainerGroupSpec::new(vec![c]))
    }

    #[test]
    fn same_object_has_no_changes_and_status_is_ignored() {
        let a = group(&["1"]);
        let mut b = a.clone();
        b.metadata.generation = Some(7);
        assert!(changed_fields(&a, &b).is_empty());
    }

    #[test]
    fn changed_args_and_labels_are_named() {
        let a = group(&["1"]);
        let b = group(&["2"]).with_label("tier", "web");
        assert_eq!(
            changed_fields(&a, &b),
            vec!["metadata.labels.tier", "spec.containers[0].args[0]"]
        );
    }
}
