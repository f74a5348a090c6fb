//! Shared test data and a naive row-by-row oracle of the query semantics.

#![allow(dead_code)]

use std::cmp::Ordering;
use std::io::Write;
use std::sync::{PoisonError, TryLockError};

use polars::prelude::*;
use polars_query_cache::{Agg, AggFn, CachedQuery, Dataset, Frame, Predicate, Query, Value};
use proptest::prelude::*;

/// One row of the test table. Every column has nulls.
#[derive(Debug, Clone)]
pub struct Row {
    pub cat: Option<&'static str>,
    pub k: Option<i64>,
    pub x: Option<i64>,
    pub y: Option<f64>,
    pub d: Option<i32>,
    pub b: Option<bool>,
}

pub const CATS: [&str; 5] = ["alpha", "beta", "delta", "gamma", "omega"];

/// A small splittable generator so tables depend only on their seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn maybe<T>(&mut self, null_pct: u64, v: T) -> Option<T> {
        (self.below(100) >= null_pct).then_some(v)
    }
}

pub fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let cat = CATS[rng.below(5) as usize];
            let k = rng.below(4) as i64;
            let x = rng.below(41) as i64 - 20;
            let y = (rng.below(20_001) as f64 - 10_000.0) / 100.0;
            let d = 19_000 + rng.below(60) as i32;
            let b = rng.below(2) == 0;
            Row {
                cat: rng.maybe(10, cat),
                k: rng.maybe(10, k),
                x: rng.maybe(15, x),
                y: rng.maybe(15, y),
                d: rng.maybe(10, d),
                b: rng.maybe(10, b),
            }
        })
        .collect()
}

pub fn frame(rows: &[Row]) -> DataFrame {
    let cat: Vec<Option<&str>> = rows.iter().map(|r| r.cat).collect();
    let k: Vec<Option<i64>> = rows.iter().map(|r| r.k).collect();
    let x: Vec<Option<i64>> = rows.iter().map(|r| r.x).collect();
    let y: Vec<Option<f64>> = rows.iter().map(|r| r.y).collect();
    let d: Vec<Option<i32>> = rows.iter().map(|r| r.d).collect();
    let b: Vec<Option<bool>> = rows.iter().map(|r| r.b).collect();
    let d = Series::new("d".into(), d).cast(&DataType::Date).unwrap();
    let cats = DataType::from_categories(Categories::random("t".into(), CategoricalPhysical::U32));
    let cat = Series::new("cat".into(), cat).cast(&cats).unwrap();
    DataFrame::new(
        rows.len(),
        vec![
            cat.into(),
            Series::new("k".into(), k).into(),
            Series::new("x".into(), x).into(),
            Series::new("y".into(), y).into(),
            d.into(),
            Series::new("b".into(), b).into(),
        ],
    )
    .unwrap()
}

/// A cell in a form both the oracle and Polars' answers convert to.
#[derive(Debug, Clone)]
pub enum Cell {
    Null,
    Int(i64),
    /// A `UInt64` value, kept whole above `i64::MAX`.
    UInt(u64),
    Float(f64),
    Str(String),
    Bool(bool),
    Date(i32),
}

impl Cell {
    fn rank(&self) -> u8 {
        match self {
            Cell::Null => 9,
            Cell::Int(_) | Cell::UInt(_) | Cell::Float(_) => 1,
            Cell::Str(_) => 2,
            Cell::Bool(_) => 3,
            Cell::Date(_) => 4,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::UInt(u) => Some(*u as f64),
            Cell::Float(f) => Some(*f),
            Cell::Date(d) => Some(f64::from(*d)),
            _ => None,
        }
    }

    /// The cell as an exact integer, when it is one.
    pub fn as_i128(&self) -> Option<i128> {
        match self {
            Cell::Int(i) => Some(i128::from(*i)),
            Cell::UInt(u) => Some(i128::from(*u)),
            _ => None,
        }
    }

