//! The normalized requests seen lately: a request seen before (byte for byte
//! the same query) skips normalization and goes straight to the lookup.
//!
//! Normalization is the larger part of a hit's cost (about 500 ns for a
//! two-filter query: coercions, sorting, range folding, hashing). Dashboards
//! send the same few requests over and over, so remembering the outcome for
//! the exact request halves a hit. [`NormalizedRequests`] is keyed by the raw
//! query (floats by their bits) and checked against the dataset's
//! fingerprint, so a refresh can never reuse an old key. It holds at most [`CAPACITY`]
//! requests and [`MAX_BYTES`] of them (a request can hold a thousand-value
//! list), and starts afresh when either is reached: a miss here only costs
//! a normalization.

use std::hash::{Hash, Hasher};

use hashbrown::{Equivalent, HashMap};
use parking_lot::RwLock;

use crate::Result;
use crate::dataset::{Dataset, Fingerprint};
use crate::normalize::{self, KeyedQuery};
use crate::query::{Agg, Filter, Predicate, Query, Value};

/// The most requests remembered.
pub(crate) const CAPACITY: usize = 4096;

/// The most bytes the remembered requests and their keys may hold.
pub(crate) const MAX_BYTES: usize = 16 << 20;

type Hasher64 = foldhash::fast::FixedState;

/// Raw requests and what normalizing them against one dataset version gave.
pub(crate) struct NormalizedRequests {
    map: RwLock<Entries>,
}

struct Entries {
    entries: HashMap<Request, (Fingerprint, KeyedQuery), Hasher64>,
    /// What `entries` holds, as [`weight`] counts it.
    bytes: usize,
}

/// An owned request, as stored.
struct Request(Query);

/// A borrowed request, as looked up.
struct Lookup<'a>(&'a Query);

impl Hash for Request {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_query(&self.0, state);
    }
}

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_query(self.0, state);
    }
}

impl PartialEq for Request {
    fn eq(&self, other: &Self) -> bool {
        same_query(&self.0, &other.0)
    }
}

impl Eq for Request {}

impl Equivalent<Request> for Lookup<'_> {
    fn equivalent(&self, stored: &Request) -> bool {
        same_query(self.0, &stored.0)
    }
}

impl NormalizedRequests {
    pub(crate) fn new() -> NormalizedRequests {
        NormalizedRequests {
            map: RwLock::new(Entries {
                entries: HashMap::with_hasher(Hasher64::with_seed(0x7071_6372)),
                bytes: 0,
            }),
        }
    }

    /// `query` normalized against `dataset`, remembered when this exact
    /// request was normalized against this exact data before.
    pub(crate) fn normalize(&self, query: &Query, dataset: &Dataset) -> Result<KeyedQuery> {
        let fingerprint = dataset.fingerprint();
        if let Some((seen_on, normalized)) = self.map.read().entries.get(&Lookup(query))
            && *seen_on == fingerprint
        {
            return Ok(normalized.clone());
        }
        let normalized = normalize::normalize(query, dataset)?.keyed(fingerprint);
        // The key's text form, kept in the key once made (the slower tiers
        // use it too), measures what the canonical form holds: a range
        // with holes is enumerated to up to a thousand values.
        let weight = weight(query) + 2 * normalized.key().stable_text().len();
        if weight > MAX_BYTES / 64 {
            // One request this large would flush many small ones.
            return Ok(normalized);
        }
        let mut seen = self.map.write();
        if seen.entries.len() >= CAPACITY || seen.bytes + weight > MAX_BYTES {
            seen.entries.clear();
            seen.bytes = 0;
        }
        let replaced = seen
            .entries
            .insert(Request(query.clone()), (fingerprint, normalized.clone()));
        if replaced.is_none() {
            seen.bytes += weight;
        }
        Ok(normalized)
    }

    /// The bytes the remembered requests are counted as holding.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.map.read().bytes
    }
}

/// What remembering `query` costs, roughly: the request itself, and its
/// normalized key, which is at most about as large again (a `between` with
/// holes is enumerated to at most a thousand values, no more than the
/// request's own list would hold), plus fixed overheads.
fn weight(query: &Query) -> usize {
    let value = |v: &Value| {
        std::mem::size_of::<Value>()
            + match v {
                Value::Str(s) => s.len(),
                _ => 0,
            }
    };
    let filters: usize = query
        .filters
        .iter()
        .map(|f| {
            std::mem::size_of::<Filter>()
                + f.column.len()
                + match &f.predicate {
                    Predicate::In(vs) | Predicate::NotIn(vs) => vs.iter().map(value).sum(),
                    Predicate::Between(a, b) => value(a) + value(b),
                    Predicate::Eq(v)
                    | Predicate::Ne(v)
                    | Predicate::Lt(v)
                    | Predicate::Le(v)
                    | Predicate::Gt(v)
                    | Predicate::Ge(v) => value(v),
                    Predicate::IsNull | Predicate::IsNotNull => 0,
                }
        })
        .sum();
    let names: usize = query.group_by.iter().map(|g| g.len() + 24).sum::<usize>()
        + query
            .aggs
            .iter()
            .map(|a| {
                std::mem::size_of::<Agg>()
                    + a.column.as_ref().map_or(0, String::len)
                    + a.alias.as_ref().map_or(0, String::len)
            })
            .sum::<usize>()
        + query
            .sort
            .iter()
            .map(|s| s.column.len() + 32)
            .sum::<usize>();
    2 * (std::mem::size_of::<Query>() + filters + names) + 512
}

