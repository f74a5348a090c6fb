//! The command line as clap parses it: plain strings and numbers, not yet
//! validated (see `options` for that).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Load a CSV once into Polars and answer filter / group-by / aggregate
/// queries from a memoizing cache.
#[derive(Debug, Parser)]
#[command(name = "pqc", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// No progress bars and no log lines below warnings.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// More log lines (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a deterministic synthetic sales CSV (the columns of data/sales.csv).
    Gen(GenArgs),
    /// Load a CSV and describe it: rows, columns and types, memory, load time, fingerprint.
    Info(InfoArgs),
    /// Answer queries, all through one cache, in order.
    Query(QueryArgs),
    /// Answer SQL queries (FROM the file's stem, or --table), all through one cache, in order.
    Sql(SqlArgs),
    /// Replay a query stream through the cache and, in the same run, through plain Polars.
    Bench(BenchArgs),
    /// Serve the HTTP API and the dashboard page.
    #[cfg(feature = "server")]
    Serve(Box<ServeArgs>),
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Number of rows.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Output file.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Seed: the same seed and row count always give the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write csv, parquet, ipc or ndjson: the same table in another format
    /// (parsed from the CSV, so with its types). Default: the extension of
    /// --out says it, else csv.
    #[arg(long = "output-format", value_name = "FORMAT")]
    pub output_format: Option<polars_query_cache::Format>,
}

/// How to read the CSV.
#[derive(Debug, Args, Clone)]
pub struct LoadArgs {
    /// Field delimiter (one byte).
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// Extra cell text read as null (repeatable); empty cells are null anyway.
    #[arg(long = "null-value", value_name = "TEXT")]
    pub null_values: Vec<String>,
    /// Force a column's type: NAME:int|float|str|cat|bool|date (repeatable).
    #[arg(long = "column-type", value_name = "NAME:TYPE")]
    pub column_types: Vec<String>,
    /// The data's format: csv, parquet, ipc or ndjson. Default: the files'
    /// extensions say it.
    #[arg(long = "input-format", value_name = "FORMAT")]
    pub input_format: Option<polars_query_cache::Format>,
    /// Scan mode, for data larger than memory: the table is not loaded;
    /// each miss runs as a streaming query over the files.
    #[arg(long)]
    pub scan: bool,
}

/// Cache limits.
#[derive(Debug, Args, Clone)]
pub struct CacheArgs {
    /// Memory budget, e.g. 512MiB, 2GB.
    #[arg(long, default_value = "512MiB", value_name = "SIZE")]
    pub max_bytes: String,
    /// Time to live of an entry, e.g. 90s, 10m, 1h.
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Keep results (and a snapshot of the parsed CSV) in this directory:
    /// they survive restarts and are shared by processes using it.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Budget of the --cache-dir results, e.g. 4GiB.
    #[arg(long, default_value = "4GiB", value_name = "SIZE")]
    pub disk_max_bytes: String,
    /// Answer misses from cached answers that contain them (filter
    /// narrowing, roll-ups): off, exact (bit-identical answers only) or
    /// approximate (float sums and means may differ in the last bits).
    #[arg(long, value_enum, default_value_t = Derive::Approximate)]
    pub derive: Derive,
    /// Build this roll-up at load time and keep it pinned: a query in JSON
    /// without filters, e.g. '{"group_by": ["category", "month"], "aggs":
    /// [{"fn": "sum", "column": "revenue"}]}' (repeatable).
    #[arg(long = "rollup", value_name = "JSON")]
    pub rollups: Vec<String>,
    /// Budget of the roll-ups learned from the misses (built in the
    /// background, outside --max-bytes), e.g. 64MiB.
    #[arg(long, default_value = "64MiB", value_name = "SIZE")]
    pub learned_rollup_bytes: String,
    /// Learn no roll-ups from the misses.
    #[arg(long)]
    pub no_learned_rollups: bool,
    /// The table's name in SQL (FROM NAME) and in the statistics' SQL
    /// [default: the file's stem, e.g. sales for data/sales.csv].
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Share results with every process using this Redis:
    /// redis://[:password@]host[:port][/db] or rediss://...; a Redis
    /// Cluster: redis+cluster://[:password@]host:port,host:port (some of
    /// its nodes; rediss+cluster:// for TLS)
    #[cfg(feature = "redis")]
    #[arg(long, env = "REDIS_URL", value_name = "URL", hide_env_values = true)]
    pub redis: Option<String>,
    /// Prefix of the Redis keys (processes share entries only under one prefix).
    #[cfg(feature = "redis")]
    #[arg(long, default_value = "pqc:v1", value_name = "PREFIX")]
    pub redis_prefix: String,
    /// Sign every --cache-dir file, Redis value and invalidation message
    /// with this secret, and use only those signed with it; every process
    /// sharing the tiers needs the same one (at least 32 random bytes,
    /// e.g. `openssl rand -hex 32`). Prefer the environment variable: a
    /// command line is visible to other users.
    #[arg(
        long,
        env = "PQC_TIER_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub tier_secret: Option<Secret>,
}

