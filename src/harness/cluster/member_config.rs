//! What a member needs to reach its store, by mechanism: the parts of a node's configuration
//! that depend on the store the trial runs against.

use std::net::SocketAddr;

use super::ClusterSpec;
use crate::node::{EtcdAccess, EtcdKvAccess, EtcdMember, LeaseMember};

/// A lease member's way to its store (`protocol: lease`): its proxies to the store's members
/// (`stores`), and on etcd the trial's Lease object.
pub(super) fn lease_member(
    spec: &ClusterSpec,
    stores: &[SocketAddr],
    etcd: bool,
) -> Option<LeaseMember> {
    let p = &spec.profile;
    let timing = p.cluster.lease.filter(|_| p.is_lease())?;
    Some(LeaseMember {
        timing,
        identity: p.cluster.lease_identity,
        store: *stores.first()?,
        etcd: etcd.then(|| EtcdAccess {
            endpoints: stores.to_vec(),
            // One Lease object per trial, so trials on a user's etcd never meet.
            lease_name: format!("{}lease", spec.proxy_prefix).replace('_', "-"),
        }),
    })
}

/// An etcd-election member's way to its store (`protocol: etcd-election`): its proxies to the
/// store's members (`stores`), and on etcd the trial's key namespace.
pub(super) fn etcd_member(
    spec: &ClusterSpec,
    stores: &[SocketAddr],
    etcd: bool,
) -> Option<EtcdMember> {
    let p = &spec.profile;
    let session = p.cluster.session.filter(|_| p.is_etcd_election())?;
    Some(EtcdMember {
        session,
        store: *stores.first()?,
        etcd: etcd.then(|| EtcdKvAccess {
            endpoints: stores.to_vec(),
            // One namespace per trial, so trials on a user's etcd never meet.
            namespace: format!("{}/", spec.proxy_prefix.trim_end_matches('_')),
        }),
    })
}
