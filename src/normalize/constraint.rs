//! Everything the filters of one query ask of one column, folded into one
//! canonical condition.
//!
//! This is where the equivalence rules live: `in [x]` is `eq x`, `between`
//! is `ge` + `le`, overlapping ranges intersect, a range that closes on one
//! value is `eq`, `ne` on a boolean column is `eq` of the other value, and
//! exclusive bounds on integer-like columns become inclusive ones.
//!
//! Integer-like columns are read in their own type: a bound at or beyond
//! its ends bounds nothing or leaves nothing (`x < 5e9` on an `Int32`
//! column is `x IS NOT NULL`), so Polars only ever sees values the column
//! can hold. All arithmetic on values is in `i128` or checked: user values
//! never wrap.

use super::key::{ColumnFilter, ColumnRef};
use super::scalar::{Coerced, Scalar, coerce, int_range, whole_or_fraction};
use crate::dataset::{ColumnInfo, ColumnKind, Dataset};
use crate::error::excerpt;
use crate::query::{Filter, Predicate, Value};
use crate::{Error, Result};

/// One end of a range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bound {
    /// The end value.
    pub value: Scalar,
    /// Whether the end value itself is in the range.
    pub inclusive: bool,
}

/// The canonical condition on one column. Every variant but `IsNull`
/// excludes nulls, as any comparison does in SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Constraint {
    /// The value is null.
    IsNull,
    /// The value is not null.
    NotNull,
    /// The value is one of these (sorted, distinct, at least one).
    OneOf(Vec<Scalar>),
    /// The value is in the range and is none of `exclude` (sorted,
    /// distinct, each inside the range). At least one part is present.
    Range {
        /// Lower end, if any.
        low: Option<Bound>,
        /// Upper end, if any.
        high: Option<Bound>,
        /// Values inside the range that are left out.
        exclude: Vec<Scalar>,
    },
}

impl Constraint {
    /// Whether a non-null value satisfies the constraint.
    pub fn accepts(&self, value: &Scalar) -> bool {
        match self {
            Constraint::IsNull => false,
            Constraint::NotNull => true,
            Constraint::OneOf(values) => values.binary_search(value).is_ok(),
            Constraint::Range { low, high, exclude } => {
                in_range(value, low.as_ref(), high.as_ref())
                    && exclude.binary_search(value).is_err()
            }
        }
    }
}

impl Constraint {
    /// Whether every value `inner` accepts, `self` accepts too (nulls
    /// included): an answer filtered by `self` on a column it groups by
    /// holds every group of an answer filtered by `inner`. `false` when it
    /// cannot tell (a set of integers that happens to fill a range).
    ///
    /// ```
    /// use polars_query_cache::key::{Bound, Constraint, Scalar};
    ///
    /// let years = Constraint::OneOf(vec![Scalar::Int(2023), Scalar::Int(2024)]);
    /// assert!(years.contains(&Constraint::OneOf(vec![Scalar::Int(2024)])));
    /// let at_least_10 = Constraint::Range {
    ///     low: Some(Bound { value: Scalar::Float(10.0), inclusive: true }),
    ///     high: None,
    ///     exclude: vec![],
    /// };
    /// let from_20_to_30 = Constraint::Range {
    ///     low: Some(Bound { value: Scalar::Float(20.0), inclusive: true }),
    ///     high: Some(Bound { value: Scalar::Float(30.0), inclusive: true }),
    ///     exclude: vec![],
    /// };
    /// assert!(at_least_10.contains(&from_20_to_30));
    /// assert!(!from_20_to_30.contains(&at_least_10));
    /// ```
    pub fn contains(&self, inner: &Constraint) -> bool {
        if self == inner {
            return true;
        }
        match (self, inner) {
            (Constraint::IsNull, _) | (_, Constraint::IsNull) => false,
            (Constraint::NotNull, _) => true,
            (_, Constraint::OneOf(values)) => values.iter().all(|v| self.accepts(v)),
            (
                Constraint::Range { low, high, exclude },
                Constraint::Range {
                    low: inner_low,
                    high: inner_high,
                    exclude: inner_exclude,
                },
            ) => {
                let low_ok = match (inner_low, low) {
                    (_, None) => true,
                    (None, Some(_)) => false,
                    (Some(i), Some(o)) => i == o || tighter_low(i, o),
                };
                let high_ok = match (inner_high, high) {
                    (_, None) => true,
                    (None, Some(_)) => false,
                    (Some(i), Some(o)) => i == o || tighter_high(i, o),
                };
                // A hole of the outer range that the inner range spans
                // must be a hole of the inner one too.
                low_ok
                    && high_ok
                    && exclude.iter().all(|x| {
                        !in_range(x, inner_low.as_ref(), inner_high.as_ref())
                            || inner_exclude.binary_search(x).is_ok()
                    })
            }
            (Constraint::OneOf(_), Constraint::NotNull | Constraint::Range { .. })
            | (Constraint::Range { .. }, Constraint::NotNull) => false,
        }
    }
}

