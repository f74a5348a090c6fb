//! Columnar snapshots of parsed datasets: the next start with an unchanged
//! CSV (same content, same options) reads the snapshot instead of parsing.
//!
//! A snapshot is an uncompressed Arrow IPC file (the memory-mappable
//! layout) named by the CSV's path and fingerprint, plus a small manifest:
//! the dictionary of the categorical values (categorical columns are stored
//! as their integer codes, so loading them costs no string hashing) and the
//! checksum (XXH3-128) of the Arrow file. The manifest is a line with the
//! checksum of its own JSON, then that JSON. Both files are written
//! atomically (synced, renamed, directory synced), the manifest first.
//! Snapshots of older versions of the same file are deleted when a new one
//! is written. A snapshot that fails a checksum or cannot be read is
//! deleted (logged) and the CSV parsed.

use std::fs::{self, File};
use std::io::{Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use rayon::prelude::*;
use xxhash_rust::xxh3::{Xxh3, xxh3_64, xxh3_128};

use super::Fingerprint;
use crate::files::{check_ipc_file, write_atomically};

fn path_tag(csv: &Path) -> String {
    let canonical = fs::canonicalize(csv).unwrap_or_else(|_| csv.to_owned());
    format!("{:016x}", xxh3_64(canonical.to_string_lossy().as_bytes()))
}

fn snapshot_path(dir: &Path, csv: &Path, fingerprint: Fingerprint) -> PathBuf {
    dir.join(format!("{}-{fingerprint}.arrow", path_tag(csv)))
}

fn manifest_path(snapshot: &Path) -> PathBuf {
    snapshot.with_extension("manifest")
}

/// The snapshot of this CSV file's latest parsed version, if any, and the
/// fingerprint it was taken at (which the caller must check).
pub(super) fn latest(dir: &Path, csv: &Path) -> Option<(Fingerprint, PathBuf)> {
    let tag = path_tag(csv);
    fs::read_dir(dir).ok()?.flatten().find_map(|entry| {
        let path = entry.path();
        let name = path.file_name()?.to_str()?;
        let fingerprint = name
            .strip_prefix(&tag)?
            .strip_prefix('-')?
            .strip_suffix(".arrow")?;
        Some((fingerprint.parse().ok()?, path))
    })
}

/// Reads a snapshot; an unreadable one is deleted. Whatever the files
/// hold, this returns (a panic of the Arrow reader is caught).
pub(super) fn read(path: &Path) -> Option<DataFrame> {
    let outcome = catch_unwind(AssertUnwindSafe(|| read_frame(path)))
        .unwrap_or_else(|_| Err(polars_err!(ComputeError: "the Arrow reader panicked")));
    match outcome {
        Ok(frame) => Some(frame),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable snapshot; parsing the CSV instead");
            for file in [path.to_owned(), manifest_path(path)] {
                if let Err(e) = fs::remove_file(&file) {
                    tracing::warn!(path = %file.display(), error = %e, "cannot delete the unreadable snapshot");
                }
            }
            None
        }
    }
}

fn read_frame(path: &Path) -> PolarsResult<DataFrame> {
    let manifest = read_manifest(&fs::read(manifest_path(path))?)?;
    let mut file = File::open(path)?;
    let checksum = checksum_of(&mut file)?;
    if format!("{checksum:032x}") != manifest.checksum {
        polars_bail!(ComputeError: "snapshot checksum mismatch: the file is damaged");
    }
    // What the Arrow reader will allocate, bounded before it does.
    check_ipc_file(&mut file, None).map_err(|e| polars_err!(ComputeError: "snapshot: {e}"))?;
    file.rewind()?;
    let dictionary = manifest.dictionary;
    let mut frame = IpcReader::new(file).finish()?;
    if dictionary.columns.is_empty() {
        return Ok(frame);
    }
    // One mapping for every categorical column, as at load: codes are the
    // positions of the values, so inserting them in order restores them.
    let categories = Categories::random(PlSmallStr::from_static("pqc"), CategoricalPhysical::U32);
    let dtype = DataType::from_categories(categories);
    let DataType::Categorical(_, mapping) = &dtype else {
        polars_bail!(ComputeError: "not a categorical type");
    };
    for (code, value) in dictionary.values.iter().enumerate() {
        if mapping.insert_cat(value)? as usize != code {
            polars_bail!(ComputeError: "snapshot dictionary out of order");
        }
    }
    // Each column's codes are checked against the mapping: in parallel.
    let restored: Vec<(usize, Series)> = dictionary
        .columns
        .par_iter()
        .map(|name| {
            let idx = frame
                .get_column_index(name)
                .ok_or_else(|| polars_err!(ColumnNotFound: "{name}"))?;
            let codes = frame.columns()[idx].as_materialized_series().u32()?.clone();
            Ok((
                idx,
                Categorical32Chunked::from_cats_and_dtype(codes, dtype.clone()).into_series(),
            ))
        })
        .collect::<PolarsResult<_>>()?;
    for (idx, column) in restored {
        frame.replace_column(idx, column.into())?;
    }
    Ok(frame)
}

