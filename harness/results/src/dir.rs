//! Result directories written atomically.
//!
//! A run writes into a hidden sibling, `<out>/.partial-<pid>-<name>`, and renames it to
//! `<out>/<name>` only when every file is written ([`ResultDir::commit`]). So a run that fails
//! or is interrupted leaves nothing that looks like a result: dropping an uncommitted
//! [`ResultDir`] removes its partial directory, the interrupt handler removes every live one
//! ([`remove_partial_dirs`]), and the partial directory of a process killed outright (SIGKILL)
//! is removed by the next run writing into the same `<out>` (its pid no longer lives). Reports
//! skip `.partial-*` directories and name them.
//!
//! Names cannot collide: `create_dir` of the partial directory is atomic, and a name whose
//! partial or final directory exists gets a suffix (`-2`, `-3`, ...), so two runs in the same
//! second (or millisecond) get different directories.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The prefix of a result directory that is still being written.
pub const PARTIAL_PREFIX: &str = ".partial-";

/// Why a result directory could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirError {
    /// The output folder cannot be created or written.
    #[error(
        "the output folder {} is not writable: {source}\n  fix: pass a writable folder with --out",
        path.display()
    )]
    NotWritable {
        /// The folder.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Renaming the finished directory into place failed.
    #[error("moving the finished results {} to {}: {source}", from.display(), to.display())]
    Commit {
        /// The partial directory.
        from: PathBuf,
        /// Where it was to go.
        to: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Partial directories of this process not yet committed (removed on interrupt).
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the partial directories of this process (for an interrupt handler); returns how
/// many were removed.
pub fn remove_partial_dirs() -> usize {
    let dirs = std::mem::take(&mut *live());
    dirs.iter()
        .filter(|d| std::fs::remove_dir_all(d).is_ok())
        .count()
}

/// True when `name` is a partial directory's name.
pub fn is_partial(name: &str) -> bool {
    name.starts_with(PARTIAL_PREFIX)
}

/// A result directory being written: write into [`ResultDir::path`], then
/// [`ResultDir::commit`]. Dropped uncommitted, it removes what was written.
#[derive(Debug)]
pub struct ResultDir {
    partial: PathBuf,
    target: PathBuf,
    committed: bool,
}

/// Checks that `out` can hold result directories: creates it if needed and writes and removes
/// a probe file. Call it before measuring so that a bad `--out` fails at once.
pub fn check_writable(out: &Path) -> Result<(), DirError> {
    let not = |source| DirError::NotWritable {
        path: out.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(out).map_err(not)?;
    let probe = out.join(format!("{PARTIAL_PREFIX}{}-probe", std::process::id()));
    std::fs::create_dir(&probe).map_err(not)?;
    std::fs::remove_dir(&probe).map_err(not)
}

impl ResultDir {
    /// Reserves `<out>/<name>` (or `<out>/<name>-N` if taken) and creates its partial
    /// directory. Removes partial directories left in `out` by processes that no longer run.
    pub fn create(out: &Path, name: &str) -> Result<ResultDir, DirError> {
        let not = |source| DirError::NotWritable {
            path: out.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(out).map_err(not)?;
        remove_stale(out);
        let pid = std::process::id();
        for n in 1u32.. {
            let name = if n == 1 {
                name.to_string()
            } else {
                format!("{name}-{n}")
            };
            let target = out.join(&name);
            let partial = out.join(format!("{PARTIAL_PREFIX}{pid}-{name}"));
            match std::fs::create_dir(&partial) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(not(e)),
            }
            // The partial name is ours now; the final one may have been taken before.
            if target.exists() || other_partial_exists(out, &name, pid) {
                let _ = std::fs::remove_dir(&partial);
                continue;
            }
            live().push(partial.clone());
            return Ok(ResultDir {
                partial,
                target,
                committed: false,
            });
        }
        unreachable!("u32 suffixes run out")
    }

    /// Where to write the files.
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// The directory's name once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the finished directory into place and returns its path.
    pub fn commit(mut self) -> Result<PathBuf, DirError> {
        let from = self.partial.clone();
        let mut to = self.target.clone();
        // Another run may have committed the same name meanwhile (it reserved it through a
        // different pid's partial name): pick the next free suffix.
        let mut n = 2;
        while to.exists() {
            to = PathBuf::from(format!("{}-{n}", self.target.display()));
            n += 1;
        }
        std::fs::rename(&from, &to).map_err(|source| DirError::Commit {
            from: from.clone(),
            to: to.clone(),
            source,
        })?;
        self.committed = true;
        live().retain(|d| d != &from);
        Ok(to)
    }
}

impl Drop for ResultDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.partial);
            live().retain(|d| d != &self.partial);
        }
    }
}

