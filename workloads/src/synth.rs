//! Seeded synthetic arrival processes.
//!
//! Every generator is a [`Synthetic`] stream: one or more functions, each with its own
//! arrival process, merged in arrival order (ties broken by function id). Times are computed
//! in f64 seconds and rounded to whole nanoseconds on output. Same seed and parameters give
//! the same invocations, bit for bit (see [`crate::rng`] for what that rests on).
//!
//! Processes (all rates in invocations per second, all times in seconds):
//! - [`Process::Poisson`]: exponential inter-arrivals; inter-arrival CV = 1.
//! - [`Process::OnOff`]: a two-state Markov-modulated Poisson process (MMPP-2). The state
//!   alternates between *on* (burst, rate `rate_on`) and *off* (rate `rate_off`), each state
//!   lasting an exponential time with mean `mean_on_s` / `mean_off_s`; the long-run fraction
//!   of time in bursts is `mean_on_s / (mean_on_s + mean_off_s)`. The initial state is drawn
//!   from that stationary distribution. The state sequence uses its own random stream, so
//!   [`OnOff::periods`] reproduces it exactly (used by the tests).
//! - [`Process::Diurnal`]: a non-homogeneous Poisson process with rate
//!   `mean_rate * (1 + amplitude * sin(2*pi*(t - peak_s)/period_s + pi/2))`, i.e. a sinusoid
//!   whose maximum `mean_rate * (1 + amplitude)` falls at `t = peak_s` (mod period). Drawn
//!   by thinning (Lewis & Shedler 1979).
//! - [`Process::FlashCrowd`]: rate `base_rate` everywhere except a spike that ramps linearly
//!   from `base_rate` to `peak_rate` over `ramp_s` starting at `start_s`, holds `peak_rate`
//!   for `hold_s`, then falls linearly back to `base_rate` over `decay_s`. Thinning with a
//!   piecewise bound (the base rate outside the spike), so a tall spike costs nothing outside
//!   it.
//! - [`Process::Pareto`]: a renewal process whose inter-arrivals are Pareto(type I) with
//!   shape `shape` (> 1) and scale chosen so the mean rate is `rate`:
//!   `xm = (shape - 1) / (shape * rate)`. CV = `1/sqrt(shape*(shape-2))` for shape > 2,
//!   infinite otherwise.
//! - [`Process::LogNormal`]: a renewal process with log-normal inter-arrivals of shape
//!   `sigma` and mean `1/rate` (`mu = -ln(rate) - sigma^2/2`); CV = `sqrt(exp(sigma^2) - 1)`.
//! - [`Process::Periodic`]: a timer: the k-th arrival (k = 0, 1, ...) at
//!   `offset_s + k*period_s + U*jitter_s`, U uniform in [0, 1), `jitter_s <= period_s` (so
//!   arrivals stay ordered).
//!
//! [`Mix`] spreads a total rate over many functions by a heavy-tailed popularity law
//! ([`Popularity::Zipf`] or [`Popularity::LogNormal`]), like the Azure 2019 trace where a few
//! functions carry almost all requests, and gives each function a Poisson, on/off or timer
//! process.
//!
//! Random streams (see [`crate::rng::stream`]): function `i` of a generator uses streams
//! `PER_ITEM + 4i` (arrivals), `+1` (durations), `+2` (on/off states); the mix's set-up
//! draws use `MIX_SETUP` (popularity), `MIX_SETUP + 2^20` (duration scales) and
//! `MIX_SETUP + 2^21` (timer choice and phase).

use crate::durations::DurationDist;
use crate::rng::{stream, Rng};
use crate::trace::{Invocation, TraceMeta, TraceStream};
use crate::TraceError;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::f64::consts::{FRAC_PI_2, TAU};

