//! The next version of a dataset whose files only grew: rows appended to a
//! CSV file, or files added at the end of a set. Only the new bytes are
//! parsed; the rows already loaded are kept as they are.
//!
//! "Only grew" is checked, never assumed: a file's old bytes must hash to
//! what they hashed to when they were read (the whole old length, not a
//! sample), the old file must have ended with a newline (or its last
//! record could have grown), and added files must sort after every old
//! one (a full reload would put their rows after the old rows too, so
//! `first` and `last` answer alike). Anything else is a full reload.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use polars::prelude::*;
use xxhash_rust::xxh3::Xxh3;

use super::compression::{self, Compression};
use super::csv::{self, PartRead};
use super::input::{Format, Input};
use super::{
    Dataset, LoadOptions, LoadTimings, LoadedFrom, Origin, Table, columnar, fingerprint_of, scan,
};
use crate::{Error, Result};

/// A version built by appending: the new dataset and the rows it added.
pub(crate) struct Appended {
    pub(crate) dataset: Dataset,
    /// The added rows alone, as a table of the new dataset's schema (and
    /// its fingerprint: it is never a cache key's).
    pub(crate) rows: Dataset,
}

impl Dataset {
    /// The next version of this dataset when its files only grew (see the
    /// module's rules), reading only what was added; `None` when they did
    /// not, or did not change at all, and a full reload is the way.
    pub(crate) fn appended(&self) -> Result<Option<Appended>> {
        let started = Instant::now();
        let (
            Some(frame),
            Origin::Files {
                path,
                format,
                options,
            },
        ) = (self.frame(), &self.origin)
        else {
            return Ok(None);
        };
        if self.files.is_empty() {
            return Ok(None);
        }
        let input = Input::resolve(path, options.format)?;
        if input.format != *format {
            return Ok(None);
        }
        let grown = if input.is_set() {
            self.grown_set(frame, &input, options)?
        } else {
            self.grown_file(frame, &input, options)?
        };
        let Some((frame, parts, mut timings)) = grown else {
            return Ok(None);
        };
        let fingerprint = fingerprint_of(&input, &parts, options);
        let old_rows = self.rows;
        let rows = frame.slice(old_rows as i64, frame.height() - old_rows);
        timings.total = started.elapsed();
        let mut dataset = Dataset::new(
            Table::Frame(frame),
            fingerprint,
            self.origin.clone(),
            started,
        );
        dataset.files = input.files.into_iter().zip(parts).collect();
        dataset.loaded_from = LoadedFrom::Appended;
        dataset.timings = Some(timings);
        dataset.name.clone_from(&self.name);
        let rows = Dataset::new(Table::Frame(rows), fingerprint, Origin::Frame, started);
        Ok(Some(Appended { dataset, rows }))
    }

    /// A lone CSV file that grew past its old end.
    fn grown_file(
        &self,
        frame: &DataFrame,
        input: &Input,
        options: &LoadOptions,
    ) -> Result<Option<(DataFrame, Vec<PartRead>, LoadTimings)>> {
        let path = &input.files[0];
        let [(old_path, old)] = self.files.as_slice() else {
            return Ok(None);
        };
        if input.format != Format::Csv || old_path != path || !old.ends_with_newline {
            return Ok(None);
        }
        // The types were inferred from the first rows: only when the old
        // file held all of them can appended rows not change what a whole
        // load infers (a file of a header alone types every column text).
        if options
            .infer_schema_rows
            .is_none_or(|window| self.rows < window)
        {
            return Ok(None);
        }
        let (compression, _) = compression::open(path).map_err(|e| Error::io(path, e))?;
        let len = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        if compression != Compression::None || len <= old.bytes {
            return Ok(None);
        }
        let Some(hashed) = prefix_hash(path, old.bytes)? else {
            return Ok(None);
        };
        if hashed.digest128() != old.hash {
            return Ok(None);
        }
        let part = csv::Part::appended(path, old.bytes, hashed)?;
        let parsed = csv::parse_appended(frame.clone(), vec![part], options, path)?;
        Ok(Some((parsed.frame, parsed.parts, parsed.timings)))
    }

    /// A set whose old files are all still there, unchanged, followed by
    /// new ones.
    fn grown_set(
        &self,
        frame: &DataFrame,
        input: &Input,
        options: &LoadOptions,
    ) -> Result<Option<(DataFrame, Vec<PartRead>, LoadTimings)>> {
        let old = &self.files;
        let kept = input.files.len() > old.len()
            && input
                .files
                .iter()
                .zip(old)
                .all(|(new, (was, _))| new == was);
        if !kept {
            return Ok(None);
        }
        let mut parts = Vec::with_capacity(input.files.len());
        for (path, was) in old {
            let now = scan::hash_file(path, input.format)?;
            if now.hash != was.hash {
                return Ok(None);
            }
            parts.push(now);
        }
        let added = &input.files[old.len()..];
        let first_file = &old[0].0;
        let (frame, added_parts, timings) = match input.format {
            Format::Csv => {
                let new_parts = added
                    .iter()
                    .map(|file| csv::Part::file(file, options))
                    .collect::<Result<Vec<_>>>()?;
                let parsed = csv::parse_appended(frame.clone(), new_parts, options, first_file)?;
                (parsed.frame, parsed.parts, parsed.timings)
            }
            _ => {
                let Some(shape) = &self.shape else {
                    return Ok(None);
                };
                columnar::load_added(frame, shape, added)?
            }
        };
        parts.extend(added_parts);
        Ok(Some((frame, parts, timings)))
    }
}

/// The hash state after the first `len` bytes of `path`; `None` when it
/// is shorter.
fn prefix_hash(path: &Path, len: u64) -> Result<Option<Xxh3>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let hashed = super::fingerprint::hash_stream(file.take(len)).map_err(|e| Error::io(path, e))?;
    Ok((hashed.bytes == len).then_some(hashed.hasher))
}
