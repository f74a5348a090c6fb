//! Filter values coerced to their column's type.

use polars::prelude::{DataType, PlSmallStr, TimeUnit};
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
    /// An integer column's value (every integer type but `UInt64`).
    Int(i64),
    /// A `UInt64` column's value: kept unsigned so that values above
    /// `i64::MAX` are exact and Polars compares without going through `f64`.
    UInt(u64),
    /// A float column's value.
    Float(f64),
    /// A string or categorical column's value.
    Str(PlSmallStr),
    /// A date column's value, in days since 1970-01-01.
    Date(i32),
    /// A datetime column's value: its physical value, in the column's unit
    /// since 1970-01-01 00:00 (UTC for a column with a time zone).
    Datetime(i64, TimeUnit),
}

impl Scalar {
    fn rank(&self) -> u8 {
        match self {
            Scalar::Bool(_) => 0,
            Scalar::Int(_) => 1,
            Scalar::Float(_) => 2,
            Scalar::Str(_) => 3,
            Scalar::Date(_) => 4,
            Scalar::UInt(_) => 5,
            Scalar::Datetime(..) => 6,
        }
    }
}

impl Scalar {
    /// A filter value that reads back as this scalar on its column: an
    /// unsigned value beyond `i64` and a date as text.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Int(i) => Value::Int(*i),
            Scalar::UInt(u) => {
                i64::try_from(*u).map_or_else(|_| Value::Str(u.to_string()), Value::Int)
            }
            Scalar::Float(f) => Value::Float(*f),
            Scalar::Str(s) => Value::Str(s.to_string()),
            // A datetime as its wall time in UTC, which a column without a
            // zone or in UTC reads back as the same value (a column in
            // another zone asks for an offset and refuses it).
            Scalar::Date(_) | Scalar::Datetime(..) => Value::Str(self.to_string()),
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
            (Scalar::UInt(a), Scalar::UInt(b)) => a.cmp(b),
            // One column has one unit: the value orders, the unit only
            // keeps two columns' values apart.
            (Scalar::Datetime(a, ua), Scalar::Datetime(b, ub)) => {
                a.cmp(b).then(unit_rank(*ua).cmp(&unit_rank(*ub)))
            }
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
            Scalar::UInt(u) => u.hash(state),
            Scalar::Datetime(t, unit) => {
                t.hash(state);
                unit.hash(state);
            }
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::UInt(u) => write!(f, "{u}"),
            Scalar::Float(x) => write!(f, "{x:?}"),
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Date(d) => match days_to_date(*d) {
                Some(date) => write!(f, "{date}"),
                None => write!(f, "date({d})"),
            },
            Scalar::Datetime(t, unit) => match timestamp_to_datetime(*t, *unit) {
                Some(datetime) => write!(f, "{}", datetime.format("%Y-%m-%dT%H:%M:%S%.f")),
                None => write!(f, "datetime({t}, {unit:?})"),
            },
        }
    }
}

/// `TimeUnit` is not `Ord`: finest first.
fn unit_rank(unit: TimeUnit) -> u8 {
    match unit {
        TimeUnit::Nanoseconds => 0,
        TimeUnit::Microseconds => 1,
        TimeUnit::Milliseconds => 2,
    }
}

