//! A `SELECT` statement's clauses to a [`Query`] and its `SELECT` list.
//!
//! Every field of sqlparser's `Query` and `Select` is destructured: a
//! clause this module does not translate is refused by name, and a clause
//! a new sqlparser release adds does not compile until it is handled.

use sqlparser::ast::{
    self, Distinct, Expr, GroupByExpr, LimitClause, OrderBy, OrderByKind, SelectFlavor, SelectItem,
    SetExpr, Spanned, TableFactor, TableWithJoins, Value as SqlValue,
};
use sqlparser::tokenizer::Span;

use super::aggregate::aggregate;
use super::column::{check_table, column};
use super::filter::filters;
use super::literal::unparenthesized;
use super::refuse::{invalid, unsupported, unsupported_expr};
use super::{SelectColumn, SqlQuery};
use crate::error::excerpt;
use crate::query::{Agg, Filter, Query, SortKey};
use crate::{Error, Result};

/// What a `SELECT` (without its query's `ORDER BY` and `LIMIT`) asks.
struct Clauses {
    filters: Vec<Filter>,
    /// The items of the `SELECT` list, each with where it starts.
    items: Vec<(Item, Span)>,
    group_by: Vec<String>,
}

/// One item of the `SELECT` list.
enum Item {
    /// A column, which must be grouped, under its name or an alias.
    Group { column: String, name: String },
    /// An aggregate, its alias being the item's.
    Aggregate(Agg),
}

/// The `SELECT` statement `query` over `table`, translated.
pub(super) fn translate(query: &ast::Query, table: &str) -> Result<SqlQuery> {
    let ast::Query {
        with,
        body,
        order_by,
        limit_clause,
        fetch,
        locks,
        for_clause,
        settings,
        format_clause,
        pipe_operators,
    } = query;
    let whole = query.span();
    refuse_first(&[
        (
            with.as_ref().map(Spanned::span),
            "WITH",
            "name no subqueries: query the dataset directly",
        ),
        (fetch.as_ref().map(Spanned::span), "FETCH", "write LIMIT n"),
        (
            (!locks.is_empty() || for_clause.is_some()).then_some(whole),
            "FOR ...",
            "answers are read only",
        ),
        (
            (settings.is_some() || format_clause.is_some() || !pipe_operators.is_empty())
                .then_some(whole),
            "SETTINGS, FORMAT or a pipe operator",
            "leave it out",
        ),
    ])?;
    let select = match body.as_ref() {
        SetExpr::Select(select) => select,
        SetExpr::SetOperation { op, .. } => {
            return Err(unsupported(
                &op.to_string(),
                body.span(),
                "send each query apart",
            ));
        }
        SetExpr::Query(_) => {
            return Err(unsupported(
                "a query in parentheses",
                body.span(),
                "leave out the parentheses",
            ));
        }
        other => {
            let text = other.to_string();
            let verb = text.split_whitespace().next().unwrap_or_default();
            return Err(unsupported(verb, body.span(), "write a SELECT query"));
        }
    };
    let Clauses {
        filters,
        items,
        group_by,
    } = select_clauses(select, table)?;
    let (columns, aggs) = outputs(items, &group_by)?;
    let mut query = Query {
        filters,
        group_by,
        aggs,
        ..Query::default()
    };
    if let Some(order_by) = order_by {
        query.sort = sort_keys(order_by, &columns, &query.aggs, table)?;
    }
    if let Some(limit) = limit_clause {
        query.limit = self::limit(limit)?;
    }
    Ok(SqlQuery { query, columns })
}