/// Parameters of a two-state on/off (MMPP-2) process. Rates per second, times in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnOff {
    /// Rate while in a burst (invocations/s, >= 0).
    pub rate_on: f64,
    /// Rate between bursts (invocations/s, >= 0).
    pub rate_off: f64,
    /// Mean burst length (s, > 0).
    pub mean_on_s: f64,
    /// Mean gap between bursts (s, > 0).
    pub mean_off_s: f64,
}

impl OnOff {
    /// Long-run fraction of time spent in bursts.
    pub fn on_fraction(&self) -> f64 {
        self.mean_on_s / (self.mean_on_s + self.mean_off_s)
    }

    /// Long-run mean rate (invocations/s).
    pub fn mean_rate(&self) -> f64 {
        let p = self.on_fraction();
        p * self.rate_on + (1.0 - p) * self.rate_off
    }

    /// The burst periods `[start, end)` (seconds) that function `function` of a generator
    /// seeded with `seed` goes through up to `span_s`: exactly the sequence the generator
    /// uses.
    pub fn periods(&self, seed: u64, function: u32, span_s: f64) -> Vec<(f64, f64)> {
        let mut st = States::new(*self, Rng::new(seed, fn_stream(function, 2)));
        let mut out = Vec::new();
        while st.start < span_s {
            if st.on {
                out.push((st.start, st.end.min(span_s)));
            }
            st.advance();
        }
        out
    }
}

/// Parameters of a flash crowd: a spike over a baseline. Rates per second, times in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlashCrowd {
    /// Baseline rate (invocations/s, >= 0).
    pub base_rate: f64,
    /// Rate at the top of the spike (invocations/s, >= 0).
    pub peak_rate: f64,
    /// When the ramp up starts (s since trace start).
    pub start_s: f64,
    /// Length of the linear ramp up (s, >= 0).
    pub ramp_s: f64,
    /// How long the peak rate holds (s, >= 0).
    pub hold_s: f64,
    /// Length of the linear fall back to the baseline (s, >= 0).
    pub decay_s: f64,
}

impl FlashCrowd {
    /// The rate at time `t` (s).
    pub fn rate(&self, t: f64) -> f64 {
        let (b, p) = (self.base_rate, self.peak_rate);
        let t1 = self.start_s + self.ramp_s;
        let t2 = t1 + self.hold_s;
        let t3 = t2 + self.decay_s;
        if t < self.start_s || t >= t3 {
            b
        } else if t < t1 {
            b + (p - b) * (t - self.start_s) / self.ramp_s
        } else if t < t2 {
            p
        } else {
            p + (b - p) * (t - t2) / self.decay_s
        }
    }
}

/// One arrival process (see the module docs for each one's definition and units).
#[derive(Debug, Clone, PartialEq)]
pub enum Process {
    /// Poisson with `rate` invocations/s.
    Poisson {
        /// Invocations per second (> 0).
        rate: f64,
    },
    /// Two-state Markov-modulated Poisson (on/off bursts).
    OnOff(OnOff),
    /// Sinusoidal rate.
    Diurnal {
        /// Mean rate (invocations/s, > 0).
        mean_rate: f64,
        /// Relative amplitude in [0, 1]: the rate swings between `mean*(1-a)` and `mean*(1+a)`.
        amplitude: f64,
        /// Period (s, > 0); 86400 for a day.
        period_s: f64,
        /// Time of the peak (s, mod period).
        peak_s: f64,
    },
    /// A spike over a baseline.
    FlashCrowd(FlashCrowd),
    /// Renewal process with Pareto inter-arrivals.
    Pareto {
        /// Mean rate (invocations/s, > 0).
        rate: f64,
        /// Pareto shape alpha (> 1; the variance is infinite for alpha <= 2).
        shape: f64,
    },
    /// Renewal process with log-normal inter-arrivals.
    LogNormal {
        /// Mean rate (invocations/s, > 0).
        rate: f64,
        /// Standard deviation of ln(inter-arrival) (> 0).
        sigma: f64,
    },
    /// A timer with jitter.
    Periodic {
        /// Period (s, > 0).
        period_s: f64,
        /// Jitter (s, in [0, period_s]): each firing is delayed by U[0, jitter).
        jitter_s: f64,
        /// Time of the first firing before jitter (s, >= 0).
        offset_s: f64,
    },
}

