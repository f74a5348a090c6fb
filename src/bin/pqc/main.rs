//! `pqc`: load a CSV once, answer queries from a cache (work in progress).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let rows: u64 = args[2].parse().unwrap_or(5000);
            let out = std::fs::File::create(&args[3]).unwrap();
            polars_query_cache::sample::write_sales_csv(
                std::io::BufWriter::new(out),
                rows,
                42,
                |_| {},
            )
            .unwrap();
            ExitCode::SUCCESS
        }
        _ => ExitCode::FAILURE,
    }
}