/// The clauses of `select` that make the query's filters, outputs and
/// groups.
fn select_clauses(select: &ast::Select, table: &str) -> Result<Clauses> {
    let ast::Select {
        select_token,
        // Comments for other engines' planners: no bearing on the answer.
        optimizer_hints: _,
        distinct,
        select_modifiers,
        top,
        top_before_distinct: _,
        projection,
        exclude,
        into,
        from,
        lateral_views,
        prewhere,
        selection,
        connect_by,
        group_by,
        cluster_by,
        distribute_by,
        sort_by,
        having,
        named_window,
        qualify,
        window_before_qualify: _,
        value_table_mode,
        flavor,
    } = select;
    let at_select = select_token.0.span;
    let first = |exprs: &[Expr]| exprs.first().map(Spanned::span);
    refuse_first(&[
        (
            (!matches!(distinct, None | Some(Distinct::All))).then_some(at_select),
            "SELECT DISTINCT",
            "GROUP BY the columns instead: each group is one distinct row",
        ),
        (
            (select_modifiers.is_some() || value_table_mode.is_some()).then_some(at_select),
            "a SELECT modifier",
            "write plain SELECT",
        ),
        (
            top.is_some().then_some(at_select),
            "TOP",
            "write LIMIT n at the end",
        ),
        (
            exclude.as_ref().map(Spanned::span),
            "EXCLUDE",
            "list the columns to show",
        ),
        (
            into.as_ref().map(Spanned::span),
            "SELECT INTO",
            "answers are read only",
        ),
        (
            lateral_views.first().map(Spanned::span),
            "LATERAL VIEW",
            "leave it out",
        ),
        (
            prewhere.as_ref().map(Spanned::span),
            "PREWHERE",
            "write WHERE",
        ),
        (
            connect_by.first().map(Spanned::span),
            "CONNECT BY",
            "leave it out",
        ),
        (
            first(cluster_by).or(first(distribute_by)),
            "CLUSTER BY or DISTRIBUTE BY",
            "leave it out",
        ),
        (
            sort_by.first().map(Spanned::span),
            "SORT BY",
            "write ORDER BY",
        ),
        (
            having.as_ref().map(Spanned::span),
            "HAVING",
            "filter the groups' rows with WHERE, or filter the answer yourself",
        ),
        (
            named_window.first().map(Spanned::span),
            "WINDOW",
            "window functions are not supported",
        ),
        (
            qualify.as_ref().map(Spanned::span),
            "QUALIFY",
            "window functions are not supported",
        ),
        (
            (*flavor == SelectFlavor::FromFirstNoSelect).then_some(at_select),
            "FROM without SELECT",
            "write SELECT and the columns",
        ),
    ])?;
    check_from(from, at_select, table)?;
    let filters = match selection {
        Some(condition) => filters(condition, table)?,
        None => Vec::new(),
    };
    let items = projection
        .iter()
        .map(|item| Ok((self::item(item, table)?, item.span())))
        .collect::<Result<Vec<_>>>()?;
    let group_by = group_columns(group_by, &items, table)?;
    Ok(Clauses {
        filters,
        items,
        group_by,
    })
}

/// The error for the first clause present (its span is `Some`), each
/// given with the construct it is and what to write instead.
fn refuse_first(clauses: &[(Option<Span>, &str, &str)]) -> Result<()> {
    match clauses
        .iter()
        .find_map(|(span, construct, hint)| Some((span.as_ref()?, construct, hint)))
    {
        Some((span, construct, hint)) => Err(unsupported(construct, *span, hint)),
        None => Ok(()),
    }
}

/// An error unless `from` is the dataset alone.
fn check_from(from: &[TableWithJoins], at_select: Span, table: &str) -> Result<()> {
    let hint = format!(
        "query the dataset alone: FROM {}",
        super::render::ident(table)
    );
    let relation = match from {
        [] => return Err(unsupported("a SELECT without FROM", at_select, &hint)),
        [one] => one,
        [_, second, ..] => {
            return Err(unsupported("a second table (a join)", second.span(), &hint));
        }
    };
    if let Some(join) = relation.joins.first() {
        return Err(unsupported("JOIN", join.span(), &hint));
    }
    match &relation.relation {
        TableFactor::Table {
            name,
            alias: None,
            args: None,
            with_hints,
            version: None,
            with_ordinality: false,
            partitions,
            json_path: None,
            sample: None,
            index_hints,
        } if with_hints.is_empty() && partitions.is_empty() && index_hints.is_empty() => {
            match name.0.as_slice() {
                [ast::ObjectNamePart::Identifier(ident)] => check_table(ident, table),
                _ => Err(unsupported(
                    &format!("the table name {}", excerpt(&name.to_string())),
                    name.span(),
                    &hint,
                )),
            }
        }
        TableFactor::Table {
            alias: Some(alias), ..
        } => Err(unsupported(
            "a table alias",
            alias.name.span,
            &format!(
                "leave it out; qualify columns with the table's name, {}.column",
                super::render::ident(table)
            ),
        )),
        TableFactor::Derived { .. } => {
            Err(unsupported("a subquery", relation.relation.span(), &hint))
        }
        other => Err(unsupported(
            &format!("the table expression {}", excerpt(&other.to_string())),
            other.span(),
            &hint,
        )),
    }
}