impl Process {
    /// The pattern's name as used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Process::Poisson { .. } => "poisson",
            Process::OnOff(_) => "onoff",
            Process::Diurnal { .. } => "diurnal",
            Process::FlashCrowd(_) => "flash-crowd",
            Process::Pareto { .. } => "pareto",
            Process::LogNormal { .. } => "lognormal",
            Process::Periodic { .. } => "periodic",
        }
    }

    /// Long-run mean rate (invocations/s); for a flash crowd, the baseline.
    pub fn mean_rate(&self) -> f64 {
        match self {
            Process::Poisson { rate } => *rate,
            Process::OnOff(o) => o.mean_rate(),
            Process::Diurnal { mean_rate, .. } => *mean_rate,
            Process::FlashCrowd(f) => f.base_rate,
            Process::Pareto { rate, .. } | Process::LogNormal { rate, .. } => *rate,
            Process::Periodic { period_s, .. } => 1.0 / period_s,
        }
    }

    /// Checks every parameter's range; the error names the parameter and the valid range.
    pub fn validate(&self) -> Result<(), TraceError> {
        fn pos(name: &str, v: f64) -> Result<(), TraceError> {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(TraceError::param(
                    name,
                    format!("must be > 0 and finite, got {v}"),
                ))
            }
        }
        fn nonneg(name: &str, v: f64) -> Result<(), TraceError> {
            if v >= 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(TraceError::param(
                    name,
                    format!("must be >= 0 and finite, got {v}"),
                ))
            }
        }
        match self {
            Process::Poisson { rate } => pos("rate", *rate),
            Process::OnOff(o) => {
                nonneg("rate-on", o.rate_on)?;
                nonneg("rate-off", o.rate_off)?;
                pos("mean-on", o.mean_on_s)?;
                pos("mean-off", o.mean_off_s)?;
                if o.rate_on + o.rate_off == 0.0 {
                    return Err(TraceError::param(
                        "rate-on",
                        "rate-on and rate-off cannot both be 0",
                    ));
                }
                Ok(())
            }
            Process::Diurnal {
                mean_rate,
                amplitude,
                period_s,
                peak_s,
            } => {
                pos("rate", *mean_rate)?;
                pos("period", *period_s)?;
                nonneg("peak", *peak_s)?;
                if !(0.0..=1.0).contains(amplitude) {
                    return Err(TraceError::param(
                        "amplitude",
                        format!("must be in [0, 1], got {amplitude}"),
                    ));
                }
                Ok(())
            }
            Process::FlashCrowd(f) => {
                nonneg("base-rate", f.base_rate)?;
                nonneg("peak-rate", f.peak_rate)?;
                nonneg("start", f.start_s)?;
                nonneg("ramp", f.ramp_s)?;
                nonneg("hold", f.hold_s)?;
                nonneg("decay", f.decay_s)?;
                if f.base_rate.max(f.peak_rate) == 0.0 {
                    return Err(TraceError::param(
                        "peak-rate",
                        "base-rate and peak-rate cannot both be 0",
                    ));
                }
                Ok(())
            }
            Process::Pareto { rate, shape } => {
                pos("rate", *rate)?;
                if !(*shape > 1.0 && shape.is_finite()) {
                    return Err(TraceError::param(
                        "shape",
                        format!("must be > 1 (the mean is infinite otherwise), got {shape}"),
                    ));
                }
                Ok(())
            }
            Process::LogNormal { rate, sigma } => {
                pos("rate", *rate)?;
                pos("sigma", *sigma)
            }
            Process::Periodic {
                period_s,
                jitter_s,
                offset_s,
            } => {
                pos("period", *period_s)?;
                nonneg("offset", *offset_s)?;
                if !(*jitter_s >= 0.0 && jitter_s <= period_s) {
                    return Err(TraceError::param(
                        "jitter",
                        format!("must be in [0, period] = [0, {period_s}] s, got {jitter_s}"),
                    ));
                }
                Ok(())
            }
        }
    }
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Process::Poisson { rate } => write!(f, "poisson rate={rate}/s"),
            Process::OnOff(o) => write!(
                f,
                "onoff rate-on={}/s rate-off={}/s mean-on={}s mean-off={}s",
                o.rate_on, o.rate_off, o.mean_on_s, o.mean_off_s
            ),
            Process::Diurnal {
                mean_rate,
                amplitude,
                period_s,
                peak_s,
            } => write!(
                f,
                "diurnal rate={mean_rate}/s amplitude={amplitude} period={period_s}s peak={peak_s}s"
            ),
            Process::FlashCrowd(c) => write!(
                f,
                "flash-crowd base-rate={}/s peak-rate={}/s start={}s ramp={}s hold={}s decay={}s",
                c.base_rate, c.peak_rate, c.start_s, c.ramp_s, c.hold_s, c.decay_s
            ),
            Process::Pareto { rate, shape } => write!(f, "pareto rate={rate}/s shape={shape}"),
            Process::LogNormal { rate, sigma } => {
                write!(f, "lognormal rate={rate}/s sigma={sigma}")
            }
            Process::Periodic {
                period_s,
                jitter_s,
                offset_s,
            } => write!(
                f,
                "periodic period={period_s}s jitter={jitter_s}s offset={offset_s}s"
            ),
        }
    }
}

