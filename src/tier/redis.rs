//! The Redis tier (feature `redis`): one worker's computation becomes every
//! worker's hit, across processes and hosts.
//!
//! Values use the disk tier's codec (Arrow IPC with the full key and a
//! checksum), so a value that fails verification is never served. Keys are
//! `{prefix}:{dataset}:{key hash}` and carry the time to live. A short lock
//! (`SET NX PX`) makes one worker compute a key while the others wait for
//! its value (bounded by the lock's life, so a worker that dies holding it
//! only delays the others). Invalidations are published on a channel;
//! every worker's subscriber drops the matching memory entries.
//!
//! Redis failing never fails a query: a timeout or a refused connection
//! opens a circuit breaker that bypasses Redis for a back-off period (1 s,
//! doubling up to 30 s by default), counted in `redis_errors`; the tier comes back by
//! itself when Redis answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use polars::prelude::DataFrame;
use xxhash_rust::xxh3::xxh3_128;

use super::codec::{self, Decoded};
use crate::dataset::Fingerprint;
use crate::normalize::QueryKey;
use crate::{Error, Result};

/// How the Redis tier connects and behaves.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://[:password@]host[:port][/db]` or `rediss://...`.
    pub url: String,
    /// Prefix of every key and of the invalidation channel. Default: `pqc:v1`.
    pub prefix: String,
    /// Results larger than this (encoded) stay local. Default: 64 MiB.
    pub max_value_bytes: u64,
    /// Connect timeout. Default: 500 ms.
    pub connect_timeout: Duration,
    /// Timeout of one command. Default: 500 ms.
    pub response_timeout: Duration,
    /// Life of the compute lock: the longest other workers wait for one
    /// worker's computation before computing themselves. Default: 30 s.
    pub lock_timeout: Duration,
    /// First back-off after a failure. Default: 1 s.
    pub retry_after: Duration,
    /// Longest back-off (it doubles while failures go on). Default: 30 s.
    pub max_retry_after: Duration,
}

impl RedisOptions {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> RedisOptions {
        RedisOptions {
            url: url.into(),
            prefix: "pqc:v1".to_owned(),
            max_value_bytes: 64 << 20,
            connect_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_millis(500),
            lock_timeout: Duration::from_secs(30),
            retry_after: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// Counters of the Redis tier.
#[derive(Default)]
pub(crate) struct RedisCounters {
    pub(crate) hits: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) waits: AtomicU64,
    pub(crate) bypassed: AtomicU64,
}

/// Opens after a failure; stays open for a back-off that doubles while
/// failures continue.
struct Breaker {
    open_until: Option<Instant>,
    backoff: Duration,
}

/// What taking the compute lock gave.
pub(crate) enum Lock {
    /// This worker computes; release with the token.
    Held(String),
    /// Another worker computes: wait for its value.
    Busy,
    /// Redis is not usable now: compute without it.
    Unavailable,
}

/// Invalidation messages: `key <dataset> <hash>` or `all <dataset>`.
pub(crate) enum Invalidation {
    Key(String),
    Dataset(Fingerprint),
}

pub(crate) struct RedisTier {
    client: redis::Client,
    options: RedisOptions,
    pool: Mutex<Vec<redis::Connection>>,
    breaker: Mutex<Breaker>,
    pub(crate) counters: RedisCounters,
    stop: Arc<AtomicBool>,
    subscriber: Mutex<Option<JoinHandle<()>>>,
}

const UNLOCK: &str = r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

impl RedisTier {
    /// Connects. A server that is down is not an error (the tier fails
    /// soft and retries); a refused password is, since no retry can fix it.
    pub(crate) fn connect(options: RedisOptions) -> Result<RedisTier> {
        let client = redis::Client::open(options.url.as_str())
            .map_err(|e| Error::Redis(format!("invalid Redis URL: {e}")))?;
        let tier = RedisTier {
            client,
            breaker: Mutex::new(Breaker {
                open_until: None,
                backoff: options.retry_after,
            }),
            options,
            pool: Mutex::new(Vec::new()),
            counters: RedisCounters::default(),
            stop: Arc::new(AtomicBool::new(false)),
            subscriber: Mutex::new(None),
        };
        match tier.connection() {
            Ok(mut con) => {
                let pong: redis::RedisResult<String> = redis::cmd("PING").query(&mut con);
                match pong {
                    Ok(_) => tier.give_back(con),
                    Err(e) if is_auth_error(&e) => return Err(auth_error(&e)),
                    Err(e) => tier.failed("ping", &e),
                }
            }
            Err(e) if is_auth_error(&e) => return Err(auth_error(&e)),
            Err(e) => tier.failed("connect", &e),
        }
        Ok(tier)
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        if let Some(con) = self.pool.lock().pop() {
            return Ok(con);
        }
        let con = self
            .client
            .get_connection_with_timeout(self.options.connect_timeout)?;
        con.set_read_timeout(Some(self.options.response_timeout))?;
        con.set_write_timeout(Some(self.options.response_timeout))?;
        Ok(con)
    }

