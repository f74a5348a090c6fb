//! gzip and zstd CSV: read as the plain file they hold (same frame, same
//! fingerprint, same table name), recognised by their bytes, and a broken
//! stream is a malformed file, not a panic or a short table.

use std::io::Write;
use std::path::{Path, PathBuf};

use polars_query_cache::{Dataset, Error, LoadOptions, LoadedFrom};

use crate::common::assert_same_data;

fn sample() -> Vec<u8> {
    std::fs::read("data/sales.csv").unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 1).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn small_blocks() -> LoadOptions {
    LoadOptions::default()
        .with_infer_schema_rows(Some(100))
        .with_block_bytes(16 << 10)
}

#[test]
fn gzip_and_zstd_files_load_as_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let plain = Dataset::from_csv("data/sales.csv", &small_blocks()).unwrap();
    let csv = sample();
    // Two gzip members, as `cat a.gz b.gz` makes: one stream.
    let (head, tail) = csv.split_at(csv.len() / 2);
    let mut members = gzip(head);
    members.extend(gzip(tail));
    for (name, bytes) in [
        ("sales.csv.gz", gzip(&csv)),
        ("sales.csv.zst", zstd(&csv)),
        ("sales.csv.gz", members),
        // Named by neither: the bytes say what it is.
        ("sales.csv", zstd(&csv)),
    ] {
        let path = write(dir.path(), name, &bytes);
        let packed = Dataset::from_csv(&path, &small_blocks()).unwrap();
        assert_eq!(packed.fingerprint(), plain.fingerprint(), "{name}");
        assert_eq!(packed.name(), "sales", "{name}");
        assert_same_data(&packed, &plain);
        let from_bytes = Dataset::from_csv_bytes(name, bytes.clone(), &small_blocks()).unwrap();
        assert_eq!(from_bytes.fingerprint(), plain.fingerprint(), "{name}");
    }
}

#[test]
fn a_cut_or_corrupt_stream_is_a_malformed_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = sample();
    let gz = gzip(&csv);
    let mut flipped = gz.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    let zst = zstd(&csv);
    // A flipped byte may first decompress to text that does not parse:
    // that names the parse instead; either way, no table.
    for (name, bytes, format) in [
        ("cut.csv.gz", gz[..gz.len() / 2].to_vec(), Some("gzip")),
        ("flipped.csv.gz", flipped, None),
        ("cut.csv.zst", zst[..zst.len() / 2].to_vec(), Some("zstd")),
    ] {
        let path = write(dir.path(), name, &bytes);
        match Dataset::from_csv(&path, &small_blocks()) {
            Err(e @ Error::MalformedCsv { .. }) => {
                assert!(e.is_user_error());
                if let Some(format) = format {
                    let said = format!("{format} stream is corrupt");
                    assert!(e.to_string().contains(&said), "{e}");
                }
                assert!(e.to_string().contains(name), "{e}");
            }
            Err(other) => panic!("{name}: expected MalformedCsv, got {other:?}"),
            Ok(dataset) => panic!(
                "{name}: loaded {} rows from a broken stream",
                dataset.rows()
            ),
        }
    }
}

#[test]
fn a_compressed_file_s_snapshot_is_used_while_its_content_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let snapshots = dir.path().join("snapshots");
    let path = write(dir.path(), "sales.csv.gz", &gzip(&sample()));
    let options = LoadOptions::default();
    let first = Dataset::from_csv_with_snapshots(&path, &options, &snapshots).unwrap();
    assert_eq!(first.loaded_from(), LoadedFrom::Parsed);
    let second = Dataset::from_csv_with_snapshots(&path, &options, &snapshots).unwrap();
    assert_eq!(second.loaded_from(), LoadedFrom::Snapshot);
    assert_eq!(second.fingerprint(), first.fingerprint());
    // Recompressed differently, the same rows: still the same data.
    write(dir.path(), "sales.csv.gz", &zstd(&sample()));
    let third = Dataset::from_csv_with_snapshots(&path, &options, &snapshots).unwrap();
    assert_eq!(third.loaded_from(), LoadedFrom::Snapshot);
    // Other rows: parsed again.
    let mut changed = sample();
    changed.extend_from_slice(b"5001,2024-01-01,2024,1,Books,North,BK-001,Online,1,1.0,,1.0\n");
    write(dir.path(), "sales.csv.gz", &gzip(&changed));
    let fourth = Dataset::from_csv_with_snapshots(&path, &options, &snapshots).unwrap();
    assert_eq!(fourth.loaded_from(), LoadedFrom::Parsed);
    assert_eq!(fourth.rows(), 5001);
}

/// A pipe has no start to seek back to: the bytes read to recognise the
/// format are put back in front of the rest.
#[cfg(unix)]
#[test]
fn a_pipe_loads_plain_or_compressed() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("plain", sample()), ("packed", gzip(&sample()))] {
        let fifo = dir.path().join(name);
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
        };
        let piped = Dataset::from_csv(&fifo, &small_blocks()).unwrap();
        writer.join().unwrap();
        let plain = Dataset::from_csv("data/sales.csv", &small_blocks()).unwrap();
        assert_same_data(&piped, &plain);
    }
}