fn fn_stream(function: u32, k: u64) -> u64 {
    stream::PER_ITEM + 4 * function as u64 + k
}

/// On/off state sequence.
#[derive(Debug, Clone)]
struct States {
    p: OnOff,
    rng: Rng,
    on: bool,
    start: f64,
    end: f64,
}

impl States {
    fn new(p: OnOff, mut rng: Rng) -> Self {
        let on = rng.uniform() < p.on_fraction();
        let mean = if on { p.mean_on_s } else { p.mean_off_s };
        let end = rng.exp(mean);
        States {
            p,
            rng,
            on,
            start: 0.0,
            end,
        }
    }
    fn advance(&mut self) {
        self.on = !self.on;
        self.start = self.end;
        let mean = if self.on {
            self.p.mean_on_s
        } else {
            self.p.mean_off_s
        };
        self.end = self.start + self.rng.exp(mean);
    }
    fn rate(&self) -> f64 {
        if self.on {
            self.p.rate_on
        } else {
            self.p.rate_off
        }
    }
}

/// The running state of one function's arrival process.
#[derive(Debug, Clone)]
enum Arrivals {
    Poisson {
        mean_gap: f64,
        t: f64,
        rng: Rng,
    },
    OnOff {
        states: Box<States>,
        t: f64,
        rng: Rng,
    },
    Diurnal {
        mean: f64,
        amp: f64,
        period: f64,
        peak: f64,
        t: f64,
        rng: Rng,
    },
    Flash {
        p: FlashCrowd,
        t: f64,
        rng: Rng,
    },
    Pareto {
        xm: f64,
        shape: f64,
        t: f64,
        rng: Rng,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
        t: f64,
        rng: Rng,
    },
    Periodic {
        period: f64,
        jitter: f64,
        offset: f64,
        k: u64,
        rng: Rng,
    },
}

