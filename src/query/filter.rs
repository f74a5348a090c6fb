//! Row filters: a column, an operator and its operands.

use super::Value;

/// A filter operator, as named in the JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Op {
    /// `column = value`
    Eq,
    /// `column <> value` (never selects nulls)
    Ne,
    /// `column < value`
    Lt,
    /// `column <= value`
    Le,
    /// `column > value`
    Gt,
    /// `column >= value`
    Ge,
    /// `column IN (values...)`
    In,
    /// `column NOT IN (values...)` (never selects nulls)
    NotIn,
    /// `column BETWEEN low AND high`, both ends included
    Between,
    /// `column IS NULL`
    IsNull,
    /// `column IS NOT NULL`
    IsNotNull,
}

impl Op {
    /// The operator's name in the JSON form.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Between => "between",
            Op::IsNull => "is_null",
            Op::IsNotNull => "is_not_null",
        }
    }
}

/// What a filter asks of its column's values.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Predicate {
    /// Equal to the value.
    Eq(Value),
    /// Not null and not equal to the value.
    Ne(Value),
    /// Less than the value.
    Lt(Value),
    /// Less than or equal to the value.
    Le(Value),
    /// Greater than the value.
    Gt(Value),
    /// Greater than or equal to the value.
    Ge(Value),
    /// Equal to one of the values; the list must not be empty.
    In(Vec<Value>),
    /// Not null and equal to none of the values; the list must not be empty.
    NotIn(Vec<Value>),
    /// Between the two values, both included.
    Between(Value, Value),
    /// Null.
    IsNull,
    /// Not null.
    IsNotNull,
}

impl Predicate {
    /// The operator of this predicate.
    pub fn op(&self) -> Op {
        match self {
            Predicate::Eq(_) => Op::Eq,
            Predicate::Ne(_) => Op::Ne,
            Predicate::Lt(_) => Op::Lt,
            Predicate::Le(_) => Op::Le,
            Predicate::Gt(_) => Op::Gt,
            Predicate::Ge(_) => Op::Ge,
            Predicate::In(_) => Op::In,
            Predicate::NotIn(_) => Op::NotIn,
            Predicate::Between(..) => Op::Between,
            Predicate::IsNull => Op::IsNull,
            Predicate::IsNotNull => Op::IsNotNull,
        }
    }
}

/// One condition on one column. A query's filters are ANDed.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The column's name.
    pub column: String,
    /// The condition on its values.
    pub predicate: Predicate,
}

impl Filter {
    /// A filter on `column`.
    pub fn new(column: impl Into<String>, predicate: Predicate) -> Self {
        Filter {
            column: column.into(),
            predicate,
        }
    }
}