fn hash_value<H: Hasher>(value: &Value, state: &mut H) {
    match value {
        Value::Bool(b) => (0u8, *b).hash(state),
        Value::Int(i) => (1u8, *i).hash(state),
        Value::Float(f) => (2u8, f.to_bits()).hash(state),
        Value::Str(s) => (3u8, s).hash(state),
    }
}

// `hash_query` and `same_query` destructure the query whole, so that a new
// field of [`Query`] does not compile until both hash and compare it (two
// requests differing in it would otherwise share an entry).

fn hash_query<H: Hasher>(q: &Query, state: &mut H) {
    let Query {
        filters,
        group_by,
        aggs,
        sort,
        limit,
    } = q;
    state.write_usize(filters.len());
    for Filter { column, predicate } in filters {
        column.hash(state);
        predicate.op().hash(state);
        match predicate {
            Predicate::Eq(v)
            | Predicate::Ne(v)
            | Predicate::Lt(v)
            | Predicate::Le(v)
            | Predicate::Gt(v)
            | Predicate::Ge(v) => {
                hash_value(v, state);
            }
            Predicate::In(vs) | Predicate::NotIn(vs) => {
                state.write_usize(vs.len());
                vs.iter().for_each(|v| hash_value(v, state));
            }
            Predicate::Between(low, high) => {
                hash_value(low, state);
                hash_value(high, state);
            }
            Predicate::IsNull | Predicate::IsNotNull => {}
        }
    }
    group_by.hash(state);
    state.write_usize(aggs.len());
    for Agg {
        func,
        column,
        alias,
    } in aggs
    {
        (func, column, alias).hash(state);
    }
    sort.hash(state);
    limit.hash(state);
}

/// Equal as requests: floats compared by their bits, so the relation is an
/// equivalence (NaN equals itself) and agrees with the hash.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Float(_), _) | (_, Value::Float(_)) => false,
        (a, b) => a == b,
    }
}

fn same_values(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
}

fn same_predicate(a: &Predicate, b: &Predicate) -> bool {
    use Predicate as P;
    match (a, b) {
        (P::Eq(x), P::Eq(y))
        | (P::Ne(x), P::Ne(y))
        | (P::Lt(x), P::Lt(y))
        | (P::Le(x), P::Le(y))
        | (P::Gt(x), P::Gt(y))
        | (P::Ge(x), P::Ge(y)) => same_value(x, y),
        (P::In(x), P::In(y)) | (P::NotIn(x), P::NotIn(y)) => same_values(x, y),
        (P::Between(a1, a2), P::Between(b1, b2)) => same_value(a1, b1) && same_value(a2, b2),
        (P::IsNull, P::IsNull) | (P::IsNotNull, P::IsNotNull) => true,
        _ => false,
    }
}

fn same_query(a: &Query, b: &Query) -> bool {
    let Query {
        filters,
        group_by,
        aggs,
        sort,
        limit,
    } = a;
    let Query {
        filters: other_filters,
        group_by: other_group_by,
        aggs: other_aggs,
        sort: other_sort,
        limit: other_limit,
    } = b;
    filters.len() == other_filters.len()
        && filters
            .iter()
            .zip(other_filters)
            .all(|(x, y)| x.column == y.column && same_predicate(&x.predicate, &y.predicate))
        && group_by == other_group_by
        && aggs == other_aggs
        && sort == other_sort
        && limit == other_limit
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn the_remembered_requests_stay_within_their_bytes() {
        let frame = df!("c" => ["a", "b"], "n" => [1i64, 2]).unwrap();
        let dataset = Dataset::from_frame(frame).unwrap();
        let requests = NormalizedRequests::new();
        // Long names (unknown columns fail before they are remembered, so
        // the long text goes in an `in` list of a known column).
        for i in 0..2_000 {
            let values: Vec<String> = (0..50)
                .map(|j| format!("{i}-{j}-{}", "x".repeat(100)))
                .collect();
            let query = Query::new().is_in("c", values).len();
            requests.normalize(&query, &dataset).unwrap();
            assert!(
                requests.bytes() <= MAX_BYTES,
                "{} bytes after {i} requests",
                requests.bytes()
            );
        }
        let huge: Vec<String> = (0..1000)
            .map(|j| format!("{j}{}", "y".repeat(1000)))
            .collect();
        let query = Query::new().is_in("c", huge).len();
        let before = requests.bytes();
        requests.normalize(&query, &dataset).unwrap();
        assert_eq!(
            requests.bytes(),
            before,
            "a request over a 64th of the budget is not kept"
        );
    }
}