fn in_range(value: &Scalar, low: Option<&Bound>, high: Option<&Bound>) -> bool {
    let above = low.is_none_or(|b| {
        if b.inclusive {
            value >= &b.value
        } else {
            value > &b.value
        }
    });
    let below = high.is_none_or(|b| {
        if b.inclusive {
            value <= &b.value
        } else {
            value < &b.value
        }
    });
    above && below
}

/// `filters` folded into at most one condition per column, in schema
/// order, and whether they contradict each other. No row matches a
/// contradiction, so then no condition is kept.
#[inline]
pub(super) fn fold_filters(
    filters: &[Filter],
    dataset: &Dataset,
) -> Result<(Vec<ColumnFilter>, bool)> {
    let mut per_column: Vec<(ColumnRef, &ColumnInfo, Accumulator)> = Vec::new();
    for filter in filters {
        let (col, info) = super::column(dataset, &filter.column)?;
        let slot = match per_column.iter().position(|(c, _, _)| c.index == col.index) {
            Some(slot) => slot,
            None => {
                per_column.push((col, info, Accumulator::default()));
                per_column.len() - 1
            }
        };
        per_column[slot].2.add(&filter.predicate, info)?;
    }
    per_column.sort_unstable_by_key(|(c, _, _)| c.index);
    let mut folded = Vec::with_capacity(per_column.len());
    let mut contradiction = false;
    for (column, info, acc) in per_column {
        match acc.finish(info) {
            Some(constraint) => folded.push(ColumnFilter { column, constraint }),
            None => contradiction = true,
        }
    }
    if contradiction {
        folded.clear();
    }
    Ok((folded, contradiction))
}

/// Gathers the predicates on one column, in any order.
#[derive(Default)]
struct Accumulator {
    is_null: bool,
    not_null: bool,
    one_of: Option<Vec<Scalar>>,
    low: Option<Bound>,
    high: Option<Bound>,
    exclude: Vec<Scalar>,
}

impl Accumulator {
    fn add(&mut self, predicate: &Predicate, column: &ColumnInfo) -> Result<()> {
        check_operator(predicate, column)?;
        match predicate {
            Predicate::IsNull => self.is_null = true,
            Predicate::IsNotNull => self.not_null = true,
            Predicate::Eq(v) => self.restrict_to(std::slice::from_ref(v), column)?,
            Predicate::In(vs) => {
                if vs.is_empty() {
                    return Err(empty_list("in", column));
                }
                self.restrict_to(vs, column)?;
            }
            Predicate::Ne(v) => self.exclude_values(std::slice::from_ref(v), column)?,
            Predicate::NotIn(vs) => {
                if vs.is_empty() {
                    return Err(empty_list("not_in", column));
                }
                self.exclude_values(vs, column)?;
            }
            Predicate::Lt(v) => self.bound_high(v, false, column)?,
            Predicate::Le(v) => self.bound_high(v, true, column)?,
            Predicate::Gt(v) => self.bound_low(v, false, column)?,
            Predicate::Ge(v) => self.bound_low(v, true, column)?,
            Predicate::Between(low, high) => {
                self.bound_low(low, true, column)?;
                self.bound_high(high, true, column)?;
            }
        }
        Ok(())
    }

    fn restrict_to(&mut self, values: &[Value], column: &ColumnInfo) -> Result<()> {
        let mut set = Vec::with_capacity(values.len());
        for v in values {
            // A fraction equals no integer: it adds nothing to the set.
            if let Coerced::Exact(s) = coerce(v, column)? {
                set.push(s);
            }
        }
        if set.len() > 1 {
            set.sort_unstable();
            set.dedup();
        }
        self.one_of = Some(match self.one_of.take() {
            None => set,
            Some(old) => old
                .into_iter()
                .filter(|v| set.binary_search(v).is_ok())
                .collect(),
        });
        Ok(())
    }

