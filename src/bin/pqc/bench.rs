//! `pqc bench`: replay a query stream through the cache and, in the same
//! run, through plain Polars (no cache) and through the seed's practice of
//! re-reading the CSV for every request.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use polars_query_cache::{CachedQuery, Query, Source, sample};
use serde::Serialize;

use crate::args::BenchArgs;
use crate::fail::Failure;
use crate::{options, progress, query};

/// Latencies of one worker in nanoseconds: memory hits, other hits
/// (disk, Redis, derived), misses.
type Timings = (Vec<u64>, Vec<u64>, Vec<u64>);

/// Percentiles of one set of latencies, in microseconds.
#[derive(Debug, Default, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

impl Latency {
    fn of(mut nanos: Vec<u64>) -> Latency {
        if nanos.is_empty() {
            return Latency::default();
        }
        nanos.sort_unstable();
        let at = |q: f64| nanos[((nanos.len() as f64 - 1.0) * q).round() as usize] as f64 / 1e3;
        Latency {
            count: nanos.len(),
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            max_us: at(1.0),
            mean_us: nanos.iter().sum::<u64>() as f64 / nanos.len() as f64 / 1e3,
        }
    }
}

/// Everything `pqc bench` measures; `--json` writes this.
#[derive(Debug, Serialize)]
pub struct Report {
    pub rows: usize,
    pub load_ms: f64,
    pub distinct: usize,
    pub requests: usize,
    pub threads: usize,
    pub zipf: f64,
    pub hits: u64,
    pub misses: u64,
    pub hit_ratio: f64,
    pub hit_p50_us: f64,
    pub hit_p90_us: f64,
    pub hit_p99_us: f64,
    pub hit_max_us: f64,
    /// Hits answered by the memory tier alone.
    pub memory_hit_p50_us: f64,
    pub memory_hit_p99_us: f64,
    /// Hits answered by the disk, Redis or a derivation.
    pub other_hit: Latency,
    pub miss_p50_us: f64,
    pub miss_p90_us: f64,
    pub miss_p99_us: f64,
    pub miss_max_us: f64,
    pub total_ms: f64,
    pub requests_per_sec: f64,
    /// Plain Polars per request (no cache), from `polars_sample` requests.
    pub polars_sample: usize,
    pub polars_p50_us: f64,
    pub polars_mean_us: f64,
    /// Estimated: mean per request x requests / threads (perfect scaling).
    pub polars_est_total_ms: f64,
    pub speedup_vs_polars: f64,
    /// Re-reading the CSV per request, from `reload_sample` requests.
    pub reload_sample: usize,
    pub reload_p50_us: f64,
    pub reload_est_total_ms: f64,
    pub speedup_vs_reload: Option<f64>,
    /// Misses answered from the roll-ups learned during the run (held at
    /// its end).
    pub learned_answers: u64,
    /// The same stream through a cache that learns no roll-ups
    /// (`--compare-learned`).
    pub without_learned: Option<Pass>,
    pub stats: polars_query_cache::CacheInfo,
}

/// One more replay of the stream, through another cache.
#[derive(Debug, Serialize)]
pub struct Pass {
    pub total_ms: f64,
    pub computations: u64,
    pub derived_hits: u64,
    pub hit: Latency,
    pub miss: Latency,
    pub speedup_vs_polars: f64,
}