/// A value read for its column. On an integer column a value may also lie
/// between two integers or beyond every value the column's type can hold:
/// it then equals no row, but it still bounds a range (`x < 2.5` is
/// `x <= 2`; `x < 5e9` on an `Int32` column is every non-null row).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Coerced {
    /// A value the column can hold.
    Exact(Scalar),
    /// A finite number strictly between two integers.
    Fraction(f64),
    /// Strictly between two adjacent values of the column's type (a time
    /// finer than a datetime column's unit): the first below, the second
    /// above.
    Gap(Scalar, Scalar),
    /// Smaller than every value of the column's type.
    Below,
    /// Larger than every value of the column's type.
    Above,
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
        ColumnKind::Int => match coerce_int(value, &column.dtype) {
            Some(Ok(coerced)) => Ok(coerced),
            Some(Err(hint)) => Err(wrong("integers", hint)),
            None => Err(wrong("integers", "write a whole number such as 2024")),
        },
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
        ColumnKind::Datetime => {
            let DataType::Datetime(unit, zone) = &column.dtype else {
                unreachable!("a datetime column's type is Datetime")
            };
            let utc_zone = zone.as_ref().is_some_and(|z| z.as_str() == "UTC");
            let hint = if zone.is_none() {
                "write times as \"2024-03-31 12:00:00\" (this column has no time zone)"
            } else if utc_zone {
                "write times as \"2024-03-31 12:00:00Z\" or with an offset such as +02:00"
            } else {
                "this column has a time zone: write the offset, as \"2024-03-31 12:00:00+02:00\""
            };
            let Value::Str(s) = value else {
                return Err(wrong("datetimes", hint));
            };
            let nanos = match parse_datetime(s.trim()) {
                Some(Parsed::Naive(nanos)) if zone.is_none() || utc_zone => nanos,
                Some(Parsed::Instant(nanos)) if zone.is_some() => nanos,
                _ => return Err(wrong("datetimes", hint)),
            };
            Ok(in_unit(nanos, *unit))
        }
        ColumnKind::Other => Err(Error::InvalidOperator {
            op: "filter",
            column: column.name.clone(),
            dtype: column.dtype.to_string(),
        }),
    }
}

/// `value` read for an integer column of type `dtype`: `None` when it is
/// no number, `Some(Err(hint))` when it is one the column cannot be
/// compared with.
fn coerce_int(value: &Value, dtype: &DataType) -> Option<Result<Coerced, &'static str>> {
    let coerced = match value {
        Value::Int(i) => integer(i128::from(*i), dtype),
        Value::Float(f) if f.is_nan() => return None,
        Value::Float(f) => whole_or_fraction(*f, dtype),
        // i128 first: a `UInt64` column's values above `i64::MAX` can only
        // be written exactly as text.
        Value::Str(s) => match s.trim().parse::<i128>() {
            Ok(i) => integer(i, dtype),
            Err(_) => match s.trim().parse::<f64>() {
                Ok(f) if !f.is_nan() => whole_or_fraction(f, dtype),
                _ => return None,
            },
        },
        Value::Bool(_) => return None,
    };
    match (&coerced, dtype) {
        // Beyond `i64` a 128-bit column may still hold the value: an error,
        // not a guess.
        (Coerced::Above, DataType::Int128 | DataType::UInt128)
        | (Coerced::Below, DataType::Int128) => Some(Err(
            "on a 128-bit column write a value within the range of i64",
        )),
        _ => Some(Ok(coerced)),
    }
}

/// A number (not NaN) read for an integer column of type `dtype`.
pub(crate) fn whole_or_fraction(f: f64, dtype: &DataType) -> Coerced {
    // 2^127: every finite f64 below it in magnitude converts to i128 exactly
    // when it has no fraction.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if f.is_infinite() || f.abs() >= LIMIT {
        return if f < 0.0 {
            Coerced::Below
        } else {
            Coerced::Above
        };
    }
    if f.fract() != 0.0 {
        return Coerced::Fraction(f);
    }
    integer(f as i128, dtype)
}

/// An integer read for an integer column of type `dtype`: the column's
/// scalar when its type can hold it, else which side of its range it is on.
pub(crate) fn integer(i: i128, dtype: &DataType) -> Coerced {
    let (min, max) = int_range(dtype);
    if i < min {
        return Coerced::Below;
    }
    if i > max {
        return Coerced::Above;
    }
    let scalar = match dtype {
        DataType::UInt64 => u64::try_from(i).ok().map(Scalar::UInt),
        _ => i64::try_from(i).ok().map(Scalar::Int),
    };
    // Only a 128-bit column holds values no scalar can: they are beyond
    // what filter values can name (see `coerce_int`).
    match scalar {
        Some(scalar) => Coerced::Exact(scalar),
        None if i < 0 => Coerced::Below,
        None => Coerced::Above,
    }
}

