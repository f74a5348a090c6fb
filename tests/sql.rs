//! The SQL front end: every JSON query shape of the suite has a SQL twin
//! with the same key and answer; the SELECT list decides the columns;
//! everything outside the subset is refused by name and position; hostile
//! text gets a typed error; the query model round-trips through SQL.

use std::sync::OnceLock;

use polars_query_cache::sql::{self, MAX_SQL_BYTES};
use polars_query_cache::{CachedQuery, Error, Query, Source};
use proptest::prelude::*;

use crate::common;

fn sales() -> &'static CachedQuery {
    static CACHE: OnceLock<CachedQuery> = OnceLock::new();
    CACHE.get_or_init(|| {
        CachedQuery::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv")).unwrap()
    })
}

/// The JSON query shapes of the suite (tests/server.rs, cli.rs,
/// equivalence.rs, errors.rs, extremes.rs, the README), each with its SQL.
const TWINS: &[(&str, &str)] = &[
    (r#"{"aggs": [{"fn": "len"}]}"#, "SELECT COUNT(*) FROM sales"),
    (
        r#"{"aggs": [{"fn": "len"}]}"#,
        "select count(1) from sales;",
    ),
    (
        r#"{"filters": {"category": "Books"}, "group_by": ["year"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#,
        "SELECT year, SUM(revenue) FROM sales WHERE category = 'Books' GROUP BY year",
    ),
    (
        r#"{"filters": {"category": "Books", "year": 2024}, "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue", "alias": "total"}]}"#,
        "SELECT month, SUM(revenue) AS total FROM sales WHERE (category = 'Books') AND (2024 = year) GROUP BY 1",
    ),
    (
        r#"{"filters": {"year": ["2024", 2023], "category": "Books"}, "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue", "alias": "r"}]}"#,
        "SELECT month, SUM(revenue) r FROM sales WHERE category = 'Books' AND year IN ('2024', 2023) GROUP BY month",
    ),
    (
        r#"{"filters": [{"column": "category", "op": "eq", "value": "Books"}, {"column": "year", "op": "in", "value": [2023, 2024]}], "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#,
        r#"SELECT "month", sum("revenue") FROM "sales" WHERE "category" = 'Books' AND "year" IN (2023, 2024) GROUP BY "month""#,
    ),
    (
        r#"{"filters": [{"column": "year", "op": "between", "value": [2023, 2024]}, {"column": "category", "op": "in", "value": ["Books"]}], "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#,
        "SELECT month, SUM(revenue) FROM sales WHERE year BETWEEN 2023 AND 2024 AND category IN ('Books') GROUP BY month",
    ),
    (
        r#"{"filters": [{"column": "year", "op": "gt", "value": 2022.5}, {"column": "year", "op": "lt", "value": 2025}, {"column": "category", "op": "eq", "value": "Books"}], "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#,
        "SELECT month, SUM(revenue) FROM sales WHERE 2022.5 < year AND 2025 > year AND 'Books' = category GROUP BY month",
    ),
    (
        r#"{"filters": [{"column": "units", "op": "ge", "value": 10}, {"column": "units", "op": "le", "value": 20}, {"column": "region", "op": "ne", "value": "North"}], "aggs": [{"fn": "len"}]}"#,
        "SELECT COUNT(*) FROM sales WHERE 10 <= units AND units <= 20 AND region != 'North'",
    ),
    (
        r#"{"filters": [{"column": "product", "op": "not_in", "value": ["EL-022", "GM-006"]}, {"column": "discount", "op": "is_null"}], "group_by": ["channel"], "aggs": [{"fn": "len"}]}"#,
        "SELECT channel, COUNT(*) FROM sales WHERE product NOT IN ('EL-022', 'GM-006') AND discount IS NULL GROUP BY channel",
    ),
    (
        r#"{"filters": [{"column": "discount", "op": "is_not_null"}, {"column": "date", "op": "between", "value": ["2023-01-01", "2023-06-30"]}], "group_by": ["region"], "aggs": [{"fn": "mean", "column": "discount"}]}"#,
        "SELECT region, AVG(discount) FROM sales WHERE discount IS NOT NULL AND date BETWEEN '2023-01-01' AND '2023-06-30' GROUP BY region",
    ),
    (
        r#"{"filters": {"region": "North"}, "aggs": [{"fn": "max", "column": "units"}]}"#,
        "SELECT MAX(units) FROM sales WHERE region = 'North'",
    ),
    (
        r#"{"filters": {"year": 2023, "month": 7}, "aggs": [{"fn": "sum", "column": "revenue"}]}"#,
        "SELECT SUM(revenue) FROM sales WHERE month = 7 AND year = 2023",
    ),
    (
        r#"{"filters": {"month": [1, 2, 3, 4]}, "aggs": [{"fn": "len"}]}"#,
        "SELECT COUNT(*) FROM sales WHERE month IN (1, 2, 3, 4)",
    ),
    (
        r#"{"group_by": ["category"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#,
        "SELECT category, SUM(revenue) FROM sales GROUP BY ALL",
    ),
    (
        r#"{"group_by": ["month", "year"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#,
        "SELECT month, year, SUM(revenue) FROM sales GROUP BY month, year",
    ),
    (
        r#"{"group_by": ["month", "category"], "aggs": [{"fn": "len"}]}"#,
        "SELECT month, category, COUNT(*) FROM sales GROUP BY 1, 2",
    ),
    (
        r#"{"group_by": ["channel"], "aggs": [{"fn": "len"}]}"#,
        "SELECT channel, count(*) FROM sales GROUP BY channel, channel",
    ),
    (
        r#"{"group_by": ["month"], "aggs": [{"fn": "len"}], "limit": 10}"#,
        "SELECT month, COUNT(*) FROM sales GROUP BY month LIMIT 10",
    ),
    (
        r#"{"group_by": ["product"], "aggs": [{"fn": "mean", "column": "revenue"}]}"#,
        "SELECT product, AVG(revenue) FROM sales GROUP BY product",
    ),
    (
        r#"{"group_by": ["region", "product"], "aggs": [{"fn": "mean", "column": "units"}]}"#,
        "SELECT region, product, avg(units) FROM sales GROUP BY region, product",
    ),
    (
        r#"{"group_by": ["product", "region", "month"], "aggs": [{"fn": "median", "column": "price"}, {"fn": "std", "column": "revenue"}, {"fn": "n_unique", "column": "units"}]}"#,
        "SELECT product, region, month, MEDIAN(price), STDDEV_SAMP(revenue), COUNT(DISTINCT units) FROM sales GROUP BY product, region, month",
    ),
    (
        r#"{"group_by": ["region"], "aggs": [{"fn": "std", "column": "units"}, {"fn": "var", "column": "units"}, {"fn": "var", "column": "price", "alias": "v"}]}"#,
        "SELECT region, STDDEV(units), VAR_SAMP(units), VARIANCE(price) AS v FROM sales GROUP BY region",
    ),
    (
        r#"{"group_by": ["region"], "aggs": [{"fn": "min", "column": "date"}, {"fn": "count", "column": "discount"}, {"fn": "first", "column": "product"}, {"fn": "last", "column": "product"}]}"#,
        "SELECT region, MIN(date), COUNT(discount), FIRST(product), LAST(product) FROM sales GROUP BY region",
    ),
    (
        r#"{"group_by": ["region"]}"#,
        "SELECT region FROM sales GROUP BY region",
    ),
    (
        r#"{"group_by": ["product"], "aggs": [{"fn": "sum", "column": "revenue"}], "sort": [{"column": "sum_revenue", "descending": true}], "limit": 5}"#,
        "SELECT product, SUM(revenue) FROM sales GROUP BY product ORDER BY sum_revenue DESC LIMIT 5",
    ),
    (
        r#"{"group_by": ["product"], "aggs": [{"fn": "sum", "column": "revenue"}], "sort": [{"column": "sum_revenue", "descending": true}], "limit": 5}"#,
        "SELECT product, SUM(revenue) FROM sales GROUP BY product ORDER BY 2 DESC NULLS LAST LIMIT 5",
    ),
    (
        r#"{"group_by": ["product"], "aggs": [{"fn": "sum", "column": "revenue"}], "sort": [{"column": "sum_revenue", "descending": true}], "limit": 5}"#,
        "SELECT product, SUM(revenue) FROM sales GROUP BY product ORDER BY SUM(revenue) DESC LIMIT 5",
    ),
    (
        r#"{"group_by": ["region"], "aggs": [{"fn": "len", "alias": "n"}], "sort": [{"column": "n"}, {"column": "region", "descending": true}]}"#,
        "SELECT region, COUNT(*) AS n FROM sales GROUP BY region ORDER BY n ASC, sales.region DESC",
    ),
    (
        r#"{"filters":[{"column":"order_id","op":"between","value":[-9223372036854775808,9223372036854775807]},{"column":"order_id","op":"ne","value":5}],"aggs":[{"fn":"len"}]}"#,
        "SELECT COUNT(*) FROM sales WHERE order_id BETWEEN -9223372036854775808 AND +9223372036854775807 AND order_id <> 5",
    ),
    (
        r#"{"filters":[{"column":"order_id","op":"not_in","value":[1, 2, 9223372036854775807]}],"aggs":[{"fn":"len"}]}"#,
        "SELECT COUNT(*) FROM sales WHERE order_id NOT IN (1, 2, 9223372036854775807)",
    ),
    (
        r#"{"group_by": ["order_id"], "aggs": [{"fn": "len"}], "limit": 18446744073709551615}"#,
        "SELECT order_id, COUNT(*) FROM sales GROUP BY order_id LIMIT 18446744073709551615",
    ),
    (
        r#"{"filters": [{"column": "price", "op": "lt", "value": 1e3}, {"column": "price", "op": "gt", "value": -0.5}], "aggs": [{"fn": "sum", "column": "units"}]}"#,
        "SELECT SUM(units) FROM sales WHERE price < 1e3 AND price > -0.5",
    ),
];

/// JSON shapes the suite expects an error from, with the same error as SQL.
const ERROR_TWINS: &[(&str, &str)] = &[
    (
        r#"{"filters": {"categry": "Books"}, "aggs": [{"fn": "len"}]}"#,
        "SELECT COUNT(*) FROM sales WHERE categry = 'Books'",
    ),
    (
        r#"{"filters": {"year": "twenty"}, "aggs": [{"fn": "len"}]}"#,
        "SELECT COUNT(*) FROM sales WHERE year = 'twenty'",
    ),
    (
        r#"{"aggs": [{"fn": "sum", "column": "category"}]}"#,
        "SELECT SUM(category) FROM sales",
    ),
    (
        r#"{"group_by": ["month"], "aggs": [{"fn": "len"}], "sort": [{"column": "lenn"}]}"#,
        "SELECT month, COUNT(*) FROM sales GROUP BY month ORDER BY lenn",
    ),
    (
        r#"{"aggs": [{"fn": "len"}, {"fn": "len"}]}"#,
        "SELECT COUNT(*), COUNT(1) FROM sales",
    ),
    (r#"{"aggs": []}"#, "SELECT FROM sales"),
];

#[test]
fn every_json_shape_has_a_sql_twin_with_its_key_and_answer() {
    let cache = sales();
    for (json, text) in TWINS {
        let query = Query::from_json(json).unwrap();
        let statement = sql::parse(text, "sales").unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            statement.query, query,
            "{text}\n{:?}\n{query:?}",
            statement.query
        );
        assert!(statement.is_plain(), "{text}");
        assert_eq!(
            cache.key(&statement.query).unwrap(),
            cache.key(&query).unwrap(),
            "{text}"
        );
        let by_json = cache.get(&query).unwrap();
        let by_sql = cache.sql(text).unwrap();
        assert_eq!(by_sql.source(), Source::Memory, "{text}");
        assert!(
            by_json.dataframe().equals_missing(by_sql.dataframe()),
            "{text}"
        );
    }
}

#[test]
fn a_sql_query_and_its_json_twin_compute_once() {
    let cache =
        CachedQuery::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv")).unwrap();
    let first = cache
        .sql("SELECT region, SUM(units) FROM sales WHERE year >= 2023 GROUP BY region")
        .unwrap();
    assert_eq!(first.source(), Source::Computed);
    let json = cache
        .get_json(r#"{"filters": [{"column": "year", "op": "ge", "value": 2023}], "group_by": ["region"], "aggs": [{"fn": "sum", "column": "units"}]}"#)
        .unwrap();
    assert_eq!(json.source(), Source::Memory);
    assert_eq!(cache.cache_info().computations, 1);
    assert_eq!(cache.cache_info().entries, 1);
}

#[test]
fn errors_are_the_same_through_sql_and_json() {
    let cache = sales();
    for (json, text) in ERROR_TWINS {
        let by_json = Query::from_json(json)
            .and_then(|q| cache.get(&q))
            .unwrap_err();
        let by_sql = cache.sql(text).unwrap_err();
        assert_eq!(by_sql.to_string(), by_json.to_string(), "{text}");
        assert!(by_sql.is_user_error());
    }
}

fn names(frame: &polars_query_cache::Frame) -> Vec<String> {
    frame
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn the_select_list_orders_and_names_the_columns() {
    let cache = sales();
    let plain = cache
        .sql("SELECT category, SUM(revenue), COUNT(*) FROM sales GROUP BY category")
        .unwrap();
    for (text, expected, picks) in [
        (
            "SELECT SUM(revenue), category FROM sales GROUP BY category",
            vec!["sum_revenue", "category"],
            vec![1, 0],
        ),
        (
            "SELECT COUNT(*) AS n, category AS c, SUM(revenue) FROM sales GROUP BY 2",
            vec!["n", "c", "sum_revenue"],
            vec![2, 0, 1],
        ),
        // A grouped column need not be selected; one column may show twice.
        (
            "SELECT SUM(revenue) FROM sales GROUP BY category",
            vec!["sum_revenue"],
            vec![1],
        ),
        (
            "SELECT category, category AS again, COUNT(*) FROM sales GROUP BY category",
            vec!["category", "again", "len"],
            vec![0, 0, 2],
        ),
    ] {
        let frame = cache.sql(text).unwrap();
        assert_eq!(names(&frame), expected, "{text}");
        // Within the tolerance of a float sum derived from a roll-up (the
        // cache may have learned one from the other tests' misses).
        let column = |df: &polars::prelude::DataFrame, i: usize| {
            let one = polars::prelude::DataFrame::new(df.height(), vec![df.columns()[i].clone()]);
            common::cells(&one.unwrap())
        };
        for (i, pick) in picks.into_iter().enumerate() {
            common::assert_same(
                &column(frame.dataframe(), i),
                &column(plain.dataframe(), pick),
                &format!("{text}: column {i}"),
            );
        }
    }
    // Another order of one question: the same entry, and no copy of it.
    let swapped = "SELECT SUM(revenue), COUNT(*), category FROM sales GROUP BY category";
    let frame = cache.sql(swapped).unwrap();
    assert_eq!(frame.source(), Source::Memory);
    assert!(!sql::parse(swapped, "sales").unwrap().is_plain());
    let buffer = |frame: &polars_query_cache::Frame| {
        let series = frame
            .column("sum_revenue")
            .unwrap()
            .as_materialized_series()
            .clone();
        series
            .f64()
            .unwrap()
            .downcast_iter()
            .next()
            .unwrap()
            .values()
            .as_ptr()
    };
    assert_eq!(buffer(&frame), buffer(&plain));
    // A GROUP BY name is a column, never a SELECT alias.
    let e = cache
        .sql("SELECT COUNT(*), category AS c FROM sales GROUP BY c")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("column `category` must appear in GROUP BY"),
        "{e}"
    );
}

#[test]
fn order_by_names_aliases_ordinals_and_aggregates() {
    let cache = sales();
    let by = |text: &str| common::frame_cells(&cache.sql(text).unwrap());
    let reference = by(
        "SELECT region AS r, SUM(units) AS total FROM sales GROUP BY region ORDER BY total DESC",
    );
    for text in [
        "SELECT region AS r, SUM(units) AS total FROM sales GROUP BY region ORDER BY 2 DESC",
        "SELECT region AS r, SUM(units) AS total FROM sales GROUP BY region ORDER BY SUM(units) DESC",
        "SELECT region AS r, SUM(units) AS total FROM sales GROUP BY region ORDER BY (total) DESC, r",
    ] {
        common::assert_same(&by(text), &reference, text);
    }
    // Descending by total: the first row has the largest.
    let totals: Vec<f64> = reference.iter().map(|r| r[1].as_f64().unwrap()).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
    // An alias of a grouped column orders by that column.
    let by_alias = by("SELECT region AS r, COUNT(*) FROM sales GROUP BY region ORDER BY r DESC");
    let by_name =
        by("SELECT region AS r, COUNT(*) FROM sales GROUP BY region ORDER BY region DESC");
    common::assert_same(&by_alias, &by_name, "alias");
}

#[test]
fn the_table_is_named_by_the_file_stem_or_the_builder() {
    let frame = common::frame(&common::rows(50, 3));
    let cache = CachedQuery::from_frame(frame.clone()).unwrap();
    assert_eq!(cache.dataset().name(), "data");
    assert_eq!(cache.sql("SELECT COUNT(*) FROM data").unwrap().height(), 1);
    let named = CachedQuery::builder()
        .name("Weird Name")
        .build_from_frame(frame)
        .unwrap();
    assert_eq!(
        named
            .sql(r#"SELECT COUNT(*) FROM "Weird Name""#)
            .unwrap()
            .height(),
        1
    );
    let e = named.sql("SELECT COUNT(*) FROM data").unwrap_err();
    assert!(
        e.to_string().contains(
            "unknown table `data`; the dataset is called `Weird Name` (FROM \"Weird Name\")"
        ),
        "{e}"
    );
    assert_eq!(sales().dataset().name(), "sales");
}

#[test]
fn booleans_dates_and_text_literals() {
    let cache = CachedQuery::from_frame(common::frame(&common::rows(300, 5))).unwrap();
    for (json, text) in [
        (
            r#"{"filters": {"b": true}, "group_by": ["cat"], "aggs": [{"fn": "len"}]}"#,
            "SELECT cat, COUNT(*) FROM data WHERE b = TRUE GROUP BY cat",
        ),
        (
            r#"{"filters": [{"column": "b", "op": "ne", "value": false}], "aggs": [{"fn": "count", "column": "x"}]}"#,
            "SELECT COUNT(x) FROM data WHERE FALSE <> b",
        ),
        (
            r#"{"filters": [{"column": "d", "op": "ge", "value": "2022-01-15"}, {"column": "cat", "op": "eq", "value": "it's"}], "aggs": [{"fn": "len"}]}"#,
            "SELECT COUNT(*) FROM data WHERE d >= '2022-01-15' AND cat = 'it''s'",
        ),
    ] {
        let query = Query::from_json(json).unwrap();
        assert_eq!(Query::from_sql(text, "data").unwrap(), query, "{text}");
        common::assert_same(
            &common::frame_cells(&cache.sql(text).unwrap()),
            &common::frame_cells(&cache.get(&query).unwrap()),
            text,
        );
    }
}

/// A refused statement: its error is a typed SQL error whose message names
/// the construct and where it starts.
fn refused(text: &str, construct: &str, position: &str) {
    let e = sql::parse(text, "sales").unwrap_err();
    assert!(
        matches!(
            e,
            Error::SqlUnsupported { .. }
                | Error::SqlInvalid { .. }
                | Error::SqlSyntax { .. }
                | Error::SqlUnknownTable { .. }
        ),
        "{text}: {e:?}"
    );
    assert!(e.is_user_error() && e.is_query_error());
    let message = e.to_string();
    assert!(message.contains(construct), "{text}: {message}");
    assert!(message.contains(position), "{text}: {message}");
    // And so through the cache: nothing computed.
    assert!(sales().sql(text).is_err());
}

#[test]
fn every_construct_outside_the_subset_is_refused_by_name() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "SELECT region FROM sales JOIN other ON sales.region = other.region GROUP BY region",
            "JOIN is not supported",
            // sqlparser's spans place a join at its table.
            "line 1, column 31",
        ),
        (
            "SELECT COUNT(*) FROM sales, other",
            "a second table (a join) is not supported",
            "line 1, column 29",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE year = 2024 OR year = 2023",
            "OR is not supported",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE (year = 2024 AND (month = 1 OR month = 2))",
            "OR is not supported",
            "line 1, column 52",
        ),
        (
            "SELECT SUM(revenue * 2) FROM sales",
            "arithmetic is not supported",
            "line 1, column 12",
        ),
        (
            "SELECT revenue * 2 AS twice FROM sales",
            "arithmetic is not supported",
            "line 1, column 8",
        ),
        (
            "SELECT UPPER(region) FROM sales GROUP BY region",
            "the function UPPER is not supported",
            "line 1, column 8",
        ),
        (
            "SELECT region, SUM(units) FROM sales GROUP BY region HAVING SUM(units) > 10",
            "HAVING is not supported",
            "line 1, column 61",
        ),
        (
            "SELECT COUNT(*) FROM (SELECT * FROM sales)",
            "a subquery is not supported",
            "line 1, column 23",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE region IN (SELECT region FROM sales)",
            "a subquery is not supported",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE EXISTS (SELECT 1)",
            "a subquery is not supported",
            "line 1, column 42",
        ),
        (
            "SELECT region, SUM(units) OVER (PARTITION BY region) FROM sales",
            "a window function (OVER) is not supported",
            "line 1, column 16",
        ),
        (
            "SELECT COUNT(*) FROM orders",
            "unknown table `orders`; the dataset is called `sales`",
            "line 1, column 22",
        ),
        (
            "SELECT COUNT(*) FROM other.sales",
            "the table name other.sales is not supported",
            "line 1, column 22",
        ),
        (
            "SELECT COUNT(*) FROM sales AS s",
            "a table alias is not supported",
            "line 1, column 31",
        ),
        (
            "SELECT * FROM sales",
            "SELECT * is not supported",
            "line 1, column 8",
        ),
        (
            "SELECT DISTINCT region FROM sales",
            "SELECT DISTINCT is not supported",
            "line 1, column 1",
        ),
        (
            "SELECT region FROM sales GROUP BY region LIMIT 5 OFFSET 5",
            "OFFSET is not supported",
            "line 1, column 57",
        ),
        (
            "SELECT COUNT(*) FROM sales; SELECT COUNT(*) FROM sales",
            "a second statement is not supported",
            "line 1, column 29",
        ),
        (
            "SELECT COUNT(*) FROM sales UNION SELECT COUNT(*) FROM sales",
            "UNION is not supported",
            "line 1, column 1",
        ),
        (
            "WITH s AS (SELECT * FROM sales) SELECT COUNT(*) FROM s",
            "WITH is not supported",
            "line 1, column 1",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE NOT year = 2024",
            "NOT is not supported",
            "line 1, column 38",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE year NOT BETWEEN 2021 AND 2022",
            "NOT BETWEEN is not supported",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE product LIKE 'EL%'",
            "LIKE is not supported",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales\nWHERE CASE WHEN year = 2024 THEN TRUE END",
            "CASE is not supported",
            "line 2, column 7",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE CAST(year AS TEXT) = '2024'",
            "CAST is not supported",
            "line 1, column 39",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE units = price",
            "a comparison of two columns is not supported",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE 1 = 1",
            "a comparison of two literals is not supported",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE year + 1 = 2024",
            "arithmetic is not supported",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE year = NULL",
            "a comparison with NULL is never true; write IS NULL",
            "line 1, column 41",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE year IN (2024, NULL)",
            "NULL in an IN list matches nothing",
            "line 1, column 49",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE date = DATE '2024-01-01'",
            "a typed literal is not supported",
            "line 1, column 46",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE year = $1",
            "the parameter $1 is not supported",
            "line 1, column 41",
        ),
        (
            "SELECT STDDEV_POP(units) FROM sales",
            "the function STDDEV_POP is not supported; the population statistics are not offered",
            "line 1, column 8",
        ),
        (
            "SELECT SUM(DISTINCT units) FROM sales",
            "SUM(DISTINCT ...) is not supported; only COUNT takes DISTINCT",
            "line 1, column 8",
        ),
        (
            "SELECT SUM(*) FROM sales",
            "SUM(*) is not supported",
            "line 1, column 8",
        ),
        (
            "SELECT COUNT(*) FILTER (WHERE year = 2024) FROM sales",
            "FILTER (WHERE ...) is not supported; move the condition to WHERE",
            "line 1, column 31",
        ),
        (
            "SELECT region, COUNT(*) FROM sales GROUP BY ROLLUP (region)",
            "`ROLLUP (region)` is not supported",
            "line 1, column 53",
        ),
        (
            "SELECT region, COUNT(*) FROM sales GROUP BY UPPER(region)",
            "the function UPPER is not supported",
            "line 1, column 45",
        ),
        (
            "SELECT region, COUNT(*) FROM sales GROUP BY 2",
            "GROUP BY 2 names an aggregate",
            "line 1, column 45",
        ),
        (
            "SELECT region, COUNT(*) FROM sales GROUP BY region ORDER BY 3",
            "ORDER BY 3: the SELECT list has 2 columns",
            "line 1, column 61",
        ),
        (
            "SELECT region, COUNT(*) FROM sales GROUP BY region ORDER BY SUM(units)",
            "ORDER BY an aggregate that is not selected is not supported",
            "line 1, column 61",
        ),
        (
            "SELECT region, COUNT(*) FROM sales GROUP BY region ORDER BY region NULLS FIRST",
            "NULLS FIRST is not supported",
            "line 1, column 61",
        ),
        (
            "SELECT region, COUNT(*) FROM sales GROUP BY region LIMIT -1",
            "LIMIT takes a whole number",
            "line 1, column 59",
        ),
        (
            "SELECT region, COUNT(*) FROM sales GROUP BY region FETCH FIRST 3 ROWS ONLY",
            "FETCH is not supported",
            "line 1, column 64",
        ),
        (
            "SELECT region, COUNT(*) FROM sales",
            "column `region` must appear in GROUP BY or be used in an aggregate",
            "line 1, column 8",
        ),
        (
            "SELECT region, month, COUNT(*) FROM sales GROUP BY region",
            "column `month` must appear in GROUP BY",
            "line 1, column 16",
        ),
        (
            "SELECT COUNT(*)",
            "a SELECT without FROM is not supported",
            "line 1, column 1",
        ),
        (
            "INSERT INTO sales VALUES (1)",
            "the statement INSERT is not supported; only SELECT queries are answered",
            "line 1, column 1",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE discount",
            "a column as a condition is not supported",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE year IS TRUE",
            "IS [NOT] TRUE/FALSE is not supported",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE year = 'a' || 'b'",
            "the operator || is not supported",
            "line 1, column 41",
        ),
        (
            "SELECT region, COUNT(*) FROM sales GROUP BY region ORDER BY LENGTH(region)",
            "the function LENGTH is not supported",
            "line 1, column 61",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE year = \"2024\"",
            "a comparison of two columns is not supported; compare a column with a literal \
             ('text' in single quotes: double quotes name columns)",
            "line 1, column 34",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE",
            "SQL syntax error at line 1, column 33: Expected: an expression, found: EOF",
            "",
        ),
        (
            "SELEKT COUNT(*) FROM sales",
            "SQL syntax error at line 1, column 1",
            "",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE region = 'North",
            "SQL syntax error at line 1, column 43: Unterminated string literal",
            "",
        ),
        ("", "no statement", ""),
    ];
    for (text, construct, position) in cases {
        refused(text, construct, position);
    }
    // Every refusal says what is supported.
    let e = sql::parse("SELECT * FROM sales", "sales").unwrap_err();
    assert!(
        e.to_string()
            .contains("Supported: SELECT group columns and aggregates")
    );
}

