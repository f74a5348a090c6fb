//! Appends: after rows are appended to a CSV file (or files added to a set),
//! a refresh reads only the new rows, the answers equal a full reload's
//! (the same fingerprint, the same data, the oracle's answers), and the
//! declared roll-ups were merged, not computed again: the statistics say so.

use std::io::Write;
use std::path::Path;

use polars::prelude::*;
use polars_query_cache::{
    CachedQuery, Dataset, DeriveMode, Format, LoadOptions, LoadedFrom, Query,
};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use crate::common::{self, Row};

fn csv_of(rows: &[Row], header: bool) -> Vec<u8> {
    let mut frame = common::frame(rows);
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_header(header)
        .finish(&mut frame)
        .unwrap();
    out
}

fn append(path: &Path, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
    file.sync_all().unwrap();
}

/// Roll-ups of the dashboard kind: every aggregate merges; and one with a
/// mean alone, which does not (its sum and count are not kept).
fn rollups() -> [Query; 3] {
    [
        Query::new()
            .group_by(["cat", "k"])
            .sum("x")
            .len()
            .min("y")
            .max("y")
            .count("d"),
        Query::new().group_by(["d"]).sum("y").sum("x"),
        Query::new().group_by(["b"]).mean("y"),
    ]
}

/// Options whose type inference reads the first 50 rows: appends are read
/// alone only to files that held all the rows inference reads.
fn options() -> LoadOptions {
    LoadOptions::default().with_infer_schema_rows(Some(50))
}

fn cache_on(path: &Path, mode: DeriveMode) -> CachedQuery {
    CachedQuery::builder()
        .load_options(options())
        .derive(mode)
        .rollups(rollups())
        .build_from_path(path)
        .unwrap()
}

/// Random queries answer as the oracle over `rows`.
fn answers_as_the_oracle(cache: &CachedQuery, rows: &[Row]) {
    let mut runner = TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(&crate::differential::query(), |q| {
            let expected = common::oracle(rows, &q);
            let answer = cache.get(&q).unwrap();
            common::assert_same(&common::frame_cells(&answer), &expected, &q.to_json());
            Ok(())
        })
        .unwrap();
}

#[test]
fn appended_rows_are_read_alone_and_the_rollups_merged() {
    let rows = common::rows(400, 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv_of(&rows[..300], true)).unwrap();
    let cache = cache_on(&path, DeriveMode::Approximate);
    // Answers of the old version, in memory.
    answers_as_the_oracle(&cache, &rows[..300]);
    let old = cache.dataset().fingerprint();

    append(&path, &csv_of(&rows[300..], false));
    let outcome = cache.refresh().unwrap();
    assert!(outcome.changed());
    assert_eq!(outcome.appended_rows, Some(100));
    let info = cache.cache_info();
    assert_eq!(
        (info.appends, info.rollups_merged, info.rollups_rebuilt),
        (1, 2, 1)
    );
    assert_eq!(cache.dataset().loaded_from(), LoadedFrom::Appended);

    // The same version a full load gives: fingerprint, types and values.
    let full = Dataset::from_path(&path, &options()).unwrap();
    common::assert_same_data(&cache.dataset(), &full);
    assert_ne!(cache.dataset().fingerprint(), old);

    // The merged roll-ups equal the ones a full load computes, and answer
    // their own query without a computation.
    let reloaded = cache_on(&path, DeriveMode::Approximate);
    let before = cache.cache_info().computations;
    for q in rollups() {
        let merged = cache.get(&q).unwrap();
        let computed = reloaded.get(&q).unwrap();
        common::assert_same(
            &common::frame_cells(&merged),
            &common::frame_cells(&computed),
            &q.to_json(),
        );
        common::assert_same(
            &common::frame_cells(&merged),
            &common::oracle(&rows, &q),
            &q.to_json(),
        );
    }
    assert_eq!(cache.cache_info().computations, before);
    // Every old entry is gone: random queries answer as the oracle over
    // all 400 rows.
    answers_as_the_oracle(&cache, &rows);
}