    /// Equal, floats within a relative tolerance of 1e-9.
    pub fn approx_eq(&self, other: &Cell) -> bool {
        if let (Some(a), Some(b)) = (self.as_i128(), other.as_i128()) {
            return a == b;
        }
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Str(a), Cell::Str(b)) => a == b,
            (Cell::Bool(a), Cell::Bool(b)) => a == b,
            (Cell::Date(a), Cell::Date(b)) => a == b,
            (Cell::Int(a), Cell::Int(b)) => a == b,
            (a, b) => match (a.as_f64(), b.as_f64()) {
                // Equal infinities have no finite difference.
                (Some(x), Some(y)) => {
                    x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
                }
                _ => false,
            },
        }
    }
}

/// Ascending, nulls last.
pub fn cmp_cells(a: &Cell, b: &Cell) -> Ordering {
    match (a, b) {
        (Cell::Null, Cell::Null) => Ordering::Equal,
        (Cell::Null, _) => Ordering::Greater,
        (_, Cell::Null) => Ordering::Less,
        (Cell::Str(x), Cell::Str(y)) => x.cmp(y),
        (Cell::Bool(x), Cell::Bool(y)) => x.cmp(y),
        (Cell::Date(x), Cell::Date(y)) => x.cmp(y),
        (x, y) if x.as_i128().is_some() && y.as_i128().is_some() => x.as_i128().cmp(&y.as_i128()),
        (x, Cell::Float(f)) if x.as_i128().is_some() => {
            cmp_int_float(x.as_i128().unwrap_or_default(), *f)
        }
        (Cell::Float(f), y) if y.as_i128().is_some() => {
            cmp_int_float(y.as_i128().unwrap_or_default(), *f).reverse()
        }
        (x, y) => match (x.as_f64(), y.as_f64()) {
            (Some(p), Some(q)) => p.total_cmp(&q),
            _ => x.rank().cmp(&y.rank()),
        },
    }
}

/// An integer and a float (not NaN) compared exactly, as numbers: no
/// rounding of the integer to the nearest float.
pub fn cmp_int_float(i: i128, f: f64) -> Ordering {
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0; // 2^127
    if f >= LIMIT {
        return Ordering::Less;
    }
    if f < -LIMIT {
        return Ordering::Greater;
    }
    let floor = f.floor() as i128;
    match i.cmp(&floor) {
        Ordering::Equal if f.fract() != 0.0 => Ordering::Less,
        other => other,
    }
}

pub fn cell_of(row: &Row, column: &str) -> Cell {
    match column {
        "cat" => row.cat.map_or(Cell::Null, |s| Cell::Str(s.to_owned())),
        "k" => row.k.map_or(Cell::Null, Cell::Int),
        "x" => row.x.map_or(Cell::Null, Cell::Int),
        "y" => row.y.map_or(Cell::Null, Cell::Float),
        "d" => row.d.map_or(Cell::Null, Cell::Date),
        "b" => row.b.map_or(Cell::Null, Cell::Bool),
        other => panic!("no column {other}"),
    }
}

