//! Every query error, from the builder and from JSON: typed, and saying how
//! to fix the query.

use polars_query_cache::{Agg, AggFn, CachedQuery, Error, Query};

use crate::common;

fn cache() -> CachedQuery {
    CachedQuery::from_frame(common::frame(&common::rows(50, 2))).unwrap()
}

fn err(q: &Query) -> Error {
    let e = cache().get(q).unwrap_err();
    assert!(e.is_user_error() && e.is_query_error(), "{e:?}");
    e
}

fn json_err(json: &str) -> Error {
    let e = cache().get_json(json).unwrap_err();
    assert!(e.is_user_error(), "{e:?}");
    e
}

#[test]
fn unknown_columns_name_the_closest() {
    for q in [
        Query::new().eq("kk", 1).len(),
        Query::new().group_by(["kk"]).len(),
        Query::new().sum("kk"),
    ] {
        let e = err(&q);
        assert!(
            matches!(&e, Error::UnknownColumn { column, suggestions, .. } if column == "kk" && suggestions == &["k"]),
            "{e:?}"
        );
        assert!(e.to_string().contains("did you mean `k`?"), "{e}");
        assert!(e.to_string().contains("columns: cat, k, x, y, d, b"), "{e}");
    }
    let e = json_err(r#"{"filters": {"Cat": "alpha"}, "aggs": [{"fn": "len"}]}"#);
    assert!(e.to_string().contains("did you mean `cat`?"), "{e}");
}

#[test]
fn unknown_sort_column_lists_the_outputs() {
    let e = err(&Query::new()
        .group_by(["k"])
        .agg(Agg::new(AggFn::Sum, "x").alias("total"))
        .sort_by("totl", true));
    assert!(
        e.to_string().contains("did you mean `total`?")
            && e.to_string().contains("columns: k, total"),
        "{e}"
    );
}

#[test]
fn wrong_value_types() {
    let cases = [
        (Query::new().eq("cat", 3).len(), "quote the value"),
        (Query::new().eq("k", "three").len(), "whole number"),
        (Query::new().eq("y", true).len(), "a number"),
        (Query::new().eq("d", "31/12/2024").len(), "2024-03-31"),
        (Query::new().eq("b", 1).len(), "true or false"),
        (Query::new().eq("y", f64::NAN).len(), "NaN"),
    ];
    for (q, hint) in cases {
        let e = err(&q);
        assert!(matches!(e, Error::WrongValueType { .. }), "{e:?}");
        assert!(e.to_string().contains(hint), "{e}");
    }
    let e = json_err(
        r#"{"filters": [{"column": "k", "op": "in", "value": [1, "x"]}], "aggs": [{"fn": "len"}]}"#,
    );
    assert!(matches!(e, Error::WrongValueType { .. }), "{e:?}");
}

#[test]
fn operators_the_type_does_not_support() {
    let e = err(&Query::new().lt("b", true).len());
    assert!(
        matches!(&e, Error::InvalidOperator { op: "lt", .. }),
        "{e:?}"
    );
}

#[test]
fn empty_in_lists() {
    let e = err(&Query::new().is_in::<i64>("k", []).len());
    assert!(e.to_string().contains("empty list"), "{e}");
    let e = err(&Query::new().not_in::<i64>("k", []).len());
    assert!(e.to_string().contains("empty list"), "{e}");
    let e = json_err(
        r#"{"filters": [{"column": "k", "op": "in", "value": []}], "aggs": [{"fn": "len"}]}"#,
    );
    assert!(e.to_string().contains("empty list"), "{e}");
}

#[test]
fn aggregates_the_type_does_not_support() {
    for func in [
        AggFn::Sum,
        AggFn::Mean,
        AggFn::Median,
        AggFn::Std,
        AggFn::Var,
    ] {
        let e = err(&Query::new().agg(Agg::new(func, "cat")));
        assert!(
            matches!(&e, Error::InvalidAggregate { column, .. } if column == "cat"),
            "{e:?}"
        );
        assert!(e.to_string().contains("use count"), "{e}");
    }
}

#[test]
fn alias_clashes() {
    let e = err(&Query::new()
        .group_by(["k"])
        .agg(Agg::new(AggFn::Sum, "x").alias("k")));
    assert!(
        matches!(&e, Error::AliasClash { name } if name == "k"),
        "{e:?}"
    );
    let e = err(&Query::new().sum("x").sum("x"));
    assert!(
        matches!(&e, Error::AliasClash { name } if name == "sum_x"),
        "{e:?}"
    );
    // The same aggregate twice under two names is fine.
    cache()
        .get(
            &Query::new()
                .sum("x")
                .agg(Agg::new(AggFn::Sum, "x").alias("again")),
        )
        .unwrap();
}

#[test]
fn meaningless_queries() {
    let e = err(&Query::new().eq("k", 1));
    assert!(e.to_string().contains("at least one aggregate"), "{e}");
    let e = err(&Query::new().agg(Agg {
        func: AggFn::Len,
        column: Some("k".into()),
        alias: None,
    }));
    assert!(e.to_string().contains("use `count`"), "{e}");
    let e = err(&Query::new().agg(Agg {
        func: AggFn::Sum,
        column: None,
        alias: None,
    }));
    assert!(e.to_string().contains("needs a `column`"), "{e}");
}

#[test]
fn malformed_and_hostile_json() {
    let cases = [
        (
            r#"{"aggs": [{"fn": "len"}], "colour": "red"}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"aggs": [{"fn": "len", "colour": "red"}]}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"filters": [{"column": "k", "op": "eq", "value": 1, "x": 1}], "aggs": [{"fn": "len"}]}"#,
            "unknown field `x`",
        ),
        (
            r#"{"filters": [{"column": "k", "op": "like", "value": 1}], "aggs": [{"fn": "len"}]}"#,
            "unknown variant `like`",
        ),
        (
            r#"{"aggs": [{"fn": "mode", "column": "k"}]}"#,
            "unknown variant `mode`",
        ),
        (
            r#"{"filters": [{"column": "k", "op": "eq"}], "aggs": [{"fn": "len"}]}"#,
            "needs a `value`",
        ),
        (
            r#"{"filters": [{"column": "k", "op": "eq", "value": null}], "aggs": [{"fn": "len"}]}"#,
            "needs a `value`",
        ),
        (
            r#"{"filters": [{"column": "k", "op": "in", "value": 1}], "aggs": [{"fn": "len"}]}"#,
            "array",
        ),
        (
            r#"{"filters": [{"column": "k", "op": "between", "value": [1]}], "aggs": [{"fn": "len"}]}"#,
            "[low, high]",
        ),
        (
            r#"{"filters": [{"column": "k", "op": "is_null", "value": 1}], "aggs": [{"fn": "len"}]}"#,
            "takes no value",
        ),
        (
            r#"{"filters": {"k": null}, "aggs": [{"fn": "len"}]}"#,
            "ambiguous",
        ),
        (
            r#"{"filters": {"k": {"$gt": 1}}, "aggs": [{"fn": "len"}]}"#,
            "numbers, strings or booleans",
        ),
        (
            r#"{"filters": {"k": [[1]]}, "aggs": [{"fn": "len"}]}"#,
            "numbers, strings or booleans",
        ),
        (
            r#"{"filters": "k=1", "aggs": [{"fn": "len"}]}"#,
            "`filters` must be",
        ),
        (r#"{"filters": {"k": 1e999}, "aggs": [{"fn": "len"}]}"#, ""),
        (r#"{"limit": -1, "aggs": [{"fn": "len"}]}"#, ""),
        (r#"{"aggs": [{"fn": "len"}]"#, "EOF"),
        ("", "EOF"),
        ("[]", "invalid type: sequence, expected a map"),
    ];
    for (json, needle) in cases {
        let e = json_err(json);
        assert!(e.to_string().contains(needle), "{json}: {e}");
    }
    // A number past i64 is a float that no integer equals: an answer, not an error.
    let frame = cache()
        .get_json(r#"{"filters": {"k": 18446744073709551616}, "aggs": [{"fn": "len"}]}"#)
        .unwrap();
    assert_eq!(
        frame
            .column("len")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<i64>(),
        Some(0)
    );
    // Deep nesting is refused by serde_json's recursion limit, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = json_err(&format!(
        r#"{{"filters": {deep}, "aggs": [{{"fn": "len"}}]}}"#
    ));
    assert!(e.to_string().contains("recursion limit"), "{e}");
}
