//! The data plane: integrity under toxic churn, latency precision and no accumulation, and the
//! semantics of timeout, reset_peer, enabled=false, limit_data, bandwidth, slow_close, toxicity.
//! Loopback only; every test bounded in time; time measurements use generous bounds.

use std::time::{Duration, Instant};

use electune::proxy::RunningProxy;
use electune::toxiproxy::{
    Client, NewProxy, ProxyUpdate, Stream, Toxic, ToxicAttributes, ToxicUpdate,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn setup(name: &str) -> (RunningProxy, Client, TcpListener, String) {
    let server = electune::proxy::spawn_local().await.unwrap();
    let client = Client::new(&server.url()).unwrap();
    let up = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = client
        .create_proxy(&NewProxy::new(
            name,
            "127.0.0.1:0",
            up.local_addr().unwrap().to_string(),
        ))
        .await
        .unwrap();
    (server, client, up, p.listen)
}

/// Connects through the proxy and returns (client side, upstream side).
async fn pair(up: &TcpListener, listen: &str) -> (TcpStream, TcpStream) {
    let c = TcpStream::connect(listen).await.unwrap();
    c.set_nodelay(true).unwrap();
    let (s, _) = up.accept().await.unwrap();
    s.set_nodelay(true).unwrap();
    (c, s)
}

async fn bounded<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("the test finished in time")
}

/// Sends `len` pseudo-random bytes in random-sized writes; returns their hash and the writer
/// (dropping it would close the connection, in both directions, as toxiproxy does).
async fn send_stream<W: AsyncWriteExt + Unpin>(mut w: W, len: usize, seed: u64) -> (Vec<u8>, W) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let n = rng.gen_range(1..=buf.len()).min(left);
        rng.fill_bytes(&mut buf[..n]);
        h.update(&buf[..n]);
        w.write_all(&buf[..n]).await.unwrap();
        left -= n;
    }
    (h.finalize().to_vec(), w)
}

/// Reads exactly `len` bytes; returns their hash.
async fn recv_stream(mut r: impl AsyncReadExt + Unpin, len: usize) -> Vec<u8> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 128 * 1024];
    let mut left = len;
    while left > 0 {
        let want = left.min(buf.len());
        let n = r.read(&mut buf[..want]).await.unwrap();
        assert!(n > 0, "stream ended with {left} bytes missing");
        h.update(&buf[..n]);
        left -= n;
    }
    h.finalize().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrity_under_toxic_churn_both_directions() {
    bounded(120, async {
        let (server, client, up, listen) = setup("churn").await;
        let (c, s) = pair(&up, &listen).await;
        const LEN: usize = 64 * 1024 * 1024;
        let (cr, cw) = c.into_split();
        let (sr, sw) = s.into_split();
        let a_sent = tokio::spawn(send_stream(cw, LEN, 1));
        let b_sent = tokio::spawn(send_stream(sw, LEN, 2));
        let a_recv = tokio::spawn(recv_stream(sr, LEN));
        let b_recv = tokio::spawn(recv_stream(cr, LEN));

        // Churn: add, update and remove toxics of every non-closing kind every few milliseconds.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let client = client.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut rng = ChaCha8Rng::seed_from_u64(3);
                let mut changes = 0u32;
                let stop = Instant::now() + Duration::from_secs(60);
                while Instant::now() < stop && !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let stream = if rng.gen_bool(0.5) {
                        Stream::Upstream
                    } else {
                        Stream::Downstream
                    };
                    let attrs = match rng.gen_range(0..4) {
                        0 => ToxicAttributes::Latency {
                            latency: rng.gen_range(0.0..3.0),
                            jitter: rng.gen_range(0.0..1.0),
                        },
                        1 => ToxicAttributes::Bandwidth {
                            rate: rng.gen_range(50_000..200_000),
                        },
                        2 => ToxicAttributes::Slicer {
                            average_size: 4096,
                            size_variation: 1024,
                            delay: 10,
                        },
                        _ => ToxicAttributes::Timeout { timeout: 0 },
                    };
                    let name = format!("{}_{}", attrs.toxic_type(), stream);
                    let held = matches!(attrs, ToxicAttributes::Timeout { .. });
                    if client
                        .create_toxic("churn", &Toxic::new(name.clone(), stream, attrs.clone()))
                        .await
                        .is_ok()
                    {
                        changes += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(rng.gen_range(1..4))).await;
                    if !held {
                        let update = ToxicUpdate {
                            toxicity: Some(rng.gen_range(0.0..=1.0)),
                            attributes: Some(attrs),
                        };
                        client.update_toxic("churn", &name, &update).await.unwrap();
                        changes += 1;
                        tokio::time::sleep(Duration::from_millis(rng.gen_range(1..4))).await;
                    }
                    client.delete_toxic("churn", &name).await.unwrap();
                    changes += 1;
                    if rng.gen_bool(0.1) {
                        client.reset().await.unwrap();
                    }
                }
                changes
            })
        };
        let (a_hash, _cw) = a_sent.await.unwrap();
        let (b_hash, _sw) = b_sent.await.unwrap();
        let a = (a_hash, a_recv.await.unwrap());
        let b = (b_hash, b_recv.await.unwrap());
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let changes = churn.await.unwrap();
        assert!(
            changes >= 20,
            "only {changes} toxic changes during the transfer"
        );
        assert_eq!(a.0, a.1, "client → upstream bytes differ");
        assert_eq!(b.0, b.1, "upstream → client bytes differ");
        let toxics = client.toxics("churn").await.unwrap();
        eprintln!(
            "integrity: 2 × {LEN} bytes intact through {changes} toxic changes; toxics left: {}",
            toxics.len()
        );
        server.shutdown().await;
    })
    .await;
}

