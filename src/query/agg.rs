//! Aggregates: a function over a column, with an optional output name.

/// An aggregate function, as named in the JSON form.
///
/// All of them skip nulls. Over no non-null value they give null, except
/// [`Count`](AggFn::Count), [`Len`](AggFn::Len) and
/// [`NUnique`](AggFn::NUnique), which give 0 (as in SQL).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AggFn {
    /// Sum of the values.
    Sum,
    /// Arithmetic mean.
    Mean,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Number of non-null values.
    Count,
    /// Number of rows, nulls included; takes no column.
    Len,
    /// Number of distinct non-null values.
    NUnique,
    /// Median (the mean of the two middle values for an even count).
    Median,
    /// Sample standard deviation (`n - 1` in the denominator).
    Std,
    /// Sample variance (`n - 1` in the denominator).
    Var,
    /// First non-null value in file order.
    First,
    /// Last non-null value in file order.
    Last,
}

impl AggFn {
    /// Every function, in the order of the docs.
    pub const ALL: [AggFn; 12] = [
        AggFn::Sum,
        AggFn::Mean,
        AggFn::Min,
        AggFn::Max,
        AggFn::Count,
        AggFn::Len,
        AggFn::NUnique,
        AggFn::Median,
        AggFn::Std,
        AggFn::Var,
        AggFn::First,
        AggFn::Last,
    ];

    /// The function's name in the JSON form.
    pub fn name(self) -> &'static str {
        match self {
            AggFn::Sum => "sum",
            AggFn::Mean => "mean",
            AggFn::Min => "min",
            AggFn::Max => "max",
            AggFn::Count => "count",
            AggFn::Len => "len",
            AggFn::NUnique => "n_unique",
            AggFn::Median => "median",
            AggFn::Std => "std",
            AggFn::Var => "var",
            AggFn::First => "first",
            AggFn::Last => "last",
        }
    }

    /// The function named `name` in the JSON form.
    pub fn from_name(name: &str) -> Option<AggFn> {
        AggFn::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// One output column computed over each group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Agg {
    /// The function.
    pub func: AggFn,
    /// The aggregated column; `None` only for [`AggFn::Len`].
    pub column: Option<String>,
    /// The output column's name. Default: `{func}_{column}` (`sum_revenue`),
    /// or `len`.
    pub alias: Option<String>,
}

impl Agg {
    /// `func` over `column`.
    pub fn new(func: AggFn, column: impl Into<String>) -> Self {
        Agg {
            func,
            column: Some(column.into()),
            alias: None,
        }
    }

    /// The number of rows of each group.
    pub fn len() -> Self {
        Agg {
            func: AggFn::Len,
            column: None,
            alias: None,
        }
    }

    /// Names the output column.
    #[must_use]
    pub fn alias(mut self, name: impl Into<String>) -> Self {
        self.alias = Some(name.into());
        self
    }

    /// The output column's name: the alias, or the default.
    pub fn output_name(&self) -> String {
        match (&self.alias, &self.column) {
            (Some(alias), _) => alias.clone(),
            (None, Some(column)) => default_name(self.func, column).to_string(),
            (None, None) => self.func.name().to_owned(),
        }
    }
}

/// The name an aggregate's output column gets without an alias.
#[inline]
pub(crate) fn default_name(func: AggFn, column: &str) -> DefaultName<'_> {
    DefaultName { func, column }
}

/// `{func}_{column}` (`sum_revenue`): the one place that spells the default
/// output name. It compares and writes itself without an intermediate
/// `String`: normalizing builds a name only for a caller whose view differs
/// from the cached frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DefaultName<'a> {
    func: AggFn,
    column: &'a str,
}

impl DefaultName<'_> {
    /// Whether `name` is this name.
    #[inline]
    pub(crate) fn matches(&self, name: &str) -> bool {
        let func = self.func.name();
        name.len() == func.len() + 1 + self.column.len()
            && name.starts_with(func)
            && name.as_bytes()[func.len()] == b'_'
            && name.ends_with(self.column)
    }
}

impl std::fmt::Display for DefaultName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.func.name(), self.column)
    }
}
