//! What every call passes before the Flight SQL service sees it: the
//! token (all calls but the handshake, which checks it itself), and a
//! well-formed command, ticket or action body, so that bytes a client made
//! up are an `InvalidArgument` rather than the `Internal` arrow-flight's
//! dispatch would answer.

use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::{
    ActionBeginSavepointRequest, ActionBeginTransactionRequest, ActionCancelQueryRequest,
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedSubstraitPlanRequest, ActionEndSavepointRequest,
    ActionEndTransactionRequest, Any, Command, ProstMessageExt,
};
use arrow_flight::{
    Action, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo, HandshakeRequest, PollInfo,
    SchemaResult, Ticket,
};
use prost::Message;
use tonic::{Request, Response, Status, Streaming};

use super::auth;
use super::service::FlightSql;

/// The Flight SQL service behind its checks.
pub(super) struct Guarded(pub(super) FlightSql);

impl Guarded {
    fn check<T>(&self, request: &Request<T>) -> Result<(), Status> {
        auth::check(self.0.state(), request.metadata())
    }
}

/// `bytes` read as a Flight SQL command; what is not one is the client's
/// mistake.
fn command(bytes: &[u8], what: &str) -> Result<(), Status> {
    let any = Any::decode(bytes)
        .map_err(|_| Status::invalid_argument(format!("the {what} is not a Flight SQL command")))?;
    Command::try_from(any).map(drop).map_err(|_| {
        Status::invalid_argument(format!("the {what} is a malformed Flight SQL command"))
    })
}

/// An action's body read as the request its type names: a body arrow-flight
/// cannot unpack would be answered `Internal`, a fault of the server, where
/// the bytes are the client's.
fn action_body(action: &Action) -> Result<(), Status> {
    fn unpacks<M: ProstMessageExt>(body: &[u8], action: &str) -> Result<(), Status> {
        let malformed =
            || Status::invalid_argument(format!("the body of the {action} action is malformed"));
        let any = Any::decode(body).map_err(|_| malformed())?;
        match any.unpack::<M>() {
            Ok(Some(_)) => Ok(()),
            Ok(None) | Err(_) => Err(malformed()),
        }
    }
    let body = &action.body[..];
    let kind = action.r#type.as_str();
    match kind {
        "CreatePreparedStatement" => unpacks::<ActionCreatePreparedStatementRequest>(body, kind),
        "ClosePreparedStatement" => unpacks::<ActionClosePreparedStatementRequest>(body, kind),
        "CreatePreparedSubstraitPlan" => {
            unpacks::<ActionCreatePreparedSubstraitPlanRequest>(body, kind)
        }
        "BeginTransaction" => unpacks::<ActionBeginTransactionRequest>(body, kind),
        "EndTransaction" => unpacks::<ActionEndTransactionRequest>(body, kind),
        "BeginSavepoint" => unpacks::<ActionBeginSavepointRequest>(body, kind),
        "EndSavepoint" => unpacks::<ActionEndSavepointRequest>(body, kind),
        "CancelQuery" => unpacks::<ActionCancelQueryRequest>(body, kind),
        // Any other type is refused by arrow-flight as unknown.
        _ => Ok(()),
    }
}

type Service = FlightSql;

#[tonic::async_trait]
impl FlightService for Guarded {
    type HandshakeStream = <Service as FlightService>::HandshakeStream;
    type ListFlightsStream = <Service as FlightService>::ListFlightsStream;
    type DoGetStream = <Service as FlightService>::DoGetStream;
    type DoPutStream = <Service as FlightService>::DoPutStream;
    type DoExchangeStream = <Service as FlightService>::DoExchangeStream;
    type DoActionStream = <Service as FlightService>::DoActionStream;
    type ListActionsStream = <Service as FlightService>::ListActionsStream;

    async fn handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        self.0.handshake(request).await
    }

    async fn list_flights(
        &self,
        request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        self.check(&request)?;
        self.0.list_flights(request).await
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.check(&request)?;
        command(&request.get_ref().cmd, "descriptor")?;
        self.0.get_flight_info(request).await
    }

    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        self.check(&request)?;
        self.0.poll_flight_info(request).await
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        self.check(&request)?;
        self.0.get_schema(request).await
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        self.check(&request)?;
        command(&request.get_ref().ticket, "ticket")?;
        self.0.do_get(request).await
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        self.check(&request)?;
        self.0.do_put(request).await
    }

    async fn do_exchange(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        self.check(&request)?;
        self.0.do_exchange(request).await
    }

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        self.check(&request)?;
        action_body(request.get_ref())?;
        self.0.do_action(request).await
    }

    async fn list_actions(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        self.check(&request)?;
        self.0.list_actions(request).await
    }
}
