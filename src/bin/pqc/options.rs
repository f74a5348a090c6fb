//! Validating the parsed arguments into the library's types: sizes,
//! durations, load options and queries written as flags.

use std::time::Duration;

use polars_query_cache::{
    Agg, AggFn, CachedQueryBuilder, ColumnType, DeriveMode, Filter, LoadOptions, Predicate, Query,
    Value,
};

use crate::args::{CacheArgs, Derive, LoadArgs, QueryArgs};
use crate::fail::Failure;

pub fn load_options(args: &LoadArgs) -> Result<LoadOptions, Failure> {
    let delimiter = match args.delimiter.as_bytes() {
        [b] => *b,
        b"\\t" => b'\t',
        _ => {
            return Err(Failure::usage(format!(
                "--delimiter takes one byte, not {:?}",
                args.delimiter
            )));
        }
    };
    let mut options = LoadOptions::default()
        .with_delimiter(delimiter)
        .with_null_values(args.null_values.iter().cloned())
        .with_scan(args.scan);
    if let Some(format) = args.input_format {
        options = options.with_format(format);
    }
    for spec in &args.column_types {
        let (name, ty) = spec.rsplit_once(':').ok_or_else(|| {
            Failure::usage(format!("--column-type takes NAME:TYPE, not {spec:?}"))
        })?;
        let ty = match ty {
            "int" => ColumnType::Int,
            "float" => ColumnType::Float,
            "str" => ColumnType::Str,
            "cat" => ColumnType::Categorical,
            "bool" => ColumnType::Bool,
            "date" => ColumnType::Date,
            other => {
                return Err(Failure::usage(format!(
                    "unknown column type {other:?}; use int, float, str, cat, bool or date"
                )));
            }
        };
        options = options.with_column_type(name, ty);
    }
    Ok(options)
}

pub fn cache_builder(cache: &CacheArgs, load: &LoadArgs) -> Result<CachedQueryBuilder, Failure> {
    let mut builder = polars_query_cache::CachedQuery::builder()
        .max_bytes(parse_size(&cache.max_bytes)?)
        .load_options(load_options(load)?);
    if let Some(name) = &cache.table {
        builder = builder.name(name);
    }
    if let Some(ttl) = &cache.ttl {
        builder = builder.time_to_live(parse_duration(ttl)?);
    }
    builder = builder.derive(match cache.derive {
        Derive::Off => DeriveMode::Off,
        Derive::Exact => DeriveMode::Exact,
        Derive::Approximate => DeriveMode::Approximate,
    });
    builder = builder
        .learned_rollup_bytes(parse_size(&cache.learned_rollup_bytes)?)
        .learned_rollups(!cache.no_learned_rollups);
    for json in &cache.rollups {
        let query = Query::from_json(json).map_err(|e| Failure::usage(format!("--rollup: {e}")))?;
        builder = builder.rollup(query);
    }
    if let Some(dir) = &cache.cache_dir {
        builder = builder
            .disk_dir(dir)
            .disk_max_bytes(parse_size(&cache.disk_max_bytes)?);
    }
    #[cfg(feature = "redis")]
    if let Some(url) = cache.redis.as_deref().filter(|u| !u.is_empty()) {
        let mut options = polars_query_cache::tier::redis::RedisOptions::new(url);
        options.prefix = cache.redis_prefix.clone();
        builder = builder.redis_options(options);
    }
    // An empty secret (PQC_TIER_SECRET= ) is no secret.
    if let Some(secret) = cache.tier_secret.as_ref().filter(|s| !s.0.is_empty()) {
        builder = builder.tier_secret(&secret.0);
    }
    Ok(builder)
}

/// `"512MiB"` as `(512.0, "MiB")`.
fn number_and_unit(text: &str) -> Option<(f64, &str)> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    Some((number.parse().ok()?, unit))
}

/// `512MiB`, `2GB`, `100k`, `1048576`.
pub fn parse_size(text: &str) -> Result<u64, Failure> {
    let (number, unit) = number_and_unit(text)
        .ok_or_else(|| Failure::usage(format!("not a size: {text:?} (try 512MiB)")))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        other => {
            return Err(Failure::usage(format!(
                "unknown size unit {other:?} in {text:?}"
            )));
        }
    };
    Ok((number * scale as f64) as u64)
}

/// `500ms`, `90s`, `10m`, `1h`, `2d`, or seconds.
pub fn parse_duration(text: &str) -> Result<Duration, Failure> {
    let (number, unit) = number_and_unit(text)
        .ok_or_else(|| Failure::usage(format!("not a duration: {text:?} (try 1h)")))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        "d" => number * 86_400.0,
        other => {
            return Err(Failure::usage(format!(
                "unknown duration unit {other:?} in {text:?}"
            )));
        }
    };
    // `from_secs_f64` panics past `Duration::MAX` (`--ttl 1e30d`).
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| Failure::usage(format!("duration out of range: {text:?}")))
}

/// The query the flags describe, if any flag describes one.
pub fn query_from_flags(args: &QueryArgs) -> Result<Option<Query>, Failure> {
    if args.filters.is_empty() && args.group_by.is_empty() && args.aggs.is_empty() {
        if !args.sort.is_empty() || args.limit.is_some() {
            return Err(Failure::usage(
                "--sort and --limit need a query given as flags (--agg or --group-by)",
            ));
        }
        return Ok(None);
    }
    let mut q = Query::new();
    for f in &args.filters {
        q = q.filter(parse_filter(f)?);
    }
    for g in &args.group_by {
        q = q.group_by(g.split(',').map(str::trim).filter(|s| !s.is_empty()));
    }
    for a in &args.aggs {
        q = q.agg(parse_agg(a)?);
    }
    for s in &args.sort {
        let (column, dir) = s.rsplit_once(':').unwrap_or((s.as_str(), "asc"));
        let descending = match dir {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(Failure::usage(format!(
                    "--sort direction is asc or desc, not {other:?}"
                )));
            }
        };
        q = q.sort_by(column, descending);
    }
    if let Some(n) = args.limit {
        q = q.limit(n);
    }
    Ok(Some(q))
}