/// Replays `stream` through `cache` on `threads` workers pulling from it:
/// the wall time and each worker's latencies, merged.
fn replay(
    cache: &CachedQuery,
    queries: &[Query],
    stream: &[usize],
    threads: usize,
    show_progress: bool,
) -> Result<(std::time::Duration, Timings), Failure> {
    let bar = progress::bar(show_progress, stream.len() as u64, "requests");
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let per_thread = on_threads(threads, || {
        let (mut memory, mut other, mut misses) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= stream.len() {
                break;
            }
            let t = Instant::now();
            let frame = cache.get(&queries[stream[i]])?;
            let nanos = t.elapsed().as_nanos() as u64;
            match frame.source() {
                Source::Memory => memory.push(nanos),
                s if s.is_hit() => other.push(nanos),
                _ => misses.push(nanos),
            }
            if i.is_multiple_of(256) {
                bar.set_position(i as u64);
            }
        }
        Ok((memory, other, misses))
    });
    let total = started.elapsed();
    bar.finish_and_clear();
    let (mut memory_ns, mut other_ns, mut miss_ns) = (Vec::new(), Vec::new(), Vec::new());
    for (h, o, m) in per_thread? {
        memory_ns.extend(h);
        other_ns.extend(o);
        miss_ns.extend(m);
    }
    Ok((total, (memory_ns, other_ns, miss_ns)))
}

/// Runs `work` on `threads` threads at once and gathers what each gave.
fn on_threads<T: Send>(
    threads: usize,
    work: impl Fn() -> Result<T, Failure> + Sync,
) -> Result<Vec<T>, Failure> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1)).map(|_| scope.spawn(&work)).collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(Failure::usage("a worker panicked")))
            })
            .collect()
    })
}

