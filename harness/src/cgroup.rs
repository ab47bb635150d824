//! A memory cgroup that carries a limit the kernel enforces, for `unitlab density`.
//!
//! cgroup v1 (a `memory` controller mounted at `/sys/fs/cgroup/memory`): the limit goes to
//! `memory.limit_in_bytes`, and to `memory.memsw.limit_in_bytes` (memory + swap) when the
//! kernel accounts swap, so that no page escapes to swap; `memory.swappiness` is set to 0 as
//! well. `memory.use_hierarchy` must be 1 for a limit on a parent to bind its children (the
//! containers Docker creates under a `cgroup_parent`). Counters: `memory.usage_in_bytes`,
//! `memory.max_usage_in_bytes`, `memory.failcnt`, and the `oom_kill` line of
//! `memory.oom_control`.
//!
//! cgroup v2 (a unified hierarchy at `/sys/fs/cgroup` listing `memory` in
//! `cgroup.controllers`): `memory.max`, `memory.swap.max = 0`; counters `memory.current`,
//! `memory.peak`, and the `max` and `oom_kill` lines of `memory.events`.
//!
//! `UNITLAB_CGROUP_ROOT` points at another controller directory (a delegated subtree).
//!
//! A cgroup is removed when dropped, and by [`remove_live`] from a Ctrl-C handler: whatever
//! still runs in it is killed first, then its directories (Docker's per-container ones under a
//! `cgroup_parent` included, in every v1 controller) are removed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The environment variable naming the memory controller's directory.
pub const ROOT_ENV: &str = "UNITLAB_CGROUP_ROOT";

/// Which cgroup hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Separate hierarchies per controller.
    V1,
    /// The unified hierarchy.
    V2,
}

/// Errors creating or using a memory cgroup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// No memory controller at the place looked at.
    #[error("no memory cgroup controller at {path}: {why}\n  fix: {fix}")]
    NoController {
        /// Where it was looked for.
        path: String,
        /// What was missing.
        why: String,
        /// How to get one.
        fix: String,
    },
    /// The controller exists but this process may not create a cgroup in it.
    #[error("cannot create the memory cgroup {path}: {source}\n  fix: {fix}")]
    NotWritable {
        /// The directory.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
        /// How to get write access.
        fix: String,
    },
    /// Reading or writing a control file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

const WRITABLE_FIX: &str = "run as root (e.g. `sudo unitlab density ...`), or delegate a writable memory cgroup to your user and point UNITLAB_CGROUP_ROOT at it";

/// Finds the memory controller: `UNITLAB_CGROUP_ROOT`, else the v1 mount, else the v2 root.
pub fn controller() -> Result<(PathBuf, Version), CgroupError> {
    let probe = |dir: &Path| -> Option<Version> {
        if dir.join("memory.limit_in_bytes").exists() {
            return Some(Version::V1);
        }
        let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).ok()?;
        controllers
            .split_whitespace()
            .any(|c| c == "memory")
            .then_some(Version::V2)
    };
    if let Some(root) = std::env::var_os(ROOT_ENV) {
        let root = PathBuf::from(root);
        return probe(&root).map(|v| (root.clone(), v)).ok_or_else(|| {
            CgroupError::NoController {
                path: root.display().to_string(),
                why: format!(
                    "it has neither memory.limit_in_bytes (v1) nor `memory` in cgroup.controllers (v2) ({ROOT_ENV} is set)"
                ),
                fix: format!("point {ROOT_ENV} at a memory controller directory, or unset it"),
            }
        });
    }
    let v1 = PathBuf::from("/sys/fs/cgroup/memory");
    if probe(&v1) == Some(Version::V1) {
        return Ok((v1, Version::V1));
    }
    let v2 = PathBuf::from("/sys/fs/cgroup");
    if probe(&v2) == Some(Version::V2) {
        return Ok((v2, Version::V2));
    }
    Err(CgroupError::NoController {
        path: "/sys/fs/cgroup/memory (v1) or /sys/fs/cgroup (v2)".into(),
        why: "the memory controller is not mounted or not enabled".into(),
        fix: "boot with the memory controller enabled (kernel parameter cgroup_enable=memory), or mount it: `mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory`".into(),
    })
}

