//! Compatibility with an existing toxiproxy client: the crates.io `toxiproxy_rust` 0.1.6 (blocking)
//! drives the real `electune proxy` binary. Plus the CLI's busy-port exit code, and electune's own
//! client against a server with toxiproxy's rules (`electune proxy --strict`): whole milliseconds
//! only, so sub-millisecond links are approximated and reported.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use toxiproxy_rust::client::Client;
use toxiproxy_rust::proxy::ProxyPack;

/// Kills the child by its PID when dropped, even on panic.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_proxy() -> (ChildGuard, u16) {
    start_proxy_with(&[])
}

fn start_proxy_with(extra: &[&str]) -> (ChildGuard, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_electune"))
        .args(["proxy", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let guard = ChildGuard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "electune proxy did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (guard, port)
}

/// An upstream that echoes, on its own threads.
fn echo_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn round_trip(addr: &str) -> std::io::Result<Duration> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_nodelay(true)?;
    let t0 = Instant::now();
    s.write_all(b"ping")?;
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf)?;
    assert_eq!(&buf, b"ping");
    Ok(t0.elapsed())
}

/// Runs `f` on a plain thread (the blocking client must not run inside an async runtime) with a
/// time bound.
fn bounded<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("the test finished in time (or panicked: see above)")
}

#[test]
fn toxiproxy_rust_client_drives_electune_proxy() {
    let (_guard, port) = start_proxy();
    bounded(60, move || {
        let upstream = echo_server();
        let client = Client::new(("127.0.0.1", port));
        assert!(client.is_running());
        let version = client.version().unwrap();
        assert!(version.contains("version"), "{version}");

        let proxies = client
            .populate(vec![ProxyPack::new(
                "compat".into(),
                "127.0.0.1:0".into(),
                upstream.clone(),
            )])
            .unwrap();
        assert_eq!(proxies.len(), 1);
        let listen = proxies[0].proxy_pack.listen.clone();
        assert!(!listen.ends_with(":0"), "{listen}");
        assert!(round_trip(&listen).unwrap() < Duration::from_millis(40));

        let proxy = client.find_proxy("compat").unwrap();
        proxy.with_latency("downstream".into(), 50, 0, 1.0);
        let toxics = proxy.toxics().unwrap();
        assert_eq!(toxics.len(), 1);
        assert_eq!(toxics[0].name, "latency_downstream");
        assert_eq!(toxics[0].attributes["latency"], 50);
        let rtt = round_trip(&listen).unwrap();
        assert!(
            rtt >= Duration::from_millis(49) && rtt < Duration::from_millis(500),
            "{rtt:?}"
        );

        proxy.disable().unwrap();
        assert!(!client.find_proxy("compat").unwrap().proxy_pack.enabled);
        assert!(round_trip(&listen).is_err(), "a disabled proxy accepted");
        proxy.enable().unwrap();
        assert!(client.find_proxy("compat").unwrap().proxy_pack.enabled);
        assert!(round_trip(&listen).unwrap() >= Duration::from_millis(49));

        let all = client.all().unwrap();
        assert!(all.contains_key("compat"));

        proxy.disable().unwrap();
        client.reset().unwrap();
        let after = client.find_proxy("compat").unwrap();
        assert!(after.proxy_pack.enabled);
        assert!(after.toxics().unwrap().is_empty());
        assert!(round_trip(&listen).unwrap() < Duration::from_millis(40));

        let p = client.find_and_reset_proxy("compat").unwrap();
        p.delete().unwrap();
        assert!(client.find_proxy("compat").is_err());
    });
}

#[test]
fn busy_port_exits_with_code_3() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_electune"))
        .args(["proxy", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = guard.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "electune proxy did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    guard
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains(&port.to_string()), "{err}");
}

/// One HTTP/1.1 request on a fresh connection (the API closes it after answering when asked):
/// the status and the body.
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn strict_cli_answers_fractional_latency_as_toxiproxy_does() {
    let (_guard, port) = start_proxy_with(&["--strict"]);
    bounded(30, move || {
        let upstream = echo_server();
        let (s, b) = http(port, "GET", "/version", "");
        assert_eq!(s, 200, "{b}");
        assert!(!b.contains("capabilities"), "{b}");
        let p = format!(r#"{{"name":"s","listen":"127.0.0.1:0","upstream":"{upstream}"}}"#);
        let (s, b) = http(port, "POST", "/proxies", &p);
        assert_eq!(s, 201, "{b}");
        let (s, b) = http(
            port,
            "POST",
            "/proxies/s/toxics",
            r#"{"type":"latency","attributes":{"latency":0.2}}"#,
        );
        assert_eq!(s, 400, "{b}");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "error": "bad request body: json: cannot unmarshal number 0.2 into Go struct \
                          field LatencyToxic.attributes.latency of type int64",
                "status": 400
            })
        );
        let (s, b) = http(
            port,
            "POST",
            "/proxies/s/toxics",
            r#"{"type":"latency","attributes":{"latency":2,"jitter":1}}"#,
        );
        assert_eq!(s, 200, "{b}");
    });
}

