//! Values at and beyond the ends of every type: checked arithmetic in
//! normalization, bounds beyond a column's own type, floats at their limits
//! and extreme dates all give the SQL answer (checked against the row by
//! row oracle), in bounded time; errors quoting huge input stay small.

use std::cmp::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use polars::prelude::*;
use polars_query_cache::normalize::{Bound, Constraint, Scalar};
use polars_query_cache::{Agg, AggFn, CachedQuery, Filter, Query, Value};
use proptest::prelude::*;

use crate::common::{self, Cell, Rng};

/// The request that used to enumerate ~1e19 values and take the process down.
const REGRESSION: &str = r#"{"filters":[{"column":"order_id","op":"between","value":[-5000000000000000000,5000000000000000000]},{"column":"order_id","op":"ne","value":5}],"aggs":[{"fn":"len"}]}"#;

/// Runs `f` on another thread and fails the test when it takes longer than
/// `limit`: a regression to enumeration must fail, not hang the suite.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

const CHRONO_MIN: &str = "-262143-01-01";
const CHRONO_MAX: &str = "+262142-12-31";

fn days(date: &str) -> i32 {
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// One row of the table of extremes. Every column has nulls.
#[derive(Debug, Clone)]
struct Wide {
    g: Option<i64>,
    i64_: Option<i64>,
    i32_: Option<i32>,
    u32_: Option<u32>,
    u64_: Option<u64>,
    f: Option<f64>,
    d: Option<i32>,
}

const I64S: [i64; 10] = [
    i64::MIN,
    i64::MIN + 1,
    -5_000_000_000_000_000_000,
    -1,
    0,
    1,
    5,
    1 << 53,
    i64::MAX - 1,
    i64::MAX,
];
const I32S: [i32; 8] = [i32::MIN, i32::MIN + 1, -1, 0, 1, 5, i32::MAX - 1, i32::MAX];
const U32S: [u32; 5] = [0, 1, 5, u32::MAX - 1, u32::MAX];
const U64S: [u64; 7] = [0, 1, 5, i64::MAX as u64, 1 << 63, u64::MAX - 1, u64::MAX];
const FLOATS: [f64; 14] = [
    f64::NEG_INFINITY,
    f64::MIN,
    -1e308,
    -1.0,
    -5e-324,
    -0.0,
    0.0,
    5e-324,
    f64::MIN_POSITIVE,
    0.5,
    1.0,
    1e308,
    f64::MAX,
    f64::INFINITY,
];

fn date_pool() -> Vec<i32> {
    vec![
        i32::MIN,
        days(CHRONO_MIN),
        days(CHRONO_MIN) + 1,
        -1,
        0,
        19_000,
        days(CHRONO_MAX) - 1,
        days(CHRONO_MAX),
        i32::MAX,
    ]
}

fn wide_rows() -> Vec<Wide> {
    let mut rng = Rng(17);
    let dates = date_pool();
    let mut pick = |n: usize| -> Option<usize> {
        // One in eight is null.
        (rng.below(8) != 0).then(|| rng.below(n as u64) as usize)
    };
    (0..300)
        .map(|_| Wide {
            g: pick(3).map(|i| i as i64),
            i64_: pick(I64S.len()).map(|i| I64S[i]),
            i32_: pick(I32S.len()).map(|i| I32S[i]),
            u32_: pick(U32S.len()).map(|i| U32S[i]),
            u64_: pick(U64S.len()).map(|i| U64S[i]),
            f: pick(FLOATS.len()).map(|i| FLOATS[i]),
            d: pick(dates.len()).map(|i| dates[i]),
        })
        .collect()
}

fn wide_frame(rows: &[Wide]) -> DataFrame {
    fn column<T>(name: &str, values: Vec<Option<T>>) -> Column
    where
        Series: NamedFrom<Vec<Option<T>>, [Option<T>]>,
    {
        Series::new(name.into(), values).into()
    }
    let d: Vec<Option<i32>> = rows.iter().map(|r| r.d).collect();
    DataFrame::new(
        rows.len(),
        vec![
            column("g", rows.iter().map(|r| r.g).collect()),
            column("i64", rows.iter().map(|r| r.i64_).collect()),
            column("i32", rows.iter().map(|r| r.i32_).collect()),
            column("u32", rows.iter().map(|r| r.u32_).collect()),
            column("u64", rows.iter().map(|r| r.u64_).collect()),
            column("f", rows.iter().map(|r| r.f).collect()),
            Series::new("d".into(), d)
                .cast(&DataType::Date)
                .unwrap()
                .into(),
        ],
    )
    .unwrap()
}

fn wide_cell(row: &Wide, column: &str) -> Cell {
    let int = |v: Option<i64>| v.map_or(Cell::Null, Cell::Int);
    match column {
        "g" => int(row.g),
        "i64" => int(row.i64_),
        "i32" => int(row.i32_.map(i64::from)),
        "u32" => int(row.u32_.map(i64::from)),
        "u64" => row.u64_.map_or(Cell::Null, Cell::UInt),
        "f" => row.f.map_or(Cell::Null, Cell::Float),
        "d" => row.d.map_or(Cell::Null, Cell::Date),
        other => panic!("no column {other}"),
    }
}

/// The SQL comparison of a cell with a filter value: exact on integer
/// columns (the value is read in the column's type, not rounded to a
/// float), in `f64` on the float column (where `-0.0 = 0.0`).
fn wide_compare(cell: &Cell, value: &Value, column: &str) -> Ordering {
    match (cell, value) {
        (Cell::Float(x), _) => {
            let v = match value {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                Value::Str(s) => s.parse().unwrap(),
                Value::Bool(_) => panic!("no bool filters on {column}"),
            };
            x.partial_cmp(&v).unwrap()
        }
        (Cell::Date(d), Value::Str(s)) => d.cmp(&days(s)),
        (cell, value) => {
            let i = cell.as_i128().unwrap();
            match value {
                Value::Int(v) => i.cmp(&i128::from(*v)),
                // Beyond i128, as the number it is.
                Value::Str(s) => match s.parse::<i128>() {
                    Ok(v) => i.cmp(&v),
                    Err(_) => common::cmp_int_float(i, s.parse().unwrap()),
                },
                Value::Float(f) => common::cmp_int_float(i, *f),
                Value::Bool(_) => panic!("no bool filters on {column}"),
            }
        }
    }
}

fn fixture() -> &'static (Vec<Wide>, CachedQuery) {
    static FIXTURE: OnceLock<(Vec<Wide>, CachedQuery)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rows = wide_rows();
        let cache = CachedQuery::from_frame(wide_frame(&rows)).unwrap();
        (rows, cache)
    })
}

