//! Subcommand handlers. Library errors become exit codes here (anyhow only at this edge).

pub mod calibrate;
pub mod check;
pub mod compare;
pub mod node;
pub mod proxy;
pub mod report;
pub mod run;
pub mod sweep;

use electune::exit;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: exit::BAD_INPUT,
            error: error.into(),
        }
    }
    pub fn environment(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: exit::ENVIRONMENT,
            error: error.into(),
        }
    }
}

/// Whether `profile` runs a mechanism that keeps its election in a store (a lease, or etcd's
/// election recipe): what `--etcd` and an etcd store apply to.
fn any_mechanism_has_store(profile: &electune::profile::Profile) -> bool {
    use electune::profile::Protocol;
    let all = profile.cluster.protocol.all();
    all.contains(&Protocol::Lease) || all.contains(&Protocol::EtcdElection)
}

/// `--etcd URL`: the profile's store becomes the etcd the user runs (checked: a plain
/// `http://HOST:PORT`, and only for a profile with a lease or etcd's election).
pub fn use_etcd(
    profile: &mut electune::profile::Profile,
    url: Option<&str>,
) -> Result<(), Failure> {
    let Some(url) = url else {
        return Ok(());
    };
    electune::etcd::EtcdEndpoint::parse(url).map_err(Failure::bad_input)?;
    if !any_mechanism_has_store(profile) {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "--etcd: this profile runs {}, which keeps no election in a store; --etcd applies to \
             `protocol: lease` and `protocol: etcd-election`",
            profile.cluster.protocol.name()
        )));
    }
    profile.cluster.store = electune::profile::StoreSpec {
        kind: electune::profile::StoreKind::Etcd,
        members: 1,
        url: Some(url.to_string()),
    };
    Ok(())
}

/// Before anything starts on processes: a profile whose store is an etcd the harness must start
/// needs an etcd binary; without one, exit 3 with how to install it or where to point electune
/// instead.
pub fn require_etcd(profile: &electune::profile::Profile) -> Result<(), Failure> {
    let store = &profile.cluster.store;
    let needs = store.kind == electune::profile::StoreKind::Etcd
        && store.url.is_none()
        && any_mechanism_has_store(profile);
    if !needs {
        return Ok(());
    }
    electune::etcd::EtcdBinary::find()
        .map(|_| ())
        .map_err(|e| Failure {
            code: e.exit_code(),
            error: e.into(),
        })
}

/// A multi-threaded tokio runtime for the harness.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::environment)
}

/// A watch channel that turns true on the first Ctrl-C (SIGINT) or SIGTERM.
pub fn interrupt_on_signals() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let term_fut = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term_fut => {}
        }
        eprintln!("\ninterrupted: stopping every node and keeping what was measured");
        let _ = tx.send(true);
    });
    rx
}
