//! The simulator's priority queues: a 4-ary heap ([`QuadHeap`]) and, for events, a calendar
//! queue built on it ([`EventQueue`]).

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
    /// Payload, not part of the order (the simulator puts the unit slot of an execution
    /// there, to prefetch it).
    pub aux: u32,
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
        let top = std::mem::replace(&mut self.v[0], last);
        self.sift_down(0);
        Some(top)
    }
}

impl<T: HeapKey> QuadHeap<T> {
    /// Replaces the contents with `v`'s keys (in any order) and restores the heap order in
    /// O(n); returns the old buffer, emptied, so that its allocation can be reused.
    fn replace(&mut self, mut v: Vec<T>) -> Vec<T> {
        std::mem::swap(&mut self.v, &mut v);
        v.clear();
        let n = self.v.len();
        if n > 1 {
            for i in (0..=(n - 2) / 4).rev() {
                self.sift_down(i);
            }
        }
        v
    }

    #[inline]
    fn sift_down(&mut self, mut i: usize) {
        let n = self.v.len();
        let k = self.v[i];
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
            if !mk.lt(&k) {
                break;
            }
            self.v[i] = mk;
            i = m;
        }
        self.v[i] = k;
    }
}

/// Asks the CPU to start loading the cache line at `r` (a hint: no effect on results).
#[inline(always)]
pub(crate) fn prefetch_line<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never faults or
        // reads memory architecturally (any address is allowed; this one is valid anyway).
        unsafe { _mm_prefetch::<_MM_HINT_T0>((r as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// log2 of a calendar bucket's width in ns (2^18 ns = 262 us).
const BUCKET_SHIFT: u32 = 18;
/// Buckets in the calendar's ring (its "year": 2^14 buckets of 262 us, 4.3 s).
const RING: usize = 1 << 14;
const RING_MASK: u64 = RING as u64 - 1;

/// The simulator's event queue: a calendar queue (Brown, "Calendar queues", CACM 1988) in
/// front of [`QuadHeap`]s, popping [`Ev`]s in exactly the order one heap would (events are
/// unique, so any correct priority queue yields the same sequence).
///
/// Time is cut into buckets of 2^18 ns. Events of the current bucket (and any earlier one)
/// are in a small heap, `near`; events of the next 2^14 - 1 buckets sit unsorted in a ring of
/// per-bucket vectors, with a bitmap of the non-empty ones; events beyond the ring's span go to
/// a second heap, `far`. When `near` runs dry, the next non-empty bucket (ring or far) becomes
/// current: its vector is swapped into `near` and heapified in O(n), and far events now within
/// the span move to the ring. A push or pop thus costs a heap operation over one bucket's
/// events (a few, at tens of thousands of events per second) instead of over every pending
/// event, whose branchy sift-downs were half the simulator's time. A trace whose events all
/// fall in one bucket degrades gracefully to the plain heap.
///
/// The ring's vectors are random memory: a ring push only prefetches its bucket's header and
/// stages the event; staged events are written to their buckets eight at a time, and always
/// before the ring is searched. [`EventQueue::take_fresh`] hands the caller each new current
/// bucket, so that it can prefetch what those events will touch.
#[derive(Debug)]
pub struct EventQueue {
    near: QuadHeap<Ev>,
    ring: Vec<Vec<Ev>>,
    bits: Vec<u64>,
    /// Bit `w` set when `bits[w]` is non-zero: the search for the next non-empty bucket skips
    /// 64 empty words at a time (sparse traces have one event every few thousand buckets).
    words: [u64; RING / 64 / 64],
    /// Emptied bucket vectors, most recent last: an empty ring slot holds no buffer and takes
    /// the most recently used one when an event lands in it, so a sparse trace's events (one
    /// bucket in thousands) land in a cache-warm buffer instead of the slot's own, untouched
    /// since the ring last came round.
    pool: Vec<Vec<Ev>>,
    far: QuadHeap<Ev>,
    /// Current bucket number (absolute: `time >> BUCKET_SHIFT`).
    cur: u64,
    /// Events in the ring.
    in_ring: usize,
    /// A bucket was moved into `near` since [`EventQueue::take_fresh`] was last called.
    fresh: bool,
    /// Ring events not yet in their bucket: a push prefetches the bucket's header and leaves
    /// the event here; they go in, `STAGE` at a time, once the headers are in cache (and
    /// always before the ring is looked at).
    stage: [Ev; STAGE],
    staged: usize,
}

/// Ring pushes staged before they are written to their buckets.
const STAGE: usize = 8;

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            near: QuadHeap::default(),
            ring: vec![Vec::new(); RING],
            bits: vec![0; RING / 64],
            words: [0; RING / 64 / 64],
            pool: Vec::new(),
            far: QuadHeap::default(),
            cur: 0,
            in_ring: 0,
            fresh: false,
            stage: [Ev {
                key: 0,
                idx: 0,
                aux: 0,
            }; STAGE],
            staged: 0,
        }
    }
}

