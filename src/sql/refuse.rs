//! The errors of the SQL front end, each placed where sqlparser's spans
//! say the offending part starts.

use sqlparser::ast::{Expr, Spanned};
use sqlparser::tokenizer::Span;

use crate::Error;

/// `construct` is outside the subset; `hint` says what to write instead.
pub(super) fn unsupported(construct: &str, span: Span, hint: &str) -> Error {
    Error::SqlUnsupported {
        construct: construct.to_owned(),
        line: span.start.line,
        column: span.start.column,
        hint: hint.to_owned(),
    }
}

/// The expression `expr` is outside the subset where it stands.
pub(super) fn unsupported_expr(expr: &Expr, hint: &str) -> Error {
    unsupported(&describe(expr), expr.span(), hint)
}

/// SQL within the subset that means nothing; `message` says how to fix it.
pub(super) fn invalid(message: String, span: Span) -> Error {
    Error::SqlInvalid {
        message,
        line: span.start.line,
        column: span.start.column,
    }
}

/// An expression in SQL words, for a message: the name of what it is
/// (`OR`, `a subquery`, `the function upper`), or its text.
pub(super) fn describe(expr: &Expr) -> String {
    use sqlparser::ast::BinaryOperator as B;
    let named = match expr {
        Expr::BinaryOp { op: B::Or, .. } => "OR",
        Expr::BinaryOp { op: B::Xor, .. } => "XOR",
        Expr::BinaryOp {
            op: B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo,
            ..
        } => "arithmetic",
        Expr::BinaryOp { op, .. } => return format!("the operator {op}"),
        Expr::UnaryOp { op, .. } => return format!("the operator {op}"),
        Expr::Like { .. } | Expr::ILike { .. } => "LIKE",
        Expr::SimilarTo { .. } | Expr::RLike { .. } => "pattern matching",
        Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. } => "a subquery",
        Expr::Case { .. } => "CASE",
        Expr::Cast { .. } | Expr::Convert { .. } => "CAST",
        Expr::TypedString(_) => "a typed literal",
        Expr::Interval(_) => "INTERVAL",
        Expr::Function(f) if f.over.is_some() => "a window function",
        Expr::Function(f) => return format!("the function {}", f.name),
        Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => "*",
        Expr::Tuple(_) => "a tuple",
        Expr::Array(_) => "an array",
        Expr::IsTrue(_) | Expr::IsNotTrue(_) | Expr::IsFalse(_) | Expr::IsNotFalse(_) => {
            "IS [NOT] TRUE/FALSE"
        }
        Expr::IsDistinctFrom(..) | Expr::IsNotDistinctFrom(..) => "IS [NOT] DISTINCT FROM",
        _ => return format!("`{}`", crate::error::excerpt(&expr.to_string())),
    };
    named.to_owned()
}