#[test]
fn an_exact_cache_merges_only_what_stays_exact() {
    let rows = common::rows(200, 8);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv_of(&rows[..150], true)).unwrap();
    let cache = cache_on(&path, DeriveMode::Exact);
    append(&path, &csv_of(&rows[150..], false));
    assert_eq!(cache.refresh().unwrap().appended_rows, Some(50));
    // The float sum (`sum(y)`) would be summed in another order: rebuilt.
    let info = cache.cache_info();
    assert_eq!((info.rollups_merged, info.rollups_rebuilt), (1, 2));
    for q in rollups() {
        let merged = cache.get(&q).unwrap();
        let computed = cache.get_uncached(&q).unwrap();
        assert!(merged.equals_missing(&computed), "{}", q.to_json());
    }
}

#[test]
fn new_categories_and_wider_integers_in_the_appended_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,n,v\na,1,1.5\nb,2,2.5\n").unwrap();
    let two_rows = LoadOptions::default().with_infer_schema_rows(Some(2));
    let cache = CachedQuery::builder()
        .load_options(two_rows.clone())
        .rollup(Query::new().group_by(["g"]).sum("n").max("n").len())
        .build_from_path(&path)
        .unwrap();
    let dtype = |cache: &CachedQuery| {
        cache
            .dataset()
            .frame()
            .unwrap()
            .column("n")
            .unwrap()
            .dtype()
            .clone()
    };
    assert_eq!(dtype(&cache), DataType::Int32);
    // A value past i32 and a category never seen.
    append(&path, b"c,5000000000,3.5\na,3,\n");
    assert_eq!(cache.refresh().unwrap().appended_rows, Some(2));
    assert_eq!(dtype(&cache), DataType::Int64);
    let full = Dataset::from_path(&path, &two_rows).unwrap();
    common::assert_same_data(&cache.dataset(), &full);
    let answer = cache
        .get(&Query::new().group_by(["g"]).sum("n").max("n").len())
        .unwrap();
    let g: Vec<Option<&str>> = answer.column("g").unwrap().str().unwrap().iter().collect();
    let sums: Vec<Option<i64>> = answer
        .column("sum_n")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(g, [Some("a"), Some("b"), Some("c")]);
    assert_eq!(sums, [Some(4), Some(2), Some(5_000_000_000)]);
    // The roll-up's types changed with the column: computed again.
    assert_eq!(cache.cache_info().rollups_rebuilt, 1);
}

#[test]
fn rows_appended_to_a_file_shorter_than_the_inference_window_are_read_with_the_whole() {
    // A header alone types every column text; the rows appended decide.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "day,amount\n").unwrap();
    let cache = CachedQuery::from_csv(&path).unwrap();
    append(&path, b"2024-01-01,10\n2024-01-02,9\n");
    let outcome = cache.refresh().unwrap();
    assert_eq!(outcome.appended_rows, None);
    let full = Dataset::from_path(&path, &LoadOptions::default()).unwrap();
    common::assert_same_data(&cache.dataset(), &full);
    let kind = |name: &str| {
        cache
            .dataset()
            .columns()
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .kind
    };
    assert_eq!(kind("day"), polars_query_cache::ColumnKind::Date);
    assert_eq!(kind("amount"), polars_query_cache::ColumnKind::Int);
    let max = cache.get(&Query::new().max("amount")).unwrap();
    assert_eq!(common::first_i64(&max, "max_amount"), Some(10));
}

#[test]
fn a_quoted_newline_in_the_old_last_record_is_read_as_a_whole_load_reads_it() {
    // The old file ends with a record whose quoted field holds a newline:
    // the file's last newline ends that record, outside the quotes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,note\na,\"x\ny\"\n").unwrap();
    let options = LoadOptions::default().with_infer_schema_rows(Some(1));
    let cache = CachedQuery::builder()
        .load_options(options.clone())
        .build_from_path(&path)
        .unwrap();
    append(&path, b"b,\"z\nw\"\nc,v\n");
    assert_eq!(cache.refresh().unwrap().appended_rows, Some(2));
    let full = Dataset::from_path(&path, &options).unwrap();
    common::assert_same_data(&cache.dataset(), &full);
    assert_eq!(full.rows(), 3);
}