impl Arrivals {
    fn new(p: &Process, seed: u64, function: u32) -> Self {
        let rng = Rng::new(seed, fn_stream(function, 0));
        match *p {
            Process::Poisson { rate } => Arrivals::Poisson {
                mean_gap: 1.0 / rate,
                t: 0.0,
                rng,
            },
            Process::OnOff(o) => Arrivals::OnOff {
                states: Box::new(States::new(o, Rng::new(seed, fn_stream(function, 2)))),
                t: 0.0,
                rng,
            },
            Process::Diurnal {
                mean_rate,
                amplitude,
                period_s,
                peak_s,
            } => Arrivals::Diurnal {
                mean: mean_rate,
                amp: amplitude,
                period: period_s,
                peak: peak_s,
                t: 0.0,
                rng,
            },
            Process::FlashCrowd(p) => Arrivals::Flash { p, t: 0.0, rng },
            Process::Pareto { rate, shape } => Arrivals::Pareto {
                xm: (shape - 1.0) / (shape * rate),
                shape,
                t: 0.0,
                rng,
            },
            Process::LogNormal { rate, sigma } => Arrivals::LogNormal {
                mu: -rate.ln() - sigma * sigma / 2.0,
                sigma,
                t: 0.0,
                rng,
            },
            Process::Periodic {
                period_s,
                jitter_s,
                offset_s,
            } => Arrivals::Periodic {
                period: period_s,
                jitter: jitter_s,
                offset: offset_s,
                k: 0,
                rng,
            },
        }
    }

    /// The next arrival time in seconds, or None once past `span`.
    fn next(&mut self, span: f64) -> Option<f64> {
        let t = match self {
            Arrivals::Poisson { mean_gap, t, rng } => {
                *t += rng.exp(*mean_gap);
                *t
            }
            Arrivals::OnOff { states, t, rng } => loop {
                if *t < states.start {
                    *t = states.start;
                }
                if *t >= span {
                    return None;
                }
                let r = states.rate();
                if r > 0.0 {
                    let c = *t + rng.exp(1.0 / r);
                    if c < states.end {
                        *t = c;
                        break c;
                    }
                }
                // No arrival left in this state: by memorylessness, restart at its end.
                *t = states.end;
                states.advance();
            },
            Arrivals::Diurnal {
                mean,
                amp,
                period,
                peak,
                t,
                rng,
            } => {
                let max = *mean * (1.0 + *amp);
                loop {
                    *t += rng.exp(1.0 / max);
                    if *t >= span {
                        return None;
                    }
                    let rate =
                        *mean * (1.0 + *amp * (TAU * (*t - *peak) / *period + FRAC_PI_2).sin());
                    if rng.uniform() * max < rate {
                        break *t;
                    }
                }
            }
            Arrivals::Flash { p, t, rng } => loop {
                // Piecewise bound: the base rate outside the spike, max(base, peak) inside.
                let spike_end = p.start_s + p.ramp_s + p.hold_s + p.decay_s;
                let (bound, until) = if *t < p.start_s {
                    (p.base_rate, p.start_s)
                } else if *t < spike_end {
                    (p.base_rate.max(p.peak_rate), spike_end)
                } else {
                    (p.base_rate, f64::INFINITY)
                };
                if *t >= span {
                    return None;
                }
                if bound <= 0.0 {
                    *t = until;
                    continue;
                }
                let c = *t + rng.exp(1.0 / bound);
                if c >= until {
                    *t = until;
                    continue;
                }
                *t = c;
                if c >= span {
                    return None;
                }
                if rng.uniform() * bound < p.rate(c) {
                    break c;
                }
            },
            Arrivals::Pareto { xm, shape, t, rng } => {
                *t += rng.pareto(*xm, *shape);
                *t
            }
            Arrivals::LogNormal { mu, sigma, t, rng } => {
                *t += rng.lognormal(*mu, *sigma);
                *t
            }
            Arrivals::Periodic {
                period,
                jitter,
                offset,
                k,
                rng,
            } => {
                let t = *offset + *k as f64 * *period + rng.uniform() * *jitter;
                *k += 1;
                t
            }
        };
        (t < span).then_some(t)
    }
}

