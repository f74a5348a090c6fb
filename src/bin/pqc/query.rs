//! `pqc query`: answer queries through one cache, in order.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Instant;

use polars_query_cache::Query;

use crate::args::QueryArgs;
use crate::fail::{Failure, Kind};
use crate::render::{self, Answer};
use crate::{options, progress};

pub fn run(args: &QueryArgs, show_progress: bool, out: &mut impl Write) -> Result<(), Failure> {
    let queries = gather(args)?;
    if queries.is_empty() {
        return Err(Failure::usage(
            "no query given: use --agg/--group-by/--filter flags, --query-json or --queries FILE",
        ));
    }
    let builder = options::cache_builder(&args.cache, &args.load)?;
    let spinner = progress::spinner(show_progress, format!("loading {}", args.data.display()));
    let cache = builder.build_from_csv(&args.data)?;
    spinner.finish_and_clear();

    let mut answers = Vec::with_capacity(queries.len());
    let mut first_error = None;
    for (i, query) in queries.iter().enumerate() {
        let started = Instant::now();
        match cache.get(query) {
            Ok(frame) => answers.push(Answer {
                frame,
                elapsed: started.elapsed(),
            }),
            Err(e) if queries.len() == 1 => return Err(e.into()),
            Err(e) => {
                // With several queries, report each bad one and go on.
                let failure = Failure::from(e);
                eprintln!("pqc: query {}: {failure}", i + 1);
                first_error.get_or_insert(failure);
            }
        }
    }
    render::write(out, args.format, &answers)?;
    if let Some(path) = &args.stats {
        std::fs::write(path, cache.cache_info().to_json())
            .map_err(|e| Failure::io(path.display(), e))?;
    }
    match first_error {
        Some(mut failure) => {
            // Already printed above; the caller prints only the summary.
            failure.message = format!(
                "{} of {} queries failed",
                queries.len() - answers.len(),
                queries.len()
            );
            Err(failure)
        }
        None => Ok(()),
    }
}

fn gather(args: &QueryArgs) -> Result<Vec<Query>, Failure> {
    let mut queries = Vec::new();
    if let Some(q) = options::query_from_flags(args)? {
        queries.push(q);
    }
    for json in &args.query_json {
        queries.push(Query::from_json(json).map_err(|e| Failure {
            kind: Kind::Query,
            message: format!("--query-json: {e}"),
        })?);
    }
    if let Some(path) = &args.queries {
        queries.extend(read_queries(path)?);
    }
    Ok(queries)
}

/// One JSON query a line; blank lines and `#` comments are skipped.
pub fn read_queries(path: &Path) -> Result<Vec<Query>, Failure> {
    let file = std::fs::File::open(path).map_err(|e| Failure::io(path.display(), e))?;
    let mut queries = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Failure::io(path.display(), e))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let query = Query::from_json(line).map_err(|e| Failure {
            kind: Kind::Query,
            message: format!("{}:{}: {e}", path.display(), n + 1),
        })?;
        queries.push(query);
    }
    Ok(queries)
}
