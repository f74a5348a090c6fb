//! A query's answer: a shared, immutable frame.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use arrow_array::RecordBatch;
use polars::prelude::{CompatLevel, DataFrame, SchemaExt};

use crate::{Error, Result};

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// The in-memory tier.
    Memory,
    /// The disk tier.
    Disk,
    /// The Redis tier (computed by another worker, or earlier).
    Redis,
    /// Derived from another cached answer that contains it.
    Derived,
    /// Computed by this call (a miss).
    Computed,
    /// Computed by another caller that was asking for the same key at the
    /// same moment; this call waited for it instead of computing again.
    Coalesced,
}

impl Source {
    /// The name used in statistics and JSON (`memory`, `computed`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Source::Memory => "memory",
            Source::Disk => "disk",
            Source::Redis => "redis",
            Source::Derived => "derived",
            Source::Computed => "computed",
            Source::Coalesced => "coalesced",
        }
    }

    /// Whether the answer came from a cache tier: a hit. `Computed` and
    /// `Coalesced` (a miss that waited for another caller's computation)
    /// are misses.
    pub fn is_hit(self) -> bool {
        !matches!(self, Source::Computed | Source::Coalesced)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The answer to a query, shared with the cache.
///
/// A `Frame` holds an `Arc<DataFrame>`: a hit hands out another reference
/// to the frame the cache holds, so no data is copied and the answer stays
/// valid after the entry is evicted. It dereferences to [`DataFrame`] for
/// reading; [`Frame::into_dataframe`] gives an owned frame (Polars columns are
/// themselves reference counted, so that is cheap too).
///
/// ```
/// use std::sync::Arc;
/// use polars_query_cache::{CachedQuery, Query, Source};
///
/// let cache = CachedQuery::from_csv("data/sales.csv")?;
/// let by_region = Query::new().group_by(["region"]).sum("revenue").len();
/// let frame = cache.get(&by_region)?;
/// assert_eq!(frame.source(), Source::Computed);
/// // Read it as the `DataFrame` it dereferences to: groups sorted, nulls last.
/// assert_eq!(frame.get_column_names(), ["region", "sum_revenue", "len"]);
/// assert_eq!(frame.column("region")?.as_materialized_series().str_value(0)?, "Central");
/// assert_eq!(frame.column("len")?.as_materialized_series().sum::<u64>()?, 5_000);
///
/// // A hit is the same frame, not a copy.
/// let hit = cache.get(&by_region)?;
/// assert_eq!(hit.source(), Source::Memory);
/// assert!(Arc::ptr_eq(frame.shared(), hit.shared()));
/// let owned: polars::prelude::DataFrame = hit.into_dataframe();
/// assert_eq!(owned.height(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Frame {
    data: Arc<DataFrame>,
    source: Source,
}

impl Frame {
    pub(crate) fn new(data: Arc<DataFrame>, source: Source) -> Frame {
        Frame { data, source }
    }

    /// Where the answer came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The frame.
    pub fn dataframe(&self) -> &DataFrame {
        &self.data
    }

    /// The shared frame itself.
    pub fn shared(&self) -> &Arc<DataFrame> {
        &self.data
    }

    /// An owned frame (its columns still share their buffers).
    pub fn into_dataframe(self) -> DataFrame {
        Arc::unwrap_or_clone(self.data)
    }

