//! RecordIO framing, as Mesos' v1 HTTP APIs use it for event streams.
//!
//! A record is its length in bytes as ASCII decimal digits, a line feed, then exactly that many
//! bytes: `<length>\n<bytes>`. The scheduler API's `SUBSCRIBE` response body (and the executor
//! API's) is an endless sequence of such records, each one JSON-encoded `Event`. HTTP delivers it
//! in chunks with no relation to the records: a record may be split over several chunks, and one
//! chunk may hold several records. [`Decoder`] is fed chunks as they come and hands out complete
//! records; [`encode`] writes one record.

use bytes::{Buf, Bytes, BytesMut};

/// The largest record [`Decoder::new`] accepts: 16 MiB. A Mesos event this large would be an
/// `OFFERS` event from a very large cluster; anything bigger is treated as a broken stream rather
/// than buffered without end.
pub const DEFAULT_MAX_RECORD_SIZE: usize = 16 * 1024 * 1024;

/// The most digits a length may have: enough for any `u64`. A longer header without a line feed
/// cannot be a length.
const MAX_HEADER_DIGITS: usize = 20;

/// Why a RecordIO stream could not be decoded. After an error the stream is out of step (where
/// the next record starts is unknown), so the [`Decoder`] refuses further input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordIoError {
    /// The header before a record is not a decimal length followed by a line feed.
    #[error("invalid RecordIO length header {header:?}")]
    InvalidLength {
        /// The header bytes seen (lossily decoded, at most [`MAX_HEADER_DIGITS`] + 1 bytes).
        header: String,
    },
    /// A record announced a length above the decoder's limit.
    #[error("RecordIO record of {length} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The announced length.
        length: u64,
        /// The decoder's limit.
        max: usize,
    },
    /// The stream ended in the middle of a record or a header.
    #[error("RecordIO stream ended inside a record ({buffered} bytes pending)")]
    Truncated {
        /// Bytes received of the unfinished header or record.
        buffered: usize,
    },
    /// The decoder failed earlier and cannot continue.
    #[error("RecordIO decoder used after an earlier error")]
    Failed,
}

/// Where the decoder is within the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the decimal length up to the line feed.
    Header,
    /// Reading a record body of this many bytes.
    Body(usize),
    /// An error happened; nothing more is decoded.
    Failed,
}

/// An incremental RecordIO decoder: [`feed`](Decoder::feed) it chunks in order and take the
/// complete records with [`next_record`](Decoder::next_record) (or both at once with
/// [`decode`](Decoder::decode)).
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max_record_size: usize,
    state: State,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder accepting records up to [`DEFAULT_MAX_RECORD_SIZE`].
    pub fn new() -> Self {
        Self::with_max_record_size(DEFAULT_MAX_RECORD_SIZE)
    }

    /// A decoder accepting records up to `max` bytes.
    pub fn with_max_record_size(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max_record_size: max,
            state: State::Header,
        }
    }

    /// Appends a chunk of the stream. Nothing is decoded until [`next_record`](Self::next_record).
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.state != State::Failed {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The next complete record, `Ok(None)` if more input is needed.
    pub fn next_record(&mut self) -> Result<Option<Bytes>, RecordIoError> {
        loop {
            match self.state {
                State::Failed => return Err(RecordIoError::Failed),
                State::Header => {
                    let Some(newline) = self.buf.iter().position(|&b| b == b'\n') else {
                        if self.buf.len() > MAX_HEADER_DIGITS
                            || self.buf.iter().any(|b| !b.is_ascii_digit())
                        {
                            let header = self.header_text(self.buf.len());
                            return self.fail(RecordIoError::InvalidLength { header });
                        }
                        return Ok(None);
                    };
                    let length = match parse_length(&self.buf[..newline]) {
                        Some(length) => length,
                        None => {
                            let header = self.header_text(newline + 1);
                            return self.fail(RecordIoError::InvalidLength { header });
                        }
                    };
                    let fits = usize::try_from(length)
                        .ok()
                        .filter(|&n| n <= self.max_record_size);
                    let Some(length) = fits else {
                        let max = self.max_record_size;
                        return self.fail(RecordIoError::TooLarge { length, max });
                    };
                    self.buf.advance(newline + 1);
                    self.state = State::Body(length);
                }
                State::Body(length) => {
                    if self.buf.len() < length {
                        // Reserve once for the whole record rather than growing chunk by chunk.
                        self.buf.reserve(length - self.buf.len());
                        return Ok(None);
                    }
                    self.state = State::Header;
                    return Ok(Some(self.buf.split_to(length).freeze()));
                }
            }
        }
    }

    /// Feeds `chunk` and returns every record it completed, in order.
    pub fn decode(&mut self, chunk: &[u8]) -> Result<Vec<Bytes>, RecordIoError> {
        self.feed(chunk);
        let mut records = Vec::new();
        while let Some(record) = self.next_record()? {
            records.push(record);
        }
        Ok(records)
    }

    /// Checks that the stream ended between records: call it when the input is exhausted.
    pub fn finish(&self) -> Result<(), RecordIoError> {
        match self.state {
            State::Failed => Err(RecordIoError::Failed),
            State::Header if self.buf.is_empty() => Ok(()),
            State::Header | State::Body(_) => Err(RecordIoError::Truncated {
                buffered: self.buf.len(),
            }),
        }
    }

    /// The first `len` buffered bytes (at most one header's worth), for an error message.
    fn header_text(&self, len: usize) -> String {
        let len = len.min(MAX_HEADER_DIGITS + 1).min(self.buf.len());
        String::from_utf8_lossy(&self.buf[..len]).into_owned()
    }

    /// Records the error, drops the buffer, and returns it.
    fn fail<T>(&mut self, error: RecordIoError) -> Result<T, RecordIoError> {
        self.state = State::Failed;
        self.buf = BytesMut::new();
        Err(error)
    }
}

