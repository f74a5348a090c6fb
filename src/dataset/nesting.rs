//! How deep NDJSON nests, found before Polars parses it.
//!
//! Polars' JSON reader descends recursively: a line of a hundred thousand
//! `[` overflows its stack, which aborts the process (no panic to catch).
//! A table's columns are flat values, so a file nesting deeper than
//! [`MAX_DEPTH`] is refused first, by a pass that only counts brackets
//! outside strings.

/// The deepest nesting read: objects within arrays within objects, far
/// beyond any table and far below a stack's limit.
pub(super) const MAX_DEPTH: usize = 64;

/// A streaming count of brackets, fed the file's bytes in any pieces.
#[derive(Debug, Default)]
pub(super) struct Nesting {
    depth: usize,
    in_string: bool,
    escaped: bool,
    line: u64,
}

impl Nesting {
    /// Reads `bytes`; the 1-based line where nesting first passes
    /// [`MAX_DEPTH`], if it does.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Result<(), u64> {
        for &b in bytes {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(self.line + 1);
                    }
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                // A line is a record: whatever it left open is its own
                // error, for the parser to report.
                b'\n' => {
                    self.line += 1;
                    self.depth = 0;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The error message for nesting past the limit at `line`.
    pub(super) fn message(line: u64) -> String {
        format!("line {line} nests deeper than {MAX_DEPTH} levels; a table's values are flat")
    }
}

/// A reader whose bytes are counted as they pass; it fails at the first
/// line that nests too deep, which `too_deep` then names.
pub(super) struct Checked<R> {
    inner: R,
    nesting: Nesting,
    too_deep: Option<u64>,
}

impl<R> Checked<R> {
    pub(super) fn new(inner: R) -> Self {
        Checked {
            inner,
            nesting: Nesting::default(),
            too_deep: None,
        }
    }

    /// The line that nested too deep, once reading failed on it.
    pub(super) fn too_deep(&self) -> Option<u64> {
        self.too_deep
    }
}

impl<R: std::io::Read> std::io::Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(line) = self.nesting.feed(&buf[..n]) {
            self.too_deep = Some(line);
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                Nesting::message(line),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_brackets_outside_strings_line_by_line() {
        let mut flat = Nesting::default();
        let ok = format!("{{\"a\":\"{}\"}}\n", "[".repeat(1000));
        assert_eq!(flat.feed(ok.as_bytes()), Ok(()));
        let escaped = format!("{{\"a\":\"\\\"{}\"}}\n", "{".repeat(1000));
        assert_eq!(flat.feed(escaped.as_bytes()), Ok(()));
        let deep = format!(
            "{{\"a\":{}{}}}\n",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert_eq!(flat.feed(deep.as_bytes()), Err(3));
        // Fed in pieces, the same.
        let mut pieces = Nesting::default();
        let bytes = deep.as_bytes();
        assert_eq!(pieces.feed(&bytes[..10]), Ok(()));
        assert_eq!(pieces.feed(&bytes[10..]), Err(1));
        // An unclosed line does not carry its depth to the next.
        let mut lines = Nesting::default();
        let open = "[".repeat(MAX_DEPTH - 1) + "\n";
        assert_eq!(lines.feed(format!("{open}{open}").as_bytes()), Ok(()));
    }
}
