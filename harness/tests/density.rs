//! `unitlab density` end to end: bad input (a budget below one unit, no writable memory
//! cgroup) and a small run on every real engine. Each run must leave no cgroup and no process
//! behind; the cgroup's name carries the pid of the `unitlab` process, so other runs' cgroups
//! do not matter.

use std::path::{Path, PathBuf};
use std::process::Output;

use unitlab_results::scale::{DensityResult, DensityStop};

/// The memory controller this host has (v1 mount, else the v2 root).
fn controller() -> Option<PathBuf> {
    let v1 = PathBuf::from("/sys/fs/cgroup/memory");
    if v1.join("memory.limit_in_bytes").exists() {
        return Some(v1);
    }
    let v2 = PathBuf::from("/sys/fs/cgroup");
    std::fs::read_to_string(v2.join("cgroup.controllers"))
        .ok()
        .filter(|c| c.split_whitespace().any(|c| c == "memory"))
        .map(|_| v2)
}

/// Whether this process may create a memory cgroup (root, or a delegated controller).
fn writable() -> bool {
    let Some(root) = controller() else {
        return false;
    };
    // Tests run in parallel threads of one process: each probe needs a name of its own.
    static PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let probe = root.join(format!("unitlab-probe-{}-{n}", std::process::id()));
    let ok = std::fs::create_dir(&probe).is_ok();
    let _ = std::fs::remove_dir(&probe);
    ok
}

/// Runs `unitlab density ARGS`, and checks that no cgroup of that process remains in any
/// controller.
fn density(args: &[&str], out: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("unitlab"));
    cmd.arg("density").args(args).arg("-o").arg(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let prefix = format!("unitlab-density-{pid}-");
    for ctl in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        for e in std::fs::read_dir(ctl.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(&prefix),
                "cgroup {} was left behind",
                e.path().display()
            );
        }
    }
    output
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn only_dir(parent: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

#[test]
fn no_memory_controller_is_a_clear_error_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let root = empty.path().to_str().unwrap();
    let o = density(
        &["-b", "wasm", "--budget", "64MiB"],
        tmp.path(),
        &[("UNITLAB_CGROUP_ROOT", root)],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("no memory cgroup controller at"), "{err}");
    assert!(err.contains("fix: point UNITLAB_CGROUP_ROOT"), "{err}");
}

/// Not root: creating the cgroup is refused, and the message says to run as root or delegate.
#[test]
fn unprivileged_user_is_told_to_run_as_root() {
    if controller().is_none() || !writable() {
        // Already unprivileged (or no controller): the plain run must give the same advice.
        let tmp = tempfile::tempdir().unwrap();
        let o = density(&["-b", "wasm", "--budget", "64MiB"], tmp.path(), &[]);
        assert_eq!(o.status.code(), Some(1));
        let err = text(&o.stderr);
        assert!(err.contains("fix:"), "{err}");
        return;
    }
    // As root: drop to nobody for one run (setpriv is in util-linux).
    let as_nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("unitlab"))
            .args(args)
            .output()
            .expect("setpriv runs")
    };
    if !as_nobody(&["--version"]).status.success() {
        // The checkout is not readable by nobody (e.g. under /root): the unprivileged case
        // cannot be staged on this machine.
        eprintln!("note: nobody cannot run the unitlab binary here; unprivileged case not staged");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = as_nobody(&[
        "density",
        "-b",
        "mock",
        "--budget",
        "64MiB",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("cannot create the memory cgroup"), "{err}");
    assert!(err.contains("run as root"), "{err}");
}

#[test]
fn budget_below_one_unit_is_an_error_and_leaves_nothing() {
    if !writable() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = density(&["-b", "v8", "--budget", "1MiB", "-q"], tmp.path(), &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("holds no unit"), "{err}");
    assert!(err.contains("give a larger --budget"), "{err}");
    // The result is still written: 0 units, and why.
    let r = DensityResult::load(&only_dir(tmp.path())).unwrap();
    assert_eq!(r.units_reached, 0);
    assert_eq!(r.budget_bytes, 1 << 20);
}

#[test]
fn zero_budget_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = density(&["-b", "wasm", "--budget", "0B"], tmp.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("budget of 0 bytes"),
        "{}",
        text(&o.stderr)
    );
}

