//! What every child process electune starts shares, whoever starts it (the harness, the etcd
//! members it runs): a loopback port chosen so that a restarted child gets its own back, and
//! death with its parent.

/// A free loopback port for a child (a node, the store, an etcd member) to listen on, chosen *below* the kernel's ephemeral range: a crashed
/// node's port must still be free when it restarts, and ports in the ephemeral range get taken by
/// the many outbound connections on loopback meanwhile.
pub fn free_port() -> std::io::Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u32>().ok())
        })
        .unwrap_or(32768);
    let low = 10_000u32.min(ephemeral_low.saturating_sub(1000));
    let span = ephemeral_low.saturating_sub(low).max(1);
    if NEXT.load(Ordering::SeqCst) == 0 {
        // Different processes start in different places.
        let _ = NEXT.compare_exchange(
            0,
            std::process::id().wrapping_mul(7919) % span + 1,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
    for _ in 0..span {
        let port = low + NEXT.fetch_add(1, Ordering::SeqCst) % span;
        if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return Ok(port as u16);
        }
    }
    Err(std::io::Error::other(
        "no free port below the ephemeral range",
    ))
}

/// The `pre_exec` hook of every child process electune starts: the kernel sends it SIGKILL when
/// its parent dies (`PR_SET_PDEATHSIG`), and it exits at once if the parent died before that took
/// effect. Strictly, the signal comes when the *thread* that forked exits: spawn from a thread
/// that lives as long as the child should (a runtime's worker, not a `spawn_blocking` thread).
///
/// The closure makes only async-signal-safe calls, as a `pre_exec` hook must.
pub fn die_with_parent() -> impl FnMut() -> std::io::Result<()> + Send + Sync + 'static {
    let parent = std::process::id() as libc::pid_t;
    move || {
        // SAFETY: prctl, getppid and _exit are async-signal-safe.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
        }
        Ok(())
    }
}