impl EventQueue {
    #[inline(always)]
    fn bucket(e: &Ev) -> u64 {
        e.key >> (BUCKET_SHIFT + 1)
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.near.len() + self.in_ring + self.staged + self.far.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds an event.
    #[inline]
    pub fn push(&mut self, e: Ev) {
        let b = Self::bucket(&e);
        if b <= self.cur {
            self.near.push(e);
        } else if b - self.cur < RING as u64 {
            prefetch_line(&self.ring[(b & RING_MASK) as usize]);
            self.stage[self.staged] = e;
            self.staged += 1;
            if self.staged == STAGE {
                self.flush();
            }
        } else {
            self.far.push(e);
        }
    }

    /// The smallest event (`&mut`: it may move the next bucket into view).
    #[inline]
    pub fn peek(&mut self) -> Option<Ev> {
        if let Some(e) = self.near.peek() {
            return Some(e);
        }
        self.advance();
        self.near.peek()
    }

    /// Removes and returns the smallest event.
    #[inline]
    pub fn pop(&mut self) -> Option<Ev> {
        if self.near.is_empty() {
            self.advance();
        }
        self.near.pop()
    }

    /// The events of the bucket that became current since the last call, if one did (in heap
    /// order, not sorted): the caller can prefetch what they will touch, a bucket ahead.
    #[inline]
    pub fn take_fresh(&mut self) -> Option<&[Ev]> {
        if !self.fresh {
            return None;
        }
        self.fresh = false;
        Some(&self.near.v)
    }

    /// Moves the staged events into their buckets.
    #[inline]
    fn flush(&mut self) {
        for k in 0..self.staged {
            let e = self.stage[k];
            let i = (Self::bucket(&e) & RING_MASK) as usize;
            if self.ring[i].capacity() == 0 {
                if let Some(v) = self.pool.pop() {
                    self.ring[i] = v;
                }
            }
            self.ring[i].push(e);
            self.bits[i / 64] |= 1 << (i % 64);
            self.words[i / 4096] |= 1 << ((i / 64) % 64);
        }
        self.in_ring += self.staged;
        self.staged = 0;
    }

    /// The ring's next non-empty bucket after the current one, as an absolute bucket number.
    fn next_in_ring(&self) -> Option<u64> {
        if self.in_ring == 0 {
            return None;
        }
        let start = ((self.cur + 1) & RING_MASK) as usize;
        let found = |w: usize, m: u64| {
            let i = w * 64 + m.trailing_zeros() as usize;
            let d = (i as u64).wrapping_sub(start as u64) & RING_MASK;
            self.cur + 1 + d
        };
        let w0 = start / 64;
        let m = self.bits[w0] & (!0u64 << (start % 64));
        if m != 0 {
            return Some(found(w0, m));
        }
        // The next non-empty word after w0, going round (w0's own low bits last).
        let n = self.words.len();
        let (s0, b0) = ((w0 + 1) / 64 % n, (w0 + 1) % 64);
        let mut sw = s0;
        let mut sm = self.words[s0] & (!0u64 << b0);
        for _ in 0..=n {
            if sm != 0 {
                let w = sw * 64 + sm.trailing_zeros() as usize;
                return Some(found(w, self.bits[w]));
            }
            sw = (sw + 1) % n;
            sm = self.words[sw];
        }
        unreachable!("in_ring > 0 but no bucket bit is set")
    }

    /// `near` is empty: make the next non-empty bucket current.
    #[inline(never)]
    fn advance(&mut self) {
        self.flush();
        let ring = self.next_in_ring();
        let far = self.far.peek().map(|e| Self::bucket(&e));
        let b = match (ring, far) {
            (Some(r), Some(f)) => r.min(f),
            (Some(r), None) => r,
            (None, Some(f)) => f,
            (None, None) => return,
        };
        self.cur = b;
        if ring == Some(b) {
            let i = (b & RING_MASK) as usize;
            self.bits[i / 64] &= !(1 << (i % 64));
            if self.bits[i / 64] == 0 {
                self.words[i / 4096] &= !(1 << ((i / 64) % 64));
            }
            let v = std::mem::take(&mut self.ring[i]);
            self.in_ring -= v.len();
            let drained = self.near.replace(v);
            if drained.capacity() > 0 {
                self.pool.push(drained);
            }
            self.fresh = true;
        }
        // Far events now within the ring's span (or in the current bucket) move in.
        while let Some(e) = self.far.peek() {
            if Self::bucket(&e) - b >= RING as u64 {
                break;
            }
            self.far.pop();
            self.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Ev, EventQueue, QuadHeap};
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

    /// The calendar queue pops exactly what a sorted set would, with event times spread
    /// from the current bucket to far beyond the ring's span, and bursts at one instant.
    #[test]
    fn event_queue_sorts() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut q = EventQueue::default();
        let mut reference = std::collections::BTreeSet::new();
        let mut now = 0u64;
        let mut idx = 0u32;
        for step in 0..300_000 {
            let push = rng.gen_bool(0.55) || reference.is_empty();
            if push {
                let d = match rng.gen_range(0..10) {
                    0 => 0,
                    1..=5 => rng.gen_range(0..1_000_000u64),
                    6..=8 => rng.gen_range(0..2_000_000_000u64),
                    _ => rng.gen_range(0..200_000_000_000u64),
                };
                // Sometimes equal keys with different indices.
                let e = Ev {
                    key: (now + d) << 1 | rng.gen_range(0..2u64),
                    idx: if step % 7 == 0 { 0 } else { idx },
                    aux: 0,
                };
                idx += 1;
                if reference.insert((e.key, e.idx)) {
                    q.push(e);
                }
            } else {
                let e = q.pop().unwrap();
                assert_eq!(Some((e.key, e.idx)), reference.pop_first());
                now = e.key >> 1;
            }
            assert_eq!(q.peek().map(|e| (e.key, e.idx)), reference.first().copied());
            assert_eq!(q.len(), reference.len());
        }
        while let Some(e) = q.pop() {
            assert_eq!(Some((e.key, e.idx)), reference.pop_first());
        }
        assert!(reference.is_empty());
    }

    /// Sparse events (a few pending, seconds apart): the next non-empty bucket is found across
    /// long runs of empty words, round the ring's end, and back in the current word's low bits.
    #[test]
    fn event_queue_sorts_sparse() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut q = EventQueue::default();
        let mut reference = std::collections::BTreeSet::new();
        let mut now = 0u64;
        for idx in 0..200_000u32 {
            if reference.len() < 3 && (rng.gen_bool(0.6) || reference.is_empty()) {
                let d = rng.gen_range(0..6_000_000_000u64);
                let e = Ev {
                    key: (now + d) << 1,
                    idx,
                    aux: 0,
                };
                reference.insert((e.key, e.idx));
                q.push(e);
            } else {
                let e = q.pop().unwrap();
                assert_eq!(Some((e.key, e.idx)), reference.pop_first());
                now = e.key >> 1;
            }
            assert_eq!(q.peek().map(|e| (e.key, e.idx)), reference.first().copied());
        }
    }
}
