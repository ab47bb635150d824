//! One module per subcommand, each a clap `Args` struct with `execute(self) -> Result<()>`.

pub mod clean;
pub mod doctor;
pub mod measure;
pub mod platform;
pub mod report;
pub mod run;
pub mod unit;

use anyhow::{bail, Result};

/// Parses `key=value`.
pub fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("expected key=value, got `{s}`"))
}

/// Parses a duration like `500ms`, `2s`, `1m`, `150us`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 500ms or 2s, got `{s}`"))?;
    let secs = match unit {
        "ns" => v / 1e9,
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "" | "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => {
            return Err(format!(
                "unknown duration unit `{unit}` in `{s}` (ns, us, ms, s, m, h)"
            ))
        }
    };
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(format!("duration out of range: `{s}`"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Parses a byte size like `64MiB`, `1G`, `512k`, `1000`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: u64 = num
        .parse()
        .map_err(|_| format!("expected a size like 64MiB, got `{s}`"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown size unit `{unit}` in `{s}` (B, KiB, MiB, GiB)"
            ))
        }
    };
    v.checked_mul(mult)
        .ok_or_else(|| format!("size too large: `{s}`"))
}

/// Fails with the available list when `name` is not a catalogue function or an existing file.
pub fn function_spec(
    name: &str,
    memory: Option<u64>,
    deadline: Option<std::time::Duration>,
    cpus: Option<f64>,
) -> Result<unitlab_backend::FunctionSpec> {
    use unitlab_backend::{BackendError, Function, FunctionSource, FunctionSpec, Limits};
    let source = if let Some(f) = Function::from_name(name) {
        FunctionSource::Catalogue(f)
    } else if let Some(image) = name.strip_prefix("image:") {
        FunctionSource::Image(image.to_string())
    } else if std::path::Path::new(name).is_file() {
        FunctionSource::File(name.into())
    } else if name.contains('/') || name.contains('.') {
        bail!("function file `{name}` does not exist");
    } else {
        return Err(BackendError::unknown_function(name).into());
    };
    let display = match &source {
        FunctionSource::File(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string()),
        _ => name.to_string(),
    };
    Ok(FunctionSpec {
        name: display,
        source,
        limits: Limits {
            memory_bytes: memory,
            deadline,
            cpus,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("2").unwrap().as_secs(), 2);
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("512k").unwrap(), 512 << 10);
        assert!(parse_bytes("3 furlongs").is_err());
        assert_eq!(parse_kv("a=b=c").unwrap(), ("a".into(), "b=c".into()));
    }

    #[test]
    fn unknown_function_lists_the_catalogue() {
        let e = function_spec("nope", None, None, None).unwrap_err();
        assert!(e.to_string().contains("known: noop, cpu, alloc"), "{e}");
    }
}
