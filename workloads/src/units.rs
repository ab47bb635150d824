//! Durations and sizes on the trace command line, parsed by unitlab's one parser
//! ([`unitlab_backend::units`]): durations `ns`, `us`, `ms`, `s`, `m` (minutes), `h`, `d`
//! (e.g. `250ms`, `1.5s`, `10m`); sizes in bytes or binary units (`128MiB`, `512k`; `MB`
//! reads as MiB). Here a duration must name its unit: in a trace a bare number is too easily
//! seconds in one place and nanoseconds in the next.

pub use unitlab_backend::units::parse_bytes;

/// Nanoseconds per second.
pub const NS_PER_S: f64 = 1e9;

/// Parses a size with a unit (`64MiB`, `512KiB`, `1GiB`, `4096B`; binary units, see
/// [`parse_bytes`]) into bytes. A bare number is refused: every size on the command line
/// names its unit.
pub fn parse_size(text: &str) -> Result<u64, String> {
    if !text.chars().any(|c| c.is_alphabetic()) {
        return Err(format!(
            "`{text}` has no unit: write e.g. `64MiB`, `512KiB`, `1GiB` or `4096B` (units: B, KiB, MiB, GiB)"
        ));
    }
    parse_bytes(text)
}

/// Parses a duration with a unit into nanoseconds (as f64, so fractions of a ns survive
/// scaling). Errors name the accepted units.
pub fn parse_duration_ns(text: &str) -> Result<f64, String> {
    if !text.chars().any(|c| c.is_alphabetic()) {
        return Err(format!(
            "`{text}` has no unit: write e.g. `250ms`, `1.5s`, `10m` (units: ns, us, ms, s, m, h, d)"
        ));
    }
    unitlab_backend::units::parse_duration_ns(text)
}

/// Parses a rate: a number of invocations per second, or `N/s`, `N/min`, `N/h`.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let (num, div) = match s.split_once('/') {
        None => (s, 1.0),
        Some((n, "s")) => (n, 1.0),
        Some((n, "min" | "m")) => (n, 60.0),
        Some((n, "h")) => (n, 3600.0),
        Some((_, u)) => {
            return Err(format!(
                "`{s}`: unknown rate unit `/{u}` (use /s, /min or /h)"
            ))
        }
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: `{num}` is not a number"))?;
    if !(v >= 0.0 && v.is_finite()) {
        return Err(format!("`{s}`: a rate must be >= 0"));
    }
    Ok(v / div)
}

/// Parses a duration into seconds.
pub fn parse_duration_s(text: &str) -> Result<f64, String> {
    parse_duration_ns(text).map(|ns| ns / NS_PER_S)
}

/// Prints nanoseconds with a readable unit (`1.50 s`, `12.0 ms`): unitlab's one duration
/// formatter (`unitlab_backend::units::fmt_ns`).
pub fn fmt_ns(ns: f64) -> String {
    unitlab_backend::units::fmt_ns(ns)
}

/// Converts seconds (f64) to whole nanoseconds, rounding to nearest.
pub fn s_to_ns(s: f64) -> u64 {
    (s * NS_PER_S).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("250ms").unwrap(), 250e6);
        assert_eq!(parse_duration_ns("1.5s").unwrap(), 1.5e9);
        assert_eq!(parse_duration_ns("10m").unwrap(), 600e9);
        assert_eq!(parse_duration_ns("7us").unwrap(), 7e3);
        assert!(parse_duration_ns("10").unwrap_err().contains("no unit"));
        assert!(parse_duration_ns("10parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration_ns("-1s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("128MiB").unwrap(), 128 << 20);
        assert_eq!(parse_bytes("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("3 furlongs").is_err());
    }
}
