//! The results directory of a replay or simulation (layout in `unitlab_results::platform`).

use std::path::{Path, PathBuf};

use serde::Serialize;
use unitlab_results::dir::ResultDir;
use unitlab_results::platform::{PlatformSummary, UnitMemorySample};

use crate::platform::Platform;
use crate::PlatformError;

fn io(path: &Path, source: std::io::Error) -> PlatformError {
    PlatformError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reserves `<out>/<UTC time>-<kind>-<backend>` (with a suffix if a run in the same second
/// took it) and creates its partial directory: write into [`ResultDir::path`], then
/// [`ResultDir::commit`]. A run that fails or is interrupted leaves no result behind.
pub fn new_results_dir(out: &Path, kind: &str, backend: &str) -> Result<ResultDir, PlatformError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    Ok(ResultDir::create(
        out,
        &format!("{stamp}-{kind}-{backend}"),
    )?)
}

pub use unitlab_results::platform::policy_dir_name;

/// Writes any serializable value as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), PlatformError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| PlatformError::Config {
        what: path.display().to_string(),
        message: format!("could not serialise: {e}"),
    })?;
    std::fs::write(path, text).map_err(|e| io(path, e))
}

/// Writes `summary.json`.
pub fn write_summary(dir: &Path, summary: &PlatformSummary) -> Result<(), PlatformError> {
    write_json(&dir.join("summary.json"), summary)
}

fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<(), PlatformError> {
    let mut w = csv::Writer::from_path(path).map_err(|e| PlatformError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    for r in rows {
        w.serialize(r).map_err(|e| PlatformError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
    }
    w.flush().map_err(|e| io(path, e))
}

/// Writes one policy's CSVs into `<dir>/<policy>/`: the timeline always, per-invocation,
/// per-unit and busy rows when the run kept them, memory readings when given.
pub fn write_run_files(
    dir: &Path,
    policy: &str,
    platform: &Platform,
    memory: &[UnitMemorySample],
) -> Result<PathBuf, PlatformError> {
    let d = dir.join(policy_dir_name(policy));
    std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
    write_csv(&d.join("timeline.csv"), &platform.timeline())?;
    if platform.records_on() {
        write_csv(&d.join("invocations.csv"), &platform.records.invocations)?;
        write_csv(&d.join("units.csv"), &platform.records.units)?;
        write_csv(&d.join("busy.csv"), &platform.records.busy)?;
    }
    if !memory.is_empty() {
        write_csv(&d.join("memory.csv"), memory)?;
    }
    Ok(d)
}
