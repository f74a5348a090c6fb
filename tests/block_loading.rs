//! A CSV is parsed a block at a time; whatever the block size, the frame is
//! the one a parse of the whole file in one block gives: the same types
//! (categoricals, integer widths, dates), values, fingerprint and errors.

use std::fmt::Write as _;

use polars::prelude::*;
use polars_query_cache::{Dataset, Error, LoadOptions};

use crate::common::assert_same_data;
use proptest::prelude::*;

/// Inference reads few rows, so that the first block is small and the
/// later ones are parsed with the schema it decided.
fn options() -> LoadOptions {
    LoadOptions::default().with_infer_schema_rows(Some(20))
}

fn load(csv: &str, block_bytes: usize, options: &LoadOptions) -> Result<Dataset, Error> {
    let options = options.clone().with_block_bytes(block_bytes);
    Dataset::from_csv_bytes("data.csv", csv.as_bytes().to_vec(), &options)
}

fn same_at_every_block_size(csv: &str, options: &LoadOptions) -> Dataset {
    let whole = load(csv, usize::MAX, options).unwrap();
    for block_bytes in [1, 7, 64, 300, 4096] {
        let blocks = load(csv, block_bytes, options).unwrap();
        assert_same_data(&blocks, &whole);
    }
    whole
}

#[test]
fn the_sample_in_small_blocks_is_the_sample() {
    let csv = std::fs::read_to_string("data/sales.csv").unwrap();
    let whole = same_at_every_block_size(&csv, &options());
    let blocks = load(&csv, 16 << 10, &options()).unwrap();
    // One chunk a block, not a copy joining them.
    assert!(blocks.frame().unwrap().first_col_n_chunks() > 10);
    assert!(
        whole
            .frame()
            .unwrap()
            .column("category")
            .unwrap()
            .dtype()
            .is_categorical()
    );
}

#[test]
fn an_integer_too_wide_for_32_bits_in_a_late_block_widens_the_column() {
    let mut csv = String::from("id,small,big\n");
    for i in 0..400 {
        let big = if i == 350 { 3_000_000_000_i64 } else { i };
        writeln!(csv, "{i},{},{big}", i % 7).unwrap();
    }
    let dataset = same_at_every_block_size(&csv, &options());
    let dtype = |name: &str| {
        dataset
            .frame()
            .unwrap()
            .column(name)
            .unwrap()
            .dtype()
            .clone()
    };
    assert_eq!(dtype("small"), DataType::Int32);
    assert_eq!(dtype("big"), DataType::Int64);
    let big = dataset
        .frame()
        .unwrap()
        .column("big")
        .unwrap()
        .i64()
        .unwrap()
        .clone();
    assert_eq!(big.get(350), Some(3_000_000_000));
    assert_eq!(big.get(349), Some(349));
    // Without narrowing, every integer column stays 64-bit.
    let wide = options().with_shrink_integers(false);
    let dataset = same_at_every_block_size(&csv, &wide);
    assert_eq!(
        dataset.frame().unwrap().column("small").unwrap().dtype(),
        &DataType::Int64
    );
}

#[test]
fn categories_first_seen_in_late_blocks_keep_their_text() {
    let mut csv = String::from("k,v\n");
    for i in 0..300 {
        let k = if i < 30 {
            ["a", "b"][i % 2]
        } else {
            ["c", "d", "e"][i % 3]
        };
        writeln!(csv, "{k},{i}").unwrap();
    }
    let dataset = same_at_every_block_size(&csv, &options());
    let k = dataset.frame().unwrap().column("k").unwrap();
    assert!(k.dtype().is_categorical());
    assert_eq!(k.n_unique().unwrap(), 5);
}

#[test]
fn quoted_newlines_delimiters_and_quotes_cross_block_boundaries() {
    let mut csv = String::from("note,n\r\n");
    for i in 0..200 {
        match i % 4 {
            0 => writeln!(csv, "\"line one\nline two, with a comma\",{i}\r"),
            1 => writeln!(csv, "\"say \"\"hi\"\"\",{i}\r"),
            2 => writeln!(csv, "plain,{i}\r"),
            _ => writeln!(csv, "\r"),
        }
        .unwrap();
    }
    csv.push_str("\"last, unterminated by a newline\",999");
    let dataset = same_at_every_block_size(&csv, &options());
    let note = dataset
        .frame()
        .unwrap()
        .column("note")
        .unwrap()
        .cast(&DataType::String)
        .unwrap();
    let note = note.str().unwrap();
    assert_eq!(note.get(0), Some("line one\nline two, with a comma"));
    assert_eq!(note.get(1), Some("say \"hi\""));
    assert_eq!(
        dataset
            .frame()
            .unwrap()
            .column("n")
            .unwrap()
            .i32()
            .unwrap()
            .last(),
        Some(999)
    );
}

