//! Datetime columns: filters whose values are written to any precision (a
//! day, a minute, a second, a fraction finer than the column's unit), on a
//! column without a time zone and on one in UTC (with `Z` and offsets),
//! against a row-by-row oracle that works in nanoseconds.

use std::cmp::Ordering;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDateTime, TimeDelta};
use polars::prelude::*;
use polars_query_cache::{Agg, AggFn, CachedQuery, Error, Filter, Query, Value};
use proptest::prelude::*;

use crate::common::{self, Cell, Rng};

/// The first instant of the generated rows: 2024-03-10 00:00:00.
const BASE_SECONDS: i64 = 1_710_028_800;
/// The rows span three days.
const SPAN_SECONDS: u64 = 3 * 86_400;

/// One row: `t` in milliseconds (no time zone), `z` in microseconds (UTC).
struct Stamp {
    t: Option<i64>,
    z: Option<i64>,
    g: Option<&'static str>,
    v: Option<f64>,
}

fn stamps(n: usize, seed: u64) -> Vec<Stamp> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let second = BASE_SECONDS + rng.below(SPAN_SECONDS) as i64;
            // One in four has a fraction of a second, so that literals to
            // the second fall between values too.
            let millis = if rng.below(4) == 0 {
                rng.below(1_000)
            } else {
                0
            } as i64;
            let micros = if rng.below(4) == 0 {
                rng.below(1_000_000)
            } else {
                0
            } as i64;
            let g = ["east", "north", "west"][rng.below(3) as usize];
            let v = rng.below(10_000) as f64 / 100.0;
            Stamp {
                t: rng.maybe(10, second * 1_000 + millis),
                z: rng.maybe(10, second * 1_000_000 + micros),
                g: rng.maybe(5, g),
                v: rng.maybe(10, v),
            }
        })
        .collect()
}

fn frame(rows: &[Stamp]) -> DataFrame {
    let t: Vec<Option<i64>> = rows.iter().map(|r| r.t).collect();
    let z: Vec<Option<i64>> = rows.iter().map(|r| r.z).collect();
    let g: Vec<Option<&str>> = rows.iter().map(|r| r.g).collect();
    let v: Vec<Option<f64>> = rows.iter().map(|r| r.v).collect();
    let t = Series::new("t".into(), t)
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
        .unwrap();
    // Not `cast`: without Polars' `timezones` feature a cast drops the
    // zone (a user's crate that turns it on gets zoned casts and CSVs).
    let z = Series::new("z".into(), z).into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
    DataFrame::new(
        rows.len(),
        vec![
            t.into(),
            z.into(),
            Series::new("g".into(), g).into(),
            Series::new("v".into(), v).into(),
        ],
    )
    .unwrap()
}

fn fixture() -> &'static (Vec<Stamp>, CachedQuery) {
    static FIXTURE: OnceLock<(Vec<Stamp>, CachedQuery)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rows = stamps(300, 5);
        let cache = CachedQuery::from_frame(frame(&rows)).unwrap();
        (rows, cache)
    })
}

fn cell_of(row: &Stamp, column: &str) -> Cell {
    match column {
        // Datetimes are read back as their physical value (`common::cells`).
        "t" => row.t.map_or(Cell::Null, Cell::Int),
        "z" => row.z.map_or(Cell::Null, Cell::Int),
        "g" => row.g.map_or(Cell::Null, |s| Cell::Str(s.to_owned())),
        "v" => row.v.map_or(Cell::Null, Cell::Float),
        other => panic!("no column {other}"),
    }
}

