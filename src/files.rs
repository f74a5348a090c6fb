//! Files written whole or not at all, for the disk tier and the dataset
//! snapshots alike.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use xxhash_rust::xxh3::xxh3_128;

/// Writes to a temporary file in the same directory, syncs it, then renames
/// it into place and syncs the directory (where the platform allows):
/// readers see the old file, the new one, or none; never half of one, even
/// after a crash.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let unique = format!(
        ".{}.tmp-{}-{:x}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id(),
        xxh3_128(format!("{:?}{:?}", std::thread::current().id(), SystemTime::now()).as_bytes())
            as u64
    );
    let tmp = dir.join(unique);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ignored = fs::remove_file(&tmp);
        return result;
    }
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable. Only Unix can open a directory to sync
/// it; elsewhere (and where the file system refuses) the rename stands
/// as the platform keeps it.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(path = %dir.display(), error = %e, "cannot sync a directory");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Whether `path` is a temporary file of [`write_atomically`] left over an
/// hour ago, by a process that died while writing.
pub(crate) fn is_stale_temp(path: &Path, meta: &fs::Metadata) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let old = meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(3600));
    name.starts_with('.') && name.contains(".tmp-") && old
}