/// How a [`Mix`] spreads its total rate over functions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Popularity {
    /// Function `i` (0-based) gets a share proportional to `(i+1)^-exponent` (Zipf law).
    Zipf {
        /// Zipf exponent s (>= 0; 0 = all equal, ~1 = strongly skewed).
        exponent: f64,
    },
    /// Shares proportional to independent log-normal draws `exp(sigma * N(0,1))`, sorted so
    /// function 0 is the most popular. The Azure 2019 trace's per-function daily counts are
    /// close to log-normal over 8 orders of magnitude (sigma around 4 in ln units).
    LogNormal {
        /// Standard deviation of ln(share) (> 0).
        sigma: f64,
    },
}

/// Each function's arrival process in a [`Mix`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MixProcess {
    /// Poisson at the function's rate.
    Poisson,
    /// On/off bursts: no arrivals off, `rate / on_fraction` during bursts, so the mean rate
    /// is the function's share.
    OnOff {
        /// Fraction of time in bursts (0, 1].
        on_fraction: f64,
        /// Mean burst length (s, > 0).
        mean_on_s: f64,
    },
}

/// Many functions with heavy-tailed popularity. Rates per second.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    /// Number of functions (>= 1).
    pub functions: u32,
    /// Total rate over all functions (invocations/s, > 0).
    pub total_rate: f64,
    /// How the total rate is shared.
    pub popularity: Popularity,
    /// The non-timer functions' process.
    pub process: MixProcess,
    /// Fraction of functions (chosen at random) that are timers instead: periodic at their
    /// share's rate with 10% jitter and a random phase. In [0, 1].
    pub timer_fraction: f64,
    /// Each function's durations are the common distribution scaled by
    /// `exp(function_duration_sigma * N(0,1))` (0 = all functions alike).
    pub function_duration_sigma: f64,
}

impl Mix {
    /// Each function's rate (invocations/s), in function-id order.
    pub fn rates(&self, seed: u64) -> Vec<f64> {
        let n = self.functions as usize;
        let mut w: Vec<f64> = match self.popularity {
            Popularity::Zipf { exponent } => {
                (0..n).map(|i| ((i + 1) as f64).powf(-exponent)).collect()
            }
            Popularity::LogNormal { sigma } => {
                let mut r = Rng::new(seed, stream::MIX_SETUP);
                let mut w: Vec<f64> = (0..n).map(|_| r.lognormal(0.0, sigma)).collect();
                w.sort_by(|a, b| b.total_cmp(a));
                w
            }
        };
        let sum: f64 = w.iter().sum();
        for x in &mut w {
            *x *= self.total_rate / sum;
        }
        w
    }

