//! A member's one long-lived connection to the store through its proxy (`nX_to_store`), as an
//! etcd client keeps one gRPC connection with every stream on it (etcd-election). Requests go out
//! in order on it, answers and watch events come back on it. Frames sent while it is down wait
//! for the next connection (clientv3's `defaultWaitForReady`). When it breaks, the core is told
//! ([`Input::StoreLost`]) and the connection is made again: at once after a connection that had
//! worked, with grpc-go's reconnect backoff after one that failed (`backoff.DefaultConfig`: 1 s,
//! × 1.6 per failure in a row, ± 20 % jitter, at most 120 s). As grpc-go counts a transport as
//! up only once the server's preface arrived, a connection counts as having worked once the
//! store sent something on it: one refused, or reset before any answer, is a failed attempt.

use std::net::SocketAddr;
use std::sync::mpsc::Sender;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

use super::net::Input;
use crate::election::Wire;
use crate::store::STORE;
use crate::wire::read_frame;

/// grpc-go's `backoff.DefaultConfig`.
const BASE: Duration = Duration::from_secs(1);
const MULTIPLIER: f64 = 1.6;
const JITTER: f64 = 0.2;
const MAX: Duration = Duration::from_secs(120);

/// How long to wait after the `failures`-th failed attempt in a row (1-based), with `u` in
/// [0, 1) drawing the jitter (grpc-go `internal/backoff.Exponential.Backoff`).
pub(super) fn reconnect_delay(failures: u32, u: f64) -> Duration {
    let grown = BASE.as_secs_f64() * MULTIPLIER.powi(failures.saturating_sub(1) as i32);
    let capped = grown.min(MAX.as_secs_f64());
    Duration::from_secs_f64(capped * (1.0 + JITTER * (2.0 * u - 1.0)))
}

/// Keeps the connection to `addr` up, writes `frames` on it and feeds what comes back to the
/// core, until the core side goes away.
pub(super) async fn run<M: Wire + Send + 'static>(
    addr: SocketAddr,
    mut frames: UnboundedReceiver<Vec<u8>>,
    inputs: Sender<Input<M>>,
    seed: u64,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5707e);
    let mut failures = 0u32;
    loop {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(_) => {
                failures += 1;
                tokio::time::sleep(reconnect_delay(failures, rng.gen())).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (mut reader, writer) = stream.into_split();
        let mut worked = false;
        let read = async {
            let mut body = Vec::new();
            while read_frame(&mut reader, &mut body).await.is_ok() {
                worked = true;
                let Ok((_, msg)) = M::decode(&body) else {
                    return;
                };
                if inputs.send(Input::Message(STORE, msg)).is_err() {
                    return;
                }
            }
        };
        let core_gone = tokio::select! {
            _ = read => false,
            gone = write_all(writer, &mut frames) => gone,
        };
        if core_gone || inputs.send(Input::StoreLost).is_err() {
            return;
        }
        if worked {
            failures = 0;
        } else {
            failures += 1;
            tokio::time::sleep(reconnect_delay(failures, rng.gen())).await;
        }
    }
}

/// Writes frames as they come; returns true when the core side is gone, false when the
/// connection failed.
async fn write_all(mut writer: OwnedWriteHalf, frames: &mut UnboundedReceiver<Vec<u8>>) -> bool {
    while let Some(frame) = frames.recv().await {
        if writer.write_all(&frame).await.is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_as_grpc_go_does() {
        let s = |d: Duration| d.as_secs_f64();
        assert_eq!(s(reconnect_delay(1, 0.5)), 1.0);
        assert!((s(reconnect_delay(2, 0.5)) - 1.6).abs() < 1e-9);
        assert!((s(reconnect_delay(3, 0.5)) - 2.56).abs() < 1e-9);
        assert_eq!(s(reconnect_delay(40, 0.5)), 120.0);
        assert!((s(reconnect_delay(1, 0.0)) - 0.8).abs() < 1e-9);
        assert!(s(reconnect_delay(1, 0.999_999)) < 1.2 + 1e-6);
    }
}
