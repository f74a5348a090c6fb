//! The Flight SQL endpoint from real clients over loopback sockets:
//! arrow-flight's `FlightSqlServiceClient` (statements, prepared
//! statements, metadata, the token, bad SQL, forged tickets, limits,
//! overload, concurrency), and Python's ADBC driver through
//! `polars.read_database`, checked against `pqc sql`.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, Any,
    CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTables, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{Action, FlightInfo, Ticket};
use arrow_schema::{DataType, Schema};
use axum::body::Body;
use axum::http::{Request, header};
use futures::TryStreamExt;
use polars_query_cache::flight::{self, FlightConfig};
use polars_query_cache::server::{self, AppState, Limits, ServerConfig};
use polars_query_cache::{CachedQuery, Query};
use prost::Message;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;

use crate::common::{self, Cell, Child};

/// The bundled sample.
const SALES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv");

fn sample_cache() -> Arc<CachedQuery> {
    Arc::new(CachedQuery::from_csv(SALES).unwrap())
}

/// A Flight SQL endpoint on a free loopback port, stopped when dropped.
struct Running {
    address: std::net::SocketAddr,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    async fn start(cache: Arc<CachedQuery>, config: ServerConfig) -> Running {
        Running::start_with(cache, config, FlightConfig::default()).await
    }

    async fn start_with(
        cache: Arc<CachedQuery>,
        config: ServerConfig,
        flight: FlightConfig,
    ) -> Running {
        let state = AppState::new(cache, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(flight::serve(listener, state.clone(), flight, async {
            stopped.await.ok();
        }));
        Running {
            address,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn client(&self) -> FlightSqlServiceClient<Channel> {
        let channel = Endpoint::new(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .unwrap();
        FlightSqlServiceClient::new(channel)
    }

    /// Stops the server and waits for it.
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).ok();
        let served = tokio::time::timeout(Duration::from_secs(20), self.task.take().unwrap())
            .await
            .expect("the server stops within its grace period");
        served.unwrap().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The status a call failed with.
fn status(error: FlightError) -> tonic::Status {
    match error {
        FlightError::Tonic(status) => *status,
        other => panic!("not a gRPC status: {other:?}"),
    }
}

/// Every batch of every endpoint of `info`.
async fn fetch(
    client: &mut FlightSqlServiceClient<Channel>,
    info: &FlightInfo,
) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for endpoint in &info.endpoint {
        let ticket = endpoint.ticket.clone().expect("a ticket");
        let stream = client.do_get(ticket).await.unwrap();
        batches.extend(stream.try_collect::<Vec<_>>().await.unwrap());
    }
    batches
}

async fn query(
    client: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
) -> Result<Vec<RecordBatch>, tonic::Status> {
    let info = client.execute(sql.to_owned(), None).await.map_err(status)?;
    Ok(fetch(client, &info).await)
}

/// The cells of record batches, as the oracle's `Cell`s.
fn cells(batches: &[RecordBatch]) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| cell(c.as_ref(), row))
                    .collect(),
            );
        }
    }
    rows
}