/// Cgroup directories alive in this process, for [`remove_live`].
static LIVE: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A memory cgroup with a limit; removed (after killing what still runs in it) on drop.
#[derive(Debug)]
pub struct MemoryCgroup {
    dir: PathBuf,
    name: String,
    version: Version,
    limit: u64,
    swap: String,
    hierarchy: Option<bool>,
    removed: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io(path))
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `key value` lines (memory.oom_control, memory.events).
fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
}

impl MemoryCgroup {
    /// Creates `unitlab-<tag>-<pid>-<n>` under the memory controller with `limit` bytes and
    /// swap kept out.
    pub fn create(tag: &str, limit: u64) -> Result<MemoryCgroup, CgroupError> {
        let (root, version) = controller()?;
        let name = format!(
            "unitlab-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = root.join(&name);
        if version == Version::V2 {
            // Children of the root get a memory controller only if the root hands it down.
            let sub = root.join("cgroup.subtree_control");
            let on = std::fs::read_to_string(&sub)
                .map(|s| s.split_whitespace().any(|c| c == "memory"))
                .unwrap_or(false);
            if !on {
                std::fs::write(&sub, "+memory").map_err(|source| CgroupError::NotWritable {
                    path: sub.display().to_string(),
                    source,
                    fix: WRITABLE_FIX.into(),
                })?;
            }
        }
        std::fs::create_dir(&dir).map_err(|source| CgroupError::NotWritable {
            path: dir.display().to_string(),
            source,
            fix: WRITABLE_FIX.into(),
        })?;
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((dir.clone(), name.clone()));
        let mut cg = MemoryCgroup {
            dir,
            name,
            version,
            limit,
            swap: String::new(),
            hierarchy: None,
            removed: false,
        };
        // From here on, a failure drops `cg`, which removes the directory.
        match version {
            Version::V1 => {
                cg.hierarchy = read_u64(&root.join("memory.use_hierarchy")).map(|v| v == 1);
                write(&cg.dir.join("memory.limit_in_bytes"), &limit.to_string())?;
                let memsw = cg.dir.join("memory.memsw.limit_in_bytes");
                cg.swap = if memsw.exists() {
                    write(&memsw, &limit.to_string())?;
                    "memory.memsw.limit_in_bytes = limit (no swap beyond the limit)".into()
                } else {
                    "swap not accounted by this kernel (no memory.memsw.*): only swappiness 0 keeps it out".into()
                };
                // Best effort: refused in some delegated setups, and memsw already binds.
                let _ = std::fs::write(cg.dir.join("memory.swappiness"), "0");
            }
            Version::V2 => {
                cg.hierarchy = Some(true);
                write(&cg.dir.join("memory.max"), &limit.to_string())?;
                let swap = cg.dir.join("memory.swap.max");
                cg.swap = if swap.exists() {
                    write(&swap, "0")?;
                    "memory.swap.max = 0".into()
                } else {
                    "swap not accounted by this kernel (no memory.swap.max)".into()
                };
            }
        }
        Ok(cg)
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its path relative to the controller's root, with a leading `/` (Docker's
    /// `cgroup_parent` with the cgroupfs driver).
    pub fn relative(&self) -> String {
        format!("/{}", self.name)
    }

    /// The hierarchy version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The limit, bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// How swap is kept out, in words.
    pub fn swap(&self) -> &str {
        &self.swap
    }

    /// Whether limits bind child cgroups (v1 `memory.use_hierarchy`; always in v2).
    pub fn hierarchical(&self) -> Option<bool> {
        self.hierarchy
    }

    /// Moves a process (and its future children) into the cgroup.
    pub fn add_pid(&self, pid: u32) -> Result<(), CgroupError> {
        write(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    /// Memory charged now, bytes.
    pub fn usage(&self) -> Option<u64> {
        match self.version {
            Version::V1 => read_u64(&self.dir.join("memory.usage_in_bytes")),
            Version::V2 => read_u64(&self.dir.join("memory.current")),
        }
    }

    /// Peak usage, bytes (v2 kernels before 5.19 have no `memory.peak`).
    pub fn max_usage(&self) -> Option<u64> {
        match self.version {
            Version::V1 => read_u64(&self.dir.join("memory.max_usage_in_bytes")),
            Version::V2 => read_u64(&self.dir.join("memory.peak")),
        }
    }

    /// Times the limit was hit.
    pub fn limit_hits(&self) -> Option<u64> {
        match self.version {
            Version::V1 => read_u64(&self.dir.join("memory.failcnt")),
            Version::V2 => read_keyed(&self.dir.join("memory.events"), "max "),
        }
    }

    /// OOM kills in the cgroup.
    pub fn oom_kills(&self) -> Option<u64> {
        match self.version {
            Version::V1 => read_keyed(&self.dir.join("memory.oom_control"), "oom_kill "),
            Version::V2 => read_keyed(&self.dir.join("memory.events"), "oom_kill "),
        }
    }

    /// Every process in the cgroup and its descendants.
    pub fn pids(&self) -> Vec<u32> {
        pids_under(&self.dir)
    }

    /// Kills what still runs in it, removes it (and its children), and reports failure.
    pub fn remove(mut self) -> Result<(), CgroupError> {
        self.removed = true;
        let r = remove_dir_tree(&self.dir, &self.name);
        unregister(&self.dir);
        r
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        if !self.removed {
            let _ = remove_dir_tree(&self.dir, &self.name);
            unregister(&self.dir);
        }
    }
}

fn unregister(dir: &Path) {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(d, _)| d != dir);
}

/// Removes every cgroup this process created and still holds (for a Ctrl-C handler).
/// Returns how many.
pub fn remove_live() -> usize {
    let live: Vec<(PathBuf, String)> =
        std::mem::take(&mut *LIVE.lock().unwrap_or_else(|p| p.into_inner()));
    for (dir, name) in &live {
        let _ = remove_dir_tree(dir, name);
    }
    live.len()
}

/// Removes the cgroups of `unitlab density` runs whose process is gone (killed with SIGKILL,
/// which no handler sees): `unitlab-density-<pid>-<n>` with no process `<pid>`. Returns the
/// directories removed; a live run's cgroups are never touched.
pub fn remove_stale() -> Result<Vec<PathBuf>, CgroupError> {
    let (root, _) = controller()?;
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(&root).map_err(io(&root))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("unitlab-density-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        remove_dir_tree(&e.path(), &name)?;
        removed.push(e.path());
    }
    Ok(removed)
}

fn pids_under(dir: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(pids_under(&e.path()));
            }
        }
    }
    out
}