    fn give_back(&self, con: redis::Connection) {
        let mut pool = self.pool.lock();
        if pool.len() < 16 {
            pool.push(con);
        }
    }

    fn failed(&self, what: &str, err: &redis::RedisError) {
        self.counters.errors.fetch_add(1, Relaxed);
        let mut breaker = self.breaker.lock();
        let backoff = breaker.backoff;
        breaker.open_until = Some(Instant::now() + backoff);
        breaker.backoff = (backoff * 2).min(self.options.max_retry_after);
        drop(breaker);
        // Connections may be half broken: start afresh after the back-off.
        self.pool.lock().clear();
        tracing::warn!(error = %err, backoff_ms = backoff.as_millis() as u64, "redis tier: cannot {what}; bypassing Redis for a while");
    }

    /// Whether Redis may be tried now (the breaker is closed, or its
    /// back-off is over and this call is the probe).
    fn usable(&self) -> bool {
        let breaker = self.breaker.lock();
        match breaker.open_until {
            Some(until) if Instant::now() < until => {
                self.counters.bypassed.fetch_add(1, Relaxed);
                false
            }
            _ => true,
        }
    }

    /// Runs one command on a pooled connection, feeding the breaker.
    fn run<T>(
        &self,
        what: &str,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        if !self.usable() {
            return None;
        }
        let outcome = self.connection().and_then(|mut con| {
            let result = command(&mut con);
            if result.is_ok() {
                self.give_back(con);
            }
            result
        });
        match outcome {
            Ok(value) => {
                let mut breaker = self.breaker.lock();
                if breaker.open_until.take().is_some() {
                    tracing::info!("redis tier: Redis answers again");
                }
                breaker.backoff = self.options.retry_after;
                Some(value)
            }
            Err(e) => {
                self.failed(what, &e);
                None
            }
        }
    }

    fn name(&self, key: &QueryKey) -> String {
        name(&self.options.prefix, key)
    }

    fn channel(&self) -> String {
        format!("{}:invalidate", self.options.prefix)
    }

    /// The value of `key`, if a valid one is in Redis.
    pub(crate) fn get(&self, key: &QueryKey) -> Option<Decoded> {
        let name = self.name(key);
        let found: Option<Option<Vec<u8>>> =
            self.run("read", |con| redis::cmd("GET").arg(&name).query(con));
        let bytes = found??;
        match codec::decode(&bytes, key.stable_text()) {
            Ok(decoded) => {
                self.counters.hits.fetch_add(1, Relaxed);
                Some(decoded)
            }
            Err(why) => {
                // Overwritten when this worker stores the recomputed answer.
                self.counters.rejected.fetch_add(1, Relaxed);
                tracing::warn!(key = %name, reason = %why, "redis tier: ignoring an invalid value");
                None
            }
        }
    }

