//! The `pqc` command line: its flags, outputs and exit codes are a contract.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use polars::prelude::*;

fn pqc() -> Command {
    let mut cmd = Command::cargo_bin("pqc").unwrap();
    cmd.env_remove("RUST_LOG");
    cmd
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sales.csv")
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs and returns (exit code, stderr).
fn failure(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({filters => vec![
            (r"\d+\.\d{3} ms", "[ms] ms"),
            (r"/[^ ]*/data/sales.csv", "[sample]"),
        ]}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

#[test]
fn help_texts() {
    snapshot!("help", stdout(pqc().arg("--help")));
    snapshot!("help_query", stdout(pqc().args(["query", "--help"])));
    snapshot!("help_bench", stdout(pqc().args(["bench", "--help"])));
    snapshot!("help_sql", stdout(pqc().args(["sql", "--help"])));
}

#[test]
fn table_output() {
    let out = stdout(pqc().arg("query").arg(sample()).args([
        "--filter",
        "category=Books",
        "--filter",
        "year in 2023,2024",
        "--group-by",
        "month",
        "--agg",
        "sum:revenue:total",
        "--agg",
        "len",
        "--sort",
        "total:desc",
        "--limit",
        "5",
    ]));
    snapshot!("table_top5", out);
}

#[test]
fn csv_output_single_and_several() {
    let one = stdout(pqc().arg("query").arg(sample()).args([
        "--group-by",
        "channel",
        "--agg",
        "len",
        "--format",
        "csv",
    ]));
    snapshot!("csv_one", one);
    let several = stdout(pqc().arg("query").arg(sample()).args([
        "--query-json",
        r#"{"group_by": ["channel"], "aggs": [{"fn": "len"}]}"#,
        "--query-json",
        r#"{"filters": {"region": "North"}, "aggs": [{"fn": "max", "column": "units"}]}"#,
        "--format",
        "csv",
    ]));
    snapshot!("csv_several", several);
}

#[test]
fn json_and_ndjson_output() {
    let json = stdout(pqc().arg("query").arg(sample()).args([
        "--group-by",
        "region",
        "--agg",
        "count:discount",
        "--format",
        "json",
    ]));
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let result = &parsed[0];
    assert_eq!(result["query"], 1);
    assert_eq!(result["source"], "computed");
    assert_eq!(
        result["columns"],
        serde_json::json!(["region", "count_discount"])
    );
    assert_eq!(result["rows"].as_array().unwrap().len(), 5);
    let nd = stdout(pqc().arg("query").arg(sample()).args([
        "--query-json",
        r#"{"aggs": [{"fn": "len"}]}"#,
        "--query-json",
        r#"{"aggs": [{"fn": "len"}]}"#,
        "--format",
        "ndjson",
    ]));
    let lines: Vec<serde_json::Value> = nd
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["rows"], serde_json::json!([[5000]]));
    assert_eq!(lines[1]["source"], "memory");
}

#[test]
fn arrow_output_reads_back() {
    let out = pqc()
        .arg("query")
        .arg(sample())
        .args([
            "--group-by",
            "category",
            "--agg",
            "sum:units",
            "--format",
            "arrow",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let frame = IpcStreamReader::new(std::io::Cursor::new(out.stdout))
        .finish()
        .unwrap();
    assert_eq!(frame.get_column_names(), ["category", "sum_units"]);
    assert_eq!(frame.height(), 8);
    let (code, err) = failure(pqc().arg("query").arg(sample()).args([
        "--query-json",
        r#"{"aggs": [{"fn": "len"}]}"#,
        "--query-json",
        r#"{"aggs": [{"fn": "len"}]}"#,
        "--format",
        "arrow",
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("exactly one query"), "{err}");
}

#[test]
fn equivalent_queries_from_a_file_are_one_computation() {
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("q.ndjson");
    std::fs::write(
        &queries,
        r#"# the same question four ways
{"filters": [{"column": "category", "op": "eq", "value": "Books"}, {"column": "year", "op": "in", "value": [2023, 2024]}], "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue"}]}
{"filters": {"year": ["2024", 2023], "category": "Books"}, "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue", "alias": "r"}]}

{"filters": [{"column": "year", "op": "between", "value": [2023, 2024]}, {"column": "category", "op": "in", "value": ["Books"]}], "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue"}]}
{"filters": [{"column": "year", "op": "gt", "value": 2022.5}, {"column": "year", "op": "lt", "value": 2025}, {"column": "category", "op": "eq", "value": "Books"}], "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue"}]}
"#,
    )
    .unwrap();
    let stats = dir.path().join("stats.json");
    stdout(
        pqc()
            .arg("query")
            .arg(sample())
            .arg("--queries")
            .arg(&queries)
            .arg("--stats")
            .arg(&stats)
            .args(["--format", "ndjson"]),
    );
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(stats["computations"], 1, "{stats}");
    assert_eq!(stats["hits"], 3);
    assert_eq!(stats["misses"], 1);
    assert_eq!(stats["memory_hits"], 3);
    assert_eq!(stats["entries"], 1);
    for field in ["bytes", "evictions"] {
        assert!(stats.get(field).is_some(), "{field}");
    }
}

