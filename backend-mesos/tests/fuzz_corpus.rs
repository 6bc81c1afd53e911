//! Replays the committed fuzz corpora of `fuzz/corpus/{recordio,mesos_event}` through the very
//! checks the fuzz targets run (`fuzz/src/mesos.rs`), so CI on stable keeps every input the
//! fuzzer found interesting passing: RecordIO decodes the same however it is cut, and Mesos JSON
//! that decodes survives a round trip.

use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/mesos.rs"]
pub mod check;
#[path = "../../fuzz/src/replay.rs"]
pub mod replay;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn recordio_corpus_decodes_the_same_in_chunks_and_at_once() {
    replay::replay(&corpus("recordio"), check::recordio);
}

#[test]
fn mesos_event_corpus_round_trips() {
    replay::replay(&corpus("mesos_event"), check::mesos_json);
}
