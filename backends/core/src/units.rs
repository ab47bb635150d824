//! Durations and byte sizes as people type them, parsed the same way everywhere in unitlab
//! (command line, backend options, calibration specs).

use std::time::Duration;

/// `s` trimmed and split into its leading number (digits and `.`) and the unit after it.
fn number_and_unit(s: &str) -> (&str, &str) {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    (num, unit.trim())
}

/// Parses `500ms`, `2s`, `10m`, `4h`, `1d`, `250us` (or `µs`), `100ns`, or a bare number of
/// seconds, into nanoseconds as `f64` (fractions are allowed, `1.5s`, and survive scaling).
pub fn parse_duration_ns(s: &str) -> Result<f64, String> {
    let (num, unit) = number_and_unit(s);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a duration like 500ms, 30s or 10m"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "" | "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86400e9,
        u => {
            return Err(format!(
                "`{s}`: unknown unit `{u}` (ns, us, ms, s, m, h, d)"
            ))
        }
    };
    let ns = v * scale;
    if !(ns.is_finite() && ns >= 0.0) {
        return Err(format!("`{s}`: must be a finite non-negative duration"));
    }
    // Rejected, never saturated: nothing downstream can hold more than 2^64 ns (584 years).
    if ns >= MAX_DURATION_NS as f64 {
        return Err(format!(
            "`{s}`: too long: a duration is at most {} (2^64 - 1 ns)",
            fmt_duration_ns(MAX_DURATION_NS)
        ));
    }
    Ok(ns)
}

/// The longest duration any parser accepts, ns (2^64 - 1: 584 years).
pub const MAX_DURATION_NS: u64 = u64::MAX;

/// A readable duration for messages (`4h`, `1.5s`, `250ms`, `3ns`).
pub fn fmt_duration_ns(ns: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    for (scale, unit) in UNITS {
        if ns >= scale {
            let v = ns as f64 / scale as f64;
            return if v.fract() == 0.0 {
                format!("{v:.0}{unit}")
            } else {
                format!(
                    "{}{unit}",
                    format!("{v:.3}")
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                )
            };
        }
    }
    format!("{ns}ns")
}

/// `ns` rounded up to a value [`fmt_duration_ns`] shows exactly (three decimals in its unit),
/// for a suggested minimum ("pass --bin 6.868ms or wider").
pub fn round_up_duration_ns(ns: u64) -> u64 {
    let step = [
        86_400_000_000_000u64,
        3_600_000_000_000,
        60_000_000_000,
        1_000_000_000,
        1_000_000,
        1_000,
    ]
    .into_iter()
    .find(|&s| ns >= s)
    .map_or(1, |s| s / 1000);
    ns.div_ceil(step).saturating_mul(step)
}

/// [`parse_duration`] for the flag `flag`, checked against `min..=max` (whole ns). The error
/// names the flag, the value and the allowed range, so every flag says the same thing.
pub fn parse_duration_in(flag: &str, s: &str, min: u64, max: u64) -> Result<u64, String> {
    let ns = parse_duration_ns(s)
        .map_err(|e| format!("{flag}: {e}"))?
        .round() as u64;
    if ns < min || ns > max {
        return Err(format!(
            "{flag} `{s}` is out of range: allowed {} to {}",
            fmt_duration_ns(min),
            fmt_duration_ns(max)
        ));
    }
    Ok(ns)
}

/// [`parse_bytes`] for the flag `flag`, checked against `min..=max`.
pub fn parse_bytes_in(flag: &str, s: &str, min: u64, max: u64) -> Result<u64, String> {
    let b = parse_bytes(s).map_err(|e| format!("{flag}: {e}"))?;
    if b < min || b > max {
        return Err(format!(
            "{flag} `{s}` is out of range: allowed {min} to {max} bytes"
        ));
    }
    Ok(b)
}

/// A count for the flag `flag`, checked against `min..=max`.
pub fn parse_count_in(flag: &str, s: &str, min: u64, max: u64) -> Result<u64, String> {
    let v: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{flag}: `{s}` is not a whole number"))?;
    if v < min || v > max {
        return Err(format!(
            "{flag} `{s}` is out of range: allowed {min} to {max}"
        ));
    }
    Ok(v)
}

