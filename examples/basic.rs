//! Memoized queries over a CSV file, and what the cache did: the Rust
//! counterpart of wrapping a pandas function in `functools.lru_cache` and
//! reading its `cache_info()`.
//!
//! ```sh
//! cargo run --release --example basic
//! ```

use std::time::Duration;

use polars_query_cache::{CachedQuery, Query, Source};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Loaded and fingerprinted once; every answer is bounded in bytes.
    let cache = CachedQuery::builder()
        .max_bytes(64 << 20)
        .time_to_live(Duration::from_secs(600))
        .build_from_csv(DATA)?;

    let books_by_month = Query::new()
        .eq("category", "Books")
        .eq("year", 2024)
        .group_by(["month"])
        .sum("revenue")
        .len();

    let first = cache.get(&books_by_month)?; // a miss: one Polars lazy plan
    println!("{first}");
    assert_eq!(first.source(), Source::Computed);

    let again = cache.get(&books_by_month)?; // a hit: the same frame, no copy
    assert_eq!(again.source(), Source::Memory);

    // Another spelling of the same question is the same entry: filter order,
    // `in [x]` for `eq x` and "2024" for 2024 do not matter.
    let respelled = Query::from_json(
        r#"{"filters": {"year": ["2024"], "category": "Books"},
            "group_by": ["month"],
            "aggs": [{"fn": "sum", "column": "revenue"}, {"fn": "len"}]}"#,
    )?;
    assert_eq!(cache.get(&respelled)?.source(), Source::Memory);

    // A mistake gets an error that says how to fix it.
    if let Err(e) = cache.get(&Query::new().eq("catgory", "Books").len()) {
        println!("error: {e}");
    }

    let info = cache.cache_info();
    println!(
        "hits {}, misses {}, computations {}, entries {} ({} bytes), hit ratio {:.2}, \
         computing took {:?} and hits saved {:?}",
        info.hits,
        info.misses,
        info.computations,
        info.entries,
        info.bytes,
        info.hit_ratio,
        info.compute_time(),
        info.time_saved(),
    );
    assert_eq!((info.hits, info.computations), (2, 1));
    Ok(())
}