/// A secret from the command line or the environment; its `Debug` form
/// does not show it.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The data: a CSV, Parquet, Arrow IPC or NDJSON file, or a directory
    /// or a quoted glob ('daily/*.parquet') of files of one format.
    pub data: PathBuf,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Use (and write) the snapshot of the parsed CSV in this cache directory.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InfoFormat::Table)]
    pub format: InfoFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InfoFormat {
    Table,
    Json,
}

/// The data `query` and `sql` answer from, and its cache.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The data: a CSV, Parquet, Arrow IPC or NDJSON file, or a directory
    /// or a quoted glob ('daily/*.parquet') of files of one format.
    pub data: PathBuf,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// A filter: 'col=v', 'col!=v', 'col<v', 'col<=v', 'col>v', 'col>=v',
    /// 'col in a,b', 'col not in a,b', 'col between lo,hi', 'col is null',
    /// 'col is not null' (repeatable, ANDed).
    #[arg(long = "filter", value_name = "EXPR", help_heading = "Query as flags")]
    pub filters: Vec<String>,
    /// Group-by columns (repeatable, or comma separated).
    #[arg(
        long = "group-by",
        value_name = "COLS",
        help_heading = "Query as flags"
    )]
    pub group_by: Vec<String>,
    /// An aggregate: fn:column[:alias], or len[:alias] (repeatable).
    #[arg(
        long = "agg",
        value_name = "FN:COL[:ALIAS]",
        help_heading = "Query as flags"
    )]
    pub aggs: Vec<String>,
    /// Sort by an output column: col[:asc|desc] (repeatable).
    #[arg(
        long = "sort",
        value_name = "COL[:DIR]",
        help_heading = "Query as flags"
    )]
    pub sort: Vec<String>,
    /// Keep at most this many rows.
    #[arg(long, help_heading = "Query as flags")]
    pub limit: Option<usize>,

    /// A query in its JSON form (repeatable).
    #[arg(
        long = "query-json",
        value_name = "JSON",
        help_heading = "Queries as JSON"
    )]
    pub query_json: Vec<String>,
    /// A file of JSON queries, one a line (blank lines and lines starting with # are skipped).
    #[arg(
        long = "queries",
        value_name = "FILE",
        help_heading = "Queries as JSON"
    )]
    pub queries: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// How `query` and `sql` write their answers.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the final cache statistics as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// SQL queries: SELECT group columns and aggregates FROM the table
    /// [WHERE ... AND ...] [GROUP BY ...] [ORDER BY ...] [LIMIT n].
    #[arg(required = true, value_name = "SQL")]
    pub sql: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Derive {
    Off,
    Exact,
    Approximate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text, one table per query.
    Table,
    /// CSV; with several queries each row starts with the query's number.
    Csv,
    /// One JSON array of result objects.
    Json,
    /// One JSON result object a line.
    Ndjson,
    /// An Arrow IPC stream on stdout (one query only).
    Arrow,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The data: a CSV, Parquet, Arrow IPC or NDJSON file, or a directory
    /// or a quoted glob ('daily/*.parquet') of files of one format.
    pub data: PathBuf,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub cache: CacheArgs,

    /// Replay these JSON queries (one a line) instead of a generated workload.
    #[arg(long = "queries", value_name = "FILE", help_heading = "Workload")]
    pub queries: Option<PathBuf>,
    /// Distinct dashboard queries in the generated workload (at most 540).
    #[arg(long, default_value_t = 200, help_heading = "Workload")]
    pub distinct: usize,
    /// Requests in the stream.
    #[arg(long, default_value_t = 20_000, help_heading = "Workload")]
    pub requests: usize,
    /// Zipf exponent of the request stream (0 is uniform).
    #[arg(long, default_value_t = 1.1, help_heading = "Workload")]
    pub zipf: f64,
    /// Seed of the workload.
    #[arg(long, default_value_t = 42, help_heading = "Workload")]
    pub seed: u64,
    /// Worker threads replaying the stream.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Requests of the stream timed through plain Polars (no cache), on as
    /// many threads as the cached pass; the total is extrapolated from them.
    #[arg(long, default_value_t = 50, value_name = "K")]
    pub baseline_sample: usize,
    /// Requests timed the way the seed's Python does it: re-reading the CSV
    /// each time (0 skips it).
    #[arg(long, default_value_t = 2, value_name = "K")]
    pub reload_baseline: usize,
    /// Replay the stream a second time through a cache that learns no
    /// roll-ups, and report both speedups (the same plain-Polars baseline).
    #[arg(long)]
    pub compare_learned: bool,
    /// Write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[cfg(feature = "server")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The data: a CSV, Parquet, Arrow IPC or NDJSON file, or a directory
    /// or a quoted glob of files of one format. Default: data/sales.csv if
    /// it exists here, else the sample built into the binary.
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Address to listen on. Loopback by default: pass 0.0.0.0:8080 to
    /// serve other hosts (and set a --token).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Require this bearer token on every route but /healthz (and on every
    /// Flight SQL call: the handshake takes it as the password).
    #[arg(long, env = "PQC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Also serve Arrow Flight SQL (ADBC, JDBC, pyarrow.flight) on this
    /// address, e.g. 127.0.0.1:50051, from the same cache, token and limits.
    #[cfg(feature = "flight")]
    #[arg(long, value_name = "ADDR")]
    pub flight: Option<String>,
    /// Refresh when the data files change (appends read only the new
    /// rows), once no change came for this long, e.g. 500ms, 2s.
    #[cfg(feature = "watch")]
    #[arg(long, value_name = "DEBOUNCE", num_args = 0..=1, default_missing_value = "500ms")]
    pub watch: Option<String>,
    /// Compute these JSON queries (one a line) before serving.
    #[arg(long, value_name = "FILE")]
    pub prewarm: Option<PathBuf>,
    /// Declare the dashboard: a JSON file {"title", "filters": [col...],
    /// "dimensions": [col...], "measures": [{"column", "fn", "label",
    /// "format"}]} with fn one of sum, count, len, min, max, mean. Its
    /// roll-up is built at start and pinned, so every view is answered
    /// from memory.
    #[arg(long, value_name = "FILE")]
    pub dashboard: Option<PathBuf>,
    /// Largest request body, e.g. 64KiB.
    #[arg(
        long,
        default_value = "64KiB",
        value_name = "SIZE",
        help_heading = "Limits"
    )]
    pub max_body: String,
    /// Most filters in one query.
    #[arg(long, default_value_t = 32, help_heading = "Limits")]
    pub max_filters: usize,
    /// Most values in one in / not_in list.
    #[arg(long, default_value_t = 1_000, help_heading = "Limits")]
    pub max_in_list: usize,
    /// Most group-by columns.
    #[arg(long, default_value_t = 8, help_heading = "Limits")]
    pub max_group_by: usize,
    /// Most aggregates in one query.
    #[arg(long, default_value_t = 32, help_heading = "Limits")]
    pub max_aggs: usize,
    /// Most rows in a JSON answer.
    #[arg(long, default_value_t = 100_000, help_heading = "Limits")]
    pub max_json_rows: usize,
    /// Most cells (rows x columns) in any answer, JSON, CSV or Arrow.
    #[arg(long, default_value_t = 10_000_000, help_heading = "Limits")]
    pub max_cells: usize,
    /// Most points in a chart.
    #[arg(long, default_value_t = 10_000, help_heading = "Limits")]
    pub max_chart_points: usize,
    /// Most answers computed at once [default: the number of cores].
    #[arg(long, help_heading = "Limits")]
    pub max_computations: Option<usize>,
    /// Most requests waiting for a computation; beyond them, 429.
    #[arg(long, default_value_t = 64, help_heading = "Limits")]
    pub max_queued: usize,
    /// Most open connections; more wait until one closes.
    #[arg(long, default_value_t = 512, help_heading = "Limits")]
    pub max_connections: usize,
    /// Most open connections from one IP address; more are closed at once.
    #[arg(long, default_value_t = 128, help_heading = "Limits")]
    pub max_connections_per_address: usize,
    /// Most bytes of answers built and not yet sent, together, e.g. 256MiB;
    /// beyond them, 429.
    #[arg(
        long,
        default_value = "256MiB",
        value_name = "SIZE",
        help_heading = "Limits"
    )]
    pub max_pending_bytes: String,
    /// How long an answer may wait for the client to read it, e.g. 30s.
    #[arg(
        long,
        default_value = "30s",
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    pub write_timeout: String,
    /// How long a client may take to send a request's headers, and how
    /// long an idle connection stays open, e.g. 10s.
    #[arg(
        long,
        default_value = "10s",
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    pub header_timeout: String,
    /// How long a client may take to send a request body, e.g. 10s.
    #[arg(
        long,
        default_value = "10s",
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    pub body_timeout: String,
    /// An origin (https://dash.example.com) besides the server's own that
    /// may send state-changing requests; repeat for more.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// A host name (dash.example.com[:port]) the server answers to; repeat
    /// for more. Default: any, but only loopback names on loopback.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// How long a request waits for its answer, e.g. 30s.
    #[arg(
        long,
        default_value = "30s",
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    pub timeout: String,
}
