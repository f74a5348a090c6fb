//! Admission control: at most `max_computations` answers are computed at
//! once, at most `max_queued` requests wait for a turn, and every request
//! beyond that is refused at once with `429 Too Many Requests`.
//!
//! A queue without a bound turns a flood into memory and latency for
//! everyone; refusing early turns it into a quick, cheap answer the client
//! can retry. Hits never come here (they are answered on the async workers
//! before admission is asked), so a flood of misses cannot slow them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::error::AppError;

/// The gate in front of the blocking pool.
pub(crate) struct Admission {
    permits: Arc<Semaphore>,
    max_computations: usize,
    queued: AtomicUsize,
    max_queued: usize,
    rejected: AtomicU64,
}

/// A turn to compute. Dropping it lets the next request in.
pub(crate) type Turn = OwnedSemaphorePermit;

impl Admission {
    pub(crate) fn new(max_computations: usize, max_queued: usize) -> Admission {
        let max_computations = max_computations.max(1);
        Admission {
            permits: Arc::new(Semaphore::new(max_computations)),
            max_computations,
            queued: AtomicUsize::new(0),
            max_queued,
            rejected: AtomicU64::new(0),
        }
    }

    /// A turn now, or after waiting in the queue until `deadline`; a `429`
    /// when the queue is full, a `503` when the deadline passes first.
    /// `retry_after` is what the `429` tells the client to wait.
    pub(crate) async fn admit(
        &self,
        deadline: Instant,
        retry_after: Duration,
    ) -> Result<Turn, AppError> {
        if let Ok(turn) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(turn);
        }
        let Some(_place) = Place::take(&self.queued, self.max_queued) else {
            self.rejected.fetch_add(1, Relaxed);
            return Err(AppError::Busy {
                retry_after,
                message: format!(
                    "the server is computing {} answers with {} more waiting; try again shortly",
                    self.max_computations, self.max_queued
                ),
            });
        };
        match tokio::time::timeout_at(deadline, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            Ok(Err(closed)) => Err(AppError::Internal(format!("admission: {closed}"))),
            Err(_) => Err(AppError::Timeout(
                "no computation slot became free within the request timeout; try again shortly"
                    .to_owned(),
            )),
        }
    }

    /// Computations running now.
    pub(crate) fn running(&self) -> usize {
        self.max_computations - self.permits.available_permits()
    }

    /// Requests waiting for a turn now.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Relaxed)
    }

    /// Requests refused with a `429` so far.
    pub(crate) fn rejected(&self) -> u64 {
        self.rejected.load(Relaxed)
    }

    /// The most computations at once.
    pub(crate) fn max_computations(&self) -> usize {
        self.max_computations
    }
}

/// A place in the queue, given back when dropped (also when the client
/// goes away while waiting, since the handler's future is dropped then).
struct Place<'a>(&'a AtomicUsize);

impl<'a> Place<'a> {
    fn take(queued: &'a AtomicUsize, max: usize) -> Option<Place<'a>> {
        queued
            .fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| Place(queued))
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_queue_is_refused_at_once() {
        let admission = Arc::new(Admission::new(1, 1));
        let far = Instant::now() + Duration::from_secs(60);
        let first = admission.admit(far, Duration::from_secs(1)).await.unwrap();
        assert_eq!(admission.running(), 1);
        let waiting = {
            let admission = Arc::clone(&admission);
            tokio::spawn(async move { admission.admit(far, Duration::from_secs(1)).await })
        };
        while admission.queued() == 0 {
            tokio::task::yield_now().await;
        }
        let refused = admission.admit(far, Duration::from_secs(3)).await;
        assert!(
            matches!(refused, Err(AppError::Busy { retry_after, .. }) if retry_after == Duration::from_secs(3))
        );
        assert_eq!(admission.rejected(), 1);
        drop(first);
        let second = waiting.await.unwrap();
        assert!(second.is_ok());
        assert_eq!(admission.queued(), 0);
    }

    #[tokio::test]
    async fn a_queued_request_gives_up_at_its_deadline() {
        let admission = Admission::new(1, 4);
        let _held = admission
            .admit(Instant::now(), Duration::from_secs(1))
            .await
            .unwrap();
        let soon = Instant::now() + Duration::from_millis(20);
        let outcome = admission.admit(soon, Duration::from_secs(1)).await;
        assert!(matches!(outcome, Err(AppError::Timeout(_))));
        assert_eq!(admission.queued(), 0, "the place is given back");
        assert_eq!(admission.rejected(), 0, "a timeout is not a refusal");
    }
}