#[test]
fn a_touched_but_unchanged_file_is_not_parsed_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,v\na,1\n").unwrap();
    let cache = CachedQuery::from_csv(&path).unwrap();
    let before = cache.dataset();
    // The same bytes written again: a new modification time.
    std::fs::write(&path, "g,v\na,1\n").unwrap();
    assert!(!cache.refresh().unwrap().changed());
    assert!(
        std::sync::Arc::ptr_eq(&before, &cache.dataset()),
        "parsed again"
    );
}

#[test]
fn a_file_that_changed_rather_than_grew_is_reloaded_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,v\na,1\nb,2\n").unwrap();
    let cache = CachedQuery::from_csv(&path).unwrap();
    // An old byte changed and rows added: not an append.
    std::fs::write(&path, "g,v\na,9\nb,2\nc,3\n").unwrap();
    let outcome = cache.refresh().unwrap();
    assert!(outcome.changed());
    assert_eq!(outcome.appended_rows, None);
    let total = cache.get(&Query::new().sum("v")).unwrap();
    assert_eq!(common::first_i64(&total, "sum_v"), Some(14));

    // A last line without its newline may have been cut short: whatever
    // follows is read whole.
    std::fs::write(&path, "g,v\na,1\nb,2").unwrap();
    cache.refresh().unwrap();
    append(&path, b"5\nc,3\n");
    let outcome = cache.refresh().unwrap();
    assert_eq!(outcome.appended_rows, None);
    let total = cache.get(&Query::new().sum("v")).unwrap();
    assert_eq!(common::first_i64(&total, "sum_v"), Some(29));

    // Unchanged: nothing to do.
    let outcome = cache.refresh().unwrap();
    assert!(!outcome.changed());
    assert_eq!(cache.cache_info().appends, 0);
}

#[test]
fn files_added_to_a_set_are_read_alone() {
    let rows = common::rows(300, 13);
    for format in [Format::Csv, Format::Parquet, Format::Ipc, Format::NdJson] {
        let dir = tempfile::tempdir().unwrap();
        let ext = format.extensions()[0];
        let part = |i: usize| dir.path().join(format!("day-{i}.{ext}"));
        let write = |i: usize, rows: &[Row]| {
            let mut frame = common::frame(rows);
            let mut file = std::fs::File::create(part(i)).unwrap();
            match format {
                Format::Csv => CsvWriter::new(&mut file).finish(&mut frame).unwrap(),
                Format::Parquet => drop(ParquetWriter::new(&mut file).finish(&mut frame).unwrap()),
                Format::Ipc => IpcWriter::new(&mut file).finish(&mut frame).unwrap(),
                _ => JsonWriter::new(&mut file)
                    .with_json_format(JsonFormat::JsonLines)
                    .finish(&mut frame)
                    .unwrap(),
            }
        };
        write(1, &rows[..100]);
        write(2, &rows[100..200]);
        let cache = CachedQuery::builder()
            .rollups(rollups())
            .build_from_path(dir.path())
            .unwrap();
        write(3, &rows[200..]);
        let outcome = cache.refresh().unwrap();
        assert_eq!(outcome.appended_rows, Some(100), "{format}");
        assert_eq!(cache.cache_info().rollups_merged, 2, "{format}");
        let full = Dataset::from_path(dir.path(), &LoadOptions::default()).unwrap();
        common::assert_same_data(&cache.dataset(), &full);
        answers_as_the_oracle(&cache, &rows);

        // A file that sorts before the others: its rows would come first
        // in a full load, so it is one.
        write(0, &rows[..10]);
        let outcome = cache.refresh().unwrap();
        assert_eq!(outcome.appended_rows, None, "{format}");
        assert_eq!(cache.dataset().rows(), 310);
    }
}