#[test]
fn dates_and_nulls_read_alike_in_every_block() {
    let mut csv = String::from("day,x,label\n");
    for i in 0..300 {
        let x = if i % 5 == 0 {
            String::new()
        } else {
            format!("{}.5", i)
        };
        writeln!(csv, "2024-{:02}-{:02},{x},NA", i % 12 + 1, i % 28 + 1).unwrap();
    }
    let options = options().with_null_values(["NA"]);
    let dataset = same_at_every_block_size(&csv, &options);
    assert_eq!(
        dataset.frame().unwrap().column("day").unwrap().dtype(),
        &DataType::Date
    );
    assert_eq!(
        dataset.frame().unwrap().column("x").unwrap().null_count(),
        60
    );
}

/// The error of a file whose fault is in a late block: the same as a
/// whole-file parse's, naming the same line.
fn same_error(csv: &str) -> (Option<u64>, String) {
    let whole = load(csv, usize::MAX, &options()).unwrap_err();
    let blocks = load(csv, 64, &options()).unwrap_err();
    let (Error::MalformedCsv { line, message, .. }, Error::MalformedCsv { line: at, .. }) =
        (&whole, &blocks)
    else {
        panic!("expected MalformedCsv: {whole:?} / {blocks:?}");
    };
    assert_eq!(line, at, "{whole} / {blocks}");
    (*line, message.clone())
}

#[test]
fn a_ragged_row_in_a_late_block_names_its_line() {
    let mut csv = String::from("a,b,c\n");
    for i in 0..200 {
        if i == 150 {
            csv.push_str("1,2\n");
        } else {
            writeln!(csv, "{i},{i},{i}").unwrap();
        }
    }
    let (line, message) = same_error(&csv);
    assert_eq!(line, Some(152), "{message}");
    assert!(message.contains("expected 3 fields, found 2"), "{message}");
}

