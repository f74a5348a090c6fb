//! The disk tier and dataset snapshots: survive restarts, never serve a
//! stale or damaged entry, fail soft.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use polars::prelude::{DataFrame, DataType, IntoLazy};
use polars_query_cache::tier::{TierSecret, codec};
use polars_query_cache::{Agg, AggFn, CachedQuery, LoadedFrom, Query, Source};

use crate::common::{self, entry_files};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sales.csv")
}

fn with_disk(dir: &Path) -> CachedQuery {
    CachedQuery::builder()
        .disk_dir(dir)
        .build_from_csv(sample())
        .unwrap()
}

fn q() -> Query {
    Query::new()
        .eq("category", "Books")
        .group_by(["month"])
        .sum("revenue")
        .len()
}

#[test]
fn a_second_instance_answers_from_disk_without_computing() {
    let dir = tempfile::tempdir().unwrap();
    let first = with_disk(dir.path());
    assert_eq!(first.dataset().loaded_from(), LoadedFrom::Parsed);
    let computed = first.get(&q()).unwrap();
    assert_eq!(first.cache_info().disk_writes, 1);
    drop(first);

    let second = with_disk(dir.path());
    assert_eq!(second.dataset().loaded_from(), LoadedFrom::Snapshot);
    let from_disk = second.get(&q()).unwrap();
    assert_eq!(from_disk.source(), Source::Disk);
    assert!(from_disk.dataframe().equals_missing(computed.dataframe()));
    // Promoted to memory.
    assert_eq!(second.get(&q()).unwrap().source(), Source::Memory);
    let info = second.cache_info();
    assert_eq!(
        (
            info.computations,
            info.disk_hits,
            info.memory_hits,
            info.hits,
            info.misses
        ),
        (0, 1, 1, 2, 0)
    );
    // An equivalent spelling is the same file.
    let variant = Query::new()
        .is_in("category", ["Books"])
        .group_by(["month"])
        .len()
        .sum("revenue");
    let third = with_disk(dir.path());
    assert_eq!(third.get(&variant).unwrap().source(), Source::Disk);
}

#[test]
fn every_kind_of_damage_is_detected_recomputed_and_counted() {
    type Harm = fn(&mut Vec<u8>);
    let damage: [(&str, Harm); 4] = [
        ("truncated", |b| b.truncate(b.len() / 2)),
        ("flipped", |b| {
            let at = b.len() - 40;
            b[at] ^= 0x5a;
        }),
        ("version", |b| b[4] = 99),
        ("empty", |b| b.clear()),
    ];
    for (what, harm) in damage {
        let dir = tempfile::tempdir().unwrap();
        let expected = with_disk(dir.path()).get(&q()).unwrap();
        let [file] = entry_files(dir.path()).try_into().unwrap();
        let mut bytes = std::fs::read(&file).unwrap();
        harm(&mut bytes);
        std::fs::write(&file, &bytes).unwrap();

        let cache = with_disk(dir.path());
        let answer = cache.get(&q()).unwrap();
        assert_eq!(answer.source(), Source::Computed, "{what}");
        assert!(
            answer.dataframe().equals_missing(expected.dataframe()),
            "{what}"
        );
        let info = cache.cache_info();
        assert_eq!(
            (info.disk_rejected, info.disk_hits, info.computations),
            (1, 0, 1),
            "{what}: {info:?}"
        );
        // The damaged file was replaced by a good one.
        assert_eq!(
            with_disk(dir.path()).get(&q()).unwrap().source(),
            Source::Disk,
            "{what}"
        );
    }
}

#[test]
fn a_planted_entry_of_another_key_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let cache = with_disk(dir.path());
    let other = Query::new()
        .eq("category", "Games")
        .group_by(["month"])
        .sum("revenue")
        .len();
    cache.get(&q()).unwrap();
    let games = cache.get(&other).unwrap();
    drop(cache);
    // Put the Books entry where the Games entry lives: a collision on purpose.
    let fresh = with_disk(dir.path());
    let books_key = fresh.key(&q()).unwrap();
    let games_key = fresh.key(&other).unwrap();
    let files = entry_files(dir.path());
    let find = |key: &polars_query_cache::QueryKey| {
        files
            .iter()
            .find(|f| {
                std::fs::read(f)
                    .unwrap()
                    .windows(key.stable_text().len())
                    .any(|w| w == key.stable_text().as_bytes())
            })
            .unwrap()
            .clone()
    };
    std::fs::copy(find(&books_key), find(&games_key)).unwrap();
    let answer = fresh.get(&other).unwrap();
    assert_eq!(answer.source(), Source::Computed);
    assert!(answer.dataframe().equals_missing(games.dataframe()));
    assert_eq!(fresh.cache_info().disk_rejected, 1);
}

