//! `pqc gen`: a deterministic synthetic sales CSV.

use std::fs::File;
use std::io::BufWriter;

use polars_query_cache::sample;

use crate::args::GenArgs;
use crate::fail::Failure;
use crate::progress;

pub fn run(args: &GenArgs, show_progress: bool) -> Result<(), Failure> {
    let file = File::create(&args.out).map_err(|e| Failure::io(args.out.display(), e))?;
    let bar = progress::bar(show_progress, args.rows, "rows");
    let started = std::time::Instant::now();
    sample::write_sales_csv(
        BufWriter::with_capacity(1 << 20, file),
        args.rows,
        args.seed,
        |n| bar.set_position(n),
    )
    .map_err(|e| Failure::io(args.out.display(), e))?;
    bar.finish_and_clear();
    tracing::info!(rows = args.rows, seconds = started.elapsed().as_secs_f64(), out = %args.out.display(), "generated");
    Ok(())
}
