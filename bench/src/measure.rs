//! One measurement each: handshakes per second and bulk throughput over the in-memory
//! transport, and live heap bytes per established client/server pair.
//!
//! Each function measures one (backend, through polytls or direct) combination once; the
//! caller interleaves them and takes medians.

use std::time::{Duration, Instant};

use crate::inmem::{new_pair, Backend, Pair, Via};
use crate::setup::Setup;

/// Full handshakes per second, client and server in one thread: as many as fit in `budget`
/// (at least `min_count`). Each includes creating both sessions and the transport.
///
/// Fails with a message when a handshake fails.
pub fn handshakes_per_second(
    setup: &Setup,
    backend: Backend,
    via: Via,
    budget: Duration,
    min_count: usize,
) -> Result<f64, String> {
    let start = Instant::now();
    let mut count = 0usize;
    while count < min_count || start.elapsed() < budget {
        let mut pair = new_pair(setup, backend, via)?;
        pair.handshake()?;
        drop(pair);
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// Bulk throughput in MB/s (10^6 bytes per second) of `total` bytes, client to server, over
/// one established session. The handshake is not timed.
///
/// Fails with a message when the session fails.
pub fn bulk_mb_per_second(
    setup: &Setup,
    backend: Backend,
    via: Via,
    total: usize,
) -> Result<f64, String> {
    let mut pair = new_pair(setup, backend, via)?;
    pair.handshake()?;
    pair.settle()?;
    // A short warm-up, so that buffers have their steady-state size.
    pair.bulk(1 << 20)?;
    let start = Instant::now();
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