    fn exclude_values(&mut self, values: &[Value], column: &ColumnInfo) -> Result<()> {
        for v in values {
            if let Coerced::Exact(s) = coerce(v, column)? {
                self.exclude.push(s);
            }
        }
        // `ne` selects nothing null, even when its value equals no row.
        self.not_null = true;
        Ok(())
    }

    fn bound_low(&mut self, value: &Value, inclusive: bool, column: &ColumnInfo) -> Result<()> {
        let (coerced, inclusive) = match coerce(value, column)? {
            // x > 2.5 and x >= 2.5 both mean x >= 3 for integers.
            Coerced::Fraction(f) => (whole_or_fraction(f.ceil(), &column.dtype), true),
            Coerced::Gap(_, above) => (Coerced::Exact(above), true),
            other => (other, inclusive),
        };
        let bound = match coerced {
            Coerced::Exact(value) => Bound { value, inclusive },
            // Every non-null value passes. (A ceiling has no fraction left.)
            Coerced::Below | Coerced::Fraction(_) | Coerced::Gap(..) => {
                self.not_null = true;
                return Ok(());
            }
            Coerced::Above => {
                self.nothing();
                return Ok(());
            }
        };
        if self.low.as_ref().is_none_or(|old| tighter_low(&bound, old)) {
            self.low = Some(bound);
        }
        Ok(())
    }

    fn bound_high(&mut self, value: &Value, inclusive: bool, column: &ColumnInfo) -> Result<()> {
        let (coerced, inclusive) = match coerce(value, column)? {
            Coerced::Fraction(f) => (whole_or_fraction(f.floor(), &column.dtype), true),
            Coerced::Gap(below, _) => (Coerced::Exact(below), true),
            other => (other, inclusive),
        };
        let bound = match coerced {
            Coerced::Exact(value) => Bound { value, inclusive },
            Coerced::Above | Coerced::Fraction(_) | Coerced::Gap(..) => {
                self.not_null = true;
                return Ok(());
            }
            Coerced::Below => {
                self.nothing();
                return Ok(());
            }
        };
        if self
            .high
            .as_ref()
            .is_none_or(|old| tighter_high(&bound, old))
        {
            self.high = Some(bound);
        }
        Ok(())
    }

    /// No value passes: an empty set of allowed values.
    fn nothing(&mut self) {
        self.one_of = Some(Vec::new());
    }

    /// The canonical constraint, or `None` when no value can satisfy the
    /// predicates (the query is a contradiction).
    fn finish(self, column: &ColumnInfo) -> Option<Constraint> {
        let kind = column.kind;
        let constraint = self.fold(column)?;
        if kind.is_integer_like() {
            integer_form(constraint, int_range(&column.dtype))
        } else {
            Some(constraint)
        }
    }

    fn fold(self, column: &ColumnInfo) -> Option<Constraint> {
        let kind = column.kind;
        let Accumulator {
            is_null,
            not_null,
            one_of,
            low,
            high,
            mut exclude,
        } = self;
        let has_value_condition =
            one_of.is_some() || low.is_some() || high.is_some() || !exclude.is_empty();
        if is_null {
            return (!not_null && !has_value_condition).then_some(Constraint::IsNull);
        }
        let (low, high) = if kind.is_integer_like() {
            let range = int_range(&column.dtype);
            match (
                low.map(|b| inclusive_low(b, range)).transpose(),
                high.map(|b| inclusive_high(b, range)).transpose(),
            ) {
                (Ok(low), Ok(high)) => (low.flatten(), high.flatten()),
                _ => return None,
            }
        } else {
            (low, high)
        };
        exclude.sort_unstable();
        exclude.dedup();
        if let Some(set) = one_of {
            if low.is_none() && high.is_none() && exclude.is_empty() {
                return (!set.is_empty()).then_some(Constraint::OneOf(set));
            }
            let set: Vec<Scalar> = set
                .into_iter()
                .filter(|v| {
                    in_range(v, low.as_ref(), high.as_ref()) && exclude.binary_search(v).is_err()
                })
                .collect();
            return (!set.is_empty()).then_some(Constraint::OneOf(set));
        }
        if let (Some(l), Some(h)) = (&low, &high) {
            match l.value.cmp(&h.value) {
                std::cmp::Ordering::Greater => return None,
                std::cmp::Ordering::Equal if l.inclusive && h.inclusive => {
                    let only = l.value.clone();
                    return (exclude.binary_search(&only).is_err())
                        .then(|| Constraint::OneOf(vec![only]));
                }
                std::cmp::Ordering::Equal => return None,
                std::cmp::Ordering::Less => {}
            }
        }
        exclude.retain(|v| in_range(v, low.as_ref(), high.as_ref()));
        if kind == ColumnKind::Bool && !exclude.is_empty() {
            let rest: Vec<Scalar> = [false, true]
                .into_iter()
                .map(Scalar::Bool)
                .filter(|v| exclude.binary_search(v).is_err())
                .collect();
            return (!rest.is_empty()).then_some(Constraint::OneOf(rest));
        }
        if low.is_none() && high.is_none() && exclude.is_empty() {
            return Some(Constraint::NotNull);
        }
        Some(Constraint::Range { low, high, exclude })
    }
}

