//! What can go wrong while running a cluster.

/// A harness failure. All of these are environment failures (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("toxiproxy at {url}")]
    Proxy {
        url: String,
        #[source]
        source: crate::toxiproxy::Error,
    },
    #[error("cannot start the built-in proxy")]
    BuiltinProxy(#[source] crate::proxy::Error),
    #[error("cannot start node {node} ({binary})")]
    Spawn {
        node: String,
        binary: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{count} line(s) from the nodes were not events (first: {first:?}); the timeline in {} keeps them", dir.display())]
    Unparsed {
        count: u64,
        first: String,
        dir: std::path::PathBuf,
    },
    #[error("no vote was exchanged within {0:?}; is the proxy forwarding traffic?")]
    NoLeader(std::time::Duration),
    /// The toxiproxy server stopped answering during a trial (see
    /// [`super::run_trial_keeping_partial`] for its partial timeline).
    #[error("{cut}; the trial in {} was stopped there and is incomplete", dir.display())]
    ProxyLost {
        cut: Box<super::CutShort>,
        dir: std::path::PathBuf,
        #[source]
        cause: std::sync::Arc<crate::toxiproxy::Error>,
    },
    #[error("the etcd lease store")]
    Etcd(#[from] Box<crate::etcd::EtcdError>),
}

impl HarnessError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
        let what = what.into();
        move |source| HarnessError::Io { what, source }
    }
}