/// A small density run against a real engine, under the kernel's limit.
fn real_density(backend: &str, budget: &str, max_units: u32) -> DensityResult {
    assert!(
        writable(),
        "no writable memory cgroup: run the suite as root"
    );
    let tmp = tempfile::tempdir().unwrap();
    let o = density(
        &[
            "-b",
            backend,
            "--budget",
            budget,
            "--max-units",
            &max_units.to_string(),
            "-q",
        ],
        tmp.path(),
        &[],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = DensityResult::load(&only_dir(tmp.path())).unwrap();
    assert!(r.units_reached > 0);
    assert!(r.units_reached <= max_units);
    assert!(r.bytes_per_unit.is_some_and(|b| b > 0.0), "{r:?}");
    assert!(
        r.max_usage_bytes.is_some_and(|m| m <= r.budget_bytes),
        "{r:?}"
    );
    let csv = std::fs::read_to_string(only_dir(tmp.path()).join("units.csv")).unwrap();
    assert_eq!(csv.lines().count() as u32, 1 + r.units_reached);
    r
}

#[test]
fn wasm_density_capped() {
    let r = real_density("wasm", "64MiB", 300);
    assert_eq!(r.units_reached, 300);
    assert_eq!(r.stop, DensityStop::Cap);
}

#[test]
fn v8_density_hits_the_limit() {
    let r = real_density("v8", "48MiB", 100_000);
    assert_ne!(r.stop, DensityStop::Cap, "{r:?}");
}

#[test]
fn process_density_hits_the_limit() {
    let r = real_density("process", "24MiB", 100_000);
    assert_ne!(r.stop, DensityStop::Cap, "{r:?}");
}

#[test]
fn deno_density_hits_the_limit() {
    let r = real_density("deno", "64MiB", 100_000);
    assert_ne!(r.stop, DensityStop::Cap, "{r:?}");
}

#[test]
fn container_density_capped() {
    let r = real_density("container", "64MiB", 5);
    assert_eq!(r.units_reached, 5);
}

/// SIGINT in the middle of a density run: exit 130, the cgroup removed, and the unit process
/// (the hidden `density-units` child) gone with it.
#[test]
fn ctrl_c_mid_density_leaves_no_cgroup_and_no_process() {
    if !writable() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("unitlab"))
        .args([
            "density",
            "-b",
            "v8",
            "--budget",
            "4GiB",
            "--max-time",
            "60s",
            "-q",
            "-o",
        ])
        .arg(tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let root = controller().unwrap();
    let prefix = format!("unitlab-density-{pid}-");
    // Wait until the cgroup holds the unit process and it has started a few units.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let procs = loop {
        let cg = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(&prefix));
        let usage = cg.as_ref().and_then(|e| {
            std::fs::read_to_string(e.path().join("memory.usage_in_bytes"))
                .or_else(|_| std::fs::read_to_string(e.path().join("memory.current")))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
        });
        if let (Some(e), Some(u)) = (&cg, usage) {
            if u > 32 << 20 {
                break std::fs::read_to_string(e.path().join("cgroup.procs")).unwrap();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the density run never got going"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the density run ended early"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let unit_pids: Vec<u32> = procs.lines().filter_map(|l| l.parse().ok()).collect();
    assert!(!unit_pids.is_empty());
    // SAFETY: kill has no memory-safety preconditions; pid is our child.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("removed 1 memory cgroups"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for p in unit_pids {
        // Gone, or a zombie waiting for its parent to reap it: not running.
        let state = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let running = state
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            .is_some_and(|st| st != "Z");
        assert!(!running, "unit process {p} still runs: {state}");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