/// Creates a new, empty `<out>/<name>` (or `<out>/<name>-N` if taken) for a run that writes
/// several result directories into it, and returns it. Fails at once when `out` is not
/// writable.
pub fn fresh_dir(out: &Path, name: &str) -> Result<PathBuf, DirError> {
    let not = |source| DirError::NotWritable {
        path: out.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(out).map_err(not)?;
    for n in 1u32.. {
        let dir = match n {
            1 => out.join(name),
            n => out.join(format!("{name}-{n}")),
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(not(e)),
        }
    }
    unreachable!("u32 suffixes run out")
}

/// Whether another process holds `.partial-<pid>-<name>` in `out`.
fn other_partial_exists(out: &Path, name: &str, me: u32) -> bool {
    let Ok(entries) = std::fs::read_dir(out) else {
        return false;
    };
    entries.flatten().any(|e| {
        let f = e.file_name();
        let f = f.to_string_lossy();
        match partial_pid(&f) {
            Some((pid, rest)) => pid != me && rest == name,
            None => false,
        }
    })
}

/// `(pid, name)` of a `.partial-<pid>-<name>` directory name.
fn partial_pid(file: &str) -> Option<(u32, &str)> {
    let rest = file.strip_prefix(PARTIAL_PREFIX)?;
    let (pid, name) = rest.split_once('-')?;
    Some((pid.parse().ok()?, name))
}

/// True while process `pid` exists (procfs).
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes `.partial-<pid>-*` directories in `out` whose process no longer runs.
fn remove_stale(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for e in entries.flatten() {
        let f = e.file_name();
        if let Some((pid, _)) = partial_pid(&f.to_string_lossy()) {
            if !pid_alive(pid) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live list is process-wide: tests that create directories run one at a time, so that
    /// the interrupt test's cleanup cannot remove another test's directory.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn commit_renames_and_drop_removes() {
        let _s = serial();
        let tmp = tempfile::tempdir().unwrap();
        let d = ResultDir::create(tmp.path(), "x").unwrap();
        std::fs::write(d.path().join("summary.json"), "{}").unwrap();
        assert!(d
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(".partial-"));
        let p = d.commit().unwrap();
        assert_eq!(p, tmp.path().join("x"));
        assert!(p.join("summary.json").is_file());

        let d = ResultDir::create(tmp.path(), "y").unwrap();
        std::fs::write(d.path().join("summary.json"), "{}").unwrap();
        drop(d);
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x")]);
    }

    #[test]
    fn same_name_twice_gets_a_suffix() {
        let _s = serial();
        let tmp = tempfile::tempdir().unwrap();
        let a = ResultDir::create(tmp.path(), "run").unwrap();
        let b = ResultDir::create(tmp.path(), "run").unwrap();
        let (a, b) = (a.commit().unwrap(), b.commit().unwrap());
        assert_eq!(a, tmp.path().join("run"));
        assert_eq!(b, tmp.path().join("run-2"));
        let c = ResultDir::create(tmp.path(), "run")
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(c, tmp.path().join("run-3"));
    }

    #[test]
    fn stale_partials_of_dead_processes_are_removed() {
        let _s = serial();
        let tmp = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22: this pid cannot be running.
        let stale = tmp.path().join(".partial-4194305-old");
        std::fs::create_dir(&stale).unwrap();
        let mine = tmp
            .path()
            .join(format!(".partial-{}-live", std::process::id()));
        std::fs::create_dir(&mine).unwrap();
        let _d = ResultDir::create(tmp.path(), "new").unwrap();
        assert!(!stale.exists());
        assert!(mine.exists(), "a live process's partial directory is kept");
    }

    #[test]
    fn interrupt_cleanup_removes_live_partials() {
        let _s = serial();
        let tmp = tempfile::tempdir().unwrap();
        let d = ResultDir::create(tmp.path(), "z").unwrap();
        let p = d.path().to_path_buf();
        std::mem::forget(d); // as if the process were exiting from a signal handler
        assert!(remove_partial_dirs() >= 1);
        assert!(!p.exists());
    }

    #[test]
    fn unwritable_output_is_named() {
        let _s = serial();
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = check_writable(&file.join("under")).unwrap_err().to_string();
        assert!(e.contains("not writable") && e.contains("--out"), "{e}");
        assert!(ResultDir::create(&file.join("under"), "x").is_err());
        check_writable(tmp.path()).unwrap();
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