/// Ranges with holes are enumerated up to this many values.
const MAX_ENUMERATED: i128 = 1024;

/// On integers and dates a set of consecutive values is a range, and a
/// short range with holes is a set: `in [2023, 2024]` is
/// `between 2023, 2024`; `between 1, 5 and ne 3` is `in [1, 2, 4, 5]`.
///
/// The arithmetic is in `i128`, where the difference of any two values of
/// a column (at most 64 bits) cannot overflow.
fn integer_form(constraint: Constraint, (min, max): (i128, i128)) -> Option<Constraint> {
    match constraint {
        Constraint::OneOf(set) if set.len() >= 2 => {
            let (first, last) = (&set[0], &set[set.len() - 1]);
            // Sorted and distinct: consecutive exactly when the span is the count.
            let span = int_value(last)
                .zip(int_value(first))
                .map(|(l, f)| l - f + 1);
            if span.is_some() && span == i128::try_from(set.len()).ok() {
                // An end at the column's own end bounds nothing.
                let bound = |value: &Scalar, end: i128| {
                    (int_value(value) != Some(end)).then(|| Bound {
                        value: value.clone(),
                        inclusive: true,
                    })
                };
                Some(match (bound(first, min), bound(last, max)) {
                    (None, None) => Constraint::NotNull,
                    (low, high) => Constraint::Range {
                        low,
                        high,
                        exclude: Vec::new(),
                    },
                })
            } else {
                Some(Constraint::OneOf(set))
            }
        }
        Constraint::Range { low, high, exclude } if !exclude.is_empty() => {
            // An open end is the column's own end (`ne 5` on a `UInt8`
            // column is a range of 256 values with one hole).
            let end =
                |b: &Option<Bound>, or: i128| b.as_ref().map_or(Some(or), |b| int_value(&b.value));
            let (Some(lo), Some(hi)) = (end(&low, min), end(&high, max)) else {
                return Some(Constraint::Range { low, high, exclude });
            };
            // Checked: a 128-bit column's ends are i128's.
            if hi.checked_sub(lo).is_none_or(|span| span >= MAX_ENUMERATED) {
                return Some(Constraint::Range { low, high, exclude });
            }
            let like = exclude[0].clone();
            let set: Vec<Scalar> = (lo..=hi)
                .filter_map(|i| same_kind(&like, i))
                .filter(|v| exclude.binary_search(v).is_err())
                .collect();
            if set.is_empty() {
                return None;
            }
            integer_form(Constraint::OneOf(set), (min, max))
        }
        other => Some(other),
    }
}

fn int_value(s: &Scalar) -> Option<i128> {
    match s {
        Scalar::Int(i) => Some(i128::from(*i)),
        Scalar::UInt(u) => Some(i128::from(*u)),
        Scalar::Date(d) => Some(i128::from(*d)),
        Scalar::Datetime(t, _) => Some(i128::from(*t)),
        _ => None,
    }
}

