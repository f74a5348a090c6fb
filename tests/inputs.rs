//! Every input format, file sets and scan mode answer as the CSV they were
//! written from: random queries against the naive row-by-row oracle. And a
//! file added, removed or changed is never answered from old entries.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polars::prelude::*;
use polars_query_cache::{CachedQuery, Dataset, Error, Format, LoadOptions, LoadedFrom, Query};
use proptest::prelude::*;

use crate::common::{self, Row};

/// The test table written as `name.<ext>` in every format, and as three
/// files of each under `sets/<format>/part-<i>.<ext>`.
struct Written {
    dir: tempfile::TempDir,
}

const ROWS: usize = 300;

fn write(frame: &DataFrame, format: Format, path: &Path) {
    let mut frame = frame.clone();
    let mut file = std::fs::File::create(path).unwrap();
    match format {
        Format::Csv => CsvWriter::new(&mut file).finish(&mut frame).unwrap(),
        Format::Parquet => {
            ParquetWriter::new(&mut file).finish(&mut frame).unwrap();
        }
        Format::Ipc => IpcWriter::new(&mut file).finish(&mut frame).unwrap(),
        Format::NdJson => JsonWriter::new(&mut file)
            .with_json_format(JsonFormat::JsonLines)
            .finish(&mut frame)
            .unwrap(),
        _ => unreachable!("every format is listed"),
    }
}

fn extension(format: Format) -> &'static str {
    format.extensions()[0]
}

/// The rows, their files, and a cache on each way of reading them.
type Fixture = (Vec<Row>, Written, Vec<(String, CachedQuery)>);

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rows = common::rows(ROWS, 23);
        let frame = common::frame(&rows);
        let written = Written {
            dir: tempfile::tempdir().unwrap(),
        };
        let root = written.dir.path();
        let mut caches = Vec::new();
        for format in Format::ALL {
            let ext = extension(format);
            let whole = root.join(format!("table.{ext}"));
            write(&frame, format, &whole);
            let set = root.join("sets").join(ext);
            std::fs::create_dir_all(&set).unwrap();
            for (i, (offset, len)) in [(0, 100), (100, 150), (250, 50)].into_iter().enumerate() {
                write(
                    &frame.slice(offset, len),
                    format,
                    &set.join(format!("part-{i}.{ext}")),
                );
            }
            let glob = set.join(format!("*.{ext}"));
            for (label, path, scan) in [
                (format!("{format}"), whole.clone(), false),
                (format!("{format} directory"), set.clone(), false),
                (format!("{format} glob, scanned"), glob, true),
                (format!("{format}, scanned"), whole, true),
            ] {
                let options = LoadOptions::default().with_scan(scan);
                let cache = CachedQuery::builder()
                    .max_bytes(256 << 10)
                    .load_options(options)
                    .build_from_path(&path)
                    .unwrap_or_else(|e| panic!("{label}: {e}"));
                assert_eq!(cache.dataset().rows(), ROWS, "{label}");
                assert_eq!(cache.dataset().is_scanned(), scan, "{label}");
                caches.push((label, cache));
            }
        }
        (rows, written, caches)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_format_set_and_scan_answers_as_the_oracle(q in crate::differential::query()) {
        let (rows, _, caches) = fixture();
        let expected = common::oracle(rows, &q);
        for (label, cache) in caches {
            let context = format!("{label}: {}", q.to_json());
            let answer = cache.get(&q).unwrap_or_else(|e| panic!("{context}: {e}"));
            common::assert_same(&common::frame_cells(&answer), &expected, &context);
        }
    }
}

