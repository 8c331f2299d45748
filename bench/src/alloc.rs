//! Counting live heap bytes, for the memory-per-session scenario.
//!
//! [`CountingAlloc`] wraps the system allocator and keeps a running total of the bytes
//! allocated and not yet freed; the `polytls-bench` binary installs it as its
//! `#[global_allocator]`. OpenSSL allocates with its own `CRYPTO_malloc`, which the Rust
//! allocator never sees, so [`hook_openssl`] routes OpenSSL's allocations through the Rust
//! allocator as well (it must run before OpenSSL allocates anything: first thing in `main`).
//! aws-lc (under rustls) keeps a few small C allocations of its own (key schedules) that are
//! not counted; they are the same with and without polytls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicIsize, Ordering};

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting live bytes (see the module documentation).
pub struct CountingAlloc;

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract; the
// counter is only bookkeeping.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

/// Live heap bytes counted so far, or `None` when [`CountingAlloc`] is not the global
/// allocator of this program (nothing is counted as live).
pub fn live_bytes() -> Option<isize> {
    let live = LIVE.load(Ordering::Relaxed);
    (live > 0).then_some(live)
}

/// Every OpenSSL allocation carries its size in a header this large (which keeps the
/// 16-byte alignment `malloc` promises).
const HEADER: usize = 16;

fn layout_for(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
}

unsafe extern "C" fn ossl_malloc(size: usize, _file: *const c_char, _line: c_int) -> *mut c_void {
    let Some(layout) = layout_for(size) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the layout has a non-zero size (it includes the header).
    let p = unsafe { std::alloc::alloc(layout) };
    if p.is_null() {
        return p.cast();
    }
    // SAFETY: `p` is valid for `HEADER + size` bytes and aligned for `usize`.
    unsafe {
        p.cast::<usize>().write(size);
        p.add(HEADER).cast()
    }
}

unsafe extern "C" fn ossl_free(ptr: *mut c_void, _file: *const c_char, _line: c_int) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `ossl_malloc` or `ossl_realloc`, HEADER bytes after the start of
    // an allocation whose first word holds its size.
    unsafe {
        let base = ptr.cast::<u8>().sub(HEADER);
        let size = base.cast::<usize>().read();
        if let Some(layout) = layout_for(size) {
            std::alloc::dealloc(base, layout);
        }
    }
}

unsafe extern "C" fn ossl_realloc(
    ptr: *mut c_void,
    size: usize,
    file: *const c_char,
    line: c_int,
) -> *mut c_void {
    if ptr.is_null() {
        // SAFETY: same contract as malloc.
        return unsafe { ossl_malloc(size, file, line) };
    }
    if size == 0 {
        // SAFETY: `ptr` came from this allocator.
        unsafe { ossl_free(ptr, file, line) };
        return std::ptr::null_mut();
    }
    let Some(new_layout) = layout_for(size) else {
        return std::ptr::null_mut();
    };
    // SAFETY: `ptr` came from this allocator (see `ossl_free`); the new size is non-zero.
    unsafe {
        let base = ptr.cast::<u8>().sub(HEADER);
        let old = base.cast::<usize>().read();
        let Some(old_layout) = layout_for(old) else {
            return std::ptr::null_mut();
        };
        let p = std::alloc::realloc(base, old_layout, new_layout.size());
        if p.is_null() {
            return p.cast();
        }
        p.cast::<usize>().write(size);
        p.add(HEADER).cast()
    }
}

type MallocFn = unsafe extern "C" fn(usize, *const c_char, c_int) -> *mut c_void;
type ReallocFn = unsafe extern "C" fn(*mut c_void, usize, *const c_char, c_int) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void, *const c_char, c_int);

extern "C" {
    // libcrypto (OpenSSL 1.1.0 and later), linked through the `openssl` crate; not declared
    // by `openssl-sys`.
    fn CRYPTO_set_mem_functions(
        m: Option<MallocFn>,
        r: Option<ReallocFn>,
        f: Option<FreeFn>,
    ) -> c_int;
}

/// Routes OpenSSL's allocations through the Rust global allocator, so that
/// [`live_bytes`] counts them. Returns `false` when OpenSSL refused (it already allocated).
///
/// Call it once, first thing in `main`, before anything touches OpenSSL.
pub fn hook_openssl() -> bool {
    // SAFETY: the three functions form a consistent allocator (size header, Rust allocator
    // underneath); OpenSSL refuses the call once it has allocated with its own.
    unsafe { CRYPTO_set_mem_functions(Some(ossl_malloc), Some(ossl_realloc), Some(ossl_free)) == 1 }
}
