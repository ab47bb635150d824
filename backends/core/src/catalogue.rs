//! The function catalogue: the same three functions, with the same semantics, on every backend.
//!
//! Every backend implements `noop`, `cpu` and `alloc` in its own guest language (WAT for Wasm,
//! JavaScript for V8 and Deno, Rust for the native runner used by `process` and `container`).
//! This module is the reference implementation: the harness computes the expected answer here
//! and compares it with what the backend returned, so a broken backend cannot look fast.
//!
//! The kernels use 32-bit arithmetic only, so that JavaScript (`Math.imul`, `>>> 0`) and Wasm
//! compute them without BigInt or i64 tricks:
//!
//! - the input stream is xorshift32 (Marsaglia 2003, shifts 13/17/5) seeded with
//!   `seed ^ 0x9E37_79B9` (or 1 if that is zero); each step yields its low byte;
//! - hashing is 32-bit FNV-1a (offset basis 2166136261, prime 16777619).
//!
//! | function | `size` means | returns |
//! |---|---|---|
//! | `noop`  | ignored | [`NOOP_VALUE`] |
//! | `cpu`   | KiB of generated input | FNV-1a of `size * 1024` xorshift bytes |
//! | `alloc` | MiB to allocate and touch | FNV-1a over one byte read back from every 4 KiB page |
//!
//! `alloc` writes byte `(page * 7 + seed) & 0xff` at the start of every 4 KiB page of a fresh
//! `size` MiB buffer, then hashes the bytes read back from those offsets in page order.

use serde::{Deserialize, Serialize};

/// What `noop` returns on every backend.
pub const NOOP_VALUE: u32 = 0x2A2A_2A2A;
/// FNV-1a 32-bit offset basis.
pub const FNV_OFFSET: u32 = 2_166_136_261;
/// FNV-1a 32-bit prime.
pub const FNV_PRIME: u32 = 16_777_619;
/// The page size `alloc` touches.
pub const PAGE: usize = 4096;

/// A function every backend implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    /// Returns a constant: the cost of the unit itself.
    Noop,
    /// A deterministic hash over `size` KiB of generated input.
    Cpu,
    /// Allocates and touches `size` MiB, returns a checksum of what it read back.
    Alloc,
}

impl Function {
    /// Every catalogue function, in display order.
    pub const ALL: [Function; 3] = [Function::Noop, Function::Cpu, Function::Alloc];

    /// The name used on the command line, in guests and in results.
    pub fn name(self) -> &'static str {
        match self {
            Function::Noop => "noop",
            Function::Cpu => "cpu",
            Function::Alloc => "alloc",
        }
    }

    /// Parses a catalogue name.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The default `size` argument: 64 KiB for `cpu`, 16 MiB for `alloc`.
    pub fn default_size(self) -> u32 {
        match self {
            Function::Noop => 0,
            Function::Cpu => 64,
            Function::Alloc => 16,
        }
    }

    /// The reference answer for this function.
    pub fn expected(self, size: u32, seed: u32) -> u32 {
        match self {
            Function::Noop => NOOP_VALUE,
            Function::Cpu => cpu(size, seed),
            Function::Alloc => alloc(size, seed),
        }
    }
}

impl std::fmt::Display for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The xorshift32 input stream used by `cpu`.
#[derive(Debug, Clone)]
pub struct XorShift32(u32);

impl XorShift32 {
    /// A stream seeded as the catalogue specifies.
    pub fn new(seed: u32) -> Self {
        let s = seed ^ 0x9E37_79B9;
        XorShift32(if s == 0 { 1 } else { s })
    }

    /// The next byte of the stream.
    #[inline]
    pub fn next_byte(&mut self) -> u8 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x as u8
    }
}

/// One FNV-1a step.
#[inline]
pub fn fnv1a_step(hash: u32, byte: u8) -> u32 {
    (hash ^ byte as u32).wrapping_mul(FNV_PRIME)
}

/// The `cpu` kernel: FNV-1a over `kib * 1024` xorshift bytes.
pub fn cpu(kib: u32, seed: u32) -> u32 {
    let mut rng = XorShift32::new(seed);
    let mut h = FNV_OFFSET;
    for _ in 0..(kib as u64 * 1024) {
        h = fnv1a_step(h, rng.next_byte());
    }
    h
}

/// The `alloc` kernel's answer, computed without allocating.
pub fn alloc(mib: u32, seed: u32) -> u32 {
    let pages = mib as u64 * (1 << 20) / PAGE as u64;
    let mut h = FNV_OFFSET;
    for p in 0..pages {
        let b = (p.wrapping_mul(7).wrapping_add(seed as u64) & 0xff) as u8;
        h = fnv1a_step(h, b);
    }
    h
}

/// The `alloc` kernel as guests run it: allocate, touch every page, read back. Native runners
/// use this so that the allocation really happens.
pub fn alloc_touching(mib: u32, seed: u32) -> u32 {
    let len = mib as usize * (1 << 20);
    let mut buf = vec![0u8; len];
    let mut p = 0usize;
    while p * PAGE < len {
        buf[p * PAGE] = ((p as u64).wrapping_mul(7).wrapping_add(seed as u64) & 0xff) as u8;
        p += 1;
    }
    let buf = std::hint::black_box(buf);
    let mut h = FNV_OFFSET;
    let mut p = 0usize;
    while p * PAGE < len {
        h = fnv1a_step(h, buf[p * PAGE]);
        p += 1;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values_are_stable() {
        // Pinned so that every guest implementation can be checked against the same numbers.
        assert_eq!(Function::Noop.expected(0, 0), 0x2A2A_2A2A);
        assert_eq!(cpu(0, 7), FNV_OFFSET);
        assert_eq!(alloc(0, 7), FNV_OFFSET);
        assert_eq!(alloc(1, 3), alloc_touching(1, 3));
        assert_eq!(alloc(4, 99), alloc_touching(4, 99));
        // Different seeds give different answers.
        assert_ne!(cpu(1, 1), cpu(1, 2));
    }

    #[test]
    fn names_round_trip() {
        for f in Function::ALL {
            assert_eq!(Function::from_name(f.name()), Some(f));
        }
        assert_eq!(Function::from_name("nope"), None);
    }
}
