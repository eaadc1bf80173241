//! The lease record and the stored object around it.

use crate::wire::NodeId;

/// Who holds a lease: a member and which run of its process. Kubernetes components take
/// `hostname + "_" + uuid` as their identity, a new one at every start
/// (kube-controller-manager's `Run`, kube-scheduler's `makeLeaderElectionConfig`,
/// controller-runtime's `NewResourceLock`), so a restarted leader does not recognise its own
/// record and waits it out like any candidate; `incarnation` is that uuid (0 for a member whose
/// identity is stable across restarts, see `crate::election::lease::LeaseIdentity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Holder {
    /// The member (`n3`).
    pub member: NodeId,
    /// Which run of the member's process; 0 for a stable identity.
    pub incarnation: u64,
}

impl Holder {
    /// A member with an identity that survives restarts.
    pub fn stable(member: NodeId) -> Self {
        Self {
            member,
            incarnation: 0,
        }
    }
}

impl std::fmt::Display for Holder {
    /// `n3` for a stable identity, `n3_00000000deadbeef` for one run of a process.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.incarnation {
            0 => write!(f, "n{}", self.member),
            i => write!(f, "n{}_{i:016x}", self.member),
        }
    }
}

/// A Lease's spec (`coordination.k8s.io/v1` `LeaseSpec`, client-go's `LeaderElectionRecord`).
///
/// Times are nanoseconds on the clock of the member that wrote the record (see the module
/// documentation): they mean nothing to any other member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaseRecord {
    /// `holderIdentity`: the member that holds the lease; `None` is the empty identity, a lease
    /// nobody holds (client-go writes it when it releases a lease).
    pub holder: Option<Holder>,
    /// `leaseDurationSeconds`, kept in nanoseconds: the holder's LeaseDuration, which every
    /// candidate uses to time the lease (client-go's `isLeaseValid` reads it from the *observed
    /// record*, not from its own configuration). client-go writes
    /// `int(LeaseDuration / time.Second)`, truncating a sub-second duration to 0 (a lease every
    /// candidate sees as expired); electune keeps nanoseconds so that a profile scaled down in
    /// time behaves as its full-size original.
    pub lease_duration_ns: u64,
    /// `acquireTime`: when the holder acquired the lease, on the holder's clock.
    pub acquire_time: u64,
    /// `renewTime`: when the holder started its latest successful renewal, on its clock.
    pub renew_time: u64,
    /// `leaseTransitions`: how many times the lease changed hands; electune's fencing token for
    /// the lease mechanism (see `crate::election::lease`).
    pub lease_transitions: u64,
}

/// The stored object: the record and its `resourceVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredLease {
    /// The spec as last written.
    pub record: LeaseRecord,
    /// The object's `resourceVersion`: the store's revision at the write that produced it (like
    /// etcd's `mod_revision`, which is what the API server reports). It grows with every write,
    /// so an `Update` that names an older one lost a race and is refused with a conflict.
    pub resource_version: u64,
}