/// One-way delays (ms) of `n` 16-byte messages sent `gap` apart through the proxy upstream.
async fn one_way_delays(up: &TcpListener, listen: &str, n: usize, gap: Duration) -> Vec<f64> {
    let (c, s) = pair(up, listen).await;
    let (_cr, mut cw) = c.into_split();
    let (mut sr, _sw) = s.into_split();
    let base = Instant::now();
    let receiver = tokio::spawn(async move {
        let mut arrivals = Vec::with_capacity(n);
        let mut msg = [0u8; 16];
        for _ in 0..n {
            sr.read_exact(&mut msg).await.unwrap();
            let at = base.elapsed().as_nanos() as u64;
            let sent = u64::from_le_bytes(msg[..8].try_into().unwrap());
            arrivals.push((at - sent) as f64 / 1e6);
        }
        arrivals
    });
    let mut next = Instant::now();
    for i in 0..n {
        // std sleep: sends are placed precisely, independent of the runtime's timer
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        let mut msg = [0u8; 16];
        msg[..8].copy_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes());
        msg[8..].copy_from_slice(&(i as u64).to_le_bytes());
        cw.write_all(&msg).await.unwrap();
        next += gap;
    }
    receiver.await.unwrap()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    s[s.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_precise_and_does_not_accumulate() {
    bounded(60, async {
        let (server, client, up, listen) = setup("lat").await;

        // Precision: a 15 ms toxic measures 15 ms.
        client
            .create_toxic("lat", &Toxic::latency("l", Stream::Upstream, 15.0, 0.0))
            .await
            .unwrap();
        let d = one_way_delays(&up, &listen, 60, Duration::from_millis(7)).await;
        let m = median(&d);
        let max = d.iter().cloned().fold(0.0, f64::max);
        eprintln!(
            "latency 15 ms: median {m:.3} ms, min {:.3}, max {max:.3}",
            d.iter().cloned().fold(f64::MAX, f64::min)
        );
        assert!(
            (m - 15.0).abs() <= 0.7,
            "median {m} ms for a 15 ms toxic: {d:?}"
        );
        assert!(d.iter().all(|&x| x >= 14.9), "{d:?}");

        // No accumulation: ten messages 5 ms apart through 50 ms each arrive about 50 ms later.
        client
            .update_toxic(
                "lat",
                "l",
                &ToxicUpdate {
                    toxicity: None,
                    attributes: Some(ToxicAttributes::Latency {
                        latency: 50.0,
                        jitter: 0.0,
                    }),
                },
            )
            .await
            .unwrap();
        let d = one_way_delays(&up, &listen, 10, Duration::from_millis(5)).await;
        eprintln!("latency 50 ms, 10 messages 5 ms apart: {d:.2?}");
        // Accumulation would put message k at 50 + 45·k ms; scheduling noise on a shared machine
        // can delay one message by a few ms, never by 45.
        for x in &d {
            assert!((49.9..75.0).contains(x), "{d:?}");
        }
        let m = median(&d);
        assert!((49.9..53.0).contains(&m), "median {m}: {d:?}");

        // Jitter: uniform in latency ± jitter.
        client
            .update_toxic(
                "lat",
                "l",
                &ToxicUpdate {
                    toxicity: None,
                    attributes: Some(ToxicAttributes::Latency {
                        latency: 20.0,
                        jitter: 5.0,
                    }),
                },
            )
            .await
            .unwrap();
        // 12 ms apart: more than the 10 ms jitter spread, so no message waits for the previous.
        let d = one_way_delays(&up, &listen, 150, Duration::from_millis(12)).await;
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let low = d.iter().filter(|&&x| x < 18.0).count();
        let high = d.iter().filter(|&&x| x > 22.0).count();
        eprintln!(
            "latency 20 ± 5 ms: mean {mean:.2}, median {:.2}, below 18: {low}, above 22: {high}",
            median(&d)
        );
        // Never early; late only by scheduling noise (at most a few outliers on a busy machine).
        assert!(d.iter().all(|&x| x >= 14.9), "{d:?}");
        let outside = d.iter().filter(|&&x| x > 26.0).count();
        assert!(outside <= d.len() / 20, "{outside} late outliers: {d:?}");
        assert!((mean - 20.0).abs() < 1.5, "mean {mean}");
        assert!(low > 20 && high > 20, "not spread: {low} {high}");

        // Sub-millisecond latency (electune extension).
        client
            .update_toxic(
                "lat",
                "l",
                &ToxicUpdate {
                    toxicity: None,
                    attributes: Some(ToxicAttributes::Latency {
                        latency: 2.5,
                        jitter: 0.0,
                    }),
                },
            )
            .await
            .unwrap();
        let d = one_way_delays(&up, &listen, 40, Duration::from_millis(4)).await;
        let m = median(&d);
        eprintln!("latency 2.5 ms: median {m:.3} ms");
        assert!((m - 2.5).abs() <= 0.7, "{d:?}");

        // Toxicity 0: the toxic never applies.
        client
            .update_toxic(
                "lat",
                "l",
                &ToxicUpdate {
                    toxicity: Some(0.0),
                    attributes: Some(ToxicAttributes::Latency {
                        latency: 200.0,
                        jitter: 0.0,
                    }),
                },
            )
            .await
            .unwrap();
        let d = one_way_delays(&up, &listen, 5, Duration::from_millis(2)).await;
        assert!(d.iter().all(|&x| x < 20.0), "{d:?}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_holds_then_closes() {
    bounded(30, async {
        let (server, client, up, listen) = setup("to").await;
        let (mut c, mut s) = pair(&up, &listen).await;
        client
            .create_toxic(
                "to",
                &Toxic::new(
                    "hold",
                    Stream::Upstream,
                    ToxicAttributes::Timeout { timeout: 0 },
                ),
            )
            .await
            .unwrap();
        c.write_all(b"held").await.unwrap();
        let mut buf = [0u8; 4];
        assert!(
            tokio::time::timeout(Duration::from_millis(300), s.read_exact(&mut buf))
                .await
                .is_err(),
            "data passed a timeout toxic"
        );
        // removing it lets the held bytes through, none lost
        client.delete_toxic("to", "hold").await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"held");

        // timeout > 0 closes the connection after the timeout
        client
            .create_toxic(
                "to",
                &Toxic::new(
                    "close",
                    Stream::Downstream,
                    ToxicAttributes::Timeout { timeout: 200 },
                ),
            )
            .await
            .unwrap();
        let t0 = Instant::now();
        let mut b = [0u8; 1];
        let r = c.read(&mut b).await;
        let took = t0.elapsed();
        assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_secs(3),
            "{took:?}"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_peer_resets_the_client() {
    bounded(30, async {
        let (server, client, up, listen) = setup("rp").await;
        let (mut c, _s) = pair(&up, &listen).await;
        client
            .create_toxic(
                "rp",
                &Toxic::new(
                    "rst",
                    Stream::Upstream,
                    ToxicAttributes::ResetPeer { timeout: 0 },
                ),
            )
            .await
            .unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut b = [0u8; 8];
        let r = c.read(&mut b).await;
        match r {
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
            Ok(n) => panic!("expected a connection reset, read {n} bytes"),
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_proxy_refuses_and_closes() {
    bounded(30, async {
        let (server, client, up, listen) = setup("dis").await;
        let (mut c, mut s) = pair(&up, &listen).await;
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();

        client
            .update_proxy("dis", &ProxyUpdate::enabled(false))
            .await
            .unwrap();
        let mut b = [0u8; 1];
        let r = tokio::time::timeout(Duration::from_secs(2), c.read(&mut b))
            .await
            .expect("the old connection was closed");
        assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
        let r = tokio::time::timeout(Duration::from_secs(2), s.read(&mut b))
            .await
            .expect("the upstream side was closed");
        assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
        let e = TcpStream::connect(&listen).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);

        client
            .update_proxy("dis", &ProxyUpdate::enabled(true))
            .await
            .unwrap();
        let (mut c, mut s) = pair(&up, &listen).await;
        c.write_all(b"pong").await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_data_bandwidth_slow_close() {
    bounded(30, async {
        let (server, client, up, listen) = setup("lim").await;

        // limit_data: exactly N bytes, then closed
        client
            .create_toxic(
                "lim",
                &Toxic::new(
                    "lim",
                    Stream::Downstream,
                    ToxicAttributes::LimitData { bytes: 100 },
                ),
            )
            .await
            .unwrap();
        let (mut c, mut s) = pair(&up, &listen).await;
        s.write_all(&[7u8; 1000]).await.unwrap();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got).await;
        assert_eq!(got, vec![7u8; 100]);
        client.delete_toxic("lim", "lim").await.unwrap();

        // bandwidth: 100 KB/s → 50 KB in about half a second
        client
            .create_toxic(
                "lim",
                &Toxic::new(
                    "bw",
                    Stream::Downstream,
                    ToxicAttributes::Bandwidth { rate: 100 },
                ),
            )
            .await
            .unwrap();
        let (mut c, mut s) = pair(&up, &listen).await;
        let t0 = Instant::now();
        s.write_all(&[1u8; 50_000]).await.unwrap();
        let mut buf = vec![0u8; 50_000];
        c.read_exact(&mut buf).await.unwrap();
        let took = t0.elapsed();
        eprintln!("bandwidth 100 KB/s, 50 KB: {took:?}");
        assert!(
            took > Duration::from_millis(400) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        client.delete_toxic("lim", "bw").await.unwrap();

        // slow_close: the close arrives `delay` later, after the data
        client
            .create_toxic(
                "lim",
                &Toxic::new(
                    "sc",
                    Stream::Downstream,
                    ToxicAttributes::SlowClose { delay: 300 },
                ),
            )
            .await
            .unwrap();
        let (mut c, mut s) = pair(&up, &listen).await;
        s.write_all(b"bye").await.unwrap();
        let t0 = Instant::now();
        drop(s);
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.unwrap();
        let took = t0.elapsed();
        assert_eq!(got, b"bye");
        assert!(
            took >= Duration::from_millis(280) && took < Duration::from_secs(2),
            "{took:?}"
        );

        // slicer: data still intact
        client
            .create_toxic(
                "lim",
                &Toxic::new(
                    "sl",
                    Stream::Upstream,
                    ToxicAttributes::Slicer {
                        average_size: 10,
                        size_variation: 5,
                        delay: 100,
                    },
                ),
            )
            .await
            .unwrap();
        let (mut c, mut s) = pair(&up, &listen).await;
        let msg: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        c.write_all(&msg).await.unwrap();
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(got, msg);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_connection() {
    bounded(30, async {
        let (server, _client, up, listen) = setup("sd").await;
        let (mut c, _s) = pair(&up, &listen).await;
        server.shutdown().await;
        let mut b = [0u8; 1];
        let r = tokio::time::timeout(Duration::from_secs(2), c.read(&mut b))
            .await
            .expect("closed at shutdown");
        assert!(matches!(r, Ok(0) | Err(_)));
        assert!(TcpStream::connect(&listen).await.is_err());
    })
    .await;
}

/// A proxy whose upstream is its own listen address must not chain connections to itself (each
/// accepted connection connecting to the proxy again) until file descriptors and memory run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_equal_to_listen_does_not_loop() {
    let server = electune::proxy::spawn_local().await.unwrap();
    let client = Client::new(&server.url()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    client
        .create_proxy(&NewProxy::new("self_loop", &addr, addr.clone()))
        .await
        .unwrap();
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let before = fds();
    let mut c = TcpStream::connect(&addr).await.unwrap();
    // Closed like an unreachable upstream.
    let mut buf = [0u8; 16];
    let n = bounded(5, c.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = fds();
    assert!(
        after < before + 20,
        "file descriptors grew from {before} to {after}: the proxy connects to itself"
    );
    drop(server);
}
