//! Aggregate calls (`SUM(revenue)`, `COUNT(DISTINCT region)`, `COUNT(*)`)
//! to [`Agg`]s.

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments,
    ObjectNamePart, Spanned, Value as SqlValue,
};

use super::column::column;
use super::literal::unparenthesized;
use super::refuse::{unsupported, unsupported_expr};
use crate::Result;
use crate::error::excerpt;
use crate::query::{Agg, AggFn};

/// The aggregate functions, for messages.
const FUNCTIONS: &str = "the aggregates are COUNT(*), COUNT(col), COUNT(DISTINCT col), SUM, \
    AVG, MIN, MAX, MEDIAN, STDDEV_SAMP (STDDEV), VAR_SAMP (VARIANCE), FIRST and LAST, \
    each of one column";

/// The SQL names of each function (the first is the one written out).
pub(super) const NAMES: [(AggFn, &[&str]); 10] = [
    (AggFn::Sum, &["SUM"]),
    (AggFn::Mean, &["AVG"]),
    (AggFn::Min, &["MIN"]),
    (AggFn::Max, &["MAX"]),
    (AggFn::Count, &["COUNT"]),
    (AggFn::Median, &["MEDIAN"]),
    (AggFn::Std, &["STDDEV_SAMP", "STDDEV"]),
    (AggFn::Var, &["VAR_SAMP", "VARIANCE"]),
    (AggFn::First, &["FIRST"]),
    (AggFn::Last, &["LAST"]),
];

/// The aggregate `call` asks for (its alias is the `SELECT` item's).
pub(super) fn aggregate(call: &Function, table: &str) -> Result<Agg> {
    let Function {
        name,
        uses_odbc_syntax,
        parameters,
        args,
        filter,
        null_treatment,
        over,
        within_group,
    } = call;
    let span = call.span();
    if over.is_some() {
        return Err(unsupported(
            "a window function (OVER)",
            span,
            "aggregates are computed per group: GROUP BY the partition's columns instead",
        ));
    }
    if let Some(filter) = filter {
        return Err(unsupported(
            "FILTER (WHERE ...)",
            filter.span(),
            "move the condition to WHERE",
        ));
    }
    if *uses_odbc_syntax
        || null_treatment.is_some()
        || !within_group.is_empty()
        || !matches!(parameters, FunctionArguments::None)
    {
        return Err(unsupported(
            &format!("the form of {}", excerpt(&call.to_string())),
            span,
            FUNCTIONS,
        ));
    }
    let func_name = match name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => ident.value.to_ascii_uppercase(),
        _ => "".to_owned(),
    };
    let Some(func) = NAMES
        .iter()
        .find(|(_, names)| names.contains(&func_name.as_str()))
        .map(|(f, _)| *f)
    else {
        let hint = match func_name.as_str() {
            "STDDEV_POP" | "VAR_POP" => {
                "the population statistics are not offered: STDDEV_SAMP and VAR_SAMP are"
            }
            _ => FUNCTIONS,
        };
        return Err(unsupported(
            &format!("the function {}", excerpt(&name.to_string())),
            span,
            hint,
        ));
    };
    let list = match args {
        FunctionArguments::List(list) => list,
        _ => {
            return Err(unsupported(
                &format!("the form of {}", excerpt(&call.to_string())),
                span,
                FUNCTIONS,
            ));
        }
    };
    if let Some(clause) = list.clauses.first() {
        return Err(unsupported(
            &format!("{clause} inside an aggregate"),
            span,
            FUNCTIONS,
        ));
    }
    let [arg] = list.args.as_slice() else {
        return Err(unsupported(
            &format!("{func_name} of {} arguments", list.args.len()),
            span,
            FUNCTIONS,
        ));
    };
    let distinct = list.duplicate_treatment == Some(DuplicateTreatment::Distinct);
    let arg = match arg {
        FunctionArg::Unnamed(arg) => arg,
        _ => {
            return Err(unsupported("a named argument", span, FUNCTIONS));
        }
    };
    let expr = match arg {
        FunctionArgExpr::Wildcard if func == AggFn::Count && !distinct => return Ok(Agg::len()),
        FunctionArgExpr::Expr(expr) => expr,
        _ => {
            return Err(unsupported(
                &format!("{func_name}({arg})"),
                span,
                "only COUNT takes *, as COUNT(*)",
            ));
        }
    };
    // `COUNT(1)` counts rows, as `COUNT(*)` does.
    if func == AggFn::Count
        && !distinct
        && matches!(unparenthesized(expr), Expr::Value(v) if matches!(v.value, SqlValue::Number(..)))
    {
        return Ok(Agg::len());
    }
    let Some(column) = column(expr, table)? else {
        return Err(unsupported_expr(
            expr,
            "aggregate a column: expressions are not supported",
        ));
    };
    let func = match (func, distinct) {
        (AggFn::Count, true) => AggFn::NUnique,
        (func, false) => func,
        (_, true) => {
            return Err(unsupported(
                &format!("{func_name}(DISTINCT ...)"),
                span,
                "only COUNT takes DISTINCT",
            ));
        }
    };
    Ok(Agg::new(func, column))
}
