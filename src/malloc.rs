//! glibc malloc's policy for asyncmem's own memory (issue 14, item 6): what it keeps of the
//! memory asyncmem frees (the decoded console messages of a large initial state, the task
//! table's growth). Process-wide; no-ops where the allocator is not glibc's.

/// Threshold of free memory at the top of a malloc heap past which glibc gives it back to the
/// system, and the size from which an allocation gets its own mapping (both glibc's initial
/// default, 128 KiB).
const MALLOC_THRESHOLD_BYTES: i32 = 128 * 1024;

/// Fix glibc malloc's trim and mmap thresholds at their initial 128 KiB. By default glibc raises
/// both each time a large block it had mapped is freed (up to 32 MiB and 64 MiB): the task
/// table's and the id index's growth, and the decoded console messages of a target's initial
/// state, then leave tens of MiB freed but kept by the process (`top` on 100,005 probe tasks:
/// about 40 % of its RSS; measured with `bench/self_rss.sh`, see bench/RESULTS.md). Call it once,
/// before the first console message.
/// A no-op where the allocator is not glibc's.
pub fn keep_freed_memory_returned() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before other threads start.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, MALLOC_THRESHOLD_BYTES);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MALLOC_THRESHOLD_BYTES);
    }
}

/// glibc's `malloc_trim(0)`: the free memory of every arena back to the system. A no-op where
/// the allocator is not glibc's.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes each arena's lock; it only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
