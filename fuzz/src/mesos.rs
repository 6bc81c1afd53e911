//! Checks of `tars-backend-mesos`' decoders: RecordIO framing and the v1 JSON messages.
//!
//! Each function takes the fuzzer's bytes and returns `Err` with a description when a property
//! is violated; a panic inside tars is a violation too (the fuzzer and the replay test both
//! catch it).

use std::fmt::Debug;
use std::mem::discriminant;

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tars_backend_mesos::recordio::{self, DEFAULT_MAX_RECORD_SIZE, Decoder, RecordIoError};
use tars_backend_mesos::v1::{master, scheduler};

/// At most this many chunk sizes are read from the input.
const MAX_CUTS: usize = 16;

/// What a decoder made of a whole stream: the records before the first error, and that error
/// (or the one [`Decoder::finish`] reports, if any).
#[derive(Debug)]
struct Outcome {
    records: Vec<Bytes>,
    error: Option<RecordIoError>,
}

impl Outcome {
    fn same_as(&self, other: &Outcome) -> bool {
        self.records == other.records
            && self.error.as_ref().map(discriminant) == other.error.as_ref().map(discriminant)
    }
}

/// Reads `data` as `[limit][n][n chunk sizes][stream]`: the decoder's record size limit
/// (`limit` bytes, the default limit when 0), then how the stream is cut (sizes used in turn,
/// a 0 feeding an empty chunk and then one byte; byte by byte when `n` is 0).
///
/// Properties: the chunked decoder yields the same records and the same kind of error as one
/// fed the stream at once; after an error it refuses to go on; the records, encoded again, decode
/// to themselves.
pub fn recordio(data: &[u8]) -> Result<(), String> {
    let [limit, n, rest @ ..] = data else {
        return Ok(());
    };
    let max = match usize::from(*limit) {
        0 => DEFAULT_MAX_RECORD_SIZE,
        small => small,
    };
    let (cuts, stream) = rest.split_at(usize::from(*n).min(MAX_CUTS).min(rest.len()));
    let whole = decode(max, &[stream]);
    let chunked = decode(max, &chunks(stream, cuts));
    if !whole.same_as(&chunked) {
        return Err(format!(
            "fed at once: {whole:?}\nfed in chunks cut at {cuts:?}: {chunked:?}"
        ));
    }
    let mut encoded = BytesMut::new();
    for record in &whole.records {
        recordio::encode(record, &mut encoded);
    }
    let again = decode(max, &[&encoded]);
    if again.records != whole.records || again.error.is_some() {
        return Err(format!(
            "records {:?} encoded again decode to {again:?}",
            whole.records
        ));
    }
    Ok(())
}

/// `stream` cut into pieces of the sizes in `cuts`, in turn.
fn chunks<'a>(stream: &'a [u8], cuts: &[u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = stream;
    let mut sizes = cuts.iter().map(|&c| usize::from(c)).cycle();
    while !rest.is_empty() {
        let mut size = if cuts.is_empty() {
            1
        } else {
            sizes.next().unwrap_or(1)
        };
        if size == 0 {
            // An empty chunk, then a byte: the stream must make progress.
            pieces.push(&rest[..0]);
            size = 1;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

fn decode(max: usize, chunks: &[&[u8]]) -> Outcome {
    let mut decoder = Decoder::with_max_record_size(max);
    let mut records = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        loop {
            match decoder.next_record() {
                Ok(Some(record)) => records.push(record),
                Ok(None) => break,
                Err(error) => return failed(decoder, records, error),
            }
        }
    }
    let error = decoder.finish().err();
    Outcome { records, error }
}

/// The outcome of a decoder that failed with `error`; a decoder that does not stay failed is
/// reported as a `Failed` error following it, which no stream decoded at once produces.
fn failed(mut decoder: Decoder, records: Vec<Bytes>, error: RecordIoError) -> Outcome {
    decoder.feed(b"1\nx");
    let stays_failed = decoder.next_record() == Err(RecordIoError::Failed)
        && decoder.finish() == Err(RecordIoError::Failed);
    Outcome {
        records,
        error: Some(if stays_failed {
            error
        } else {
            RecordIoError::Failed
        }),
    }
}

/// Decodes `data` as a scheduler `Event`, an operator `Response` and a scheduler `Call`.
///
/// Property: whatever decodes encodes, and the encoding decodes to the same value.
pub fn mesos_json(data: &[u8]) -> Result<(), String> {
    round_trip::<scheduler::Event>("Event", data)?;
    round_trip::<master::Response>("Response", data)?;
    round_trip::<scheduler::Call>("Call", data)
}

fn round_trip<T>(what: &str, data: &[u8]) -> Result<(), String>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return Ok(());
    };
    let encoded =
        serde_json::to_vec(&value).map_err(|e| format!("{what} {value:?} does not encode: {e}"))?;
    let again: T = serde_json::from_slice(&encoded).map_err(|e| {
        format!(
            "{what} {value:?} encodes as {} which does not decode: {e}",
            String::from_utf8_lossy(&encoded)
        )
    })?;
    if again != value {
        return Err(format!(
            "{what} changed in a round trip:\n{value:?}\nbecame\n{again:?}"
        ));
    }
    Ok(())
}
