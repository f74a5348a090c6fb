//! Handing answers to arrow-rs: `Frame::to_record_batches` passes the
//! cached frame's buffers through the Arrow C data interface, without
//! copying them, so code built on arrow-rs (DataFusion, Parquet writers,
//! Flight servers) reads answers as `RecordBatch`es.
//!
//! ```sh
//! cargo run --release --example arrow
//! ```

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, RecordBatch};
use polars_query_cache::{CachedQuery, Query};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache = CachedQuery::from_csv(DATA)?;
    let frame = cache.get(
        &Query::new()
            .eq("year", 2024)
            .group_by(["category"])
            .sum("revenue")
            .len(),
    )?;

    let batches: Vec<RecordBatch> = frame.to_record_batches()?;
    println!("{}", batches[0].schema());

    // From here on, arrow-rs only: text arrives as string views, a float
    // sum as a Float64 array.
    let mut total = 0.0;
    for batch in &batches {
        let category = batch.column_by_name("category").ok_or("no category")?;
        println!("category: {}", category.data_type());
        let revenue = batch
            .column_by_name("sum_revenue")
            .ok_or("no sum_revenue")?
            .as_primitive::<Float64Type>();
        total += revenue.iter().flatten().sum::<f64>();
    }
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    println!("{rows} categories, revenue {total:.2} in 2024");

    // The same figure from Polars, for comparison.
    let polars_total = frame
        .column("sum_revenue")?
        .as_materialized_series()
        .sum::<f64>()?;
    assert!((total - polars_total).abs() <= 1e-9 * polars_total.abs());
    assert_eq!(rows, frame.height());
    Ok(())
}
