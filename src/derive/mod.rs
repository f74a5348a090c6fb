//! Semantic reuse: answering a query from a cached answer that contains it
//! (filter narrowing and roll-ups), and declared roll-ups built up front.
//!
//! See [`DeriveMode`] for which answers may be derived and how exact they
//! are; [`CachedQueryBuilder::rollup`](crate::CachedQueryBuilder::rollup)
//! declares roll-ups.

mod apply;
mod index;
mod rules;

pub(crate) use apply::derive;
pub(crate) use index::DeriveIndex;
pub use rules::DeriveMode;
pub(crate) use rules::{AggSource, Derivation, derivation, rollup_parts};
