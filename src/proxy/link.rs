//! Per-connection pumps: one task per direction.
//!
//! With no toxic applying, a pump reads and writes in the same task (one wake-up per chunk, no
//! queue). With toxics it keeps reading, timestamping each chunk on arrival, into a bounded queue,
//! and writes the head when [`ToxicStates::plan`] says so: a chunk's due time is its arrival plus its
//! latency, so delays never accumulate, and nothing is ever reordered. The toxic set is re-read from
//! a watch channel at every step, so changes apply to live connections and queued data without
//! losing a byte.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::timer;
use super::toxics::{Chunk, Item, Plan, ToxicSet, ToxicStates};

/// Read buffer per direction.
const BUF: usize = 128 * 1024;
/// Queue bounds: past these, the pump stops reading (TCP back-pressure does the rest).
const MAX_QUEUED_BYTES: usize = 4 * 1024 * 1024;
const MAX_QUEUED_CHUNKS: usize = 4096;
/// A pump yields to other tasks (API requests, other connections) after moving this many bytes,
/// so that a bulk transfer cannot delay a toxic change or a small message by milliseconds.
const YIELD_EVERY: usize = 256 * 1024;

/// Connection-wide signal shared by the two directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnSignal {
    Open,
    /// The other direction finished: stop reading, deliver what is queued, then close.
    PeerDone,
    /// Close now, dropping queued data.
    Kill,
    /// Reset now: SO_LINGER is zero on both sockets, close without a FIN.
    Reset,
}

/// Everything one direction needs.
pub(crate) struct Pump {
    pub src: OwnedReadHalf,
    pub dst: OwnedWriteHalf,
    pub toxics: watch::Receiver<ToxicSet>,
    /// Proxy-wide stop (disable, delete, server shutdown).
    pub stop: watch::Receiver<bool>,
    pub conn: watch::Sender<ConnSignal>,
    /// Held until the pump ends, so the proxy can wait for its connections to close.
    pub _alive: mpsc::Sender<()>,
}