/// A hostile statement: `before`, `open` n times, `middle`, `close` n
/// times, `after`; and what its error says (`None`: it is valid).
struct Hostile {
    name: &'static str,
    before: &'static str,
    open: &'static str,
    middle: &'static str,
    close: &'static str,
    n: usize,
    after: &'static str,
    error: Option<&'static str>,
}

impl Hostile {
    fn text(&self) -> String {
        let (open, close) = (self.open.repeat(self.n), self.close.repeat(self.n));
        format!("{}{open}{}{close}{}", self.before, self.middle, self.after)
    }
}

/// Builds a [`Hostile`] from its fields in order, or from a name, one
/// text and its error.
macro_rules! hostile {
    ($name:expr, $text:expr, $error:expr) => {
        hostile!($name, $text, "", "", "", 0, "", $error)
    };
    ($name:expr, $before:expr, $open:expr, $middle:expr, $close:expr, $n:expr, $after:expr, $error:expr) => {
        Hostile {
            name: $name,
            before: $before,
            open: $open,
            middle: $middle,
            close: $close,
            n: $n,
            after: $after,
            error: $error,
        }
    };
}

const HOSTILE: &[Hostile] = &[
    hostile!(
        "huge",
        "SELECT COUNT(*) FROM sales -- ",
        "x",
        "",
        "",
        MAX_SQL_BYTES,
        "",
        Some("more than the 262144 read")
    ),
    hostile!(
        "and chain",
        "SELECT COUNT(*) FROM sales WHERE ",
        "",
        "units = 1",
        " AND units = 1",
        15_000,
        "",
        Some("operators and keywords")
    ),
    hostile!(
        "or chain",
        "SELECT COUNT(*) FROM sales WHERE ",
        "",
        "units = 1",
        " OR units = 1",
        15_000,
        "",
        Some("operators and keywords")
    ),
    hostile!(
        "arithmetic chain",
        "SELECT COUNT(*) FROM sales WHERE units = ",
        "",
        "1",
        "+1",
        60_000,
        "",
        Some("operators and keywords")
    ),
    hostile!(
        "parentheses",
        "SELECT COUNT(*) FROM sales WHERE ",
        "(",
        "units = 1",
        ")",
        50_000,
        "",
        Some("parentheses nest deeper than 32")
    ),
    hostile!(
        "function nesting",
        "SELECT ",
        "f(",
        "1",
        ")",
        20_000,
        " FROM sales",
        Some("parentheses nest deeper than 32")
    ),
    hostile!(
        "NOT chain",
        "SELECT COUNT(*) FROM sales WHERE ",
        "NOT ",
        "units = 1",
        "",
        30_000,
        "",
        Some("operators and keywords")
    ),
    hostile!(
        "minus chain",
        "SELECT COUNT(*) FROM sales WHERE units = ",
        "- ",
        "1",
        "",
        60_000,
        "",
        Some("operators and keywords")
    ),
    hostile!(
        "type nesting",
        "SELECT COUNT(*) FROM sales WHERE CAST(units AS ",
        "ARRAY<",
        "INT",
        ">",
        20_000,
        ") = 1",
        Some("operators and keywords")
    ),
    hostile!(
        "brackets",
        "SELECT COUNT(*) FROM sales WHERE units",
        "",
        "",
        "[1]",
        30_000,
        " = 1",
        Some("operators and keywords")
    ),
    // Below the operator bound, above the parser's recursion limit: past
    // `NOT`s sqlparser backtracks, and says where it gave up.
    hostile!(
        "NOT nesting",
        "SELECT COUNT(*) FROM sales WHERE ",
        "NOT ",
        "units = 1",
        "",
        500,
        "",
        Some("at line 1")
    ),
    hostile!(
        "minus nesting",
        "SELECT COUNT(*) FROM sales WHERE units = ",
        "- ",
        "1",
        "",
        500,
        "",
        Some("nests deeper than the 128 levels read")
    ),
    // Within the bounds: 300 filters, and 300 alternatives refused by name.
    hostile!(
        "300 filters",
        "SELECT COUNT(*) FROM sales WHERE ",
        "",
        "units <> 1",
        " AND units <> 1",
        299,
        "",
        None
    ),
    hostile!(
        "300 alternatives",
        "SELECT COUNT(*) FROM sales WHERE ",
        "",
        "units = 1",
        " OR units = 1",
        299,
        "",
        Some("OR is not supported")
    ),
    hostile!(
        "huge integer",
        "SELECT COUNT(*) FROM sales WHERE units = 99999999999999999999999",
        Some("out of range of a 64-bit integer")
    ),
    hostile!(
        "below i64",
        "SELECT COUNT(*) FROM sales WHERE units = -9223372036854775809",
        Some("out of range of a 64-bit integer")
    ),
    hostile!(
        "float overflow",
        "SELECT COUNT(*) FROM sales WHERE price < 1e999",
        Some("out of range of a 64-bit float")
    ),
    hostile!(
        "float underflow",
        "SELECT COUNT(*) FROM sales WHERE price > 1e-999",
        Some("out of range of a 64-bit float")
    ),
    hostile!(
        "huge ordinal",
        "SELECT region FROM sales GROUP BY 99999999999999999999999",
        Some("no position in the SELECT list")
    ),
    hostile!(
        "huge limit",
        "SELECT COUNT(*) FROM sales LIMIT 99999999999999999999999",
        Some("LIMIT takes a whole number")
    ),
    // Valid: a long name is only an unknown column later.
    hostile!(
        "long name",
        "SELECT SUM(",
        "x",
        "",
        "",
        200_000,
        ") FROM sales",
        None
    ),
    hostile!(
        "nul and unicode",
        "SELECT COUNT(*) FROM sales WHERE region = 'a\0é\u{202e}'",
        None
    ),
];

