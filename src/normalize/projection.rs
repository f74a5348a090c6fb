//! Output column names, compared without building them: the hit path only
//! materializes a name when the caller's view differs from the cached frame.

use std::fmt::Write as _;

use polars::prelude::PlSmallStr;

use crate::query::AggFn;

/// An output column's name as the query implies it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OutName<'a> {
    /// A group-by column, an alias, or `len`.
    Text(&'a str),
    /// An aggregate without alias: `{func}_{column}`.
    Default(AggFn, &'a str),
}

impl OutName<'_> {
    pub(crate) fn matches(&self, s: &str) -> bool {
        match *self {
            OutName::Text(t) => t == s,
            OutName::Default(func, column) => {
                let f = func.name();
                s.len() == f.len() + 1 + column.len()
                    && s.starts_with(f)
                    && s.as_bytes()[f.len()] == b'_'
                    && s.ends_with(column)
            }
        }
    }

    pub(crate) fn same(&self, other: &OutName<'_>) -> bool {
        match (*self, *other) {
            (OutName::Text(a), b) => b.matches(a),
            (a, OutName::Text(b)) => a.matches(b),
            (OutName::Default(f1, c1), OutName::Default(f2, c2)) => f1 == f2 && c1 == c2,
        }
    }

    pub(crate) fn to_small_str(self) -> PlSmallStr {
        match self {
            OutName::Text(t) => PlSmallStr::from(t),
            OutName::Default(func, column) => {
                // Inline for short names: no allocation.
                let mut name = PlSmallStr::EMPTY;
                let _ = write!(name, "{}_{column}", func.name());
                name
            }
        }
    }
}

impl std::fmt::Display for OutName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutName::Text(t) => f.write_str(t),
            OutName::Default(func, column) => write!(f, "{}_{column}", func.name()),
        }
    }
}
