//! A private network namespace with only loopback up, for external peers that cannot be
//! bound to loopback alone (`gnutls-serv --udp` listens on every interface).
//!
//! Network namespaces belong to a thread on Linux: a thread that calls
//! [`enter_private_loopback`] moves itself, and nothing else in the process, into a new
//! namespace whose only interface is `lo`. The processes it spawns and the sockets it creates
//! afterwards live there too (a socket keeps the namespace it was created in, whichever
//! thread uses it later), so a peer started from that thread is reachable only from sockets
//! made on it. Making a namespace needs root or `CAP_SYS_ADMIN`; where that is missing,
//! [`private_loopback_unavailable`] says why and the cases that need it are skipped loudly.

use std::sync::OnceLock;

/// Moves the calling thread into a new network namespace and brings its loopback interface
/// up. Call it on a thread of its own: the thread never returns to the host's network.
///
/// Fails with a message naming the step (making the namespace, or bringing `lo` up) and the
/// system's error, for example when the process lacks `CAP_SYS_ADMIN`.
#[cfg(target_os = "linux")]
pub(crate) fn enter_private_loopback() -> Result<(), String> {
    // SAFETY: unshare takes a flag word and touches only the calling thread's namespace set;
    // CLONE_NEWNET (unlike CLONE_NEWUSER) is allowed in a multi-threaded process.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET) failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    loopback_up().map_err(|e| format!("cannot bring lo up in the private namespace: {e}"))
}

/// Sets the `IFF_UP` flag of `lo` with the SIOCGIFFLAGS / SIOCSIFFLAGS ioctls on a socket
/// made in the calling thread's namespace.
#[cfg(target_os = "linux")]
fn loopback_up() -> std::io::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    // SAFETY: socket takes plain integers and returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a descriptor just returned by socket and owned by nothing else.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is a plain C struct for which all-zero bytes are a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the interface named in `request` and writes its flags into
    // `request`, which lives for the whole call.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut request) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: after SIOCGIFFLAGS the union holds the flags, a c_short.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the name and flags from `request`, which lives for the call.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS as _, &request) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Fails everywhere but Linux, which is the only system with per-thread network namespaces.
#[cfg(not(target_os = "linux"))]
pub(crate) fn enter_private_loopback() -> Result<(), String> {
    Err("private network namespaces exist only on Linux".into())
}

/// Why no private network namespace can be made here, or `None` when one can. Tried once, on
/// a thread of its own that ends right after, and remembered.
pub(crate) fn private_loopback_unavailable() -> Option<String> {
    static PROBE: OnceLock<Option<String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            std::thread::Builder::new()
                .name("network namespace probe".into())
                .spawn(|| enter_private_loopback().err())
                .map_err(|e| format!("cannot start a thread: {e}"))
                .and_then(|t| {
                    t.join()
                        .map_err(|_| "the namespace probe panicked".to_string())
                })
                .unwrap_or_else(Some)
        })
        .clone()
}
