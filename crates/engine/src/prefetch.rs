//! Software prefetch: a hint to the CPU to load memory that will be read soon.
//!
//! Used where the engine knows its next random accesses in advance (the connectivity rows of the
//! spikes it is about to deliver). A prefetch never faults and changes no result; on targets
//! without one it does nothing.

/// At most this many cache lines of one slice are prefetched: longer rows are read as streams,
/// which the hardware prefetcher follows by itself.
const MAX_LINES: usize = 8;

/// Hints the CPU to load the first cache lines of `s` into all cache levels.
#[inline(always)]
pub(crate) fn slice<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = std::mem::size_of_val(s).min(MAX_LINES * 64);
        let start = s.as_ptr().cast::<i8>();
        let mut offset = 0;
        while offset < bytes {
            prefetch_line::<{ std::arch::x86_64::_MM_HINT_T0 }>(start.wrapping_add(offset));
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

/// Prefetches the cache line at `p` with `HINT` (`_MM_HINT_T0`: for reading into every level;
/// `_MM_HINT_ET0`: for writing).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch_line<const HINT: i32>(p: *const i8) {
    // SAFETY: a prefetch is a hint that never dereferences in the program's sense and never
    // faults, whatever the address.
    unsafe { std::arch::x86_64::_mm_prefetch::<HINT>(p) };
}

/// Hints the CPU that the cache line at `p` will be written soon: it is fetched for ownership
/// (`prefetchw` where the CPU has it, an ordinary prefetch otherwise), so that the store that
/// follows does not wait for it. `p` may lie anywhere, even beyond an allocation: the address is
/// only a hint and is never dereferenced.
#[inline(always)]
pub(crate) fn for_write<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    prefetch_line::<{ std::arch::x86_64::_MM_HINT_ET0 }>(p.cast::<i8>());
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
