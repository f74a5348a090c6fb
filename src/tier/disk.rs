//! The disk tier: one compressed Arrow IPC file per entry, under a
//! directory per dataset version, bounded in bytes, shared by processes.
//!
//! Writes go to a temporary file that is synced, then renamed into place
//! (and the directory synced), so a reader (in this process or another, or
//! after a crash) sees a whole entry or none. Every read is verified by the
//! codec: checksum, MAC (with a [`TierSecret`]), key, and the frame against
//! what the key implies; a file that fails is deleted and counted, never
//! served. Every failure is logged and counted, and the query goes on
//! without this tier.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use polars::prelude::DataFrame;

use super::codec::{self, Decoded, Expected};
use super::counters::DiskCounters;
use super::entry_name;
use super::secret::TierSecret;
use crate::dataset::Fingerprint;
use crate::files::{is_stale_temp, write_atomically};
use crate::normalize::QueryKey;

const EXTENSION: &str = "pqc";
/// In each dataset directory: the path of the CSV file it belongs to.
const SOURCE_FILE: &str = "source";

struct FileInfo {
    bytes: u64,
    last_used: SystemTime,
}

#[derive(Default)]
struct Index {
    files: HashMap<PathBuf, FileInfo>,
    total: u64,
    /// Keys of the entries this process wrote or read, so that
    /// `invalidate_where` can judge them.
    known: HashMap<PathBuf, QueryKey>,
}

pub(crate) struct DiskTier {
    root: PathBuf,
    max_bytes: u64,
    ttl: Option<Duration>,
    secret: Option<TierSecret>,
    index: Mutex<Index>,
    pub(crate) counters: DiskCounters,
}

impl DiskTier {
    /// Opens (and creates) `root`, indexing the entries already there.
    /// With a `secret`, entries are signed, and only signed ones are read.
    pub(crate) fn open(
        root: &Path,
        max_bytes: u64,
        ttl: Option<Duration>,
        secret: Option<TierSecret>,
    ) -> DiskTier {
        let tier = DiskTier {
            root: root.to_owned(),
            max_bytes,
            ttl,
            secret,
            index: Mutex::new(Index::default()),
            counters: DiskCounters::default(),
        };
        if let Err(e) = fs::create_dir_all(root) {
            tier.failed("create the cache directory", root, &e);
        }
        tier.scan();
        tier
    }

    fn failed(&self, what: &str, path: &Path, err: &io::Error) {
        self.counters.errors.fetch_add(1, Relaxed);
        tracing::warn!(path = %path.display(), error = %err, "disk tier: cannot {what}; going on without it");
    }

    fn scan(&self) {
        let Ok(datasets) = fs::read_dir(&self.root) else {
            return;
        };
        let mut index = self.index.lock();
        for dataset in datasets.flatten() {
            let Ok(files) = fs::read_dir(dataset.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                let Ok(meta) = file.metadata() else { continue };
                if path.extension().is_some_and(|e| e == EXTENSION) {
                    let last_used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    index.total += meta.len();
                    index.files.insert(
                        path,
                        FileInfo {
                            bytes: meta.len(),
                            last_used,
                        },
                    );
                } else if is_stale_temp(&path, &meta) {
                    // Left by a process that died while writing.
                    let _ignored = fs::remove_file(&path);
                }
            }
        }
    }

    fn dataset_dir(&self, dataset: Fingerprint) -> PathBuf {
        self.root.join(dataset.to_string())
    }

    /// Where `key`'s entry lives: named by the hash of its full key text;
    /// the file's header holds the key itself, checked on every read.
    pub(crate) fn path_of(&self, key: &QueryKey) -> PathBuf {
        self.dataset_dir(key.dataset())
            .join(format!("{}.{EXTENSION}", entry_name(key)))
    }

