//! Queries written as SQL that [`parse`](super::parse) reads back: the
//! caller's [`Query`], or the canonical form a key holds (for the
//! statistics' most-hit queries).

use std::fmt::Write as _;

use super::aggregate::NAMES;
use crate::normalize::{Bound, CanonicalQuery, Constraint, OutputRef};
use crate::query::{Agg, AggFn, Filter, Predicate, Query, SortKey, Value};

/// `query` as SQL over `table`.
pub(super) fn query_sql(query: &Query, table: &str) -> String {
    write_sql(query, table, false)
}

/// The canonical query of a key as SQL over `table`: the same key when
/// read back. A contradiction (no row can match) is `WHERE FALSE`, which
/// reads back as an error: no query of the subset is one.
pub(crate) fn canonical_sql(canonical: &CanonicalQuery, table: &str) -> String {
    let mut query = Query {
        group_by: canonical
            .group_by
            .iter()
            .map(|c| c.name().to_owned())
            .collect(),
        aggs: canonical
            .aggs
            .iter()
            .map(|a| match &a.column {
                Some(c) => Agg::new(a.func, c.name()),
                None => Agg {
                    func: a.func,
                    column: None,
                    alias: None,
                },
            })
            .collect(),
        limit: canonical.limit,
        ..Query::default()
    };
    for f in &canonical.filters {
        push_constraint(&mut query.filters, f.column.name(), &f.constraint);
    }
    query.sort = canonical
        .sort
        .iter()
        .map(|s| SortKey {
            column: match s.target {
                OutputRef::Group(i) => query.group_by[i].clone(),
                OutputRef::Agg(i) => query.aggs[i].output_name(),
            },
            descending: s.descending,
        })
        .collect();
    write_sql(&query, table, canonical.contradiction)
}

/// The filters that say `constraint` on `column`.
fn push_constraint(filters: &mut Vec<Filter>, column: &str, constraint: &Constraint) {
    let mut push = |predicate| filters.push(Filter::new(column, predicate));
    match constraint {
        Constraint::IsNull => push(Predicate::IsNull),
        Constraint::NotNull => push(Predicate::IsNotNull),
        Constraint::OneOf(values) => match values.as_slice() {
            [one] => push(Predicate::Eq(one.to_value())),
            many => push(Predicate::In(many.iter().map(|v| v.to_value()).collect())),
        },
        Constraint::Range { low, high, exclude } => {
            let inclusive = |b: &Option<Bound>| b.as_ref().is_some_and(|b| b.inclusive);
            match (low, high) {
                (Some(lo), Some(hi)) if inclusive(low) && inclusive(high) => {
                    push(Predicate::Between(lo.value.to_value(), hi.value.to_value()))
                }
                _ => {
                    let bound = |b: &Bound,
                                 closed: fn(Value) -> Predicate,
                                 open: fn(Value) -> Predicate| {
                        (if b.inclusive { closed } else { open })(b.value.to_value())
                    };
                    if let Some(b) = low {
                        push(bound(b, Predicate::Ge, Predicate::Gt));
                    }
                    if let Some(b) = high {
                        push(bound(b, Predicate::Le, Predicate::Lt));
                    }
                }
            }
            match exclude.as_slice() {
                [] => {}
                [one] => push(Predicate::Ne(one.to_value())),
                many => push(Predicate::NotIn(
                    many.iter().map(|v| v.to_value()).collect(),
                )),
            }
        }
    }
}

fn write_sql(query: &Query, table: &str, contradiction: bool) -> String {
    let mut sql = String::from("SELECT");
    let items = query
        .group_by
        .iter()
        .map(|c| ident(c))
        .chain(query.aggs.iter().map(aggregate));
    for (i, item) in items.enumerate() {
        sql.push_str(if i == 0 { " " } else { ", " });
        sql.push_str(&item);
    }
    let _ = write!(sql, " FROM {}", ident(table));
    if contradiction {
        sql.push_str(" WHERE FALSE");
    }
    for (i, filter) in query.filters.iter().enumerate() {
        sql.push_str(if i == 0 && !contradiction {
            " WHERE "
        } else {
            " AND "
        });
        condition(&mut sql, filter);
    }
    if !query.group_by.is_empty() {
        let columns: Vec<String> = query.group_by.iter().map(|c| ident(c)).collect();
        let _ = write!(sql, " GROUP BY {}", columns.join(", "));
    }
    for (i, key) in query.sort.iter().enumerate() {
        sql.push_str(if i == 0 { " ORDER BY " } else { ", " });
        sql.push_str(&ident(&key.column));
        if key.descending {
            sql.push_str(" DESC");
        }
    }
    if let Some(limit) = query.limit {
        let _ = write!(sql, " LIMIT {limit}");
    }
    sql
}

fn aggregate(agg: &Agg) -> String {
    let column = agg.column.as_deref().map_or_else(|| "*".to_owned(), ident);
    let mut sql = match agg.func {
        AggFn::Len => "COUNT(*)".to_owned(),
        AggFn::NUnique => format!("COUNT(DISTINCT {column})"),
        func => {
            let name = NAMES
                .iter()
                .find(|(f, _)| *f == func)
                .map_or(func.name(), |(_, names)| names[0]);
            format!("{name}({column})")
        }
    };
    if let Some(alias) = &agg.alias {
        let _ = write!(sql, " AS {}", ident(alias));
    }
    sql
}

