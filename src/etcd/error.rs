//! What can go wrong with etcd: no usable binary, a bad `--etcd` URL, a member that does not come
//! up, or an answer from etcd that electune cannot read.

use std::path::PathBuf;
use std::time::Duration;

/// How to get an etcd, said by every error about a missing or unusable binary.
pub const INSTALL_HINT: &str = "install the Debian package etcd-server (`apt-get install \
etcd-server`, 3.4 or newer) or point electune at an etcd you run with `--etcd http://HOST:PORT`";

/// An etcd failure. [`EtcdError::exit_code`] says which exit code the CLI gives it.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No etcd binary where electune looked.
    #[error("no etcd server binary found (looked at {tried}); {hint}", hint = INSTALL_HINT)]
    Missing {
        /// Every place tried, in order, with why it did not do.
        tried: String,
    },
    /// An etcd binary older than 3.4 (or one whose version cannot be read).
    #[error("{} is etcd {found}, electune needs 3.4 or newer; {hint}", binary.display(), hint = INSTALL_HINT)]
    TooOld {
        binary: PathBuf,
        /// What `etcd --version` said (its first line).
        found: String,
    },
    /// A `--etcd` URL electune cannot use.
    #[error(
        "--etcd {url:?}: {reason} (expected http://HOST:PORT, for example http://127.0.0.1:2379)"
    )]
    BadUrl { url: String, reason: String },
    /// A lease name that cannot be part of a key.
    #[error("lease name {0:?}: use letters, digits, '-', '_' and '.' only")]
    BadLeaseName(String),
    /// A cluster size etcd cannot run or electune does not start.
    #[error("an etcd cluster of {0} members: electune starts 1, 3, 5 or 7")]
    BadSize(usize),
    /// A member process could not be started.
    #[error("cannot start etcd member {member} ({})", binary.display())]
    Spawn {
        member: String,
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A member did not answer `/health` with `true` in time.
    #[error("etcd member {member} was not healthy within {waited:?} ({last}); the end of its log {}:\n{tail}", log.display())]
    NotHealthy {
        member: String,
        waited: Duration,
        /// The last answer or error from its `/health`.
        last: String,
        log: PathBuf,
        tail: String,
    },
    /// A file or directory operation failed.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Creating or deleting the proxies in front of the members failed.
    #[error("the proxies in front of the etcd members")]
    Proxy(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// etcd answered something electune does not understand: a 4xx from the gateway (a request
    /// electune built wrong) or a body that is not the gateway's JSON.
    #[error("etcd at {endpoint} answered {what}")]
    Protocol { endpoint: String, what: String },
    /// An etcd that did not serve a clean-up request (refused, reset, 5xx, or silent).
    #[error("etcd at {endpoint} did not serve the request within {waited:?}")]
    Unreachable { endpoint: String, waited: Duration },
    /// What answers at a `--etcd` URL is not an etcd electune can use (nothing, another HTTP
    /// server, an etcd too old, or one without the v3 gateway).
    #[error("--etcd {url}: {what}")]
    NotEtcd { url: String, what: String },
    /// The `--etcd` URL accepted the connection but did not answer in time.
    #[error("--etcd {url}: no answer to {what} within {}", crate::duration::format_duration(*.waited))]
    Silent {
        url: String,
        what: &'static str,
        waited: Duration,
    },
    /// The value under the lease key is not a record electune wrote.
    #[error("the value of {key} is not an electune lease record: {reason}")]
    Record { key: String, reason: String },
}

impl EtcdError {
    /// The proxies in front of the members failed (creating, toggling or deleting them).
    pub fn proxy(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        EtcdError::Proxy(Box::new(cause))
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EtcdError {
        let what = what.into();
        move |source| EtcdError::Io { what, source }
    }

    /// The exit code the CLI ends with on this error (see [`crate::exit`]): bad input for a URL,
    /// lease name or cluster size the user gave; an environment failure for everything else,
    /// a missing or too old etcd included (docs/design.md, "Output layout and exit codes": 3 is "environment failure").
    pub fn exit_code(&self) -> i32 {
        match self {
            EtcdError::BadUrl { .. } | EtcdError::BadLeaseName(_) | EtcdError::BadSize(_) => {
                crate::exit::BAD_INPUT
            }
            _ => crate::exit::ENVIRONMENT,
        }
    }

    /// Whether this is the "no usable etcd" case (missing or too old), which the CLI reports
    /// with [`INSTALL_HINT`].
    pub fn is_missing_tool(&self) -> bool {
        matches!(self, EtcdError::Missing { .. } | EtcdError::TooOld { .. })
    }
}
