//! A minimal keep-alive HTTP/1.1 client for the load benchmarks: one
//! request at a time on one connection, timing each.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One connection to a server on loopback.
pub struct Connection {
    socket: BufReader<TcpStream>,
    line: String,
}

impl Connection {
    /// Connects to `127.0.0.1:port`.
    pub async fn open(port: u16) -> Connection {
        let socket = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        socket.set_nodelay(true).expect("nodelay");
        Connection {
            socket: BufReader::new(socket),
            line: String::new(),
        }
    }

    /// POSTs a JSON `body` to `path` and reads the whole answer: its status
    /// and how long it took.
    pub async fn post(&mut self, path: &str, body: &str) -> (u16, Duration) {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let sent = Instant::now();
        self.socket
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("write");
        self.line.clear();
        self.socket
            .read_line(&mut self.line)
            .await
            .expect("status line");
        let status = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let mut length = 0usize;
        loop {
            self.line.clear();
            self.socket.read_line(&mut self.line).await.expect("header");
            if self.line == "\r\n" {
                break;
            }
            if let Some(value) = self
                .line
                .to_ascii_lowercase()
                .strip_prefix("content-length:")
            {
                length = value.trim().parse().expect("length");
            }
        }
        let mut answer = vec![0; length];
        self.socket.read_exact(&mut answer).await.expect("body");
        (status, sent.elapsed())
    }
}

/// The `q` quantile of sorted latencies, in microseconds.
pub fn quantile_us(sorted: &[Duration], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q) as usize)
        .map_or(0.0, |d| d.as_secs_f64() * 1e6)
}