/// The cache over the table of extremes.
pub(crate) fn cache() -> &'static CachedQuery {
    &fixture().1
}

fn oracle(query: &Query) -> Vec<Vec<Cell>> {
    common::oracle_with(&fixture().0, query, &wide_cell, &wide_compare)
}

/// Integers at the ends of every type, and one past them.
fn int_edges() -> Vec<i64> {
    let mut v = vec![
        i64::MIN,
        i64::MIN + 1,
        i64::MAX - 1,
        i64::MAX,
        -1,
        0,
        1,
        5,
        6,
    ];
    for edge in [
        i64::from(i32::MIN),
        i64::from(i32::MAX),
        i64::from(u32::MAX),
        i64::from(i16::MIN),
        i64::from(i16::MAX),
        i64::from(u16::MAX),
        i64::from(i8::MIN),
        i64::from(u8::MAX),
    ] {
        v.extend([edge - 1, edge, edge + 1]);
    }
    v
}

/// A filter value for `column`: its own data, the edges of every type,
/// and numbers no integer type holds.
fn value_for(column: &'static str) -> BoxedStrategy<Value> {
    match column {
        "f" => prop_oneof![
            proptest::sample::select(&FLOATS[..]).prop_map(Value::Float),
            proptest::sample::select(int_edges()).prop_map(Value::Int),
            proptest::sample::select(&["inf", "-inf", "1e308", "-0", "4.9e-324"][..])
                .prop_map(Value::from),
        ]
        .boxed(),
        "d" => proptest::sample::select(date_pool())
            .prop_filter_map("chrono's range", |d| {
                let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?
                    .checked_add_signed(chrono::Duration::days(i64::from(d)))?;
                Some(Value::Str(date.format("%Y-%m-%d").to_string()))
            })
            .boxed(),
        _ => prop_oneof![
            3 => proptest::sample::select(int_edges()).prop_map(Value::Int),
            1 => proptest::sample::select(&U64S[..]).prop_map(|u| Value::Str(u.to_string())),
            1 => proptest::sample::select(
                &["-9223372036854775809", "18446744073709551616", "-170141183460469231731687303715884105729"][..]
            )
            .prop_map(Value::from),
            2 => proptest::sample::select(
                &[
                    1e308,
                    -1e308,
                    -0.0,
                    5e-324,
                    -5e-324,
                    2.5,
                    -2.5,
                    5e9,
                    -5e9,
                    4294967295.5,
                    9.223372036854776e18,
                    -9.223372036854776e18,
                    1.8446744073709552e19,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                ][..]
            )
            .prop_map(Value::Float),
        ]
        .boxed(),
    }
}