/// A length header's digits as a number: ASCII decimal only, at least one digit, no sign or
/// spaces, within `u64`.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > MAX_HEADER_DIGITS {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Appends `record` to `out` as one RecordIO record.
pub fn encode(record: &[u8], out: &mut BytesMut) {
    let header = format!("{}\n", record.len());
    out.reserve(header.len() + record.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(record);
}

/// `record` as one RecordIO record.
pub fn encode_to_bytes(record: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    encode(record, &mut out);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(decoder: &mut Decoder, chunks: &[&[u8]]) -> Result<Vec<Bytes>, RecordIoError> {
        let mut records = Vec::new();
        for chunk in chunks {
            records.extend(decoder.decode(chunk)?);
        }
        Ok(records)
    }

    #[test]
    fn encodes_length_newline_bytes() {
        assert_eq!(
            &encode_to_bytes(b"{\"type\":\"HEARTBEAT\"}")[..],
            b"20\n{\"type\":\"HEARTBEAT\"}"
        );
        assert_eq!(&encode_to_bytes(b"")[..], b"0\n");
        let mut out = BytesMut::new();
        encode(b"ab", &mut out);
        encode(b"cde", &mut out);
        assert_eq!(&out[..], b"2\nab3\ncde");
    }

    #[test]
    fn several_records_in_one_chunk() {
        let mut d = Decoder::new();
        let records = d.decode(b"5\nhello1\n!0\n3\nabc").expect("valid stream");
        assert_eq!(
            records,
            vec![
                Bytes::from("hello"),
                Bytes::from("!"),
                Bytes::new(),
                Bytes::from("abc")
            ]
        );
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn record_split_across_chunks_including_inside_the_header() {
        let mut d = Decoder::new();
        let chunks: [&[u8]; 5] = [b"1", b"2", b"\nhello", b" wor", b"ld!3\nxyz"];
        let mut seen = Vec::new();
        for chunk in chunks {
            seen.push(d.decode(chunk).expect("valid stream"));
        }
        assert!(
            seen[0].is_empty() && seen[1].is_empty() && seen[2].is_empty() && seen[3].is_empty()
        );
        assert_eq!(
            seen[4],
            vec![Bytes::from("hello world!"), Bytes::from("xyz")]
        );
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn needs_more_input_is_none_not_an_error() {
        let mut d = Decoder::new();
        d.feed(b"10\nabc");
        assert_eq!(d.next_record(), Ok(None));
        assert_eq!(d.finish(), Err(RecordIoError::Truncated { buffered: 3 }));
        d.feed(b"defghij");
        assert_eq!(d.next_record(), Ok(Some(Bytes::from("abcdefghij"))));
        assert_eq!(d.next_record(), Ok(None));
    }

    #[test]
    fn truncated_header_is_reported_by_finish() {
        let mut d = Decoder::new();
        assert!(
            d.decode(b"12")
                .expect("a partial header is fine")
                .is_empty()
        );
        assert_eq!(d.finish(), Err(RecordIoError::Truncated { buffered: 2 }));
    }

    #[test]
    fn invalid_lengths_are_typed_errors() {
        for bad in [
            &b"x\n"[..],
            b"\n",
            b"-1\n",
            b"+1\n",
            b" 1\n",
            b"1 \n",
            b"1a\n",
            b"abc",
        ] {
            let mut d = Decoder::new();
            match d.decode(bad) {
                Err(RecordIoError::InvalidLength { header }) => {
                    assert!(
                        !header.is_empty() || bad == b"\n",
                        "{bad:?} gave header {header:?}"
                    );
                }
                other => panic!("{bad:?}: expected InvalidLength, got {other:?}"),
            }
            assert_eq!(
                d.decode(b"1\na"),
                Err(RecordIoError::Failed),
                "poisoned after {bad:?}"
            );
            assert_eq!(d.finish(), Err(RecordIoError::Failed));
        }
    }

    #[test]
    fn header_without_newline_longer_than_any_length_is_invalid() {
        let mut d = Decoder::new();
        assert!(d.decode(b"1234567890").expect("still plausible").is_empty());
        assert!(
            d.decode(b"1234567890")
                .expect("20 digits is still plausible")
                .is_empty()
        );
        assert!(matches!(
            d.decode(b"1"),
            Err(RecordIoError::InvalidLength { .. })
        ));
    }

    #[test]
    fn length_overflowing_u64_is_invalid() {
        let mut d = Decoder::new();
        assert!(matches!(
            d.decode(b"99999999999999999999\n"),
            Err(RecordIoError::InvalidLength { .. })
        ));
    }

    #[test]
    fn records_above_the_limit_are_refused_before_buffering() {
        let mut d = Decoder::with_max_record_size(8);
        assert_eq!(
            d.decode(b"8\n12345678").expect("at the limit"),
            vec![Bytes::from("12345678")]
        );
        assert_eq!(
            d.decode(b"9\n"),
            Err(RecordIoError::TooLarge { length: 9, max: 8 })
        );
        let mut d = Decoder::new();
        assert_eq!(
            d.decode(b"18446744073709551615\n"),
            Err(RecordIoError::TooLarge {
                length: u64::MAX,
                max: DEFAULT_MAX_RECORD_SIZE
            })
        );
    }

    #[test]
    fn error_mid_stream_keeps_the_records_before_it_available_one_by_one() {
        let mut d = Decoder::new();
        d.feed(b"1\na1\nbz\n");
        assert_eq!(d.next_record(), Ok(Some(Bytes::from("a"))));
        assert_eq!(d.next_record(), Ok(Some(Bytes::from("b"))));
        assert!(
            matches!(d.next_record(), Err(RecordIoError::InvalidLength { header }) if header == "z\n")
        );
    }

    /// Random records, encoded, cut into random chunks: decoding gives the records back, whatever
    /// the cut. Deterministic seed so a failure reproduces.
    #[test]
    fn random_chunkings_round_trip() {
        let mut rng = fastrand::Rng::with_seed(0x7a25_0007);
        for round in 0..500 {
            let count = rng.usize(0..12);
            let records: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let len = match rng.u8(0..10) {
                        0 => 0,
                        1 => rng.usize(100..3000),
                        _ => rng.usize(1..40),
                    };
                    (0..len).map(|_| rng.u8(..)).collect()
                })
                .collect();
            let mut stream = BytesMut::new();
            for record in &records {
                encode(record, &mut stream);
            }
            let mut chunks = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = match rng.u8(0..4) {
                    0 => 1,
                    _ => rng.usize(1..=rest.len().min(64)),
                };
                let (chunk, tail) = rest.split_at(n);
                chunks.push(chunk);
                rest = tail;
                if rng.u8(0..8) == 0 {
                    chunks.push(&[]);
                }
            }
            let mut d = Decoder::new();
            let decoded = decode_all(&mut d, &chunks).expect("valid stream");
            assert_eq!(decoded.len(), records.len(), "round {round}");
            for (got, want) in decoded.iter().zip(&records) {
                assert_eq!(&got[..], &want[..], "round {round}");
            }
            assert_eq!(d.finish(), Ok(()), "round {round}");
        }
    }

    /// A random prefix of a valid stream decodes to a prefix of its records, and `finish` says
    /// whether the cut fell between records.
    #[test]
    fn random_truncations_give_a_prefix_and_report_the_cut() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..300 {
            let records: Vec<Vec<u8>> = (0..rng.usize(1..6))
                .map(|_| vec![b'r'; rng.usize(0..20)])
                .collect();
            let mut stream = BytesMut::new();
            let mut boundaries = vec![0];
            for record in &records {
                encode(record, &mut stream);
                boundaries.push(stream.len());
            }
            let cut = rng.usize(0..=stream.len());
            let mut d = Decoder::new();
            let decoded = d.decode(&stream[..cut]).expect("a prefix is valid");
            let complete = boundaries.iter().filter(|&&b| b > 0 && b <= cut).count();
            assert_eq!(decoded.len(), complete);
            assert_eq!(d.finish().is_ok(), boundaries.contains(&cut));
        }
    }
}