#[test]
fn a_rewritten_csv_gets_no_old_answer_and_a_new_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("t.csv");
    let cache_dir = dir.path().join("cache");
    std::fs::write(&data, "category,units\nBooks,1\nBooks,2\n").unwrap();
    let open = || {
        CachedQuery::builder()
            .disk_dir(&cache_dir)
            .build_from_csv(&data)
            .unwrap()
    };
    let total = |c: &CachedQuery| {
        c.get(&Query::new().sum("units"))
            .unwrap()
            .column("sum_units")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<i64>()
    };
    let a = open();
    assert_eq!(total(&a), Some(3));
    drop(a);
    std::fs::write(&data, "category,units\nBooks,10\nBooks,20\n").unwrap();
    let b = open();
    assert_eq!(b.dataset().loaded_from(), LoadedFrom::Parsed);
    assert_eq!(total(&b), Some(30));
    assert_eq!(b.cache_info().computations, 1);
    let snapshots: Vec<_> = std::fs::read_dir(cache_dir.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "arrow"))
        .collect();
    assert_eq!(
        snapshots.len(),
        1,
        "the old snapshot is gone: {snapshots:?}"
    );
    drop(b);
    assert_eq!(open().dataset().loaded_from(), LoadedFrom::Snapshot);

    // refresh() in a running process drops the old version's files too.
    let c = open();
    total(&c);
    std::fs::write(&data, "category,units\nBooks,100\n").unwrap();
    assert!(c.refresh().unwrap().changed());
    assert_eq!(total(&c), Some(100));
    let dataset_dirs: Vec<_> = std::fs::read_dir(cache_dir.join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dataset_dirs.len(), 1, "{dataset_dirs:?}");
}

#[test]
fn invalidate_and_clear_reach_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cache = with_disk(dir.path());
    cache.get(&q()).unwrap();
    cache.get(&Query::new().len()).unwrap();
    assert!(cache.invalidate(&q()).unwrap());
    assert_eq!(entry_files(dir.path()).len(), 1);
    assert_eq!(cache.invalidate_where(|_| true), 1);
    assert_eq!(entry_files(dir.path()).len(), 0);
    cache.get(&q()).unwrap();
    cache.clear();
    assert!(with_disk(dir.path()).get(&q()).unwrap().source() == Source::Computed);
}

#[test]
fn the_disk_budget_evicts_least_recently_used_files() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CachedQuery::builder()
        .disk_dir(dir.path())
        .disk_max_bytes(6_000)
        .build_from_frame(common::frame(&common::rows(3_000, 1)))
        .unwrap();
    for x in -20..20i64 {
        cache
            .get(&Query::new().ge("x", x).group_by(["cat"]).sum("y"))
            .unwrap();
    }
    let info = cache.cache_info();
    assert!(
        info.disk_bytes <= 6_000 && info.disk_evictions > 0,
        "{info:?}"
    );
    let on_disk: u64 = entry_files(dir.path())
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(on_disk, info.disk_bytes);
}

#[test]
fn threads_writing_the_same_keys_leave_no_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    // No memory tier to speak of: every request goes to the disk.
    let caches: Vec<Arc<CachedQuery>> = (0..4)
        .map(|_| {
            Arc::new(
                CachedQuery::builder()
                    .max_bytes(0)
                    .disk_dir(dir.path())
                    .build_from_csv(sample())
                    .unwrap(),
            )
        })
        .collect();
    let queries: Vec<Query> = (1..=12)
        .map(|m| {
            Query::new()
                .eq("month", m)
                .group_by(["category"])
                .sum("units")
        })
        .collect();
    std::thread::scope(|s| {
        for cache in &caches {
            let queries = &queries;
            s.spawn(move || {
                for _ in 0..3 {
                    for q in queries {
                        let frame = cache.get(q).unwrap();
                        assert!(frame.height() > 0);
                    }
                }
            });
        }
    });
    let reader = with_disk(dir.path());
    for q in &queries {
        let frame = reader.get(q).unwrap();
        assert_eq!(frame.source(), Source::Disk);
        assert!(
            frame
                .dataframe()
                .equals_missing(reader.get_uncached(q).unwrap().dataframe())
        );
    }
    assert_eq!(reader.cache_info().disk_rejected, 0);
}