    fn validate(&self) -> Result<(), TraceError> {
        if self.functions == 0 {
            return Err(TraceError::param("functions", "must be >= 1"));
        }
        if !(self.total_rate > 0.0 && self.total_rate.is_finite()) {
            return Err(TraceError::param(
                "rate",
                format!("must be > 0, got {}", self.total_rate),
            ));
        }
        match self.popularity {
            Popularity::Zipf { exponent } if !(exponent >= 0.0 && exponent.is_finite()) => {
                return Err(TraceError::param(
                    "zipf",
                    format!("must be >= 0, got {exponent}"),
                ))
            }
            Popularity::LogNormal { sigma } if !(sigma > 0.0 && sigma.is_finite()) => {
                return Err(TraceError::param(
                    "popularity-sigma",
                    format!("must be > 0, got {sigma}"),
                ))
            }
            _ => {}
        }
        if let MixProcess::OnOff {
            on_fraction,
            mean_on_s,
        } = self.process
        {
            if !(on_fraction > 0.0 && on_fraction <= 1.0) {
                return Err(TraceError::param(
                    "on-fraction",
                    format!("must be in (0, 1], got {on_fraction}"),
                ));
            }
            if !(mean_on_s > 0.0 && mean_on_s.is_finite()) {
                return Err(TraceError::param(
                    "mean-on",
                    format!("must be > 0, got {mean_on_s}"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.timer_fraction) {
            return Err(TraceError::param(
                "timer-fraction",
                format!("must be in [0, 1], got {}", self.timer_fraction),
            ));
        }
        if !(self.function_duration_sigma >= 0.0 && self.function_duration_sigma.is_finite()) {
            return Err(TraceError::param("function-duration-sigma", "must be >= 0"));
        }
        Ok(())
    }

    /// Each function's process (after the timer choice).
    pub fn processes(&self, seed: u64) -> Vec<Process> {
        let rates = self.rates(seed);
        let mut r = Rng::new(seed, stream::MIX_SETUP + (2 << 20));
        rates
            .iter()
            .map(|&rate| {
                let timer = r.uniform() < self.timer_fraction;
                let phase = r.uniform();
                if timer {
                    let period = 1.0 / rate;
                    Process::Periodic {
                        period_s: period,
                        jitter_s: 0.1 * period,
                        offset_s: phase * period,
                    }
                } else {
                    match self.process {
                        MixProcess::Poisson => Process::Poisson { rate },
                        MixProcess::OnOff {
                            on_fraction,
                            mean_on_s,
                        } if on_fraction < 1.0 => Process::OnOff(OnOff {
                            rate_on: rate / on_fraction,
                            rate_off: 0.0,
                            mean_on_s,
                            mean_off_s: mean_on_s * (1.0 - on_fraction) / on_fraction,
                        }),
                        MixProcess::OnOff { .. } => Process::Poisson { rate },
                    }
                }
            })
            .collect()
    }
}

/// Seed, span and per-invocation attributes shared by every generator.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Seed of every random stream.
    pub seed: u64,
    /// Length of the trace (s, > 0): arrivals fall in [0, span).
    pub span_s: f64,
    /// Execution durations.
    pub durations: DurationDist,
    /// Memory of every invocation (bytes), if any.
    pub memory_bytes: Option<u64>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 0,
            span_s: 60.0,
            durations: DurationDist::None,
            memory_bytes: None,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// One function with one process.
    Single(Process),
    /// Many functions with heavy-tailed popularity.
    Mix(Mix),
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pattern::Single(p) => write!(f, "{p}"),
            Pattern::Mix(m) => {
                write!(f, "mix functions={} rate={}/s ", m.functions, m.total_rate)?;
                match m.popularity {
                    Popularity::Zipf { exponent } => write!(f, "zipf={exponent} ")?,
                    Popularity::LogNormal { sigma } => write!(f, "popularity-sigma={sigma} ")?,
                }
                match m.process {
                    MixProcess::Poisson => write!(f, "process=poisson ")?,
                    MixProcess::OnOff {
                        on_fraction,
                        mean_on_s,
                    } => write!(
                        f,
                        "process=onoff on-fraction={on_fraction} mean-on={mean_on_s}s "
                    )?,
                }
                write!(
                    f,
                    "timer-fraction={} function-duration-sigma={}",
                    m.timer_fraction, m.function_duration_sigma
                )
            }
        }
    }
}

#[derive(Debug, Clone)]
struct FnGen {
    arrivals: Arrivals,
    dur_rng: Rng,
    dur_scale: f64,
}

/// A synthetic trace stream (see the module docs).
#[derive(Debug, Clone)]
pub struct Synthetic {
    meta: TraceMeta,
    fns: Vec<FnGen>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    span_s: f64,
    durations: DurationDist,
    memory_bytes: Option<u64>,
}

/// Function names `f0`, `f1`, ... zero-padded to the same width.
pub fn function_names(n: u32) -> Vec<String> {
    let width = (n.max(1) - 1).to_string().len();
    (0..n).map(|i| format!("f{i:0width$}")).collect()
}

impl Synthetic {
    /// A generator; errors name the invalid parameter and its valid range.
    pub fn new(pattern: &Pattern, config: &GenConfig) -> Result<Self, TraceError> {
        if !(config.span_s > 0.0 && config.span_s.is_finite()) {
            return Err(TraceError::param(
                "span",
                format!("must be > 0, got {} s", config.span_s),
            ));
        }
        let seed = config.seed;
        let (processes, scales) = match pattern {
            Pattern::Single(p) => {
                p.validate()?;
                (vec![p.clone()], vec![1.0])
            }
            Pattern::Mix(m) => {
                m.validate()?;
                let procs = m.processes(seed);
                let mut r = Rng::new(seed, stream::MIX_SETUP + (1 << 20));
                let scales = (0..m.functions)
                    .map(|_| {
                        if m.function_duration_sigma > 0.0 {
                            r.lognormal(0.0, m.function_duration_sigma)
                        } else {
                            1.0
                        }
                    })
                    .collect();
                (procs, scales)
            }
        };
        let n = processes.len() as u32;
        let fns: Vec<FnGen> = processes
            .iter()
            .zip(scales)
            .enumerate()
            .map(|(i, (p, s))| FnGen {
                arrivals: Arrivals::new(p, seed, i as u32),
                dur_rng: Rng::new(seed, fn_stream(i as u32, 1)),
                dur_scale: s,
            })
            .collect();
        let mut g = Synthetic {
            meta: TraceMeta {
                functions: function_names(n),
                source: format!(
                    "synthetic {pattern} span={}s durations={} memory={}",
                    config.span_s,
                    config.durations,
                    config
                        .memory_bytes
                        .map(|b| format!("{b}B"))
                        .unwrap_or_else(|| "none".into())
                ),
                seed: Some(seed),
                span_ns: Some(crate::units::s_to_ns(config.span_s)),
            },
            heap: BinaryHeap::with_capacity(fns.len()),
            fns,
            span_s: config.span_s,
            durations: config.durations.clone(),
            memory_bytes: config.memory_bytes,
        };
        for i in 0..n {
            g.refill(i);
        }
        Ok(g)
    }