#[test]
fn hostile_text_gets_typed_errors_within_a_small_stack() {
    // On a thread with a 2 MiB stack, as a server's worker thread has: deep
    // nesting must be refused, not overflow it.
    let worker = std::thread::Builder::new().stack_size(2 << 20);
    let outcomes = worker
        .spawn(|| {
            HOSTILE
                .iter()
                .map(|h| {
                    let outcome = sql::parse(&h.text(), "sales").map(|_| ());
                    outcome.map_err(|e| (e.to_string(), e.is_user_error()))
                })
                .collect::<Vec<_>>()
        })
        .unwrap()
        .join()
        .expect("the parser overflowed or panicked");
    for (outcome, hostile) in outcomes.into_iter().zip(HOSTILE) {
        let name = hostile.name;
        match (outcome, hostile.error) {
            (Ok(()), None) => {}
            (Ok(()), Some(_)) => panic!("{name}: accepted"),
            (Err((message, _)), None) => panic!("{name}: {message}"),
            (Err((message, user)), Some(expected)) => {
                assert!(user, "{name}: {message}");
                assert!(message.len() < 1024, "{name}: {} bytes", message.len());
                assert!(message.contains(expected), "{name}: {message}");
            }
        }
    }
}

/// SQL-ish text: mostly the subset's own words, so the parser gets past
/// the first token.
fn sqlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("SELECT".to_owned()),
        Just("FROM sales".to_owned()),
        Just("WHERE".to_owned()),
        Just("GROUP BY".to_owned()),
        Just("ORDER BY".to_owned()),
        Just("LIMIT".to_owned()),
        Just("AND".to_owned()),
        Just("OR".to_owned()),
        Just("NOT".to_owned()),
        Just("IN".to_owned()),
        Just("BETWEEN".to_owned()),
        Just("IS NULL".to_owned()),
        Just("COUNT(*)".to_owned()),
        Just("SUM(units)".to_owned()),
        Just("region".to_owned()),
        Just("year".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(",".to_owned()),
        Just("=".to_owned()),
        Just("<".to_owned()),
        Just("-".to_owned()),
        Just("'North'".to_owned()),
        Just("DESC".to_owned()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "\\PC{0,6}",
    ];
    proptest::collection::vec(token, 0..30).prop_map(|t| t.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn sql_text_never_panics(text in sqlish()) {
        match sales().sql(&text) {
            Ok(_) => {}
            Err(e) => prop_assert!(e.is_user_error(), "{text}: {e:?}"),
        }
    }

    /// The query model through SQL and back: the same query.
    #[test]
    fn query_to_sql_and_back_is_the_same_query(q in crate::differential::query()) {
        let text = q.to_sql("data");
        let back = sql::parse(&text, "data").map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert!(back.is_plain(), "{}", text);
        prop_assert_eq!(back.query, q, "{}", text);
    }

    /// Extreme values too; a non-finite float comes back as text, which
    /// its column reads as the same number: the same key.
    #[test]
    fn extreme_queries_to_sql_and_back_have_the_same_key(q in crate::extremes::query()) {
        let text = q.to_sql("data");
        let back = Query::from_sql(&text, "data").map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let finite = !text.contains("inf'") && !text.contains("'NaN'");
        if finite {
            prop_assert_eq!(&back, &q, "{}", text);
        }
        let cache = crate::extremes::cache();
        prop_assert_eq!(cache.key(&back).unwrap(), cache.key(&q).unwrap(), "{}", text);
    }

    /// The statistics' SQL of an entry is that entry.
    #[test]
    fn the_statistics_sql_of_an_entry_reads_back_as_its_key(q in crate::differential::query()) {
        let cache = CachedQuery::from_frame(common::frame(&common::rows(200, 7))).unwrap();
        cache.get(&q).unwrap();
        cache.get(&q).unwrap();
        let info = cache.cache_info();
        prop_assert_eq!(info.top_queries.len(), 1);
        let text = info.top_queries[0].sql.clone().unwrap();
        let key = cache.key(&q).unwrap();
        if key.query().is_some_and(|c| c.contradiction) {
            // No query of the subset can say WHERE FALSE.
            prop_assert!(text.contains(" WHERE FALSE"), "{}", text);
            prop_assert!(cache.sql(&text).is_err());
        } else {
            let back = Query::from_sql(&text, "data").map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(cache.key(&back).unwrap(), key, "{}", text);
            prop_assert_eq!(cache.sql(&text).unwrap().source(), Source::Memory, "{}", text);
        }
    }
}

#[test]
fn memoized_functions_have_no_sql_in_the_statistics() {
    let cache = CachedQuery::from_frame(common::frame(&common::rows(20, 1))).unwrap();
    for _ in 0..2 {
        cache
            .memoize("rows", &(), |df| polars::df!("n" => [df.height() as u64]))
            .unwrap();
    }
    let info = cache.cache_info();
    assert_eq!(info.top_queries.len(), 1);
    assert_eq!(info.top_queries[0].sql, None);
    let json: serde_json::Value = serde_json::from_str(&info.to_json()).unwrap();
    assert_eq!(json["top_queries"][0]["sql"], serde_json::Value::Null);
}
