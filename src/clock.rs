//! The one clock: `CLOCK_MONOTONIC` nanoseconds, system-wide on Linux, so events from every process
//! of a run share a time base.

/// Current `CLOCK_MONOTONIC` time in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_monotonic_and_matches_std() {
        let a = super::monotonic_ns();
        let start = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = super::monotonic_ns();
        let elapsed = start.elapsed().as_nanos() as u64;
        assert!(b > a);
        // std's Instant is CLOCK_MONOTONIC too; the two measurements of the same sleep agree closely.
        assert!(
            (b - a).abs_diff(elapsed) < 2_000_000,
            "{} vs {}",
            b - a,
            elapsed
        );
    }
}
