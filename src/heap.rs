//! Giving freed memory back to the system.

/// Returns the allocator's free pages to the system. A search the database answers (a keyword
/// over a million services) allocates and frees tens of megabytes at once, and glibc keeps
/// freed memory in per-thread heaps: under keyword searches the server's resident memory grew
/// from 273 to 323 MB that way. A near-here search the index answers allocates little and
/// skips this.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