#[test]
fn two_processes_writing_the_same_keys_leave_no_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("q.ndjson");
    let lines: Vec<String> = (1..=12).map(|m| format!(r#"{{"filters": {{"month": {m}}}, "group_by": ["region"], "aggs": [{{"fn": "sum", "column": "revenue"}}]}}"#)).collect();
    std::fs::write(&queries, lines.join("\n")).unwrap();
    let cache_dir = dir.path().join("cache");
    let pqc_query = || {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"));
        cmd.arg("query")
            .arg(sample())
            .arg("--queries")
            .arg(&queries)
            .arg("--cache-dir")
            .arg(&cache_dir);
        cmd.args(["--format", "csv", "--quiet"])
            .stdout(std::process::Stdio::null());
        cmd
    };
    let children: Vec<_> = (0..3).map(|_| pqc_query().spawn().unwrap()).collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let stats = dir.path().join("stats.json");
    assert!(
        pqc_query()
            .arg("--stats")
            .arg(&stats)
            .status()
            .unwrap()
            .success()
    );
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(stats["disk_hits"], 12, "{stats}");
    assert_eq!(stats["computations"], 0);
    assert_eq!(stats["disk_rejected"], 0);
}

#[test]
fn an_unusable_directory_is_counted_and_queries_still_work() {
    let dir = tempfile::tempdir().unwrap();
    // A path below a regular file: nothing can be created there, even as root.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let cache = CachedQuery::builder()
        .disk_dir(blocker.join("cache"))
        .build_from_csv(sample())
        .unwrap();
    let answer = cache.get(&q()).unwrap();
    assert!(
        answer
            .dataframe()
            .equals_missing(cache.get_uncached(&q()).unwrap().dataframe())
    );
    assert_eq!(cache.get(&q()).unwrap().source(), Source::Memory);
    let info = cache.cache_info();
    assert!(info.disk_errors >= 2, "{info:?}");
    assert_eq!(info.disk_writes, 0);
}

#[test]
fn a_damaged_snapshot_is_deleted_and_the_csv_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let expected = with_disk(dir.path()).get_uncached(&q()).unwrap();
    let snapshot = std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "arrow"))
        .unwrap();
    let bytes = std::fs::read(&snapshot).unwrap();
    std::fs::write(&snapshot, &bytes[..bytes.len() / 3]).unwrap();
    let cache = with_disk(dir.path());
    assert_eq!(cache.dataset().loaded_from(), LoadedFrom::Parsed);
    assert!(
        cache
            .get(&q())
            .unwrap()
            .dataframe()
            .equals_missing(expected.dataframe())
    );
    // Rewritten by that parse, and good again.
    let again = with_disk(dir.path());
    assert_eq!(again.dataset().loaded_from(), LoadedFrom::Snapshot);
    assert!(
        again
            .get_uncached(&q())
            .unwrap()
            .dataframe()
            .equals_missing(expected.dataframe())
    );
}

fn with_secret(dir: &Path, secret: Option<&str>) -> CachedQuery {
    let builder = CachedQuery::builder().disk_dir(dir);
    match secret {
        Some(s) => builder.tier_secret(s),
        None => builder,
    }
    .build_from_csv(sample())
    .unwrap()
}

/// The one entry file on disk.
fn only_entry(dir: &Path) -> PathBuf {
    let [file] = entry_files(dir).try_into().unwrap();
    file
}

