//! Random valid queries over generated data: the cached answer equals
//! `get_uncached` and a naive row-by-row oracle (floats within 1e-9
//! relative).

use std::sync::OnceLock;

use polars_query_cache::{Agg, AggFn, CachedQuery, Filter, Query, Value};
use proptest::prelude::*;

use crate::common::{self, CATS, Row};

fn fixture() -> &'static (Vec<Row>, CachedQuery) {
    static FIXTURE: OnceLock<(Vec<Row>, CachedQuery)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rows = common::rows(400, 11);
        // A small budget so that evictions happen during the test too.
        let cache = CachedQuery::builder()
            .max_bytes(64 << 10)
            .build_from_frame(common::frame(&rows))
            .unwrap();
        (rows, cache)
    })
}

fn value_for(column: &'static str) -> BoxedStrategy<Value> {
    match column {
        "cat" => proptest::sample::select(
            &["alpha", "beta", "delta", "gamma", "omega", "zeta", "Alpha"][..],
        )
        .prop_map(Value::from)
        .boxed(),
        "k" => prop_oneof![
            (-1i64..5).prop_map(Value::Int),
            (-1i64..5).prop_map(|i| Value::Str(i.to_string()))
        ]
        .boxed(),
        "x" => prop_oneof![
            (-22i64..22).prop_map(Value::Int),
            (-220i64..220).prop_map(|i| Value::Float(i as f64 / 10.0)),
        ]
        .boxed(),
        "y" => prop_oneof![
            (-100i64..100).prop_map(|i| Value::Float(i as f64)),
            (-100i64..100).prop_map(Value::Int)
        ]
        .boxed(),
        "d" => (18_995i32..19_065)
            .prop_map(|d| {
                let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                    + chrono::Days::new(d as u64);
                Value::Str(date.format("%Y-%m-%d").to_string())
            })
            .boxed(),
        _ => any::<bool>().prop_map(Value::Bool).boxed(),
    }
}

fn filter() -> impl Strategy<Value = Filter> {
    proptest::sample::select(&["cat", "k", "x", "y", "d", "b"][..]).prop_flat_map(|column| {
        common::predicates(value_for(column), 3, column != "b")
            .prop_map(move |p| Filter::new(column, p))
    })
}

fn agg() -> impl Strategy<Value = Agg> {
    let numeric = proptest::sample::select(&["k", "x", "y"][..]);
    let any_col = proptest::sample::select(&["cat", "k", "x", "y", "d", "b"][..]);
    let ordered = proptest::sample::select(&["cat", "k", "x", "y", "d"][..]);
    prop_oneof![
        Just(Agg::len()),
        (
            proptest::sample::select(
                &[
                    AggFn::Sum,
                    AggFn::Mean,
                    AggFn::Median,
                    AggFn::Std,
                    AggFn::Var
                ][..]
            ),
            numeric
        )
            .prop_map(|(f, c)| Agg::new(f, c)),
        (
            proptest::sample::select(&[AggFn::Min, AggFn::Max][..]),
            ordered
        )
            .prop_map(|(f, c)| Agg::new(f, c)),
        (
            proptest::sample::select(
                &[AggFn::Count, AggFn::NUnique, AggFn::First, AggFn::Last][..]
            ),
            any_col
        )
            .prop_map(|(f, c)| Agg::new(f, c)),
    ]
}

/// Random valid queries over `common::frame` (also read by `sql`).
pub(crate) fn query() -> impl Strategy<Value = Query> {
    (
        proptest::collection::vec(filter(), 0..4),
        proptest::sample::subsequence(&["cat", "k", "b", "d"][..], 0..3),
        proptest::collection::vec(agg(), 1..4),
        any::<bool>(),
    )
        .prop_map(|(filters, mut groups, aggs, reverse)| {
            if reverse {
                groups.reverse();
            }
            let mut q = Query {
                filters,
                ..Query::default()
            };
            q = q.group_by(groups);
            common::with_aliased(q, aggs)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn cached_equals_uncached_equals_oracle(q in query()) {
        let (rows, cache) = fixture();
        common::check_answers(cache, &q, &common::oracle(rows, &q));
    }
}

#[test]
fn oracle_categories_cover_the_data() {
    // Guards the generator: every category and null appear, so filters on
    // them select something.
    let rows = common::rows(400, 11);
    for cat in CATS {
        assert!(rows.iter().any(|r| r.cat == Some(cat)));
    }
    assert!(rows.iter().any(|r| r.cat.is_none()));
}
