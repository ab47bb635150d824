//! Summaries of raw samples: percentiles from an HDR histogram, mean and standard deviation
//! exactly, Tukey outlier counts (criterion's `tukey.rs`: label outliers, never drop them).
//!
//! The histogram keeps 3 significant digits (0.1% relative error) from 1 ns up to 1 hour; a
//! sample of 0 ns is not analysed as a time and is counted in `zero_samples` instead.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Spread of a set of durations in nanoseconds. Every figure is `None` when there is no sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Samples that measured 0 ns (below the timer's resolution), excluded from the figures.
    pub zero_samples: u64,
    /// Smallest sample.
    pub min: Option<u64>,
    /// Median.
    pub p50: Option<u64>,
    /// 90th percentile.
    pub p90: Option<u64>,
    /// 99th percentile.
    pub p99: Option<u64>,
    /// 99.9th percentile.
    pub p999: Option<u64>,
    /// Largest sample.
    pub max: Option<u64>,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Sample standard deviation (n - 1).
    pub stdev: Option<f64>,
    /// Samples beyond Tukey's outer fences (Q3 + 3 IQR or Q1 - 3 IQR): labelled, kept.
    pub severe_outliers: u64,
    /// Samples between the inner (1.5 IQR) and outer fences.
    pub mild_outliers: u64,
}

impl Summary {
    /// Summarises raw nanosecond samples.
    pub fn from_nanos(samples: &[u64]) -> Summary {
        let mut s = Summary {
            count: samples.len() as u64,
            ..Summary::default()
        };
        let nonzero: Vec<u64> = samples.iter().copied().filter(|&v| v > 0).collect();
        s.zero_samples = s.count - nonzero.len() as u64;
        if nonzero.is_empty() {
            return s;
        }
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
            .expect("static histogram bounds are valid");
        for &v in &nonzero {
            h.saturating_record(v);
        }
        // Exact extremes from the data; percentiles from the histogram.
        s.min = nonzero.iter().copied().min();
        s.max = nonzero.iter().copied().max();
        // The histogram answers with the highest value of a quantile's bucket, which can lie
        // above the largest sample when the top bucket is wide; no quantile exceeds the max.
        let max = s.max.unwrap_or(u64::MAX);
        let q = |p: f64| Some(h.value_at_quantile(p).min(max));
        s.p50 = q(0.5);
        s.p90 = q(0.9);
        s.p99 = q(0.99);
        s.p999 = q(0.999);
        let n = nonzero.len() as f64;
        let mean = nonzero.iter().map(|&v| v as f64).sum::<f64>() / n;
        s.mean = Some(mean);
        if nonzero.len() > 1 {
            let var = nonzero
                .iter()
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / (n - 1.0);
            s.stdev = Some(var.sqrt());
        }
        let (mild, severe) = tukey(&nonzero);
        s.mild_outliers = mild;
        s.severe_outliers = severe;
        s
    }
}

/// Counts (mild, severe) outliers by Tukey's fences.
fn tukey(samples: &[u64]) -> (u64, u64) {
    if samples.len() < 4 {
        return (0, 0);
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let q = |p: f64| {
        let idx = p * (sorted.len() - 1) as f64;
        let lo = idx.floor() as usize;
        let hi = idx.ceil() as usize;
        sorted[lo] as f64 + (sorted[hi] as f64 - sorted[lo] as f64) * (idx - lo as f64)
    };
    let (q1, q3) = (q(0.25), q(0.75));
    let iqr = q3 - q1;
    let (mut mild, mut severe) = (0, 0);
    for &v in &sorted {
        let v = v as f64;
        if v > q3 + 3.0 * iqr || v < q1 - 3.0 * iqr {
            severe += 1;
        } else if v > q3 + 1.5 * iqr || v < q1 - 1.5 * iqr {
            mild += 1;
        }
    }
    (mild, severe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_none_not_zero() {
        let s = Summary::from_nanos(&[]);
        assert_eq!(s.count, 0);
        assert_eq!(s.p50, None);
        assert_eq!(s.mean, None);
    }

    #[test]
    fn zero_samples_are_counted_not_analysed() {
        let s = Summary::from_nanos(&[0, 0, 100]);
        assert_eq!(s.zero_samples, 2);
        assert_eq!(s.p50, Some(100));
    }

    #[test]
    fn percentiles_of_a_ramp() {
        let v: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        let s = Summary::from_nanos(&v);
        assert_eq!(s.min, Some(1000));
        assert_eq!(s.max, Some(1_000_000));
        let p50 = s.p50.unwrap() as f64;
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.002, "{p50}");
        let p99 = s.p99.unwrap() as f64;
        assert!((p99 - 990_000.0).abs() / 990_000.0 < 0.002, "{p99}");
        assert_eq!(s.severe_outliers, 0);
    }

    #[test]
    fn outliers_are_labelled_and_kept() {
        let mut v = vec![100u64; 99];
        v.extend([101, 102, 99, 10_000]);
        let s = Summary::from_nanos(&v);
        assert_eq!(s.count, 103);
        assert_eq!(s.max, Some(10_000));
        assert!(s.severe_outliers >= 1);
    }
}