#[test]
fn with_a_secret_unsigned_and_forged_entries_are_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let secret = Some("a shared secret of the workers");
    let expected = with_secret(dir.path(), secret).get(&q()).unwrap();
    // Signed with the secret: read.
    assert_eq!(
        with_secret(dir.path(), secret).get(&q()).unwrap().source(),
        Source::Disk
    );
    let key = with_secret(dir.path(), secret).key(&q()).unwrap();
    // What someone who can write to the directory can plant: the right
    // key, a frame of the right shape with other numbers, a valid checksum,
    // and no MAC or a MAC under another secret.
    let lie = expected
        .dataframe()
        .clone()
        .lazy()
        .with_column(polars::prelude::col("sum_revenue") * polars::prelude::lit(2.0));
    let lie = lie.collect().unwrap();
    let forgeries = [
        (
            "unsigned",
            codec::encode(key.stable_text(), &lie, Duration::ZERO).unwrap(),
        ),
        (
            "other secret",
            codec::encode_with(
                key.stable_text(),
                &lie,
                Duration::ZERO,
                Some(&TierSecret::new("a guess")),
            )
            .unwrap(),
        ),
        ("written without the secret", {
            let plain = tempfile::tempdir().unwrap();
            with_secret(plain.path(), None).get(&q()).unwrap();
            std::fs::read(only_entry(plain.path())).unwrap()
        }),
    ];
    for (what, bytes) in forgeries {
        std::fs::write(only_entry(dir.path()), &bytes).unwrap();
        let cache = with_secret(dir.path(), secret);
        let answer = cache.get(&q()).unwrap();
        assert_eq!(answer.source(), Source::Computed, "{what}");
        assert!(
            answer.dataframe().equals_missing(expected.dataframe()),
            "{what}"
        );
        let info = cache.cache_info();
        assert_eq!(
            (info.tier_forged, info.disk_rejected, info.disk_hits),
            (1, 1, 0),
            "{what}: {info:?}"
        );
        // The recomputed, signed answer replaced it.
        assert_eq!(
            with_secret(dir.path(), secret).get(&q()).unwrap().source(),
            Source::Disk,
            "{what}"
        );
    }
}

#[test]
fn with_a_secret_truncated_and_flipped_entries_are_rejected() {
    let secret = Some("s3cret");
    type Harm = fn(&mut Vec<u8>);
    let damage: [(&str, Harm); 3] = [
        ("truncated", |b| b.truncate(b.len() - 20)),
        ("flipped", |b| {
            let at = b.len() / 2;
            b[at] ^= 0x01;
        }),
        ("empty", |b| b.clear()),
    ];
    for (what, harm) in damage {
        let dir = tempfile::tempdir().unwrap();
        let expected = with_secret(dir.path(), secret).get(&q()).unwrap();
        let file = only_entry(dir.path());
        let mut bytes = std::fs::read(&file).unwrap();
        harm(&mut bytes);
        std::fs::write(&file, &bytes).unwrap();
        let cache = with_secret(dir.path(), secret);
        let answer = cache.get(&q()).unwrap();
        assert_eq!(answer.source(), Source::Computed, "{what}");
        assert!(answer.dataframe().equals_missing(expected.dataframe()));
        let info = cache.cache_info();
        assert_eq!((info.disk_rejected, info.computations), (1, 1), "{what}");
    }
}

