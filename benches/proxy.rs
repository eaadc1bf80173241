//! Proxy overhead: 64-byte ping-pong round trips directly on loopback versus through one proxy
//! with no toxics, and bulk throughput through a proxy. Run with `cargo bench --bench proxy`.
//!
//! Client and echo server are plain blocking threads; the proxy runs in a 2-worker tokio runtime,
//! as in production.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use electune::toxiproxy::{Client, NewProxy};

const ROUND_TRIPS: usize = 20_000;
const WARMUP: usize = 2_000;
const BULK: usize = 2 * 1024 * 1024 * 1024;

fn echo_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            s.set_nodelay(true).unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while s.read_exact(&mut buf).is_ok() {
                    if s.write_all(&buf).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn sink_server() -> (String, std::sync::mpsc::Receiver<(usize, Instant)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        let _ = tx.send((total, Instant::now()));
    });
    (addr, rx)
}

/// Round-trip times in microseconds, sorted.
fn ping_pong(addr: &str) -> Vec<f64> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let msg = [7u8; 64];
    let mut buf = [0u8; 64];
    let mut rtts = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..WARMUP + ROUND_TRIPS {
        let t0 = Instant::now();
        s.write_all(&msg).unwrap();
        s.read_exact(&mut buf).unwrap();
        if i >= WARMUP {
            rtts.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    rtts.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rtts
}

fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(electune::proxy::spawn_local()).unwrap();
    let client = Client::new(&server.url()).unwrap();
    let echo = echo_server();
    let (sink, done) = sink_server();
    let (pp, bulk) = rt.block_on(async {
        let pp = client
            .create_proxy(&NewProxy::new("pingpong", "127.0.0.1:0", echo.clone()))
            .await
            .unwrap();
        let bulk = client
            .create_proxy(&NewProxy::new("bulk", "127.0.0.1:0", sink))
            .await
            .unwrap();
        (pp.listen, bulk.listen)
    });

    let direct = ping_pong(&echo);
    let proxied = ping_pong(&pp);
    let (d50, d99) = (pct(&direct, 0.5), pct(&direct, 0.99));
    let (p50, p99) = (pct(&proxied, 0.5), pct(&proxied, 0.99));
    println!("64-byte ping-pong, {ROUND_TRIPS} round trips (µs):");
    println!("  direct       p50 {d50:7.1}  p99 {d99:7.1}");
    println!("  via 1 proxy  p50 {p50:7.1}  p99 {p99:7.1}");
    println!(
        "  added per round trip   p50 {:6.1}  p99 {:6.1}",
        p50 - d50,
        p99 - d99
    );
    println!(
        "  added per hop (one proxy traversal, half a round trip)   p50 {:6.1}  p99 {:6.1}",
        (p50 - d50) / 2.0,
        (p99 - d99) / 2.0
    );

    let mut s = TcpStream::connect(&bulk).unwrap();
    let buf = vec![1u8; 1024 * 1024];
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < BULK {
        s.write_all(&buf).unwrap();
        sent += buf.len();
    }
    drop(s);
    let (received, end) = done.recv_timeout(Duration::from_secs(120)).unwrap();
    assert_eq!(received, sent);
    let secs = end.duration_since(t0).as_secs_f64();
    println!(
        "bulk throughput through 1 proxy: {} MiB in {secs:.2} s = {:.0} MB/s",
        sent >> 20,
        sent as f64 / secs / 1e6
    );
    rt.block_on(server.shutdown());
}
