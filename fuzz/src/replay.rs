//! Replays a committed fuzz corpus through a target's check, for the crates' ordinary tests.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// Runs `check` on every file of the corpus directory `dir` and panics listing the files whose
/// check failed or panicked. A missing or empty directory fails too: the replay must not pass
/// without checking anything.
pub fn replay(dir: &Path, check: fn(&[u8]) -> Result<(), String>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} cannot be read: {e}", dir.display()));
    let mut files: Vec<_> = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("fuzz corpus {} cannot be listed: {e}", dir.display()));
    files.retain(|path| path.is_file());
    files.sort();
    assert!(!files.is_empty(), "fuzz corpus {} is empty", dir.display());
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path)
            .unwrap_or_else(|e| panic!("corpus file {} cannot be read: {e}", path.display()));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        match catch_unwind(AssertUnwindSafe(|| check(&data))) {
            Ok(Ok(())) => {}
            Ok(Err(violation)) => failed.push(format!("{name}: {violation}")),
            Err(_) => failed.push(format!("{name}: panicked (message above)")),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} corpus files of {} fail:\n{}",
        failed.len(),
        files.len(),
        dir.display(),
        failed.join("\n")
    );
}
