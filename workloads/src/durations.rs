//! Execution-duration distributions for synthetic traces.
//!
//! Written on the command line as `none`, `fixed:<d>`, `exp:<mean>`,
//! `lognormal:<median>,<sigma>` or `empirical:<d>,<d>,...` (each `<d>` a duration with a unit,
//! e.g. `fixed:100ms`, `lognormal:250ms,1.2`, `empirical:5ms,20ms,1s`). `empirical` draws
//! one of the given values uniformly at random (a bootstrap of measured samples).

use crate::rng::Rng;
use crate::units::parse_duration_ns;
use std::fmt;
use std::str::FromStr;

/// A distribution of execution durations. All parameters in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationDist {
    /// No duration: invocations carry `duration_ns: None`.
    None,
    /// Always the same duration (ns).
    Fixed(u64),
    /// Exponential with the given mean (ns).
    Exponential {
        /// Mean in nanoseconds.
        mean_ns: f64,
    },
    /// Log-normal with the given median (ns) and shape `sigma` (the standard deviation of
    /// the logarithm; dimensionless, > 0). The mean is `median * exp(sigma^2 / 2)`.
    LogNormal {
        /// Median in nanoseconds.
        median_ns: f64,
        /// Standard deviation of ln(duration).
        sigma: f64,
    },
    /// Uniformly one of the given values (ns), e.g. measured samples.
    Empirical(Vec<u64>),
}

impl DurationDist {
    /// Draws one duration.
    pub fn sample(&self, rng: &mut Rng) -> Option<u64> {
        match self {
            DurationDist::None => None,
            DurationDist::Fixed(ns) => Some(*ns),
            DurationDist::Exponential { mean_ns } => Some(rng.exp(*mean_ns).round() as u64),
            DurationDist::LogNormal { median_ns, sigma } => {
                Some(rng.lognormal(median_ns.ln(), *sigma).round() as u64)
            }
            DurationDist::Empirical(v) => Some(v[rng.below(v.len() as u64) as usize]),
        }
    }

    /// The distribution's mean in nanoseconds (None for `None`).
    pub fn mean_ns(&self) -> Option<f64> {
        match self {
            DurationDist::None => None,
            DurationDist::Fixed(ns) => Some(*ns as f64),
            DurationDist::Exponential { mean_ns } => Some(*mean_ns),
            DurationDist::LogNormal { median_ns, sigma } => {
                Some(median_ns * (sigma * sigma / 2.0).exp())
            }
            DurationDist::Empirical(v) => {
                Some(v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64)
            }
        }
    }

    fn validate(self) -> Result<Self, String> {
        match &self {
            DurationDist::Exponential { mean_ns } if mean_ns.is_nan() || *mean_ns <= 0.0 => {
                Err("exp: the mean must be > 0".into())
            }
            DurationDist::LogNormal { median_ns, sigma }
                if median_ns.is_nan()
                    || *median_ns <= 0.0
                    || sigma.is_nan()
                    || *sigma <= 0.0
                    || !sigma.is_finite() =>
            {
                Err("lognormal: the median and sigma must be > 0".into())
            }
            DurationDist::Empirical(v) if v.is_empty() => {
                Err("empirical: give at least one value".into())
            }
            _ => Ok(self),
        }
    }
}

impl FromStr for DurationDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let help = "expected none, fixed:<d>, exp:<mean>, lognormal:<median>,<sigma> or empirical:<d>,<d>,... (durations with units, e.g. lognormal:250ms,1.2)";
        let s = s.trim();
        if s == "none" {
            return Ok(DurationDist::None);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(|| format!("`{s}`: {help}"))?;
        let d = match kind {
            "fixed" => DurationDist::Fixed(parse_duration_ns(rest)?.round() as u64),
            "exp" | "exponential" => DurationDist::Exponential {
                mean_ns: parse_duration_ns(rest)?,
            },
            "lognormal" => {
                let (m, sg) = rest
                    .split_once(',')
                    .ok_or_else(|| format!("`{s}`: {help}"))?;
                DurationDist::LogNormal {
                    median_ns: parse_duration_ns(m)?,
                    sigma: sg
                        .trim()
                        .parse()
                        .map_err(|_| format!("`{s}`: sigma `{sg}` is not a number"))?,
                }
            }
            "empirical" => DurationDist::Empirical(
                rest.split(',')
                    .map(|x| parse_duration_ns(x).map(|v| v.round() as u64))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(format!("`{s}`: {help}")),
        };
        d.validate().map_err(|e| format!("`{s}`: {e}"))
    }
}

impl fmt::Display for DurationDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationDist::None => write!(f, "none"),
            DurationDist::Fixed(ns) => write!(f, "fixed:{ns}ns"),
            DurationDist::Exponential { mean_ns } => write!(f, "exp:{mean_ns}ns"),
            DurationDist::LogNormal { median_ns, sigma } => {
                write!(f, "lognormal:{median_ns}ns,{sigma}")
            }
            DurationDist::Empirical(v) => {
                write!(f, "empirical:")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{x}ns")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        for s in [
            "none",
            "fixed:100ms",
            "exp:2s",
            "lognormal:250ms,1.2",
            "empirical:5ms,20ms",
        ] {
            let d: DurationDist = s.parse().unwrap();
            let again: DurationDist = d.to_string().parse().unwrap();
            assert_eq!(d, again);
        }
        assert!("lognormal:0ms,1".parse::<DurationDist>().is_err());
        assert!("gamma:1s"
            .parse::<DurationDist>()
            .unwrap_err()
            .contains("expected"));
    }

    #[test]
    fn means_match() {
        let mut r = Rng::new(3, 1);
        let n = 100_000;
        for d in [
            DurationDist::Exponential { mean_ns: 1e6 },
            DurationDist::LogNormal {
                median_ns: 1e6,
                sigma: 0.5,
            },
            DurationDist::Empirical(vec![1, 2, 3, 10]),
        ] {
            let m = (0..n)
                .map(|_| d.sample(&mut r).unwrap() as f64)
                .sum::<f64>()
                / n as f64;
            let want = d.mean_ns().unwrap();
            // Tolerance 2% of the mean (well above 5 standard errors for these shapes).
            assert!((m / want - 1.0).abs() < 0.02, "{d}: {m} vs {want}");
        }
    }
}
