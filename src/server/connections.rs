//! The accept loop: what one connection may hold, and for how long.
//!
//! `axum::serve` keeps a connection as long as its client does, so a client
//! that opens connections and never finishes a request holds them forever.
//! Here every connection must send a request's headers within a timeout
//! (which also ends idle keep-alive connections: hyper starts the same
//! timer when it waits for the next request), a write that makes no
//! progress for `write_timeout` (a client that stopped reading) ends its
//! connection, and a [`Gate`] bounds how many connections are open at
//! once, in all and from one address (shared with the Flight SQL endpoint
//! when both run: [`serve_gated`]).

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::Sleep;
use tower::ServiceExt;

use super::gate::Gate;
use super::origin::LocalAddr;

/// Limits on connections, for [`serve_with`].
#[derive(Debug, Clone)]
pub struct Connections {
    /// How long a client may take to send a request's headers, and how
    /// long an idle keep-alive connection stays open. Default: 10 s.
    pub header_timeout: Duration,
    /// How long a response may wait for the client to read it. Default: 30 s.
    pub write_timeout: Duration,
    /// Most connections open at once. Default: 512 (under the usual limit
    /// of 1,024 open files, which the tiers need too).
    pub max_connections: usize,
    /// Most connections open at once from one IP address. Default: 128.
    pub max_connections_per_address: usize,
    /// How long open requests may take to finish after shutdown begins.
    /// Default: 10 s.
    pub shutdown_grace: Duration,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 512,
            max_connections_per_address: 128,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` with default [`Connections`] until Ctrl-C
/// or SIGTERM ([`shutdown_signal`]).
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    serve_with(listener, router, Connections::default(), shutdown_signal()).await
}

/// Completes on Ctrl-C (SIGINT); never, where no handler can be installed.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
    tracing::info!("shutting down");
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM: what a terminal,
/// systemd, Docker, Kubernetes and process supervisors send to stop a
/// server, so each of them gets the graceful shutdown.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                () = ctrl_c() => {}
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            }
            return;
        }
    }
    ctrl_c().await;
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open
/// requests finish for [`Connections::shutdown_grace`].
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    connections: Connections,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let gate = Gate::new(&connections);
    serve_gated(listener, router, connections, gate, shutdown).await
}

/// [`serve_with`], counting connections against `gate`, which other accept
/// loops (the Flight SQL endpoint's) may share: its limits apply to all of
/// their connections together, and those of `connections` are not used.
pub async fn serve_gated(
    listener: TcpListener,
    router: Router,
    connections: Connections,
    gate: Gate,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = gate.slot() => match slot {
                Some(slot) => slot,
                None => break,
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
        let Some(pass) = gate.admit(slot, remote.ip()) else {
            tracing::debug!(%remote, "too many connections from one address: closed");
            continue;
        };
        let local = stream.local_addr().ok().map(LocalAddr);
        let stream = WriteDeadline::new(stream, connections.write_timeout);
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
            drop(pass);
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

/// A connection whose writes fail once one makes no progress for the
/// limit: hyper itself would wait forever for a client that never reads.
pub(crate) struct WriteDeadline<T> {
    io: T,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteDeadline<T> {
    pub(crate) fn new(io: T, limit: Duration) -> WriteDeadline<T> {
        WriteDeadline {
            io,
            limit,
            stalled: None,
        }
    }

    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_that_stops_reading_loses_its_connection() {
        use tokio::io::AsyncWriteExt;
        // A pipe whose other end is never read: writes block once it is full.
        let (near, _far) = tokio::io::duplex(64);
        let mut guarded = WriteDeadline::new(near, Duration::from_millis(50));
        let outcome = guarded.write_all(&[0; 4096]).await;
        assert_eq!(outcome.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }
}
