//! `pqc`: load a CSV once into Polars and answer filter / group-by /
//! aggregate queries from a memoizing cache.
//!
//! Arguments are parsed by clap (`args`), validated into the library's
//! types (`options`), then executed by one module per command.

// Doc comments on the arguments are clap's help text, written for a
// terminal: `[:alias]` there is syntax, not a rustdoc link.
#![allow(rustdoc::broken_intra_doc_links)]

mod args;
mod bench;
mod fail;
mod generate;
mod info;
mod options;
mod progress;
mod query;
mod render;
#[cfg(feature = "server")]
mod serve;
mod sql;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use fail::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let show_progress = progress::enabled(cli.quiet);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match &cli.command {
        Command::Gen(a) => generate::run(a, show_progress),
        Command::Info(a) => info::run(a, show_progress, &mut out),
        Command::Query(a) => query::run(a, show_progress, &mut out),
        Command::Sql(a) => sql::run(a, show_progress, &mut out),
        Command::Bench(a) => bench::run(a, show_progress, &mut out),
        #[cfg(feature = "server")]
        Command::Serve(a) => serve::run(a, show_progress),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(&failure),
    }
}

fn report(failure: &Failure) -> ExitCode {
    eprintln!("pqc: {failure}");
    failure.exit_code()
}

fn init_logging(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "warn,pqc=info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
