//! The harness's own cost, measured before every run and stored with its result.
//!
//! Two figures, after hyperfine's `time_overhead` and divan's timer precision check:
//! - the timer's resolution: the smallest non-zero difference between two consecutive
//!   `Instant::now()` readings (CLOCK_MONOTONIC through the vDSO on Linux);
//! - the cost of one empty timed sample: exactly the bookkeeping the measure loop does around a
//!   backend call (two clock reads, building a sample, pushing it), with nothing inside.
//!
//! The per-sample cost is *reported*, not subtracted: subtracting a median from every sample
//! would shift the distribution by a figure of the same order as its noise.

use std::hint::black_box;
use std::time::Instant;

use unitlab_results::{Overhead, Sample, SampleKind, Summary};

/// Measures the timer and the per-sample cost with `n` empty samples.
pub fn measure(n: usize) -> Overhead {
    let mut resolution = u64::MAX;
    let mut last = Instant::now();
    let mut seen = 0;
    while seen < 1000 {
        let now = Instant::now();
        let d = now.duration_since(last).as_nanos() as u64;
        if d > 0 {
            resolution = resolution.min(d);
            seen += 1;
        }
        last = now;
    }
    let mut samples = Vec::with_capacity(n);
    let mut costs = Vec::with_capacity(n);
    for i in 0..n {
        let outer = Instant::now();
        // The loop body of crate::measure, with an empty backend call.
        let t0 = Instant::now();
        black_box(());
        let t1 = Instant::now();
        samples.push(Sample {
            kind: SampleKind::Warm,
            unit: 0,
            invoke: i as u32,
            total_ns: t1.duration_since(t0).as_nanos() as u64,
            start_ns: 0,
            invoke_ns: t1.duration_since(t0).as_nanos() as u64,
            guest_ns: None,
            verified: true,
        });
        costs.push(outer.elapsed().as_nanos() as u64);
    }
    black_box(&samples);
    let s = Summary::from_nanos(&costs);
    Overhead {
        timer_resolution_ns: resolution,
        per_sample_ns: s.p50,
        per_sample_p99_ns: s.p99,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn overhead_is_measured() {
        let o = super::measure(1000);
        assert!(o.timer_resolution_ns > 0);
        assert!(o.per_sample_ns.is_some());
        assert!(o.per_sample_p99_ns >= o.per_sample_ns);
    }
}