    fn refill(&mut self, i: u32) {
        if let Some(t) = self.fns[i as usize].arrivals.next(self.span_s) {
            self.heap.push(Reverse((crate::units::s_to_ns(t), i)));
        }
    }
}

impl Iterator for Synthetic {
    type Item = Result<Invocation, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((arrival_ns, f)) = self.heap.pop()?;
        let g = &mut self.fns[f as usize];
        let duration_ns = self.durations.sample(&mut g.dur_rng).map(|d| {
            if g.dur_scale == 1.0 {
                d
            } else {
                (d as f64 * g.dur_scale).round() as u64
            }
        });
        self.refill(f);
        Some(Ok(Invocation {
            arrival_ns,
            function: f,
            duration_ns,
            memory_bytes: self.memory_bytes,
        }))
    }
}

impl TraceStream for Synthetic {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

/// The default bursty workload of the main job: 10 minutes of 20 functions sharing 20
/// invocations/s by a Zipf(1.0) law; each function bursts on/off (in bursts 20% of the time,
/// mean burst 15 s, silent between bursts) except ~10% that are timers; durations log-normal
/// with median 50 ms and sigma 1.0, each function's scaled by exp(0.5 N(0,1)); memory 128 MiB.
pub fn default_bursty(seed: u64) -> Synthetic {
    let (pattern, config) = default_bursty_config(seed);
    Synthetic::new(&pattern, &config).expect("default parameters are valid")
}

/// The pattern and configuration behind [`default_bursty`].
pub fn default_bursty_config(seed: u64) -> (Pattern, GenConfig) {
    (
        Pattern::Mix(Mix {
            functions: 20,
            total_rate: 20.0,
            popularity: Popularity::Zipf { exponent: 1.0 },
            process: MixProcess::OnOff {
                on_fraction: 0.2,
                mean_on_s: 15.0,
            },
            timer_fraction: 0.1,
            function_duration_sigma: 0.5,
        }),
        GenConfig {
            seed,
            span_s: 600.0,
            durations: DurationDist::LogNormal {
                median_ns: 50e6,
                sigma: 1.0,
            },
            memory_bytes: Some(128 << 20),
        },
    )
}