/// One item of the `SELECT` list.
fn item(item: &SelectItem, table: &str) -> Result<Item> {
    let (expr, alias) = match item {
        SelectItem::UnnamedExpr(expr) => (expr, None),
        SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
        SelectItem::ExprWithAliases { .. } => {
            return Err(unsupported(
                "several aliases for one item",
                item.span(),
                "give each item one name: AS name",
            ));
        }
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
            return Err(unsupported(
                "SELECT *",
                item.span(),
                "list the group-by columns and the aggregates",
            ));
        }
    };
    if let Some(name) = column(expr, table)? {
        return Ok(Item::Group {
            name: alias.unwrap_or_else(|| name.clone()),
            column: name,
        });
    }
    match unparenthesized(expr) {
        Expr::Function(call) => {
            let mut agg = aggregate(call, table)?;
            agg.alias = alias;
            Ok(Item::Aggregate(agg))
        }
        other => Err(unsupported_expr(
            other,
            "select group-by columns and aggregates of columns; expressions are not supported",
        )),
    }
}

/// The `GROUP BY` columns, in order, each once.
fn group_columns(
    group_by: &GroupByExpr,
    items: &[(Item, Span)],
    table: &str,
) -> Result<Vec<String>> {
    let mut columns: Vec<String> = Vec::new();
    let exprs = match group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            if let Some(modifier) = modifiers.first() {
                return Err(unsupported(
                    &format!("GROUP BY ... {modifier}"),
                    group_by.span(),
                    "GROUP BY plain columns; ask for each level apart",
                ));
            }
            exprs
        }
        GroupByExpr::All(modifiers) => {
            if let Some(modifier) = modifiers.first() {
                return Err(unsupported(
                    &format!("GROUP BY ALL {modifier}"),
                    group_by.span(),
                    "GROUP BY plain columns; ask for each level apart",
                ));
            }
            for (item, _) in items {
                if let Item::Group { column, .. } = item
                    && !columns.contains(column)
                {
                    columns.push(column.clone());
                }
            }
            return Ok(columns);
        }
    };
    for expr in exprs {
        let name = if let Some(n) = ordinal(expr)? {
            match items.get(n.wrapping_sub(1)) {
                Some((Item::Group { column, .. }, _)) => column.clone(),
                Some((Item::Aggregate(_), _)) => {
                    return Err(invalid(
                        format!("GROUP BY {n} names an aggregate; group by columns"),
                        expr.span(),
                    ));
                }
                None => return Err(past_the_end("GROUP BY", n, items.len(), expr.span())),
            }
        } else if let Some(name) = column(expr, table)? {
            name
        } else {
            return Err(unsupported_expr(
                expr,
                "GROUP BY columns, or ordinals of the SELECT list",
            ));
        };
        if !columns.contains(&name) {
            columns.push(name);
        }
    }
    Ok(columns)
}

/// The statement's columns and the query's aggregates, after checking that
/// every selected column is grouped and that no two columns share a name.
fn outputs(items: Vec<(Item, Span)>, group_by: &[String]) -> Result<(Vec<SelectColumn>, Vec<Agg>)> {
    let mut columns = Vec::with_capacity(items.len());
    let mut aggs = Vec::new();
    for (item, span) in items {
        let column = match item {
            Item::Group { column, name } => {
                if !group_by.contains(&column) {
                    return Err(invalid(
                        format!(
                            "column `{}` must appear in GROUP BY or be used in an aggregate",
                            excerpt(&column)
                        ),
                        span,
                    ));
                }
                SelectColumn {
                    source: column,
                    name,
                }
            }
            Item::Aggregate(agg) => {
                let name = agg.output_name();
                aggs.push(agg);
                SelectColumn {
                    source: name.clone(),
                    name,
                }
            }
        };
        if columns.iter().any(|c: &SelectColumn| c.name == column.name) {
            return Err(Error::AliasClash { name: column.name });
        }
        columns.push(column);
    }
    Ok((columns, aggs))
}

