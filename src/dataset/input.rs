//! What a dataset is read from: one file, a glob or a directory of files of
//! one format, resolved to a sorted list of files.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::compression;
use crate::{Error, Result};

/// The format of a dataset's files.
///
/// ```
/// use polars_query_cache::Format;
///
/// assert_eq!(Format::of_path("sales.parquet".as_ref()), Some(Format::Parquet));
/// assert_eq!(Format::of_path("sales.csv.gz".as_ref()), Some(Format::Csv));
/// assert_eq!("ndjson".parse::<Format>(), Ok(Format::NdJson));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Comma-separated values (or another delimiter), also compressed with
    /// gzip or zstd (`.csv`, `.tsv`, `.txt`, each optionally `.gz`/`.zst`).
    Csv,
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// Arrow IPC files, also known as Feather v2 (`.arrow`, `.ipc`, `.feather`).
    Ipc,
    /// Newline-delimited JSON, one object a line (`.ndjson`, `.jsonl`).
    NdJson,
}

impl Format {
    /// Every format, in the order they are listed in messages.
    pub const ALL: [Format; 4] = [Format::Csv, Format::Parquet, Format::Ipc, Format::NdJson];

    /// The format a file's extension names, `None` when it names none of
    /// them. A compression suffix (`.gz`, `.zst`) is looked through.
    pub fn of_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        let extension = Path::new(compression::strip_suffix(name))
            .extension()?
            .to_str()?
            .to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|format| format.extensions().contains(&extension.as_str()))
    }

    /// The extensions that name this format, in lower case.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Csv => &["csv", "tsv", "txt"],
            Format::Parquet => &["parquet", "pq"],
            Format::Ipc => &["arrow", "ipc", "feather"],
            Format::NdJson => &["ndjson", "jsonl"],
        }
    }

    /// The format's name, as [`FromStr`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Ipc => "ipc",
            Format::NdJson => "ndjson",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A text that names no [`Format`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}; use csv, parquet, ipc or ndjson")]
pub struct ParseFormatError(String);

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(text: &str) -> Result<Format, ParseFormatError> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            "ipc" | "arrow" | "feather" => Ok(Format::Ipc),
            "ndjson" | "jsonl" => Ok(Format::NdJson),
            _ => Err(ParseFormatError(text.to_owned())),
        }
    }
}

/// The files of one dataset, sorted by path, all of one format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Input {
    /// What the user named: a file, a glob or a directory.
    pub(crate) spec: PathBuf,
    pub(crate) format: Format,
    pub(crate) files: Vec<PathBuf>,
}

impl Input {
    /// The files `spec` names: itself when it is a file; the files of a
    /// known format directly in it when it is a directory; the matches
    /// when it is a glob (`*`, `?`, `[...]`). `format` forces the format;
    /// otherwise the extensions say it, and must agree.
    pub(crate) fn resolve(spec: &Path, format: Option<Format>) -> Result<Input> {
        let text = spec.to_string_lossy();
        let files = if spec.is_dir() {
            directory_files(spec, format)?
        } else if !spec.exists() && text.contains(['*', '?', '[']) {
            glob_files(&text)?
        } else {
            // One file: opening it reports a missing one as an I/O error.
            vec![spec.to_owned()]
        };
        if files.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{} names no data files ({})",
                spec.display(),
                known_extensions(format)
            )));
        }
        let format = match format {
            Some(format) => format,
            None => agreed_format(&files)?,
        };
        Ok(Input {
            spec: spec.to_owned(),
            format,
            files,
        })
    }

    /// The files' size on disk, `None` when it is not the bytes a load
    /// reads (a compressed CSV) or a file cannot be looked at.
    pub(crate) fn total_bytes(&self) -> Option<u64> {
        let mut total = 0;
        for file in &self.files {
            // A pipe (`<(zcat ...)`) has no size, and a byte read to look
            // at it would be lost to the load.
            if !std::fs::metadata(file).ok()?.is_file() {
                return None;
            }
            if self.format == Format::Csv {
                let (compression, _) = compression::open(file).ok()?;
                if compression != compression::Compression::None {
                    return None;
                }
            }
            total += std::fs::metadata(file).ok()?.len();
        }
        Some(total)
    }

    /// Whether this is more than the one file the user named.
    pub(crate) fn is_set(&self) -> bool {
        self.files.len() != 1 || self.files[0] != self.spec
    }

    /// How a file is named in messages and in the fingerprint: its path
    /// under the directory or the glob's fixed part, so that a set moved
    /// elsewhere keeps its fingerprint.
    pub(crate) fn relative_name<'a>(&self, file: &'a Path) -> std::borrow::Cow<'a, str> {
        let base = if self.spec.is_dir() {
            self.spec.as_path()
        } else {
            file.parent().unwrap_or(Path::new(""))
        };
        file.strip_prefix(base).unwrap_or(file).to_string_lossy()
    }
}

