//! Loading CSV files: options, categoricals, and malformed input as typed
//! errors naming the file and line.

use std::path::Path;

use polars::prelude::DataType;
use polars_query_cache::{CachedQuery, ColumnKind, ColumnType, Error, LoadOptions, Query};

fn load(body: &str, options: LoadOptions) -> (tempfile::TempDir, Result<CachedQuery, Error>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.csv");
    std::fs::write(&path, body).unwrap();
    let cache = CachedQuery::builder()
        .load_options(options)
        .build_from_csv(&path);
    (dir, cache)
}

fn malformed(body: &str, options: LoadOptions) -> (Option<u64>, String) {
    let (_dir, result) = load(body, options);
    match result.unwrap_err() {
        e @ Error::MalformedCsv { .. } => {
            assert!(e.is_user_error());
            let Error::MalformedCsv {
                path,
                line,
                message,
            } = &e
            else {
                unreachable!()
            };
            assert!(path.ends_with("data.csv"));
            assert!(e.to_string().contains("data.csv"), "{e}");
            (*line, message.clone())
        }
        other => panic!("expected MalformedCsv, got {other:?}"),
    }
}

#[test]
fn the_bundled_sample_loads_with_categoricals_and_dates() {
    let cache = CachedQuery::from_csv(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sales.csv"))
        .unwrap();
    let dataset = cache.dataset();
    let kind = |name: &str| {
        dataset
            .columns()
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .kind
    };
    assert_eq!(kind("category"), ColumnKind::Categorical);
    assert_eq!(kind("region"), ColumnKind::Categorical);
    assert_eq!(kind("date"), ColumnKind::Date);
    assert_eq!(kind("year"), ColumnKind::Int);
    assert_eq!(kind("price"), ColumnKind::Float);
    assert_eq!(kind("discount"), ColumnKind::Float);
    assert!(
        dataset
            .frame()
            .unwrap()
            .column("discount")
            .unwrap()
            .null_count()
            > 0
    );
    assert!(dataset.rows() >= 2_000);
    // Categoricals keep the frame well under the text size.
    let file = std::fs::metadata(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sales.csv"))
        .unwrap()
        .len();
    assert!(
        (dataset.estimated_size() as u64) < file,
        "{} >= {file}",
        dataset.estimated_size()
    );
    let f = cache
        .get(
            &Query::new()
                .eq("date", "2023-06-15")
                .group_by(["category"])
                .len(),
        )
        .unwrap();
    assert!(f.height() > 0);
}

#[test]
fn delimiter_quotes_null_markers_and_overrides() {
    let body = "name;zip;score\n\"Smith; J\";01234;NA\nDoe;99999;7\n";
    let options = LoadOptions::default()
        .with_delimiter(b';')
        .with_null_values(["NA"])
        .with_column_type("zip", ColumnType::Str);
    let (_dir, cache) = load(body, options);
    let cache = cache.unwrap();
    let df = cache.dataset();
    let frame = df.frame().unwrap();
    assert_eq!(frame.column("zip").unwrap().dtype(), &DataType::String);
    assert_eq!(
        frame.column("zip").unwrap().get(0).unwrap().get_str(),
        Some("01234")
    );
    assert_eq!(frame.column("score").unwrap().null_count(), 1);
    let got = cache
        .get(&Query::new().eq("name", "Smith; J").count("score"))
        .unwrap();
    assert_eq!(
        got.column("count_score")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<i64>(),
        Some(0)
    );
}

#[test]
fn categorical_threshold_can_be_turned_off() {
    let body = "c,v\na,1\nb,2\na,3\n";
    let (_d1, on) = load(body, LoadOptions::default());
    let (_d2, off) = load(
        body,
        LoadOptions::default().with_categorical_max_distinct(0),
    );
    assert_eq!(
        on.unwrap().dataset().columns()[0].kind,
        ColumnKind::Categorical
    );
    assert_eq!(off.unwrap().dataset().columns()[0].kind, ColumnKind::Str);
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let e = CachedQuery::from_csv("/nonexistent/sales.csv").unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/sales.csv"), "{e}");
    assert!(!e.is_user_error());
}

#[test]
fn an_empty_file_is_malformed() {
    let (line, message) = malformed("", LoadOptions::default());
    assert_eq!(line, None);
    assert!(message.contains("empty"), "{message}");
    let (_, message) = malformed("\n\n", LoadOptions::default());
    assert!(message.contains("empty"), "{message}");
}

#[test]
fn a_row_with_too_many_fields_names_its_line() {
    let (line, message) = malformed("a,b\n1,2\n3,4\n5,6,7\n8,9\n", LoadOptions::default());
    assert_eq!(line, Some(4), "{message}");
    assert!(message.contains("expected 2 fields, found 3"), "{message}");
}

#[test]
fn a_row_with_too_few_fields_names_its_line() {
    let (line, message) = malformed("a,b,c\n1,2,3\n4,5\n6,7,8\n", LoadOptions::default());
    assert_eq!(line, Some(3), "{message}");
    assert!(message.contains("expected 3 fields, found 2"), "{message}");
}

#[test]
fn a_quoted_newline_counts_as_a_line() {
    let (line, _) = malformed("a,b\n\"x\ny\",1\n1,2,3\n", LoadOptions::default());
    assert_eq!(line, Some(4));
}

#[test]
fn a_value_that_does_not_parse_as_the_forced_type_names_its_line() {
    let options = LoadOptions::default().with_column_type("b", ColumnType::Int);
    let (line, message) = malformed("a,b\n1,2\n3,four\n", options);
    assert_eq!(line, Some(3), "{message}");
    assert!(
        message.contains("\"four\" in column `b` is not an integer"),
        "{message}"
    );
}

/// A quote inside an unquoted field: Polars' reader splits lines as if it
/// opened a quoted field and refuses the file; so does the loader, with a
/// typed error, never a table with rows merged.
#[test]
fn a_stray_quote_in_an_unquoted_field_is_refused_as_polars_refuses_it() {
    let csv = "item,size,note\npizza,12\" round,\nsoda,1,cold\n";
    use polars::prelude::{CsvReadOptions, SerReader};
    let polars = CsvReadOptions::default()
        .into_reader_with_file_handle(std::io::Cursor::new(csv.as_bytes()))
        .finish();
    assert!(polars.is_err());
    let (_dir, cache) = load(csv, LoadOptions::default());
    assert!(
        matches!(cache, Err(Error::MalformedCsv { .. })),
        "{:?}",
        cache.map(|c| c.dataset().rows())
    );
}
