//! A statement answered: SQL text through the front end and the cache,
//! under the HTTP API's limits and admission control, and its answer as
//! Arrow Flight data.

use std::sync::Arc;
use std::time::Instant;

use arrow_flight::FlightData;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tonic::Status;

use super::status::{from_app, from_error};
use crate::Frame;
use crate::server::AppState;

/// The answer to `sql`, as the statement asked for it (its columns in
/// `SELECT` order): from memory on this task, else computed once admitted,
/// exactly as `POST /api/sql` answers it, from the same cache entry.
/// `Counted::Query` counts it in the server's query metrics: once per
/// statement run, when it is planned (`GetFlightInfo`), not again when it
/// is fetched or prepared, so a statement is one query, its first call's
/// hit or miss.
pub(super) async fn answer(state: &AppState, sql: &str, counted: Counted) -> Result<Frame, Status> {
    let limits = state.limits();
    if sql.len() > limits.max_body_bytes {
        return Err(Status::resource_exhausted(format!(
            "the SQL text is {} bytes, more than the {} a request may hold",
            sql.len(),
            limits.max_body_bytes
        )));
    }
    let statement = crate::sql::parse(sql, state.cache().dataset().name()).map_err(from_error)?;
    limits.check(&statement.query).map_err(from_app)?;
    let started = Instant::now();
    let frame = state
        .answer(statement.query.clone())
        .await
        .map_err(from_app)?;
    let frame = statement.present(frame).map_err(from_error)?;
    if counted == Counted::Query {
        state
            .metrics()
            .observe_query(frame.source().is_hit(), started.elapsed());
    }
    limits
        .check_cells(frame.height(), frame.width())
        .map_err(from_app)?;
    Ok(frame)
}

/// Whether an answer counts as a query in the server's metrics.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    /// A statement run (its plan).
    Query,
    /// A fetch or a preparation of a statement counted when planned.
    Not,
}

/// The schema a Flight client sees for `frame`: its Arrow schema with
/// dictionaries (categorical columns) as their values' type, since the
/// stream sends them hydrated, which every client reads.
pub(super) fn schema(frame: &Frame) -> Result<SchemaRef, Status> {
    let schema = frame
        .arrow_schema()
        .map_err(|e| super::status::internal(&e.to_string()))?;
    Ok(Arc::new(hydrated(&schema)))
}

/// `schema` with every dictionary field as its value type, without the
/// metadata Polars gives a categorical (its categories' identity, which
/// means nothing to a client once the values are plain text).
pub(super) fn hydrated(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Dictionary(_, values) => {
                Field::new(field.name(), values.as_ref().clone(), field.is_nullable())
            }
            _ => field.as_ref().clone(),
        })
        .collect();
    Schema::new(fields).with_metadata(schema.metadata().clone())
}

/// `frame` as a stream of Flight data: its record batches, handed over
/// from Polars without copying (the C data interface), each encoded as
/// Arrow IPC when the client is ready for it (gRPC flow control), in
/// messages of at most 2 MiB.
pub(super) fn stream(
    frame: &Frame,
) -> Result<BoxStream<'static, Result<FlightData, Status>>, Status> {
    let schema = schema(frame)?;
    let batches = frame
        .to_record_batches()
        .map_err(|e| super::status::internal(&e.to_string()))?;
    let encoded = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::iter(batches.into_iter().map(Ok)))
        .map_err(Status::from);
    Ok(encoded.boxed())
}