/// `i` as a scalar of the same variant as `like`, when it fits.
fn same_kind(like: &Scalar, i: i128) -> Option<Scalar> {
    match like {
        Scalar::Date(_) => i32::try_from(i).ok().map(Scalar::Date),
        Scalar::Datetime(_, unit) => i64::try_from(i).ok().map(|t| Scalar::Datetime(t, *unit)),
        Scalar::UInt(_) => u64::try_from(i).ok().map(Scalar::UInt),
        Scalar::Int(_) => i64::try_from(i).ok().map(Scalar::Int),
        _ => None,
    }
}

fn empty_list(op: &str, column: &ColumnInfo) -> Error {
    Error::InvalidQuery(format!(
        "`{op}` on `{}` has an empty list; give at least one value or drop the filter",
        excerpt(&column.name)
    ))
}

/// Ranges are for ordered values: not for booleans.
fn check_operator(predicate: &Predicate, column: &ColumnInfo) -> Result<()> {
    let ordered = matches!(
        predicate,
        Predicate::Lt(_)
            | Predicate::Le(_)
            | Predicate::Gt(_)
            | Predicate::Ge(_)
            | Predicate::Between(..)
    );
    let bad = match column.kind {
        ColumnKind::Bool => ordered,
        ColumnKind::Other => !matches!(predicate, Predicate::IsNull | Predicate::IsNotNull),
        _ => false,
    };
    if bad {
        return Err(Error::InvalidOperator {
            op: predicate.op().name(),
            column: column.name.clone(),
            dtype: column.dtype.to_string(),
        });
    }
    Ok(())
}

fn tighter_low(new: &Bound, old: &Bound) -> bool {
    match new.value.cmp(&old.value) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => !new.inclusive,
        std::cmp::Ordering::Less => false,
    }
}

fn tighter_high(new: &Bound, old: &Bound) -> bool {
    match new.value.cmp(&old.value) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => !new.inclusive,
        std::cmp::Ordering::Greater => false,
    }
}

/// An integer-like lower bound made inclusive, within the column's
/// `(min, max)`: `Ok(None)` when every non-null value passes it, `Err`
/// when none can.
fn inclusive_low(b: Bound, (min, max): (i128, i128)) -> Result<Option<Bound>, ()> {
    let Some(i) = int_value(&b.value) else {
        return Ok(Some(b));
    };
    let i = if b.inclusive { i } else { i + 1 };
    if i <= min {
        return Ok(None);
    }
    if i > max {
        return Err(());
    }
    inclusive(b, i)
}

/// The upper end's counterpart of [`inclusive_low`].
fn inclusive_high(b: Bound, (min, max): (i128, i128)) -> Result<Option<Bound>, ()> {
    let Some(i) = int_value(&b.value) else {
        return Ok(Some(b));
    };
    let i = if b.inclusive { i } else { i - 1 };
    if i >= max {
        return Ok(None);
    }
    if i < min {
        return Err(());
    }
    inclusive(b, i)
}

/// The bound on `i`, inclusive, in `b`'s scalar kind; `b` itself when `i`
/// does not fit it (`x > i64::MAX` on an `Int128` column stays as it is).
fn inclusive(b: Bound, i: i128) -> Result<Option<Bound>, ()> {
    Ok(Some(match same_kind(&b.value, i) {
        Some(value) => Bound {
            value,
            inclusive: true,
        },
        None => b,
    }))
}

impl Constraint {
    /// The condition in SQL words, on `column`.
    pub fn describe(&self, column: &str) -> String {
        let list = |values: &[Scalar]| {
            values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Constraint::IsNull => format!("{column} IS NULL"),
            Constraint::NotNull => format!("{column} IS NOT NULL"),
            Constraint::OneOf(values) if values.len() == 1 => format!("{column} = {}", values[0]),
            Constraint::OneOf(values) => format!("{column} IN ({})", list(values)),
            Constraint::Range { low, high, exclude } => {
                let mut parts = Vec::new();
                if let Some(b) = low {
                    parts.push(format!(
                        "{column} {} {}",
                        if b.inclusive { ">=" } else { ">" },
                        b.value
                    ));
                }
                if let Some(b) = high {
                    parts.push(format!(
                        "{column} {} {}",
                        if b.inclusive { "<=" } else { "<" },
                        b.value
                    ));
                }
                if !exclude.is_empty() {
                    parts.push(format!("{column} NOT IN ({})", list(exclude)));
                }
                parts.join(" AND ")
            }
        }
    }
}
