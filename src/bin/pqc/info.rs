//! `pqc info`: what loading the data gives.

use std::io::Write;

use polars_query_cache::{ColumnKind, Dataset, LoadedFrom, Origin};
use serde_json::json;

use crate::args::{InfoArgs, InfoFormat};
use crate::fail::Failure;
use crate::{options, progress};

pub fn run(args: &InfoArgs, show_progress: bool, out: &mut impl Write) -> Result<(), Failure> {
    let load = options::load_options(&args.load)?;
    let spinner = progress::loading(show_progress, format!("loading {}", args.data.display()));
    let snapshots = args.cache_dir.as_ref().map(|dir| dir.join("snapshots"));
    let dataset = Dataset::from_path_with_progress(
        &args.data,
        &load,
        snapshots.as_deref(),
        &progress::feed(&spinner),
    )?;
    let loaded_from = match dataset.loaded_from() {
        LoadedFrom::Snapshot => "snapshot",
        LoadedFrom::Scanned => "scan",
        LoadedFrom::Appended => "append",
        _ => "parse",
    };
    let format = match dataset.origin() {
        Origin::Files { format, .. } => format.name(),
        _ => "csv",
    };
    // Which mode, and why: the user's choice, said back with the other.
    let (mode, why) = if dataset.is_scanned() {
        (
            "scan",
            "--scan: each miss streams over the files; nothing is held but answers",
        )
    } else {
        (
            "memory",
            "the default: the table is loaded once (--scan streams over the files instead, for data larger than memory)",
        )
    };
    spinner.finish_and_clear();
    let hints = dataset.load_hints();
    let files: Vec<String> = dataset.files().map(|f| f.display().to_string()).collect();
    let file_bytes: u64 = dataset
        .files()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let io = |e| Failure::io("stdout", e);
    match args.format {
        InfoFormat::Json => {
            let columns: Vec<_> = dataset
                .columns()
                .iter()
                .map(|c| json!({"name": c.name, "type": c.kind.name(), "dtype": c.dtype.to_string()}))
                .collect();
            let info = json!({
                "path": args.data.display().to_string(),
                "rows": dataset.rows(),
                "columns": columns,
                "file_bytes": file_bytes,
                "memory_bytes": dataset.estimated_size(),
                "chunks": dataset.frame().map(|f| f.first_col_n_chunks()),
                "load_ms": dataset.load_time().as_secs_f64() * 1e3,
                "load_breakdown_ms": dataset.load_timings().map(|t| json!({
                    "read": ms(t.read),
                    "fingerprint": ms(t.fingerprint),
                    "parse": ms(t.parse),
                    "categoricals": ms(t.categoricals),
                    "integers": ms(t.integers),
                    "assemble": ms(t.assemble),
                    "total": ms(t.total),
                })),
                "loaded_from": loaded_from,
                "format": format,
                "files": files,
                "mode": mode,
                "mode_reason": why,
                "fingerprint": dataset.fingerprint().to_string(),
                "hints": hints,
            });
            serde_json::to_writer_pretty(&mut *out, &info)
                .map_err(|e| Failure::io("stdout", e.into()))?;
            writeln!(out).map_err(io)?;
        }
        InfoFormat::Table => {
            writeln!(out, "data:        {} ({format})", args.data.display()).map_err(io)?;
            if files.len() > 1 {
                writeln!(out, "files:       {}", files.len()).map_err(io)?;
            }
            writeln!(out, "mode:        {mode} ({why})").map_err(io)?;
            writeln!(out, "rows:        {}", dataset.rows()).map_err(io)?;
            writeln!(
                out,
                "memory:      {} ({:.0}% of the file's {})",
                human(dataset.estimated_size() as u64),
                100.0 * dataset.estimated_size() as f64 / file_bytes.max(1) as f64,
                human(file_bytes)
            )
            .map_err(io)?;
            writeln!(
                out,
                "load time:   {:.1} ms",
                dataset.load_time().as_secs_f64() * 1e3
            )
            .map_err(io)?;
            if let Some(t) = dataset.load_timings() {
                let steps = [
                    ("read", t.read),
                    ("parse", t.parse),
                    ("categoricals", t.categoricals),
                    ("integers", t.integers),
                    ("assemble", t.assemble),
                    ("fingerprint", t.fingerprint),
                ];
                let steps: Vec<String> = steps
                    .iter()
                    .map(|(step, took)| format!("{step} {:.1}", ms(*took)))
                    .collect();
                writeln!(out, "             ms: {}", steps.join(", ")).map_err(io)?;
            }
            writeln!(out, "fingerprint: {}", dataset.fingerprint()).map_err(io)?;
            writeln!(out, "columns:").map_err(io)?;
            let width = dataset
                .columns()
                .iter()
                .map(|c| c.name.len())
                .max()
                .unwrap_or(0);
            for c in dataset.columns() {
                let kind = if c.kind == ColumnKind::Categorical {
                    "string (categorical)"
                } else {
                    c.kind.name()
                };
                writeln!(out, "  {:<width$}  {kind}", c.name).map_err(io)?;
            }
            for hint in &hints {
                writeln!(out, "hint: {hint}").map_err(io)?;
            }
        }
    }
    Ok(())
}

fn ms(took: std::time::Duration) -> f64 {
    took.as_secs_f64() * 1e3
}

pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