fn value_cell(value: &Value, column: &str) -> Cell {
    match (value, column) {
        (Value::Str(s), "d") => {
            let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
            Cell::Date(
                (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32,
            )
        }
        (Value::Str(s), "k" | "x") => Cell::Float(s.parse().unwrap()),
        (Value::Str(s), _) => Cell::Str(s.clone()),
        (Value::Int(i), _) => Cell::Int(*i),
        (Value::Float(f), _) => Cell::Float(*f),
        (Value::Bool(b), _) => Cell::Bool(*b),
    }
}

/// Whether `cell` passes `predicate`; `compare` orders a (non-null) cell
/// against a filter value.
fn holds(predicate: &Predicate, cell: &Cell, compare: &dyn Fn(&Cell, &Value) -> Ordering) -> bool {
    if let Cell::Null = cell {
        return matches!(predicate, Predicate::IsNull);
    }
    let cmp = |v: &Value| compare(cell, v);
    let eq = |v: &Value| cmp(v) == Ordering::Equal;
    match predicate {
        Predicate::IsNull => false,
        Predicate::IsNotNull => true,
        Predicate::Eq(v) => eq(v),
        Predicate::Ne(v) => !eq(v),
        Predicate::Lt(v) => cmp(v) == Ordering::Less,
        Predicate::Le(v) => cmp(v) != Ordering::Greater,
        Predicate::Gt(v) => cmp(v) == Ordering::Greater,
        Predicate::Ge(v) => cmp(v) != Ordering::Less,
        Predicate::In(vs) => vs.iter().any(eq),
        Predicate::NotIn(vs) => !vs.iter().any(eq),
        Predicate::Between(lo, hi) => cmp(lo) != Ordering::Less && cmp(hi) != Ordering::Greater,
        other => panic!("the reference model has no rule for {other:?}"),
    }
}

fn aggregate<R>(agg: &Agg, rows: &[&R], cell_of: &dyn Fn(&R, &str) -> Cell) -> Cell {
    if agg.func == AggFn::Len {
        return Cell::Int(rows.len() as i64);
    }
    let column = agg.column.as_deref().unwrap();
    let values: Vec<Cell> = rows
        .iter()
        .map(|r| cell_of(r, column))
        .filter(|c| !matches!(c, Cell::Null))
        .collect();
    let numbers: Vec<f64> = values.iter().filter_map(Cell::as_f64).collect();
    let mean = || numbers.iter().sum::<f64>() / numbers.len() as f64;
    let var = || {
        let m = mean();
        numbers.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (numbers.len() as f64 - 1.0)
    };
    match agg.func {
        AggFn::Count => Cell::Int(values.len() as i64),
        AggFn::NUnique => {
            let mut distinct: Vec<&Cell> = Vec::new();
            for v in &values {
                if !distinct.iter().any(|d| cmp_cells(d, v) == Ordering::Equal) {
                    distinct.push(v);
                }
            }
            Cell::Int(distinct.len() as i64)
        }
        _ if values.is_empty() => Cell::Null,
        AggFn::Sum => match values[0] {
            Cell::Int(_) => Cell::Int(
                values
                    .iter()
                    .map(|v| if let Cell::Int(i) = v { *i } else { 0 })
                    .sum(),
            ),
            _ => Cell::Float(numbers.iter().sum()),
        },
        AggFn::Mean => Cell::Float(mean()),
        AggFn::Median => {
            let mut sorted = numbers.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            Cell::Float(if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            })
        }
        AggFn::Var if numbers.len() < 2 => Cell::Null,
        AggFn::Std if numbers.len() < 2 => Cell::Null,
        AggFn::Var => Cell::Float(var()),
        AggFn::Std => Cell::Float(var().sqrt()),
        AggFn::Min => values
            .iter()
            .min_by(|a, b| cmp_cells(a, b))
            .cloned()
            .unwrap(),
        AggFn::Max => values
            .iter()
            .max_by(|a, b| cmp_cells(a, b))
            .cloned()
            .unwrap(),
        AggFn::First => values[0].clone(),
        AggFn::Last => values[values.len() - 1].clone(),
        AggFn::Len => unreachable!(),
        other => panic!("the reference model has no rule for {other:?}"),
    }
}

/// The answer to `query` computed row by row: the semantics of the README.
/// Sort and limit are not modelled; the oracle sorts by the group keys.
pub fn oracle(rows: &[Row], query: &Query) -> Vec<Vec<Cell>> {
    oracle_with(rows, query, &cell_of, &|cell, value, column| {
        cmp_cells(cell, &value_cell(value, column))
    })
}

