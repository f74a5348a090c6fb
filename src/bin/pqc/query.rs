//! `pqc query`: answer queries through one cache, in order.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Instant;

use polars_query_cache::{CachedQuery, Frame, Query};

use crate::args::{InputArgs, OutputArgs, QueryArgs};
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
    answer_all(
        &args.input,
        &args.output,
        &queries,
        show_progress,
        out,
        |cache, q| cache.get(q),
    )
}

/// Loads the input once and answers each request through its cache, in
/// order, with `ask`: a bad request is reported and the others answered.
pub fn answer_all<R>(
    input: &InputArgs,
    output: &OutputArgs,
    requests: &[R],
    show_progress: bool,
    out: &mut impl Write,
    ask: impl Fn(&CachedQuery, &R) -> polars_query_cache::Result<Frame>,
) -> Result<(), Failure> {
    let bar = progress::loading(show_progress, format!("loading {}", input.data.display()));
    let builder =
        options::cache_builder(&input.cache, &input.load)?.load_progress(progress::feed(&bar));
    let cache = builder.build_from_path(&input.data)?;
    bar.finish_and_clear();

    let mut answers = Vec::with_capacity(requests.len());
    let mut first_error = None;
    for (i, request) in requests.iter().enumerate() {
        let started = Instant::now();
        match ask(&cache, request) {
            Ok(frame) => answers.push(Answer {
                frame,
                elapsed: started.elapsed(),
            }),
            Err(e) if requests.len() == 1 => return Err(e.into()),
            Err(e) => {
                // With several queries, report each bad one and go on.
                let failure = Failure::from(e);
                eprintln!("pqc: query {}: {failure}", i + 1);
                first_error.get_or_insert(failure);
            }
        }
    }
    render::write(out, output.format, &answers)?;
    if let Some(path) = &output.stats {
        std::fs::write(path, cache.cache_info().to_json())
            .map_err(|e| Failure::io(path.display(), e))?;
    }
    match first_error {
        Some(mut failure) => {
            // Already printed above; the caller prints only the summary.
            failure.message = format!(
                "{} of {} queries failed",
                requests.len() - answers.len(),
                requests.len()
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
