//! The key-value store model: revisions, the campaign transaction, lease expiry on the store's
//! clock, watches, availability, and the wire format.

use std::time::Duration;

use super::wire::{decode, encode};
use super::*;
use crate::wire::frame::frame_len;
use crate::wire::WireError;

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;
const T0: u64 = 10 * S;

fn store() -> KvStore {
    KvStore::new(
        KvConfig::for_election_timeout(Duration::from_millis(500)),
        T0,
    )
}

fn grant(s: &mut KvStore, now: u64, ttl_s: u64) -> u64 {
    match s.handle(now, 1, 1, &KvRequest::LeaseGrant { ttl_s }) {
        KvResponse::Granted { lease, .. } => lease,
        other => panic!("{other:?}"),
    }
}

fn put(s: &mut KvStore, now: u64, key: &str, member: u32, lease: u64) -> KvResponse {
    let req = KvRequest::PutIfAbsent {
        key: key.into(),
        value: member,
        lease,
    };
    s.handle(now, member, 2, &req)
}

/// `(count, more, kv)` of waitDeletes' get below `max`.
fn last_below(s: &mut KvStore, max: u64) -> (u64, bool, Option<KeyValue>) {
    let req = KvRequest::Range {
        prefix: "e/".into(),
        max_create_revision: max,
        order: RangeOrder::LastCreate,
    };
    match s.handle(T0, 1, 3, &req) {
        KvResponse::Range {
            count, more, kv, ..
        } => (count, more, kv),
        other => panic!("{other:?}"),
    }
}

#[test]
fn min_ttl_follows_the_election_timeout_as_etcd_computes_it() {
    assert_eq!(
        KvConfig::default().min_ttl_s,
        2,
        "1 s election timeout: ⌈1.5 s⌉"
    );
    let c = KvConfig::for_election_timeout(Duration::from_millis(500));
    assert_eq!(c.min_ttl_s, 1);
    assert_eq!(
        KvConfig::for_election_timeout(Duration::from_secs(4)).min_ttl_s,
        6
    );
    let mut s = KvStore::new(KvConfig::default(), T0);
    let KvResponse::Granted { ttl_s, .. } = s.handle(T0, 1, 1, &KvRequest::LeaseGrant { ttl_s: 1 })
    else {
        panic!()
    };
    assert_eq!(ttl_s, 2, "a 1 s TTL is raised to the minimum");
}

#[test]
fn revisions_and_the_campaign_transaction() {
    let mut s = store();
    assert_eq!(s.revision(), 1);
    let (a, b) = (grant(&mut s, T0, 5), grant(&mut s, T0, 5));
    assert_ne!(a, b);
    assert_eq!(s.revision(), 1, "a grant is not a key-space write");
    let KvResponse::Txn {
        succeeded: true,
        revision: r1,
        kv: Some(kv),
    } = put(&mut s, T0, "e/a", 1, a)
    else {
        panic!()
    };
    assert_eq!(
        (r1, kv.create_revision, kv.mod_revision, kv.lease),
        (2, 2, 2, a)
    );
    let KvResponse::Txn {
        succeeded: true,
        revision: r2,
        ..
    } = put(&mut s, T0, "e/b", 2, b)
    else {
        panic!()
    };
    assert_eq!(r2, 3);
    // create_revision != 0: the Else branch gets the key, and nothing changes
    let KvResponse::Txn {
        succeeded: false,
        revision,
        kv: Some(kv),
    } = put(&mut s, T0, "e/a", 3, b)
    else {
        panic!()
    };
    assert_eq!((revision, kv.value, kv.create_revision), (3, 1, 2));
    assert_eq!(put(&mut s, T0, "e/c", 3, 999), KvResponse::LeaseNotFound);
    // waitDeletes' get: the last key created at or below the maximum; as etcd counts, `count`
    // is every key under the prefix, `more` whether the filter kept more than the one returned
    assert_eq!(last_below(&mut s, 2), (2, false, s.get("e/a").cloned()));
    let (count, more, kv) = last_below(&mut s, 3);
    assert_eq!((count, more, kv.unwrap().key.as_str()), (2, true, "e/b"));
    assert_eq!(last_below(&mut s, 1), (2, false, None));
    let first = s.handle(
        T0,
        1,
        4,
        &KvRequest::Range {
            prefix: "e/".into(),
            max_create_revision: 0,
            order: RangeOrder::FirstCreate,
        },
    );
    assert!(matches!(first, KvResponse::Range { count: 2, kv: Some(kv), .. } if kv.key == "e/a"));
    let st = s.stats();
    assert_eq!(
        (st.requests, st.writes, st.refused_writes, st.reads),
        (10, 4, 2, 5)
    );
}