pub fn run(args: &BenchArgs, show_progress: bool, out: &mut impl Write) -> Result<(), Failure> {
    if args.threads == 0 || args.requests == 0 {
        return Err(Failure::usage(
            "--threads and --requests must be at least 1",
        ));
    }
    if !(args.zipf >= 0.0 && args.zipf.is_finite()) {
        return Err(Failure::usage("--zipf must be a finite number >= 0"));
    }
    let bar = progress::loading(show_progress, format!("loading {}", args.data.display()));
    let builder =
        options::cache_builder(&args.cache, &args.load)?.load_progress(progress::feed(&bar));
    let cache = builder.build_from_path(&args.data)?;
    bar.finish_and_clear();

    let queries: Vec<Query> = match &args.queries {
        Some(path) => query::read_queries(path)?,
        None => sample::dashboard_queries(args.distinct, args.seed),
    };
    if queries.is_empty() {
        return Err(Failure::usage("the workload has no query"));
    }
    for (i, q) in queries.iter().enumerate() {
        cache
            .key(q)
            .map_err(|e| Failure::from(e).context(format!("workload query {}", i + 1)))?;
    }
    let stream = sample::zipf_stream(queries.len(), args.requests, args.zipf, args.seed);

    let (total, (memory_ns, other_ns, miss_ns)) =
        replay(&cache, &queries, &stream, args.threads, show_progress)?;
    let hit_ns: Vec<u64> = memory_ns.iter().chain(&other_ns).copied().collect();

    // Plain Polars on a sample of the same requests, on as many threads as
    // the cached pass: each Polars query already uses every core, so two
    // side by side do not take the time of one (dividing a sequential
    // sum by the threads assumed they did).
    let sample_idx = spread(stream.len(), args.baseline_sample);
    let bar = progress::bar(show_progress, sample_idx.len() as u64, "plain Polars");
    let next = AtomicUsize::new(0);
    let polars_started = Instant::now();
    let sampled = on_threads(args.threads, || {
        let mut ns = Vec::new();
        loop {
            let j = next.fetch_add(1, Ordering::Relaxed);
            let Some(&i) = sample_idx.get(j) else {
                break;
            };
            let t = Instant::now();
            cache.get_uncached(&queries[stream[i]])?;
            ns.push(t.elapsed().as_nanos() as u64);
            bar.inc(1);
        }
        Ok(ns)
    })?;
    let polars_wall_ms = polars_started.elapsed().as_secs_f64() * 1e3;
    let mut polars_ns = Vec::with_capacity(sample_idx.len());
    for ns in sampled {
        polars_ns.extend(ns);
    }
    bar.finish_and_clear();

    // The seed's practice: read the CSV again for every request.
    let reload_idx = spread(stream.len(), args.reload_baseline);
    let bar = progress::bar(show_progress, reload_idx.len() as u64, "re-reading the CSV");
    let mut reload_ns = Vec::with_capacity(reload_idx.len());
    for &i in &reload_idx {
        let t = Instant::now();
        let fresh = CachedQuery::builder()
            .load_options(options::load_options(&args.load)?)
            .build_from_path(&args.data)?;
        fresh.get_uncached(&queries[stream[i]])?;
        reload_ns.push(t.elapsed().as_nanos() as u64);
        bar.inc(1);
    }
    bar.finish_and_clear();

    // The same stream through a cache that learns nothing, for the
    // learned roll-ups' share of the speedup.
    let without_learned = if args.compare_learned {
        let spinner = progress::spinner(show_progress, "loading again, learning off");
        let plain = options::cache_builder(&args.cache, &args.load)?
            .learned_rollups(false)
            .build_from_path(&args.data)?;
        spinner.finish_and_clear();
        let (total, (memory, other, misses)) =
            replay(&plain, &queries, &stream, args.threads, show_progress)?;
        let hits: Vec<u64> = memory.into_iter().chain(other).collect();
        let total_ms = total.as_secs_f64() * 1e3;
        let info = plain.cache_info();
        Some(Pass {
            total_ms,
            computations: info.computations,
            derived_hits: info.derived_hits,
            hit: Latency::of(hits),
            miss: Latency::of(misses),
            speedup_vs_polars: 0.0,
        })
    } else {
        None
    };

    let stats = cache.cache_info();
    let (hit, miss) = (Latency::of(hit_ns), Latency::of(miss_ns));
    let (memory_hit, other_hit) = (Latency::of(memory_ns), Latency::of(other_ns));
    let polars = Latency::of(polars_ns);
    let reload = Latency::of(reload_ns);
    let requests = stream.len();
    let est = |mean_us: f64| mean_us * requests as f64 / args.threads as f64 / 1e3;
    // The sample's wall time, scaled to every request.
    let polars_est_ms = polars_wall_ms * requests as f64 / sample_idx.len().max(1) as f64;
    let total_ms = total.as_secs_f64() * 1e3;
    let report = Report {
        rows: cache.dataset().rows(),
        load_ms: cache.dataset().load_time().as_secs_f64() * 1e3,
        distinct: queries.len(),
        requests,
        threads: args.threads,
        zipf: args.zipf,
        hits: stats.hits,
        misses: stats.misses,
        hit_ratio: stats.hit_ratio,
        hit_p50_us: hit.p50_us,
        hit_p90_us: hit.p90_us,
        hit_p99_us: hit.p99_us,
        hit_max_us: hit.max_us,
        memory_hit_p50_us: memory_hit.p50_us,
        memory_hit_p99_us: memory_hit.p99_us,
        other_hit,
        miss_p50_us: miss.p50_us,
        miss_p90_us: miss.p90_us,
        miss_p99_us: miss.p99_us,
        miss_max_us: miss.max_us,
        total_ms,
        requests_per_sec: requests as f64 / total.as_secs_f64(),
        polars_sample: polars.count,
        polars_p50_us: polars.p50_us,
        polars_mean_us: polars.mean_us,
        polars_est_total_ms: polars_est_ms,
        speedup_vs_polars: polars_est_ms / total_ms,
        reload_sample: reload.count,
        reload_p50_us: reload.p50_us,
        reload_est_total_ms: est(reload.mean_us),
        speedup_vs_reload: (reload.count > 0).then(|| est(reload.mean_us) / total_ms),
        learned_answers: stats.learned_rollups.iter().map(|r| r.answered).sum(),
        without_learned: without_learned.map(|pass| Pass {
            speedup_vs_polars: polars_est_ms / pass.total_ms,
            ..pass
        }),
        stats,
    };
    print_table(out, &report).map_err(|e| Failure::io("stdout", e))?;
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::io(path.display(), e.into()))?;
        std::fs::write(path, json).map_err(|e| Failure::io(path.display(), e))?;
    }
    Ok(())
}