/// The values an integer column of type `dtype` can hold (dates: their
/// days). For 128-bit columns, as far as an `i128` reaches.
pub(crate) fn int_range(dtype: &DataType) -> (i128, i128) {
    match dtype {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::UInt8 => (0, u8::MAX.into()),
        DataType::UInt16 => (0, u16::MAX.into()),
        DataType::UInt32 => (0, u32::MAX.into()),
        DataType::UInt64 => (0, u64::MAX.into()),
        DataType::Int128 => (i128::MIN, i128::MAX),
        DataType::UInt128 => (0, i128::MAX),
        DataType::Date => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    }
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn parse_date(s: &str) -> Option<i32> {
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    chrono::Datelike::num_days_from_ce(&date).checked_sub(UNIX_EPOCH_DAYS_FROM_CE)
}

fn days_to_date(days: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
}

/// A datetime literal read to nanoseconds since 1970-01-01 00:00.
enum Parsed {
    /// Without an offset: wall-clock time, as a column without a time zone
    /// stores it.
    Naive(i128),
    /// With `Z` or an offset: an instant, in UTC.
    Instant(i128),
}

/// Reads `2024-03-31`, `2024-03-31 12:00`, `2024-03-31T12:00:00.123456789`,
/// each optionally followed by `Z` or an offset such as `+02:00`.
fn parse_datetime(s: &str) -> Option<Parsed> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let nanos = |t: NaiveDateTime| {
        let t = t.and_utc();
        i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
    };
    if !exact_in_nanoseconds(s) {
        return None;
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(Parsed::Naive(nanos(date.and_hms_opt(0, 0, 0)?)));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(Parsed::Naive(nanos(t)));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M%:z",
    ] {
        let zulu = s
            .strip_suffix(['Z', 'z'])
            .map(|rest| format!("{rest}+00:00"));
        let text = zulu.as_deref().unwrap_or(s);
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(Parsed::Instant(nanos(t.naive_utc())));
        }
    }
    None
}

/// Whether the fraction of a second (if any) ends within nanoseconds:
/// chrono drops the digits past the ninth, which would read
/// `06:00:00.0000000001` as `06:00:00` (and `> 06:00:00.0000000001` would
/// keep the row at 06:00). Zeros past the ninth digit change nothing.
fn exact_in_nanoseconds(s: &str) -> bool {
    // Only a fraction of a second has a dot (an offset has none).
    let Some(dot) = s.find('.') else {
        return true;
    };
    s[dot + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .skip(9)
        .all(|d| d == b'0')
}

/// Nanoseconds as a value of a datetime column of `unit`; a time between
/// two of its values is a [`Coerced::Gap`].
fn in_unit(nanos: i128, unit: TimeUnit) -> Coerced {
    let per_unit: i128 = match unit {
        TimeUnit::Nanoseconds => 1,
        TimeUnit::Microseconds => 1_000,
        TimeUnit::Milliseconds => 1_000_000,
    };
    let (floor, rest) = (nanos.div_euclid(per_unit), nanos.rem_euclid(per_unit));
    let scalar = |t: i128| i64::try_from(t).ok().map(|t| Scalar::Datetime(t, unit));
    match (scalar(floor), rest) {
        (Some(exact), 0) => Coerced::Exact(exact),
        (Some(below), _) => match scalar(floor + 1) {
            Some(above) => Coerced::Gap(below, above),
            None => Coerced::Above,
        },
        (None, _) if floor < 0 => Coerced::Below,
        (None, _) => Coerced::Above,
    }
}

fn timestamp_to_datetime(t: i64, unit: TimeUnit) -> Option<chrono::NaiveDateTime> {
    let t = match unit {
        TimeUnit::Nanoseconds => chrono::DateTime::from_timestamp_nanos(t),
        TimeUnit::Microseconds => chrono::DateTime::from_timestamp_micros(t)?,
        TimeUnit::Milliseconds => chrono::DateTime::from_timestamp_millis(t)?,
    };
    Some(t.naive_utc())
}
