//! Finds the line of the first malformed record, for error messages.
//!
//! Polars reports what is wrong but not always where; this pass runs after
//! a load failed, and over a block whose last column has nulls (to tell a
//! short row from a null), so it is written for clarity before speed.

use super::{ColumnType, LoadOptions};

/// The first problem found: its 1-based line and a description. Cells are
/// checked against the types forced in `options`, and against `inferred`,
/// the types the load read the columns with (a value of another type in a
/// later block is what Polars refuses without saying its line).
pub(crate) fn first_bad_record(
    bytes: &[u8],
    options: &LoadOptions,
    inferred: &[(String, ColumnType)],
) -> Option<(u64, String)> {
    let mut records = Records::new(bytes, options);
    let (_, header) = records.next()?;
    let width = header.len();
    let typed: Vec<(usize, ColumnType, String)> = if options.has_header {
        let forced = options.column_types.iter();
        let others = inferred
            .iter()
            .filter(|(name, _)| !options.column_types.iter().any(|(n, _)| n == name));
        forced
            .chain(others)
            .filter_map(|(name, ty)| {
                let idx = header.iter().position(|h| h == name)?;
                Some((idx, *ty, name.clone()))
            })
            .collect()
    } else {
        Vec::new()
    };
    if !options.has_header {
        // The first line was a record too; it defines the width.
        records = Records::new(bytes, options);
    }
    for (line, fields) in records {
        if fields.len() == 1 && fields[0].is_empty() {
            continue; // a blank line
        }
        if fields.len() != width {
            return Some((
                line,
                format!("expected {width} fields, found {}", fields.len()),
            ));
        }
        for (idx, ty, name) in &typed {
            let cell = fields[*idx].trim();
            if cell.is_empty() || options.null_values.iter().any(|n| n == cell) {
                continue;
            }
            if !parses_as(cell, *ty) {
                return Some((
                    line,
                    format!(
                        "value {cell:?} in column `{name}` is not {}",
                        type_words(*ty)
                    ),
                ));
            }
        }
    }
    None
}

/// Whether a block of records (after its header, if `skip_header`) has a
/// record of another width than `width`; blank lines are skipped, as
/// Polars skips them.
pub(crate) fn has_short_record(
    block: &[u8],
    width: usize,
    skip_header: bool,
    options: &LoadOptions,
) -> bool {
    Records::new(block, options)
        .skip(usize::from(skip_header))
        .any(|(_, fields)| !(fields.len() == 1 && fields[0].is_empty()) && fields.len() != width)
}

fn parses_as(cell: &str, ty: ColumnType) -> bool {
    match ty {
        ColumnType::Int => cell.parse::<i64>().is_ok(),
        ColumnType::Float => cell.parse::<f64>().is_ok(),
        ColumnType::Bool => cell.eq_ignore_ascii_case("true") || cell.eq_ignore_ascii_case("false"),
        ColumnType::Date => chrono::NaiveDate::parse_from_str(cell, "%Y-%m-%d").is_ok(),
        ColumnType::Str | ColumnType::Categorical => true,
    }
}

fn type_words(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Int => "an integer",
        ColumnType::Float => "a number",
        ColumnType::Bool => "true or false",
        ColumnType::Date => "a date (YYYY-MM-DD)",
        ColumnType::Str | ColumnType::Categorical => "text",
    }
}

/// CSV records with the line each starts on.
struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u64,
    delimiter: u8,
    quote: Option<u8>,
}

impl<'a> Records<'a> {
    fn new(bytes: &'a [u8], options: &LoadOptions) -> Self {
        Records {
            bytes,
            pos: 0,
            line: 1,
            delimiter: options.delimiter,
            quote: options.quote_char,
        }
    }
}

impl Iterator for Records<'_> {
    type Item = (u64, Vec<String>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let start_line = self.line;
        let mut fields = Vec::new();
        let mut field = Vec::new();
        // Quotes as Polars reads them: a quote opens a quoted field only at
        // the field's start; a quote anywhere else in an unquoted field is
        // text (`12" pizza`).
        let mut in_quotes = false;
        let mut quoted = false;
        let mut at_start = true;
        while self.pos < self.bytes.len() {
            let b = self.bytes[self.pos];
            self.pos += 1;
            if Some(b) == self.quote && (at_start || quoted) {
                quoted = true;
                if in_quotes && self.bytes.get(self.pos) == self.quote.as_ref() {
                    field.push(b);
                    self.pos += 1;
                } else {
                    in_quotes = !in_quotes;
                }
            } else if b == b'\n' {
                self.line += 1;
                if !in_quotes {
                    break;
                }
                field.push(b);
            } else if b == self.delimiter && !in_quotes {
                fields.push(String::from_utf8_lossy(&field).into_owned());
                field.clear();
                quoted = false;
                at_start = true;
                continue;
            } else if b != b'\r' || in_quotes {
                field.push(b);
            }
            at_start = false;
        }
        fields.push(String::from_utf8_lossy(&field).into_owned());
        Some((start_line, fields))
    }
}