#[test]
fn loaded_formats_have_the_csv_loads_types() {
    let (_, written, _) = fixture();
    let root = written.dir.path();
    let csv = Dataset::from_path(root.join("table.csv"), &LoadOptions::default()).unwrap();
    for format in [Format::Parquet, Format::Ipc, Format::NdJson] {
        let path = root.join(format!("table.{}", extension(format)));
        let other = Dataset::from_path(&path, &LoadOptions::default()).unwrap();
        let kinds = |d: &Dataset| -> Vec<_> {
            d.columns()
                .iter()
                .map(|c| (c.name.clone(), c.kind, c.dtype.to_string()))
                .collect()
        };
        assert_eq!(kinds(&other), kinds(&csv), "{format}");
        assert_ne!(other.fingerprint(), csv.fingerprint(), "{format}");
        // The same bytes read again: the same fingerprint.
        let again = Dataset::from_path(&path, &LoadOptions::default()).unwrap();
        assert_eq!(again.fingerprint(), other.fingerprint(), "{format}");
        assert_eq!(other.loaded_from(), LoadedFrom::Parsed);
    }
}

/// A copy of `format`'s set of three files in a new directory.
fn copied_set(format: Format) -> (tempfile::TempDir, PathBuf) {
    let (_, written, _) = fixture();
    let ext = extension(format);
    let from = written.dir.path().join("sets").join(ext);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let name = format!("part-{i}.{ext}");
        std::fs::copy(from.join(&name), dir.path().join(&name)).unwrap();
    }
    let path = dir.path().to_owned();
    (dir, path)
}

#[test]
fn a_file_added_removed_or_changed_is_a_new_version_never_answered_from_old_entries() {
    let (_, written, _) = fixture();
    for format in [Format::Csv, Format::Parquet] {
        for scan in [false, true] {
            let ext = extension(format);
            let (_dir, path) = copied_set(format);
            let cache = CachedQuery::builder()
                .load_options(LoadOptions::default().with_scan(scan))
                .build_from_path(&path)
                .unwrap();
            let count = Query::new().len();
            let rows_now = |cache: &CachedQuery| -> i64 {
                let answer = cache.get(&count).unwrap();
                common::first_i64(&answer, "len").unwrap()
            };
            assert_eq!(rows_now(&cache), ROWS as i64);
            let first = cache.dataset().fingerprint();

            // Removed: the 150 rows of part 1.
            std::fs::remove_file(path.join(format!("part-1.{ext}"))).unwrap();
            assert!(cache.refresh().unwrap().changed(), "{format} scan={scan}");
            assert_eq!(rows_now(&cache), 150, "{format} scan={scan}");
            let removed = cache.dataset().fingerprint();

            // Changed: part 0 replaced by a copy of part 2 (50 rows, the
            // same dictionary: a scan needs one).
            std::fs::copy(
                path.join(format!("part-2.{ext}")),
                path.join(format!("part-0.{ext}")),
            )
            .unwrap();
            assert!(cache.refresh().unwrap().changed());
            assert_eq!(rows_now(&cache), 100, "{format} scan={scan}");

            // Added back: the first version's files again, the first
            // version's fingerprint.
            let from = written.dir.path().join("sets").join(ext);
            for i in [0, 1] {
                let name = format!("part-{i}.{ext}");
                std::fs::copy(from.join(&name), path.join(&name)).unwrap();
            }
            cache.refresh().unwrap();
            assert_eq!(rows_now(&cache), ROWS as i64, "{format} scan={scan}");
            assert_eq!(cache.dataset().fingerprint(), first);
            assert_ne!(removed, first);
        }
    }
}

#[test]
fn a_scanned_file_changed_under_the_cache_is_refused_until_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,v\na,1\nb,2\n").unwrap();
    let cache = CachedQuery::builder()
        .load_options(LoadOptions::default().with_scan(true))
        .build_from_path(&path)
        .unwrap();
    let sum = Query::new().sum("v");
    assert_eq!(
        common::first_i64(&cache.get(&sum).unwrap(), "sum_v"),
        Some(3)
    );
    // Same length, other content: the file's stamp tells.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, "g,v\na,5\nb,2\n").unwrap();
    let other = Query::new().group_by(["g"]).sum("v");
    match cache.get(&other) {
        Err(Error::DataChanged { path: changed }) => assert_eq!(changed, path),
        other => panic!("expected DataChanged, got {other:?}"),
    }
    // The answer cached before the change is the old version's: served,
    // as it is its version's answer, until the refresh drops it.
    assert!(cache.refresh().unwrap().changed());
    assert_eq!(
        common::first_i64(&cache.get(&sum).unwrap(), "sum_v"),
        Some(7)
    );
}