/// The oracle over any table: `cell_of` reads a row's column, `compare`
/// orders a non-null cell of a column against a filter value.
pub fn oracle_with<R>(
    rows: &[R],
    query: &Query,
    cell_of: &dyn Fn(&R, &str) -> Cell,
    compare: &dyn Fn(&Cell, &Value, &str) -> Ordering,
) -> Vec<Vec<Cell>> {
    assert!(
        query.sort.is_empty() && query.limit.is_none(),
        "the oracle orders by group keys only"
    );
    let matching: Vec<&R> = rows
        .iter()
        .filter(|r| {
            query.filters.iter().all(|f| {
                let column = f.column.as_str();
                holds(&f.predicate, &cell_of(r, column), &|c, v| {
                    compare(c, v, column)
                })
            })
        })
        .collect();
    let mut groups: Vec<(Vec<Cell>, Vec<&R>)> = Vec::new();
    if query.group_by.is_empty() {
        groups.push((Vec::new(), matching));
    } else {
        for row in matching {
            let key: Vec<Cell> = query.group_by.iter().map(|c| cell_of(row, c)).collect();
            match groups.iter_mut().find(|(k, _)| {
                k.iter()
                    .zip(&key)
                    .all(|(a, b)| cmp_cells(a, b) == Ordering::Equal)
            }) {
                Some((_, members)) => members.push(row),
                None => groups.push((key, vec![row])),
            }
        }
        groups.sort_by(|(a, _), (b, _)| {
            a.iter()
                .zip(b)
                .map(|(x, y)| cmp_cells(x, y))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
    }
    groups
        .into_iter()
        .map(|(key, members)| {
            let mut out = key;
            out.extend(query.aggs.iter().map(|a| aggregate(a, &members, cell_of)));
            out
        })
        .collect()
}

/// The rows of an answer as cells.
pub fn cells(frame: &DataFrame) -> Vec<Vec<Cell>> {
    (0..frame.height())
        .map(|i| {
            frame
                .columns()
                .iter()
                .map(|c| match c.get(i).unwrap() {
                    AnyValue::Null => Cell::Null,
                    AnyValue::Boolean(b) => Cell::Bool(b),
                    AnyValue::String(s) => Cell::Str(s.to_owned()),
                    AnyValue::StringOwned(s) => Cell::Str(s.to_string()),
                    AnyValue::Date(d) => Cell::Date(d),
                    // The physical value, in the column's unit.
                    AnyValue::Datetime(t, ..) | AnyValue::DatetimeOwned(t, ..) => Cell::Int(t),
                    AnyValue::Float64(f) => Cell::Float(f),
                    AnyValue::Float32(f) => Cell::Float(f64::from(f)),
                    AnyValue::Int64(v) => Cell::Int(v),
                    AnyValue::Int32(v) => Cell::Int(i64::from(v)),
                    AnyValue::UInt32(v) => Cell::Int(i64::from(v)),
                    AnyValue::UInt64(v) => Cell::UInt(v),
                    AnyValue::Int8(v) => Cell::Int(i64::from(v)),
                    AnyValue::Int16(v) => Cell::Int(i64::from(v)),
                    AnyValue::UInt8(v) => Cell::Int(i64::from(v)),
                    AnyValue::UInt16(v) => Cell::Int(i64::from(v)),
                    other => panic!("unexpected value {other:?}"),
                })
                .collect()
        })
        .collect()
}

/// Asserts that two tables of cells agree (floats within 1e-9 relative).
pub fn assert_same(actual: &[Vec<Cell>], expected: &[Vec<Cell>], context: &str) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "row count differs for {context}\nactual: {actual:?}\nexpected: {expected:?}"
    );
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a.len(), e.len(), "width differs for {context}");
        for (j, (x, y)) in a.iter().zip(e).enumerate() {
            assert!(
                x.approx_eq(y),
                "row {i} column {j} differs for {context}: {x:?} vs {y:?}\nactual: {a:?}\nexpected: {e:?}"
            );
        }
    }
}

/// The frame of a `Frame`, as cells.
pub fn frame_cells(frame: &Frame) -> Vec<Vec<Cell>> {
    cells(frame.dataframe())
}

/// Whether an outside program a test needs is there. Outside CI a missing
/// one makes the test pass without running: it says so on the terminal at
/// once and is counted in a summary printed when the test binary exits, so
/// a green run that skipped something cannot go unnoticed. With `CI=true`
/// (which `.ci/run` sets, after `scripts/test` installed everything) it
/// fails the test instead.
pub fn available(what: &str, found: bool) -> bool {
    if found {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required with CI=true: .ci/run should have provided it");
    }
    skipped(what);
    false
}

/// The tests that skipped themselves, by name, with what they missed.
static SKIPPED: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

fn skipped(what: &str) {
    // libtest runs each test on a thread named after it.
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    // Written to the terminal directly: the harness keeps what a passing
    // test prints with `eprintln!` to itself.
    let _ = writeln!(
        std::io::stderr(),
        "\nSKIPPED {test}: {what} is not available on this machine"
    );
    let mut skipped = SKIPPED.lock().unwrap_or_else(PoisonError::into_inner);
    if skipped.is_empty() {
        // The harness has no hook after the last test, but it returns from
        // `main` (or calls `exit`) when done, and both run C's exit handlers.
        // SAFETY: C's `atexit` only records the function, which is
        // `extern "C"` and neither unwinds nor blocks.
        unsafe { atexit(print_skipped) };
    }
    if !skipped.iter().any(|(t, _)| *t == test) {
        skipped.push((test, what.to_owned()));
    }
}

