//! Errors as the command line reports them: one line, a hint, and an exit
//! code that says what kind of problem it was.

use std::fmt;
use std::process::ExitCode;

use polars_query_cache::Error;

/// Exit codes, stable for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 2: the command line itself is wrong (clap uses 2 too).
    Usage = 2,
    /// 3: a query is wrong.
    Query = 3,
    /// 4: the data file is malformed.
    Data = 4,
    /// 5: a file could not be read or written.
    Io = 5,
    /// 1: anything else.
    Internal = 1,
}

#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            kind: Kind::Usage,
            message: message.into(),
        }
    }

    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Failure {
        Failure {
            kind: Kind::Io,
            message: format!("{what}: {err}"),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind as u8)
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Failure {
        let kind = match &err {
            Error::MalformedCsv { .. }
            | Error::MalformedFile { .. }
            | Error::SchemaMismatch { .. }
            | Error::InvalidInput(_) => Kind::Data,
            // The file changed under a scan: the machine's state, not the
            // query's nor the data's.
            Error::Io { .. } | Error::DataChanged { .. } => Kind::Io,
            // A refused password or a bad URL: the flag is wrong.
            Error::Redis(_) => Kind::Usage,
            e if e.is_query_error() => Kind::Query,
            _ => Kind::Internal,
        };
        Failure {
            kind,
            message: err.to_string(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Failure {
    /// The same failure, its message prefixed with where it happened.
    pub fn context(mut self, what: impl fmt::Display) -> Failure {
        self.message = format!("{what}: {}", self.message);
        self
    }
}
