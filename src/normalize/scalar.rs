//! Filter values coerced to their column's type.

use polars::prelude::PlSmallStr;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::dataset::{ColumnInfo, ColumnKind};
use crate::query::Value;
use crate::{Error, Result};

/// A filter value in its column's type: what the canonical key holds.
///
/// Floats are ordered and hashed by their bits after folding `-0.0` into
/// `0.0`; NaN never gets here (it is rejected as a filter value).
#[derive(Debug, Clone)]
pub enum Scalar {
    /// A boolean column's value.
    Bool(bool),
    /// An integer column's value.
    Int(i64),
    /// A float column's value.
    Float(f64),
    /// A string or categorical column's value.
    Str(PlSmallStr),
    /// A date column's value, in days since 1970-01-01.
    Date(i32),
}

impl Scalar {
    fn rank(&self) -> u8 {
        match self {
            Scalar::Bool(_) => 0,
            Scalar::Int(_) => 1,
            Scalar::Float(_) => 2,
            Scalar::Str(_) => 3,
            Scalar::Date(_) => 4,
        }
    }
}

impl Ord for Scalar {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Scalar::Bool(a), Scalar::Bool(b)) => a.cmp(b),
            (Scalar::Int(a), Scalar::Int(b)) => a.cmp(b),
            (Scalar::Float(a), Scalar::Float(b)) => a.total_cmp(b),
            (Scalar::Str(a), Scalar::Str(b)) => a.cmp(b),
            (Scalar::Date(a), Scalar::Date(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl PartialOrd for Scalar {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scalar {}

impl Hash for Scalar {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(self.rank());
        match self {
            Scalar::Bool(b) => b.hash(state),
            Scalar::Int(i) => i.hash(state),
            Scalar::Float(f) => f.to_bits().hash(state),
            Scalar::Str(s) => s.hash(state),
            Scalar::Date(d) => d.hash(state),
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x:?}"),
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Date(d) => match days_to_date(*d) {
                Some(date) => write!(f, "{date}"),
                None => write!(f, "date({d})"),
            },
        }
    }
}

/// A value read for an integer column. A number with a fraction cannot equal
/// any integer, but it still bounds a range (`x < 2.5` is `x <= 2`).
pub(crate) enum Coerced {
    Exact(Scalar),
    Fraction(f64),
}

/// Reads `value` as a value of `column`'s type.
pub(crate) fn coerce(value: &Value, column: &ColumnInfo) -> Result<Coerced> {
    let wrong = |expected: &'static str, hint: &'static str| Error::WrongValueType {
        column: column.name.clone(),
        expected,
        value: value.to_string(),
        hint,
    };
    let exact = |s: Scalar| Ok(Coerced::Exact(s));
    match column.kind {
        ColumnKind::Int => {
            const HINT: &str = "write a whole number such as 2024";
            let float = match value {
                Value::Int(i) => return exact(Scalar::Int(*i)),
                Value::Float(f) => *f,
                Value::Str(s) => match s.trim().parse::<i64>() {
                    Ok(i) => return exact(Scalar::Int(i)),
                    Err(_) => s
                        .trim()
                        .parse::<f64>()
                        .map_err(|_| wrong("integers", HINT))?,
                },
                Value::Bool(_) => return Err(wrong("integers", HINT)),
            };
            if float.is_nan() {
                return Err(wrong("integers", HINT));
            }
            match int_of(float) {
                Some(i) => exact(Scalar::Int(i)),
                _ => Ok(Coerced::Fraction(float)),
            }
        }
        ColumnKind::Float => {
            const HINT: &str = "write a number such as 9.99";
            let float = match value {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                Value::Str(s) => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| wrong("numbers", HINT))?,
                Value::Bool(_) => return Err(wrong("numbers", HINT)),
            };
            if float.is_nan() {
                return Err(wrong(
                    "numbers",
                    "NaN matches nothing; filter with is_null or a range",
                ));
            }
            // -0.0 == 0.0 for the data; fold them so the key is one.
            exact(Scalar::Float(if float == 0.0 { 0.0 } else { float }))
        }
        ColumnKind::Str | ColumnKind::Categorical => match value {
            Value::Str(s) => exact(Scalar::Str(PlSmallStr::from(s.as_str()))),
            _ => Err(wrong("text", "quote the value, e.g. \"Books\"")),
        },
        ColumnKind::Bool => match value {
            Value::Bool(b) => exact(Scalar::Bool(*b)),
            Value::Str(s) if s.eq_ignore_ascii_case("true") => exact(Scalar::Bool(true)),
            Value::Str(s) if s.eq_ignore_ascii_case("false") => exact(Scalar::Bool(false)),
            _ => Err(wrong("booleans", "write true or false")),
        },
        ColumnKind::Date => match value {
            Value::Str(s) => parse_date(s.trim())
                .map(|d| Coerced::Exact(Scalar::Date(d)))
                .ok_or_else(|| wrong("dates", "write dates as \"2024-03-31\"")),
            _ => Err(wrong("dates", "write dates as \"2024-03-31\"")),
        },
        ColumnKind::Other => Err(Error::InvalidOperator {
            op: "filter",
            column: column.name.clone(),
            dtype: column.dtype.to_string(),
        }),
    }
}

/// The integer `f` is, when it is one within `i64`'s range (from -2^63,
/// exactly representable, up to but excluding 2^63).
pub(crate) fn int_of(f: f64) -> Option<i64> {
    const MIN: f64 = i64::MIN as f64;
    ((MIN..-MIN).contains(&f) && f.fract() == 0.0).then_some(f as i64)
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn parse_date(s: &str) -> Option<i32> {
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(chrono::Datelike::num_days_from_ce(&date) - UNIX_EPOCH_DAYS_FROM_CE)
}

fn days_to_date(days: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
}
