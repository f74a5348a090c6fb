//! `pqc serve`: the HTTP API and dashboard page.

use std::path::Path;
use std::sync::Arc;

use polars_query_cache::Error;
use polars_query_cache::server::{
    self, Connections, DeclaredDashboard, Limits, OriginPolicy, ServerConfig,
};

use crate::args::ServeArgs;
use crate::fail::Failure;
use crate::{options, progress, query};

/// The bundled sample, so `pqc serve` works from any directory.
const SAMPLE: &[u8] = include_bytes!("../../../data/sales.csv");

pub fn run(args: &ServeArgs, show_progress: bool) -> Result<(), Failure> {
    let defaults = Limits::default();
    let dashboard = match &args.dashboard {
        Some(path) => Some(
            DeclaredDashboard::from_file(path)
                .map_err(|e| Failure::usage(format!("--dashboard {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let mut config = ServerConfig {
        limits: Limits {
            max_body_bytes: usize::try_from(options::parse_size(&args.max_body)?)
                .unwrap_or(usize::MAX),
            max_filters: args.max_filters,
            max_in_list: args.max_in_list,
            max_group_by: args.max_group_by,
            max_aggs: args.max_aggs,
            max_json_rows: args.max_json_rows,
            max_cells: args.max_cells,
            max_chart_points: args.max_chart_points,
            max_pending_bytes: usize::try_from(options::parse_size(&args.max_pending_bytes)?)
                .unwrap_or(usize::MAX),
            max_computations: args.max_computations.unwrap_or(defaults.max_computations),
            max_queued: args.max_queued,
            timeout: options::parse_duration(&args.timeout)?,
            body_timeout: options::parse_duration(&args.body_timeout)?,
        },
        token: args.token.clone().filter(|t| !t.is_empty()),
        origins: OriginPolicy {
            allowed_origins: args.allow_origins.clone(),
            allowed_hosts: args.allow_hosts.clone(),
        },
        dashboard: None,
    };
    let connections = Connections {
        header_timeout: options::parse_duration(&args.header_timeout)?,
        write_timeout: options::parse_duration(&args.write_timeout)?,
        max_connections: args.max_connections,
        max_connections_per_address: args.max_connections_per_address,
        ..Connections::default()
    };
    // Checked before anything is loaded or bound: the built-in sample is
    // bytes, with no file to watch.
    #[cfg(feature = "watch")]
    if args.watch.is_some() && args.data.is_none() && !Path::new("data/sales.csv").exists() {
        return Err(Failure::usage(
            "--watch needs data files: give a file, a glob or a directory",
        ));
    }
    let builder = options::cache_builder(&args.cache, &args.load)?
        .rollups(dashboard.iter().flat_map(DeclaredDashboard::rollups));
    let local_sample = Path::new("data/sales.csv");
    let spinner = progress::loading(show_progress, "loading");
    let builder = builder.load_progress(progress::feed(&spinner));
    let built = match &args.data {
        Some(path) => builder.build_from_path(path),
        None if local_sample.exists() => builder.build_from_csv(local_sample),
        None => builder.build_from_csv_bytes("sales.csv (built in)", SAMPLE.to_vec()),
    };
    spinner.finish_and_clear();
    // The declared roll-up is built with the data: a column it names that
    // the data lacks is the declaration's mistake, not a query's.
    let dashboard_failure = |e: &dyn std::fmt::Display| {
        let path = args.dashboard.as_deref().unwrap_or(Path::new("")).display();
        Failure::usage(format!("--dashboard {path}: {e}"))
    };
    let cache = match (built, &dashboard) {
        (
            Err(Error::UnknownColumn {
                column,
                suggestions,
                available,
            }),
            Some(declared),
        ) if declared.columns().contains(&column.as_str()) => {
            let e = Error::UnknownColumn {
                column,
                suggestions,
                available,
            };
            return Err(dashboard_failure(&e));
        }
        // A measure whose aggregate does not apply to its column (a sum of
        // text): only the declared roll-up asks for aggregates at load.
        (Err(e @ Error::InvalidAggregate { .. }), Some(declared))
            if matches!(&e, Error::InvalidAggregate { column, .. }
                if declared.columns().contains(&column.as_str())) =>
        {
            return Err(dashboard_failure(&e));
        }
        (built, _) => built?,
    };
    if let Some(declared) = dashboard {
        config = config
            .with_dashboard(declared, &cache)
            .map_err(|e| dashboard_failure(&e))?;
    }
    let dataset = cache.dataset();
    tracing::info!(rows = dataset.rows(), fingerprint = %dataset.fingerprint(), load_ms = dataset.load_time().as_millis() as u64, "loaded");
    for hint in dataset.load_hints() {
        tracing::warn!("{hint}");
    }
    drop(dataset);
    if let Some(path) = &args.prewarm {
        let queries = query::read_queries(path)?;
        let report = cache.prewarm(&queries);
        tracing::info!(
            requested = report.requested,
            computed = report.computed,
            failed = report.failed.len(),
            "prewarmed"
        );
        for (i, error) in &report.failed {
            tracing::warn!(query = i + 1, %error, "prewarm query failed");
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("tokio runtime", e))?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.bind)
            .await
            .map_err(|e| Failure::io(format!("cannot listen on {}", args.bind), e))?;
        let address = listener.local_addr().map_err(|e| Failure::io("listener", e))?;
        tracing::info!("serving the dashboard on http://{address}/");
        if config.token.is_none() && !address.ip().is_loopback() {
            tracing::warn!("listening beyond loopback without --token: anyone who can reach {address} can query and invalidate");
        }
        if config.origins.allowed_hosts.is_empty() && !address.ip().is_loopback() {
            tracing::warn!("listening beyond loopback without --allow-host: any host name is answered, so set --token or --allow-host against DNS rebinding");
        }
        let cache = Arc::new(cache);
        #[cfg(feature = "watch")]
        let _watcher = match &args.watch {
            Some(debounce) => Some(cache.watch(options::parse_duration(debounce)?)?),
            None => None,
        };
        let state = server::AppState::new(cache, config);
        // One gate for both accept loops: the connection caps hold for
        // HTTP and Flight SQL together.
        let gate = server::Gate::new(&connections);
        // One Ctrl-C or SIGTERM stops both endpoints.
        let (stop, stopping) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            server::shutdown_signal().await;
            stop.send_replace(true);
        });
        let http = server::serve_gated(
            listener,
            server::router(state.clone()),
            connections.clone(),
            gate.clone(),
            stopped(stopping.clone()),
        );
        #[cfg(feature = "flight")]
        if let Some(flight) = &args.flight {
            let table = state.cache().dataset().name().to_owned();
            let flight = flight_listener(flight, &table, args.token.as_deref().is_some_and(|t| !t.is_empty())).await?;
            let config = polars_query_cache::flight::FlightConfig {
                connections: connections.clone(),
                gate: Some(gate),
                ..Default::default()
            };
            let flight =
                polars_query_cache::flight::serve(flight, state, config, stopped(stopping));
            return tokio::try_join!(http, flight)
                .map(drop)
                .map_err(|e| Failure::io("server", e));
        }
        http.await.map_err(|e| Failure::io("server", e))
    });
    // Computations still running on the blocking pool are abandoned, not
    // awaited: Ctrl-C must not wait for the slowest query.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}

/// Completes once `stopping` says so (or its sender is gone).
async fn stopped(mut stopping: tokio::sync::watch::Receiver<bool>) {
    stopping.wait_for(|stop| *stop).await.ok();
}

/// The Flight SQL endpoint's socket.
#[cfg(feature = "flight")]
async fn flight_listener(
    address: &str,
    table: &str,
    token: bool,
) -> Result<tokio::net::TcpListener, Failure> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Failure::io(format!("cannot listen on {address} (--flight)"), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::io("listener", e))?;
    tracing::info!("serving Arrow Flight SQL on grpc://{bound} (table `{table}`)");
    if !token && !bound.ip().is_loopback() {
        tracing::warn!(
            "Flight SQL beyond loopback without --token: anyone who can reach {bound} can query"
        );
    }
    Ok(listener)
}
