//! Bodies in both directions, bounded in bytes and in time.
//!
//! A request body is read whole, up to [`Limits::max_body_bytes`], under one
//! deadline for all of it ([`Limits::body_timeout`]): a per-chunk timeout
//! would let a client keep a connection by sending a byte every few
//! seconds. A response body is built whole, then holds its size in a
//! byte budget shared by every response not yet sent, so clients that ask
//! for large answers and read them slowly (or never) cannot pile up
//! memory: beyond the budget a request gets `429`.
//!
//! [`Limits::max_body_bytes`]: super::Limits::max_body_bytes
//! [`Limits::body_timeout`]: super::Limits::body_timeout

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::AppError;

/// Reads a request body whole, within `max` bytes and `timeout`.
pub(crate) async fn read(body: Body, max: usize, timeout: Duration) -> Result<Bytes, AppError> {
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(AppError::TooLarge(
            format!("the request body is over the limit of {max} bytes"),
        )),
        Ok(Err(e)) => Err(AppError::BadRequest(format!(
            "cannot read the request body: {}",
            crate::error::excerpt(&e.to_string())
        ))),
        Err(_) => Err(AppError::RequestTimeout(format!(
            "the request body did not arrive within {:.1} s",
            timeout.as_secs_f64()
        ))),
    }
}

/// The bytes of response bodies built and not yet sent.
pub(crate) struct Budget {
    bytes: Arc<Semaphore>,
    max: usize,
}

impl Budget {
    pub(crate) fn new(max: usize) -> Budget {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Budget {
            bytes: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A body that holds its bytes' share of the budget until it is sent
    /// or dropped.
    pub(crate) fn body(&self, bytes: Vec<u8>) -> Result<Body, AppError> {
        let held = self.hold(bytes.len())?;
        Ok(Body::new(Held {
            bytes: Some(Bytes::from(bytes)),
            _held: held,
        }))
    }

    /// `size` bytes of the budget, held until the permit is dropped: for
    /// an answer sent as a stream (Flight SQL's `DoGet`), for as long as
    /// the stream lives.
    pub(crate) fn hold(&self, size: usize) -> Result<OwnedSemaphorePermit, AppError> {
        let refused = |message: String| AppError::Busy {
            retry_after: Duration::from_secs(1),
            message,
        };
        let Ok(permits) = u32::try_from(size) else {
            return Err(too_large(size, self.max));
        };
        if size > self.max {
            return Err(too_large(size, self.max));
        }
        Arc::clone(&self.bytes)
            .try_acquire_many_owned(permits)
            .map_err(|_| {
                refused(format!(
                    "{} bytes of answers are waiting to be sent; ask again shortly",
                    self.max - self.bytes.available_permits()
                ))
            })
    }

    /// Bytes held by bodies now.
    pub(crate) fn in_flight(&self) -> usize {
        self.max - self.bytes.available_permits()
    }
}

fn too_large(size: usize, max: usize) -> AppError {
    AppError::OverLimit(format!(
        "the answer is {size} bytes, more than the {max} bytes of answers the server holds at once; \
         add a `limit` or filter"
    ))
}

/// One chunk of bytes and its share of the budget.
struct Held {
    bytes: Option<Bytes>,
    _held: OwnedSemaphorePermit,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.bytes.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_hold_their_bytes_until_dropped() {
        let budget = Budget::new(100);
        let first = budget.body(vec![0; 60]).unwrap();
        assert_eq!(budget.in_flight(), 60);
        assert!(matches!(
            budget.body(vec![0; 50]),
            Err(AppError::Busy { .. })
        ));
        assert!(matches!(
            budget.body(vec![0; 101]),
            Err(AppError::OverLimit(_))
        ));
        let sent = first.collect().await.unwrap().to_bytes();
        assert_eq!(sent.len(), 60);
        assert_eq!(budget.in_flight(), 0, "a sent body gives its bytes back");
        assert!(budget.body(vec![0; 50]).is_ok());
    }

    #[tokio::test]
    async fn a_body_over_the_limit_or_too_slow_is_refused() {
        let small = read(Body::from("x".repeat(10)), 5, Duration::from_secs(5)).await;
        assert!(matches!(small, Err(AppError::TooLarge(_))));
        let slow = read(Body::new(Stalled(false)), 100, Duration::from_millis(50)).await;
        assert!(matches!(slow, Err(AppError::RequestTimeout(_))));
    }

    /// A body that sends one byte, then nothing, ever.
    struct Stalled(bool);

    impl http_body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.0 {
                return Poll::Pending;
            }
            self.0 = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{")))))
        }
    }
}
