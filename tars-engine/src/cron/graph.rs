//! The parent graph of the stored jobs: a job applied with parents that would close a cycle
//! through jobs already stored is refused before anything changes.

use std::collections::{BTreeMap, BTreeSet};

use tars_api::{Error, Result};

/// Refuses `parents` for job `name` when, with every other job's parents as in `stored`, they
/// would form a cycle; the error is `Error::Invalid` at `spec.parents`, naming the cycle.
pub fn check_acyclic(
    stored: &BTreeMap<String, Vec<String>>,
    name: &str,
    parents: &[String],
) -> Result<()> {
    // A path from one of `parents` back to `name`, following parent edges, closes a cycle.
    for start in parents {
        if let Some(path) = path_to(stored, name, start, name) {
            let mut cycle = vec![name.to_owned()];
            cycle.extend(path);
            return Err(Error::invalid(
                "spec.parents",
                format!(
                    "parents form a cycle through stored jobs: {}",
                    cycle.join(" -> ")
                ),
            ));
        }
    }
    Ok(())
}

/// A path of parent edges from `from` to `to` (both included), ignoring `skip`'s stored edges
/// (they are being replaced). Iterative depth-first search, so long chains cannot overflow.
fn path_to(
    stored: &BTreeMap<String, Vec<String>>,
    skip: &str,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<(String, usize)> = vec![(from.to_owned(), 0)];
    seen.insert(from.to_owned());
    while let Some((node, next)) = stack.last().cloned() {
        if node == to {
            return Some(stack.into_iter().map(|(n, _)| n).collect());
        }
        let edges: &[String] = if node == skip {
            &[]
        } else {
            stored.get(&node).map_or(&[], Vec::as_slice)
        };
        match edges.get(next) {
            None => {
                stack.pop();
            }
            Some(parent) => {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                if seen.insert(parent.clone()) || parent == to {
                    stack.push((parent.clone(), 0));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(n, ps)| (n.to_string(), ps.iter().map(|p| p.to_string()).collect()))
            .collect()
    }

    #[test]
    fn a_cycle_through_stored_jobs_is_refused_at_spec_parents() {
        let stored = graph(&[("b", &["c"]), ("c", &["a"])]);
        let e = check_acyclic(&stored, "a", &["b".into()]).expect_err("cycle");
        match e {
            Error::Invalid { field, reason } => {
                assert_eq!(field, "spec.parents");
                assert!(reason.contains("a -> b -> c -> a"), "{reason}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_dag_and_unknown_parents_are_fine() {
        let stored = graph(&[("b", &["root"]), ("c", &["root", "b"]), ("root", &[])]);
        check_acyclic(&stored, "d", &["b".into(), "c".into(), "elsewhere".into()]).expect("dag");
        // Re-applying a stored job with new parents ignores its old edges.
        let stored = graph(&[("a", &["b"]), ("b", &[])]);
        check_acyclic(&stored, "a", &["b".into()]).expect("same edges");
        check_acyclic(&stored, "b", &[]).expect("no parents");
        assert!(check_acyclic(&stored, "b", &["a".into()]).is_err());
    }
}
