//! Columnar snapshots of parsed datasets: the next start with an unchanged
//! CSV (same content, same options) reads the snapshot instead of parsing.
//!
//! A snapshot is an uncompressed Arrow IPC file (the memory-mappable
//! layout) named by the CSV's path and fingerprint, written atomically.
//! Snapshots of older versions of the same file are deleted when a new one
//! is written. A snapshot that cannot be read is deleted and the CSV parsed.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::Fingerprint;
use crate::tier::disk::write_atomically;

fn path_tag(csv: &Path) -> String {
    let canonical = fs::canonicalize(csv).unwrap_or_else(|_| csv.to_owned());
    format!("{:016x}", xxh3_64(canonical.to_string_lossy().as_bytes()))
}

fn snapshot_path(dir: &Path, csv: &Path, fingerprint: Fingerprint) -> PathBuf {
    dir.join(format!("{}-{fingerprint}.arrow", path_tag(csv)))
}

/// The frame stored for this CSV version, if a readable snapshot exists.
pub(super) fn read(dir: &Path, csv: &Path, fingerprint: Fingerprint) -> Option<DataFrame> {
    let path = snapshot_path(dir, csv, fingerprint);
    let file = File::open(&path).ok()?;
    match IpcReader::new(file).finish() {
        Ok(frame) => Some(frame),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable snapshot; parsing the CSV instead");
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot delete the unreadable snapshot");
            }
            None
        }
    }
}

/// Stores `frame` as the snapshot of this CSV version and deletes the
/// snapshots of its older versions. Failures are logged: a snapshot only
/// saves time.
pub(super) fn write(dir: &Path, csv: &Path, fingerprint: Fingerprint, frame: &DataFrame) {
    let path = snapshot_path(dir, csv, fingerprint);
    let mut bytes = Vec::new();
    let mut frame = frame.clone();
    if let Err(e) = IpcWriter::new(&mut bytes)
        .with_compat_level(CompatLevel::newest())
        .finish(&mut frame)
    {
        tracing::warn!(error = %e, "cannot encode a snapshot");
        return;
    }
    if let Err(e) = write_atomically(&path, &bytes) {
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
        if other != path
            && name.starts_with(&tag)
            && name.ends_with(".arrow")
            && let Err(e) = fs::remove_file(&other)
        {
            tracing::warn!(path = %other.display(), error = %e, "cannot delete an old snapshot");
        }
    }
}