#[test]
fn errors_have_one_line_and_an_exit_code_per_kind() {
    let (code, err) = failure(pqc().arg("query").arg(sample()).args([
        "--filter",
        "categry=Books",
        "--agg",
        "len",
    ]));
    assert_eq!(code, 3);
    snapshot!("error_unknown_column", err);
    let (code, err) = failure(
        pqc()
            .arg("query")
            .arg(sample())
            .args(["--query-json", "{\"aggs\": ["]),
    );
    assert_eq!(code, 3);
    assert!(
        err.starts_with("pqc: --query-json: malformed query JSON"),
        "{err}"
    );
    let (code, err) = failure(pqc().args(["query", "/nonexistent.csv", "--agg", "len"]));
    assert_eq!(code, 5);
    assert!(err.contains("/nonexistent.csv"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b\n1,2\n3,4,5\n").unwrap();
    let (code, err) = failure(pqc().arg("query").arg(&bad).args(["--agg", "len"]));
    assert_eq!(code, 4);
    assert!(
        err.contains("at line 3") && err.contains("expected 2 fields, found 3"),
        "{err}"
    );
    let (code, _) = failure(pqc().args(["query", "--bogus"]));
    assert_eq!(code, 2);
    let (code, err) = failure(
        pqc()
            .arg("query")
            .arg(sample())
            .args(["--agg", "mode:units"]),
    );
    assert_eq!(code, 2);
    assert!(err.contains("unknown aggregate \"mode\""), "{err}");
    let (code, err) =
        failure(
            pqc()
                .arg("query")
                .arg(sample())
                .args(["--max-bytes", "lots", "--agg", "len"]),
        );
    assert_eq!(code, 2);
    assert!(err.contains("not a size"), "{err}");
}

#[test]
fn gen_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.csv"),
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
    );
    for (path, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        stdout(
            pqc()
                .args(["gen", "--rows", "3000", "--seed", seed, "--out"])
                .arg(path),
        );
    }
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.iter().filter(|&&x| x == b'\n').count(), 3001);
}

#[test]
fn info_describes_the_sample() {
    let out = stdout(pqc().arg("info").arg(sample()).args(["--format", "json"]));
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(info["rows"], 5000);
    assert_eq!(
        info["columns"][4],
        serde_json::json!({"name": "category", "type": "categorical", "dtype": info["columns"][4]["dtype"]})
    );
    assert!(info["memory_bytes"].as_u64().unwrap() < info["file_bytes"].as_u64().unwrap());
    assert_eq!(info["fingerprint"].as_str().unwrap().len(), 32);
    assert_eq!(info["hints"], serde_json::json!([]));
    // Where the load's time went: each step within the whole.
    let breakdown = &info["load_breakdown_ms"];
    let total = breakdown["total"].as_f64().unwrap();
    for step in [
        "read",
        "fingerprint",
        "parse",
        "categoricals",
        "integers",
        "assemble",
    ] {
        let took = breakdown[step].as_f64().unwrap();
        assert!((0.0..=total).contains(&took), "{step}: {took} of {total}");
    }
    assert!(breakdown["parse"].as_f64().unwrap() > 0.0);
    assert!(total <= info["load_ms"].as_f64().unwrap());
    let table = stdout(pqc().arg("info").arg(sample()));
    assert!(table.contains("ms: read "), "{table}");
}

