//! The event queues' priority queue.

/// A 4-ary min-heap of small `Copy + Ord` keys (16 bytes here: `(u64, u64)` timers,
/// [`Ev`] events). Four children of 16 bytes share one 64-byte cache line,
/// so a pop touches about half as many lines as a binary heap's (the event queue is the
/// simulator's hottest structure). A radix heap was tried and lost: event times spread over
/// ~30 bits, so keys moved between too many buckets.
#[derive(Debug)]
pub struct QuadHeap<T> {
    v: Vec<T>,
}

impl<T> Default for QuadHeap<T> {
    fn default() -> Self {
        QuadHeap { v: Vec::new() }
    }
}

/// A simulator event: `key = time << 1 | kind` (start completions, kind 0, before execution
/// completions, kind 1, at equal times), then the slot or job index, so that ties resolve
/// deterministically. The comparison is on the `u64` key first, which is almost always
/// decisive, and cheaper than a `u128` comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ev {
    /// `time << 1 | kind`.
    pub key: u64,
    /// Slot or job index.
    pub idx: u32,
}

/// A heap key: a cheap strict "less than" (derived `Ord` on structs goes through
/// `Option<Ordering>` chains that cost the simulator a tenth of its instructions).
pub trait HeapKey: Copy {
    /// `self < other`.
    fn lt(&self, other: &Self) -> bool;
}

impl HeapKey for u128 {
    #[inline(always)]
    fn lt(&self, o: &Self) -> bool {
        *self < *o
    }
}

impl HeapKey for Ev {
    #[inline(always)]
    fn lt(&self, o: &Self) -> bool {
        self.key < o.key || (self.key == o.key && self.idx < o.idx)
    }
}

impl HeapKey for (u64, u64) {
    #[inline(always)]
    fn lt(&self, o: &Self) -> bool {
        self.0 < o.0 || (self.0 == o.0 && self.1 < o.1)
    }
}

impl<T: HeapKey> QuadHeap<T> {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.v.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// Adds a key.
    #[inline]
    pub fn push(&mut self, k: T) {
        let mut i = self.v.len();
        self.v.push(k);
        while i > 0 {
            let p = (i - 1) / 4;
            let pk = self.v[p];
            if !k.lt(&pk) {
                break;
            }
            self.v[i] = pk;
            i = p;
        }
        self.v[i] = k;
    }

    /// The smallest key.
    #[inline]
    pub fn peek(&self) -> Option<T> {
        self.v.first().copied()
    }

    /// Removes and returns the smallest key.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let last = self.v.pop()?;
        let n = self.v.len();
        if n == 0 {
            return Some(last);
        }
        let top = self.v[0];
        let mut i = 0;
        loop {
            let c = 4 * i + 1;
            if c >= n {
                break;
            }
            let end = (c + 4).min(n);
            let mut m = c;
            let mut mk = self.v[c];
            for j in c + 1..end {
                let kj = self.v[j];
                if kj.lt(&mk) {
                    m = j;
                    mk = kj;
                }
            }
            if !mk.lt(&last) {
                break;
            }
            self.v[i] = mk;
            i = m;
        }
        self.v[i] = last;
        Some(top)
    }
}

#[cfg(test)]
mod tests {
    use super::QuadHeap;
    use rand::{Rng, SeedableRng};

    /// Pops come out sorted.
    #[test]
    fn quad_heap_sorts() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut h = QuadHeap::<u128>::default();
        let mut reference = std::collections::BTreeSet::new();
        let mut now = 0u128;
        let mut id = 0u128;
        for _ in 0..100_000 {
            if rng.gen_bool(0.55) || h.is_empty() {
                // Future events, sometimes at the current instant (below `last` in key order).
                let t = now
                    + if rng.gen_bool(0.1) {
                        0
                    } else {
                        rng.gen_range(0..1_000_000u128)
                    };
                let k = (t << 64) | (id & 0xffff_ffff);
                id += 1;
                h.push(k);
                reference.insert(k);
            } else {
                let k = h.pop().unwrap();
                assert_eq!(Some(k), reference.pop_first());
                now = k >> 64;
            }
            assert_eq!(h.peek(), reference.first().copied());
        }
        assert_eq!(h.len(), reference.len());
    }
}