#[test]
fn files_of_one_set_must_share_a_schema_and_a_format() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "g,v\na,1\n").unwrap();
    std::fs::write(dir.path().join("b.csv"), "g,w\nb,2\n").unwrap();
    for scan in [false, true] {
        let err =
            Dataset::from_path(dir.path(), &LoadOptions::default().with_scan(scan)).unwrap_err();
        match &err {
            Error::SchemaMismatch { path, column, .. } => {
                assert_eq!(path, &dir.path().join("b.csv"), "scan={scan}");
                assert_eq!(column, "v", "scan={scan}");
            }
            other => panic!("scan={scan}: {other}"),
        }
        assert!(err.is_user_error());
        assert!(
            err.to_string().contains("b.csv") && err.to_string().contains("`w`"),
            "{err}"
        );
    }
    // Parquet files whose column types differ.
    let pq = tempfile::tempdir().unwrap();
    write(
        &df!("g" => ["a"], "v" => [1i64]).unwrap(),
        Format::Parquet,
        &pq.path().join("a.parquet"),
    );
    write(
        &df!("g" => ["b"], "v" => [1.5f64]).unwrap(),
        Format::Parquet,
        &pq.path().join("b.parquet"),
    );
    for scan in [false, true] {
        let err =
            Dataset::from_path(pq.path(), &LoadOptions::default().with_scan(scan)).unwrap_err();
        assert!(
            matches!(&err, Error::SchemaMismatch { column, .. } if column == "v"),
            "scan={scan}: {err}"
        );
        assert!(
            err.to_string().contains("f64") || err.to_string().contains("Float64"),
            "{err}"
        );
    }
    // Two formats in one directory.
    std::fs::write(pq.path().join("c.csv"), "g,v\nc,1\n").unwrap();
    let err = Dataset::from_path(pq.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    // A glob that matches nothing.
    let err = Dataset::from_path(pq.path().join("*.ndjson"), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
}

#[test]
fn damaged_files_of_every_format_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, written, _) = fixture();
    for format in [Format::Parquet, Format::Ipc, Format::NdJson] {
        let ext = extension(format);
        let good = std::fs::read(written.dir.path().join(format!("table.{ext}"))).unwrap();
        let cut = dir.path().join(format!("cut.{ext}"));
        // Cut inside a record: past the middle, just after a `:` (for
        // NDJSON, a cut after a whole line is a shorter file, not a damaged one).
        let at = good.len() / 2
            + good[good.len() / 2..]
                .iter()
                .position(|&b| b == b':')
                .unwrap()
            + 1;
        std::fs::write(&cut, &good[..at]).unwrap();
        let garbage = dir.path().join(format!("garbage.{ext}"));
        std::fs::write(&garbage, b"\x00\x01not this format at all\xff\xfe").unwrap();
        for path in [&cut, &garbage] {
            for scan in [false, true] {
                // Opening a scan reads the schema and counts the rows: a
                // damaged file is found then, not by the first query.
                match Dataset::from_path(path, &LoadOptions::default().with_scan(scan)) {
                    Err(e @ (Error::MalformedFile { .. } | Error::MalformedCsv { .. })) => {
                        assert!(e.is_user_error());
                        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
                    }
                    Err(other) => panic!("{format} {} scan={scan}: {other:?}", path.display()),
                    Ok(_) => panic!("{format} {} scan={scan}: loaded", path.display()),
                }
            }
        }
    }
}

