//! Parsing and printing of durations, rates and sizes on the command line.
//!
//! Durations carry a unit: `ns`, `us`, `ms`, `s`, `m` (minutes), `h`, `d` (e.g. `250ms`,
//! `1.5s`, `10m`). Sizes: bytes, or `KB`/`MB`/`GB` (powers of 1000) and `KiB`/`MiB`/`GiB`
//! (powers of 1024).

/// Nanoseconds per second.
pub const NS_PER_S: f64 = 1e9;

/// Parses a duration with a unit into nanoseconds (as f64, so fractions of a ns survive
/// scaling). Errors name the accepted units.
pub fn parse_duration_ns(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("`{text}` has no unit: write e.g. `250ms`, `1.5s`, `10m` (units: ns, us, ms, s, m, h, d)"))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: `{num}` is not a number"))?;
    let scale = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86400e9,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (units: ns, us, ms, s, m, h, d)"
            ))
        }
    };
    let ns = value * scale;
    if !ns.is_finite() || ns < 0.0 {
        return Err(format!("`{text}`: a duration must be finite and >= 0"));
    }
    Ok(ns)
}

/// Parses a duration into seconds.
pub fn parse_duration_s(text: &str) -> Result<f64, String> {
    parse_duration_ns(text).map(|ns| ns / NS_PER_S)
}

/// Parses a size (`128MiB`, `1GB`, `4096`) into bytes.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: `{num}` is not a number"))?;
    let scale = match unit.trim() {
        "" | "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "`{text}`: unknown size unit `{other}` (B, KB, MB, GB, KiB, MiB, GiB)"
            ))
        }
    };
    let b = value * scale;
    if !b.is_finite() || b < 0.0 {
        return Err(format!("`{text}`: a size must be finite and >= 0"));
    }
    Ok(b.round() as u64)
}

/// Prints nanoseconds with a readable unit (`1.500 s`, `12.0 ms`).
pub fn fmt_ns(ns: f64) -> String {
    let a = ns.abs();
    if a >= 3600e9 {
        format!("{:.3} h", ns / 3600e9)
    } else if a >= 60e9 {
        format!("{:.3} min", ns / 60e9)
    } else if a >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if a >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if a >= 1e3 {
        format!("{:.3} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
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
        assert_eq!(parse_bytes("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("3 furlongs").is_err());
    }
}