/// `pqc gen` writes the table in every format; `pqc info` says the format,
/// the files and the mode (and why), and `pqc query` answers alike from
/// each, loaded or scanned, from a file or a directory of them.
#[test]
fn every_format_mode_and_set_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let query = |data: &Path, scan: bool| {
        let mut cmd = pqc();
        cmd.arg("query").arg(data).args([
            "--group-by",
            "category",
            "--agg",
            "sum:units",
            "--agg",
            "len",
            "--format",
            "csv",
        ]);
        if scan {
            cmd.arg("--scan");
        }
        stdout(&mut cmd)
    };
    let csv = dir.path().join("t.csv");
    stdout(
        pqc()
            .args(["gen", "--rows", "3000", "--seed", "9", "--out"])
            .arg(&csv),
    );
    let expected = query(&csv, false);
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    for ext in ["parquet", "arrow", "ndjson"] {
        let path = dir.path().join(format!("t.{ext}"));
        stdout(
            pqc()
                .args(["gen", "--rows", "3000", "--seed", "9", "--out"])
                .arg(&path),
        );
        for scan in [false, true] {
            assert_eq!(query(&path, scan), expected, "{ext} scan={scan}");
        }
        let info: serde_json::Value = serde_json::from_str(&stdout(
            pqc().arg("info").arg(&path).args(["--format", "json"]),
        ))
        .unwrap();
        assert_eq!(info["rows"], 3000);
        assert_eq!(info["mode"], "memory");
        let format = if ext == "arrow" { "ipc" } else { ext };
        assert_eq!(info["format"], format);
        std::fs::copy(&path, parts.join(format!("a.{ext}"))).unwrap();
    }
    // Two parquet files of one table: the answers of a table twice as long.
    std::fs::copy(dir.path().join("t.parquet"), parts.join("b.parquet")).unwrap();
    let set: serde_json::Value = serde_json::from_str(&stdout(
        pqc()
            .arg("info")
            .arg(parts.join("*.parquet"))
            .args(["--format", "json", "--scan"]),
    ))
    .unwrap();
    assert_eq!(set["rows"], 6000);
    assert_eq!(set["mode"], "scan");
    assert!(set["mode_reason"].as_str().unwrap().contains("--scan"));
    assert_eq!(set["files"].as_array().unwrap().len(), 2);
    // A directory of several formats is refused, with exit code 4.
    let (code, err) = failure(pqc().arg("info").arg(&parts));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("one dataset's files share one format"),
        "{err}"
    );
    let table = stdout(pqc().arg("info").arg(&csv).arg("--scan"));
    assert!(table.contains("mode:        scan"), "{table}");
}

/// A CSV written by R: numbers with `NA` load as text, and `pqc info`
/// says which option reads them as numbers.
#[test]
fn info_hints_at_na_in_numeric_columns() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("flights.csv");
    std::fs::write(
        &csv,
        "carrier,dep_delay,origin\nUA,2,NA\nAA,NA,EWR\nB6,-4,NA\n",
    )
    .unwrap();
    let out = stdout(pqc().arg("info").arg(&csv));
    assert!(
        out.contains("hint: column `dep_delay` holds numbers and \"NA\"")
            && out.contains("--null-value NA")
            && !out.contains("`origin`"),
        "{out}"
    );
    let out = stdout(pqc().arg("info").arg(&csv).args([
        "--null-value",
        "",
        "--null-value",
        "NA",
        "--format",
        "json",
    ]));
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(info["hints"], serde_json::json!([]));
    assert_eq!(info["columns"][1]["type"], "int");
}

