//! The Flight endpoint's accept loop, as a stream of connections for
//! tonic: each holds a place at the [`Gate`] (shared with the HTTP server's
//! accept loop when both run), must send its first bytes within
//! [`Connections::header_timeout`], and loses its connection when a write
//! makes no progress for [`Connections::write_timeout`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::server::{Connections, Gate, Pass, WriteDeadline};

/// One accepted connection and its place at the gate.
pub(super) struct Connection {
    io: WriteDeadline<TcpStream>,
    /// Runs until the client's first bytes arrive.
    silent: Option<Pin<Box<Sleep>>>,
    info: TcpConnectInfo,
    _pass: Pass,
}

/// The connections `listener` accepts, each once `gate` has a slot for it
/// (until then, clients wait in the listen backlog).
pub(super) fn incoming(
    listener: TcpListener,
    gate: Gate,
    connections: Connections,
) -> impl Stream<Item = io::Result<Connection>> + Send + 'static {
    futures::stream::unfold((listener, gate), move |(listener, gate)| {
        let connections = connections.clone();
        async move {
            loop {
                let slot = gate.slot().await?;
                let (stream, remote) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, or a connection reset
                        // before it was accepted: wait a little, not spin.
                        tracing::warn!(%error, "flight: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(pass) = gate.admit(slot, remote.ip()) else {
                    tracing::debug!(%remote, "flight: too many connections from one address: closed");
                    continue;
                };
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%remote, %error, "flight: cannot set TCP_NODELAY");
                }
                let info = TcpConnectInfo {
                    local_addr: stream.local_addr().ok(),
                    remote_addr: Some(remote),
                };
                let connection = Connection {
                    io: WriteDeadline::new(stream, connections.write_timeout),
                    silent: Some(Box::pin(tokio::time::sleep(connections.header_timeout))),
                    info,
                    _pass: pass,
                };
                return Some((Ok(connection), (listener, gate)));
            }
        }
    })
}

impl Connected for Connection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        let Some(silent) = self.silent.as_mut() else {
            return poll;
        };
        match poll {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                self.silent = None;
                poll
            }
            Poll::Pending => match silent.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing",
                ))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