/// Sets SO_LINGER to zero so that closing the socket sends a TCP RST.
fn linger_zero(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a file descriptor we own, with a correctly sized linger struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

impl Pump {
    /// Runs this direction until the connection ends.
    pub async fn run(mut self) {
        self.pump().await;
        let Pump { dst, conn, .. } = self;
        if *conn.borrow() == ConnSignal::Reset {
            // Dropping the write half would send a FIN ahead of the RST.
            dst.forget();
        }
    }

    async fn pump(&mut self) {
        let mut conn_rx = self.conn.subscribe();
        let mut buf = vec![0u8; BUF];
        let mut queue: VecDeque<Item> = VecDeque::new();
        let mut queued = 0usize;
        let mut reading = true;
        let mut states = ToxicStates::new();
        let mut since_yield = 0usize;
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let mut sleep = Box::pin(timer::sleep_until(far));
        loop {
            if *self.stop.borrow_and_update() {
                return;
            }
            match *conn_rx.borrow_and_update() {
                ConnSignal::Kill | ConnSignal::Reset => return,
                ConnSignal::PeerDone if reading => {
                    reading = false;
                    queue.push_back(Item::Eof);
                }
                _ => {}
            }
            let set = self.toxics.borrow_and_update().clone();
            let now = Instant::now();
            states.sync(&set, now);

            if since_yield >= YIELD_EVERY {
                since_yield = 0;
                tokio::task::yield_now().await;
            }
            if queue.is_empty() && reading && !states.any_on() {
                match self.fast(&mut buf, &mut conn_rx).await {
                    Fast::Again => continue,
                    Fast::Moved(n) => {
                        since_yield += n;
                        continue;
                    }
                    Fast::Eof => {
                        reading = false;
                        queue.push_back(Item::Eof);
                        continue;
                    }
                    Fast::Stop => return,
                }
            }

            match states.plan(&set, queue.front(), now) {
                Plan::Write(n) => {
                    let Some(Item::Data(c)) = queue.front_mut() else {
                        return;
                    };
                    let (start, end) = (c.off, c.off + n);
                    if !self.write(&c.data[start..end], &mut conn_rx).await {
                        self.kill();
                        return;
                    }
                    c.off = end;
                    since_yield += n;
                    if c.off == c.data.len() {
                        queued -= c.data.len();
                        queue.pop_front();
                    }
                    if states.wrote(&set, n, Instant::now()) {
                        self.finish().await;
                        return;
                    }
                }
                Plan::Finish => {
                    self.finish().await;
                    return;
                }
                Plan::Close => {
                    self.kill();
                    return;
                }
                Plan::Reset => {
                    linger_zero(self.src.as_ref());
                    linger_zero(self.dst.as_ref());
                    self.conn.send_replace(ConnSignal::Reset);
                    return;
                }
                plan @ (Plan::Idle | Plan::Wait(_)) => {
                    let waiting = match plan {
                        Plan::Wait(t) => {
                            sleep.as_mut().get_mut().reset(t);
                            true
                        }
                        _ => false,
                    };
                    let can_read =
                        reading && queued < MAX_QUEUED_BYTES && queue.len() < MAX_QUEUED_CHUNKS;
                    match self
                        .wait(&mut buf, &mut conn_rx, &mut sleep, waiting, can_read)
                        .await
                    {
                        Waited::Read(0) => {
                            reading = false;
                            queue.push_back(Item::Eof);
                        }
                        Waited::Read(n) => {
                            queued += n;
                            queue.push_back(Item::Data(Chunk {
                                arrival: Instant::now(),
                                data: buf[..n].to_vec(),
                                off: 0,
                                u: states.sample(),
                            }));
                        }
                        Waited::Other => {}
                        Waited::Stop => return,
                    }
                }
            }
        }
    }

    /// One step of the no-toxic path: read a chunk and write it on.
    async fn fast(&mut self, buf: &mut [u8], conn_rx: &mut watch::Receiver<ConnSignal>) -> Fast {
        let n = tokio::select! {
            biased;
            r = self.src.read(buf) => match r {
                Ok(0) | Err(_) => return Fast::Eof,
                Ok(n) => n,
            },
            r = self.stop.changed() => return if r.is_err() { Fast::Stop } else { Fast::Again },
            _ = conn_rx.changed() => return Fast::Again,
            r = self.toxics.changed() => return if r.is_err() { Fast::Stop } else { Fast::Again },
        };
        if !self.write(&buf[..n], conn_rx).await {
            self.kill();
            return Fast::Stop;
        }
        Fast::Moved(n)
    }

    /// Writes all of `data`, unless the connection is being torn down. False on failure or stop.
    async fn write(&mut self, data: &[u8], conn_rx: &mut watch::Receiver<ConnSignal>) -> bool {
        // Most writes fit the socket buffer: try once without the machinery.
        let done = match self.dst.try_write(data) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(_) => return false,
        };
        if done == data.len() {
            return true;
        }
        let rest = &data[done..];
        tokio::select! {
            biased;
            r = self.dst.write_all(rest) => r.is_ok(),
            _ = self.stop.wait_for(|s| *s) => false,
            _ = conn_rx.wait_for(|s| matches!(s, ConnSignal::Kill | ConnSignal::Reset)) => false,
        }
    }

    async fn wait(
        &mut self,
        buf: &mut [u8],
        conn_rx: &mut watch::Receiver<ConnSignal>,
        sleep: &mut std::pin::Pin<Box<timer::Sleep>>,
        waiting: bool,
        can_read: bool,
    ) -> Waited {
        tokio::select! {
            biased;
            r = self.stop.changed() => if r.is_err() { Waited::Stop } else { Waited::Other },
            _ = conn_rx.changed() => Waited::Other,
            r = self.toxics.changed() => if r.is_err() { Waited::Stop } else { Waited::Other },
            _ = sleep.as_mut(), if waiting => Waited::Other,
            r = self.src.read(buf), if can_read => Waited::Read(r.unwrap_or(0)),
        }
    }

    /// Forwards the end of the stream and tells the other direction to finish.
    async fn finish(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.dst.shutdown()).await;
        self.conn.send_if_modified(|s| {
            if *s == ConnSignal::Open {
                *s = ConnSignal::PeerDone;
                true
            } else {
                false
            }
        });
    }

    fn kill(&self) {
        self.conn.send_if_modified(|s| {
            if *s == ConnSignal::Reset {
                false
            } else {
                *s = ConnSignal::Kill;
                true
            }
        });
    }
}

enum Fast {
    Again,
    Moved(usize),
    Eof,
    Stop,
}

enum Waited {
    Read(usize),
    Other,
    Stop,
}

/// Connects to `upstream` and runs both directions of a proxied connection until it ends.
pub(crate) async fn serve_connection(
    client: TcpStream,
    upstream: String,
    up_toxics: watch::Receiver<ToxicSet>,
    down_toxics: watch::Receiver<ToxicSet>,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    // A proxy whose upstream is its own listen address (e.g. a port reused by the proxy after the
    // upstream server released it) would connect to itself, accept that connection, connect
    // again, and so on until file descriptors run out: thousands of connections, each with two
    // pumps and their buffers. Refuse such a connection like an unreachable upstream.
    if let Ok(me) = client.local_addr() {
        if let Ok(mut addrs) = tokio::net::lookup_host(upstream.as_str()).await {
            if addrs.any(|a| a == me) {
                return;
            }
        }
    }
    let connect = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&upstream));
    let server = tokio::select! {
        r = connect => match r {
            Ok(Ok(s)) => s,
            _ => return, // like toxiproxy: the client is closed when the upstream cannot be reached
        },
        _ = stop.wait_for(|s| *s) => return,
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    let (conn, _) = watch::channel(ConnSignal::Open);
    let down = Pump {
        src: server_r,
        dst: client_w,
        toxics: down_toxics,
        stop: stop.clone(),
        conn: conn.clone(),
        _alive: alive.clone(),
    };
    let up = Pump {
        src: client_r,
        dst: server_w,
        toxics: up_toxics,
        stop,
        conn,
        _alive: alive,
    };
    tokio::spawn(down.run());
    up.run().await;
}
