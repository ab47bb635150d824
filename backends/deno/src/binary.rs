//! Finding the `deno` binary and reading its versions.
//!
//! Order: the `deno` config key, then `UNITLAB_DENO`, then `$REPO/.deps/deno/bin/deno` (what
//! `pip install --target .deps/deno deno==2.9.8` lays out, as `scripts/setup-deno.sh` does),
//! then `deno` on `PATH`. An explicit setting (config key or env var) that does not work is an
//! error, never silently replaced by another binary. A `deno` on `PATH` that is a script (a
//! pyenv shim) is resolved to the real binary with `pyenv which deno` when that works, so that
//! the host process is Deno itself and not a shell that execs it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fix printed whenever Deno is missing or unusable.
pub const FIX: &str = "run scripts/setup-deno.sh (pip install deno==2.9.8), or set \
                       UNITLAB_DENO=/path/to/deno (or --opt deno=/path/to/deno)";

/// The oldest major version the host script supports.
pub const MIN_MAJOR: u32 = 2;

/// Where a binary came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The `deno` config key.
    Config,
    /// The `UNITLAB_DENO` environment variable.
    Env,
    /// `$REPO/.deps/deno`.
    Deps,
    /// `PATH`.
    Path,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Config => "the `deno` option",
            Origin::Env => "UNITLAB_DENO",
            Origin::Deps => "the project-local install (.deps/deno)",
            Origin::Path => "PATH",
        })
    }
}

/// A `deno` binary that answered `--version` with a supported version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenoBinary {
    /// Path to run.
    pub path: PathBuf,
    /// Where it was found.
    pub origin: Origin,
    /// `deno`, `v8`, `typescript` versions from `deno --version`.
    pub versions: BTreeMap<String, String>,
}

/// The repository root, from this crate's location at build time.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Picks the candidate binary without running it: `(path, origin)`, or a reason.
pub fn candidate(
    configured: Option<&Path>,
    env: Option<OsString>,
    repo: &Path,
    path_var: Option<OsString>,
) -> Result<(PathBuf, Origin), String> {
    if let Some(p) = configured {
        return Ok((p.to_path_buf(), Origin::Config));
    }
    if let Some(p) = env.filter(|v| !v.is_empty()) {
        return Ok((PathBuf::from(p), Origin::Env));
    }
    let deps = repo.join(".deps/deno/bin/deno");
    if deps.is_file() {
        return Ok((deps, Origin::Deps));
    }
    if let Some(path_var) = path_var {
        for dir in std::env::split_paths(&path_var) {
            let p = dir.join("deno");
            if is_executable(&p) {
                return Ok((resolve_shim(&p), Origin::Path));
            }
        }
    }
    Err(format!(
        "no deno binary: UNITLAB_DENO is unset, {} does not exist and `deno` is not on PATH",
        deps.display()
    ))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A script named `deno` (a pyenv shim) is replaced by what `pyenv which deno` names, when
/// that is a real file; otherwise the script itself is used (it still execs Deno).
fn resolve_shim(p: &Path) -> PathBuf {
    let is_script = std::fs::read(p)
        .map(|b| b.starts_with(b"#!"))
        .unwrap_or(false);
    if !is_script {
        return p.to_path_buf();
    }
    let out = Command::new("pyenv").args(["which", "deno"]).output();
    if let Ok(out) = out {
        if out.status.success() {
            let real = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if real.is_file() {
                return real;
            }
        }
    }
    p.to_path_buf()
}

/// Parses `deno --version` output: `deno 2.9.8 (...)`, `v8 15.0...`, `typescript 6.0.3`.
pub fn parse_versions(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?;
            let version = it.next()?;
            matches!(name, "deno" | "v8" | "typescript")
                .then(|| (name.to_string(), version.to_string()))
        })
        .collect()
}

/// The major version of a `2.9.8`-style string.
pub fn major(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

/// Finds the binary, runs `--version` and checks the major version.
pub fn find(configured: Option<&Path>) -> Result<DenoBinary, String> {
    let (path, origin) = candidate(
        configured,
        std::env::var_os("UNITLAB_DENO"),
        &repo_root(),
        std::env::var_os("PATH"),
    )?;
    check(path, origin)
}

/// Runs `<path> --version` and checks what it says.
pub fn check(path: PathBuf, origin: Origin) -> Result<DenoBinary, String> {
    let out = Command::new(&path)
        .arg("--version")
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| format!("cannot run {} (from {origin}): {e}", path.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "`{} --version` (from {origin}) failed with {}: {}{}",
            path.display(),
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let versions = parse_versions(&stdout);
    let Some(deno) = versions.get("deno") else {
        return Err(format!(
            "`{} --version` (from {origin}) did not print a `deno X.Y.Z` line: {:?}",
            path.display(),
            stdout.trim()
        ));
    };
    match major(deno) {
        Some(m) if m >= MIN_MAJOR => Ok(DenoBinary {
            path,
            origin,
            versions,
        }),
        _ => Err(format!(
            "{} (from {origin}) is deno {deno}; unitlab needs deno >= {MIN_MAJOR}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_deno_version_output() {
        let v = parse_versions(
            "deno 2.9.8 (stable, release, x86_64-unknown-linux-gnu)\nv8 15.0.245.2-rusty\n\
             typescript 6.0.3\n",
        );
        assert_eq!(v["deno"], "2.9.8");
        assert_eq!(v["v8"], "15.0.245.2-rusty");
        assert_eq!(v["typescript"], "6.0.3");
        assert_eq!(major("2.9.8"), Some(2));
        assert_eq!(major("x"), None);
    }

    #[test]
    fn explicit_settings_win_in_order() {
        let repo = Path::new("/nonexistent-repo");
        let c = candidate(
            Some(Path::new("/a/deno")),
            Some("/b/deno".into()),
            repo,
            None,
        );
        assert_eq!(c.unwrap(), (PathBuf::from("/a/deno"), Origin::Config));
        let c = candidate(None, Some("/b/deno".into()), repo, None);
        assert_eq!(c.unwrap(), (PathBuf::from("/b/deno"), Origin::Env));
        let err = candidate(None, None, repo, Some("/nonexistent-bin".into())).unwrap_err();
        assert!(err.contains("not on PATH"), "{err}");
    }
}
