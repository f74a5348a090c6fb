//! A deterministic synthetic sales table, the shape of the bundled
//! `data/sales.csv`: for tests, benchmarks and `pqc gen`.
//!
//! Rows are made in blocks, each from its own seeded generator, so the output
//! depends only on the seed and the row count, never on the thread count.

use std::convert::Infallible;
use std::io::{self, Write};

use rand_distr::{Distribution, Zipf};
use rayon::prelude::*;

/// The header of the sales table.
pub const HEADER: &str =
    "order_id,date,year,month,category,region,product,channel,units,price,discount,revenue";

/// Product categories, most common first.
pub const CATEGORIES: [&str; 8] = [
    "Books",
    "Electronics",
    "Games",
    "Garden",
    "Grocery",
    "Health",
    "Sports",
    "Toys",
];
const CODES: [&str; 8] = ["BK", "EL", "GM", "GD", "GR", "HE", "SP", "TY"];
/// Sales regions.
pub const REGIONS: [&str; 5] = ["Central", "East", "North", "South", "West"];
/// Sales channels.
pub const CHANNELS: [&str; 3] = ["Online", "Partner", "Store"];
/// Years covered.
pub const YEARS: std::ops::RangeInclusive<u32> = 2021..=2024;
/// Products per category.
pub const PRODUCTS_PER_CATEGORY: u64 = 25;

const BLOCK_ROWS: u64 = 65_536;

/// SplitMix64: tiny, fast, and stable across releases (unlike the generators
/// of general-purpose crates, whose streams may change between versions).
/// It is also a [`rand_core::Rng`], so `rand_distr`'s distributions draw
/// from it; the benches draw their seeded sequences from it too.
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 32 bits: the high half, SplitMix64's best bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

impl rand_core::TryRng for SplitMix64 {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        rand_core::utils::fill_bytes_via_next_word(dst, || self.try_next_u64())
    }
}

/// Writes `rows` rows of sales data (and the header) to `out`. `progress`
/// is called with the number of rows written so far, after each block.
pub fn write_sales_csv<W: Write>(
    mut out: W,
    rows: u64,
    seed: u64,
    mut progress: impl FnMut(u64),
) -> io::Result<()> {
    writeln!(out, "{HEADER}")?;
    let blocks = rows.div_ceil(BLOCK_ROWS);
    // A few blocks at a time in parallel, written in order.
    let batch = (rayon::current_num_threads() as u64 * 2).max(1);
    let mut written = 0;
    let mut first = 0;
    while first < blocks {
        let last = (first + batch).min(blocks);
        let buffers: Vec<Vec<u8>> = (first..last)
            .into_par_iter()
            .map(|b| {
                let start = b * BLOCK_ROWS;
                let end = (start + BLOCK_ROWS).min(rows);
                block(seed, b, start, end)
            })
            .collect();
        for buf in buffers {
            out.write_all(&buf)?;
        }
        written = (last * BLOCK_ROWS).min(rows);
        progress(written);
        first = last;
    }
    if rows == 0 {
        progress(written);
    }
    out.flush()
}

/// The sales table as CSV text (for tests and small samples).
pub fn sales_csv(rows: u64, seed: u64) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_sales_csv(&mut out, rows, seed, |_| {});
    String::from_utf8(out).unwrap_or_default()
}