fn filter() -> impl Strategy<Value = Filter> {
    proptest::sample::select(&["i64", "i32", "u32", "u64", "f", "d"][..]).prop_flat_map(|column| {
        common::predicates(value_for(column), 4, true).prop_map(move |p| Filter::new(column, p))
    })
}

fn agg() -> impl Strategy<Value = Agg> {
    // Exact aggregates only: sums of extremes overflow and float sums of
    // ±1e308 depend on the order of addition.
    let column = proptest::sample::select(&["i64", "i32", "u32", "u64", "f", "d"][..]);
    let int_column = proptest::sample::select(&["i64", "i32", "u32", "u64", "d"][..]);
    prop_oneof![
        Just(Agg::len()),
        (
            proptest::sample::select(&[AggFn::Count, AggFn::Min, AggFn::Max][..]),
            column
        )
            .prop_map(|(f, c)| Agg::new(f, c)),
        int_column.prop_map(|c| Agg::new(AggFn::NUnique, c)),
    ]
}

/// Random queries with values at and beyond every type's ends (also read
/// by `sql`).
pub(crate) fn query() -> impl Strategy<Value = Query> {
    (
        proptest::collection::vec(filter(), 1..5),
        any::<bool>(),
        proptest::collection::vec(agg(), 1..4),
    )
        .prop_map(|(filters, grouped, aggs)| {
            let mut q = Query {
                filters,
                ..Query::default()
            };
            if grouped {
                q = q.group_by(["g"]);
            }
            common::with_aliased(q, aggs)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn extremes_give_the_sql_answer(q in query()) {
        let (_, cache) = fixture();
        let expected = oracle(&q);
        let context = format!("{q:?}");
        let started = Instant::now();
        let first = cache.get(&q).unwrap();
        let second = cache.get(&q).unwrap();
        let uncached = cache.get_uncached(&q).unwrap();
        common::assert_same(&common::frame_cells(&first), &expected, &context);
        common::assert_same(&common::frame_cells(&second), &expected, &context);
        common::assert_same(&common::frame_cells(&uncached), &expected, &context);
        prop_assert!(started.elapsed() < Duration::from_secs(5), "{context} took {:?}", started.elapsed());
    }

    /// Whatever the bounds, the canonical key is small: nothing is
    /// enumerated beyond the limit, however wide the range.
    #[test]
    fn keys_stay_small(lo in any::<i64>(), hi in any::<i64>(), holes in proptest::collection::vec(any::<i64>(), 1..6)) {
        let (_, cache) = fixture();
        let q = Query::new().between("i64", lo, hi).not_in("i64", holes).len();
        let key = cache.key(&q).unwrap();
        prop_assert!(key.to_string().len() < 64 * 1024, "{}", key.to_string().len());
    }
}

fn sales() -> CachedQuery {
    let ids: Vec<Option<i64>> = (0..100).map(|i| (i % 10 != 0).then_some(i)).collect();
    let frame = DataFrame::new(100, vec![Series::new("order_id".into(), ids).into()]).unwrap();
    CachedQuery::from_frame(frame).unwrap()
}

fn len_of(frame: &polars_query_cache::Frame) -> i64 {
    match &common::frame_cells(frame)[0][0] {
        Cell::Int(n) => *n,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_reported_request_is_answered_through_json() {
    let n = within(Duration::from_secs(30), || {
        let cache = sales();
        let q = Query::from_json(REGRESSION).unwrap();
        len_of(&cache.get(&q).unwrap())
    });
    // 90 non-null ids, one of them 5.
    assert_eq!(n, 89);
}

#[test]
fn the_reported_request_is_answered_through_the_builder() {
    let n = within(Duration::from_secs(30), || {
        let cache = sales();
        let q = Query::new()
            .between(
                "order_id",
                -5_000_000_000_000_000_000i64,
                5_000_000_000_000_000_000i64,
            )
            .ne("order_id", 5)
            .len();
        len_of(&cache.get(&q).unwrap())
    });
    assert_eq!(n, 89);
}

#[test]
fn the_ends_of_i64_in_one_set_do_not_overflow() {
    let cache = sales();
    let q = Query::new().is_in("order_id", [i64::MIN, i64::MAX]).len();
    assert_eq!(len_of(&cache.get(&q).unwrap()), 0);
    let key = cache.key(&q).unwrap();
    assert_eq!(
        key.query().unwrap().constraint("order_id"),
        Some(&Constraint::OneOf(vec![
            Scalar::Int(i64::MIN),
            Scalar::Int(i64::MAX)
        ]))
    );
    // Bounds at the ends bound nothing; one past them selects nothing.
    let all = Query::new().between("order_id", i64::MIN, i64::MAX).len();
    assert_eq!(len_of(&cache.get(&all).unwrap()), 90);
    let none = Query::new().gt("order_id", i64::MAX).len();
    assert_eq!(len_of(&cache.get(&none).unwrap()), 0);
    let none = Query::new().lt("order_id", i64::MIN).len();
    assert_eq!(len_of(&cache.get(&none).unwrap()), 0);
}

#[test]
fn a_huge_range_with_holes_is_keyed_without_enumerating() {
    let cache = sales();
    let q = Query::new()
        .between("order_id", i64::MIN + 1, i64::MAX - 1)
        .not_in("order_id", [5, -7, 0])
        .len();
    let started = Instant::now();
    let key = within(Duration::from_secs(10), move || cache.key(&q).unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let bound = |value: i64| {
        Some(Bound {
            value: Scalar::Int(value),
            inclusive: true,
        })
    };
    assert_eq!(
        key.query().unwrap().constraint("order_id"),
        Some(&Constraint::Range {
            low: bound(i64::MIN + 1),
            high: bound(i64::MAX - 1),
            exclude: vec![Scalar::Int(-7), Scalar::Int(0), Scalar::Int(5)],
        })
    );
}

#[test]
fn a_short_range_with_holes_is_still_a_set() {
    let cache = sales();
    let q = Query::new()
        .between("order_id", 1, 5)
        .ne("order_id", 3)
        .len();
    let same = Query::new().is_in("order_id", [1, 2, 4, 5]).len();
    assert_eq!(cache.key(&q).unwrap(), cache.key(&same).unwrap());
}

fn one_int32() -> CachedQuery {
    let x: Vec<Option<i32>> = vec![
        Some(i32::MIN),
        Some(-1),
        Some(0),
        Some(7),
        Some(i32::MAX),
        None,
    ];
    let u: Vec<Option<u64>> = vec![
        Some(0),
        Some(1),
        Some(i64::MAX as u64),
        Some(1 << 63),
        Some(u64::MAX),
        None,
    ];
    let frame = DataFrame::new(
        6,
        vec![
            Series::new("x".into(), x).into(),
            Series::new("u".into(), u).into(),
        ],
    )
    .unwrap();
    CachedQuery::from_frame(frame).unwrap()
}

#[test]
fn bounds_beyond_a_narrow_type_give_the_sql_answer() {
    let cache = one_int32();
    let count = |q: Query| len_of(&cache.get(&q.len()).unwrap());
    assert_eq!(count(Query::new().lt("x", 5e9)), 5);
    assert_eq!(count(Query::new().le("x", 5_000_000_000i64)), 5);
    assert_eq!(count(Query::new().gt("x", -5e9)), 5);
    assert_eq!(count(Query::new().eq("x", 5e9)), 0);
    assert_eq!(count(Query::new().eq("x", 5_000_000_000i64)), 0);
    assert_eq!(count(Query::new().gt("x", i64::from(i32::MAX))), 0);
    assert_eq!(count(Query::new().ge("x", i64::from(i32::MAX))), 1);
    assert_eq!(count(Query::new().lt("x", i64::from(i32::MIN))), 0);
    assert_eq!(count(Query::new().is_in("x", [5_000_000_000i64, 7])), 1);
    assert_eq!(count(Query::new().ne("x", 5_000_000_000i64)), 5);
    assert_eq!(count(Query::new().not_in("x", [5_000_000_000i64, 7])), 4);
    assert_eq!(count(Query::new().between("x", -1e19, 1e19)), 5);
    assert_eq!(count(Query::new().between("x", "-1e400", "1e400")), 5);
    // They share the key of what they mean.
    let key = |q: Query| cache.key(&q.len()).unwrap();
    assert_eq!(
        key(Query::new().lt("x", 5e9)),
        key(Query::new().is_not_null("x"))
    );
    assert_eq!(
        key(Query::new().between("x", i32::MIN, i32::MAX)),
        key(Query::new().is_not_null("x"))
    );
    assert_eq!(
        key(Query::new().eq("x", 5e9)),
        key(Query::new().gt("x", i64::from(i32::MAX)))
    );
}

#[test]
fn unsigned_64_bit_values_compare_exactly() {
    let cache = one_int32();
    let count = |q: Query| len_of(&cache.get(&q.len()).unwrap());
    // Above i64::MAX only text names a value exactly, and JSON says so.
    assert_eq!(count(Query::new().eq("u", "18446744073709551615")), 1);
    let e = Query::from_json(
        r#"{"filters": [{"column": "u", "op": "eq", "value": 18446744073709551615}], "aggs": [{"fn": "len"}]}"#,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("write it as text, \"18446744073709551615\""),
        "{e}"
    );
    let q = Query::from_json(
        r#"{"filters": [{"column": "u", "op": "eq", "value": "18446744073709551615"}], "aggs": [{"fn": "len"}]}"#,
    )
    .unwrap();
    assert_eq!(len_of(&cache.get(&q).unwrap()), 1);
    assert_eq!(count(Query::new().eq("u", "9223372036854775808")), 1);
    assert_eq!(count(Query::new().eq("u", i64::MAX)), 1);
    // Through f64 these three would be one value.
    assert_eq!(count(Query::new().gt("u", i64::MAX)), 2);
    assert_eq!(count(Query::new().ge("u", "9223372036854775808")), 2);
    assert_eq!(
        count(Query::new().is_in("u", ["9223372036854775808", "1"])),
        2
    );
    assert_eq!(count(Query::new().lt("u", 0)), 0);
    assert_eq!(count(Query::new().ge("u", -1)), 5);
    assert_eq!(count(Query::new().gt("u", 1.8446744073709552e19)), 0);
    assert_eq!(count(Query::new().gt("u", "18446744073709551615")), 0);
    assert_eq!(count(Query::new().ne("u", "18446744073709551615")), 4);
}

#[test]
fn floats_at_their_limits() {
    let (_, cache) = fixture();
    let count = |q: Query| len_of(&cache.get(&q.len()).unwrap());
    let expected = |q: Query| match &oracle(&q.len())[0][0] {
        Cell::Int(n) => *n,
        other => panic!("{other:?}"),
    };
    for q in [
        Query::new().eq("f", -0.0),
        Query::new().eq("f", 0.0),
        Query::new().eq("f", "-0"),
        Query::new().is_in("f", [-0.0, 5e-324]),
        Query::new().gt("f", 0.0),
        Query::new().lt("f", 5e-324),
        Query::new().ge("f", 1e308),
        Query::new().le("f", -1e308),
        Query::new().lt("f", "inf"),
        Query::new().eq("f", f64::INFINITY),
        Query::new().ne("f", f64::NEG_INFINITY),
        Query::new().between("f", f64::MIN, f64::MAX),
    ] {
        assert_eq!(count(q.clone()), expected(q.clone()), "{q:?}");
    }
    // -0.0 and 0.0 are one value: one key.
    let key = |q: Query| cache.key(&q.len()).unwrap();
    assert_eq!(
        key(Query::new().eq("f", -0.0)),
        key(Query::new().eq("f", 0))
    );
}

#[test]
fn float32_columns_compare_in_f64() {
    let y: Vec<Option<f32>> = vec![
        Some(0.1),
        Some(0.5),
        Some(f32::MAX),
        Some(f32::INFINITY),
        None,
    ];
    let frame = DataFrame::new(5, vec![Series::new("y".into(), y).into()]).unwrap();
    let cache = CachedQuery::from_frame(frame).unwrap();
    let count = |q: Query| len_of(&cache.get(&q.len()).unwrap());
    // 1e308 is no f32: rounding it would make it infinity.
    assert_eq!(count(Query::new().eq("y", 1e308)), 0);
    assert_eq!(count(Query::new().lt("y", 1e308)), 3);
    assert_eq!(count(Query::new().gt("y", 1e308)), 1);
    assert_eq!(count(Query::new().is_in("y", [1e308, 0.5])), 1);
    assert_eq!(count(Query::new().eq("y", f64::from(f32::MAX))), 1);
    // As in PostgreSQL, the f32 nearest 0.1 is not 0.1.
    assert_eq!(count(Query::new().eq("y", 0.1)), 0);
    assert_eq!(count(Query::new().eq("y", f64::from(0.1f32))), 1);
    assert_eq!(count(Query::new().lt("y", 0.1)), 0);
}

#[test]
fn extreme_dates() {
    let (_, cache) = fixture();
    let count = |q: Query| len_of(&cache.get(&q.len()).unwrap());
    let expected = |q: Query| match &oracle(&q.len())[0][0] {
        Cell::Int(n) => *n,
        other => panic!("{other:?}"),
    };
    for q in [
        Query::new().eq("d", CHRONO_MIN),
        Query::new().lt("d", CHRONO_MIN),
        Query::new().le("d", CHRONO_MIN),
        Query::new().gt("d", CHRONO_MAX),
        Query::new().ge("d", CHRONO_MAX),
        Query::new()
            .between("d", CHRONO_MIN, CHRONO_MAX)
            .ne("d", "1970-01-01"),
        Query::new().not_in("d", [CHRONO_MIN, CHRONO_MAX]),
    ] {
        assert_eq!(count(q.clone()), expected(q.clone()), "{q:?}");
    }
    // Beyond what a date can be written as: a typed error, not a wrong answer.
    let e = cache
        .get(&Query::new().lt("d", "-300000-01-01").len())
        .unwrap_err();
    assert!(e.is_user_error(), "{e:?}");
}

#[test]
fn json_numbers_beyond_f64_are_typed_errors() {
    for number in ["1e400", "-1e400", "1e999999"] {
        let json = format!(
            r#"{{"filters": [{{"column": "order_id", "op": "lt", "value": {number}}}], "aggs": [{{"fn": "len"}}]}}"#
        );
        let e = Query::from_json(&json).unwrap_err();
        assert!(e.is_user_error(), "{number}: {e:?}");
    }
    // As text they are numbers beyond every integer.
    let cache = sales();
    let q = Query::new().lt("order_id", "1e400").len();
    assert_eq!(len_of(&cache.get(&q).unwrap()), 90);
    let q = Query::new().lt("order_id", "-1e400").len();
    assert_eq!(len_of(&cache.get(&q).unwrap()), 0);
}

#[test]
fn huge_limits_are_no_limit() {
    let cache = sales();
    let json =
        r#"{"group_by": ["order_id"], "aggs": [{"fn": "len"}], "limit": 18446744073709551615}"#;
    let q = Query::from_json(json).unwrap();
    assert_eq!(cache.get(&q).unwrap().height(), 91);
    let q = Query::new().group_by(["order_id"]).len().limit(usize::MAX);
    assert_eq!(cache.get(&q).unwrap().height(), 91);
}

/// 1 MB of text: ASCII then a multi-byte character at the cut, so that the
/// excerpt must find a character boundary.
fn huge(prefix: &str) -> String {
    let mut s = String::from(prefix);
    while s.len() < 63 {
        s.push('a');
    }
    while s.len() < 1 << 20 {
        s.push('é');
    }
    s
}

fn small_error(e: &polars_query_cache::Error, names: &str) {
    let message = e.to_string();
    assert!(e.is_user_error(), "{e:?}");
    let start: String = message.chars().take(1024).collect();
    assert!(message.len() < 1024, "{} bytes: {start}", message.len());
    assert!(message.contains(names), "{message}");
}

#[test]
fn errors_quoting_huge_input_stay_small() {
    let cache = sales();
    let name = huge("no_such_column");
    let value = huge("not a number");

    // A huge column name, in a filter, a group-by and an aggregate.
    let json = serde_json::json!({"filters": [{"column": name, "op": "eq", "value": 1}], "aggs": [{"fn": "len"}]}).to_string();
    let e = cache.get(&Query::from_json(&json).unwrap()).unwrap_err();
    small_error(&e, "unknown column `no_such_column");
    small_error(&e, "bytes)");
    let e = cache
        .get(&Query::new().group_by([name.as_str()]).len())
        .unwrap_err();
    small_error(&e, "unknown column");
    let e = cache.get(&Query::new().sum(&name)).unwrap_err();
    small_error(&e, "unknown column");

    // A huge value of the wrong type.
    let json = serde_json::json!({"filters": [{"column": "order_id", "op": "eq", "value": value}], "aggs": [{"fn": "len"}]}).to_string();
    let e = cache.get(&Query::from_json(&json).unwrap()).unwrap_err();
    small_error(
        &e,
        "column `order_id` holds integers, but the filter value \"not a number",
    );

    // A huge sort key among huge aliases: no "did you mean" over megabytes.
    let q = Query::new()
        .agg(Agg::len().alias(huge("alias")))
        .sort_by(&huge("alias but not quite"), false);
    let e = within(Duration::from_secs(10), move || {
        sales().get(&q).unwrap_err()
    });
    small_error(&e, "unknown column `alias but not quite");

    // A huge alias repeated.
    let q = Query::new()
        .agg(Agg::len().alias(huge("twice")))
        .agg(Agg::new(AggFn::Count, "order_id").alias(huge("twice")));
    small_error(&cache.get(&q).unwrap_err(), "appears twice");

    // serde quotes input: an unknown operator, function and field, a huge
    // value where a list belongs, a huge number.
    let cases = [
        (
            serde_json::json!({"filters": [{"column": "order_id", "op": name, "value": 1}], "aggs": [{"fn": "len"}]}),
            "unknown variant `no_such_column",
        ),
        (
            serde_json::json!({"aggs": [{"fn": name}]}),
            "unknown variant `no_such_column",
        ),
        (
            serde_json::json!({name.clone(): 1, "aggs": [{"fn": "len"}]}),
            "unknown field `no_such_column",
        ),
        (
            serde_json::json!({"filters": [{"column": name, "op": "in", "value": value}], "aggs": [{"fn": "len"}]}),
            "needs an array `value`",
        ),
        (
            serde_json::json!({"filters": value, "aggs": [{"fn": "len"}]}),
            "`filters` must be a list",
        ),
        (
            serde_json::json!({"filters": [{"column": "order_id", "op": "eq", "value": [value]}], "aggs": [{"fn": "len"}]}),
            "filter values are numbers",
        ),
        (
            serde_json::json!({"filters": {name.clone(): null}, "aggs": [{"fn": "len"}]}),
            "is ambiguous",
        ),
        (
            serde_json::json!({"group_by": value, "aggs": [{"fn": "len"}]}),
            "invalid type: string \"not a number",
        ),
    ];
    for (json, names) in cases {
        let e = Query::from_json(&json.to_string()).unwrap_err();
        small_error(&e, names);
    }
    let number = format!(
        "{{\"filters\": [{{\"column\": \"order_id\", \"op\": \"eq\", \"value\": 1{}}}], \"aggs\": []}}",
        "0".repeat(1 << 20)
    );
    small_error(
        &Query::from_json(&number).unwrap_err(),
        "malformed query JSON",
    );
    let e = cache
        .get_json(&format!(
            "{{\"aggs\": [{{\"fn\": \"len\"}}], \"sort\": [{{\"column\": \"{}\"}}]}}",
            name
        ))
        .unwrap_err();
    small_error(&e, "unknown column");
}