/// XXH3-128 of a whole file, read in chunks (a snapshot can be large).
fn checksum_of(file: &mut File) -> std::io::Result<u128> {
    let mut hasher = Xxh3::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(hasher.digest128());
        }
        hasher.update(&buffer[..n]);
    }
}

/// The manifest's bytes: the checksum of the JSON on the first line, then
/// the JSON.
fn manifest_bytes(manifest: &Manifest) -> Vec<u8> {
    let json = serde_json::to_vec(manifest).unwrap_or_default();
    let mut out = format!("{:032x}\n", xxh3_128(&json)).into_bytes();
    out.extend_from_slice(&json);
    out
}

fn read_manifest(bytes: &[u8]) -> PolarsResult<Manifest> {
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| polars_err!(ComputeError: "snapshot manifest without a checksum"))?;
    let (line, json) = (&bytes[..newline], &bytes[newline + 1..]);
    if line != format!("{:032x}", xxh3_128(json)).as_bytes() {
        polars_bail!(ComputeError: "snapshot manifest checksum mismatch: the file is damaged");
    }
    serde_json::from_slice(json).map_err(|e| polars_err!(ComputeError: "snapshot manifest: {e}"))
}

/// What a snapshot needs besides its Arrow file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    /// XXH3-128 of the Arrow file, in hex.
    checksum: String,
    dictionary: Dictionary,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Dictionary {
    /// The categorical columns, stored as their codes.
    columns: Vec<String>,
    /// The values of the shared mapping, by code.
    values: Vec<String>,
}

/// Stores `frame` as the snapshot of this CSV version and deletes the
/// snapshots of its older versions. Failures are logged: a snapshot only
/// saves time.
pub(super) fn write(dir: &Path, csv: &Path, fingerprint: Fingerprint, frame: &DataFrame) {
    let path = snapshot_path(dir, csv, fingerprint);
    let (stored, dictionary) = match as_codes(frame) {
        Ok(parts) => parts,
        Err(e) => {
            tracing::warn!(error = %e, "cannot encode a snapshot");
            return;
        }
    };
    let mut bytes = Vec::new();
    let mut stored = stored;
    if let Err(e) = IpcWriter::new(&mut bytes)
        .with_compat_level(CompatLevel::newest())
        .finish(&mut stored)
    {
        tracing::warn!(error = %e, "cannot encode a snapshot");
        return;
    }
    let manifest = manifest_bytes(&Manifest {
        checksum: format!("{:032x}", xxh3_128(&bytes)),
        dictionary,
    });
    if let Err(e) = write_atomically(&manifest_path(&path), &manifest)
        .and_then(|()| write_atomically(&path, &bytes))
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot write a snapshot");
        return;
    }
    let tag = path_tag(csv);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let other = entry.path();
        let name = other.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ours = other == path || other == manifest_path(&path);
        if !ours
            && name.starts_with(&tag)
            && let Err(e) = fs::remove_file(&other)
        {
            tracing::warn!(path = %other.display(), error = %e, "cannot delete an old snapshot");
        }
    }
}

/// The frame with its categorical columns replaced by their codes, and the
/// dictionary to restore them.
fn as_codes(frame: &DataFrame) -> PolarsResult<(DataFrame, Dictionary)> {
    let mut stored = frame.clone();
    let mut dictionary = Dictionary {
        columns: Vec::new(),
        values: Vec::new(),
    };
    let mut mapping = None;
    for (idx, column) in frame.columns().iter().enumerate() {
        let DataType::Categorical(_, m) = column.dtype() else {
            continue;
        };
        if !Arc::ptr_eq(mapping.get_or_insert_with(|| m.clone()), m) {
            polars_bail!(ComputeError: "categorical columns with different mappings");
        }
        let codes = column.as_materialized_series().cat32()?.physical().clone();
        stored.replace_column(idx, codes.into_series().into())?;
        dictionary.columns.push(column.name().to_string());
    }
    if let Some(m) = mapping {
        let n = m.num_cats_upper_bound();
        for code in 0..n {
            let value = m
                .cat_to_str(code as u32)
                .ok_or_else(|| polars_err!(ComputeError: "a categorical code without a value"))?;
            dictionary.values.push(value.to_owned());
        }
    }
    Ok((stored, dictionary))
}