fn cell(array: &dyn Array, row: usize) -> Cell {
    if array.is_null(row) {
        return Cell::Null;
    }
    match array.data_type() {
        DataType::Utf8 => Cell::Str(array.as_string::<i32>().value(row).to_owned()),
        DataType::LargeUtf8 => Cell::Str(array.as_string::<i64>().value(row).to_owned()),
        DataType::Utf8View => Cell::Str(array.as_string_view().value(row).to_owned()),
        DataType::Boolean => Cell::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Cell::Int(i64::from(array.as_primitive::<Int8Type>().value(row))),
        DataType::Int16 => Cell::Int(i64::from(array.as_primitive::<Int16Type>().value(row))),
        DataType::Int32 => Cell::Int(i64::from(array.as_primitive::<Int32Type>().value(row))),
        DataType::Int64 => Cell::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Cell::Int(i64::from(array.as_primitive::<UInt8Type>().value(row))),
        DataType::UInt16 => Cell::Int(i64::from(array.as_primitive::<UInt16Type>().value(row))),
        DataType::UInt32 => Cell::Int(i64::from(array.as_primitive::<UInt32Type>().value(row))),
        DataType::UInt64 => Cell::UInt(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float32 => Cell::Float(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => Cell::Float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Date32 => Cell::Date(array.as_primitive::<Date32Type>().value(row)),
        other => panic!("unexpected Arrow type {other}"),
    }
}

const BY_REGION: &str = "SELECT SUM(revenue) AS revenue, region, COUNT(*) AS orders FROM sales \
                         WHERE year IN (2023, 2024) GROUP BY region ORDER BY revenue DESC";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_is_the_caches_answer_and_one_entry_with_its_json_twin() {
    let cache = sample_cache();
    let running = Running::start(Arc::clone(&cache), ServerConfig::default()).await;
    let mut client = running.client().await;
    let info = client.execute(BY_REGION.to_owned(), None).await.unwrap();
    assert_eq!(info.total_records, 5);
    let schema = Schema::try_from(info.clone()).unwrap();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["revenue", "region", "orders"], "SELECT order");
    let batches = fetch(&mut client, &info).await;
    assert_eq!(
        batches[0].schema().as_ref(),
        &schema,
        "DoGet sends the planned schema"
    );
    let expected = cache.sql(BY_REGION).unwrap();
    common::assert_same(&cells(&batches), &common::frame_cells(&expected), BY_REGION);
    // GetFlightInfo computed it, DoGet and the direct call were hits.
    assert_eq!(cache.cache_info().computations, 1);

    // The same question as JSON over HTTP, from the same state: the same
    // entry, answered from memory.
    let json = r#"{"filters": {"year": [2024, 2023]}, "group_by": ["region"],
        "aggs": [{"fn": "len", "alias": "orders"}, {"fn": "sum", "column": "revenue", "alias": "revenue"}],
        "sort": [{"column": "revenue", "descending": true}]}"#;
    let request = Request::post("/api/query")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json))
        .unwrap();
    let response = server::router(running.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["source"], "memory", "{body}");
    assert_eq!(
        cache.cache_info().computations,
        1,
        "one entry, one computation"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_keep_their_types_nulls_and_an_empty_answer_its_schema() {
    let cache = table_t(500, 11);
    let running = Running::start(Arc::clone(&cache), ServerConfig::default()).await;
    let mut client = running.client().await;
    for sql in [
        "SELECT cat, b, d, MIN(x) AS lo, AVG(y), COUNT(DISTINCT k) FROM t GROUP BY cat, b, d",
        "SELECT k, SUM(y), MEDIAN(x), MAX(d) FROM t WHERE cat IS NOT NULL GROUP BY k ORDER BY 2 DESC LIMIT 3",
        "SELECT COUNT(*), SUM(x) FROM t WHERE x > 1000",
    ] {
        let batches = query(&mut client, sql).await.unwrap();
        let expected = cache.sql(sql).unwrap();
        common::assert_same(&cells(&batches), &common::frame_cells(&expected), sql);
    }
    // No group matches: no rows, and still the columns and their types.
    let sql = "SELECT cat, SUM(x) FROM t WHERE x > 1000 GROUP BY cat";
    let info = client.execute(sql.to_owned(), None).await.unwrap();
    let schema = Schema::try_from(info.clone()).unwrap();
    assert_eq!(schema.fields().len(), 2);
    assert!(schema.field(0).metadata().is_empty(), "no Polars internals");
    assert_eq!(
        schema.field(0).data_type(),
        &DataType::Utf8View,
        "categories as their values"
    );
    assert_eq!(schema.field(1).data_type(), &DataType::Int64);
    let batches = fetch(&mut client, &info).await;
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_calls_list_the_dataset_with_its_arrow_schema() {
    let cache = sample_cache();
    let running = Running::start(Arc::clone(&cache), ServerConfig::default()).await;
    let mut client = running.client().await;

    let info = client
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::FlightSqlServerReadOnly,
        ])
        .await
        .unwrap();
    let batches = fetch(&mut client, &info).await;
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);

    let info = client.get_catalogs().await.unwrap();
    let catalogs = cells(&fetch(&mut client, &info).await);
    common::assert_same(&catalogs, &[vec![Cell::Str("pqc".into())]], "catalogs");

    let info = client
        .get_db_schemas(CommandGetDbSchemas::default())
        .await
        .unwrap();
    let schemas = cells(&fetch(&mut client, &info).await);
    common::assert_same(
        &schemas,
        &[vec![Cell::Str("pqc".into()), Cell::Str("main".into())]],
        "schemas",
    );

    let info = client.get_table_types().await.unwrap();
    common::assert_same(
        &cells(&fetch(&mut client, &info).await),
        &[vec![Cell::Str("TABLE".into())]],
        "table types",
    );

    let tables = CommandGetTables {
        include_schema: true,
        ..CommandGetTables::default()
    };
    let info = client.get_tables(tables).await.unwrap();
    let batches = fetch(&mut client, &info).await;
    let batch = &batches[0];
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(batch.column(2).as_string::<i32>().value(0), "sales");
    assert_eq!(batch.column(3).as_string::<i32>().value(0), "TABLE");
    let encoded = batch.column(4).as_binary::<i32>().value(0).to_vec();
    let schema = Schema::try_from(arrow_flight::IpcMessage(encoded.into())).unwrap();
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let dataset = cache.dataset();
    let expected: Vec<&str> = dataset
        .frame()
        .unwrap()
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(columns, expected);

    // A filter that matches nothing lists nothing.
    let none = CommandGetTables {
        table_name_filter_pattern: Some("orders%".into()),
        ..CommandGetTables::default()
    };
    let info = client.get_tables(none).await.unwrap();
    assert!(cells(&fetch(&mut client, &info).await).is_empty());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_run_without_parameters_and_refuse_them() {
    let cache = sample_cache();
    let running = Running::start(Arc::clone(&cache), ServerConfig::default()).await;
    let mut client = running.client().await;
    let mut prepared = client.prepare(BY_REGION.to_owned(), None).await.unwrap();
    let names: Vec<String> = prepared
        .dataset_schema()
        .unwrap()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["revenue", "region", "orders"]);
    assert!(prepared.parameter_schema().unwrap().fields().is_empty());
    for _ in 0..3 {
        let info = prepared.execute().await.unwrap();
        let batches = fetch(&mut client, &info).await;
        common::assert_same(
            &cells(&batches),
            &common::frame_cells(&cache.sql(BY_REGION).unwrap()),
            "prepared",
        );
    }
    prepared.close().await.unwrap();
    assert_eq!(
        cache.cache_info().computations,
        1,
        "prepared once, answered from memory"
    );

    let refused = client
        .prepare("SELECT COUNT(*) FROM sales WHERE year = ?".to_owned(), None)
        .await
        .map(drop)
        .unwrap_err();
    let refused = status(refused);
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused
            .message()
            .contains("the parameter ? is not supported")
            && refused
                .message()
                .contains("prepared statements take no parameters"),
        "{}",
        refused.message()
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_required_and_the_handshake_hands_it_out() {
    let config = ServerConfig {
        token: Some("s3cret".into()),
        ..ServerConfig::default()
    };
    let running = Running::start(sample_cache(), config).await;
    let sql = "SELECT COUNT(*) FROM sales";

    let mut anonymous = running.client().await;
    assert_eq!(
        query(&mut anonymous, sql).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let denied = anonymous.get_catalogs().await.unwrap_err();
    assert_eq!(status(denied).code(), Code::Unauthenticated);

    let mut wrong = running.client().await;
    let refused = wrong.handshake("pqc", "guess").await.unwrap_err();
    assert!(
        refused.to_string().contains("Unauthenticated") || refused.to_string().contains("token"),
        "{refused}"
    );
    wrong.set_token("guess".into());
    assert_eq!(
        query(&mut wrong, sql).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    let mut user = running.client().await;
    user.handshake("anyone", "s3cret").await.unwrap();
    assert_eq!(user.token().map(String::as_str), Some("s3cret"));
    let batches = query(&mut user, sql).await.unwrap();
    common::assert_same(&cells(&batches), &[vec![Cell::Int(5000)]], sql);

    // Or the bearer token without a handshake.
    let mut bearer = running.client().await;
    bearer.set_token("s3cret".into());
    assert!(query(&mut bearer, sql).await.is_ok());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sql_gets_the_front_ends_message_and_code() {
    let cache = sample_cache();
    let running = Running::start(Arc::clone(&cache), ServerConfig::default()).await;
    let mut client = running.client().await;
    for (sql, code, message) in [
        (
            "SELECT region FROM sales WHERE year = 2024 OR year = 2023 GROUP BY region",
            Code::InvalidArgument,
            "unsupported SQL at line 1, column 32: OR is not supported",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE",
            Code::InvalidArgument,
            "SQL syntax error at line 1, column 33",
        ),
        (
            "SELECT COUNT(*) FROM orders",
            Code::NotFound,
            "unknown table `orders`; the dataset is called `sales`",
        ),
        (
            "SELECT COUNT(*) FROM sales WHERE categry = 'Books'",
            Code::InvalidArgument,
            "did you mean `category`?",
        ),
        (
            "INSERT INTO sales VALUES (1)",
            Code::InvalidArgument,
            "is not supported",
        ),
    ] {
        let failed = query(&mut client, sql).await.unwrap_err();
        assert_eq!(failed.code(), code, "{sql}: {failed:?}");
        assert!(
            failed.message().contains(message),
            "{sql}: {}",
            failed.message()
        );
    }
    assert_eq!(cache.cache_info().computations, 0);
    running.stop().await;
}

/// The status of a `DoGet` of `ticket`, or `None` when it was answered.
async fn do_get_status(
    client: &mut FlightSqlServiceClient<Channel>,
    ticket: Vec<u8>,
) -> Option<tonic::Status> {
    match client.do_get(Ticket::new(ticket)).await {
        Err(e) => Some(status(e)),
        Ok(stream) => stream.try_collect::<Vec<_>>().await.err().map(status),
    }
}

/// A ticket names the data version it was planned on: after a refresh its
/// FlightInfo may not describe the answer, so DoGet refuses it and asks for
/// a new plan, which answers from the new data. A prepared statement
/// outlives the refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_planned_before_a_refresh_is_planned_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    std::fs::write(&path, "region,units\nNorth,1\nSouth,2\n").unwrap();
    let cache = Arc::new(CachedQuery::from_csv(&path).unwrap());
    let running = Running::start(Arc::clone(&cache), ServerConfig::default()).await;
    let mut client = running.client().await;
    let sql = "SELECT COUNT(*) AS n FROM sales";
    let mut prepared = client.prepare(sql.to_owned(), None).await.unwrap();
    let info = client.execute(sql.to_owned(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().expect("a ticket");

    std::fs::write(&path, "region,units\nNorth,1\nSouth,2\nEast,3\n").unwrap();
    cache.refresh().unwrap();

    let stale = do_get_status(&mut client, ticket.ticket.to_vec())
        .await
        .expect("refused");
    assert_eq!(stale.code(), Code::FailedPrecondition, "{stale:?}");
    assert!(stale.message().contains("plan it again"), "{stale:?}");
    let again = query(&mut client, sql).await.unwrap();
    common::assert_same(&cells(&again), &[vec![Cell::Int(3)]], "planned again");
    let info = prepared.execute().await.unwrap();
    let batches = fetch(&mut client, &info).await;
    common::assert_same(&cells(&batches), &[vec![Cell::Int(3)]], "prepared");
    running.stop().await;
}

/// The server's `/metrics` page.
async fn metrics_text(running: &Running) -> String {
    let metrics = server::router(running.state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = http_body_util::BodyExt::collect(metrics.into_body())
        .await
        .unwrap()
        .to_bytes();
    String::from_utf8(text.to_vec()).unwrap()
}

/// A statement run (plan, then fetch) is one query in the metrics, a miss
/// the first time and a hit after, not two queries of which the fetch is
/// always a hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_is_one_query_in_the_metrics() {
    let running = Running::start(sample_cache(), ServerConfig::default()).await;
    let mut client = running.client().await;
    let count = |text: &str, outcome: &str| {
        let prefix = format!("pqc_query_duration_seconds_count{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0, |n| n.parse::<u64>().unwrap())
    };
    let sql = "SELECT region, COUNT(*) AS n FROM sales GROUP BY region";
    query(&mut client, sql).await.unwrap();
    let text = metrics_text(&running).await;
    assert_eq!(
        (count(&text, "miss"), count(&text, "hit")),
        (1, 0),
        "{text}"
    );
    query(&mut client, sql).await.unwrap();
    let text = metrics_text(&running).await;
    assert_eq!(
        (count(&text, "miss"), count(&text, "hit")),
        (1, 1),
        "{text}"
    );
    running.stop().await;
}

/// A metadata filter costs arrow-flight work per entry: thousands of ids,
/// table types or a huge pattern are refused, duplicates are one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_filters_are_bounded() {
    let running = Running::start(sample_cache(), ServerConfig::default()).await;
    let mut client = running.client().await;
    let info = client
        .get_sql_info(vec![SqlInfo::FlightSqlServerName; 5000])
        .await
        .unwrap();
    let batches = fetch(&mut client, &info).await;
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
    let many_ids = CommandGetSqlInfo {
        info: (0..5000).collect(),
    };
    let many_types = CommandGetTables {
        table_types: (0..5000).map(|i| format!("T{i}")).collect(),
        ..CommandGetTables::default()
    };
    let long_pattern = CommandGetTables {
        table_name_filter_pattern: Some("%".repeat(4000)),
        ..CommandGetTables::default()
    };
    let long_schema = CommandGetDbSchemas {
        db_schema_filter_pattern: Some("_".repeat(4000)),
        ..CommandGetDbSchemas::default()
    };
    for ticket in [
        many_ids.as_any().encode_to_vec(),
        many_types.as_any().encode_to_vec(),
        long_pattern.as_any().encode_to_vec(),
        long_schema.as_any().encode_to_vec(),
    ] {
        let failed = do_get_status(&mut client, ticket).await.expect("refused");
        assert_eq!(failed.code(), Code::InvalidArgument, "{failed:?}");
        assert!(failed.message().contains("at most"), "{failed:?}");
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tickets_are_invalid_arguments() {
    let running = Running::start(sample_cache(), ServerConfig::default()).await;
    let mut client = running.client().await;
    let handle = |bytes: &[u8]| {
        TicketStatementQuery {
            statement_handle: bytes.to_vec().into(),
        }
        .as_any()
        .encode_to_vec()
    };
    let unknown = Any {
        type_url: "type.googleapis.com/evil.Thing".into(),
        value: vec![1, 2, 3].into(),
    }
    .encode_to_vec();
    let malformed = Any {
        type_url: TicketStatementQuery::type_url().into(),
        value: vec![0xff; 7].into(),
    }
    .encode_to_vec();
    for forged in [
        vec![0xde, 0xad, 0xbe, 0xef, 0xff],
        Vec::new(),
        handle(b"SELECT COUNT(*) FROM sales"),
        handle(b"pqc-sql-v1\n\xff\xfe"),
        handle(b"pqc-sql-v1\nSELECT * FROM sales"),
        unknown,
        malformed,
    ] {
        let failed = match client.do_get(Ticket::new(forged.clone())).await {
            Err(e) => status(e),
            Ok(stream) => match stream.try_collect::<Vec<_>>().await {
                Err(e) => status(e),
                Ok(_) => panic!("a forged ticket was answered: {forged:?}"),
            },
        };
        assert_eq!(
            failed.code(),
            Code::InvalidArgument,
            "{forged:?}: {failed:?}"
        );
    }
    // The server is still there.
    assert!(
        query(&mut client, "SELECT COUNT(*) FROM sales")
            .await
            .is_ok()
    );
    running.stop().await;
}

/// An action whose body is not the request its type names is the client's
/// mistake (arrow-flight answered `Internal` for a body of the right type
/// whose bytes do not decode).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_action_bodies_are_invalid_arguments() {
    let running = Running::start(sample_cache(), ServerConfig::default()).await;
    let mut client = running.client().await;
    let as_any = |type_url: &str, value: &[u8]| {
        Any {
            type_url: type_url.into(),
            value: value.to_vec().into(),
        }
        .encode_to_vec()
    };
    let create = ActionCreatePreparedStatementRequest::type_url();
    let close = ActionClosePreparedStatementRequest::type_url();
    for (kind, body) in [
        ("CreatePreparedStatement", as_any(create, &[0xff; 7])),
        ("CreatePreparedStatement", as_any(close, b"")),
        ("CreatePreparedStatement", vec![0xde, 0xad, 0xbe, 0xef]),
        ("CreatePreparedStatement", Vec::new()),
        ("ClosePreparedStatement", as_any(close, &[0x0a, 0xff, 0xff])),
        ("BeginTransaction", as_any(create, &[0xff; 3])),
        ("CancelQuery", vec![0xff; 9]),
    ] {
        let action = Action::new(kind, body.clone());
        let failed = match client.do_action(action).await {
            Err(e) => status(e),
            Ok(_) => panic!("a forged {kind} action was answered: {body:?}"),
        };
        assert_eq!(
            failed.code(),
            Code::InvalidArgument,
            "{kind} {body:?}: {failed:?}"
        );
    }
    // The server is still there.
    assert!(
        query(&mut client, "SELECT COUNT(*) FROM sales")
            .await
            .is_ok()
    );
    running.stop().await;
}

/// A streamed answer holds its bytes of the budget of answers not yet sent
/// (`max_pending_bytes`, as HTTP's bodies do) until the stream ends: an
/// answer larger than the budget is refused, and the bytes of a stream
/// read to its end are given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_answers_count_against_the_bytes_budget() {
    let sql = "SELECT product, region, SUM(revenue) AS revenue FROM sales GROUP BY product, region";
    let cache = sample_cache();
    let size = cache.sql(sql).unwrap().dataframe().estimated_size();
    assert!(size > 1000, "{size}");
    let with_budget = |bytes: usize| ServerConfig {
        limits: Limits {
            max_pending_bytes: bytes,
            ..Limits::default()
        },
        ..ServerConfig::default()
    };
    let running = Running::start(Arc::clone(&cache), with_budget(size - 1)).await;
    let mut client = running.client().await;
    let info = client.execute(sql.to_owned(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().expect("a ticket");
    let refused = do_get_status(&mut client, ticket.ticket.to_vec())
        .await
        .expect("refused");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("bytes of answers"),
        "{refused:?}"
    );
    running.stop().await;

    let running = Running::start(Arc::clone(&cache), with_budget(size + size / 2)).await;
    let mut client = running.client().await;
    for _ in 0..5 {
        let batches = query(&mut client, sql).await.unwrap();
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            cache.sql(sql).unwrap().height()
        );
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_limits_hold_over_flight() {
    let config = ServerConfig {
        limits: Limits {
            max_body_bytes: 4 << 10,
            max_filters: 2,
            max_cells: 100,
            ..Limits::default()
        },
        ..ServerConfig::default()
    };
    let cache = sample_cache();
    let running = Running::start(Arc::clone(&cache), config).await;
    let mut client = running.client().await;
    let long = format!(
        "SELECT COUNT(*) FROM sales WHERE region NOT IN ({})",
        vec!["'x'"; 2000].join(", ")
    );
    let too_long = query(&mut client, &long).await.unwrap_err();
    assert_eq!(too_long.code(), Code::ResourceExhausted);
    assert!(
        too_long.message().contains("a request may hold"),
        "{}",
        too_long.message()
    );
    let huge = format!(
        "SELECT COUNT(*) FROM sales WHERE region = '{}'",
        "y".repeat(100 << 10)
    );
    let refused = query(&mut client, &huge).await.unwrap_err();
    assert!(
        matches!(refused.code(), Code::ResourceExhausted | Code::OutOfRange),
        "a message over the gRPC limit: {refused:?}"
    );
    for (sql, message) in [
        (
            "SELECT COUNT(*) FROM sales WHERE year = 2024 AND units > 1 AND price < 100",
            "too many filters: 3, the limit is 2",
        ),
        (
            "SELECT product, month, COUNT(*) FROM sales GROUP BY product, month",
            "more than the 100 a response may hold",
        ),
    ] {
        let over = query(&mut client, sql).await.unwrap_err();
        assert_eq!(over.code(), Code::ResourceExhausted, "{sql}");
        assert!(
            over.message().contains(message),
            "{sql}: {}",
            over.message()
        );
    }
    assert!(
        query(
            &mut client,
            "SELECT region, COUNT(*) FROM sales GROUP BY region"
        )
        .await
        .is_ok()
    );
    running.stop().await;
}

/// The oracle's test table (every column with nulls) as the dataset `t`.
fn table_t(rows: usize, seed: u64) -> Arc<CachedQuery> {
    let rows = common::rows(rows, seed);
    let frame = common::frame(&rows);
    Arc::new(
        CachedQuery::builder()
            .name("t")
            .build_from_frame(frame)
            .unwrap(),
    )
}

/// A table big enough that a miss takes a while on any machine.
fn slow_cache() -> Arc<CachedQuery> {
    table_t(400_000, 5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_resource_exhausted_and_counted_with_http() {
    let config = ServerConfig {
        limits: Limits {
            max_computations: 1,
            max_queued: 0,
            ..Limits::default()
        },
        ..ServerConfig::default()
    };
    let running = Running::start(slow_cache(), config).await;
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let address = running.address;
            tokio::spawn(async move {
                let channel = Endpoint::new(format!("http://{address}")).unwrap().connect().await.unwrap();
                let mut client = FlightSqlServiceClient::new(channel);
                let sql = format!("SELECT cat, k, MEDIAN(y), COUNT(DISTINCT x) FROM t WHERE y > {} GROUP BY cat, k", i - 90);
                client.execute(sql, None).await.map_err(status)
            })
        })
        .collect();
    let mut answered = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => answered += 1,
            Err(s) => {
                assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
                assert!(s.message().contains("retry after"), "{}", s.message());
                refused += 1;
            }
        }
    }
    assert!(answered >= 1, "the first is answered");
    assert!(
        refused >= 1,
        "12 misses at once against one slot and no queue: some are refused"
    );
    // One admission control for both endpoints: HTTP's metrics count them.
    let text = metrics_text(&running).await;
    assert!(
        text.lines()
            .any(|l| l == format!("pqc_http_rejected_total {refused}")),
        "{text}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_share_one_computation() {
    let cache = slow_cache();
    let running = Running::start(Arc::clone(&cache), ServerConfig::default()).await;
    let sql = "SELECT cat, MEDIAN(y) AS m, COUNT(*) FROM t GROUP BY cat";
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let address = running.address;
            tokio::spawn(async move {
                let channel = Endpoint::new(format!("http://{address}"))
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                let mut client = FlightSqlServiceClient::new(channel);
                query(&mut client, sql).await.unwrap()
            })
        })
        .collect();
    let expected = common::frame_cells(
        &cache
            .get_uncached(&Query::from_sql(sql, "t").unwrap())
            .unwrap(),
    );
    for call in calls {
        common::assert_same(&cells(&call.await.unwrap()), &expected, sql);
    }
    assert_eq!(
        cache.cache_info().computations,
        1,
        "16 clients, one computation"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_gate_caps_connections_per_address() {
    let gate = server::Gate::new(&server::Connections {
        max_connections_per_address: 1,
        ..server::Connections::default()
    });
    let flight = FlightConfig {
        gate: Some(gate.clone()),
        ..FlightConfig::default()
    };
    let running = Running::start_with(sample_cache(), ServerConfig::default(), flight).await;
    let mut first = running.client().await;
    assert!(
        query(&mut first, "SELECT COUNT(*) FROM sales")
            .await
            .is_ok()
    );
    assert_eq!(gate.open(), 1);
    // A second connection from the same address is closed at once.
    let second = Endpoint::new(format!("http://{}", running.address)).unwrap();
    let second = match second.connect().await {
        Ok(channel) => FlightSqlServiceClient::new(channel)
            .get_catalogs()
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    assert!(second.is_err(), "a second connection from one address");
    assert!(
        query(&mut first, "SELECT COUNT(*) FROM sales")
            .await
            .is_ok()
    );
    drop(first);
    running.stop().await;
}

/// `pqc serve SALES --flight` on free ports, with `extra` arguments, once
/// its Flight port answers: the process and its HTTP and Flight ports.
fn pqc_serve_flight(extra: &[&str]) -> (Child, u16, u16) {
    let (http, grpc) = (common::free_port(), common::free_port());
    let server = Child(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
            .args(["serve", SALES, "--quiet"])
            .args(["--bind", &format!("127.0.0.1:{http}")])
            .args(["--flight", &format!("127.0.0.1:{grpc}")])
            .args(extra)
            .spawn()
            .unwrap(),
    );
    assert!(
        common::wait_for_port(grpc, Duration::from_secs(60)),
        "pqc serve --flight did not start"
    );
    (server, http, grpc)
}

/// `pqc serve --flight`: both endpoints answer, and one Ctrl-C (SIGINT) or
/// SIGTERM (what systemd, Docker and supervisors send) stops both,
/// gracefully: the process exits successfully.
#[test]
fn pqc_serve_flight_stops_with_http_on_sigint_and_sigterm() {
    for signal in ["-INT", "-TERM"] {
        serve_then_stop_with(signal);
    }
}

fn serve_then_stop_with(signal: &str) {
    let (mut server, http, grpc) = pqc_serve_flight(&[]);
    assert!(common::wait_for_port(http, Duration::from_secs(60)));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let channel = Endpoint::new(format!("http://127.0.0.1:{grpc}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = FlightSqlServiceClient::new(channel);
        let batches = query(&mut client, "SELECT COUNT(*) FROM sales")
            .await
            .unwrap();
        common::assert_same(&cells(&batches), &[vec![Cell::Int(5000)]], "count");
    });
    let interrupted = std::process::Command::new("kill")
        .args([signal, &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pqc serve did not stop on {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{signal}: {status:?}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", grpc)).is_err(),
        "the Flight port is closed"
    );
}

/// The virtual environment `scripts/test` makes for the Python tests.
fn venv_python() -> std::path::PathBuf {
    let venv = std::env::var_os("PQC_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/pqc-venv")
        });
    venv.join("bin/python")
}

/// Python's ADBC driver, through `polars.read_database`, against `pqc
/// serve --flight`: the same answers as `pqc sql` prints.
#[test]
fn python_adbc_reads_what_pqc_sql_answers() {
    let python = venv_python();
    let found = std::process::Command::new(&python)
        .args(["-c", "import adbc_driver_flightsql, polars, pyarrow"])
        .status()
        .is_ok_and(|s| s.success());
    if !common::available(
        "a Python venv with adbc-driver-flightsql, polars and pyarrow",
        found,
    ) {
        return;
    }
    let (_server, _http, grpc) = pqc_serve_flight(&["--token", "s3cret"]);
    let queries = [
        "SELECT category, year, SUM(revenue) AS revenue FROM sales GROUP BY category, year",
        "SELECT region, COUNT(*) AS orders, AVG(price) FROM sales WHERE year = 2024 GROUP BY region ORDER BY orders DESC",
        "SELECT month, MIN(units), MAX(units), MEDIAN(price) FROM sales WHERE category IN ('Books', 'Toys') GROUP BY month",
        "SELECT COUNT(*), SUM(units) FROM sales WHERE price BETWEEN 10 AND 20",
    ];
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/flight_adbc.py");
    let output = std::process::Command::new(&python)
        .arg(script)
        .arg(format!("grpc://127.0.0.1:{grpc}"))
        .arg("s3cret")
        .args(queries)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), queries.len());
    for (sql, answer) in queries.iter().zip(&answers) {
        let printed = std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
            .args(["sql", SALES, sql, "--format", "json", "--quiet"])
            .output()
            .unwrap();
        assert!(
            printed.status.success(),
            "{}",
            String::from_utf8_lossy(&printed.stderr)
        );
        let expected: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
        let expected = &expected[0];
        assert_eq!(answer["columns"], expected["columns"], "{sql}");
        let rows = |v: &serde_json::Value| -> Vec<Vec<Cell>> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|row| row.as_array().unwrap().iter().map(json_cell).collect())
                .collect()
        };
        common::assert_same(&rows(&answer["rows"]), &rows(&expected["rows"]), sql);
    }
}

fn json_cell(value: &serde_json::Value) -> Cell {
    match value {
        serde_json::Value::Null => Cell::Null,
        serde_json::Value::Bool(b) => Cell::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cell::Int(i),
            (None, Some(u)) => Cell::UInt(u),
            _ => Cell::Float(n.as_f64().unwrap()),
        },
        serde_json::Value::String(s) => Cell::Str(s.clone()),
        other => panic!("unexpected JSON {other}"),
    }
}
