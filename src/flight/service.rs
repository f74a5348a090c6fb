//! The Flight SQL service: statements and prepared statements through the
//! SQL front end and the cache, the metadata calls, and the handshake.

use std::pin::Pin;

use arrow_array::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    Ticket,
};
use arrow_schema::Schema;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use prost::bytes::Bytes;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use super::statement::Counted;
use super::{auth, metadata, statement, ticket};
use crate::Frame;
use crate::server::AppState;

/// The Flight SQL service over the server's shared state.
pub(super) struct FlightSql {
    state: AppState,
}

impl FlightSql {
    pub(super) fn new(state: AppState) -> FlightSql {
        FlightSql { state }
    }

    pub(super) fn state(&self) -> &AppState {
        &self.state
    }

    /// Where `frame`, the answer to `sql`, can be fetched: one endpoint
    /// on this server, its ticket the statement itself.
    fn planned(
        &self,
        sql: &str,
        frame: &Frame,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = statement::schema(frame)?;
        let handle = TicketStatementQuery {
            statement_handle: ticket::encode_planned(
                sql,
                self.state.cache().dataset().fingerprint(),
            ),
        };
        let endpoint =
            FlightEndpoint::new().with_ticket(Ticket::new(handle.as_any().encode_to_vec()));
        let info = with_schema(&schema)?
            .with_endpoint(endpoint)
            .with_descriptor(descriptor)
            .with_total_records(i64::try_from(frame.height()).unwrap_or(i64::MAX))
            .with_ordered(true);
        Ok(Response::new(info))
    }

    /// The answer to `sql`, streamed.
    async fn fetch(&self, sql: &str) -> Result<Response<DoGetStream>, Status> {
        let frame = statement::answer(&self.state, sql, Counted::Not).await?;
        // The answer's bytes count against the server's budget of answers
        // not yet sent until the stream ends or is dropped: a client that
        // opens streams and never reads them holds at most that budget.
        let held = self
            .state
            .hold_answer_bytes(frame.dataframe().estimated_size())
            .map_err(super::status::from_app)?;
        let stream = statement::stream(&frame)?.map(move |data| {
            let _held = &held;
            data
        });
        Ok(Response::new(stream.boxed()))
    }
}

type DoGetStream = <FlightSql as FlightService>::DoGetStream;

/// A listing's FlightInfo: its schema, and the command itself as the
/// ticket (Flight SQL's convention for metadata calls).
fn listing(
    schema: &Schema,
    command: &impl ProstMessageExt,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(command.as_any().encode_to_vec());
    let info = with_schema(schema)?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

fn with_schema(schema: &Schema) -> Result<FlightInfo, Status> {
    FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| super::status::internal(&e.to_string()))
}

/// A listing, streamed.
fn send(batch: RecordBatch) -> Response<DoGetStream> {
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(batch.schema())
        .build(futures::stream::once(async move { Ok(batch) }))
        .map_err(Status::from);
    Response::new(Box::pin(stream))
}

type HandshakeStream = Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = FlightSql;

    /// Basic authentication with the token as the password (any user
    /// name), or the bearer token itself: answered with the token as
    /// `authorization: Bearer`, which the client sends on every call.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<HandshakeStream>, Status> {
        let given = auth::handshake_token(request.metadata())?;
        let mut response = Response::new(
            futures::stream::once(async {
                Ok(HandshakeResponse {
                    protocol_version: 0,
                    payload: Bytes::new(),
                })
            })
            .boxed(),
        );
        if self.state.requires_token() {
            let Some(given) = given.filter(|t| self.state.is_token(t)) else {
                return Err(super::status::unauthenticated());
            };
            let header = MetadataValue::try_from(format!("Bearer {given}"))
                .map_err(|_| Status::invalid_argument("the token cannot travel in a header"))?;
            response.metadata_mut().insert("authorization", header);
        }
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let frame = statement::answer(&self.state, &query.query, Counted::Query).await?;
        self.planned(&query.query, &frame, request.into_inner())
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let sql = ticket::decode(&query.prepared_statement_handle)?;
        let frame = statement::answer(&self.state, sql, Counted::Query).await?;
        self.planned(sql, &frame, request.into_inner())
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (planned_on, sql) = ticket::decode_planned(&ticket.statement_handle)?;
        if planned_on != self.state.cache().dataset().fingerprint() {
            return Err(Status::failed_precondition(
                "the data changed since this statement was planned: plan it again (GetFlightInfo)",
            ));
        }
        self.fetch(sql).await
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.fetch(ticket::decode(&query.prepared_statement_handle)?)
            .await
    }

    /// A ticket that is no Flight SQL command.
    async fn do_get_fallback(
        &self,
        _request: Request<Ticket>,
        message: Any,
    ) -> Result<Response<DoGetStream>, Status> {
        Err(Status::invalid_argument(format!(
            "not a ticket of this server (a {})",
            crate::error::excerpt(&message.type_url)
        )))
    }

    /// Checks the statement and answers it (so that its schema is known):
    /// the handle is the statement itself, and nothing is kept per
    /// statement on the server.
    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let frame = statement::answer(&self.state, &query.query, Counted::Not).await?;
        let schema = statement::schema(&frame)?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: ticket::encode(&query.query),
            // FlightInfo's schema field holds the same encapsulated IPC
            // schema message that a prepared statement's result carries.
            dataset_schema: with_schema(&schema)?.schema,
            parameter_schema: Bytes::new(),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        ticket::decode(&query.prepared_statement_handle).map(drop)
    }

    async fn do_put_prepared_statement_query(
        &self,
        _query: CommandPreparedStatementQuery,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        Err(Status::invalid_argument(
            "prepared statements take no parameters: write the values in the SQL text",
        ))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let info = metadata::sql_info()?;
        let schema = query.clone().into_builder(&info).schema();
        listing(&schema, &query, request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        mut query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        // arrow-flight filters with a kernel call per asked id.
        query.info.sort_unstable();
        query.info.dedup();
        if query.info.len() > metadata::MAX_LISTED {
            return Err(Status::invalid_argument(format!(
                "{} SQL info ids asked for; at most {}",
                query.info.len(),
                metadata::MAX_LISTED
            )));
        }
        let info = metadata::sql_info()?;
        let batch = query
            .into_builder(&info)
            .build()
            .map_err(|e| super::status::internal(&e.to_string()))?;
        Ok(send(batch))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        listing(&schema, &query, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(send(metadata::catalogs(query)?))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        listing(&schema, &query, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(send(metadata::schemas(query)?))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        listing(&schema, &query, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let dataset = self.state.cache().dataset();
        Ok(send(metadata::tables(query, &dataset)?))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        listing(&schema, &query, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(send(metadata::table_types(query)?))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
