//! Human-readable figures: durations, bytes, ratios (three significant digits), and HTML
//! escaping. CSV exports never go through these: they hold raw numbers.

/// Formats nanoseconds with a unit chosen for the magnitude: `850 ns`, `4.50 µs`, `193 ms`
/// (unitlab's one duration formatter, `unitlab_backend::units::fmt_ns`).
pub fn ns(v: f64) -> String {
    unitlab_backend::units::fmt_ns(v)
}

/// Formats bytes in binary units: `512 B`, `10.0 KiB`, `7.00 MiB`
/// (`unitlab_backend::units::fmt_bytes`).
pub fn bytes(v: f64) -> String {
    unitlab_backend::units::fmt_bytes(v)
}

/// Formats bytes in decimal units (`100 kB`, `1 GB`): for log-axis ticks, which fall on
/// powers of ten.
pub fn bytes_si(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1000.0 && i + 1 < units.len() {
        x /= 1000.0;
        i += 1;
    }
    format!("{} {}", sig3(x), units[i])
}

/// Formats a count with thousands separators (`1 234 567`), or with a suffix above a million.
pub fn count(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    if v.abs() >= 1e6 {
        return format!("{} M", sig3(v / 1e6));
    }
    let s = format!("{}", v.round() as i64);
    let (sign, digits) = s.split_at(if s.starts_with('-') { 1 } else { 0 });
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// Three significant digits, no exponent: `4.50`, `193`, `1240`.
pub fn sig3(x: f64) -> String {
    unitlab_backend::units::sig3(x)
}

/// Formats a ratio: `42×`, `1.30×`.
pub fn ratio(x: f64) -> String {
    if x > 0.0 && x < 0.01 {
        // `0.000×` says nothing: write a small ratio as a fraction.
        return format!("1/{}×", count((1.0 / x).round()));
    }
    format!("{}×", sig3(x))
}

/// Escapes text for HTML element content and attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(ns(850.0), "850 ns");
        assert_eq!(ns(4500.0), "4.50 µs");
        assert_eq!(ns(193_000_000.0), "193 ms");
        assert_eq!(ns(1.5e9), "1.50 s");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(10240.0), "10.0 KiB");
        assert_eq!(bytes(7.0 * 1024.0 * 1024.0), "7.00 MiB");
        assert_eq!(count(1234.0), "1\u{202f}234");
        assert_eq!(count(2_500_000.0), "2.50 M");
        assert_eq!(html("<a&b>"), "&lt;a&amp;b&gt;");
    }
}