/// The sort keys of `ORDER BY`, as output columns of the query.
fn sort_keys(
    order_by: &OrderBy,
    columns: &[SelectColumn],
    aggs: &[Agg],
    table: &str,
) -> Result<Vec<SortKey>> {
    if let Some(interpolate) = &order_by.interpolate {
        return Err(unsupported(
            "INTERPOLATE",
            interpolate.span(),
            "leave it out",
        ));
    }
    let exprs = match &order_by.kind {
        OrderByKind::Expressions(exprs) => exprs,
        OrderByKind::All(_) => {
            return Err(unsupported(
                "ORDER BY ALL",
                order_by.span(),
                "name the output columns to order by",
            ));
        }
    };
    let mut keys = Vec::with_capacity(exprs.len());
    for key in exprs {
        if let Some(fill) = &key.with_fill {
            return Err(unsupported("WITH FILL", fill.span(), "leave it out"));
        }
        if key.options.nulls_first == Some(true) {
            return Err(unsupported(
                "NULLS FIRST",
                key.span(),
                "nulls sort last, ascending or descending; write NULLS LAST or nothing",
            ));
        }
        let column = sort_column(&key.expr, columns, aggs, table)?;
        keys.push(SortKey {
            column,
            descending: key.options.asc == Some(false),
        });
    }
    Ok(keys)
}

/// The output column an `ORDER BY` expression names: by ordinal, by name
/// (an alias first, then a column), or by repeating an aggregate of the
/// `SELECT` list.
fn sort_column(expr: &Expr, columns: &[SelectColumn], aggs: &[Agg], table: &str) -> Result<String> {
    if let Some(n) = ordinal(expr)? {
        return match columns.get(n.wrapping_sub(1)) {
            Some(column) => Ok(column.source.clone()),
            None => Err(past_the_end("ORDER BY", n, columns.len(), expr.span())),
        };
    }
    if let Some(name) = column(expr, table)? {
        // An unknown name goes on to the query, whose error lists the
        // output columns.
        return Ok(columns
            .iter()
            .find(|c| c.name == name)
            .map_or(name, |c| c.source.clone()));
    }
    match unparenthesized(expr) {
        Expr::Function(call) => {
            let wanted = aggregate(call, table)?;
            aggs.iter()
                .find(|a| a.func == wanted.func && a.column == wanted.column)
                .map(Agg::output_name)
                .ok_or_else(|| {
                    unsupported(
                        "ORDER BY an aggregate that is not selected",
                        expr.span(),
                        "add it to the SELECT list and order by it",
                    )
                })
        }
        other => Err(unsupported_expr(
            other,
            "ORDER BY output columns, by name or ordinal",
        )),
    }
}

/// The ordinal an integer literal writes (`GROUP BY 1`), if `expr` is one.
fn ordinal(expr: &Expr) -> Result<Option<usize>> {
    match unparenthesized(expr) {
        Expr::Value(v) => match &v.value {
            SqlValue::Number(digits, _) => digits.parse::<usize>().map(Some).map_err(|_| {
                invalid(
                    format!(
                        "{} is no position in the SELECT list; write 1 for the first column",
                        excerpt(digits)
                    ),
                    v.span,
                )
            }),
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

fn past_the_end(clause: &str, n: usize, len: usize, span: Span) -> Error {
    invalid(
        format!("{clause} {n}: the SELECT list has {len} columns, numbered from 1"),
        span,
    )
}

/// The number of rows `LIMIT` keeps.
fn limit(clause: &LimitClause) -> Result<Option<usize>> {
    let (limit, offset, limit_by) = match clause {
        LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        } => (limit, offset, limit_by),
        LimitClause::OffsetCommaLimit { .. } => {
            return Err(unsupported(
                "LIMIT offset, count",
                clause.span(),
                "write LIMIT count; OFFSET is not supported",
            ));
        }
    };
    if let Some(offset) = offset {
        return Err(unsupported(
            "OFFSET",
            offset.span(),
            "page through the answer yourself: it is cached whole",
        ));
    }
    if let Some(by) = limit_by.first() {
        return Err(unsupported("LIMIT BY", by.span(), "write LIMIT n"));
    }
    let Some(expr) = limit else {
        // `LIMIT ALL`
        return Ok(None);
    };
    let bad = || {
        invalid(
            "LIMIT takes a whole number of rows, 0 or more".to_owned(),
            expr.span(),
        )
    };
    match unparenthesized(expr) {
        Expr::Value(v) => match &v.value {
            SqlValue::Number(digits, _) => digits.parse::<usize>().map(Some).map_err(|_| bad()),
            SqlValue::Null => Ok(None),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}