    /// The entry of `key`, if a valid one is on disk (and its frame is what
    /// `expected` says, when given).
    pub(crate) fn get(&self, key: &QueryKey, expected: Option<&Expected>) -> Option<Decoded> {
        let path = self.path_of(key);
        let bytes = match self.read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.failed("read an entry", &path, &e);
                return None;
            }
        };
        let oversized = || codec::Rejected::Payload("larger than the whole tier".to_owned());
        let decoded = match bytes.as_deref().ok_or_else(oversized).and_then(|bytes| {
            codec::decode_with(bytes, key.stable_text(), self.secret.as_ref(), expected)
        }) {
            Ok(decoded) => decoded,
            Err(why) => {
                self.counters.rejected.fetch_add(1, Relaxed);
                if why.is_forged() {
                    self.counters.forged.fetch_add(1, Relaxed);
                }
                if why.is_wrong_schema() {
                    self.counters.wrong_schema.fetch_add(1, Relaxed);
                }
                tracing::warn!(path = %path.display(), reason = %why, "disk tier: discarding an invalid entry");
                self.delete(&path);
                return None;
            }
        };
        let now = SystemTime::now();
        if let Some(ttl) = self.ttl
            && now.duration_since(decoded.created).unwrap_or_default() > ttl
        {
            self.delete(&path);
            return None;
        }
        // Last use is tracked in this process's index (LRU); the file's
        // modification time, what other processes go by, is its write time:
        // touching it on every read would cost two system calls per hit.
        let mut index = self.index.lock();
        let size = bytes.map_or(0, |b| b.len()) as u64;
        if let Some(info) = index.files.get_mut(&path) {
            info.last_used = now;
        } else {
            index.total += size;
            index.files.insert(
                path.clone(),
                FileInfo {
                    bytes: size,
                    last_used: now,
                },
            );
        }
        index.known.insert(path, key.clone());
        drop(index);
        self.counters.hits.fetch_add(1, Relaxed);
        Some(decoded)
    }

    /// The bytes of the file at `path`; `None` if it is larger than the
    /// whole tier may be (never written by a worker: planted, and not worth
    /// reading into memory).
    fn read(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        let mut file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        if len > self.max_bytes {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    /// Stores `frame` as the entry of `key`.
    pub(crate) fn put(&self, key: &QueryKey, frame: &DataFrame, cost: Duration) {
        let bytes = match codec::encode_with(key.stable_text(), frame, cost, self.secret.as_ref()) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.counters.errors.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, "disk tier: cannot encode an entry");
                return;
            }
        };
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return;
        }
        let path = self.path_of(key);
        if let Err(e) = write_atomically(&path, &bytes) {
            self.failed("write an entry", &path, &e);
            return;
        }
        self.counters.writes.fetch_add(1, Relaxed);
        let mut index = self.index.lock();
        if let Some(old) = index.files.insert(
            path.clone(),
            FileInfo {
                bytes: size,
                last_used: SystemTime::now(),
            },
        ) {
            index.total -= old.bytes;
        }
        index.total += size;
        index.known.insert(path, key.clone());
        self.evict(&mut index);
    }

    /// Deletes least recently used files until the tier fits its budget.
    fn evict(&self, index: &mut Index) {
        while index.total > self.max_bytes {
            let Some(oldest) = index
                .files
                .iter()
                .min_by_key(|(_, info)| info.last_used)
                .map(|(p, _)| p.clone())
            else {
                break;
            };
            if let Some(info) = index.files.remove(&oldest) {
                index.total -= info.bytes;
            }
            index.known.remove(&oldest);
            match fs::remove_file(&oldest) {
                Ok(()) => {
                    self.counters.evictions.fetch_add(1, Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => self.failed("evict an entry", &oldest, &e),
            }
        }
    }

    fn delete(&self, path: &Path) {
        let mut index = self.index.lock();
        if let Some(info) = index.files.remove(path) {
            index.total -= info.bytes;
        }
        index.known.remove(path);
        drop(index);
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => self.failed("delete an entry", path, &e),
        }
    }

    /// Drops `key`'s entry. Returns whether there was one.
    pub(crate) fn remove(&self, key: &QueryKey) -> bool {
        let path = self.path_of(key);
        let existed = path.exists();
        self.delete(&path);
        existed
    }

    /// Drops the entries this process knows the keys of and `predicate`
    /// accepts. Returns their keys.
    pub(crate) fn remove_where(&self, predicate: &dyn Fn(&QueryKey) -> bool) -> Vec<QueryKey> {
        let doomed: Vec<(PathBuf, QueryKey)> = {
            let index = self.index.lock();
            index
                .known
                .iter()
                .filter(|(_, key)| predicate(key))
                .map(|(p, k)| (p.clone(), k.clone()))
                .collect()
        };
        for (path, _) in &doomed {
            self.delete(path);
        }
        doomed.into_iter().map(|(_, key)| key).collect()
    }

    /// Drops every entry of one dataset version.
    pub(crate) fn remove_dataset(&self, dataset: Fingerprint) {
        let dir = self.dataset_dir(dataset);
        let mut index = self.index.lock();
        let doomed: Vec<PathBuf> = index
            .files
            .keys()
            .filter(|p| p.starts_with(&dir))
            .cloned()
            .collect();
        for path in doomed {
            if let Some(info) = index.files.remove(&path) {
                index.total -= info.bytes;
            }
            index.known.remove(&path);
        }
        drop(index);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => self.failed("delete a dataset's entries", &dir, &e),
        }
    }

    /// Marks `dataset` as the current version of `source` (the file and
    /// the options it is read with), and deletes the entries of that
    /// source's other versions: they can never be read again (their
    /// fingerprint is gone), so they only take space.
    pub(crate) fn adopt(&self, dataset: Fingerprint, source: &str) {
        let dir = self.dataset_dir(dataset);
        if let Err(e) = fs::create_dir_all(&dir)
            .and_then(|()| write_atomically(&dir.join(SOURCE_FILE), source.as_bytes()))
        {
            self.failed("record a dataset's source", &dir, &e);
            return;
        }
        let Ok(datasets) = fs::read_dir(&self.root) else {
            return;
        };
        for other in datasets.flatten() {
            let path = other.path();
            if path == dir {
                continue;
            }
            let same_source = fs::read_to_string(path.join(SOURCE_FILE)).is_ok_and(|s| s == source);
            let fingerprint = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<Fingerprint>().ok());
            if let (true, Some(old)) = (same_source, fingerprint) {
                tracing::info!(old = %old, "disk tier: dropping the entries of an older version of the file");
                self.remove_dataset(old);
            }
        }
    }

    /// Entries and bytes on disk, as indexed.
    pub(crate) fn usage(&self) -> (u64, u64) {
        let index = self.index.lock();
        (index.files.len() as u64, index.total)
    }
}
