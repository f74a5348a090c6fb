//! Reading a CSV file in blocks that end on record boundaries, hashing the
//! bytes as they arrive.
//!
//! Parsing block by block keeps the whole file out of memory: a load holds
//! the frame parsed so far and one block, not a copy of the file beside the
//! frame (which doubled the peak of a load). Each byte is read once, so the
//! fingerprint is the hash of exactly the bytes parsed, even if the file
//! changes meanwhile; and nothing is memory-mapped, so a file truncated in
//! place during a load is a short read, not a `SIGBUS`.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use memchr::{memchr, memchr2, memchr3};
use xxhash_rust::xxh3::Xxh3;

/// Blocks of whole records read from `R`.
pub(super) struct Blocks<R> {
    reader: R,
    /// Read, not yet handed out: the start of the next block.
    buf: Vec<u8>,
    block_size: usize,
    /// Records the first block holds, exactly (the header and the rows
    /// schema inference reads), so that a block-wise parse infers what a
    /// parse of the whole file would, from a block that is cheap to read
    /// twice; `None` when the first block is like any other.
    first_records: Option<usize>,
    first: bool,
    eof: bool,
    quote: Option<u8>,
    delimiter: u8,
    hasher: Xxh3,
    hash_time: Duration,
    read_time: Duration,
    read_bytes: u64,
    last_byte: Option<u8>,
    ended_on_record: bool,
}

impl<R: Read> Blocks<R> {
    pub(super) fn new(
        reader: R,
        block_size: usize,
        first_records: Option<usize>,
        delimiter: u8,
        quote: Option<u8>,
    ) -> Self {
        Blocks {
            reader,
            buf: Vec::new(),
            block_size: block_size.max(1),
            first_records,
            first: true,
            eof: false,
            quote,
            delimiter,
            hasher: Xxh3::new(),
            hash_time: Duration::ZERO,
            read_time: Duration::ZERO,
            read_bytes: 0,
            last_byte: None,
            ended_on_record: false,
        }
    }

    /// Continues `hashed`, the hash of the `before` bytes that precede the
    /// reader's (a file that grew, read from where it ended).
    pub(super) fn with_hashed(mut self, hashed: Xxh3, before: u64) -> Self {
        if before > 0 {
            self.hasher = hashed;
        }
        self
    }

    /// The next block: whole records (the last one may lack its newline at
    /// the end of the file), or `None` at the end. What follows the block
    /// is read into `spare`, a block parsed already, when there is one: its
    /// pages are in memory, where a new buffer's are faulted in one by one
    /// as the file is read into it (150,000 page faults of a 10M-row
    /// file's 400,000).
    pub(super) fn next_block_into(
        &mut self,
        mut spare: Option<Vec<u8>>,
    ) -> io::Result<Option<Vec<u8>>> {
        let mut want = self.block_size;
        loop {
            self.fill(want)?;
            if self.buf.is_empty() {
                return Ok(None);
            }
            let cut = if let (true, Some(first_records)) = (self.first, self.first_records) {
                // Polars skips empty lines before the header without
                // counting them among the rows it infers from.
                let blank = self
                    .buf
                    .iter()
                    .take_while(|&&b| b == b'\n' || b == b'\r')
                    .filter(|&&b| b == b'\n')
                    .count();
                Cut::After(first_records.saturating_add(blank))
            } else {
                Cut::Last
            };
            let found = records_end(&self.buf, cut, self.delimiter, self.quote);
            let end = match found {
                None if self.eof => Some(self.buf.len()),
                end => end,
            };
            match end {
                Some(end) => {
                    self.first = false;
                    // Whether the bytes so far end where a record ends,
                    // outside quotes: only then can bytes appended to the
                    // file not change the records already read.
                    self.ended_on_record = found == Some(self.buf.len()) && end == self.buf.len();
                    // The block is handed out whole; the part of the next
                    // one read with it starts a new buffer.
                    let mut rest = match spare.take() {
                        Some(mut spare) => {
                            spare.clear();
                            spare
                        }
                        None => Vec::with_capacity(self.block_size.min(1 << 30)),
                    };
                    rest.extend_from_slice(&self.buf[end..]);
                    let mut block = std::mem::replace(&mut self.buf, rest);
                    block.truncate(end);
                    return Ok(Some(block));
                }
                // A record (or the first block's rows) longer than a block:
                // read on until it ends.
                None => want = want.saturating_mul(2),
            }
        }
    }

