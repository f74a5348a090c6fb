//! Requests for work already under way wait for it, on the async
//! workers, without a computation slot or a thread.
//!
//! The cache has its own single flight, but its followers block a thread
//! each while they wait. Here a follower is a future: a thousand clients
//! asking for one slow answer cost a thousand small futures, each waiting
//! no longer than its own request's deadline.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use super::error::AppError;

type Outcome<T> = Option<Result<T, AppError>>;

/// The flights under way, by key.
pub(crate) struct Flights<K, T> {
    inflight: Mutex<HashMap<K, watch::Receiver<Outcome<T>>>>,
}

/// What a caller of [`Flights::join`] is to do.
pub(crate) enum Joined<K: Hash + Eq, T> {
    /// Do the work and [`Leader::finish`] it.
    Lead(Leader<K, T>),
    /// Wait for another caller's work with [`follow`].
    Follow(watch::Receiver<Outcome<T>>),
}

/// The caller doing the work. Dropped without finishing (the client went
/// away, or it was refused a slot), it takes the flight down, and its
/// followers try again on their own.
pub(crate) struct Leader<K: Hash + Eq, T> {
    flights: Arc<Flights<K, T>>,
    key: Option<K>,
    sender: watch::Sender<Outcome<T>>,
}

impl<K: Hash + Eq + Clone, T: Clone> Flights<K, T> {
    pub(crate) fn new() -> Arc<Flights<K, T>> {
        Arc::new(Flights {
            inflight: Mutex::new(HashMap::new()),
        })
    }

    /// Leads the work for `key`, or follows the caller already leading it.
    pub(crate) fn join(self: &Arc<Self>, key: K) -> Joined<K, T> {
        let mut inflight = self.inflight.lock();
        if let Some(receiver) = inflight.get(&key) {
            return Joined::Follow(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        inflight.insert(key.clone(), receiver);
        Joined::Lead(Leader {
            flights: Arc::clone(self),
            key: Some(key),
            sender,
        })
    }

    /// Flights under way.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inflight.lock().len()
    }
}

impl<K: Hash + Eq, T> Leader<K, T> {
    /// Hands the outcome to every follower and ends the flight.
    pub(crate) fn finish(mut self, outcome: Result<T, AppError>) {
        self.leave();
        // No receiver left is fine: nobody was waiting.
        let _ = self.sender.send(Some(outcome));
    }

    fn leave(&mut self) {
        if let Some(key) = self.key.take() {
            self.flights.inflight.lock().remove(&key);
        }
    }
}

impl<K: Hash + Eq, T> Drop for Leader<K, T> {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Waits for the leader until `deadline`: `Ok(None)` when it went away
/// without an outcome, `Err` (503) when the deadline came first.
pub(crate) async fn follow<T: Clone>(
    mut receiver: watch::Receiver<Outcome<T>>,
    deadline: Instant,
    still_running: &str,
) -> Result<Option<Result<T, AppError>>, AppError> {
    match tokio::time::timeout_at(deadline, receiver.wait_for(Option::is_some)).await {
        Ok(Ok(outcome)) => Ok(outcome.clone()),
        Ok(Err(_)) => Ok(None),
        Err(_) => Err(AppError::Timeout(still_running.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn followers_get_the_leaders_outcome() {
        let flights = Flights::<u32, u64>::new();
        let Joined::Lead(leader) = flights.join(7) else {
            panic!("the first caller leads")
        };
        let Joined::Follow(receiver) = flights.join(7) else {
            panic!("the second caller follows")
        };
        assert!(
            matches!(flights.join(8), Joined::Lead(_)),
            "another key leads"
        );
        let far = Instant::now() + Duration::from_secs(60);
        let waiting = tokio::spawn(follow(receiver, far, "busy"));
        leader.finish(Ok(42));
        assert_eq!(flights.len(), 0);
        let outcome = waiting.await.unwrap().unwrap();
        assert!(matches!(outcome, Some(Ok(42))));
    }

    #[tokio::test]
    async fn a_vanished_leader_frees_its_followers_and_the_key() {
        let flights = Flights::<u32, u64>::new();
        let Joined::Lead(leader) = flights.join(1) else {
            panic!("leads")
        };
        let Joined::Follow(receiver) = flights.join(1) else {
            panic!("follows")
        };
        drop(leader);
        let far = Instant::now() + Duration::from_secs(60);
        assert!(follow(receiver, far, "busy").await.unwrap().is_none());
        assert!(matches!(flights.join(1), Joined::Lead(_)));
    }

    #[tokio::test]
    async fn a_follower_waits_no_longer_than_its_deadline() {
        let flights = Flights::<u32, u64>::new();
        let Joined::Lead(_leader) = flights.join(1) else {
            panic!("leads")
        };
        let Joined::Follow(receiver) = flights.join(1) else {
            panic!("follows")
        };
        let soon = Instant::now() + Duration::from_millis(20);
        let outcome = follow(receiver, soon, "still computing").await;
        assert!(matches!(outcome, Err(AppError::Timeout(m)) if m == "still computing"));
    }
}
