//! Memoizing any function over the frame, as Flask-Caching's
//! `@cache.memoize` does: here a top-N report with each product's share of
//! its region's revenue, which is not a plain filter / group-by / aggregate.
//!
//! ```sh
//! cargo run --release --example memoize
//! ```

use polars::prelude::*;
use polars_query_cache::{CachedQuery, Frame, Source};
use serde::Serialize;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv");

/// The function's arguments: the key is its name plus these, serialized
/// canonically (field order does not matter).
#[derive(Serialize)]
struct TopProducts<'a> {
    region: &'a str,
    n: u32,
}

fn top_products(cache: &CachedQuery, region: &str, n: u32) -> polars_query_cache::Result<Frame> {
    let args = TopProducts { region, n };
    cache.memoize("top_products", &args, |df| {
        df.clone()
            .lazy()
            .filter(col("region").cast(DataType::String).eq(lit(region)))
            .group_by([col("product")])
            .agg([col("revenue").sum().alias("revenue")])
            .with_column((col("revenue") / col("revenue").sum()).alias("share"))
            .sort(
                ["revenue"],
                SortMultipleOptions::default().with_order_descending(true),
            )
            .limit(n)
            .collect()
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache = CachedQuery::from_csv(DATA)?;

    let west = top_products(&cache, "West", 5)?;
    println!("{west}");
    assert_eq!(west.source(), Source::Computed);
    assert_eq!(west.height(), 5);

    // Same name and arguments: the cached frame.
    assert_eq!(top_products(&cache, "West", 5)?.source(), Source::Memory);
    // Other arguments: another entry.
    assert_eq!(top_products(&cache, "East", 5)?.source(), Source::Computed);

    // Drop one call's entry, as `cache.delete_memoized(f, *args)` does.
    assert!(cache.invalidate_memoized(
        "top_products",
        &TopProducts {
            region: "West",
            n: 5
        }
    )?);
    assert_eq!(top_products(&cache, "West", 5)?.source(), Source::Computed);

    let info = cache.cache_info();
    println!("computations {}, hits {}", info.computations, info.hits);
    assert_eq!((info.computations, info.hits), (3, 1));
    Ok(())
}