#[test]
fn an_expired_lease_is_revoked_at_the_next_check_and_its_keys_deleted() {
    let mut s = store();
    let a = grant(&mut s, T0 + 100 * MS, 2);
    put(&mut s, T0 + 100 * MS, "e/a", 1, a);
    // kept alive at +1.2 s: expires at +3.2 s, found by the check at +3.5 s
    let ka = s.handle(
        T0 + 1_200 * MS,
        1,
        5,
        &KvRequest::LeaseKeepAlive { lease: a },
    );
    assert_eq!(ka, KvResponse::KeepAlive { lease: a, ttl_s: 2 });
    assert_eq!(s.lease_expiry(a), Some(T0 + 3_200 * MS));
    assert_eq!(s.next_deadline(), T0 + 3_500 * MS);
    s.handle_timeout(T0 + 3_499 * MS);
    assert!(s.get("e/a").is_some(), "not before the check");
    // past its expiry a keep-alive finds no lease (TTL 0), even before the revocation
    let late = s.handle(
        T0 + 3_300 * MS,
        1,
        6,
        &KvRequest::LeaseKeepAlive { lease: a },
    );
    assert_eq!(late, KvResponse::KeepAlive { lease: a, ttl_s: 0 });
    s.handle_timeout(T0 + 3_500 * MS);
    assert!(s.get("e/a").is_none());
    assert_eq!(s.lease_expiry(a), None);
    assert_eq!(s.revision(), 3, "the put, then the revocation's delete");
    assert_eq!(s.next_deadline(), u64::MAX);
}

#[test]
fn a_watch_sees_the_delete_of_its_key_and_only_that() {
    let mut s = store();
    let (a, b) = (grant(&mut s, T0, 5), grant(&mut s, T0, 5));
    put(&mut s, T0, "e/a", 1, a);
    put(&mut s, T0, "e/b", 2, b);
    let rev = s.revision();
    let w = KvRequest::Watch {
        key: "e/a".into(),
        start_revision: rev,
    };
    assert!(matches!(
        s.handle(T0, 2, 77, &w),
        KvResponse::WatchCreated { .. }
    ));
    assert!(
        s.take_pushes().is_empty(),
        "nothing happened to e/a since {rev}"
    );
    s.handle(T0, 3, 9, &KvRequest::LeaseRevoke { lease: b });
    assert!(s.take_pushes().is_empty(), "e/b is not watched");
    s.handle(T0, 1, 10, &KvRequest::LeaseRevoke { lease: a });
    let pushes = s.take_pushes();
    assert_eq!(pushes.len(), 1);
    let (
        to,
        KvMessage::Event {
            watch,
            revision,
            kind,
            kv,
        },
    ) = &pushes[0]
    else {
        panic!()
    };
    assert_eq!(
        (*to, *watch, *kind, kv.key.as_str()),
        (2, 77, EventType::Delete, "e/a")
    );
    assert_eq!(*revision, s.revision());
    // a watch started at an earlier revision gets the delete that already happened
    let late = KvRequest::Watch {
        key: "e/a".into(),
        start_revision: rev,
    };
    s.handle(T0, 3, 78, &late);
    assert!(matches!(
        &s.take_pushes()[..],
        [(
            3,
            KvMessage::Event {
                watch: 78,
                kind: EventType::Delete,
                ..
            }
        )]
    ));
    // a watch ends with its connection
    let c = grant(&mut s, T0, 5);
    put(&mut s, T0, "e/c", 1, c);
    let w = KvRequest::Watch {
        key: "e/c".into(),
        start_revision: s.revision(),
    };
    s.handle(T0, 2, 79, &w);
    // from the revision that created it: the put is replayed
    assert!(matches!(
        &s.take_pushes()[..],
        [(
            2,
            KvMessage::Event {
                kind: EventType::Put,
                ..
            }
        )]
    ));
    s.disconnect(2);
    s.handle(T0, 1, 11, &KvRequest::LeaseRevoke { lease: c });
    assert!(s.take_pushes().is_empty());
}

