//! Keys below a per-trial prefix, so that trials sharing one etcd (an etcd the user runs, or one
//! etcd kept across a test's runs) never see each other's election keys. It does what clientv3's
//! `namespace` package does for an application (`client/v3/namespace/kv.go`: `kvPrefix.prefixOp`
//! and `prefixInterval` on the way out, `unprefixGetResponse` / `unprefixTxnResponse` on the way
//! back; `watch.go`: `watcherPrefix.Watch` strips event keys): the election core keeps its own
//! prefix and never learns of this one.

use crate::store::kv::{KeyValue, KvMessage, KvRequest, KvResponse};

/// A key prefix every request's keys get in etcd, and every answer's keys lose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// Keys go below `prefix` (empty: as they are).
    pub fn new(prefix: &str) -> Self {
        Self(prefix.to_owned())
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.0
    }

    /// `request` with its keys below the namespace (a prefix range stays a prefix range:
    /// `prefixInterval`).
    pub fn request(&self, request: &KvRequest) -> KvRequest {
        let mut r = request.clone();
        match &mut r {
            KvRequest::PutIfAbsent { key, .. } | KvRequest::Watch { key, .. } => {
                key.insert_str(0, &self.0)
            }
            KvRequest::Range { prefix, .. } => prefix.insert_str(0, &self.0),
            KvRequest::LeaseGrant { .. }
            | KvRequest::LeaseKeepAlive { .. }
            | KvRequest::LeaseRevoke { .. }
            | KvRequest::CancelWatch { .. } => {}
        }
        r
    }

    /// `response` with the namespace taken off its key.
    pub fn response(&self, mut response: KvResponse) -> KvResponse {
        if let KvResponse::Txn { kv: Some(kv), .. } | KvResponse::Range { kv: Some(kv), .. } =
            &mut response
        {
            self.strip(kv);
        }
        response
    }

    /// A pushed message with the namespace taken off its key.
    pub fn message(&self, mut message: KvMessage) -> KvMessage {
        match &mut message {
            KvMessage::Event { kv, .. } => self.strip(kv),
            KvMessage::Response { response, .. } => {
                *response = self.response(response.clone());
            }
            KvMessage::Request { .. } => {}
        }
        message
    }

    /// Only keys below the namespace come back (every request names one), so the prefix is
    /// always there to take off.
    fn strip(&self, kv: &mut KeyValue) {
        if let Some(rest) = kv.key.strip_prefix(self.0.as_str()) {
            kv.key = rest.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv::{EventType, RangeOrder};

    fn kv(key: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: 1,
            create_revision: 2,
            mod_revision: 2,
            lease: 7,
        }
    }

    #[test]
    fn keys_go_below_the_namespace_and_come_back_without_it() {
        let ns = Namespace::new("trial-3/");
        let put = KvRequest::PutIfAbsent {
            key: "e/a".into(),
            value: 1,
            lease: 7,
        };
        assert!(
            matches!(ns.request(&put), KvRequest::PutIfAbsent { key, .. } if key == "trial-3/e/a")
        );
        let range = KvRequest::Range {
            prefix: "e/".into(),
            max_create_revision: 4,
            order: RangeOrder::LastCreate,
        };
        assert!(
            matches!(ns.request(&range), KvRequest::Range { prefix, .. } if prefix == "trial-3/e/")
        );
        let keep = KvRequest::LeaseKeepAlive { lease: 7 };
        assert_eq!(ns.request(&keep), keep);
        let answer = KvResponse::Range {
            revision: 9,
            count: 2,
            more: false,
            kv: Some(kv("trial-3/e/a")),
        };
        assert!(
            matches!(ns.response(answer), KvResponse::Range { kv: Some(k), .. } if k.key == "e/a")
        );
        let event = KvMessage::Event {
            watch: 5,
            revision: 9,
            kind: EventType::Delete,
            kv: kv("trial-3/e/a"),
        };
        assert!(matches!(ns.message(event), KvMessage::Event { kv, .. } if kv.key == "e/a"));
        assert_eq!(Namespace::default().request(&put), put);
    }
}
