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

/// `electune sweep`: one mechanism's sweep ([`sweep::run`]), or, for a profile with several
/// mechanisms (or the directory of such a comparison given to `--resume`), their comparison
/// ([`compare::run`], which sweeps each mechanism with [`sweep::run`]).
pub fn sweep_or_compare(args: sweep::SweepArgs) -> Result<i32, Failure> {
    match &args.resume {
        Some(dir) if electune::sweep::compare::is_comparison_dir(dir) => {
            compare::resume(&args, dir)
        }
        Some(_) => sweep::run(args),
        None => {
            let comparison = args.profile.as_deref().is_some_and(|p| {
                electune::profile::load(p).is_ok_and(|p| p.cluster.protocol.is_comparison())
            });
            if !comparison {
                return sweep::run(args);
            }
            let (profile, path) = sweep::checked_profile(&args)?;
            compare::run(&args, &profile, &path)
        }
    }
}

/// Refuses (exit 2) an option given on the command line that acts only on real processes when
/// the trials run in the simulator, rather than ignoring it: `--etcd` (the simulator models the
/// store), `--toxiproxy` (it models the network) and `--time-scale` (virtual time needs no
/// speeding up).
pub fn refuse_process_options(
    backend: electune::backend::BackendKind,
    etcd: Option<&str>,
    toxiproxy: Option<&str>,
    time_scale: Option<f64>,
) -> Result<(), Failure> {
    if backend != electune::backend::BackendKind::Sim {
        return Ok(());
    }
    let (flag, why) = if etcd.is_some() {
        (
            "--etcd",
            "the simulator models the store (electune's model of etcd's key-value store, or of \
             the lease store) in virtual time, so there is no etcd to reach; --etcd applies to \
             processes, whose store is then the etcd you run",
        )
    } else if toxiproxy.is_some() {
        (
            "--toxiproxy",
            "the simulator models the network in virtual time and sends nothing through a proxy; \
             --toxiproxy applies to processes",
        )
    } else if time_scale.is_some() {
        (
            "--time-scale",
            "the simulator runs the profile's own durations in virtual time, which needs no \
             speeding up; --time-scale applies to processes",
        )
    } else {
        return Ok(());
    };
    Err(Failure::bad_input(anyhow::anyhow!(
        "{flag} does not apply to --backend sim: {why}. Leave out {flag}, or run on --backend process"
    )))
}

/// The toxiproxy server to use: `--toxiproxy URL`, else `TOXIPROXY_URL` from the environment
/// (read here rather than by clap, so that a variable set for every command is not taken for an
/// option given to a simulated one).
pub fn toxiproxy_url(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_string).or_else(|| {
        std::env::var("TOXIPROXY_URL")
            .ok()
            .filter(|u| !u.is_empty())
    })
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
/// instead. An etcd the user runs (`--etcd URL`, `store.url`) must answer as etcd within
/// [`electune::etcd::PROBE_TIMEOUT`]; otherwise exit 3 naming the URL and what answered.
pub fn require_etcd(profile: &electune::profile::Profile) -> Result<(), Failure> {
    let store = &profile.cluster.store;
    let uses_etcd =
        store.kind == electune::profile::StoreKind::Etcd && any_mechanism_has_store(profile);
    if !uses_etcd {
        return Ok(());
    }
    let to_failure = |e: electune::etcd::EtcdError| Failure {
        code: e.exit_code(),
        error: e.into(),
    };
    let Some(url) = &store.url else {
        return electune::etcd::EtcdBinary::find()
            .map(|_| ())
            .map_err(to_failure);
    };
    let endpoint = electune::etcd::EtcdEndpoint::parse(url).map_err(to_failure)?;
    // A runtime of its own on a thread of its own: callers may or may not be inside one.
    let probed = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!(e))
            .map(|rt| {
                rt.block_on(electune::etcd::probe(
                    &endpoint,
                    electune::etcd::PROBE_TIMEOUT,
                ))
            })
    })
    .join()
    .map_err(|_| Failure::environment(anyhow::anyhow!("the --etcd check stopped unexpectedly")))?
    .map_err(Failure::environment)?;
    probed.map(|_| ()).map_err(to_failure)
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