fn directory_files(dir: &Path, format: Option<Format>) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        // Hidden files are editors' and tools' (`.~lock`, `.DS_Store`),
        // and a half-written file is often `.name.tmp`.
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden || !path.is_file() {
            continue;
        }
        let known = Format::of_path(&path);
        if known.is_some() && (format.is_none() || known == format) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn glob_files(pattern: &str) -> Result<Vec<PathBuf>> {
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..glob::MatchOptions::new()
    };
    let matches = glob::glob_with(pattern, options)
        .map_err(|e| Error::InvalidInput(format!("bad glob {pattern:?}: {e}")))?;
    let mut files = Vec::new();
    for found in matches {
        let path = found.map_err(|e| Error::io(e.path(), std::io::Error::other(e.to_string())))?;
        // As in a directory: hidden files are often half-written ones.
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The one format every file's extension names; a file without a known
/// extension is read as CSV when it is alone (as always), refused in a set.
fn agreed_format(files: &[PathBuf]) -> Result<Format> {
    if let [only] = files {
        return Ok(Format::of_path(only).unwrap_or(Format::Csv));
    }
    let mut agreed: Option<(Format, &Path)> = None;
    for file in files {
        let Some(format) = Format::of_path(file) else {
            return Err(Error::InvalidInput(format!(
                "{}: the extension names no format ({}); pass the format explicitly",
                file.display(),
                known_extensions(None)
            )));
        };
        match agreed {
            None => agreed = Some((format, file)),
            Some((first, first_file)) if first != format => {
                return Err(Error::InvalidInput(format!(
                    "{} is {format} but {} is {first}: one dataset's files share one format",
                    file.display(),
                    first_file.display()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(agreed.map_or(Format::Csv, |(format, _)| format))
}

fn known_extensions(format: Option<Format>) -> String {
    let formats: Vec<Format> = match format {
        Some(format) => vec![format],
        None => Format::ALL.to_vec(),
    };
    formats
        .iter()
        .flat_map(|f| f.extensions())
        .map(|e| format!(".{e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_extensions() {
        let of = |name: &str| Format::of_path(Path::new(name));
        assert_eq!(of("a/b.CSV"), Some(Format::Csv));
        assert_eq!(of("b.tsv.zst"), Some(Format::Csv));
        assert_eq!(of("b.pq"), Some(Format::Parquet));
        assert_eq!(of("b.feather"), Some(Format::Ipc));
        assert_eq!(of("b.jsonl"), Some(Format::NdJson));
        assert_eq!(of("b.json"), None);
        assert_eq!(of("b"), None);
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
        }
        assert!("xlsx".parse::<Format>().is_err());
    }

    #[test]
    fn a_directory_is_its_data_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.parquet", "a.parquet", ".hidden.parquet", "notes.md"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.parquet")).unwrap();
        let input = Input::resolve(dir.path(), None).unwrap();
        assert_eq!(input.format, Format::Parquet);
        let names: Vec<_> = input
            .files
            .iter()
            .map(|f| input.relative_name(f).into_owned())
            .collect();
        assert_eq!(names, ["a.parquet", "b.parquet"]);
        assert!(input.is_set());
    }

    #[test]
    fn mixed_formats_and_empty_sets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), b"x").unwrap();
        std::fs::write(dir.path().join("b.parquet"), b"x").unwrap();
        let err = Input::resolve(dir.path(), None).unwrap_err().to_string();
        assert!(
            err.contains("b.parquet is parquet but") && err.contains("a.csv is csv"),
            "{err}"
        );
        // Forcing a format picks its files.
        let input = Input::resolve(dir.path(), Some(Format::Csv)).unwrap();
        assert_eq!(input.files.len(), 1);
        let pattern = dir.path().join("*.ndjson");
        let err = Input::resolve(&pattern, None).unwrap_err().to_string();
        assert!(err.contains("names no data files"), "{err}");
        let pattern = dir.path().join("*.csv");
        let input = Input::resolve(&pattern, None).unwrap();
        assert_eq!(input.files, [dir.path().join("a.csv")]);
        assert!(input.is_set());
    }
}
