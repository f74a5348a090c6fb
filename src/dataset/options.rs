//! How a dataset's files are read. The options change the parsed data, so
//! they are part of the dataset's fingerprint.

use super::Format;

/// A column type to force instead of the inferred one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// 64-bit signed integers.
    Int,
    /// 64-bit floats.
    Float,
    /// Text, never turned into a categorical.
    Str,
    /// Text stored as a dictionary of distinct values.
    Categorical,
    /// Booleans (`true` / `false`).
    Bool,
    /// Dates written `YYYY-MM-DD`.
    Date,
}

/// Options for loading a dataset: its files' format, whether it is held in
/// memory or scanned, and how CSV is read.
///
/// ```
/// use polars_query_cache::{ColumnType, LoadOptions};
///
/// let options = LoadOptions::default()
///     .with_delimiter(b';')
///     .with_null_values(["", "NA"])
///     .with_column_type("zip", ColumnType::Str);
/// assert_eq!(options.delimiter, b';');
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// The first line names the columns. Default: `true`.
    pub has_header: bool,
    /// The field separator. Default: `b','`.
    pub delimiter: u8,
    /// The quote character; `None` turns quoting off. Default: `Some(b'"')`.
    pub quote_char: Option<u8>,
    /// Cell texts read as null, besides the empty cell. Default: none.
    pub null_values: Vec<String>,
    /// Types forced on named columns instead of the inferred ones.
    /// Default: none.
    pub column_types: Vec<(String, ColumnType)>,
    /// Rows read to infer the types; `None` reads all. Default: `Some(10_000)`.
    pub infer_schema_rows: Option<usize>,
    /// Text columns with at most this many distinct values (among the rows
    /// used for inference) are stored as categoricals. `0` turns this off.
    /// Default: `1_000`.
    pub categorical_max_distinct: usize,
    /// Read `YYYY-MM-DD` columns as dates. Default: `true`.
    pub parse_dates: bool,
    /// Store inferred 64-bit integer columns whose values all fit in 32 bits
    /// as 32-bit integers (half the memory; sums are still computed in 64
    /// bits). Columns forced with [`ColumnType::Int`] stay 64-bit.
    /// Default: `true`.
    pub shrink_integers: bool,
    /// Bytes of CSV read and parsed at a time. A load holds the frame plus
    /// about one block and its parse; each block becomes one chunk of the
    /// frame's columns. It changes how the file is read, never the parsed
    /// data, so it is not part of the fingerprint. Default: 32 MiB.
    pub block_bytes: usize,
    /// The files' format; `None` reads it from their extensions (a file
    /// without a known one is CSV). Default: `None`.
    pub format: Option<Format>,
    /// Scan mode: the table is not loaded; each miss runs as a streaming
    /// query over the files, so memory is bounded by the cache and the
    /// engine's working set, not by the data. Text columns stay text (no
    /// categoricals) and integers keep their width, so the fingerprint
    /// differs from the loaded table's. Polars' streaming readers
    /// memory-map the files: replace a scanned file by renaming a new one
    /// over it, never by rewriting it in place. Default: `false`.
    pub scan: bool,
}

/// Every option that changes the parsed data, in the order the fields were
/// once hashed by `derive(Hash)`, so fingerprints stay what they were.
impl std::hash::Hash for LoadOptions {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let LoadOptions {
            has_header,
            delimiter,
            quote_char,
            null_values,
            column_types,
            infer_schema_rows,
            categorical_max_distinct,
            parse_dates,
            shrink_integers,
            block_bytes: _,
            format,
            scan,
        } = self;
        has_header.hash(state);
        delimiter.hash(state);
        quote_char.hash(state);
        null_values.hash(state);
        column_types.hash(state);
        infer_schema_rows.hash(state);
        categorical_max_distinct.hash(state);
        parse_dates.hash(state);
        shrink_integers.hash(state);
        // Hashed only when set, so CSV loads keep their fingerprints.
        if let Some(format) = format.filter(|f| *f != Format::Csv) {
            format.hash(state);
        }
        if *scan {
            "scan".hash(state);
        }
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            has_header: true,
            delimiter: b',',
            quote_char: Some(b'"'),
            null_values: Vec::new(),
            column_types: Vec::new(),
            infer_schema_rows: Some(10_000),
            categorical_max_distinct: 1_000,
            parse_dates: true,
            shrink_integers: true,
            block_bytes: 32 << 20,
            format: None,
            scan: false,
        }
    }
}

impl LoadOptions {
    /// Sets [`format`](Self::format).
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// Sets [`scan`](Self::scan).
    #[must_use]
    pub fn with_scan(mut self, scan: bool) -> Self {
        self.scan = scan;
        self
    }
    /// Sets [`block_bytes`](Self::block_bytes) (at least 1).
    #[must_use]
    pub fn with_block_bytes(mut self, bytes: usize) -> Self {
        self.block_bytes = bytes.max(1);
        self
    }

    /// Sets [`has_header`](Self::has_header).
    #[must_use]
    pub fn with_has_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// Sets [`delimiter`](Self::delimiter).
    #[must_use]
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets [`quote_char`](Self::quote_char).
    #[must_use]
    pub fn with_quote_char(mut self, quote_char: Option<u8>) -> Self {
        self.quote_char = quote_char;
        self
    }

    /// Sets [`null_values`](Self::null_values).
    #[must_use]
    pub fn with_null_values<S: Into<String>>(
        mut self,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.null_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Forces `column` to be read as `ty`; see [`column_types`](Self::column_types).
    #[must_use]
    pub fn with_column_type(mut self, column: impl Into<String>, ty: ColumnType) -> Self {
        let column = column.into();
        self.column_types.retain(|(c, _)| *c != column);
        self.column_types.push((column, ty));
        self
    }

    /// Sets [`infer_schema_rows`](Self::infer_schema_rows).
    #[must_use]
    pub fn with_infer_schema_rows(mut self, rows: Option<usize>) -> Self {
        self.infer_schema_rows = rows;
        self
    }

    /// Sets [`categorical_max_distinct`](Self::categorical_max_distinct).
    #[must_use]
    pub fn with_categorical_max_distinct(mut self, max: usize) -> Self {
        self.categorical_max_distinct = max;
        self
    }

    /// Sets [`shrink_integers`](Self::shrink_integers).
    #[must_use]
    pub fn with_shrink_integers(mut self, shrink: bool) -> Self {
        self.shrink_integers = shrink;
        self
    }

    /// Sets [`parse_dates`](Self::parse_dates).
    #[must_use]
    pub fn with_parse_dates(mut self, parse_dates: bool) -> Self {
        self.parse_dates = parse_dates;
        self
    }
}