#[test]
fn text_in_an_inferred_integer_column_in_a_late_block_is_an_error() {
    let mut csv = String::from("a,b\n");
    for i in 0..200 {
        let b = if i == 120 {
            "many".to_owned()
        } else {
            i.to_string()
        };
        writeln!(csv, "{i},{b}").unwrap();
    }
    let whole = load(&csv, usize::MAX, &options()).unwrap_err();
    let blocks = load(&csv, 64, &options()).unwrap_err();
    // Polars says what it could not parse but not where, and in words
    // for its Python API: the error names the line and the value.
    for err in [whole, blocks] {
        let Error::MalformedCsv { line, message, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(*line, Some(122), "{err}");
        assert!(
            message.contains("\"many\"") && message.contains("`b`"),
            "{err}"
        );
        assert!(!message.contains("infer_schema_length"), "{err}");
    }
}

/// Empty lines before the header are not rows: the first block still
/// holds every row inference reads (here the `3.5` that makes `a` a float).
#[test]
fn blank_lines_before_the_header_do_not_shorten_inference() {
    let csv = "\n\r\n\na,b\n1,x\n2,y\n3.5,z\n4,w\n5,v\n";
    let options = LoadOptions::default().with_infer_schema_rows(Some(3));
    let whole = load(csv, usize::MAX, &options).unwrap();
    assert_eq!(
        whole.frame().unwrap().column("a").unwrap().dtype(),
        &DataType::Float64
    );
    for block_bytes in [1, 8, 16] {
        assert_same_data(&load(csv, block_bytes, &options).unwrap(), &whole);
    }
}

#[test]
fn the_block_size_is_not_part_of_the_fingerprint() {
    let csv = "a,b\n1,x\n2,y\n";
    let small = load(csv, 3, &options()).unwrap();
    let large = load(csv, 1 << 20, &options()).unwrap();
    assert_eq!(small.fingerprint(), large.fingerprint());
    let other = load(csv, 3, &options().with_infer_schema_rows(Some(21))).unwrap();
    assert_ne!(small.fingerprint(), other.fingerprint());
}

/// A table of random cells: integers (some beyond 32 bits), decimals,
/// text from a few values (a categorical) or many, quoted with newlines,
/// commas and quotes, and empty cells.
fn table() -> impl Strategy<Value = String> {
    let cell = prop_oneof![
        4 => (-50i64..50).prop_map(|i| i.to_string()),
        1 => prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(1 << 40)].prop_map(|i| i.to_string()),
        1 => Just(String::new()),
    ];
    let decimal = prop_oneof![
        4 => (-1e6f64..1e6).prop_map(|f| format!("{f:.3}")),
        1 => Just(String::new()),
    ];
    let text = prop_oneof![
        3 => prop::sample::select(vec!["red", "green", "blue"]).prop_map(str::to_owned),
        1 => "[a-z ,\"\n]{0,6}".prop_map(|s| format!("\"{}\"", s.replace('"', "\"\""))),
    ];
    prop::collection::vec((cell, decimal, text), 1..120).prop_map(|rows| {
        let mut csv = String::from("i,d,t\n");
        for (i, d, t) in rows {
            writeln!(csv, "{i},{d},{t}").unwrap();
        }
        csv
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_block_size_gives_the_whole_file_s_frame(csv in table(), block_bytes in 1usize..400) {
        let whole = load(&csv, usize::MAX, &options());
        let blocks = load(&csv, block_bytes, &options());
        match (whole, blocks) {
            (Ok(whole), Ok(blocks)) => assert_same_data(&blocks, &whole),
            (Err(Error::MalformedCsv { line: a, .. }), Err(Error::MalformedCsv { line: b, .. })) => {
                prop_assert_eq!(a, b)
            }
            (a, b) => prop_assert!(false, "whole: {:?}\nblocks: {:?}", a.map(|d| d.rows()), b.map(|d| d.rows())),
        }
    }
}

/// The types Polars' own reader infers with `try_parse_dates`, against the
/// loader's (which infers without dates, then tries the date formats only
/// on values that could match).
fn assert_polars_infers_alike(csv: &str) {
    let options = LoadOptions::default()
        .with_categorical_max_distinct(0)
        .with_shrink_integers(false);
    let ours = Dataset::from_csv_bytes("data.csv", csv.as_bytes().to_vec(), &options);
    let polars = CsvReadOptions::default()
        .with_parse_options(
            CsvParseOptions::default()
                .with_try_parse_dates(true)
                .with_missing_is_null(true),
        )
        .with_infer_schema_length(options.infer_schema_rows)
        .into_reader_with_file_handle(std::io::Cursor::new(csv.as_bytes()))
        .finish();
    match (ours, polars) {
        (Ok(ours), Ok(polars)) => {
            for (a, b) in ours.frame().unwrap().columns().iter().zip(polars.columns()) {
                assert_eq!(a.dtype(), b.dtype(), "column {} of\n{csv}", a.name());
                assert!(
                    a.as_materialized_series()
                        .equals_missing(b.as_materialized_series()),
                    "column {}",
                    a.name()
                );
            }
        }
        (Err(_), Err(_)) => {}
        (ours, polars) => panic!(
            "ours: {:?}\npolars: {:?}\n{csv}",
            ours.map(|d| d.rows()),
            polars.map(|f| f.height())
        ),
    }
}

#[test]
fn dates_times_and_their_look_alikes_are_typed_as_polars_types_them() {
    assert_polars_infers_alike(
        "ymd,dmy,slashes,dt,dtz,time,spaced,mixed,text,numbers,lead,iso_t\n\
         2024-03-31,31-03-2024,2024/03/31,2024-03-31 12:00:00,2024-03-31T12:00:00Z,12:30:00, 2024-03-31,2024-03-31,Books,12,12 apples,2024-03-31T12:00:00.123\n\
         2023-01-02,02-01-2023,2023/01/02,2023-01-02 00:00:01,2023-01-02T00:00:01+02:00,00:00:01, 2023-01-02,abc,Games,-4,+3 pears,2023-01-02T00:00:00.5\n\
         ,,,,,,,2023-01-02,,1.5,,\n",
    );
}

/// Cells of many forms: dates, datetimes, times, numbers, and text that
/// starts like them.
fn temporal_table() -> impl Strategy<Value = String> {
    let cell = prop::sample::select(vec![
        "2024-03-31",
        "31-03-2024",
        "2024/03/31",
        "2024-03-31 12:00:00",
        "2024-03-31T12:00:00Z",
        "2024-03-31T12:00:00.250+01:00",
        "12:30:00",
        "12",
        "-3.5",
        "true",
        "2024",
        "2024-13-45",
        "12 apples",
        "Books",
        " 2024-03-31",
        "",
    ]);
    prop::collection::vec(prop::collection::vec(cell, 3), 1..30).prop_map(|rows| {
        let mut csv = String::from("a,b,c\n");
        for row in rows {
            writeln!(csv, "{}", row.join(",")).unwrap();
        }
        csv
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn inference_of_dates_is_polars_own(csv in temporal_table()) {
        assert_polars_infers_alike(&csv);
    }
}