/// `k` indexes spread evenly over `0..n`.
fn spread(n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n);
    (0..k).map(|j| j * n / k).collect()
}

fn print_table(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let ms = |d: f64| format!("{d:.1} ms");
    writeln!(
        out,
        "dataset          {} rows, loaded in {}",
        r.rows,
        ms(r.load_ms)
    )?;
    writeln!(
        out,
        "workload         {} requests over {} distinct queries, zipf {}, {} threads",
        r.requests, r.distinct, r.zipf, r.threads
    )?;
    writeln!(
        out,
        "hit ratio        {:.4} ({} hits, {} misses, {} computations)",
        r.hit_ratio, r.hits, r.misses, r.stats.computations
    )?;
    let learned = &r.stats.learned_rollups;
    writeln!(
        out,
        "learned roll-ups {} held, {} KiB, {} misses answered from them",
        learned.len(),
        learned.iter().map(|l| l.bytes).sum::<u64>() / 1024,
        r.learned_answers
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "latency (us)          p50        p90        p99        max"
    )?;
    writeln!(
        out,
        "  hits         {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
        r.hit_p50_us, r.hit_p90_us, r.hit_p99_us, r.hit_max_us
    )?;
    if r.other_hit.count > 0 {
        writeln!(
            out,
            "    memory     {:>10.1}            {:>10.1}",
            r.memory_hit_p50_us, r.memory_hit_p99_us
        )?;
        let o = &r.other_hit;
        writeln!(
            out,
            "    other      {:>10.1} {:>10.1} {:>10.1} {:>10.1}  (disk, Redis, derived: {})",
            o.p50_us, o.p90_us, o.p99_us, o.max_us, o.count
        )?;
    }
    writeln!(
        out,
        "  misses       {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
        r.miss_p50_us, r.miss_p90_us, r.miss_p99_us, r.miss_max_us
    )?;
    writeln!(
        out,
        "  plain Polars {:>10.1}   (mean {:.1}, {} sampled requests)",
        r.polars_p50_us, r.polars_mean_us, r.polars_sample
    )?;
    if r.reload_sample > 0 {
        writeln!(
            out,
            "  re-read CSV  {:>10.1}   ({} sampled requests)",
            r.reload_p50_us, r.reload_sample
        )?;
    }
    writeln!(out)?;
    writeln!(out, "                      total       req/s    speedup")?;
    writeln!(
        out,
        "  cached       {:>12}  {:>10.0}          1",
        ms(r.total_ms),
        r.requests_per_sec
    )?;
    writeln!(
        out,
        "  plain Polars {:>12}  {:>10.0}  {:>9.1}x  (the sample run on as many threads, scaled)",
        ms(r.polars_est_total_ms),
        r.requests as f64 / (r.polars_est_total_ms / 1e3),
        r.speedup_vs_polars
    )?;
    if let Some(p) = &r.without_learned {
        writeln!(
            out,
            "  no learning  {:>12}  {:>10.0}             (plain Polars / this: {:.1}x; {} computations, {} derived; misses p50 {:.1} us)",
            ms(p.total_ms),
            r.requests as f64 / (p.total_ms / 1e3),
            p.speedup_vs_polars,
            p.computations,
            p.derived_hits,
            p.miss.p50_us
        )?;
    }
    if let Some(speedup) = r.speedup_vs_reload {
        writeln!(
            out,
            "  re-read CSV  {:>12}  {:>10.1}  {:>9.0}x  (estimated from the sample)",
            ms(r.reload_est_total_ms),
            r.requests as f64 / (r.reload_est_total_ms / 1e3),
            speedup
        )?;
    }
    Ok(())
}