#[test]
fn bench_json_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    stdout(
        pqc()
            .arg("bench")
            .arg(sample())
            .args([
                "--distinct",
                "30",
                "--requests",
                "600",
                "--threads",
                "2",
                "--baseline-sample",
                "5",
                "--reload-baseline",
                "1",
                "--json",
            ])
            .arg(&json),
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for field in [
        "requests",
        "hit_ratio",
        "hit_p50_us",
        "hit_p99_us",
        "miss_p50_us",
        "polars_p50_us",
        "speedup_vs_polars",
        "stats",
    ] {
        assert!(r.get(field).is_some(), "{field} missing: {r}");
    }
    let (hits, misses) = (r["hits"].as_u64().unwrap(), r["misses"].as_u64().unwrap());
    assert_eq!(hits + misses, 600);
    assert_eq!(r["requests"], 600);
    assert_eq!(r["stats"]["hits"], hits);
    assert!(r["stats"]["computations"].as_u64().unwrap() <= 30);
    assert!(misses >= r["stats"]["computations"].as_u64().unwrap());
    let ratio = r["hit_ratio"].as_f64().unwrap();
    assert!((ratio - hits as f64 / 600.0).abs() < 1e-9);
    assert_eq!(r["polars_sample"], 5);
    assert_eq!(r["reload_sample"], 1);
}

#[test]
fn sql_answers_as_query_does_in_select_order() {
    let text = "SELECT SUM(revenue) AS total, month FROM sales WHERE category = 'Books' \
                AND year IN (2023, 2024) GROUP BY month ORDER BY total DESC LIMIT 3";
    let by_sql = stdout(
        pqc()
            .arg("sql")
            .arg(sample())
            .arg(text)
            .args(["--format", "json"]),
    );
    let by_json = stdout(pqc().arg("query").arg(sample()).args([
        "--query-json",
        r#"{"filters": {"category": "Books", "year": [2023, 2024]}, "group_by": ["month"],
            "aggs": [{"fn": "sum", "column": "revenue", "alias": "total"}],
            "sort": [{"column": "total", "descending": true}], "limit": 3}"#,
        "--format",
        "json",
    ]));
    let by_sql: serde_json::Value = serde_json::from_str(&by_sql).unwrap();
    let by_json: serde_json::Value = serde_json::from_str(&by_json).unwrap();
    assert_eq!(by_sql[0]["columns"], serde_json::json!(["total", "month"]));
    assert_eq!(by_json[0]["columns"], serde_json::json!(["month", "total"]));
    let swapped: Vec<serde_json::Value> = by_json[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| serde_json::json!([row[1], row[0]]))
        .collect();
    assert_eq!(by_sql[0]["rows"], serde_json::Value::Array(swapped));

    // Several statements through one cache, in the other formats; the
    // statistics show the entry as SQL over the --table name.
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let csv = stdout(
        pqc()
            .arg("sql")
            .arg(sample())
            .args([
                "SELECT channel, COUNT(*) FROM orders GROUP BY channel",
                "SELECT COUNT(*) AS n, channel FROM orders GROUP BY 2",
                "--table",
                "orders",
                "--format",
                "csv",
                "--stats",
            ])
            .arg(&stats),
    );
    let blocks: Vec<&str> = csv.split("\n\n").collect();
    assert!(blocks[0].starts_with("query,channel,len\n1,"), "{csv}");
    assert!(blocks[1].starts_with("query,n,channel\n2,"), "{csv}");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(stats["computations"], 1);
    assert_eq!(
        stats["top_queries"][0]["sql"],
        "SELECT channel, COUNT(*) FROM orders GROUP BY channel"
    );
}

#[test]
fn sql_errors_are_query_errors() {
    let (code, stderr) = failure(
        pqc()
            .arg("sql")
            .arg(sample())
            .arg("SELECT COUNT(*) FROM sales WHERE year = 2024 OR year = 2023"),
    );
    assert_eq!(code, 3);
    assert!(
        stderr.starts_with("pqc: unsupported SQL at line 1, column 34: OR is not supported; "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let (code, stderr) = failure(
        pqc()
            .arg("sql")
            .arg(sample())
            .arg("SELECT COUNT(*) FROM data"),
    );
    assert_eq!(code, 3);
    assert!(stderr.contains("the dataset is called `sales`"), "{stderr}");
    let (code, _) = failure(pqc().arg("sql").arg(sample()));
    assert_eq!(code, 2);
}