#[test]
fn no_lease_expires_while_the_store_is_unavailable_and_each_gets_a_full_ttl_after() {
    let mut s = store();
    let a = grant(&mut s, T0, 2);
    put(&mut s, T0, "e/a", 1, a);
    s.set_available(T0 + S, false);
    assert_eq!(s.next_deadline(), u64::MAX);
    s.handle_timeout(T0 + 10 * S);
    assert!(s.get("e/a").is_some());
    s.set_available(T0 + 10 * S, true);
    // TTL 2 s plus the 500 ms election timeout (lessor.Promote)
    assert_eq!(s.lease_expiry(a), Some(T0 + 12_500 * MS));
    s.handle_timeout(T0 + 12_500 * MS);
    assert!(s.get("e/a").is_none());
}

fn every_message() -> Vec<KvMessage> {
    let kv = KeyValue {
        key: "electune/election/694d000000000001".into(),
        value: 3,
        create_revision: 7,
        mod_revision: u64::MAX,
        lease: 0x694d_0000_0000_0001,
    };
    let requests = [
        KvRequest::LeaseGrant { ttl_s: 10 },
        KvRequest::LeaseKeepAlive { lease: 5 },
        KvRequest::LeaseRevoke { lease: 5 },
        KvRequest::PutIfAbsent {
            key: "k".into(),
            value: 2,
            lease: 5,
        },
        KvRequest::Range {
            prefix: "é/".into(),
            max_create_revision: 6,
            order: RangeOrder::LastCreate,
        },
        KvRequest::Range {
            prefix: String::new(),
            max_create_revision: 0,
            order: RangeOrder::FirstCreate,
        },
        KvRequest::Watch {
            key: "k".into(),
            start_revision: 9,
        },
        KvRequest::CancelWatch { watch: 4 },
    ];
    let responses = [
        KvResponse::Granted {
            lease: 1,
            ttl_s: 2,
            revision: 3,
        },
        KvResponse::KeepAlive { lease: 1, ttl_s: 0 },
        KvResponse::Revoked {
            found: true,
            revision: 4,
        },
        KvResponse::Txn {
            succeeded: false,
            revision: 8,
            kv: Some(kv.clone()),
        },
        KvResponse::Range {
            revision: 8,
            count: 3,
            more: true,
            kv: None,
        },
        KvResponse::WatchCreated { revision: 8 },
        KvResponse::WatchCanceled,
        KvResponse::LeaseNotFound,
        KvResponse::Unavailable,
    ];
    let mut all: Vec<KvMessage> = requests
        .into_iter()
        .map(|request| KvMessage::Request { id: 5, request })
        .collect();
    all.extend(responses.into_iter().map(|response| KvMessage::Response {
        id: u64::MAX,
        response,
    }));
    for kind in [EventType::Put, EventType::Delete] {
        all.push(KvMessage::Event {
            watch: 12,
            revision: 9,
            kind,
            kv: kv.clone(),
        });
    }
    all
}

#[test]
fn every_message_round_trips_and_corrupt_frames_are_errors() {
    for msg in every_message() {
        let frame = encode(2, &msg);
        let len = frame_len(frame[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, frame.len() - 4);
        assert_eq!(decode(&frame[4..]).unwrap(), (2, msg.clone()));
        let body = &frame[4..];
        for cut in 0..body.len() {
            assert!(decode(&body[..cut]).is_err(), "{msg:?} cut at {cut}");
        }
        let mut long = body.to_vec();
        long.push(0);
        assert_eq!(decode(&long), Err(WireError::TrailingBytes(1)));
    }
    let mut bad = encode(1, &every_message()[0])[4..].to_vec();
    bad[4] = 9;
    assert_eq!(decode(&bad), Err(WireError::UnknownKind(9)));
    let mut text = encode(1, &every_message()[3])[4..].to_vec();
    text[18] = 0xff; // the first byte of the key
    assert_eq!(decode(&text), Err(WireError::NotText));
}
