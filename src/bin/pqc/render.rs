//! Query results in the output formats of `pqc query`.

use std::io::Write;
use std::time::Duration;

use polars::prelude::*;
use polars_query_cache::Frame;
use polars_query_cache::output::{columns_json, rows_json};
use serde_json::json;

use crate::args::Format;
use crate::fail::Failure;

/// One answered query.
pub struct Answer {
    pub frame: Frame,
    pub elapsed: Duration,
}

fn result_json(index: usize, answer: &Answer) -> serde_json::Value {
    json!({
        "query": index + 1,
        "source": answer.frame.source().name(),
        "elapsed_us": answer.elapsed.as_micros() as u64,
        "columns": columns_json(answer.frame.dataframe()),
        "rows": rows_json(answer.frame.dataframe()),
    })
}

pub fn write(out: &mut impl Write, format: Format, answers: &[Answer]) -> Result<(), Failure> {
    let io = |e| Failure::io("stdout", e);
    match format {
        Format::Table => {
            for (i, answer) in answers.iter().enumerate() {
                if i > 0 {
                    writeln!(out).map_err(io)?;
                }
                writeln!(
                    out,
                    "-- query {} of {}: {}, {:.3} ms, {} rows",
                    i + 1,
                    answers.len(),
                    answer.frame.source(),
                    answer.elapsed.as_secs_f64() * 1e3,
                    answer.frame.height()
                )
                .map_err(io)?;
                table(out, answer.frame.dataframe()).map_err(io)?;
            }
        }
        Format::Json => {
            let all: Vec<_> = answers
                .iter()
                .enumerate()
                .map(|(i, a)| result_json(i, a))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &all)
                .map_err(|e| Failure::io("stdout", e.into()))?;
            writeln!(out).map_err(io)?;
        }
        Format::Ndjson => {
            for (i, answer) in answers.iter().enumerate() {
                serde_json::to_writer(&mut *out, &result_json(i, answer))
                    .map_err(|e| Failure::io("stdout", e.into()))?;
                writeln!(out).map_err(io)?;
            }
        }
        Format::Csv => {
            let several = answers.len() > 1;
            for (i, answer) in answers.iter().enumerate() {
                if i > 0 {
                    writeln!(out).map_err(io)?;
                }
                let mut frame = answer.frame.dataframe().clone();
                if several {
                    // Every row names its query, so blocks can be told apart
                    // even when a row is empty.
                    let index = Column::new_scalar(
                        "query".into(),
                        Scalar::from(i as i64 + 1),
                        frame.height(),
                    );
                    frame
                        .insert_column(0, index)
                        .map_err(|e| Failure::from(polars_query_cache::Error::from(e)))?;
                }
                CsvWriter::new(&mut *out)
                    .finish(&mut frame)
                    .map_err(|e| Failure::from(polars_query_cache::Error::from(e)))?;
            }
        }
        Format::Arrow => {
            let [answer] = answers else {
                return Err(Failure::usage(
                    "--format arrow writes one IPC stream: give exactly one query",
                ));
            };
            let mut frame = answer.frame.dataframe().clone();
            IpcStreamWriter::new(&mut *out)
                .finish(&mut frame)
                .map_err(|e| Failure::from(polars_query_cache::Error::from(e)))?;
        }
    }
    out.flush().map_err(io)
}

/// An aligned text table: numbers to the right, text to the left.
fn table(out: &mut impl Write, frame: &DataFrame) -> std::io::Result<()> {
    let header = columns_json(frame);
    let rows: Vec<Vec<String>> = rows_json(frame)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| match v {
                    serde_json::Value::Null => "null".to_owned(),
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = frame
        .columns()
        .iter()
        .map(|c| c.dtype().is_primitive_numeric())
        .collect();
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(j, h)| {
            rows.iter()
                .map(|r| r[j].chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(j, c)| {
                if numeric[j] {
                    format!("{c:>w$}", w = widths[j])
                } else {
                    format!("{c:<w$}", w = widths[j])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(&header))?;
    writeln!(
        out,
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    )?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}
