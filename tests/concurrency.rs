//! Many threads on the same and on different keys.

use std::sync::{Arc, Barrier};
use std::thread;

use polars_query_cache::{CachedQuery, Query, Source};

use crate::common;

#[test]
fn sixteen_threads_on_one_key_compute_once() {
    // Repeat: the race window differs from run to run.
    for round in 0..20 {
        let cache =
            Arc::new(CachedQuery::from_frame(common::frame(&common::rows(20_000, round))).unwrap());
        let barrier = Arc::new(Barrier::new(16));
        let query = Query::new().group_by(["cat", "k"]).sum("x").mean("y").len();
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (cache, barrier, query) =
                    (Arc::clone(&cache), Arc::clone(&barrier), query.clone());
                thread::spawn(move || {
                    barrier.wait();
                    cache.get(&query).unwrap()
                })
            })
            .collect();
        let frames: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let info = cache.cache_info();
        assert_eq!(info.computations, 1, "round {round}: {info:?}");
        assert_eq!(info.hits + info.misses, 16);
        assert_eq!(
            frames
                .iter()
                .filter(|f| f.source() == Source::Computed)
                .count(),
            1
        );
        // Everyone holds the very same frame.
        assert!(
            frames
                .iter()
                .all(|f| Arc::ptr_eq(f.shared(), frames[0].shared()))
        );
    }
}

/// What `call` returned on each of `n` threads that call it at once.
fn at_once<T: Send + 'static>(
    cache: &Arc<CachedQuery>,
    n: usize,
    call: fn(&CachedQuery) -> T,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (cache, barrier) = (Arc::clone(cache), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                call(&cache)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn an_error_reaches_every_waiter_and_is_not_cached() {
    let cache = Arc::new(CachedQuery::from_frame(common::frame(&common::rows(100, 1))).unwrap());
    let outcomes = at_once(&cache, 8, |cache| {
        cache.memoize("fails", &1, |_| {
            thread::sleep(std::time::Duration::from_millis(50));
            Err::<polars::prelude::DataFrame, _>(polars_query_cache::Error::Compute("boom".into()))
        })
    });
    for outcome in outcomes {
        let err = outcome.unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
    }
    let info = cache.cache_info();
    assert!(
        info.computations == 0 && info.errors >= 1 && info.entries == 0,
        "{info:?}"
    );
    // Not cached: the next call runs again, and may now succeed.
    let ok = cache
        .memoize("fails", &1, |df| {
            Ok::<_, polars::prelude::PolarsError>(df.head(Some(1)))
        })
        .unwrap();
    assert_eq!(ok.source(), Source::Computed);
}

#[test]
fn every_waiter_of_a_failing_computation_gets_the_same_typed_error() {
    let cache = Arc::new(CachedQuery::from_frame(common::frame(&common::rows(100, 1))).unwrap());
    let outcomes = at_once(&cache, 8, |cache| {
        cache.memoize("fails_in_polars", &1, |df| {
            thread::sleep(std::time::Duration::from_millis(100));
            df.column("no such column").map(|_| df.clone())
        })
    });
    let errors: Vec<polars_query_cache::Error> =
        outcomes.into_iter().map(Result::unwrap_err).collect();
    let info = cache.cache_info();
    // `errors` counts the callers that ran the computation: the others
    // waited on one of them and were handed its error.
    assert!(
        info.errors < info.misses,
        "at least one caller waited on another's computation: {info:?}"
    );
    for e in &errors {
        assert!(
            matches!(e, polars_query_cache::Error::Polars(p)
                if matches!(**p, polars::prelude::PolarsError::ColumnNotFound(_))),
            "{e:?}"
        );
        assert_eq!(e.to_string(), errors[0].to_string());
    }
}

#[test]
fn a_panicking_computation_is_an_error_for_everyone_not_a_hang() {
    let cache = Arc::new(CachedQuery::from_frame(common::frame(&common::rows(100, 1))).unwrap());
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (cache, barrier) = (Arc::clone(&cache), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                cache.memoize(
                    "panics",
                    &(),
                    |_| -> polars::prelude::PolarsResult<polars::prelude::DataFrame> {
                        thread::sleep(std::time::Duration::from_millis(20));
                        panic!("kaboom")
                    },
                )
            })
        })
        .collect();
    for h in handles {
        let err = h
            .join()
            .expect("the panic must not reach the caller")
            .unwrap_err();
        assert!(err.to_string().contains("kaboom"), "{err}");
    }
}

#[test]
fn many_keys_under_a_small_byte_cap_never_exceed_it() {
    let max = 256 << 10;
    let cache = Arc::new(
        CachedQuery::builder()
            .max_bytes(max)
            .build_from_frame(common::frame(&common::rows(5_000, 3)))
            .unwrap(),
    );
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                for i in 0..150i64 {
                    let q = Query::new()
                        .ge("x", (i + t) % 40 - 20)
                        .group_by(["cat", "k", "d"])
                        .sum("y")
                        .len();
                    let frame = cache.get(&q).unwrap();
                    assert!(frame.height() > 0);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let info = cache.cache_info();
    assert!(info.bytes <= max, "{} bytes held, cap {max}", info.bytes);
    assert!(
        info.evictions > 0,
        "the test should force evictions: {info:?}"
    );
    assert_eq!(info.hits + info.misses, 8 * 150);
}
