//! `WHERE`: a conjunction of conditions on one column each, to filters.

use sqlparser::ast::{BinaryOperator, Expr, Spanned};

use super::column::column;
use super::literal::{is_literal, unparenthesized, value};
use super::refuse::{invalid, unsupported, unsupported_expr};
use crate::Result;
use crate::query::{Filter, Predicate};

/// What a condition may be, for messages.
const CONDITIONS: &str = "a condition compares a column with a literal (=, <>, <, <=, >, >=), \
    or is col [NOT] IN (...), col BETWEEN low AND high, col IS [NOT] NULL";

/// The filters of the `WHERE` clause `condition`, in the order written.
pub(super) fn filters(condition: &Expr, table: &str) -> Result<Vec<Filter>> {
    let mut filters = Vec::new();
    // A loop, not recursion: `AND` chains are as deep as they are long.
    let mut pending = vec![condition];
    while let Some(expr) = pending.pop() {
        match unparenthesized(expr) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                pending.push(right);
                pending.push(left);
            }
            other => filters.push(filter(other, table)?),
        }
    }
    Ok(filters)
}

/// One condition, which is not an `AND`.
fn filter(expr: &Expr, table: &str) -> Result<Filter> {
    let on = |column_expr: &Expr| -> Result<String> {
        column(column_expr, table)?.ok_or_else(|| {
            unsupported_expr(
                column_expr,
                "the left of IN, BETWEEN and IS NULL is a column",
            )
        })
    };
    match expr {
        Expr::BinaryOp { left, op, right } => comparison(expr, left, op, right, table),
        Expr::InList {
            expr: of,
            list,
            negated,
        } => {
            let column = on(of)?;
            if let Some(null) = list.iter().find(|v| is_null(v)) {
                return Err(invalid(
                    "NULL in an IN list matches nothing (and makes NOT IN match nothing); \
                     leave it out, and ask for IS NULL apart"
                        .to_owned(),
                    null.span(),
                ));
            }
            let values = list.iter().map(value).collect::<Result<Vec<_>>>()?;
            let predicate = if *negated {
                Predicate::NotIn(values)
            } else {
                Predicate::In(values)
            };
            Ok(Filter::new(column, predicate))
        }
        Expr::Between {
            expr: of,
            negated: false,
            low,
            high,
        } => Ok(Filter::new(
            on(of)?,
            Predicate::Between(value(low)?, value(high)?),
        )),
        Expr::Between { negated: true, .. } => Err(unsupported(
            "NOT BETWEEN",
            expr.span(),
            "it means col < low OR col > high, and OR is not supported; \
             ask for each side apart",
        )),
        Expr::IsNull(of) => Ok(Filter::new(on(of)?, Predicate::IsNull)),
        Expr::IsNotNull(of) => Ok(Filter::new(on(of)?, Predicate::IsNotNull)),
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Not,
            ..
        } => Err(unsupported(
            "NOT",
            expr.span(),
            "write the negated condition: <> for =, >= for <, NOT IN for IN, \
             IS NOT NULL for IS NULL",
        )),
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => Err(unsupported(
            "a column as a condition",
            expr.span(),
            "compare it with a value, e.g. col = TRUE",
        )),
        other => Err(unsupported_expr(other, CONDITIONS)),
    }
}

/// `left op right`: a column and a literal, either way round.
fn comparison(
    whole: &Expr,
    left: &Expr,
    op: &BinaryOperator,
    right: &Expr,
    table: &str,
) -> Result<Filter> {
    if !is_comparison(op) {
        return Err(unsupported_expr(whole, CONDITIONS));
    }
    let (column_expr, literal, op) = match (is_literal(left), is_literal(right)) {
        (false, true) => (left, right, op.clone()),
        (true, false) => (right, left, flipped(op)),
        (true, true) => {
            return Err(unsupported(
                "a comparison of two literals",
                whole.span(),
                "compare a column with a literal",
            ));
        }
        (false, false) => {
            let both = column(left, table)?.is_some() && column(right, table)?.is_some();
            if both {
                return Err(unsupported(
                    "a comparison of two columns",
                    whole.span(),
                    "compare a column with a literal ('text' in single quotes: double quotes name columns)",
                ));
            }
            let odd = if column(left, table)?.is_some() {
                right
            } else {
                left
            };
            return Err(unsupported_expr(
                odd,
                "compare a column with a literal: a number, 'text', TRUE or FALSE",
            ));
        }
    };
    let Some(name) = column(column_expr, table)? else {
        return Err(unsupported_expr(
            column_expr,
            "compare a column, not an expression, with a literal",
        ));
    };
    let v = value(literal)?;
    let predicate = match op {
        BinaryOperator::Eq => Predicate::Eq(v),
        BinaryOperator::NotEq => Predicate::Ne(v),
        BinaryOperator::Lt => Predicate::Lt(v),
        BinaryOperator::LtEq => Predicate::Le(v),
        BinaryOperator::Gt => Predicate::Gt(v),
        _ => Predicate::Ge(v),
    };
    Ok(Filter::new(name, predicate))
}

fn is_comparison(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

/// The operator with its sides swapped: `2024 < year` is `year > 2024`.
fn flipped(op: &BinaryOperator) -> BinaryOperator {
    match op {
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        other => other.clone(),
    }
}

fn is_null(expr: &Expr) -> bool {
    matches!(
        unparenthesized(expr),
        Expr::Value(v) if v.value == sqlparser::ast::Value::Null
    )
}