#[test]
fn network_setup_sends_whole_ms_to_a_server_without_the_capability() {
    use electune::harness::{LatencyMs, ToxiproxyServer};
    use electune::proxy::Compat;
    use electune::toxiproxy::{NewProxy, ToxicAttributes};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            for compat in [Compat::Strict, Compat::Extended] {
                let server = electune::proxy::spawn_local_with(compat).await.unwrap();
                let net = ToxiproxyServer::connect_or_start(Some(&server.url()))
                    .await
                    .unwrap();
                assert_eq!(net.takes_fractional_ms(), compat == Compat::Extended);
                net.create(&[NewProxy::new("l", "127.0.0.1:0", "127.0.0.1:1")])
                    .await
                    .unwrap();
                let asked = ToxicAttributes::Latency {
                    latency: 0.3,
                    jitter: 0.1,
                };
                let a = net.add_toxic("l", "baseline", asked.clone()).await.unwrap();
                let toxic = net.client.toxic("l", "baseline").await.unwrap();
                if compat == Compat::Strict {
                    let a = a.expect("the sub-ms latency is reported as approximated");
                    assert_eq!((a.link.as_str(), a.toxic.as_str()), ("l", "baseline"));
                    assert!((a.asked.latency_ms - 0.3).abs() < 1e-9, "{a:?}");
                    assert!((a.asked.jitter_ms - 0.1).abs() < 1e-9, "{a:?}");
                    let sent = LatencyMs {
                        latency_ms: 0.0,
                        jitter_ms: 1.0,
                    };
                    assert_eq!(a.applied, sent);
                    assert_eq!(
                        toxic.attributes,
                        ToxicAttributes::Latency {
                            latency: 0.0,
                            jitter: 1.0
                        }
                    );
                    assert_eq!(net.approximations(), vec![a.clone()]);
                    assert!(a.to_string().contains("0 ms ± 1 ms"), "{a}");
                    // Whole milliseconds go as asked, with nothing to report.
                    let whole = ToxicAttributes::Latency {
                        latency: 40.0,
                        jitter: 2.0,
                    };
                    assert_eq!(net.add_toxic("l", "whole", whole).await.unwrap(), None);
                } else {
                    assert_eq!(a, None);
                    assert_eq!(toxic.attributes, asked);
                    assert!(net.approximations().is_empty());
                }
                drop(net);
                server.shutdown().await;
            }
        })
        .await
        .expect("the test finished in time");
    });
}