#[test]
fn an_added_file_that_would_not_load_with_the_set_is_refused_as_a_whole_load_refuses_it() {
    // Parquet files carry their types: an added file whose column is
    // another integer width is a schema error, appended or loaded whole.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, mut frame: DataFrame| {
        let file = std::fs::File::create(dir.path().join(name)).unwrap();
        ParquetWriter::new(file).finish(&mut frame).unwrap();
    };
    write("1.parquet", df!("g" => ["a"], "v" => [1i64]).unwrap());
    let cache = CachedQuery::builder().build_from_path(dir.path()).unwrap();
    write("2.parquet", df!("g" => ["b"], "v" => [2i32]).unwrap());
    let err = cache.refresh().unwrap_err();
    assert!(
        matches!(&err, polars_query_cache::Error::SchemaMismatch { column, .. } if column == "v"),
        "{err}"
    );
    let whole = Dataset::from_path(dir.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(
        whole,
        polars_query_cache::Error::SchemaMismatch { .. }
    ));
    assert_eq!(cache.cache_info().refresh_errors, 1);
    assert_eq!(cache.dataset().rows(), 1);
}

#[test]
fn a_header_that_differs_in_an_added_file_is_a_schema_error_and_the_old_version_stays() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1.csv"), "g,v\na,1\n").unwrap();
    let cache = CachedQuery::from_csv(dir.path().join("1.csv")).unwrap();
    drop(cache);
    let cache = CachedQuery::builder().build_from_path(dir.path()).unwrap();
    std::fs::write(dir.path().join("2.csv"), "g,value\nb,2\n").unwrap();
    let err = cache.refresh().unwrap_err();
    assert!(
        matches!(&err, polars_query_cache::Error::SchemaMismatch { column, .. } if column == "v"),
        "{err}"
    );
    assert!(
        err.to_string().contains("1.csv"),
        "names the first file: {err}"
    );
    assert_eq!(cache.dataset().rows(), 1);
    assert!(cache.get(&Query::new().len()).is_ok());
}

#[cfg(feature = "watch")]
#[test]
fn a_watched_file_is_refreshed_after_an_append() {
    use std::sync::Arc;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,v\na,1\n").unwrap();
    let one_row = LoadOptions::default().with_infer_schema_rows(Some(1));
    let cache = Arc::new(
        CachedQuery::builder()
            .load_options(one_row)
            .build_from_path(&path)
            .unwrap(),
    );
    let _watcher = cache.watch(Duration::from_millis(100)).unwrap();
    append(&path, b"b,2\n");
    assert!(
        common::eventually(Duration::from_secs(10), || cache.dataset().rows() == 2),
        "the append was not picked up"
    );
    assert_eq!(cache.cache_info().appends, 1);
    // A burst of appends is debounced into few refreshes, and the last
    // one sees them all.
    for i in 0..20 {
        append(&path, format!("c,{i}\n").as_bytes());
    }
    assert!(common::eventually(Duration::from_secs(10), || cache
        .dataset()
        .rows()
        == 22));
    assert!(
        cache.cache_info().appends < 20,
        "{}",
        cache.cache_info().appends
    );
    // A file replaced by another (an editor's save, `mv`): reloaded whole.
    let other = dir.path().join("new.csv");
    std::fs::write(&other, "g,v\nz,9\n").unwrap();
    std::fs::rename(&other, &path).unwrap();
    assert!(common::eventually(Duration::from_secs(10), || cache
        .dataset()
        .rows()
        == 1));
}

#[cfg(feature = "watch")]
#[test]
fn a_watched_directory_sees_a_file_added() {
    use std::sync::Arc;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1.csv"), "g,v\na,1\n").unwrap();
    let cache = Arc::new(CachedQuery::builder().build_from_path(dir.path()).unwrap());
    let watcher = cache.watch(Duration::from_millis(100)).unwrap();
    std::fs::write(dir.path().join("2.csv"), "g,v\nb,2\n").unwrap();
    assert!(common::eventually(Duration::from_secs(10), || cache
        .dataset()
        .rows()
        == 2));
    // Dropped, the watcher watches no more.
    drop(watcher);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(dir.path().join("3.csv"), "g,v\nc,3\n").unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(cache.dataset().rows(), 2);
}
