//! The daemons' allocator, mimalloc, told to return freed memory at once.
//!
//! mimalloc 3 returns freed memory to the system a second after it is
//! freed (`purge_delay`). A whole version frees and allocates hundreds of
//! MB within that second: returning it at once took about 13% off every
//! process's resident peak at 100,000 delegations, at the same speed
//! (docs/performance.md, "Signing items without their RRsets").

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e`
/// (include/mimalloc.h), which libmimalloc-sys does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets mimalloc's purge delay to 0 unless the operator set
/// `MIMALLOC_PURGE_DELAY`, which still wins. Call it first in `main`,
/// before any other thread exists: mimalloc's option calls are not
/// thread safe.
#[allow(unsafe_code)]
pub fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: stores one option value; the caller runs it before any
        // other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
    }
}

#[cfg(test)]
mod tests {
    /// The option set is the purge delay: mimalloc 3 starts it at
    /// 1000 ms, and no other option has that default. A libmimalloc-sys
    /// that numbers the options otherwise fails here rather than setting
    /// some other option to 0.
    #[test]
    #[allow(unsafe_code)]
    fn the_option_set_is_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!("skipped: MIMALLOC_PURGE_DELAY is set");
            return;
        }
        // SAFETY: reads one option value.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) }, 1000);
    }
}