/// `electune run` of the lan profile (0.2 ms ± 0.05 ms links) through `electune proxy --strict`:
/// the run succeeds, prints the approximation and saves it in network.json.
#[test]
fn run_through_a_strict_toxiproxy_reports_approximated_links() {
    let (_guard, port) = start_proxy_with(&["--strict"]);
    let out = std::env::temp_dir().join(format!("electune-test-strict-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/lan.yaml");
    let run = Command::new(env!("CARGO_BIN_EXE_electune"))
        .args(["run", profile, "--duration", "2s", "--no-profile-faults"])
        .arg("--toxiproxy")
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = run.id();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut run = ChildGuard(run);
    let status = loop {
        if let Some(s) = run.0.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            // SIGINT lets the run stop its node processes before the guard kills it.
            // SAFETY: signalling the child we started, by its PID.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            std::thread::sleep(Duration::from_secs(5));
            panic!("electune run did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    run.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    run.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("approximated latencies (9 link(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("asked latency 0.2 ms ± 0.05 ms, sent 0 ms ± 1 ms"),
        "{stdout}"
    );
    let network: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("network.json")).unwrap()).unwrap();
    assert_eq!(network["builtin"], false);
    let approximations = network["approximations"].as_array().unwrap();
    assert_eq!(approximations.len(), 9, "{network}");
    assert_eq!(
        approximations[0]["applied"],
        serde_json::json!({"latency_ms": 0.0, "jitter_ms": 1.0})
    );
    // The run left the shared server as it found it.
    let (_, proxies) = http(port, "GET", "/proxies", "");
    assert_eq!(proxies.trim(), "{}");
    let _ = std::fs::remove_dir_all(&out);
}

/// A shared toxiproxy is left as found: connecting removes only the proxies of electune runs on
/// this host whose process is gone; live runs', other hosts' and other users' proxies stay.
#[test]
fn connecting_removes_only_proxies_of_dead_runs_on_this_host() {
    use electune::harness::ToxiproxyServer;
    use electune::toxiproxy::NewProxy;
    // A PID that is certainly gone: a child we started, waited for and reaped.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            let server = electune::proxy::spawn_local().await.unwrap();
            let first = ToxiproxyServer::connect_or_start(Some(&server.url()))
                .await
                .unwrap();
            assert!(first.removed_stale().is_empty());
            let own = first.run_prefix().to_owned();
            let host_part = own
                .strip_suffix(&format!("-{}_", std::process::id()))
                .expect("the prefix ends with this process's PID")
                .to_owned();
            let stale = format!("{host_part}-{dead}_n1_to_n2");
            let names = [
                stale.clone(),
                format!("{own}n1_to_n2"),
                format!("electune-some-other-host-{dead}_n1_to_n2"),
                format!("{host_part}-1_n1_to_n2"),
                "redis_master".to_owned(),
            ];
            for n in &names {
                first
                    .client
                    .create_proxy(&NewProxy::new(n.clone(), "127.0.0.1:0", "127.0.0.1:1"))
                    .await
                    .unwrap();
            }
            let second = ToxiproxyServer::connect_or_start(Some(&server.url()))
                .await
                .unwrap();
            assert_eq!(second.removed_stale(), std::slice::from_ref(&stale));
            let left: Vec<String> = second
                .client
                .proxies()
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect();
            let mut want: Vec<String> = names[1..].to_vec();
            want.sort();
            assert_eq!(left, want);
            drop((first, second));
            server.shutdown().await;
        })
        .await
        .expect("the test finished in time");
    });
}

/// An `electune` command running as a child process, its output read on threads of their own
/// (node processes share its stderr, so a full pipe must never stall them).
struct Running {
    child: ChildGuard,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Running {
    fn start(args: &[&std::ffi::OsStr]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_electune"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let drain = |mut pipe: Box<dyn Read + Send>| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                let _ = tx.send(text);
            });
            rx
        };
        let stdout = drain(Box::new(child.stdout.take().unwrap()));
        let stderr = drain(Box::new(child.stderr.take().unwrap()));
        Running {
            child: ChildGuard(child),
            stdout,
            stderr,
        }
    }

    /// Panics (after SIGINT, which lets electune stop its node processes before the guard kills
    /// it by its PID) when the command has ended or `deadline` has passed.
    fn check(&mut self, deadline: Instant, what: &str) {
        if let Some(s) = self.child.0.try_wait().unwrap() {
            panic!("electune ended ({s}) before {what}");
        }
        if Instant::now() > deadline {
            // SAFETY: signalling the child we started, by its PID.
            unsafe { libc::kill(self.child.0.id() as libc::pid_t, libc::SIGINT) };
            std::thread::sleep(Duration::from_secs(5));
            panic!("{what} did not happen in time");
        }
    }

    /// Waits (bounded) until the command ends: its exit code, stdout and stderr.
    fn wait(mut self, secs: u64) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(s) = self.child.0.try_wait().unwrap() {
                break s;
            }
            self.check(deadline, "the end of electune");
            std::thread::sleep(Duration::from_millis(50));
        };
        let text = |rx: &std::sync::mpsc::Receiver<String>| {
            rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default()
        };
        (status.code(), text(&self.stdout), text(&self.stderr))
    }
}