#[test]
fn an_empty_first_file_of_a_csv_set_is_refused_not_read_around() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "").unwrap();
    std::fs::write(dir.path().join("b.csv"), "x,y\n1,2\n3,4\n").unwrap();
    let err = Dataset::from_path(dir.path(), &LoadOptions::default()).unwrap_err();
    match &err {
        Error::MalformedCsv { path, .. } => assert_eq!(path, &dir.path().join("a.csv")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn forced_types_hold_in_scan_mode_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zips.csv");
    std::fs::write(&path, "zip,n\n02134,1\n10001,2\n02134,3\n").unwrap();
    for scan in [false, true] {
        let options = LoadOptions::default()
            .with_scan(scan)
            .with_column_type("zip", polars_query_cache::ColumnType::Str);
        let cache = CachedQuery::builder()
            .load_options(options)
            .build_from_path(&path)
            .unwrap();
        let answer = cache
            .get(&Query::new().eq("zip", "02134").group_by(["zip"]).sum("n"))
            .unwrap();
        let zip = answer
            .column("zip")
            .unwrap()
            .cast(&DataType::String)
            .unwrap();
        assert_eq!(zip.str().unwrap().get(0), Some("02134"), "scan={scan}");
        let sum = common::first_i64(&answer, "sum_n");
        assert_eq!(sum, Some(4), "scan={scan}");
    }
}

#[test]
fn file_names_are_names_not_patterns() {
    // `b[1].csv` is that file: a glob would read `b1.csv` in its place.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b1.csv"), "g,v\na,1\n").unwrap();
    std::fs::write(dir.path().join("b[1].csv"), "g,v\nb,100\n").unwrap();
    for scan in [false, true] {
        let cache = CachedQuery::builder()
            .load_options(LoadOptions::default().with_scan(scan))
            .build_from_path(dir.path())
            .unwrap();
        let sum = cache.get(&Query::new().sum("v")).unwrap();
        assert_eq!(common::first_i64(&sum, "sum_v"), Some(101), "scan={scan}");
    }
}

#[test]
fn a_scanned_file_replaced_by_a_copy_with_its_size_and_time_is_still_seen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,v\na,1\n").unwrap();
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    let cache = CachedQuery::builder()
        .load_options(LoadOptions::default().with_scan(true))
        .build_from_path(&path)
        .unwrap();
    // Another file, the same length, given the old modification time
    // (as `cp -p` or `rsync -a` would), moved over the original.
    let other = dir.path().join("t.tmp");
    std::fs::write(&other, "g,v\na,7\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&other)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    std::fs::rename(&other, &path).unwrap();
    assert!(matches!(
        cache.get(&Query::new().sum("v")),
        Err(Error::DataChanged { .. })
    ));
}

#[test]
fn ndjson_numbers_are_never_cut_to_integers() {
    let dir = tempfile::tempdir().unwrap();
    // A float far past the first rows of a column that starts integral.
    let mut lines: String = (0..200)
        .map(|i| format!("{{\"g\":\"a\",\"v\":{i}}}\n"))
        .collect();
    lines.push_str("{\"g\":\"b\",\"v\":12.5}\n");
    let one = dir.path().join("one.ndjson");
    std::fs::write(&one, &lines).unwrap();
    let options = LoadOptions::default().with_infer_schema_rows(Some(10));
    for scan in [false, true] {
        let cache = CachedQuery::builder()
            .load_options(options.clone().with_scan(scan))
            .build_from_path(&one)
            .unwrap();
        let sum = cache.get(&Query::new().eq("g", "b").sum("v")).unwrap();
        assert_eq!(common::first_f64(&sum, "sum_v"), Some(12.5), "scan={scan}");
    }
    // A later file of a set with a float where the first has integers.
    let set = dir.path().join("set");
    std::fs::create_dir(&set).unwrap();
    std::fs::write(set.join("1.ndjson"), "{\"g\":\"a\",\"v\":1}\n").unwrap();
    std::fs::write(set.join("2.ndjson"), "{\"g\":\"b\",\"v\":2.5}\n").unwrap();
    let err = Dataset::from_path(&set, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::SchemaMismatch { column, .. } if column == "v"),
        "{err}"
    );
    // Keys in another order, and one missing: the same columns.
    std::fs::write(set.join("2.ndjson"), "{\"v\":2}\n{\"g\":\"c\",\"v\":3}\n").unwrap();
    let dataset = Dataset::from_path(&set, &LoadOptions::default()).unwrap();
    assert_eq!(dataset.rows(), 3);
    let g = dataset
        .frame()
        .unwrap()
        .column("g")
        .unwrap()
        .cast(&DataType::String)
        .unwrap();
    assert_eq!(
        g.str().unwrap().iter().collect::<Vec<_>>(),
        [Some("a"), None, Some("c")]
    );
}

