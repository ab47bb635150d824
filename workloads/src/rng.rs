//! Seeded random numbers that give the same trace on every machine.
//!
//! Every generator draws from [`rand_chacha::ChaCha8Rng`] (a portable, specified stream
//! cipher: the same seed gives the same bits on every platform) with one *stream* per
//! purpose (arrivals, durations, each function of a mix, each minute of an Azure day), so
//! changing one part of a configuration does not shift the random numbers of another.
//!
//! The samplers are our own, written with IEEE-754 basics plus `ln`, `exp`, `sqrt`, `cos`
//! and `powf`. `sqrt` is exactly rounded everywhere; `ln`, `exp`, `cos`, `powf` come from the
//! platform's libm, which on mainstream x86-64 and aarch64 Linux/macOS gives identical results
//! for these arguments in practice but is not guaranteed to by any standard. The golden tests
//! (`tests/golden.rs`) pin the first arrivals of a seed and a hash of a whole generated file,
//! so any difference on a new platform or after a code change is caught, not silent.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Stream ids used by the generators (documented so that results can be reproduced by hand).
pub mod stream {
    /// Arrival times of a single-function generator.
    pub const ARRIVALS: u64 = 0;
    /// Execution durations.
    pub const DURATIONS: u64 = 1;
    /// On/off state changes of a Markov-modulated process.
    pub const STATES: u64 = 2;
    /// Per-function parameters of a mix (popularity, timer choice).
    pub const MIX_SETUP: u64 = 3;
    /// Thinning/thickening in `trace scale`.
    pub const SCALE: u64 = 4;
    /// First stream of per-function or per-minute streams (function or minute `i` uses
    /// `PER_ITEM + 2 * i` for arrivals and `PER_ITEM + 2 * i + 1` for durations).
    pub const PER_ITEM: u64 = 1 << 32;
}

/// A seeded random source with the samplers the generators use.
#[derive(Debug, Clone)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// The generator for `seed` and stream `stream`.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(stream);
        Rng(r)
    }

    /// Raw 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe to take the logarithm of.
    #[inline]
    pub fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// Uniform integer in [0, n) (Lemire's method without bias for n < 2^32 is not needed
    /// here: a 64-bit multiply-shift has bias below 2^-32 for the sizes used).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.0.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Exponential with the given mean (inverse CDF).
    #[inline]
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.uniform_open0().ln()
    }

    /// Standard normal (Box-Muller, one of the pair; the other is dropped for simplicity and
    /// reproducibility).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform_open0();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal: `exp(mu + sigma * N(0,1))`.
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        (mu + sigma * self.normal()).exp()
    }

    /// Pareto (type I) with scale `xm` (the minimum) and shape `alpha`.
    pub fn pareto(&mut self, xm: f64, alpha: f64) -> f64 {
        xm * self.uniform_open0().powf(-1.0 / alpha)
    }

    /// Poisson-distributed count with mean `lambda` (inversion for small means, normal
    /// approximation rounded and clamped at 0 above 500, where its error is negligible for
    /// trace synthesis).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 500.0 {
            let x = lambda + lambda.sqrt() * self.normal();
            return x.round().max(0.0) as u64;
        }
        let mut k = 0u64;
        let mut p = (-lambda).exp();
        let mut cdf = p;
        let u = self.uniform();
        while u > cdf {
            k += 1;
            p *= lambda / k as f64;
            cdf += p;
            if p == 0.0 && cdf < u {
                break;
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7, 0).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Rng::new(7, 0);
        let mut y = Rng::new(7, 1);
        assert_ne!(x.next_u64(), y.next_u64());
    }

    #[test]
    fn poisson_mean() {
        let mut r = Rng::new(1, 0);
        let n = 20_000;
        for lambda in [0.3, 4.0, 40.0, 2000.0] {
            let s: u64 = (0..n).map(|_| r.poisson(lambda)).sum();
            let mean = s as f64 / n as f64;
            // Standard error of the mean is sqrt(lambda/n); allow 5 of them.
            assert!(
                (mean - lambda).abs() < 5.0 * (lambda / n as f64).sqrt(),
                "lambda {lambda}: mean {mean}"
            );
        }
    }
}
