//! Refreshing a cache when its files change: file events from the OS,
//! debounced, each quiet spell after a change one [`CachedQuery::refresh`].

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::CachedQuery;
use crate::dataset::Origin;
use crate::{Error, Result};

/// Watches a cache's files and refreshes it after they change, until
/// dropped. Made by [`CachedQuery::watch`].
pub struct Watcher {
    // Dropping the debouncer stops the OS watch and closes the channel the
    // refreshing thread waits on, which then ends.
    _debouncer: Debouncer<notify_debouncer_full::notify::RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl CachedQuery {
    /// Refreshes the cache whenever its files change: a file written,
    /// replaced, added to or removed from its directory or glob. Events are
    /// debounced: a refresh runs once no event came for `debounce`, so a
    /// file written in many small appends is read once they pause, and a
    /// burst of files is one refresh. Appends read only the new rows (see
    /// [`refresh`](Self::refresh)).
    ///
    /// Refreshes run on a thread of the watcher's; their errors (a file
    /// removed mid-write, a malformed append) are logged and the current
    /// version stays. The watcher holds the cache weakly: dropping either
    /// ends the watch.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use polars_query_cache::CachedQuery;
    ///
    /// let cache = Arc::new(CachedQuery::from_csv("sales.csv")?);
    /// let _watcher = cache.watch(Duration::from_millis(500))?;
    /// // ... answer queries; appends to sales.csv are picked up.
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watch(self: &Arc<Self>, debounce: Duration) -> Result<Watcher> {
        let dataset = self.dataset();
        let Origin::Files { path, .. } = dataset.origin() else {
            return Err(Error::InvalidInput(
                "a cache built from bytes or a frame has no files to watch".to_owned(),
            ));
        };
        let (root, mode, matches) = what_to_watch(path);
        let (events, changed) = mpsc::channel::<()>();
        let handler = move |result: DebounceEventResult| match result {
            Ok(events_seen) => {
                let relevant = events_seen.iter().any(|event| {
                    // The OS dropped events (an inotify queue overflow):
                    // anything may have changed.
                    event.need_rescan()
                        || (matches!(
                            event.kind,
                            EventKind::Create(_)
                                | EventKind::Modify(_)
                                | EventKind::Remove(_)
                                | EventKind::Any
                        ) && event.paths.iter().any(|p| matches(p)))
                });
                if relevant {
                    let _ = events.send(());
                }
            }
            Err(errors) => {
                for error in &errors {
                    tracing::warn!(%error, "watching the data files");
                }
                // A change may be among what was lost: look.
                let _ = events.send(());
            }
        };
        let mut debouncer = new_debouncer(debounce.max(Duration::from_millis(1)), None, handler)
            .map_err(|e| Error::io(&root, std::io::Error::other(e.to_string())))?;
        debouncer
            .watch(&root, mode)
            .map_err(|e| Error::io(&root, std::io::Error::other(e.to_string())))?;
        let cache: Weak<CachedQuery> = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("pqc-watch".to_owned())
            .spawn(move || refresh_on(&changed, &cache, debounce))
            .map_err(|e| Error::io(&root, e))?;
        tracing::info!(path = %root.display(), "watching the data files");
        Ok(Watcher {
            _debouncer: debouncer,
        })
    }
}

/// Refreshes `cache` after each change, once for all the changes that came
/// in meanwhile; ends when the watcher or the cache is gone.
///
/// The debouncer reports an event once it is `quiet` old, not once the
/// files went quiet: a writer still appending would be read mid-line. So
/// each refresh waits until `quiet` passed with no further event.
fn refresh_on(changed: &mpsc::Receiver<()>, cache: &Weak<CachedQuery>, quiet: Duration) {
    while changed.recv().is_ok() {
        // Files that never go quiet (a log written every few milliseconds)
        // are refreshed at least every `MAX_WAITS` quiet spells.
        let mut waits = 0;
        while waits < MAX_WAITS {
            match changed.recv_timeout(quiet) {
                Ok(()) => waits += 1,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        let Some(cache) = cache.upgrade() else {
            return;
        };
        // A panic in a refresh (a reader on a damaged file) must not end
        // the watch: the next change is looked at all the same.
        let refreshed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cache.refresh()));
        match refreshed {
            Ok(Ok(outcome)) if outcome.changed() => tracing::info!(
                old = %outcome.old,
                new = %outcome.new,
                appended_rows = outcome.appended_rows,
                "data files changed; refreshed"
            ),
            Ok(Ok(_)) => tracing::debug!("data files touched; content unchanged"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "data files changed; refresh failed, the current version stays");
            }
            Err(_) => tracing::error!(
                "data files changed; the refresh panicked, the current version stays"
            ),
        }
    }
}

/// How many quiet spells a refresh waits, at most, for files to go quiet.
const MAX_WAITS: u32 = 20;

type Matcher = Box<dyn Fn(&Path) -> bool + Send>;

/// The directory to watch for `path` (a file, a directory or a glob), how
/// deep, and which event paths concern the dataset. A file's directory is
/// watched, not the file: editors and `mv` replace a file, and a watch on
/// the old one would see nothing more.
fn what_to_watch(path: &Path) -> (PathBuf, RecursiveMode, Matcher) {
    let text = path.to_string_lossy().into_owned();
    if path.is_dir() {
        return (
            path.to_owned(),
            RecursiveMode::NonRecursive,
            Box::new(|_| true),
        );
    }
    if !path.exists() && text.contains(['*', '?', '[']) {
        // The glob's fixed leading directories; below them, what matches
        // the pattern (`*` not crossing a `/`). Watched recursively only
        // when the pattern has wildcards in a directory too.
        let mut root = PathBuf::new();
        let mut rest = 0;
        for part in path.components() {
            if rest > 0 || part.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
                rest += 1;
            } else {
                root.push(part);
            }
        }
        let root = if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root
        };
        let mode = if rest > 1 {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..glob::MatchOptions::new()
        };
        let pattern = glob::Pattern::new(&text).ok();
        let absolute = std::path::absolute(path)
            .ok()
            .and_then(|p| glob::Pattern::new(&p.to_string_lossy()).ok());
        return (
            root,
            mode,
            Box::new(move |p: &Path| {
                pattern
                    .as_ref()
                    .is_some_and(|g| g.matches_path_with(p, options))
                    || absolute
                        .as_ref()
                        .is_some_and(|g| g.matches_path_with(p, options))
            }),
        );
    }
    let file = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let dir = file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let name = file.file_name().map(|n| n.to_owned());
    (
        dir,
        RecursiveMode::NonRecursive,
        Box::new(move |p: &Path| p.file_name() == name.as_deref()),
    )
}
