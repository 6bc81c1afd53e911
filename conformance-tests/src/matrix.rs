//! The matrix files: cells written by the cases, the per-column tables, the merged
//! `matrix.md`, and the comparison with the committed expectation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `target/conformance` (or `$CARGO_TARGET_DIR/conformance`).
pub fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("conformance")
}

/// Where the cells of one column are written, one file per case.
pub fn cells_dir(column: &str) -> PathBuf {
    output_dir().join("cells").join(column)
}

/// The committed expectation of a column.
pub fn expected_path(column: &str) -> PathBuf {
    workspace_root()
        .join("conformance-tests")
        .join("expected")
        .join(format!("{column}.md"))
}

/// The status word a cell begins with.
pub fn status_of(cell: &str) -> &str {
    for status in ["not run", "unsupported", "pass", "fail"] {
        if cell.starts_with(status) {
            return status;
        }
    }
    "?"
}

/// Reads a one-column table (`| case | column |`) into case → cell.
pub fn read_column_table(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .filter_map(|l| {
            let cols: Vec<&str> = l
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            match cols.as_slice() {
                [case, cell, ..] => Some((case.to_string(), cell.to_string())),
                _ => None,
            }
        })
        .collect()
}

/// The expected cells of a column; empty when none are committed.
pub fn expected(column: &str) -> BTreeMap<String, String> {
    std::fs::read_to_string(expected_path(column))
        .map(|t| read_column_table(&t))
        .unwrap_or_default()
}

/// Renders a table with one row per case and one column per backend.
pub fn render(columns: &[(String, BTreeMap<String, String>)], cases: &[&str]) -> String {
    let mut out = String::from("| case |");
    for (name, _) in columns {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str("\n|---|");
    for _ in columns {
        out.push_str("---|");
    }
    out.push('\n');
    for case in cases {
        out.push_str(&format!("| {case} |"));
        for (_, cells) in columns {
            let cell = cells
                .get(*case)
                .map(String::as_str)
                .unwrap_or("not run: no result");
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

/// Reads the cells a column's run wrote.
pub fn read_cells(column: &str) -> std::io::Result<BTreeMap<String, String>> {
    let mut cells = BTreeMap::new();
    for entry in std::fs::read_dir(cells_dir(column))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt")
            && let Some(case) = path.file_stem().and_then(|s| s.to_str())
        {
            let cell = std::fs::read_to_string(&path)?.trim().to_owned();
            cells.insert(case.to_owned(), cell);
        }
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip_and_statuses_are_read() {
        let cols = vec![(
            "local".to_owned(),
            BTreeMap::from([
                ("a".to_owned(), "pass".to_owned()),
                ("b".to_owned(), "not run: no engine".to_owned()),
            ]),
        )];
        let text = render(&cols, &["a", "b"]);
        assert!(text.starts_with("| case | local |\n|---|---|\n"));
        let back = read_column_table(&text);
        assert_eq!(back, cols[0].1);
        assert_eq!(status_of("not run: x"), "not run");
        assert_eq!(status_of("unsupported: y"), "unsupported");
        assert_eq!(status_of("weird"), "?");
    }
}