    /// Reads until `buf` holds `want` bytes or the file ends.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.eof || self.buf.len() >= want {
            return Ok(());
        }
        let start = self.buf.len();
        let asked = want - start;
        // `read_to_end` grows the buffer without zeroing it first.
        let reading = Instant::now();
        let result = (&mut self.reader)
            .take(asked as u64)
            .read_to_end(&mut self.buf);
        self.read_time += reading.elapsed();
        let hashing = Instant::now();
        self.hasher.update(&self.buf[start..]);
        self.hash_time += hashing.elapsed();
        self.read_bytes += (self.buf.len() - start) as u64;
        if self.buf.len() > start {
            self.last_byte = self.buf.last().copied();
        }
        self.eof = self.buf.len() - start < asked;
        result.map(drop)
    }

    /// The hash of every byte read so far.
    pub(super) fn digest(&self) -> u128 {
        self.hasher.digest128()
    }

    /// The time spent reading, without hashing.
    pub(super) fn read_time(&self) -> Duration {
        self.read_time
    }

    /// The time spent hashing.
    pub(super) fn hash_time(&self) -> Duration {
        self.hash_time
    }

    /// Whether the last block handed out ended exactly where its last
    /// record ends: after a newline outside quotes, nothing left over.
    pub(super) fn ended_on_record(&self) -> bool {
        self.ended_on_record && self.last_byte == Some(b'\n')
    }

    /// How many bytes were read.
    pub(super) fn read_bytes(&self) -> u64 {
        self.read_bytes
    }
}

/// Where a block of `bytes` (which start at a record) ends.
#[derive(Clone, Copy, Debug)]
pub(super) enum Cut {
    /// After the last whole record.
    Last,
    /// After the `n`th record.
    After(usize),
}

/// Where `cut` puts the end of a block in `bytes` (just past a record's
/// newline), if `bytes` hold that record; they start at a record.
///
/// Quotes are read as Polars' parser reads them: a quote opens a quoted
/// field only at the start of a field, and inside a field that started
/// quoted every quote toggles between inside and outside (so `""` is a
/// quote); a newline inside quotes belongs to the field.
pub(super) fn records_end(
    bytes: &[u8],
    cut: Cut,
    delimiter: u8,
    quote: Option<u8>,
) -> Option<usize> {
    let Some(quote) = quote.filter(|&q| memchr(q, bytes).is_some()) else {
        // No quotes: every newline ends a record.
        return match cut {
            Cut::Last => memchr::memrchr(b'\n', bytes).map(|i| i + 1),
            Cut::After(n) => memchr::memchr_iter(b'\n', bytes)
                .nth(n.checked_sub(1)?)
                .map(|i| i + 1),
        };
    };
    let mut ends = 0;
    let mut last = None;
    let mut pos = 0;
    let mut state = State::Plain;
    let mut record_ends = |pos: usize| {
        ends += 1;
        last = Some(pos);
        matches!(cut, Cut::After(n) if ends == n)
    };
    while pos < bytes.len() {
        match state {
            State::Plain => {
                let Some(i) = memchr2(quote, b'\n', &bytes[pos..]) else {
                    break;
                };
                let at = pos + i;
                pos = at + 1;
                if bytes[at] == b'\n' {
                    if record_ends(pos) {
                        return Some(pos);
                    }
                } else if at == 0 || bytes[at - 1] == delimiter || bytes[at - 1] == b'\n' {
                    state = State::Inside;
                }
            }
            State::Inside => {
                let Some(i) = memchr(quote, &bytes[pos..]) else {
                    break;
                };
                pos += i + 1;
                state = State::Outside;
            }
            State::Outside => {
                let Some(i) = memchr3(quote, delimiter, b'\n', &bytes[pos..]) else {
                    break;
                };
                let at = pos + i;
                pos = at + 1;
                if bytes[at] == quote {
                    state = State::Inside;
                } else {
                    if bytes[at] == b'\n' && record_ends(pos) {
                        return Some(pos);
                    }
                    state = State::Plain;
                }
            }
        }
    }
    match cut {
        Cut::Last => last,
        Cut::After(_) => None,
    }
}

