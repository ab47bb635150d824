//! Durations and byte sizes as people type them, parsed the same way everywhere in unitlab
//! (command line, backend options, calibration specs).

use std::time::Duration;

/// Parses `500ms`, `2s`, `10m`, `4h`, `1d`, `250us`, `100ns`, or a bare number of seconds;
/// fractions are allowed (`1.5s`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a duration like 500ms, 30s or 10m"))?;
    let secs = match unit.trim() {
        "ns" => v / 1e9,
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "" | "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        "d" => v * 86400.0,
        u => {
            return Err(format!(
                "`{s}`: unknown unit `{u}` (ns, us, ms, s, m, h, d)"
            ))
        }
    };
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(format!("`{s}`: must be a finite non-negative duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a byte size: plain bytes, or with `k`/`KiB`, `m`/`MiB`, `g`/`GiB` (binary units;
/// `KB`, `MB`, `GB` are read as binary too, as Docker does).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: u64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a size like 64MiB, 512k or 1000"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        u => return Err(format!("`{s}`: unknown size unit `{u}` (B, KiB, MiB, GiB)")),
    };
    v.checked_mul(mult)
        .ok_or_else(|| format!("`{s}`: size too large"))
}

#[cfg(test)]
mod tests {
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
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("512k").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("256m").unwrap(), 256 << 20);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert!(parse_bytes("3 furlongs").is_err());
        assert!(parse_bytes("99999999999G").is_err());
    }
}