/// [`parse_duration_ns`] as a [`Duration`] (rounded to whole nanoseconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_duration_ns(s).map(|ns| Duration::from_nanos(ns.round() as u64))
}

/// Parses a byte size: plain bytes, or with `k`/`KiB`, `m`/`MiB`, `g`/`GiB` (binary units;
/// `KB`, `MB`, `GB` are read as binary too, as Docker does); fractions are allowed
/// (`1.5GiB`) and rounded to whole bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let (num, unit) = number_and_unit(s);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a size like 64MiB, 512k or 1000"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        u => return Err(format!("`{s}`: unknown size unit `{u}` (B, KiB, MiB, GiB)")),
    };
    let b = (v * mult as f64).round();
    if !(b.is_finite() && b < u64::MAX as f64) {
        return Err(format!("`{s}`: size too large"));
    }
    Ok(b as u64)
}

/// Three significant digits, no exponent: `4.50`, `193`, `1240`.
pub fn sig3(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Nanoseconds with a unit chosen for the magnitude, three significant digits: `850 ns`,
/// `4.50 µs`, `193 ms`, `1.50 s`, `12.0 min`, `2.00 h`. The one duration formatter of unitlab
/// (terminal tables, trace statistics, the report).
pub fn fmt_ns(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    let a = v.abs();
    let (x, unit) = if a < 1e3 {
        (v, "ns")
    } else if a < 1e6 {
        (v / 1e3, "µs")
    } else if a < 1e9 {
        (v / 1e6, "ms")
    } else if a < 60e9 {
        (v / 1e9, "s")
    } else if a < 3600e9 {
        (v / 60e9, "min")
    } else {
        (v / 3600e9, "h")
    };
    format!("{} {unit}", sig3(x))
}

/// Bytes in binary units, three significant digits: `512 B`, `10.0 KiB`, `7.00 MiB`. The one
/// size formatter of unitlab.
pub fn fmt_bytes(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1024.0 && i + 1 < units.len() {
        x /= 1024.0;
        i += 1;
    }
    format!("{} {}", sig3(x), units[i])
}

/// The deadlines every backend honours the same way: from 1 ms (the coarsest timer among the
/// backends: the wasm epoch ticker, the process backend's `poll(2)`) to one day.
pub const DEADLINE_RANGE: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_secs(86_400));

/// The smallest memory limit unitlab accepts on any backend; each backend may need more
/// ([`crate::Limits::check`]).
pub const MIN_MEMORY_LIMIT: u64 = 1 << 20;

/// The largest memory limit accepted (1 TiB).
pub const MAX_MEMORY_LIMIT: u64 = 1 << 40;

/// Checks a deadline against [`DEADLINE_RANGE`].
pub fn check_deadline(d: Duration) -> Result<(), String> {
    let (lo, hi) = DEADLINE_RANGE;
    if d < lo || d > hi {
        return Err(
            "a deadline must be between 1ms and 1d (below a millisecond no backend can \
             stop a guest on time; a zero deadline would fail every invoke)"
                .to_string(),
        );
    }
    Ok(())
}

/// Checks a memory limit against [`MIN_MEMORY_LIMIT`] and [`MAX_MEMORY_LIMIT`].
pub fn check_memory_limit(bytes: u64) -> Result<(), String> {
    if !(MIN_MEMORY_LIMIT..=MAX_MEMORY_LIMIT).contains(&bytes) {
        return Err(
            "a memory limit must be between 1MiB and 1TiB (each backend states its own \
             minimum above that: `unitlab doctor --options`)"
                .to_string(),
        );
    }
    Ok(())
}

/// Parses `--deadline`: a duration ([`parse_duration`]) within [`DEADLINE_RANGE`].
pub fn parse_deadline(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    check_deadline(d).map_err(|e| format!("`{s}`: {e}"))?;
    Ok(d)
}