    /// Stores `frame` as the value of `key`, with the time to live.
    pub(crate) fn put(
        &self,
        key: &QueryKey,
        frame: &DataFrame,
        cost: Duration,
        ttl: Option<Duration>,
    ) {
        let bytes = match codec::encode(key.stable_text(), frame, cost) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "redis tier: cannot encode a value");
                return;
            }
        };
        if bytes.len() as u64 > self.options.max_value_bytes {
            return;
        }
        let name = self.name(key);
        let stored = self.run("write", |con| {
            let mut cmd = redis::cmd("SET");
            cmd.arg(&name).arg(bytes);
            if let Some(ttl) = ttl {
                cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
            }
            cmd.query::<()>(con)
        });
        if stored.is_some() {
            self.counters.writes.fetch_add(1, Relaxed);
        }
    }

    /// Tries to become the one worker computing `key`.
    pub(crate) fn lock(&self, key: &QueryKey) -> Lock {
        let token = format!(
            "{}-{:?}-{:?}",
            std::process::id(),
            std::thread::current().id(),
            SystemTime::now()
        );
        let lock = format!("{}:lock", self.name(key));
        let ms = self.options.lock_timeout.as_millis().max(1) as u64;
        match self.run("lock", |con| {
            redis::cmd("SET")
                .arg(&lock)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query::<Option<String>>(con)
        }) {
            Some(Some(_)) => Lock::Held(token),
            Some(None) => Lock::Busy,
            None => Lock::Unavailable,
        }
    }

    /// Releases the lock if this worker still holds it.
    pub(crate) fn unlock(&self, key: &QueryKey, token: &str) {
        let lock = format!("{}:lock", self.name(key));
        self.run("unlock", |con| {
            redis::Script::new(UNLOCK)
                .key(&lock)
                .arg(token)
                .invoke::<i64>(con)
        });
    }

    /// Waits for another worker's value of `key`: until it appears, the
    /// lock goes away (that worker failed or died: compute here), or the
    /// lock's life has passed.
    pub(crate) fn wait_for(&self, key: &QueryKey) -> Option<Decoded> {
        self.counters.waits.fetch_add(1, Relaxed);
        let lock = format!("{}:lock", self.name(key));
        let deadline = Instant::now() + self.options.lock_timeout;
        let mut pause = Duration::from_millis(5);
        while Instant::now() < deadline {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
            if let Some(found) = self.get(key) {
                return Some(found);
            }
            let held: Option<bool> = self.run("watch a lock", |con| {
                redis::cmd("EXISTS").arg(&lock).query(con)
            });
            match held {
                Some(true) => continue,
                // Gone without a value, or Redis gone: compute here.
                _ => return self.get(key),
            }
        }
        None
    }

    /// Deletes `key`'s value and tells the other workers.
    pub(crate) fn remove(&self, key: &QueryKey) {
        let name = self.name(key);
        let channel = self.channel();
        self.run("invalidate", |con| {
            redis::cmd("DEL").arg(&name).query::<()>(con)?;
            redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(format!("key {name}"))
                .query::<()>(con)
        });
    }

    /// Deletes every value of one dataset version and tells the other workers.
    pub(crate) fn remove_dataset(&self, dataset: Fingerprint) {
        let pattern = format!("{}:{dataset}:*", self.options.prefix);
        let channel = self.channel();
        self.run("clear", |con| {
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query(con)?;
                if !keys.is_empty() {
                    redis::cmd("UNLINK").arg(&keys).query::<()>(con)?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(format!("all {dataset}"))
                .query::<()>(con)
        });
    }

    /// Starts the thread that applies other workers' invalidations through
    /// `apply`. It reconnects by itself and stops when the tier is dropped.
    pub(crate) fn subscribe(&self, apply: impl Fn(Invalidation) + Send + 'static) {
        let client = self.client.clone();
        let channel = self.channel();
        let stop = Arc::clone(&self.stop);
        let retry = self.options.retry_after;
        let max_retry = self.options.max_retry_after;
        let connect_timeout = self.options.connect_timeout;
        let handle = std::thread::Builder::new().name("pqc-redis-subscriber".to_owned()).spawn(move || {
            let mut backoff = retry;
            while !stop.load(Relaxed) {
                let session = (|| -> redis::RedisResult<()> {
                    let mut con = client.get_connection_with_timeout(connect_timeout)?;
                    let mut pubsub = con.as_pubsub();
                    pubsub.subscribe(&channel)?;
                    // Wake up now and then to notice `stop`.
                    pubsub.set_read_timeout(Some(Duration::from_millis(200)))?;
                    backoff = retry;
                    while !stop.load(Relaxed) {
                        match pubsub.get_message() {
                            Ok(msg) => {
                                let payload: String = msg.get_payload()?;
                                if let Some(name) = payload.strip_prefix("key ") {
                                    apply(Invalidation::Key(name.to_owned()));
                                } else if let Some(fp) = payload.strip_prefix("all ").and_then(|f| u128::from_str_radix(f, 16).ok()) {
                                    apply(Invalidation::Dataset(Fingerprint(fp)));
                                }
                            }
                            Err(e) if e.is_timeout() => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(())
                })();
                if let Err(e) = session {
                    tracing::debug!(error = %e, "redis tier: subscriber lost its connection; retrying");
                    let until = Instant::now() + backoff;
                    while Instant::now() < until && !stop.load(Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    backoff = (backoff * 2).min(max_retry);
                }
            }
        });
        match handle {
            Ok(handle) => *self.subscriber.lock() = Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "redis tier: cannot start the invalidation subscriber")
            }
        }
    }
}

impl Drop for RedisTier {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(handle) = self.subscriber.lock().take()
            && handle.join().is_err()
        {
            tracing::warn!("redis tier: the subscriber thread panicked");
        }
    }
}

/// The Redis name of `key`, as values and invalidation messages carry it.
pub(crate) fn name(prefix: &str, key: &QueryKey) -> String {
    format!(
        "{prefix}:{}:{:032x}",
        key.dataset(),
        xxh3_128(key.stable_text().as_bytes())
    )
}

fn is_auth_error(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
}

fn auth_error(e: &redis::RedisError) -> Error {
    Error::Redis(format!(
        "Redis refused the connection: {e}; put the password in the URL: redis://:PASSWORD@host:6379 \
         (or redis://USER:PASSWORD@host:6379)"
    ))
}