#[derive(Clone, Copy)]
enum State {
    /// In a field that did not start with a quote (or between fields).
    Plain,
    /// Inside the quotes of a quoted field.
    Inside,
    /// In a field that started quoted, outside its quotes.
    Outside,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Record ends by a byte-at-a-time reading of the same rules.
    fn reference_ends(bytes: &[u8], quote: u8) -> Vec<usize> {
        let mut ends = Vec::new();
        let (mut quoted_field, mut inside, mut field_start) = (false, false, true);
        for (i, &b) in bytes.iter().enumerate() {
            if inside {
                inside = b != quote;
                continue;
            }
            if b == quote && (field_start || quoted_field) {
                quoted_field = true;
                inside = true;
            } else if b == b',' || b == b'\n' {
                quoted_field = false;
                if b == b'\n' {
                    ends.push(i + 1);
                }
            }
            field_start = b == b',' || b == b'\n';
        }
        ends
    }

    proptest! {
        #[test]
        fn blocks_end_where_records_end_and_cover_the_input(
            text in proptest::collection::vec(prop_oneof![
                Just(b'a'), Just(b'"'), Just(b','), Just(b'\n'), Just(b'\r'),
            ], 0..400),
            block_size in 1usize..64,
            first_records in 1usize..5,
        ) {
            let ends = reference_ends(&text, b'"');
            let mut blocks = Blocks::new(&text[..], block_size, Some(first_records), b',', Some(b'"'));
            let mut joined = Vec::new();
            let mut first = true;
            while let Some(block) = blocks.next_block_into(None).unwrap() {
                joined.extend_from_slice(&block);
                if joined.len() < text.len() {
                    prop_assert!(ends.contains(&joined.len()), "cut at {} not a record end", joined.len());
                    if first {
                        let records = ends.iter().filter(|&&e| e <= joined.len()).count();
                        let blank = text
                            .iter()
                            .take_while(|&&b| b == b'\n' || b == b'\r')
                            .filter(|&&b| b == b'\n')
                            .count();
                        prop_assert_eq!(records, first_records + blank);
                    }
                }
                first = false;
            }
            prop_assert_eq!(&joined, &text);
            prop_assert_eq!(blocks.digest(), xxhash_rust::xxh3::xxh3_128(&text));
        }
    }

    #[test]
    fn a_newline_inside_quotes_does_not_end_a_record() {
        let csv = b"a,b\n1,\"x\ny\"\n2,z\n";
        assert_eq!(
            records_end(csv, Cut::Last, b',', Some(b'"')),
            Some(csv.len())
        );
        assert_eq!(records_end(csv, Cut::After(2), b',', Some(b'"')), Some(12));
        assert_eq!(records_end(&csv[..9], Cut::Last, b',', Some(b'"')), Some(4));
        // A quote inside an unquoted field is text.
        let csv = b"12\" pizza,1\n2,3\n";
        assert_eq!(
            records_end(&csv[..13], Cut::After(2), b',', Some(b'"')),
            None
        );
        assert_eq!(
            records_end(&csv[..13], Cut::Last, b',', Some(b'"')),
            Some(12)
        );
        assert_eq!(records_end(b"a\nb\nc", Cut::After(2), b',', None), Some(4));
    }
}
