//! One module per subcommand, each a clap `Args` struct with `execute(self) -> Result<()>`.

pub mod burst;
pub mod clean;
pub mod density;
pub mod doctor;
pub mod measure;
pub mod platform_args;
pub mod replay;
pub mod report;
pub mod run;
pub mod simulate;
pub mod trace;
pub mod unit;
pub mod validate;

use anyhow::{bail, Result};

/// Set by the binary's Ctrl-C handler while it removes what this process made: a command that
/// sees it writes no result (a burst cut short is not a measurement).
pub static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Fails when Ctrl-C was pressed.
pub fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        bail!("interrupted: no result written");
    }
    Ok(())
}

/// Parses `key=value`.
pub fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("expected key=value, got `{s}`"))
}

/// A duration flag's value: a number with its unit (`250ms`, `1.5s`, `10m`, `24h`), the one
/// syntax of every duration flag of every subcommand. A bare number is refused: it could
/// mean seconds or milliseconds.
pub fn parse_duration_flag(s: &str) -> Result<std::time::Duration, String> {
    unitlab_workloads::units::parse_duration_ns(s)
        .map(|ns| std::time::Duration::from_nanos(ns.round() as u64))
}

/// A size flag's value: a number with its unit (`64MiB`, `512KiB`, `1GiB`, `4096B`), the one
/// syntax of every size flag of every subcommand. A bare number is refused.
pub fn parse_size_flag(s: &str) -> Result<u64, String> {
    unitlab_workloads::units::parse_size(s)
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
        assert_eq!(parse_kv("a=b=c").unwrap(), ("a".into(), "b=c".into()));
    }

    #[test]
    fn unknown_function_lists_the_catalogue() {
        let e = function_spec("nope", None, None, None).unwrap_err();
        assert!(e.to_string().contains("known: noop, cpu, alloc"), "{e}");
    }
}
