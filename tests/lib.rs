//! Integration tests, one binary so the heavy crate links once.

mod common;

#[cfg(all(feature = "server", feature = "cli"))]
mod abuse;
mod appends;
mod block_loading;
#[cfg(feature = "server")]
mod browser;
mod cache_behaviour;
mod cli;
mod compressed;
mod concurrency;
mod datetimes;
mod derive;
mod differential;
mod disk;
mod equivalence;
mod errors;
mod extremes;
#[cfg(feature = "flight")]
mod flight;
mod hostile;
mod inputs;
mod learned;
mod loading;
#[cfg(feature = "redis")]
mod redis;
#[cfg(all(feature = "redis", feature = "cli"))]
mod redis_cluster;
mod refresh;
#[cfg(all(unix, feature = "cli"))]
mod scan_memory;
mod semantics;
#[cfg(feature = "server")]
mod server;
mod sql;
