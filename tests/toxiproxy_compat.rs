//! Compatibility with an existing toxiproxy client: the crates.io `toxiproxy_rust` 0.1.6 (blocking)
//! drives the real `electune proxy` binary. Plus the CLI's busy-port exit code.

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
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_electune"))
        .args(["proxy", "--host", "127.0.0.1", "--port", &port.to_string()])
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