/// Whether a timeline on disk has a leader on it.
fn has_leader(events: &std::path::Path) -> bool {
    std::fs::read_to_string(events).is_ok_and(|t| t.contains(r#""ev":"leader""#))
}

/// No process the command started (every node's command line names its directory under `dir`)
/// is alive, and every node PID on the timelines below `dir` is gone.
fn all_gone(dir: &std::path::Path) {
    let left = common::processes_mentioning(dir);
    assert!(left.is_empty(), "processes outlived electune: {left:?}");
    let pids = common::node_pids(dir);
    assert!(!pids.is_empty(), "no node started under {}", dir.display());
    for pid in pids {
        assert!(
            common::pid_gone(pid),
            "node process {pid} outlived electune"
        );
    }
}

/// `electune run` through an external toxiproxy (`electune proxy`, its own process) that is killed
/// mid-run: the run stops every node, analyses what it measured until the toxiproxy's last
/// answer, writes metrics.json and the summary, says on stderr that the toxiproxy at its URL
/// stopped answering and the run ended early, and exits 3.
#[test]
fn run_whose_toxiproxy_dies_mid_run_writes_what_it_measured() {
    let (mut proxy, port) = start_proxy();
    let url = format!("http://127.0.0.1:{port}");
    let out = std::env::temp_dir().join(format!("electune-test-proxy-dies-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/lan.yaml");
    let asked = 10.0;
    let mut run = Running::start(&[
        "run".as_ref(),
        profile.as_ref(),
        "--duration".as_ref(),
        "10s".as_ref(),
        "--toxiproxy".as_ref(),
        url.as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    // Two seconds into the measured window (the first leader is on the timeline), the toxiproxy
    // process is killed by its PID.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !has_leader(&out.join("events.jsonl")) {
        run.check(deadline, "a first leader");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(2));
    proxy.0.kill().unwrap();
    proxy.0.wait().unwrap();

    let (code, stdout, stderr) = run.wait(90);
    all_gone(&out);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(stderr.contains(&url), "{stderr}");
    assert!(stderr.contains("stopped answering"), "{stderr}");
    assert!(stderr.contains("ended early"), "{stderr}");
    // The summary is printed, and metrics.json covers the window until the toxiproxy's death.
    assert!(stdout.contains("failover (t3-t0)"), "{stdout}\n{stderr}");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let observed = metrics["summary"]["exposure_hours"].as_f64().unwrap() * 3600.0;
    assert!(
        observed > 1.0 && observed < asked - 2.0,
        "observed {observed} s of {asked} s\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Files below `dir` whose name ends with `suffix` (`.json` trial results, say).
fn files_ending(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut found = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// `electune sweep` through an external toxiproxy killed during its second trial: the finished
/// trial is kept and the one cut short is not saved (a partial trial does not measure its point),
/// the sweep exits 3 saying how to resume, and that resume, through a new toxiproxy, runs the
/// rest.
#[test]
fn sweep_whose_toxiproxy_dies_keeps_finished_trials_and_resumes() {
    let (mut proxy, port) = start_proxy();
    let url = format!("http://127.0.0.1:{port}");
    let out = std::env::temp_dir().join(format!(
        "electune-test-sweep-proxy-dies-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&out);
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/lan.yaml");
    // Two points of one trial each (two crashes of the leader, every 2 s).
    let mut sweep = Running::start(&[
        "sweep".as_ref(),
        "--evidence-time".as_ref(),
        "0s".as_ref(),
        profile.as_ref(),
        "--processes".as_ref(),
        "all".as_ref(),
        "--heartbeat".as_ref(),
        "25ms,30ms".as_ref(),
        "--election-timeout".as_ref(),
        "150ms..300ms".as_ref(),
        "--failovers".as_ref(),
        "2".as_ref(),
        "--parallel".as_ref(),
        "1".as_ref(),
        "--quiet".as_ref(),
        "--toxiproxy".as_ref(),
        url.as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let rows = |out: &std::path::Path| {
        std::fs::read_to_string(out.join("trials.csv")).map_or(0, |t| t.lines().count().max(1) - 1)
    };
    // The first trial is saved and the second has its first leader: the toxiproxy is killed.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let started = files_ending(&out, "events.jsonl");
        if rows(&out) == 1 && started.len() == 2 && started.iter().all(|t| has_leader(t)) {
            break;
        }
        sweep.check(deadline, "the second trial's first leader");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    proxy.0.kill().unwrap();
    proxy.0.wait().unwrap();

    let (code, stdout, stderr) = sweep.wait(60);
    all_gone(&out);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(stderr.contains("stopped answering"), "{stderr}");
    let resume = format!(
        "electune sweep --resume {} --toxiproxy {url}",
        out.display()
    );
    assert!(stderr.contains(&resume), "{stderr}");
    assert_eq!(rows(&out), 1, "the trial cut short was saved\n{stderr}");
    assert_eq!(files_ending(&out, "/trial-0.json").len(), 1, "{stderr}");

    // Resumed through another toxiproxy, the sweep runs the trial that was cut short, only.
    let (_proxy, port) = start_proxy();
    let url = format!("http://127.0.0.1:{port}");
    let resumed = Running::start(&[
        "sweep".as_ref(),
        "--evidence-time".as_ref(),
        "0s".as_ref(),
        "--resume".as_ref(),
        out.as_os_str(),
        "--quiet".as_ref(),
        "--json".as_ref(),
        "--toxiproxy".as_ref(),
        url.as_ref(),
    ]);
    let (code, stdout, stderr) = resumed.wait(120);
    all_gone(&out);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["trials_run"], 1, "{stdout}");
    assert_eq!(summary["points"], 2, "{stdout}");
    assert_eq!(rows(&out), 2, "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}
