//! Replays the committed fuzz corpora of `fuzz/corpus/{manifest,cron}` through the very checks
//! the fuzz targets run (`fuzz/src/api.rs`), so CI on stable keeps every input the fuzzer found
//! interesting passing: no panic, refusals only as `Error::Invalid` naming a field, schedules
//! whose upcoming instants strictly increase.

use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/api.rs"]
pub mod check;
#[path = "../../fuzz/src/replay.rs"]
pub mod replay;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn manifest_corpus_is_refused_as_invalid_or_round_trips() {
    replay::replay(&corpus("manifest"), check::manifest);
}

#[test]
fn cron_corpus_schedules_strictly_increase() {
    replay::replay(&corpus("cron"), check::schedule);
}

/// A scratch directory holding `files`, removed again by the caller.
fn scratch(name: &str, files: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tars-fuzz-replay-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    for file in files {
        std::fs::write(dir.join(file), b"0 0 * * *").expect("scratch file");
    }
    dir
}

fn replay_fails(dir: &Path, check: fn(&[u8]) -> Result<(), String>) -> bool {
    std::panic::catch_unwind(|| replay::replay(dir, check)).is_err()
}

#[test]
fn replay_fails_on_a_missing_or_empty_corpus() {
    assert!(replay_fails(&corpus("no-such-target"), check::schedule));
    let empty = scratch("empty", &[]);
    let failed = replay_fails(&empty, check::schedule);
    std::fs::remove_dir_all(&empty).expect("cleanup");
    assert!(failed, "an empty corpus passed");
}

#[test]
fn replay_fails_when_the_check_fails_or_panics_on_any_file() {
    let dir = scratch("failing", &["a", "b"]);
    let passes = !replay_fails(&dir, check::schedule);
    let violation = replay_fails(&dir, |data| {
        if data.is_empty() {
            Ok(())
        } else {
            Err("violated".to_owned())
        }
    });
    let panic = replay_fails(&dir, |_| panic!("a panic in tars"));
    std::fs::remove_dir_all(&dir).expect("cleanup");
    assert!(passes, "a valid schedule failed the cron check");
    assert!(violation, "a violated property passed");
    assert!(panic, "a panic passed");
}
