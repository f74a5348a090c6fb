//! Concurrent misses on one key compute once.
//!
//! The first caller of a key becomes its leader and computes; callers that
//! arrive while it runs wait on the same flight and receive its result (or
//! its error: the same variant, whose sources are shared, as moka's
//! `try_get_with` shares an `Arc` of it). No lock is held while computing, and only the miss
//! path touches this: hits never see it.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::normalize::{BuildPassThrough, QueryKey};
use crate::{Error, Result};

type Outcome<T> = Option<Result<T, Error>>;

struct Flight<T> {
    outcome: Mutex<Outcome<T>>,
    done: Condvar,
}

/// The flights in progress, one per key.
pub(crate) struct Flights<T> {
    inflight: Mutex<HashMap<QueryKey, Arc<Flight<T>>, BuildPassThrough>>,
}

/// Whether this caller ran the work or waited for another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Leader,
    Follower,
}

impl<T: Clone> Flights<T> {
    pub(crate) fn new() -> Self {
        Flights {
            inflight: Mutex::new(HashMap::default()),
        }
    }

    /// Runs `work` for `key` unless a flight for it is already under way, in
    /// which case waits for that one's outcome.
    pub(crate) fn run(
        &self,
        key: &QueryKey,
        work: impl FnOnce() -> Result<T>,
    ) -> (Result<T>, Role) {
        let (flight, role) = {
            let mut map = self.inflight.lock();
            match map.get(key) {
                Some(flight) => (Arc::clone(flight), Role::Follower),
                None => {
                    let flight = Arc::new(Flight {
                        outcome: Mutex::new(None),
                        done: Condvar::new(),
                    });
                    map.insert(key.clone(), Arc::clone(&flight));
                    (flight, Role::Leader)
                }
            }
        };
        if role == Role::Follower {
            let mut outcome = flight.outcome.lock();
            while outcome.is_none() {
                flight.done.wait(&mut outcome);
            }
            let result = outcome
                .clone()
                .unwrap_or_else(|| Err(Error::Compute("the computing caller vanished".to_owned())));
            return (result, role);
        }
        // A panic in Polars or in a memoized function must not leave the
        // followers waiting forever, nor unwind into the caller.
        let result = catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
            let message = crate::error::panic_message(&*panic);
            Err(Error::Compute(format!(
                "the computation panicked: {message}"
            )))
        });
        *flight.outcome.lock() = Some(result.clone());
        self.inflight.lock().remove(key);
        flight.done.notify_all();
        (result, role)
    }
}
