//! `pqc sql`: answer SQL queries through one cache, in order, as `pqc
//! query` answers JSON ones.

use std::io::Write;

use crate::args::SqlArgs;
use crate::fail::Failure;
use crate::query::answer_all;

pub fn run(args: &SqlArgs, show_progress: bool, out: &mut impl Write) -> Result<(), Failure> {
    answer_all(
        &args.input,
        &args.output,
        &args.sql,
        show_progress,
        out,
        |cache, sql| cache.sql(sql),
    )
}
