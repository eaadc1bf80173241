//! The store's state machine.

use super::record::{LeaseRecord, StoredLease};
use super::wire::{StoreMessage, StoreRequest, StoreResponse};

/// What the store did so far: its load, as requests and writes (divide by the run's length for
/// the per-second rates the report shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Every request handled (reads, writes and refused writes).
    pub requests: u64,
    /// `Get` requests.
    pub reads: u64,
    /// Writes that changed the record (a `Create` or `Update` that succeeded).
    pub writes: u64,
    /// Writes refused: a `Create` of an existing lease, an `Update` with a stale
    /// `resourceVersion` or of a lease that does not exist.
    pub refused_writes: u64,
}

/// A linearizable compare-and-swap store of one lease: every request is applied atomically, in
/// the order [`Store::handle`] is called.
#[derive(Debug, Clone, Default)]
pub struct Store {
    lease: Option<StoredLease>,
    /// The revision of the latest write (0 before the first).
    revision: u64,
    stats: StoreStats,
}

impl Store {
    /// An empty store: no lease yet (the first candidate creates it).
    pub fn new() -> Self {
        Self::default()
    }

    /// The lease as stored now.
    pub fn lease(&self) -> Option<&StoredLease> {
        self.lease.as_ref()
    }

    /// The load so far.
    pub fn stats(&self) -> StoreStats {
        self.stats
    }

    /// Applies one request and answers it, as the API server answers a Lease `get`, `create` or
    /// `update` (404 NotFound, 409 AlreadyExists, 409 Conflict).
    pub fn handle(&mut self, request: &StoreRequest) -> StoreResponse {
        self.stats.requests += 1;
        match *request {
            StoreRequest::Get => {
                self.stats.reads += 1;
                match self.lease {
                    Some(stored) => StoreResponse::Lease(stored),
                    None => StoreResponse::NotFound,
                }
            }
            StoreRequest::Create(record) => match self.lease {
                Some(_) => self.refuse(StoreResponse::AlreadyExists),
                None => self.write(record),
            },
            StoreRequest::Update {
                resource_version,
                record,
            } => match self.lease {
                None => self.refuse(StoreResponse::NotFound),
                Some(current) if current.resource_version != resource_version => {
                    self.refuse(StoreResponse::Conflict)
                }
                Some(_) => self.write(record),
            },
        }
    }

    /// Handles a message addressed to the store: a request is answered with a response carrying
    /// its id; anything else (a response sent to the store by mistake) is ignored.
    pub fn handle_message(&mut self, msg: &StoreMessage) -> Option<StoreMessage> {
        match msg {
            StoreMessage::Request { id, request } => Some(StoreMessage::Response {
                id: *id,
                response: self.handle(request),
            }),
            StoreMessage::Response { .. } => None,
        }
    }

    fn write(&mut self, record: LeaseRecord) -> StoreResponse {
        self.revision += 1;
        self.stats.writes += 1;
        let stored = StoredLease {
            record,
            resource_version: self.revision,
        };
        self.lease = Some(stored);
        StoreResponse::Lease(stored)
    }

    fn refuse(&mut self, response: StoreResponse) -> StoreResponse {
        self.stats.refused_writes += 1;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(holder: u32, renew: u64) -> LeaseRecord {
        LeaseRecord {
            holder: Some(crate::store::record::Holder::stable(holder)),
            lease_duration_ns: 1_000,
            acquire_time: 5,
            renew_time: renew,
            lease_transitions: 0,
        }
    }

    #[test]
    fn compare_and_swap_on_resource_version() {
        let mut s = Store::new();
        assert_eq!(s.handle(&StoreRequest::Get), StoreResponse::NotFound);
        assert_eq!(
            s.handle(&StoreRequest::Update {
                resource_version: 0,
                record: record(1, 1)
            }),
            StoreResponse::NotFound
        );
        let StoreResponse::Lease(first) = s.handle(&StoreRequest::Create(record(1, 10))) else {
            panic!("create failed");
        };
        assert_eq!(first.record, record(1, 10));
        assert_eq!(
            s.handle(&StoreRequest::Create(record(2, 10))),
            StoreResponse::AlreadyExists
        );
        // two writers raced from the same version: the first wins, the second conflicts
        let v = first.resource_version;
        let StoreResponse::Lease(second) = s.handle(&StoreRequest::Update {
            resource_version: v,
            record: record(1, 20),
        }) else {
            panic!("update failed");
        };
        assert!(second.resource_version > v);
        assert_eq!(
            s.handle(&StoreRequest::Update {
                resource_version: v,
                record: record(2, 21)
            }),
            StoreResponse::Conflict
        );
        assert_eq!(s.handle(&StoreRequest::Get), StoreResponse::Lease(second));
        assert_eq!(s.lease(), Some(&second));
        assert_eq!(
            s.stats(),
            StoreStats {
                requests: 7,
                reads: 2,
                writes: 2,
                refused_writes: 3,
            }
        );
    }

    #[test]
    fn messages_are_answered_with_their_id() {
        let mut s = Store::new();
        let answer = s.handle_message(&StoreMessage::Request {
            id: 42,
            request: StoreRequest::Get,
        });
        assert_eq!(
            answer,
            Some(StoreMessage::Response {
                id: 42,
                response: StoreResponse::NotFound
            })
        );
        let stray = StoreMessage::Response {
            id: 1,
            response: StoreResponse::Conflict,
        };
        assert_eq!(s.handle_message(&stray), None);
        assert_eq!(s.stats().requests, 1);
    }
}