#[test]
fn an_entry_of_another_shape_under_this_key_is_never_served() {
    // With and without a secret: the writer may hold the secret (a bug,
    // an older release) and still have written the wrong frame.
    for secret in [None, Some("s3cret")] {
        let dir = tempfile::tempdir().unwrap();
        let cache = with_secret(dir.path(), secret);
        let total = Query::new().eq("category", "Books").sum("revenue");
        let expected_total = cache.get(&total).unwrap();
        let expected_q = cache.get(&q()).unwrap();
        let other = cache
            .get(&Query::new().group_by(["region"]).mean("units"))
            .unwrap();
        drop(cache);
        let fresh = with_secret(dir.path(), secret);
        let path_of = |key: &polars_query_cache::QueryKey| {
            entry_files(dir.path())
                .into_iter()
                .find(|f| codec::peek_key(&std::fs::read(f).unwrap()).unwrap() == key.stable_text())
                .unwrap()
        };
        let signer = secret.map(TierSecret::new);
        let paths: Vec<(polars_query_cache::QueryKey, PathBuf)> = [&q(), &total]
            .into_iter()
            .map(|query| {
                let key = fresh.key(query).unwrap();
                let path = path_of(&key);
                (key, path)
            })
            .collect();
        let plant = |query: &Query, frame: &DataFrame| {
            let key = fresh.key(query).unwrap();
            let (_, path) = paths.iter().find(|(k, _)| *k == key).unwrap();
            let bytes =
                codec::encode_with(key.stable_text(), frame, Duration::ZERO, signer.as_ref())
                    .unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        let retyped = expected_q
            .dataframe()
            .clone()
            .lazy()
            .with_column(polars::prelude::col("len").cast(DataType::Float64))
            .collect()
            .unwrap();
        let two_rows = concat_frames(expected_total.dataframe());
        let cases: [(&str, &Query, &DataFrame, &DataFrame); 3] = [
            (
                "another query's frame",
                &q(),
                other.dataframe(),
                expected_q.dataframe(),
            ),
            ("another type", &q(), &retyped, expected_q.dataframe()),
            (
                "two rows without a group-by",
                &total,
                &two_rows,
                expected_total.dataframe(),
            ),
        ];
        for (n, (what, query, planted, expected)) in cases.into_iter().enumerate() {
            plant(query, planted);
            let answer = fresh.get(query).unwrap();
            assert_eq!(answer.source(), Source::Computed, "{what}, {secret:?}");
            assert!(answer.dataframe().equals_missing(expected), "{what}");
            let info = fresh.cache_info();
            assert_eq!(
                (info.tier_wrong_schema, info.disk_rejected, info.tier_forged),
                (n as u64 + 1, n as u64 + 1, 0),
                "{what}, {secret:?}: {info:?}"
            );
            fresh.invalidate(query).unwrap();
        }
    }
}

fn concat_frames(frame: &DataFrame) -> DataFrame {
    let mut twice = frame.clone();
    twice.vstack_mut(frame).unwrap();
    twice
}

#[test]
fn every_aggregate_of_every_column_type_reads_back_from_disk() {
    // The check of a read entry against its key's schema must accept every
    // frame the cache computes: each is read back, none rejected.
    let dir = tempfile::tempdir().unwrap();
    let df = common::frame(&common::rows(500, 7));
    let open = || {
        CachedQuery::builder()
            .disk_dir(dir.path())
            .derive(polars_query_cache::DeriveMode::Off)
            .build_from_frame(df.clone())
            .unwrap()
    };
    let mut queries = Vec::new();
    for column in ["cat", "k", "x", "y", "d", "b"] {
        for func in AggFn::ALL {
            let agg = if func == AggFn::Len {
                Agg::len()
            } else {
                Agg::new(func, column)
            };
            for group in [None, Some("cat"), Some("d"), Some("b")] {
                let mut query = Query::new().agg(agg.clone());
                if let Some(g) = group {
                    query = query.group_by([g]);
                }
                queries.push(query.clone());
                // A contradiction runs on an empty frame.
                queries.push(query.clone().gt("x", 5).lt("x", 3));
                queries.push(query.limit(2).ge("k", 1));
            }
        }
    }
    let writer = open();
    let computed: Vec<_> = queries.iter().map(|q| writer.get(q).ok()).collect();
    let written = computed.iter().flatten().count();
    assert!(written > 300, "{written} queries ran");
    let reader = open();
    for (query, first) in queries.iter().zip(&computed) {
        let Some(first) = first else { continue };
        let again = reader.get(query).unwrap();
        assert!(
            matches!(again.source(), Source::Disk | Source::Memory),
            "{query:?}: {:?}",
            again.source()
        );
        assert!(
            again.dataframe().equals_missing(first.dataframe()),
            "{query:?}"
        );
    }
    let info = reader.cache_info();
    assert_eq!(
        (
            info.disk_rejected,
            info.tier_wrong_schema,
            info.computations
        ),
        (0, 0, 0),
        "{info:?}"
    );
}

fn snapshot_files(dir: &Path) -> (PathBuf, PathBuf) {
    let files: Vec<PathBuf> = std::fs::read_dir(dir.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let find = |ext: &str| {
        files
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == ext))
            .unwrap()
            .clone()
    };
    (find("arrow"), find("manifest"))
}

