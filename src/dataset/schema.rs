//! What the cache needs to know of each column to read queries against it.

use polars::prelude::{DataFrame, DataType};

/// How a column's values are compared and coerced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnKind {
    /// Signed or unsigned integers.
    Int,
    /// Floating point numbers.
    Float,
    /// Text.
    Str,
    /// Text stored as a dictionary of distinct values (compared as integers).
    Categorical,
    /// Booleans.
    Bool,
    /// Calendar dates.
    Date,
    /// Points in time (Polars' `Datetime`, any unit, with or without a time
    /// zone).
    Datetime,
    /// Anything else (lists, times of day, durations, ...): it can be grouped by and counted.
    Other,
}

impl ColumnKind {
    /// The kind of a Polars type.
    pub fn of(dtype: &DataType) -> ColumnKind {
        match dtype {
            DataType::Boolean => ColumnKind::Bool,
            DataType::String => ColumnKind::Str,
            DataType::Categorical(..) | DataType::Enum(..) => ColumnKind::Categorical,
            DataType::Date => ColumnKind::Date,
            DataType::Datetime(..) => ColumnKind::Datetime,
            d if d.is_integer() => ColumnKind::Int,
            d if d.is_float() => ColumnKind::Float,
            _ => ColumnKind::Other,
        }
    }

    /// Integers, dates and datetimes: `x > 3` is `x >= 4` (datetimes in
    /// their unit).
    pub(crate) fn is_integer_like(self) -> bool {
        matches!(
            self,
            ColumnKind::Int | ColumnKind::Date | ColumnKind::Datetime
        )
    }

    /// Numbers: what `sum`, `mean` and friends accept.
    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, ColumnKind::Int | ColumnKind::Float)
    }

    /// A short name for messages and the schema listing.
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Int => "int",
            ColumnKind::Float => "float",
            ColumnKind::Str => "string",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Bool => "bool",
            ColumnKind::Date => "date",
            ColumnKind::Datetime => "datetime",
            ColumnKind::Other => "other",
        }
    }
}

/// One column of a loaded dataset.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    /// The column's name.
    pub name: String,
    /// Its Polars type.
    pub dtype: DataType,
    /// How queries treat it.
    pub kind: ColumnKind,
}

/// The columns of a frame, in order.
pub(crate) fn columns_of(frame: &DataFrame) -> Vec<ColumnInfo> {
    frame
        .columns()
        .iter()
        .map(|c| ColumnInfo {
            name: c.name().to_string(),
            dtype: c.dtype().clone(),
            kind: ColumnKind::of(c.dtype()),
        })
        .collect()
}