fn block(seed: u64, index: u64, start: u64, end: u64) -> Vec<u8> {
    let mut rng = SplitMix64(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let mut buf = Vec::with_capacity(((end - start) * 96) as usize);
    for id in start..end {
        row(&mut rng, id + 1, &mut buf);
    }
    buf
}

fn row(rng: &mut SplitMix64, order_id: u64, buf: &mut Vec<u8>) {
    let years = u64::from(YEARS.end() - YEARS.start() + 1);
    let year = u64::from(*YEARS.start()) + rng.below(years);
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    // Skewed: the first categories sell more (about 1/(i+1)).
    let category = {
        let pick = rng.below(1000);
        let weights = [272, 181, 136, 109, 91, 78, 68, 65];
        let mut acc = 0;
        weights
            .iter()
            .position(|w| {
                acc += w;
                pick < acc
            })
            .unwrap_or(0)
    };
    let region = rng.below(REGIONS.len() as u64) as usize;
    let product = rng.below(PRODUCTS_PER_CATEGORY);
    let channel = rng.below(CHANNELS.len() as u64) as usize;
    let units = 1 + rng.below(20);
    // A stable base price per product, jittered by up to +-10%.
    let base_cents = 300 + (category as u64 * 7_919 + product * 3_571) % 19_700;
    let price_cents = base_cents * (90 + rng.below(21)) / 100;
    let discount_pct = match rng.below(100) {
        0..=7 => None,
        p => Some([0, 5, 10, 15, 20][(p % 5) as usize]),
    };
    let revenue_cents = (units * price_cents * (100 - discount_pct.unwrap_or(0)) + 50) / 100;
    let code = CODES[category];
    // Writing to a Vec cannot fail.
    let _ = write!(
        buf,
        "{order_id},{year}-{month:02}-{day:02},{year},{month},{},{},{code}-{:03},{},{units},{}.{:02},",
        CATEGORIES[category],
        REGIONS[region],
        product + 1,
        CHANNELS[channel],
        price_cents / 100,
        price_cents % 100,
    );
    if let Some(d) = discount_pct {
        let _ = write!(buf, "0.{d:02}");
    }
    let _ = writeln!(buf, ",{}.{:02}", revenue_cents / 100, revenue_cents % 100);
}

/// `n` distinct dashboard-like queries over the sales table (a category and
/// a year picked or not, grouped by one dimension, a few measures),
/// shuffled by `seed`. At most 540 exist.
pub fn dashboard_queries(n: usize, seed: u64) -> Vec<crate::Query> {
    use crate::{Agg, AggFn, Query};
    let mut all = Vec::new();
    for category in std::iter::once(None).chain(CATEGORIES.iter().copied().map(Some)) {
        for year in std::iter::once(None).chain(YEARS.map(Some)) {
            for group in ["month", "region", "channel", "product"] {
                for measures in 0..3 {
                    let mut q = Query::new();
                    if let Some(c) = category {
                        q = q.eq("category", c);
                    }
                    if let Some(y) = year {
                        q = q.eq("year", i64::from(y));
                    }
                    q = q.group_by([group]);
                    q = match measures {
                        0 => q.agg(Agg::new(AggFn::Sum, "revenue").alias("revenue")),
                        1 => q
                            .agg(Agg::new(AggFn::Sum, "units").alias("units"))
                            .mean("price")
                            .len(),
                        _ => q
                            .agg(Agg::new(AggFn::Sum, "revenue").alias("revenue"))
                            .sort_by("revenue", true)
                            .limit(5),
                    };
                    all.push(q);
                }
            }
        }
    }
    let mut rng = SplitMix64(seed);
    // Fisher-Yates with the stable generator.
    for i in (1..all.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        all.swap(i, j);
    }
    all.truncate(n);
    all
}

/// A stream of `requests` indexes into `0..distinct`, Zipf-distributed with
/// exponent `s` (rank 1, index 0, is the most frequent; an `s` below 0 or
/// NaN counts as 0, uniform): the shape of real dashboard traffic.
///
/// The same seed gives the same stream (for one minor version of
/// `rand_distr`, which draws the samples).
pub fn zipf_stream(distinct: usize, requests: usize, s: f64, seed: u64) -> Vec<usize> {
    if distinct == 0 {
        return Vec::new();
    }
    // `max` also turns NaN into 0. With `n >= 1` and `s >= 0` (infinity
    // included: every sample is rank 1), `Zipf::new` cannot fail.
    let Ok(zipf) = Zipf::new(distinct as f64, s.max(0.0)) else {
        return Vec::new();
    };
    let mut rng = SplitMix64(seed);
    // Samples are whole numbers in `1..=distinct`.
    (0..requests)
        .map(|_| (zipf.sample(&mut rng) as usize).clamp(1, distinct) - 1)
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_queries_are_distinct_and_zipf_is_skewed() {
        let qs = dashboard_queries(200, 1);
        let mut texts: Vec<String> = qs.iter().map(|q| q.to_json()).collect();
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), 200);
        let stream = zipf_stream(200, 20_000, 1.1, 3);
        let top = stream.iter().filter(|&&i| i == 0).count();
        let tail = stream.iter().filter(|&&i| i == 199).count();
        assert!(top > 20 * tail.max(1), "top {top} tail {tail}");
        assert!(stream.iter().all(|&i| i < 200));
        assert_eq!(stream, zipf_stream(200, 20_000, 1.1, 3));
        assert_ne!(stream, zipf_stream(200, 20_000, 1.1, 4));
    }

    #[test]
    fn zipf_frequencies_follow_the_exponent() {
        let count = |stream: &[usize], i: usize| stream.iter().filter(|&&x| x == i).count() as f64;
        // Rank 1 is drawn 2^s times as often as rank 2.
        let stream = zipf_stream(200, 200_000, 1.1, 5);
        let ratio = count(&stream, 0) / count(&stream, 1);
        assert!((ratio / 2f64.powf(1.1) - 1.0).abs() < 0.05, "ratio {ratio}");
        // 0 is uniform; below 0 and NaN count as 0.
        for s in [0.0, -1.0, f64::NAN] {
            let stream = zipf_stream(4, 40_000, s, 6);
            for i in 0..4 {
                assert!((count(&stream, i) / 10_000.0 - 1.0).abs() < 0.05, "s {s}");
            }
        }
        assert!(zipf_stream(0, 10, 1.1, 1).is_empty());
        assert!(zipf_stream(1, 10, 1.1, 1).iter().all(|&i| i == 0));
    }

    #[test]
    fn the_bundled_sample_is_what_pqc_gen_makes() {
        // `pqc gen --rows 5000 --seed 42` made it: the generator's output is
        // pinned, whatever changes around it.
        assert!(sales_csv(5_000, 42) == include_str!("../data/sales.csv"));
    }

    #[test]
    fn same_seed_same_bytes_and_thread_count_does_not_matter() {
        let a = sales_csv(1_000, 7);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| sales_csv(1_000, 7));
        assert_eq!(a, b);
        assert_ne!(a, sales_csv(1_000, 8));
        assert_eq!(a.lines().count(), 1_001);
        assert!(a.lines().skip(1).all(|l| l.split(',').count() == 12));
    }
}
