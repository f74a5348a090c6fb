//! What the benchmarks share: the generated CSV they run on.

// Each bench uses a part of this module.
#![allow(dead_code)]

use std::path::PathBuf;

#[cfg(feature = "server")]
pub mod http;

use polars_query_cache::sample;

/// Rows of the benchmark table: `PQC_BENCH_ROWS`, default `default`.
pub fn rows(default: u64) -> u64 {
    std::env::var("PQC_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A directory for generated files: `$PQC_BENCH_DIR`, or
/// `$CARGO_TARGET_DIR/pqc-bench` (`target/pqc-bench`).
pub fn dir() -> PathBuf {
    let dir = std::env::var_os("PQC_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| "target".into());
            target.join("pqc-bench")
        });
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// The sales CSV with `rows` rows (seed 42), generated on first use.
pub fn csv(rows: u64) -> PathBuf {
    let path = dir().join(format!("sales-{rows}-seed42.csv"));
    if !path.exists() {
        let tmp = path.with_extension("tmp");
        let file = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&tmp).expect("create csv"),
        );
        sample::write_sales_csv(file, rows, 42, |_| {}).expect("write csv");
        std::fs::rename(&tmp, &path).expect("rename csv");
    }
    path
}
