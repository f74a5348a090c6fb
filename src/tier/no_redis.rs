//! The Redis tier of a build without the `redis` feature: a type with no
//! values. The cache holds an `Option` of it that is always `None`, so its
//! fan-out to the tiers is written once for both builds, and none of these
//! methods can ever run.

use std::time::Duration;

use polars::prelude::DataFrame;

use super::Once;
use super::codec::{Decoded, Expected};
use super::counters::RedisCounters;
use crate::dataset::Fingerprint;
use crate::normalize::QueryKey;

/// No Redis tier.
pub(crate) enum RedisTier {}

impl RedisTier {
    pub(crate) fn get(&self, _key: &QueryKey, _expected: Option<&Expected>) -> Option<Decoded> {
        match *self {}
    }

    pub(crate) fn put(&self, _key: &QueryKey, _frame: &DataFrame, _cost: Duration) {
        match *self {}
    }

    pub(crate) fn compute_once<T>(
        &self,
        _key: &QueryKey,
        _wait: bool,
        _expected: Option<&Expected>,
        _compute: impl FnOnce() -> T,
    ) -> Once<T> {
        match *self {}
    }

    pub(crate) fn remove(&self, _key: &QueryKey) {
        match *self {}
    }

    pub(crate) fn remove_dataset(&self, _dataset: Fingerprint) {
        match *self {}
    }

    pub(crate) fn adopt(
        &self,
        _dataset: Fingerprint,
        _source: &str,
        _replaced: Option<Fingerprint>,
    ) {
        match *self {}
    }

    pub(crate) fn counters(&self) -> &RedisCounters {
        match *self {}
    }
}