    /// The answer as arrow-rs record batches, one per chunk, handed over
    /// through the Arrow C data interface: the buffers are shared, not
    /// copied.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query};
    /// # let df = polars::df!("category" => ["a", "b", "a"], "units" => [1i64, 2, 3])?;
    /// let cache = CachedQuery::from_frame(df)?;
    /// let frame = cache.get(&Query::new().group_by(["category"]).sum("units"))?;
    /// let batches = frame.to_record_batches()?;
    /// assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    /// assert_eq!(batches[0].schema().field(1).name(), "sum_units");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_record_batches(&self) -> Result<Vec<RecordBatch>> {
        let aligned;
        let frame = if self.data.should_rechunk() {
            let mut copy = (*self.data).clone();
            copy.align_chunks_par();
            aligned = copy;
            &aligned
        } else {
            &*self.data
        };
        let mut batches = Vec::new();
        for batch in frame.iter_chunks(CompatLevel::newest(), false) {
            let (schema, arrays) = batch.into_schema_and_arrays();
            let mut fields = Vec::with_capacity(arrays.len());
            let mut columns = Vec::with_capacity(arrays.len());
            for (field, array) in schema.iter_values().zip(arrays) {
                let (f, a) = export(field, array)?;
                fields.push(f);
                columns.push(a);
            }
            let schema = Arc::new(arrow_schema::Schema::new(fields));
            let batch =
                RecordBatch::try_new(schema, columns).map_err(|e| Error::Compute(e.to_string()))?;
            batches.push(batch);
        }
        Ok(batches)
    }

    /// The arrow-rs schema of [`to_record_batches`](Self::to_record_batches)'
    /// batches, also when there are none.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query};
    /// # let df = polars::df!("category" => ["a", "b", "a"], "units" => [1i64, 2, 3])?;
    /// let cache = CachedQuery::from_frame(df)?;
    /// let frame = cache.get(&Query::new().group_by(["category"]).sum("units"))?;
    /// let schema = frame.arrow_schema()?;
    /// assert_eq!(schema.field(1).name(), "sum_units");
    /// assert_eq!(schema.field(1).data_type(), &arrow_schema::DataType::Int64);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn arrow_schema(&self) -> Result<arrow_schema::Schema> {
        arrow_schema_of(&self.data)
    }
}

/// The arrow-rs schema of `frame`, as [`Frame::to_record_batches`] gives
/// its batches, whatever the number of chunks (none, for an empty frame).
pub(crate) fn arrow_schema_of(frame: &DataFrame) -> Result<arrow_schema::Schema> {
    let schema = frame.schema().to_arrow(CompatLevel::newest());
    let fields = schema
        .iter_values()
        .map(export_field)
        .collect::<Result<Vec<_>>>()?;
    Ok(arrow_schema::Schema::new(fields))
}

/// Moves one field across the C data interface.
fn export_field(field: &polars_arrow::datatypes::Field) -> Result<arrow_schema::Field> {
    use arrow_array::ffi::FFI_ArrowSchema;
    let c_schema = polars_arrow::ffi::export_field_to_c(field);
    // SAFETY: as in `export`: the same C struct in both crates.
    let ffi_schema: FFI_ArrowSchema =
        unsafe { std::mem::transmute::<polars_arrow::ffi::ArrowSchema, FFI_ArrowSchema>(c_schema) };
    arrow_schema::Field::try_from(&ffi_schema).map_err(|e| Error::Compute(e.to_string()))
}

/// Moves one array across the C data interface.
fn export(
    field: &polars_arrow::datatypes::Field,
    array: Box<dyn polars_arrow::array::Array>,
) -> Result<(arrow_schema::Field, arrow_array::ArrayRef)> {
    use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
    let c_schema = polars_arrow::ffi::export_field_to_c(field);
    let c_array = polars_arrow::ffi::export_array_to_c(array);
    // SAFETY: both crates define these structs as the C data interface's
    // `ArrowSchema` and `ArrowArray` (repr(C), same fields, release callbacks
    // that own the data), so a value of one is a valid value of the other;
    // `transmute` also checks that the sizes agree.
    let (ffi_schema, ffi_array): (FFI_ArrowSchema, FFI_ArrowArray) = unsafe {
        (
            std::mem::transmute::<polars_arrow::ffi::ArrowSchema, FFI_ArrowSchema>(c_schema),
            std::mem::transmute::<polars_arrow::ffi::ArrowArray, FFI_ArrowArray>(c_array),
        )
    };
    let field =
        arrow_schema::Field::try_from(&ffi_schema).map_err(|e| Error::Compute(e.to_string()))?;
    // SAFETY: the array was exported by Polars with the schema just read.
    let data = unsafe { arrow_array::ffi::from_ffi(ffi_array, &ffi_schema) }
        .map_err(|e| Error::Compute(e.to_string()))?;
    Ok((field, arrow_array::make_array(data)))
}

impl Deref for Frame {
    type Target = DataFrame;

    fn deref(&self) -> &DataFrame {
        &self.data
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("source", &self.source)
            .field("shape", &self.data.shape())
            .finish()
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.data, f)
    }
}