#[test]
fn a_forced_integer_type_never_drops_a_fraction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write(&df!("v" => [1.0f64, 12.5]).unwrap(), Format::Parquet, &path);
    let options = LoadOptions::default().with_column_type("v", polars_query_cache::ColumnType::Int);
    let err = Dataset::from_path(&path, &options).unwrap_err();
    assert!(matches!(err, Error::MalformedFile { .. }), "{err}");
    write(&df!("v" => [1.0f64, 12.0]).unwrap(), Format::Parquet, &path);
    let dataset = Dataset::from_path(&path, &options).unwrap();
    assert!(
        dataset
            .frame()
            .unwrap()
            .column("v")
            .unwrap()
            .dtype()
            .is_integer()
    );
}

#[test]
fn the_same_bytes_read_in_two_formats_are_two_versions() {
    let dir = tempfile::tempdir().unwrap();
    // Lines that are an NDJSON table, and a CSV one without quoting.
    let path = dir.path().join("t.ndjson");
    std::fs::write(&path, b"{\"a\":1}\n{\"a\":2}\n").unwrap();
    let ndjson = Dataset::from_path(&path, &LoadOptions::default()).unwrap();
    let csv_options = LoadOptions::default()
        .with_format(Format::Csv)
        .with_quote_char(None);
    let as_csv = Dataset::from_path(&path, &csv_options).unwrap();
    assert_eq!((ndjson.rows(), as_csv.rows()), (2, 1));
    assert_ne!(as_csv.fingerprint(), ndjson.fingerprint());
}

#[test]
fn a_load_reports_its_progress_up_to_every_byte() {
    let (_, written, _) = fixture();
    for name in ["table.csv", "sets/parquet"] {
        let path = written.dir.path().join(name);
        let seen = std::sync::Mutex::new(Vec::new());
        let options = LoadOptions::default()
            .with_block_bytes(1 << 10)
            .with_infer_schema_rows(Some(10));
        let dataset = Dataset::from_path_with_progress(&path, &options, None, &|done, total| {
            seen.lock().unwrap().push((done, total));
        })
        .unwrap();
        let seen = seen.into_inner().unwrap();
        let total: u64 = dataset
            .files()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        assert!(seen.len() >= 3, "{name}: {seen:?}");
        assert!(
            seen.windows(2).all(|w| w[0].0 <= w[1].0),
            "{name}: {seen:?}"
        );
        assert!(
            seen.iter().all(|&(_, t)| t == Some(total)),
            "{name}: {seen:?}"
        );
        assert_eq!(seen.last().unwrap().0, total, "{name}");
    }
}

