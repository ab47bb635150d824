//! How much of a linear memory is resident, from `/proc/self/pagemap`.
//!
//! The committed size of a linear memory (what `memory.size` says) overstates what it costs: a
//! fresh 64 KiB page of which the guest touched 4 bytes holds one 4 KiB host page. Bit 63 of a
//! pagemap entry ("page present") says which host pages are mapped in, without privileges
//! (unprivileged readers only lose the frame numbers). Shared copy-on-write image pages count
//! here as in RSS: once per mapping.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Resident bytes of `[ptr, ptr + len)` in this process, or `None` when pagemap is unreadable.
pub fn resident_bytes(ptr: *const u8, len: usize) -> Option<u64> {
    if len == 0 {
        return Some(0);
    }
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
    let start = ptr as usize / page;
    let end = (ptr as usize + len).div_ceil(page);
    let file = File::open("/proc/self/pagemap").ok()?;
    let mut resident = 0u64;
    let mut buf = vec![0u8; 8 * 512];
    let mut index = start;
    while index < end {
        let n = (end - index).min(512);
        let bytes = &mut buf[..8 * n];
        file.read_exact_at(bytes, (index * 8) as u64).ok()?;
        for entry in bytes.chunks_exact(8) {
            let entry = u64::from_le_bytes(entry.try_into().ok()?);
            if entry & (1 << 63) != 0 {
                resident += page as u64;
            }
        }
        index += n;
    }
    Some(resident)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_pages_are_resident() {
        let page = 4096;
        // A fresh anonymous mapping: nothing resident until written.
        // SAFETY: plain anonymous mmap, unmapped below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                16 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        let p = ptr as *mut u8;
        assert_eq!(resident_bytes(p, 16 * page), Some(0));
        // SAFETY: within the mapping.
        unsafe {
            *p = 1;
            *p.add(5 * page) = 1;
        }
        assert_eq!(resident_bytes(p, 16 * page), Some(2 * page as u64));
        // SAFETY: unmapping what we mapped.
        unsafe { libc::munmap(ptr, 16 * page) };
    }
}