#[test]
fn a_snapshot_with_a_flipped_byte_is_rejected_and_the_csv_read() {
    let dir = tempfile::tempdir().unwrap();
    let expected = with_disk(dir.path()).get_uncached(&q()).unwrap();
    assert_eq!(
        with_disk(dir.path()).dataset().loaded_from(),
        LoadedFrom::Snapshot
    );
    let (arrow, manifest) = snapshot_files(dir.path());
    // In the middle of the Arrow file: column data, which the Arrow reader
    // itself does not check; and in the manifest's dictionary.
    for (what, file) in [("arrow", arrow), ("manifest", manifest)] {
        let mut bytes = std::fs::read(&file).unwrap();
        let at = if what == "arrow" {
            bytes.len() / 2
        } else {
            bytes.len() - 10
        };
        bytes[at] ^= 0x04;
        std::fs::write(&file, &bytes).unwrap();
        let cache = with_disk(dir.path());
        assert_eq!(cache.dataset().loaded_from(), LoadedFrom::Parsed, "{what}");
        assert!(
            cache
                .get_uncached(&q())
                .unwrap()
                .dataframe()
                .equals_missing(expected.dataframe()),
            "{what}"
        );
        // Rewritten by that parse, and good again.
        assert_eq!(
            with_disk(dir.path()).dataset().loaded_from(),
            LoadedFrom::Snapshot,
            "{what}"
        );
    }
}

#[test]
fn pqc_takes_the_tier_secret_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let run = |secret: &str, n: usize| -> serde_json::Value {
        let stats = dir.path().join(format!("{n}.json"));
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
            .arg("query")
            .arg(sample())
            .args(["--filter", "category=Toys", "--group-by", "region"])
            .args(["--agg", "sum:revenue", "--format", "csv", "--quiet"])
            .arg("--cache-dir")
            .arg(&cache_dir)
            .arg("--stats")
            .arg(&stats)
            .env("PQC_TIER_SECRET", secret)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&std::fs::read_to_string(stats).unwrap()).unwrap()
    };
    assert_eq!(run("one secret", 1)["computations"], 1);
    let same = run("one secret", 2);
    assert_eq!(
        (same["disk_hits"].as_u64(), same["tier_forged"].as_u64()),
        (Some(1), Some(0)),
        "{same}"
    );
    let other = run("another secret", 3);
    assert_eq!(
        (
            other["computations"].as_u64(),
            other["disk_rejected"].as_u64(),
            other["tier_forged"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{other}"
    );
}

#[test]
fn a_file_larger_than_the_tier_is_not_even_read() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        CachedQuery::builder()
            .disk_dir(dir.path())
            .disk_max_bytes(100_000)
            .build_from_csv(sample())
            .unwrap()
    };
    let expected = open().get(&q()).unwrap();
    std::fs::write(only_entry(dir.path()), vec![7u8; 200_000]).unwrap();
    let cache = open();
    let answer = cache.get(&q()).unwrap();
    assert_eq!(answer.source(), Source::Computed);
    assert!(answer.dataframe().equals_missing(expected.dataframe()));
    assert_eq!(cache.cache_info().disk_rejected, 1);
}

#[test]
fn derived_answers_are_persisted_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let open = |derive| {
        CachedQuery::builder()
            .disk_dir(dir.path())
            .derive(derive)
            .rollup(
                Query::new()
                    .group_by(["category", "year", "month"])
                    .sum("revenue")
                    .count("revenue")
                    .len()
                    .min("units")
                    .max("price"),
            )
            .build_from_csv(sample())
            .unwrap()
    };
    let queries = [
        Query::new()
            .eq("category", "Books")
            .group_by(["month"])
            .mean("revenue"),
        Query::new().group_by(["year"]).sum("revenue").len(),
        Query::new().count("revenue"),
        Query::new()
            .eq("year", 2023)
            .group_by(["category"])
            .min("units")
            .max("price"),
    ];
    let deriving = open(polars_query_cache::DeriveMode::Approximate);
    let derived: Vec<_> = queries.iter().map(|q| deriving.get(q).unwrap()).collect();
    assert!(derived.iter().all(|f| f.source() == Source::Derived));
    let reader = open(polars_query_cache::DeriveMode::Off);
    for (query, first) in queries.iter().zip(&derived) {
        let again = reader.get(query).unwrap();
        assert_eq!(again.source(), Source::Disk, "{query:?}");
        assert!(again.dataframe().equals_missing(first.dataframe()));
    }
    assert_eq!(reader.cache_info().disk_rejected, 0);
}
