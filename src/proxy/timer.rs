//! A precise timer for the data plane.
//!
//! tokio's timer wheel has 1 ms granularity and fires about 1–1.5 ms late (docs/design.md, "Timers"), which
//! would turn a configured 15 ms latency into 16. Here one dedicated thread keeps a heap of
//! deadlines and sleeps on a condition variable with a 1 ns timer slack until the earliest one,
//! then wakes the waiting tasks: deadlines fire within tens of microseconds, with no spinning.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

struct Entry {
    fired: AtomicBool,
    cancelled: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct Queued {
    due: Instant,
    seq: u64,
    entry: Arc<Entry>,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.seq) == (o.due, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(o.due, o.seq))
    }
}

struct Shared {
    heap: Mutex<(BinaryHeap<Reverse<Queued>>, u64)>,
    cv: Condvar,
}

fn shared() -> &'static Arc<Shared> {
    static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();
    SHARED.get_or_init(|| {
        let s = Arc::new(Shared {
            heap: Mutex::new((BinaryHeap::new(), 0)),
            cv: Condvar::new(),
        });
        let t = s.clone();
        std::thread::Builder::new()
            .name("electune-timer".into())
            .spawn(move || run(&t))
            .expect("the timer thread starts");
        s
    })
}

fn run(s: &Shared) {
    // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
    let mut guard = s.heap.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        let mut due_wakers = Vec::new();
        while let Some(Reverse(top)) = guard.0.peek() {
            if top.entry.cancelled.load(Ordering::Relaxed) {
                guard.0.pop();
                continue;
            }
            if top.due > now {
                break;
            }
            let Some(Reverse(q)) = guard.0.pop() else {
                break;
            };
            q.entry.fired.store(true, Ordering::Release);
            let waker = q
                .entry
                .waker
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(w) = waker {
                due_wakers.push(w);
            }
        }
        if !due_wakers.is_empty() {
            drop(guard);
            for w in due_wakers {
                w.wake();
            }
            guard = s.heap.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        guard = match guard.0.peek() {
            None => s.cv.wait(guard).unwrap_or_else(|e| e.into_inner()),
            Some(Reverse(top)) => {
                let wait = top.due.saturating_duration_since(now);
                s.cv.wait_timeout(guard, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
}

/// A future that completes at a deadline, precisely. Can be re-armed with [`Sleep::reset`].
pub struct Sleep {
    due: Instant,
    entry: Option<Arc<Entry>>,
}

/// Sleeps until `due` with sub-millisecond precision.
pub fn sleep_until(due: Instant) -> Sleep {
    Sleep { due, entry: None }
}

impl Sleep {
    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.due
    }

    /// Moves the deadline (a no-op when it is unchanged).
    pub fn reset(&mut self, due: Instant) {
        if due != self.due {
            self.cancel();
            self.due = due;
        }
    }

    fn cancel(&mut self) {
        if let Some(e) = self.entry.take() {
            e.cancelled.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(e) = &self.entry {
            if e.fired.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            let mut w = e.waker.lock().unwrap_or_else(|e| e.into_inner());
            match &*w {
                Some(old) if old.will_wake(cx.waker()) => {}
                _ => *w = Some(cx.waker().clone()),
            }
            drop(w);
            // It may have fired between the check and storing the waker.
            if e.fired.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            return Poll::Pending;
        }
        if Instant::now() >= self.due {
            return Poll::Ready(());
        }
        let entry = Arc::new(Entry {
            fired: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            waker: Mutex::new(Some(cx.waker().clone())),
        });
        let s = shared();
        let mut g = s.heap.lock().unwrap_or_else(|e| e.into_inner());
        let seq = g.1;
        g.1 += 1;
        let earliest = g.0.peek().is_none_or(|Reverse(t)| self.due < t.due);
        g.0.push(Reverse(Queued {
            due: self.due,
            seq,
            entry: entry.clone(),
        }));
        drop(g);
        if earliest {
            s.cv.notify_one();
        }
        self.entry = Some(entry);
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fires_on_time() {
        let mut lates = Vec::new();
        for _ in 0..20 {
            let due = std::time::Instant::now() + Duration::from_millis(3);
            super::sleep_until(due).await;
            lates.push(std::time::Instant::now().duration_since(due));
        }
        lates.sort();
        assert!(lates[10] < Duration::from_micros(700), "{lates:?}");
    }
}