/// A datetime literal as nanoseconds since the epoch, read independently
/// of the crate: an optional `Z` or `±hh:mm` after the time, missing
/// minutes and seconds as zero.
fn literal_nanos(text: &str) -> i128 {
    let (local, offset_seconds) = if let Some(rest) = text.strip_suffix('Z') {
        (rest, 0)
    } else if text.len() > 16 && matches!(&text[text.len() - 6..text.len() - 5], "+" | "-") {
        let (rest, offset) = text.split_at(text.len() - 6);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let hours: i64 = offset[1..3].parse().unwrap();
        let minutes: i64 = offset[4..6].parse().unwrap();
        (rest, sign * (hours * 3_600 + minutes * 60))
    } else {
        (text, 0)
    };
    let mut local = local.replacen('T', " ", 1);
    match local.len() {
        10 => local += " 00:00:00",
        16 => local += ":00",
        _ => {}
    }
    let t = NaiveDateTime::parse_from_str(&local, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap()
        .and_utc();
    (i128::from(t.timestamp()) - i128::from(offset_seconds)) * 1_000_000_000
        + i128::from(t.timestamp_subsec_nanos())
}

fn compare(cell: &Cell, value: &Value, column: &str) -> Ordering {
    let per_unit: i128 = match column {
        "t" => 1_000_000,
        "z" => 1_000,
        _ => return common::cmp_cells(cell, &text_cell(value)),
    };
    let (Cell::Int(physical), Value::Str(text)) = (cell, value) else {
        panic!("a datetime filter value is text: {value:?}")
    };
    (i128::from(*physical) * per_unit).cmp(&literal_nanos(text))
}

fn text_cell(value: &Value) -> Cell {
    match value {
        Value::Str(s) => Cell::Str(s.clone()),
        other => panic!("unexpected {other:?}"),
    }
}

/// An instant near the rows (a day beyond them on each side) written to
/// one of six precisions, the finer ones past the column's unit; on `z`
/// (UTC) also with `Z` or an offset, which names the same instant.
fn instant(column: &'static str) -> impl Strategy<Value = Value> {
    let seconds = (BASE_SECONDS - 86_400)..(BASE_SECONDS + SPAN_SECONDS as i64 + 86_400);
    (seconds, 0u32..1_000_000_000, 0usize..6, 0usize..3).prop_map(
        move |(second, nanos, precision, zone)| {
            let at = DateTime::from_timestamp(second, nanos).unwrap();
            let (at, suffix) = match (column, zone) {
                ("z", 1) => (at.naive_utc(), "Z"),
                ("z", 2) => (at.naive_utc() + TimeDelta::hours(2), "+02:00"),
                _ => (at.naive_utc(), ""),
            };
            let format = [
                "%Y-%m-%d",
                "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S%.3f",
                "%Y-%m-%dT%H:%M:%S%.6f",
                "%Y-%m-%d %H:%M:%S%.9f",
            ][precision];
            // A day alone takes no offset.
            let suffix = if precision == 0 { "" } else { suffix };
            Value::Str(format!("{}{suffix}", at.format(format)))
        },
    )
}

/// A value of `t` or `z` that some row holds, written exactly, or a few
/// nanoseconds to either side of it: between two values of the column's
/// unit, right next to a row.
fn held(column: &'static str) -> impl Strategy<Value = Value> {
    let nudge = prop_oneof![Just(0i64), 1i64..1_000, -999i64..0];
    (0usize..300, nudge).prop_map(move |(i, nudge)| {
        let (rows, _) = fixture();
        let physical = rows
            .iter()
            .cycle()
            .skip(i)
            .find_map(|r| if column == "t" { r.t } else { r.z })
            .unwrap();
        let nanos = physical * if column == "t" { 1_000_000 } else { 1_000 } + nudge;
        let at = DateTime::from_timestamp_nanos(nanos).naive_utc();
        Value::Str(at.format("%Y-%m-%d %H:%M:%S%.9f").to_string())
    })
}

fn filter() -> impl Strategy<Value = Filter> {
    proptest::sample::select(&["t", "z", "g"][..]).prop_flat_map(|column| {
        let v: BoxedStrategy<Value> = if column == "g" {
            proptest::sample::select(&["east", "north", "west"][..])
                .prop_map(Value::from)
                .boxed()
        } else {
            prop_oneof![instant(column), held(column)].boxed()
        };
        common::predicates(v, 3, true).prop_map(move |p| Filter::new(column, p))
    })
}

fn query() -> impl Strategy<Value = Query> {
    let aggs = proptest::sample::subsequence(
        &[
            (AggFn::Len, ""),
            (AggFn::Min, "t"),
            (AggFn::Max, "z"),
            (AggFn::Count, "t"),
            (AggFn::Sum, "v"),
        ][..],
        1..4,
    );
    (
        proptest::collection::vec(filter(), 0..4),
        any::<bool>(),
        aggs,
    )
        .prop_map(|(filters, grouped, aggs)| {
            let mut q = Query {
                filters,
                ..Query::default()
            };
            if grouped {
                q = q.group_by(["g"]);
            }
            let aggs = aggs.into_iter().map(|(func, column)| match func {
                AggFn::Len => Agg::len(),
                func => Agg::new(func, column),
            });
            common::with_aliased(q, aggs)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn datetime_filters_agree_with_the_oracle(q in query()) {
        let (rows, cache) = fixture();
        common::check_answers(cache, &q, &common::oracle_with(rows, &q, &cell_of, &compare));
    }
}

fn key(cache: &CachedQuery, q: Query) -> polars_query_cache::QueryKey {
    cache.key(&q.len()).unwrap()
}

#[test]
fn equal_instants_written_differently_share_one_key() {
    let (_, cache) = fixture();
    // `t` is in milliseconds: after 05:59:59.999 comes 06:00.
    assert_eq!(
        key(cache, Query::new().gt("t", "2024-03-10 05:59:59.999")),
        key(cache, Query::new().ge("t", "2024-03-10T06:00")),
    );
    // A time between two milliseconds bounds like the millisecond below or
    // above it, and equals no row.
    assert_eq!(
        key(cache, Query::new().lt("t", "2024-03-10 06:00:00.0005")),
        key(cache, Query::new().le("t", "2024-03-10 06:00:00")),
    );
    assert_eq!(
        key(cache, Query::new().ge("t", "2024-03-10 06:00:00.0005")),
        key(cache, Query::new().ge("t", "2024-03-10 06:00:00.001")),
    );
    let nothing = Query::new().eq("t", "2024-03-10 06:00:00.0005").len();
    common::assert_same(
        &common::frame_cells(&cache.get(&nothing).unwrap()),
        &[vec![Cell::Int(0)]],
        "eq between two milliseconds",
    );
    // In UTC, `Z`, an offset and no offset name one instant.
    let z = key(cache, Query::new().ge("z", "2024-03-10 06:00:00"));
    assert_eq!(z, key(cache, Query::new().ge("z", "2024-03-10T06:00:00Z")));
    assert_eq!(
        z,
        key(cache, Query::new().ge("z", "2024-03-10 08:00:00+02:00"))
    );
    assert_ne!(z, key(cache, Query::new().ge("z", "2024-03-10 06:00:01")));
}

#[test]
fn datetime_values_of_the_wrong_form_are_typed_errors() {
    let (_, cache) = fixture();
    let wrong = |q: Query| match cache.get(&q.len()) {
        Err(Error::WrongValueType {
            column,
            expected,
            hint,
            ..
        }) => {
            assert_eq!(expected, "datetimes");
            (column, hint)
        }
        other => panic!("expected a wrong value type, got {other:?}"),
    };
    let (column, hint) = wrong(Query::new().eq("t", 1_710_028_800_000i64));
    assert_eq!(column, "t");
    assert!(hint.contains("2024-03-31 12:00:00"), "{hint}");
    wrong(Query::new().ge("t", "10 March 2024"));
    // A tenth digit of a second is finer than any column holds; chrono
    // would drop it and read the time as 06:00.
    wrong(Query::new().gt("t", "2024-03-10 06:00:00.0000000001"));
    wrong(Query::new().gt("z", "2024-03-10 06:00:00.0000000001+02:00"));
    assert_eq!(
        key(
            cache,
            Query::new().ge("t", "2024-03-10 06:00:00.000000000000")
        ),
        key(cache, Query::new().ge("t", "2024-03-10 06:00")),
    );
    wrong(Query::new().ge("t", "2024-03-10 25:00"));
    // An offset on a column without a time zone has no meaning there.
    let (_, hint) = wrong(Query::new().ge("t", "2024-03-10 06:00+02:00"));
    assert!(hint.contains("no time zone"), "{hint}");
    wrong(Query::new().between("z", "2024-03-10", true));
}

/// In a zone other than UTC, a time without an offset depends on rules the
/// crate does not carry: it is refused, and an offset is read exactly.
#[test]
fn a_zoned_column_needs_an_offset() {
    let zone = TimeZone::opt_try_new(Some("Europe/Paris")).unwrap();
    let paris = Series::new("at".into(), [Some(1_710_050_400_000_000i64), None])
        .into_datetime(TimeUnit::Microseconds, zone);
    assert!(matches!(paris.dtype(), DataType::Datetime(_, Some(_))));
    let cache = CachedQuery::from_frame(DataFrame::new(2, vec![paris.into()]).unwrap()).unwrap();
    match cache.get(&Query::new().ge("at", "2024-03-10 07:00").len()) {
        Err(Error::WrongValueType { hint, .. }) => assert!(hint.contains("offset"), "{hint}"),
        other => panic!("expected a wrong value type, got {other:?}"),
    }
    // 1_710_050_400 s is 2024-03-10 06:00 UTC, 07:00 in Paris.
    let count = |at: &str| {
        let q = Query::new().ge("at", at).len();
        common::frame_cells(&cache.get(&q).unwrap())
    };
    common::assert_same(
        &count("2024-03-10 07:00+01:00"),
        &[vec![Cell::Int(1)]],
        "at 07:00+01:00",
    );
    common::assert_same(
        &count("2024-03-10 07:00:01+01:00"),
        &[vec![Cell::Int(0)]],
        "after",
    );
}

/// A CSV's timestamps load as a datetime column that filters, groups and
/// takes `min` and `max`.
#[test]
fn a_csv_datetime_column_filters_groups_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flights.csv");
    std::fs::write(
        &path,
        "carrier,time_hour,delay\n\
         UA,2013-01-01 05:00:00,2\n\
         AA,2013-01-01 05:00:00,\n\
         UA,2013-01-01 06:00:00,-3\n\
         B6,,7\n\
         AA,2013-01-02 05:00:00,11\n",
    )
    .unwrap();
    let cache = CachedQuery::from_csv(&path).unwrap();
    let kind = |name: &str| {
        cache
            .dataset()
            .columns()
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.kind)
    };
    assert_eq!(
        kind("time_hour"),
        Some(polars_query_cache::ColumnKind::Datetime)
    );
    let q = Query::new()
        .between("time_hour", "2013-01-01 05:30", "2013-01-02")
        .group_by(["carrier"])
        .len()
        .agg(Agg::new(AggFn::Min, "time_hour"));
    let answer = cache.get(&q).unwrap();
    assert_eq!(answer.height(), 1);
    let cells = common::frame_cells(&answer);
    assert!(cells[0][0].approx_eq(&Cell::Str("UA".into())), "{cells:?}");
    assert!(cells[0][1].approx_eq(&Cell::Int(1)), "{cells:?}");
    let six = NaiveDateTime::parse_from_str("2013-01-01 06:00:00", "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc();
    let unit_per_second = match &answer.dataframe().column("min_time_hour").unwrap().dtype() {
        DataType::Datetime(TimeUnit::Milliseconds, _) => 1_000,
        DataType::Datetime(TimeUnit::Microseconds, _) => 1_000_000,
        DataType::Datetime(TimeUnit::Nanoseconds, _) => 1_000_000_000,
        other => panic!("min of a datetime is a datetime, not {other}"),
    };
    assert_eq!(
        cells[0][2].as_i128(),
        Some(i128::from(six.timestamp()) * unit_per_second)
    );
    // Null is its own group, and `is_null` selects it.
    let nulls = cache
        .get(&Query::new().is_null("time_hour").sum("delay"))
        .unwrap();
    common::assert_same(
        &common::frame_cells(&nulls),
        &[vec![Cell::Int(7)]],
        "is_null",
    );
}
