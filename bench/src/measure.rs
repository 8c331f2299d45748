//! One measurement each: handshakes per second and bulk throughput over the in-memory
//! transport, and live heap bytes per established client/server pair.
//!
//! Each function measures one (backend, through polytls or direct) combination once; the
//! caller pairs them in rounds. The in-memory rates are timed by a [`Clock`]: by default the
//! thread's own CPU time, so that the time other processes hold the core is left out.

use std::time::{Duration, Instant};

use crate::inmem::{new_pair, Backend, Pair, Via};
use crate::setup::Setup;

/// What times an in-memory measurement (client and server run in the calling thread, so its
/// CPU time is all the work).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The calling thread's CPU time, user and system (`CLOCK_THREAD_CPUTIME_ID`): leaves
    /// out the time the thread waited while other processes held the core.
    ThreadCpu,
    /// Wall-clock time.
    Wall,
}

impl Clock {
    /// [`Clock::ThreadCpu`] where the system reports it, [`Clock::Wall`] elsewhere.
    pub fn best() -> Clock {
        if thread_cpu_time().is_some() {
            Clock::ThreadCpu
        } else {
            Clock::Wall
        }
    }

    /// `"thread CPU time"` or `"wall-clock time"`.
    pub fn name(self) -> &'static str {
        match self {
            Clock::ThreadCpu => "thread CPU time",
            Clock::Wall => "wall-clock time",
        }
    }

    /// A stopwatch on this clock, started now.
    pub fn start(self) -> Stopwatch {
        Stopwatch {
            clock: self,
            wall: Instant::now(),
            cpu: thread_cpu_time().unwrap_or_default(),
        }
    }
}

/// Time since [`Clock::start`], on that clock.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch {
    clock: Clock,
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    /// Time elapsed since the start (for [`Clock::ThreadCpu`], wall-clock time should the
    /// thread's CPU time become unreadable).
    pub fn elapsed(&self) -> Duration {
        match (self.clock, thread_cpu_time()) {
            (Clock::ThreadCpu, Some(now)) => now.saturating_sub(self.cpu),
            _ => self.wall.elapsed(),
        }
    }
}

/// The calling thread's CPU time so far (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`), or `None`
/// where the system does not report it.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub fn thread_cpu_time() -> Option<Duration> {
    /// `struct timespec` on 64-bit Linux.
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut time = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid, writable `struct timespec` (two 64-bit fields on 64-bit
    // Linux), and clock_gettime writes nothing else.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) };
    let secs = u64::try_from(time.tv_sec).ok()?;
    let nanos = u32::try_from(time.tv_nsec).ok()?;
    (status == 0).then(|| Duration::new(secs, nanos))
}

/// The calling thread's CPU time so far: not read on this system.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
pub fn thread_cpu_time() -> Option<Duration> {
    None
}

/// Full handshakes per second of `clock`, client and server in one thread: as many as fit in
/// `budget` (at least `min_count`), after one untimed handshake (the first after another
/// measurement runs with cold caches). Each includes creating both sessions and the
/// transport.
///
/// Fails with a message when a handshake fails.
pub fn handshakes_per_second(
    setup: &Setup,
    backend: Backend,
    via: Via,
    (budget, min_count): (Duration, usize),
    clock: Clock,
) -> Result<f64, String> {
    new_pair(setup, backend, via)?.handshake()?;
    let start = clock.start();
    let mut count = 0usize;
    while count < min_count || start.elapsed() < budget {
        let mut pair = new_pair(setup, backend, via)?;
        pair.handshake()?;
        drop(pair);
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// Bulk throughput in MB/s (10^6 bytes per second of `clock`) of `total` bytes, client to
/// server, over one established session. The handshake is not timed.
///
/// Fails with a message when the session fails.
pub fn bulk_mb_per_second(
    setup: &Setup,
    backend: Backend,
    via: Via,
    total: usize,
    clock: Clock,
) -> Result<f64, String> {
    let mut pair = new_pair(setup, backend, via)?;
    pair.handshake()?;
    pair.settle()?;
    // A short warm-up, so that buffers have their steady-state size.
    pair.bulk(1 << 20)?;
    let start = clock.start();
    pair.bulk(total)?;
    Ok(total as f64 / start.elapsed().as_secs_f64() / 1e6)
}

/// Live heap bytes per established client/server pair, with `count` pairs held open at once
/// (transport included, the same for both sides), as counted by `live_bytes`.
///
/// Fails with a message when a handshake fails or nothing is counted (the counting allocator
/// is not installed).
pub fn bytes_per_pair(
    setup: &Setup,
    backend: Backend,
    via: Via,
    count: usize,
    live_bytes: fn() -> Option<isize>,
) -> Result<f64, String> {
    // One pair first, for the one-time state (registries, lazily built tables).
    let mut warm = new_pair(setup, backend, via)?;
    warm.handshake()?;
    warm.settle()?;
    drop(warm);
    let mut pairs: Vec<Box<dyn Pair>> = Vec::with_capacity(count);
    let before = live_bytes().ok_or("the counting allocator is not installed")?;
    for _ in 0..count {
        let mut pair = new_pair(setup, backend, via)?;
        pair.handshake()?;
        pair.settle()?;
        pairs.push(pair);
    }
    let after = live_bytes().ok_or("the counting allocator is not installed")?;
    drop(pairs);
    Ok((after - before) as f64 / count.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_clock_counts_this_thread_only() {
        let Some(before) = thread_cpu_time() else {
            return; // Not reported here: Clock::best() is the wall clock.
        };
        assert_eq!(Clock::best(), Clock::ThreadCpu);
        let sleeping = Clock::ThreadCpu.start();
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            sleeping.elapsed() < Duration::from_millis(25),
            "{sleeping:?}"
        );
        let wall = Clock::Wall.start();
        let busy = Clock::ThreadCpu.start();
        while wall.elapsed() < Duration::from_millis(30) {}
        assert!(busy.elapsed() > Duration::ZERO);
        assert!(thread_cpu_time().unwrap() > before);
    }
}