#[test]
fn a_scanned_set_refuses_what_a_scan_cannot_read_right() {
    let dir = tempfile::tempdir().unwrap();
    let scan = LoadOptions::default().with_scan(true);
    // Parquet files with their own dictionaries.
    let cats = dir.path().join("cats");
    std::fs::create_dir(&cats).unwrap();
    let rows = common::rows(20, 4);
    write(
        &common::frame(&rows[..10]),
        Format::Parquet,
        &cats.join("a.parquet"),
    );
    write(
        &common::frame(&rows[10..]),
        Format::Parquet,
        &cats.join("b.parquet"),
    );
    let err = Dataset::from_path(&cats, &scan).unwrap_err();
    assert!(
        matches!(&err, Error::SchemaMismatch { column, .. } if column == "cat"),
        "{err}"
    );
    assert!(err.to_string().contains("into memory"), "{err}");
    // In memory the same set loads, one dictionary for both.
    assert_eq!(
        Dataset::from_path(&cats, &LoadOptions::default())
            .unwrap()
            .rows(),
        20
    );
    // NDJSON: a float where the first file has integers.
    let json = dir.path().join("json");
    std::fs::create_dir(&json).unwrap();
    std::fs::write(json.join("1.ndjson"), "{\"q\":1}\n").unwrap();
    std::fs::write(json.join("2.ndjson"), "{\"q\":2.5}\n").unwrap();
    let err = Dataset::from_path(&json, &scan).unwrap_err();
    assert!(
        matches!(&err, Error::SchemaMismatch { column, .. } if column == "q"),
        "{err}"
    );
    // And integers where the first has floats: read as floats.
    std::fs::write(json.join("1.ndjson"), "{\"q\":1.5}\n").unwrap();
    std::fs::write(json.join("2.ndjson"), "{\"q\":2}\n").unwrap();
    let cache = CachedQuery::builder()
        .load_options(scan.clone())
        .build_from_path(&json)
        .unwrap();
    let sum = cache.get(&Query::new().sum("q")).unwrap();
    assert_eq!(common::first_f64(&sum, "sum_q"), Some(3.5));
    // A float column forced to integers, with a fraction.
    let pq = dir.path().join("f.parquet");
    write(&df!("v" => [1.0f64, 12.5]).unwrap(), Format::Parquet, &pq);
    let forced = scan
        .clone()
        .with_column_type("v", polars_query_cache::ColumnType::Int);
    let err = Dataset::from_path(&pq, &forced).unwrap_err();
    assert!(matches!(err, Error::MalformedFile { .. }), "{err}");
}

#[test]
fn a_touched_scanned_file_is_answered_again_after_a_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,v\na,1\n").unwrap();
    let cache = CachedQuery::builder()
        .load_options(LoadOptions::default().with_scan(true))
        .build_from_path(&path)
        .unwrap();
    let before = cache.dataset().fingerprint();
    // The same bytes again: new stamps, the same content.
    std::thread::sleep(std::time::Duration::from_millis(10));
    std::fs::write(&path, "g,v\na,1\n").unwrap();
    assert!(matches!(
        cache.get(&Query::new().sum("v")),
        Err(Error::DataChanged { .. })
    ));
    assert!(!cache.refresh().unwrap().changed());
    assert_eq!(cache.dataset().fingerprint(), before);
    assert_eq!(
        common::first_i64(&cache.get(&Query::new().sum("v")).unwrap(), "sum_v"),
        Some(1)
    );
}

#[test]
fn a_file_read_two_ways_keeps_both_ways_entries_on_disk() {
    // A server loads the file, a `pqc query --scan` shares its cache
    // directory: the scan's version is another source, not a newer
    // version of the server's, and leaves its entries alone.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,v\na,1\nb,2\n").unwrap();
    let cache_dir = dir.path().join("cache");
    let on = |scan: bool| {
        CachedQuery::builder()
            .disk_dir(&cache_dir)
            .load_options(LoadOptions::default().with_scan(scan))
            .build_from_path(&path)
            .unwrap()
    };
    let q = Query::new().group_by(["g"]).sum("v");
    on(false).get(&q).unwrap();
    on(true).get(&q).unwrap();
    let again = on(false).get(&q).unwrap();
    assert_eq!(again.source(), polars_query_cache::Source::Disk);
    let again = on(true).get(&q).unwrap();
    assert_eq!(again.source(), polars_query_cache::Source::Disk);
}

#[test]
fn ndjson_nested_past_any_table_is_refused_before_polars_reads_it() {
    // A hundred thousand brackets overflowed Polars' recursive reader's
    // stack: an abort, not an error.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.ndjson");
    let depth = 100_000;
    let line = format!("{{\"a\":{}{}}}\n", "[".repeat(depth), "]".repeat(depth));
    std::fs::write(&path, format!("{{\"a\":1}}\n{line}")).unwrap();
    for scan in [false, true] {
        let err = Dataset::from_path(&path, &LoadOptions::default().with_scan(scan)).unwrap_err();
        match &err {
            Error::MalformedFile { message, .. } => assert!(message.contains("line 2"), "{err}"),
            other => panic!("scan={scan}: {other:?}"),
        }
    }
}