/// Kills every process under `dir`, then removes `dir` depth-first. Docker creates the same
/// `cgroup_parent` in every v1 controller: those siblings (`/sys/fs/cgroup/*/<name>`) go too.
fn remove_dir_tree(dir: &Path, name: &str) -> Result<(), CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = pids_under(dir);
        if pids.iter().all(|&p| p == std::process::id()) {
            break;
        }
        for pid in pids.into_iter().filter(|&p| p != std::process::id()) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut first_err = None;
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(controllers) = dir.parent().and_then(Path::parent) {
        if let Ok(entries) = std::fs::read_dir(controllers) {
            for e in entries.flatten() {
                let sibling = e.path().join(name);
                if sibling != dir && sibling.is_dir() {
                    dirs.push(sibling);
                }
            }
        }
    }
    for d in dirs {
        if let Err(e) = rmdir_depth_first(&d, deadline) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

fn rmdir_depth_first(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                rmdir_depth_first(&e.path(), deadline)?;
            }
        }
    }
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // EBUSY while the last killed task is being released.
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(io(dir)(e)),
        }
    }
}

/// The host's swap total, bytes (`SwapTotal` in `/proc/meminfo`).
pub fn host_swap_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("SwapTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only cgroups whose run is gone are removed (a fake controller directory stands in).
    #[test]
    fn stale_cgroups_of_dead_runs_are_removed() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("memory.limit_in_bytes"), "0").unwrap();
        let dead = root.path().join("unitlab-density-4000000000-0");
        let live = root
            .path()
            .join(format!("unitlab-density-{}-0", std::process::id()));
        let other = root.path().join("docker");
        for d in [&dead, &live, &other] {
            std::fs::create_dir(d).unwrap();
        }
        std::env::set_var(ROOT_ENV, root.path());
        let removed = remove_stale();
        std::env::remove_var(ROOT_ENV);
        assert_eq!(removed.unwrap(), vec![dead.clone()]);
        assert!(!dead.exists() && live.exists() && other.exists());
    }
}