fn condition(sql: &mut String, filter: &Filter) {
    let column = ident(&filter.column);
    let list = |values: &[Value]| values.iter().map(literal).collect::<Vec<_>>().join(", ");
    let _ = match &filter.predicate {
        Predicate::Eq(v) => write!(sql, "{column} = {}", literal(v)),
        Predicate::Ne(v) => write!(sql, "{column} <> {}", literal(v)),
        Predicate::Lt(v) => write!(sql, "{column} < {}", literal(v)),
        Predicate::Le(v) => write!(sql, "{column} <= {}", literal(v)),
        Predicate::Gt(v) => write!(sql, "{column} > {}", literal(v)),
        Predicate::Ge(v) => write!(sql, "{column} >= {}", literal(v)),
        Predicate::In(vs) => write!(sql, "{column} IN ({})", list(vs)),
        Predicate::NotIn(vs) => write!(sql, "{column} NOT IN ({})", list(vs)),
        Predicate::Between(lo, hi) => {
            write!(sql, "{column} BETWEEN {} AND {}", literal(lo), literal(hi))
        }
        Predicate::IsNull => write!(sql, "{column} IS NULL"),
        Predicate::IsNotNull => write!(sql, "{column} IS NOT NULL"),
    };
}

/// A value as a SQL literal that reads back as the same value; a
/// non-finite float, which SQL has no literal for, as text that a numeric
/// column reads as the same number.
fn literal(value: &Value) -> String {
    match value {
        Value::Bool(true) => "TRUE".to_owned(),
        Value::Bool(false) => "FALSE".to_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_finite() => format!("{f:?}"),
        Value::Float(f) => format!("'{f}'"),
        Value::Str(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

/// A name as a SQL identifier: as it is when SQL reads it back so,
/// else in double quotes (`"Order Date"`, reserved words such as
/// `"group"`).
pub(super) fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !is_reserved(name);
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Whether sqlparser would read `word`, bare, as something other than a
/// name somewhere a name stands in [`write_sql`]'s output. Most keywords
/// are names where a name is expected (`year`, `region`); the unit test
/// below tries every keyword in every place.
fn is_reserved(word: &str) -> bool {
    use sqlparser::keywords::{
        ALL_KEYWORDS, ALL_KEYWORDS_INDEX, Keyword, RESERVED_FOR_COLUMN_ALIAS,
        RESERVED_FOR_IDENTIFIER, RESERVED_FOR_TABLE_ALIAS,
    };
    /// Keywords that start an expression or a clause of their own where a
    /// name could stand (found by the test below).
    const SPECIAL: &[Keyword] = &[
        Keyword::ALL,
        Keyword::ANY,
        Keyword::CUBE,
        Keyword::CURRENT_CATALOG,
        Keyword::CURRENT_DATE,
        Keyword::CURRENT_TIME,
        Keyword::CURRENT_TIMESTAMP,
        Keyword::CURRENT_USER,
        Keyword::DISTINCT,
        Keyword::FALSE,
        Keyword::LOCALTIME,
        Keyword::LOCALTIMESTAMP,
        Keyword::NOT,
        Keyword::NULL,
        Keyword::ROLLUP,
        Keyword::SESSION_USER,
        Keyword::SOME,
        Keyword::TABLE,
        Keyword::TRUE,
        Keyword::UNNEST,
        Keyword::USER,
    ];
    let Ok(at) = ALL_KEYWORDS.binary_search(&word.to_ascii_uppercase().as_str()) else {
        return false;
    };
    let keyword = ALL_KEYWORDS_INDEX[at];
    [
        RESERVED_FOR_COLUMN_ALIAS,
        RESERVED_FOR_TABLE_ALIAS,
        RESERVED_FOR_IDENTIFIER,
        SPECIAL,
    ]
    .iter()
    .any(|set| set.contains(&keyword))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every keyword sqlparser knows, as a column, an alias and the table,
    /// in every clause: quoted where it must be, read back as written.
    #[test]
    fn every_keyword_reads_back_as_the_name_it_is() {
        let mut failed = Vec::new();
        for keyword in sqlparser::keywords::ALL_KEYWORDS {
            for name in [keyword.to_ascii_lowercase(), keyword.to_string()] {
                let n = name.as_str();
                let queries = [
                    Query::new()
                        .eq(n, 1)
                        .is_in(n, [1, 2])
                        .between(n, 1, 2)
                        .is_not_null(n)
                        .group_by([n])
                        .sum(n)
                        .count(n)
                        .sort_by(n, true),
                    Query::new()
                        .agg(Agg::len().alias(n))
                        .agg(Agg::new(AggFn::NUnique, n))
                        .sort_by(n, false)
                        .limit(1),
                ];
                for q in queries {
                    let sql = q.to_sql(n);
                    match Query::from_sql(&sql, n) {
                        Ok(back) if back == q => {}
                        Ok(_) => failed.push(format!("{n}: other query: {sql}")),
                        Err(e) => failed.push(format!("{n}: {e}: {sql}")),
                    }
                }
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn plain_names_stay_bare_and_others_are_quoted() {
        assert_eq!(ident("revenue"), "revenue");
        assert_eq!(ident("Order Date"), "\"Order Date\"");
        assert_eq!(ident("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(ident("2024"), "\"2024\"");
        assert_eq!(ident(""), "\"\"");
        assert_eq!(ident("select"), "\"select\"");
        assert_eq!(ident("year"), "year");
    }
}
