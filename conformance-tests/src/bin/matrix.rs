//! `conformance-matrix`: merges the cells the conformance runs wrote into
//! `target/conformance/<column>.md` and `target/conformance/matrix.md`, and fails when any cell's
//! status differs from the committed expectation (`conformance-tests/expected/<column>.md`) or
//! a case has no result.

use std::collections::BTreeMap;
use std::process::ExitCode;

use tars_conformance::cases;
use tars_conformance::matrix;

/// The columns in matrix order; a column is included when its expectation is committed.
const COLUMNS: &[&str] = &["local", "k8s", "mesos", "chronos-double", "openstack"];

fn main() -> ExitCode {
    let cases: Vec<&str> = cases::all().iter().map(|c| c.name).collect();
    let out = matrix::output_dir();
    let mut table = Vec::new();
    let mut problems = Vec::new();
    for column in COLUMNS {
        if !matrix::expected_path(column).exists() {
            continue;
        }
        let expected = matrix::expected(column);
        let cells = match matrix::read_cells(column) {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!(
                    "{column}: no results ({}: {e})",
                    matrix::cells_dir(column).display()
                ));
                BTreeMap::new()
            }
        };
        for case in &cases {
            let got = cells.get(*case).map(|c| matrix::status_of(c));
            let want = expected.get(*case).map(|c| matrix::status_of(c));
            match (got, want) {
                (Some(g), Some(w)) if g == w => {}
                (None, _) => problems.push(format!("{column}/{case}: no result")),
                (Some(_), w) => problems.push(format!(
                    "{column}/{case}: got `{}`, expected `{}`",
                    cells[*case],
                    w.unwrap_or("(no row)")
                )),
            }
        }
        let one = matrix::render(&[(column.to_string(), cells.clone())], &cases);
        let path = out.join(format!("{column}.md"));
        if let Err(e) = std::fs::create_dir_all(&out).and_then(|_| std::fs::write(&path, one)) {
            problems.push(format!("{}: {e}", path.display()));
        }
        table.push((column.to_string(), cells));
    }
    let merged = matrix::render(&table, &cases);
    let path = out.join("matrix.md");
    if let Err(e) = std::fs::write(&path, &merged) {
        eprintln!("{}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("{merged}");
    println!("written to {}", path.display());
    if problems.is_empty() {
        println!("conformance matrix matches the committed expectation");
        ExitCode::SUCCESS
    } else {
        eprintln!("conformance matrix differs from the committed expectation:");
        for p in &problems {
            eprintln!("  {p}");
        }
        ExitCode::FAILURE
    }
}