unsafe extern "C" {
    fn atexit(handler: extern "C" fn()) -> std::ffi::c_int;
}

/// The summary of the skipped tests, grouped by what they missed.
extern "C" fn print_skipped() {
    // Never wait at exit: rather no summary than a hang.
    let skipped = match SKIPPED.try_lock() {
        Ok(skipped) => skipped,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    let mut text = format!(
        "\n!!! {} test(s) SKIPPED: they passed without running !!!\n",
        skipped.len()
    );
    let mut missing: Vec<&str> = skipped.iter().map(|(_, what)| what.as_str()).collect();
    missing.sort_unstable();
    missing.dedup();
    for what in missing {
        let tests: Vec<&str> = skipped
            .iter()
            .filter(|(_, w)| w == what)
            .map(|(test, _)| test.as_str())
            .collect();
        text += &format!(
            "!!! {what} is missing ({}): {}\n",
            tests.len(),
            tests.join(", ")
        );
    }
    text +=
        "!!! ./scripts/test installs and starts what they need; with CI=true they fail instead.\n";
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Whether `program` runs (`program --version` exits).
pub fn program_exists(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// A free TCP port on loopback, never the same twice in this process.
///
/// Not the kernel's pick (`bind` to port 0): it hands out ephemeral ports,
/// and gives the one a test just released to the next test that asks, so
/// two servers started at once could be told the same port (one fails to
/// bind, and its test talks to the other's server until that one stops).
/// Ports come from below the ephemeral range (32768 and up on Linux), in a
/// process-wide sequence that starts at a place set by the process id, so
/// that two test processes rarely overlap; each is checked by binding it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 10_000;
    const SPAN: u32 = 22_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() * 7919) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
        let port = u16::try_from(FIRST + offset).expect("below 32768");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls until `done`, every 20 ms, for at most `limit`.
pub fn eventually(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// A child process killed when dropped.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on `port`, for at most `timeout`.
pub fn wait_for_port(port: u16, timeout: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// Every `.pqc` entry file of a disk tier's directory.
pub fn entry_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for dataset in std::fs::read_dir(dir.join("results")).unwrap().flatten() {
        for f in std::fs::read_dir(dataset.path()).unwrap().flatten() {
            if f.path().extension().is_some_and(|e| e == "pqc") {
                files.push(f.path());
            }
        }
    }
    files
}

/// A CSV of another shape than the bundled sample, with none of its column
/// names: text with nulls, a comma and non-ASCII letters in values, a
/// date with nulls, floats (one with negatives), a boolean, a
/// high-cardinality identifier (`ticket`, one value a row) and a datetime
/// with nulls (`scanned_at`).
pub fn unfamiliar_csv(path: &std::path::Path, rows: usize, seed: u64) {
    const CITIES: [&str; 7] = [
        "Accra",
        "Hanoi",
        "Lisbon",
        "Oslo",
        "Perth",
        "\"Quito, EC\"",
        "São Paulo",
    ];
    const TIERS: [&str; 3] = ["bronze", "gold", "silver"];
    let mut rng = Rng(seed);
    let mut out = String::from("ticket,city,tier,shipped_on,weight_kg,margin,express,scanned_at\n");
    let start = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let first_scan = start.and_hms_opt(0, 0, 0).unwrap();
    for i in 0..rows {
        let city = CITIES[rng.below(7) as usize];
        let city = rng.maybe(8, city).unwrap_or("");
        let tier = TIERS[rng.below(3) as usize];
        let day = start + chrono::Days::new(rng.below(40));
        let day = rng.maybe(5, day.to_string()).unwrap_or_default();
        let weight = format!("{:.2}", 0.5 + rng.below(7_950) as f64 / 100.0);
        let weight = rng.maybe(10, weight);
        let margin = format!("{:.2}", rng.below(6_001) as f64 / 100.0 - 20.0);
        let express = rng.below(4) == 0;
        // A timestamp to the second: a datetime column, mostly distinct.
        let scanned = first_scan + chrono::TimeDelta::seconds(rng.below(40 * 86_400) as i64);
        let scanned = rng.maybe(5, scanned.format("%Y-%m-%d %H:%M:%S").to_string());
        out += &format!(
            "TK-{i:06},{city},{tier},{day},{},{margin},{express},{}\n",
            weight.unwrap_or_default(),
            scanned.unwrap_or_default()
        );
    }
    std::fs::write(path, out).unwrap();
}

/// Every predicate over values drawn from `value`, lists of 1 to
/// `max_list` of them; ranges only on `ordered` columns.
pub fn predicates(
    value: BoxedStrategy<Value>,
    max_list: usize,
    ordered: bool,
) -> BoxedStrategy<Predicate> {
    let v = value;
    let list = proptest::collection::vec(v.clone(), 1..=max_list);
    let mut options: Vec<BoxedStrategy<Predicate>> = vec![
        v.clone().prop_map(Predicate::Eq).boxed(),
        v.clone().prop_map(Predicate::Ne).boxed(),
        list.clone().prop_map(Predicate::In).boxed(),
        list.prop_map(Predicate::NotIn).boxed(),
        Just(Predicate::IsNull).boxed(),
        Just(Predicate::IsNotNull).boxed(),
    ];
    if ordered {
        options.extend([
            v.clone().prop_map(Predicate::Lt).boxed(),
            v.clone().prop_map(Predicate::Le).boxed(),
            v.clone().prop_map(Predicate::Gt).boxed(),
            v.clone().prop_map(Predicate::Ge).boxed(),
            (v.clone(), v)
                .prop_map(|(a, b)| Predicate::Between(a, b))
                .boxed(),
        ]);
    }
    proptest::strategy::Union::new(options).boxed()
}

/// The uncached answer, the cached one and the cached one again all equal
/// `expected`, in the query's column names.
pub fn check_answers(cache: &CachedQuery, q: &Query, expected: &[Vec<Cell>]) {
    let context = q.to_json();
    let uncached = cache.get_uncached(q).unwrap();
    let first = cache.get(q).unwrap();
    let second = cache.get(q).unwrap();
    for answer in [&uncached, &first, &second] {
        assert_same(&frame_cells(answer), expected, &context);
    }
    let names: Vec<String> = first
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, q.output_names(), "{context}");
}

/// `q` with `aggs` added, named `a0`, `a1`, ...: aliases keep repeated
/// aggregates apart.
pub fn with_aliased(mut q: Query, aggs: impl IntoIterator<Item = Agg>) -> Query {
    for (i, a) in aggs.into_iter().enumerate() {
        q = q.agg(a.alias(format!("a{i}")));
    }
    q
}

/// Two loads of the same data: the same fingerprint, and columns of the
/// same names, types and values (categoricals compared by their text: each
/// load has its own dictionary).
pub fn assert_same_data(blocks: &Dataset, whole: &Dataset) {
    assert_eq!(blocks.fingerprint(), whole.fingerprint());
    assert_eq!(blocks.rows(), whole.rows());
    let kinds = |d: &Dataset| -> Vec<_> {
        d.columns()
            .iter()
            .map(|c| (c.name.clone(), c.kind))
            .collect()
    };
    assert_eq!(kinds(blocks), kinds(whole));
    for (a, b) in blocks
        .frame()
        .unwrap()
        .columns()
        .iter()
        .zip(whole.frame().unwrap().columns())
    {
        assert_eq!(a.dtype().to_string(), b.dtype().to_string(), "{}", a.name());
        let text = |c: &Column| {
            if c.dtype().is_categorical() {
                c.cast(&DataType::String).unwrap()
            } else {
                c.clone()
            }
        };
        let (a, b) = (text(a), text(b));
        assert!(
            a.as_materialized_series()
                .equals_missing(b.as_materialized_series()),
            "column {} differs:\n{a:?}\n{b:?}",
            a.name()
        );
    }
}

/// The first value of `column` as an `i64` (`None` for a null).
pub fn first_i64(frame: &DataFrame, column: &str) -> Option<i64> {
    frame
        .column(column)
        .unwrap()
        .get(0)
        .unwrap()
        .extract::<i64>()
}

/// The first value of `column` as an `f64` (`None` for a null).
pub fn first_f64(frame: &DataFrame, column: &str) -> Option<f64> {
    frame
        .column(column)
        .unwrap()
        .get(0)
        .unwrap()
        .extract::<f64>()
}
