//! A changed file is never answered from old entries.

use std::sync::Arc;

use polars_query_cache::{CachedQuery, Query, Source};

fn write(path: &std::path::Path, body: &str) {
    std::fs::write(path, body).unwrap();
}

#[test]
fn refresh_after_a_rewrite_serves_no_old_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    write(&path, "category,units\nBooks,1\nBooks,2\nGames,5\n");
    let cache = CachedQuery::from_csv(&path).unwrap();
    let q = Query::new().eq("category", "Books").sum("units");
    let before = cache.get(&q).unwrap();
    assert_eq!(
        before
            .column("sum_units")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<i64>(),
        Some(3)
    );

    // Nothing changed: same fingerprint, entries kept.
    let outcome = cache.refresh().unwrap();
    assert!(!outcome.changed());
    assert_eq!(cache.get(&q).unwrap().source(), Source::Memory);

    write(&path, "category,units\nBooks,10\nBooks,20\nGames,5\n");
    let outcome = cache.refresh().unwrap();
    assert!(outcome.changed());
    let after = cache.get(&q).unwrap();
    assert_eq!(after.source(), Source::Computed);
    assert_eq!(
        after
            .column("sum_units")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<i64>(),
        Some(30)
    );
    // The answer handed out before stays what it was.
    assert_eq!(
        before
            .column("sum_units")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<i64>(),
        Some(3)
    );
    assert_eq!(cache.cache_info().entries, 1);
}

#[test]
fn a_reader_holding_the_old_version_keeps_it_and_keys_differ() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    write(&path, "k,v\n1,1\n");
    let cache = Arc::new(CachedQuery::from_csv(&path).unwrap());
    let old = cache.dataset();
    let old_key = cache.key(&Query::new().sum("v")).unwrap();
    write(&path, "k,v\n1,2\n");
    cache.refresh().unwrap();
    let new_key = cache.key(&Query::new().sum("v")).unwrap();
    assert_ne!(old_key, new_key);
    assert_ne!(old.fingerprint(), cache.dataset().fingerprint());
    assert_eq!(old.rows(), 1);
}

#[test]
fn refresh_of_a_file_that_became_malformed_keeps_the_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    write(&path, "k,v\n1,1\n");
    let cache = CachedQuery::from_csv(&path).unwrap();
    cache.get(&Query::new().sum("v")).unwrap();
    write(&path, "");
    assert!(cache.refresh().is_err());
    assert_eq!(
        cache.get(&Query::new().sum("v")).unwrap().source(),
        Source::Memory
    );
}

#[test]
fn load_options_are_part_of_the_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    write(&path, "k,v\n1,NA\n2,3\n");
    let plain = CachedQuery::from_csv(&path);
    let with_na = CachedQuery::builder()
        .load_options(polars_query_cache::LoadOptions::default().with_null_values(["NA"]))
        .build_from_csv(&path)
        .unwrap();
    // Without "NA" as null, `v` is text; with it, integers.
    let plain = plain.unwrap();
    assert_ne!(
        plain.dataset().fingerprint(),
        with_na.dataset().fingerprint()
    );
    assert_eq!(
        with_na
            .get(&Query::new().sum("v"))
            .unwrap()
            .column("sum_v")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<i64>(),
        Some(3)
    );
}

/// An answer computed on a version that a refresh replaced while it was
/// computed goes to its caller, and to no tier: nothing would ask for that
/// version again, and the refresh already purged it.
#[test]
fn an_answer_of_a_version_replaced_meanwhile_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    write(&path, "g,v\na,1\n");
    let cache = CachedQuery::builder()
        .disk_dir(dir.path().join("cache"))
        .build_from_csv(&path)
        .unwrap();
    let answer = cache
        .memoize("slow", &(), |df| {
            // The file changes and a refresh lands during the computation.
            write(&path, "g,v\nb,2\nc,3\n");
            cache.refresh().unwrap();
            Ok::<_, polars::error::PolarsError>(df.clone())
        })
        .unwrap();
    assert_eq!(answer.height(), 1, "the caller gets what it computed");
    let info = cache.cache_info();
    assert_eq!((info.entries, info.disk_writes), (0, 0));
    // Asked again, the memo is computed on the new version.
    let again = cache
        .memoize("slow", &(), |df| {
            Ok::<_, polars::error::PolarsError>(df.clone())
        })
        .unwrap();
    assert_eq!(again.height(), 2);
}
