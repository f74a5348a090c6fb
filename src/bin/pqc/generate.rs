//! `pqc gen`: a deterministic synthetic sales table, as CSV or as Parquet,
//! Arrow IPC or NDJSON (the CSV parsed, then written in that format).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;
use polars_query_cache::{Dataset, Format, LoadOptions, sample};

use crate::args::GenArgs;
use crate::fail::Failure;
use crate::progress;

pub fn run(args: &GenArgs, show_progress: bool) -> Result<(), Failure> {
    let format = args
        .output_format
        .or_else(|| Format::of_path(&args.out))
        .unwrap_or(Format::Csv);
    let started = std::time::Instant::now();
    if format == Format::Csv {
        write_csv(&args.out, args, show_progress)?;
    } else {
        // The CSV beside the output, parsed as `pqc` parses it, so the
        // other formats hold the same types (dates, categoricals, Int32).
        let csv = args.out.with_extension("gen-tmp.csv");
        let written = write_csv(&csv, args, show_progress).and_then(|()| {
            let spinner = progress::spinner(show_progress, format!("writing {format}"));
            let dataset = Dataset::from_csv(&csv, &LoadOptions::default())?;
            let frame = dataset.frame().expect("loaded in memory").clone();
            drop(dataset);
            write_as(frame, format, &args.out)?;
            spinner.finish_and_clear();
            Ok(())
        });
        let _ = std::fs::remove_file(&csv);
        written?;
    }
    tracing::info!(rows = args.rows, %format, seconds = started.elapsed().as_secs_f64(), out = %args.out.display(), "generated");
    Ok(())
}

fn write_csv(path: &Path, args: &GenArgs, show_progress: bool) -> Result<(), Failure> {
    let file = File::create(path).map_err(|e| Failure::io(path.display(), e))?;
    let bar = progress::bar(show_progress, args.rows, "rows");
    sample::write_sales_csv(
        BufWriter::with_capacity(1 << 20, file),
        args.rows,
        args.seed,
        |n| bar.set_position(n),
    )
    .map_err(|e| Failure::io(path.display(), e))?;
    bar.finish_and_clear();
    Ok(())
}

fn write_as(mut frame: DataFrame, format: Format, path: &Path) -> Result<(), Failure> {
    let file = File::create(path).map_err(|e| Failure::io(path.display(), e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let written = match format {
        Format::Parquet => ParquetWriter::new(&mut out).finish(&mut frame).map(drop),
        // An IPC file holds one dictionary a column: the blocks' chunks
        // of a categorical each carry theirs, so they become one chunk.
        Format::Ipc => {
            frame.rechunk_mut();
            IpcWriter::new(&mut out).finish(&mut frame)
        }
        _ => JsonWriter::new(&mut out)
            .with_json_format(JsonFormat::JsonLines)
            .finish(&mut frame),
    };
    written.map_err(|e| Failure::io(path.display(), std::io::Error::other(e.to_string())))?;
    std::io::Write::flush(&mut out).map_err(|e| Failure::io(path.display(), e))
}