/// Values stay text: the column's type decides how they are read, so
/// `year=2024`, `product=0042` and `date=2024-01-31` all mean what they say.
fn value(text: &str) -> Value {
    let t = text.trim();
    let unquoted = t
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| t.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
        .unwrap_or(t);
    Value::Str(unquoted.to_owned())
}

fn list(text: &str) -> Vec<Value> {
    text.split(',').map(value).collect()
}

pub fn parse_filter(text: &str) -> Result<Filter, Failure> {
    let bad = || {
        Failure::usage(format!(
            "cannot read filter {text:?}; write e.g. 'category=Books', 'year in 2023,2024', \
             'price between 10,20' or 'discount is null'"
        ))
    };
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    // The operator that starts first wins (the longest on a tie), so values
    // may contain operator words: 'product=made in china'.
    const OPERATORS: [&str; 11] = [
        " is not null",
        " is null",
        " not in ",
        " in ",
        " between ",
        "!=",
        "<=",
        ">=",
        "=",
        "<",
        ">",
    ];
    let (at, op) = OPERATORS
        .iter()
        .filter_map(|op| lower.find(op).map(|at| (at, *op)))
        .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.len())))
        .ok_or_else(bad)?;
    let column = t[..at].trim();
    let rest = &t[at + op.len()..];
    if column.is_empty() {
        return Err(bad());
    }
    let predicate = match op {
        " is not null" if rest.trim().is_empty() => Predicate::IsNotNull,
        " is null" if rest.trim().is_empty() => Predicate::IsNull,
        " not in " => Predicate::NotIn(list(rest)),
        " in " => Predicate::In(list(rest)),
        " between " => {
            let (lo, hi) = rest.split_once(',').ok_or_else(bad)?;
            Predicate::Between(value(lo), value(hi))
        }
        "!=" => Predicate::Ne(value(rest)),
        "<=" => Predicate::Le(value(rest)),
        ">=" => Predicate::Ge(value(rest)),
        "=" => Predicate::Eq(value(rest)),
        "<" => Predicate::Lt(value(rest)),
        ">" => Predicate::Gt(value(rest)),
        _ => return Err(bad()),
    };
    Ok(Filter::new(column, predicate))
}

pub fn parse_agg(text: &str) -> Result<Agg, Failure> {
    let mut parts = text.splitn(3, ':');
    let func = parts.next().unwrap_or_default().trim();
    let func = AggFn::from_name(func).ok_or_else(|| {
        let names: Vec<&str> = AggFn::ALL.iter().map(|f| f.name()).collect();
        Failure::usage(format!(
            "unknown aggregate {func:?}; use one of {}",
            names.join(", ")
        ))
    })?;
    if func == AggFn::Len {
        let alias = parts.next().filter(|s| !s.is_empty());
        let agg = Agg::len();
        return Ok(match alias {
            Some(a) => agg.alias(a),
            None => agg,
        });
    }
    let column = parts.next().filter(|s| !s.is_empty()).ok_or_else(|| {
        Failure::usage(format!(
            "--agg {text:?} needs a column: {}:COLUMN[:ALIAS]",
            func.name()
        ))
    })?;
    let agg = Agg::new(func, column);
    Ok(match parts.next().filter(|s| !s.is_empty()) {
        Some(alias) => agg.alias(alias),
        None => agg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_like_they_look() {
        let f = |s| parse_filter(s).unwrap().predicate;
        assert_eq!(
            f("category=Books"),
            Predicate::Eq(Value::Str("Books".into()))
        );
        assert_eq!(
            f("year in 2023,2024"),
            Predicate::In(vec![Value::Str("2023".into()), Value::Str("2024".into())])
        );
        assert_eq!(
            f("price between 10,20"),
            Predicate::Between(Value::Str("10".into()), Value::Str("20".into()))
        );
        assert_eq!(f("discount is null"), Predicate::IsNull);
        assert_eq!(f("discount IS NOT NULL"), Predicate::IsNotNull);
        assert_eq!(f("units>=3"), Predicate::Ge(Value::Str("3".into())));
        assert_eq!(f("units != 3"), Predicate::Ne(Value::Str("3".into())));
        assert_eq!(
            f("region not in North,South"),
            Predicate::NotIn(vec![Value::Str("North".into()), Value::Str("South".into())])
        );
        assert_eq!(f("name='a b'"), Predicate::Eq(Value::Str("a b".into())));
        assert_eq!(
            f("product=made in china"),
            Predicate::Eq(Value::Str("made in china".into()))
        );
        assert!(parse_filter("category").is_err());
        assert!(parse_filter("=3").is_err());
        assert!(parse_filter("price between 10").is_err());
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("1 fortnight").is_err());
    }

    #[test]
    fn aggregates() {
        assert_eq!(
            parse_agg("sum:revenue:total").unwrap(),
            Agg::new(AggFn::Sum, "revenue").alias("total")
        );
        assert_eq!(parse_agg("len").unwrap(), Agg::len());
        assert_eq!(parse_agg("len:n").unwrap(), Agg::len().alias("n"));
        assert!(parse_agg("sum").is_err());
        assert!(parse_agg("mode:x").is_err());
    }
}
