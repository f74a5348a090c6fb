//! The connection gate: how many connections are open at once, in all and
//! from one address. One [`Gate`] may guard several accept loops (the HTTP
//! server's and the Flight SQL endpoint's), so that their connections share
//! one budget of slots and one count per address.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Connections;

/// Slots for open connections, shared by every accept loop given a clone.
///
/// At most [`Connections::max_connections`] connections are open at once
/// (further clients wait in the listen backlog until a slot frees) and at
/// most [`Connections::max_connections_per_address`] from one IP address
/// (more are closed at once), so one client cannot take every slot.
///
/// ```
/// use polars_query_cache::server::{Connections, Gate};
///
/// // One budget for the HTTP server and the Flight SQL endpoint: give both
/// // a clone (`server::serve_gated`, `flight::FlightConfig::gate`).
/// let gate = Gate::new(&Connections { max_connections: 64, ..Connections::default() });
/// let shared = gate.clone();
/// assert_eq!(shared.open(), 0);
/// ```
#[derive(Clone)]
pub struct Gate(Arc<Inner>);

struct Inner {
    slots: Arc<Semaphore>,
    max_connections: usize,
    per_address: usize,
    addresses: Arc<PerAddress>,
}

/// One open connection's place: its slot and its share of its address's
/// count, both given back when it is dropped.
pub(crate) struct Pass {
    _slot: OwnedSemaphorePermit,
    _share: Share,
}

impl Gate {
    /// A gate with the connection limits of `connections`.
    pub fn new(connections: &Connections) -> Gate {
        let max_connections = connections.max_connections.max(1);
        Gate(Arc::new(Inner {
            slots: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            per_address: connections.max_connections_per_address.max(1),
            addresses: Arc::default(),
        }))
    }

    /// Connections open now, through every accept loop sharing the gate.
    pub fn open(&self) -> usize {
        self.0.addresses.0.lock().values().sum()
    }

    /// Waits for a free slot (before accepting, so that further clients
    /// wait in the listen backlog).
    pub(crate) async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0.slots).acquire_owned().await.ok()
    }

    /// Lets a connection from `ip` in with `slot`, unless its address has
    /// its share open already.
    pub(crate) fn admit(&self, slot: OwnedSemaphorePermit, ip: IpAddr) -> Option<Pass> {
        let share = PerAddress::take(&self.0.addresses, ip, self.0.per_address)?;
        Some(Pass {
            _slot: slot,
            _share: share,
        })
    }
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("open", &self.open())
            .field("max_connections", &self.0.max_connections)
            .field("max_connections_per_address", &self.0.per_address)
            .finish()
    }
}

/// Open connections by address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in its address's count.
struct Share {
    addresses: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(addresses: &Arc<PerAddress>, ip: IpAddr, max: usize) -> Option<Share> {
        let mut counts = addresses.0.lock();
        let count = counts.entry(ip).or_insert(0);
        if *count >= max.max(1) {
            return None;
        }
        *count += 1;
        Some(Share {
            addresses: Arc::clone(addresses),
            ip,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut counts = self.addresses.0.lock();
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_gets_its_share_and_no_more() {
        let addresses = Arc::new(PerAddress::default());
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let first = PerAddress::take(&addresses, ip, 2).unwrap();
        let _second = PerAddress::take(&addresses, ip, 2).unwrap();
        assert!(PerAddress::take(&addresses, ip, 2).is_none());
        assert!(PerAddress::take(&addresses, other, 2).is_some());
        drop(first);
        assert!(PerAddress::take(&addresses, ip, 2).is_some());
    }

    #[tokio::test]
    async fn accept_loops_sharing_a_gate_share_its_slots() {
        let gate = Gate::new(&Connections {
            max_connections: 2,
            max_connections_per_address: 2,
            ..Connections::default()
        });
        let other_loop = gate.clone();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let first = gate.admit(gate.slot().await.unwrap(), ip).unwrap();
        let second = other_loop
            .admit(other_loop.slot().await.unwrap(), ip)
            .unwrap();
        assert_eq!(gate.open(), 2);
        assert!(Arc::clone(&gate.0.slots).try_acquire_owned().is_err());
        // A slot taken while waiting for a client is not an open connection.
        drop(second);
        let _waiting = gate.slot().await.unwrap();
        assert_eq!(gate.open(), 1);
        drop(first);
        assert_eq!(other_loop.open(), 0);
    }
}