/// Parses `--memory-limit`: a size ([`parse_bytes`]) from [`MIN_MEMORY_LIMIT`] to
/// [`MAX_MEMORY_LIMIT`].
pub fn parse_memory_limit(s: &str) -> Result<u64, String> {
    let b = parse_bytes(s)?;
    check_memory_limit(b).map_err(|e| format!("`{s}`: {e}"))?;
    Ok(b)
}

/// Formats a byte count the way [`parse_bytes`] reads it back (`64MiB`, `1.5GiB`, `100B`).
pub fn format_bytes(b: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if b >= size {
            let v = b as f64 / size as f64;
            return if b.is_multiple_of(size) {
                format!("{}{unit}", b / size)
            } else {
                format!("{v:.2}{unit}")
            };
        }
    }
    format!("{b}B")
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_formatter_for_durations_and_sizes() {
        use super::{fmt_bytes, fmt_ns};
        assert_eq!(fmt_ns(850.0), "850 ns");
        assert_eq!(fmt_ns(4_500.0), "4.50 µs");
        assert_eq!(fmt_ns(193e6), "193 ms");
        assert_eq!(fmt_ns(1.5e9), "1.50 s");
        assert_eq!(fmt_ns(720e9), "12.0 min");
        assert_eq!(fmt_bytes(512.0), "512 B");
        assert_eq!(fmt_bytes(7.0 * 1024.0 * 1024.0), "7.00 MiB");
    }

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert!(parse_duration("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_duration_ns("7us").unwrap(), 7e3);
        assert_eq!(parse_duration_ns("7µs").unwrap(), 7e3);
        assert_eq!(parse_duration_ns("0.5ns").unwrap(), 0.5);
        // Rejected, not saturated to 584 years.
        let e = parse_duration_ns("100000000000000000000ns").unwrap_err();
        assert!(e.contains("too long"), "{e}");
        assert!(parse_duration("1000000000000d").is_err());
    }

    #[test]
    fn ranges_name_the_flag() {
        assert_eq!(
            parse_duration_in("--bin", "1s", 1, 10_000_000_000),
            Ok(1_000_000_000)
        );
        let e = parse_duration_in("--bin", "1ns", 1_000_000, 10_000_000_000).unwrap_err();
        assert!(
            e.contains("--bin `1ns` is out of range: allowed 1ms to 10s"),
            "{e}"
        );
        let e = parse_bytes_in("--memory-limit", "1B", 4096, u64::MAX).unwrap_err();
        assert!(e.contains("--memory-limit"), "{e}");
        let e = parse_count_in("-u", "0", 1, 1000).unwrap_err();
        assert!(
            e.contains("-u `0` is out of range: allowed 1 to 1000"),
            "{e}"
        );
        assert_eq!(fmt_duration_ns(4 * 3_600_000_000_000), "4h");
        assert_eq!(fmt_duration_ns(1_500_000_000), "1.5s");
        assert_eq!(fmt_duration_ns(7 * 86_400_000_000_000 + 2_000_000), "7d");
        assert_eq!(round_up_duration_ns(6_867_887), 6_868_000);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("512k").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("256m").unwrap(), 256 << 20);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert!(parse_bytes("3 furlongs").is_err());
        assert!(parse_bytes("99999999999G").is_err());
        assert_eq!(parse_bytes("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("1GB").unwrap(), 1 << 30);
    }

    #[test]
    fn limits_have_one_range() {
        let e = parse_deadline("0s").unwrap_err();
        assert!(
            e.contains("`0s`") && e.contains("between 1ms and 1d"),
            "{e}"
        );
        assert!(parse_deadline("500us").is_err());
        assert!(parse_deadline("2d").is_err());
        assert_eq!(parse_deadline("1ms").unwrap(), Duration::from_millis(1));
        let e = parse_memory_limit("1B").unwrap_err();
        assert!(
            e.contains("`1B`") && e.contains("between 1MiB and 1TiB"),
            "{e}"
        );
        assert!(parse_memory_limit("2TiB").is_err());
        assert_eq!(parse_memory_limit("64MiB").unwrap(), 64 << 20);
        assert_eq!(format_bytes(64 << 20), "64MiB");
        assert_eq!(format_bytes(3 << 29), "1.50GiB");
        assert_eq!(format_bytes(1), "1B");
    }
}
