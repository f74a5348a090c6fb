//! Literals: numbers, text and booleans, read exactly or refused.

use sqlparser::ast::{Expr, Spanned, UnaryOperator, Value as SqlValue};
use sqlparser::tokenizer::Span;

use super::refuse::{invalid, unsupported, unsupported_expr};
use crate::Result;
use crate::error::excerpt;
use crate::query::Value;

/// Whether `expr` is written as a literal (a sign and a number count),
/// in parentheses or not: the side of a comparison that is not the
/// column.
pub(super) fn is_literal(expr: &Expr) -> bool {
    match unparenthesized(expr) {
        Expr::Value(_) => true,
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => matches!(unparenthesized(expr), Expr::Value(_)),
        _ => false,
    }
}

/// `expr` without the parentheses around it.
pub(super) fn unparenthesized(mut expr: &Expr) -> &Expr {
    while let Expr::Nested(inner) = expr {
        expr = inner;
    }
    expr
}

/// The filter value `expr` writes: an integer that fits an `i64`, a
/// finite float, text or a boolean. `NULL` and everything else are errors
/// saying what to write instead.
pub(super) fn value(expr: &Expr) -> Result<Value> {
    let expr = unparenthesized(expr);
    let (negative, literal) = match expr {
        Expr::UnaryOp {
            op: op @ (UnaryOperator::Minus | UnaryOperator::Plus),
            expr: inner,
        } => match unparenthesized(inner) {
            Expr::Value(v) if matches!(v.value, SqlValue::Number(..)) => {
                (*op == UnaryOperator::Minus, v)
            }
            _ => return Err(unsupported_expr(expr, "write a literal number")),
        },
        Expr::Value(v) => (false, v),
        other => {
            return Err(unsupported_expr(
                other,
                "compare a column with a literal: a number, 'text', TRUE or FALSE",
            ));
        }
    };
    let span = literal.span();
    match &literal.value {
        SqlValue::Number(digits, _long) => number(digits, negative, span),
        SqlValue::SingleQuotedString(s) => Ok(Value::Str(s.clone())),
        SqlValue::Boolean(b) => Ok(Value::Bool(*b)),
        SqlValue::Null => Err(invalid(
            "a comparison with NULL is never true; write IS NULL or IS NOT NULL".to_owned(),
            span,
        )),
        SqlValue::Placeholder(p) => Err(unsupported(
            &format!("the parameter {p}"),
            span,
            "write the value itself; prepared statements take no parameters",
        )),
        SqlValue::DoubleQuotedString(_) => Err(unsupported(
            "a double-quoted string",
            span,
            "write text in single quotes ('Books'); double quotes name columns",
        )),
        other => Err(unsupported(
            &format!("the literal {}", excerpt(&other.to_string())),
            span,
            "write text in plain single quotes, 'Books'",
        )),
    }
}

/// A number as written: an integer when it has no fraction or exponent
/// and fits an `i64`; else a float, which must not overflow nor round a
/// non-zero number to zero.
fn number(digits: &str, negative: bool, span: Span) -> Result<Value> {
    let text = if negative {
        format!("-{digits}")
    } else {
        digits.to_owned()
    };
    let whole = digits.bytes().all(|b| b.is_ascii_digit());
    if whole {
        return text.parse::<i64>().map(Value::Int).map_err(|_| {
            invalid(
                format!(
                    "the integer {} is out of range of a 64-bit integer; write it as text, \
                     '{}', to compare it with a UInt64 column",
                    excerpt(&text),
                    excerpt(&text)
                ),
                span,
            )
        });
    }
    let float = text
        .parse::<f64>()
        .map_err(|_| invalid(format!("{} is not a number", excerpt(&text)), span))?;
    let mantissa = digits.split(['e', 'E']).next().unwrap_or_default();
    let rounds_to_zero = float == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if float.is_infinite() || rounds_to_zero {
        return Err(invalid(
            format!(
                "the number {} is out of range of a 64-bit float",
                excerpt(&text)
            ),
            span,
        ));
    }
    Ok(Value::Float(float))
}
