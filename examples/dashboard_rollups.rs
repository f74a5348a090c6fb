//! A dashboard's queries answered from declared roll-ups: one group-by over
//! the dimensions the dashboard slices on, computed at load time and pinned
//! in memory. Every chart that filters or groups on those dimensions is then
//! read off the roll-up, without scanning the table.
//!
//! ```sh
//! cargo run --release --example dashboard_rollups
//! ```

use polars_query_cache::{CachedQuery, Query, Source};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache = CachedQuery::builder()
        // The measures hold what the charts ask for: `mean` is read off the
        // sum and the count, `len` off the row count.
        .rollup(
            Query::new()
                .group_by(["category", "region", "year", "month"])
                .sum("revenue")
                .count("revenue")
                .sum("units")
                .len(),
        )
        .build_from_csv(DATA)?;

    let charts = [
        // Revenue by month for one category and year.
        Query::new()
            .eq("category", "Books")
            .eq("year", 2024)
            .group_by(["month"])
            .sum("revenue"),
        // Orders and units by region.
        Query::new().group_by(["region"]).len().sum("units"),
        // Average order value by category, best first.
        Query::new()
            .is_in("year", [2023, 2024])
            .group_by(["category"])
            .mean("revenue")
            .sort_by("mean_revenue", true),
        // The headline figures.
        Query::new().sum("revenue").len(),
    ];
    for chart in &charts {
        let frame = cache.get(chart)?;
        println!("{}\n{frame}", chart.to_json());
        assert_eq!(frame.source(), Source::Derived);
    }

    let info = cache.cache_info();
    println!(
        "roll-ups {} ({} bytes, outside the memory budget), derived {}, computations {}",
        info.rollups, info.rollup_bytes, info.derived_hits, info.computations
    );
    // The roll-up itself is the only scan of the table.
    assert_eq!(info.derived_hits, charts.len() as u64);
    Ok(())
}
