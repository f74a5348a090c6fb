//! The accept loop: what one connection may hold, and for how long.
//!
//! `axum::serve` keeps a connection as long as its client does, so a client
//! that opens connections and never finishes a request holds them forever.
//! Here every connection must send a request's headers within a timeout
//! (which also ends idle keep-alive connections: hyper starts the same
//! timer when it waits for the next request), and at most
//! `max_connections` are open at once; further clients wait in the
//! listen backlog until a slot frees.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::origin::LocalAddr;

/// Limits on connections, for [`serve_with`].
#[derive(Debug, Clone)]
pub struct Connections {
    /// How long a client may take to send a request's headers, and how
    /// long an idle keep-alive connection stays open. Default: 10 s.
    pub header_timeout: Duration,
    /// Most connections open at once. Default: 1,024.
    pub max_connections: usize,
    /// How long open requests may take to finish after shutdown begins.
    /// Default: 10 s.
    pub shutdown_grace: Duration,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` with default [`Connections`] until Ctrl-C.
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    serve_with(listener, router, Connections::default(), ctrl_c()).await
}

/// Completes on Ctrl-C (SIGINT); never, where no handler can be installed.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
    tracing::info!("shutting down");
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open
/// requests finish for [`Connections::shutdown_grace`].
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    connections: Connections,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(connections.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let local = stream.local_addr().ok().map(LocalAddr);
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                if let Some(local) = local {
                    request.extensions_mut().insert(local);
                }
                request.map(Body::new)
            });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(connections.header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%remote, %error, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(connections.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("open requests did not finish within the shutdown grace period");
    }
    Ok(())
}
