//! Issue 17: exit codes, atomic results, limits and faults mid-run, against the `unitlab`
//! binary and the real engines (Docker, Deno). Behaviour only: no timing is asserted (a wait
//! bound only keeps a broken run from hanging the suite).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;

fn unitlab() -> Command {
    Command::new(cargo_bin("unitlab"))
}

/// Entries of `dir` (all of them, hidden ones too), sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

fn text(o: &Output) -> String {
    format!(
        "exit: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("unitlab runs")
}

/// Waits for `child` to exit, at most `limit` (then kills it and fails the test).
fn wait(mut child: Child, limit: Duration) -> Output {
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("unitlab did not exit within {limit:?}\n{}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unitlab starts")
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(
        unsafe { libc::kill(pid as libc::pid_t, sig) },
        0,
        "kill {pid}"
    );
}

/// Polls `f` every 20 ms until it returns `Some`, at most `limit`.
fn poll<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pids of the processes whose parent is `ppid`, with their command line.
fn children(ppid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = stat.rsplit(')').next().unwrap_or("");
        let parent: Option<u32> = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if parent == Some(ppid) {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            out.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(s) => !s.rsplit(')').next().unwrap().trim_start().starts_with('Z'),
    }
}

/// `/tmp/unitlab-deno-<pid>-*` folders of process `pid`.
fn deno_temp_dirs(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("unitlab-deno-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Exit codes and input checks (mock backend: no engine needed)
// ---------------------------------------------------------------------------------------------

#[test]
fn zero_units_is_rejected_as_input() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(unitlab()
        .args(["measure", "-b", "mock", "-u", "0", "-q", "-o"])
        .arg(tmp.path()));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--units"), "{}", text(&o));
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn units_that_fail_give_exit_code_3_with_the_count() {
    let tmp = tempfile::tempdir().unwrap();
    // Every second start fails: 2 of 4 units.
    let o = run(unitlab()
        .args([
            "measure",
            "-b",
            "mock",
            "-u",
            "4",
            "-w",
            "1",
            "--memory-units",
            "0",
        ])
        .args(["--opt", "fail_start_every=2", "-q", "-o"])
        .arg(tmp.path()));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("2 of 4 units failed"), "{}", text(&o));
    // The results were written all the same, with the errors.
    let dirs = entries(tmp.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let summary = std::fs::read_to_string(tmp.path().join(&dirs[0]).join("summary.json")).unwrap();
    assert!(summary.contains("\"errors\""), "{summary}");

    // Every unit failing exits non-zero too.
    let o = run(unitlab()
        .args([
            "measure",
            "-b",
            "mock",
            "-u",
            "3",
            "-w",
            "1",
            "--memory-units",
            "0",
        ])
        .args(["--opt", "fail_start_every=1", "-q", "-o"])
        .arg(tmp.path()));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("3 of 3 units failed"), "{}", text(&o));

    // And all units fine: 0.
    let o = run(unitlab()
        .args(["measure", "-b", "mock", "-u", "3", "-w", "1", "-q", "-o"])
        .arg(tmp.path()));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// `-o` under a regular file fails before any measuring: the mock's first start would take
/// 30 s, and the command returns long before that with exit code 2.
#[test]
fn an_unwritable_out_fails_before_measuring() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("under");
    let child = spawn(
        unitlab()
            .args([
                "measure",
                "-b",
                "mock",
                "-u",
                "1",
                "-w",
                "0",
                "--memory-units",
                "0",
            ])
            .args(["--opt", "start_us=30000000", "-q", "-o"])
            .arg(&out),
    );
    let o = wait(child, Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not writable") && text(&o).contains("--out"),
        "{}",
        text(&o)
    );
    for sub in ["simulate", "replay"] {
        let mut cmd = unitlab();
        cmd.arg(sub);
        if sub == "replay" {
            cmd.args(["-b", "mock"]);
        } else {
            cmd.args(["--calibration", "ideal"]);
        }
        let o = run(cmd
            .args([
                "--trace",
                "synthetic:poisson:10:1:5",
                "--policy",
                "none",
                "-o",
            ])
            .arg(&out));
        assert_eq!(o.status.code(), Some(2), "{sub}: {}", text(&o));
        assert!(text(&o).contains("not writable"), "{sub}: {}", text(&o));
    }
}

/// One range for every backend, checked by the shared parser (exit code 2, the flag and its
/// range named); a backend's own floor is checked before any unit runs.
#[test]
fn limits_out_of_range_are_rejected_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, value, says) in [
        ("--deadline", "0s", "between 1ms and 1d"),
        ("--deadline", "2d", "between 1ms and 1d"),
        ("--memory-limit", "1B", "between 1MiB and 1TiB"),
    ] {
        for backend in ["mock", "wasm", "process"] {
            let o = run(unitlab()
                .args(["measure", "-b", backend, "-u", "1", flag, value, "-q", "-o"])
                .arg(tmp.path()));
            assert_eq!(o.status.code(), Some(2), "{backend} {flag}: {}", text(&o));
            assert!(
                text(&o).contains(flag) && text(&o).contains(says),
                "{backend} {flag}: {}",
                text(&o)
            );
        }
    }
    // The process backend's floor: 2 MiB of address space for its runner.
    let o = run(unitlab()
        .args([
            "measure",
            "-b",
            "process",
            "-u",
            "1",
            "--memory-limit",
            "1MiB",
            "-q",
            "-o",
        ])
        .arg(tmp.path()));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--memory-limit 1MiB") && text(&o).contains("below 2MiB"),
        "{}",
        text(&o)
    );
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));
}

/// Two runs in the same second get two directories.
#[test]
fn runs_in_the_same_second_do_not_collide() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = || {
        spawn(
            unitlab()
                .args(["simulate", "--trace", "synthetic:poisson:10:1:5"])
                .args(["--calibration", "ideal", "--policy", "none", "-o"])
                .arg(tmp.path()),
        )
    };
    let (a, b) = (sim(), sim());
    for c in [a, b] {
        let o = wait(c, Duration::from_secs(60));
        assert!(o.status.success(), "{}", text(&o));
    }
    let dirs = entries(tmp.path());
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    assert!(dirs.iter().all(|d| !d.starts_with('.')), "{dirs:?}");
}

// ---------------------------------------------------------------------------------------------
// SIGINT during the long subcommands: exit code 130, nothing left
// ---------------------------------------------------------------------------------------------

/// Starts `args` with `-o <tmp>`, waits `after`, sends SIGINT, and checks the exit code and
/// that the output folder holds nothing (no partial or empty result directory).
fn interrupt(args: &[&str], after: Duration) {
    let tmp = tempfile::tempdir().unwrap();
    let child = spawn(unitlab().args(args).arg("-o").arg(tmp.path()));
    let pid = child.id();
    std::thread::sleep(after);
    // The run must still be going (else this test tests nothing).
    assert!(alive(pid), "{args:?} ended before the interrupt");
    let kids: Vec<u32> = children(pid).into_iter().map(|(p, _)| p).collect();
    signal(pid, libc::SIGINT);
    let o = wait(child, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(130), "{args:?}: {}", text(&o));
    assert!(
        entries(tmp.path()).is_empty(),
        "{args:?} left {:?}",
        entries(tmp.path())
    );
    for k in kids {
        poll(Duration::from_secs(10), "child processes exit", || {
            (!alive(k)).then_some(())
        });
    }
    assert!(deno_temp_dirs(pid).is_empty());
}

#[test]
fn sigint_during_measure_exits_130_and_leaves_nothing() {
    // 0.2 s per start, 100 units: about 20 s if not interrupted.
    interrupt(
        &[
            "measure",
            "-b",
            "mock",
            "-u",
            "100",
            "-w",
            "1",
            "--opt",
            "start_us=200000",
            "-q",
        ],
        Duration::from_millis(1500),
    );
}

#[test]
fn sigint_during_replay_exits_130_and_leaves_nothing() {
    // A minute of trace replayed in real time.
    interrupt(
        &[
            "replay",
            "-b",
            "mock",
            "--trace",
            "synthetic:poisson:20:1:1200",
            "--policy",
            "none",
        ],
        Duration::from_millis(2000),
    );
}

#[test]
fn sigint_during_simulate_exits_130_and_leaves_nothing() {
    // Fifty million invocations: minutes in a debug build.
    interrupt(
        &[
            "simulate",
            "--trace",
            "synthetic:azure-day:1000:50000000",
            "--calibration",
            "ideal",
            "--policy",
            "keepalive:10m",
        ],
        Duration::from_millis(2000),
    );
}

#[test]
fn sigint_during_burst_exits_130_and_leaves_nothing() {
    // Levels of 2000 and 4000 mock starts at 2 ms each on 2 threads: seconds.
    interrupt(
        &[
            "burst",
            "-b",
            "mock",
            "-c",
            "2000,4000",
            "-t",
            "2",
            "--opt",
            "start_us=2000",
            "-q",
        ],
        Duration::from_millis(1500),
    );
}

// ---------------------------------------------------------------------------------------------
// Deno: the host killed mid-invoke; SIGINT and SIGKILL of unitlab
// ---------------------------------------------------------------------------------------------

fn deno_available() -> bool {
    let o = run(unitlab().args(["doctor"]));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .any(|l| l.starts_with("deno") && l.contains("available") && !l.contains("unavailable"))
}

/// The Deno host process of a running `unitlab` (its child running `deno`).
fn deno_host(pid: u32) -> u32 {
    poll(Duration::from_secs(60), "a Deno host starts", || {
        children(pid)
            .into_iter()
            .find(|(_, cmd)| cmd.contains("host.js"))
            .map(|(p, _)| p)
    })
}

/// A JS function whose every invoke spins for 300 ms.
fn slow_js(dir: &Path) -> PathBuf {
    let js = dir.join("slow.js");
    std::fs::write(
        &js,
        "export default function handler(size, seed) {\n  const t = Date.now();\n  while (Date.now() - t < 300) {}\n  return 7;\n}\n",
    )
    .unwrap();
    js
}

#[test]
fn deno_host_killed_mid_invoke_fails_that_unit_and_leaves_nothing() {
    if !deno_available() {
        assert!(
            std::env::var_os("UNITLAB_REQUIRE_V8").is_none(),
            "deno is required here (scripts/setup.sh installs it)"
        );
        eprintln!("skipped: deno is not available");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let js = slow_js(tmp.path());
    let out = tmp.path().join("out");
    let child = spawn(
        unitlab()
            .args(["measure", "-b", "deno", "-f"])
            .arg(&js)
            .args(["--expect", "7", "-u", "4", "-w", "1", "--memory-units", "0"])
            .args(["-q", "-o"])
            .arg(&out),
    );
    let pid = child.id();
    let host = deno_host(pid);
    // Into the first units' invokes (each takes 300 ms; prepare runs none).
    std::thread::sleep(Duration::from_millis(900));
    signal(host, libc::SIGKILL);
    let o = wait(child, Duration::from_secs(120));
    // The unit whose invoke was running failed; the next unit booted a new host.
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("of 4 units failed"), "{}", text(&o));
    let dirs = entries(&out);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let summary = std::fs::read_to_string(out.join(&dirs[0]).join("summary.json")).unwrap();
    assert!(summary.contains("Deno host process died"), "{summary}");
    assert!(deno_temp_dirs(pid).is_empty());
    assert!(children(pid).is_empty());
}

#[test]
fn sigint_and_sigkill_of_a_deno_measure_leave_no_host_or_temp_folder() {
    if !deno_available() {
        assert!(
            std::env::var_os("UNITLAB_REQUIRE_V8").is_none(),
            "deno is required here (scripts/setup.sh installs it)"
        );
        eprintln!("skipped: deno is not available");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let js = slow_js(tmp.path());
    for sig in [libc::SIGINT, libc::SIGKILL] {
        let out = tmp.path().join(format!("out-{sig}"));
        let child = spawn(
            unitlab()
                .args(["measure", "-b", "deno", "-f"])
                .arg(&js)
                .args(["--expect", "7", "-u", "100", "-w", "1", "-q", "-o"])
                .arg(&out),
        );
        let pid = child.id();
        let host = deno_host(pid);
        std::thread::sleep(Duration::from_millis(700));
        signal(pid, sig);
        let o = wait(child, Duration::from_secs(30));
        if sig == libc::SIGINT {
            assert_eq!(o.status.code(), Some(130), "{}", text(&o));
            assert!(entries(&out).is_empty(), "{:?}", entries(&out));
        } else {
            // Killed outright: only a partial directory may remain, which reports skip and
            // the next run into the same folder removes.
            assert!(
                entries(&out).iter().all(|e| e.starts_with(".partial-")),
                "{:?}",
                entries(&out)
            );
        }
        // The host sees its stdin close and exits, workers and all.
        poll(Duration::from_secs(10), "the Deno host exits", || {
            (!alive(host)).then_some(())
        });
        assert!(deno_temp_dirs(pid).is_empty(), "{:?}", deno_temp_dirs(pid));
        if sig == libc::SIGKILL {
            // The next run into the same folder removes the dead run's partial directory.
            let o = run(unitlab()
                .args(["measure", "-b", "mock", "-u", "1", "-w", "0", "-q", "-o"])
                .arg(&out));
            assert!(o.status.success(), "{}", text(&o));
            assert!(
                entries(&out).iter().all(|e| !e.starts_with('.')),
                "{:?}",
                entries(&out)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Docker: unitlab killed mid-measure; dockerd stopped mid-measure (a private dockerd)
// ---------------------------------------------------------------------------------------------

/// One HTTP/1.0 GET over a Unix socket; the body, or `None` when the engine does not answer.
fn docker_get(sock: &Path, path: &str) -> Option<String> {
    let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    if !resp.starts_with("HTTP/1.0 200") && !resp.starts_with("HTTP/1.1 200") {
        return None;
    }
    resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Ids of containers carrying every label in `labels`, running or not.
fn containers(sock: &Path, labels: &[&str]) -> Option<Vec<String>> {
    let filter = format!(
        "{{\"label\":[{}]}}",
        labels
            .iter()
            .map(|l| format!("\"{l}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let enc: String = filter
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = docker_get(sock, &format!("/containers/json?all=1&filters={enc}"))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(
        v.as_array()?
            .iter()
            .filter_map(|c| c["Id"].as_str().map(String::from))
            .collect(),
    )
}

fn shared_docker_socket() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => PathBuf::from(&h["unix://".len()..]),
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

#[test]
fn sigkill_during_a_container_measure_then_clean_leaves_nothing() {
    let sock = shared_docker_socket();
    if docker_get(&sock, "/_ping").is_none() {
        panic!(
            "the container tests need a running Docker engine at {}; run scripts/setup-docker.sh",
            sock.display()
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let child = spawn(
        unitlab()
            .args([
                "measure",
                "-b",
                "container",
                "-u",
                "200",
                "-w",
                "1",
                "-q",
                "-o",
            ])
            .arg(tmp.path()),
    );
    let pid = child.id();
    // Every unit carries its run's pid: this run's containers, and no one else's.
    let label = format!("unitlab.owner_pid={pid}");
    poll(Duration::from_secs(120), "a container starts", || {
        containers(&sock, &["unitlab.kind=unit", &label]).filter(|c| !c.is_empty())
    });
    signal(pid, libc::SIGKILL);
    let _ = wait(child, Duration::from_secs(10));
    let o = run(unitlab().args(["clean", "--label", &label]));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        containers(&sock, &["unitlab=1", &label]),
        Some(vec![]),
        "{}",
        text(&o)
    );
    assert!(
        entries(tmp.path())
            .iter()
            .all(|e| e.starts_with(".partial-")),
        "{:?}",
        entries(tmp.path())
    );
}

/// A private Docker engine (own socket, data root, exec root, pid file, its own containerd),
/// so that stopping it does not touch the machine's engine that other tests use. It runs in
/// its own network namespace (`unshare --net`): a dockerd started with `--bridge=none` deletes
/// the host's `docker0` bridge, which the machine's engine needs. Units use `--network none`,
/// and the API is a Unix socket, so nothing else needs the host's network.
struct PrivateDockerd {
    root: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateDockerd {
    fn new() -> Option<PrivateDockerd> {
        let root = tempfile::Builder::new()
            .prefix("unitlab-dockerd-")
            .tempdir()
            .unwrap();
        std::fs::write(root.path().join("daemon.json"), "{}").unwrap();
        let mut d = PrivateDockerd { root, child: None };
        d.start()?;
        Some(d)
    }

    fn sock(&self) -> PathBuf {
        self.root.path().join("docker.sock")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.sock().display())
    }

    fn start(&mut self) -> Option<()> {
        let r = self.root.path();
        let log = std::fs::File::create(r.join("dockerd.log")).unwrap();
        let child = Command::new("unshare")
            .args(["--net", "dockerd"])
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(r.join("data"))
            .arg("--exec-root")
            .arg(r.join("exec"))
            .arg("--pidfile")
            .arg(r.join("docker.pid"))
            .arg("--config-file")
            .arg(r.join("daemon.json"))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .ok()?;
        self.child = Some(child);
        let t0 = Instant::now();
        while docker_get(&self.sock(), "/_ping").is_none() {
            if t0.elapsed() > Duration::from_secs(60)
                || self.child.as_mut()?.try_wait().ok()?.is_some()
            {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(())
    }

    /// SIGTERM, as `systemctl stop docker` does, and waits for the engine to exit.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // `unshare` execs dockerd: the child's pid is dockerd's.
            signal(c.id(), libc::SIGTERM);
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn dockerd_stopped_mid_measure_is_a_clear_error_and_clean_leaves_nothing() {
    let docker0 = Path::new("/sys/class/net/docker0");
    let had_docker0 = docker0.exists();
    let Some(mut d) = PrivateDockerd::new() else {
        panic!(
            "a private dockerd did not start (it runs as root under `unshare --net`; \
             scripts/setup-docker.sh installs dockerd)"
        );
    };
    let tmp = tempfile::tempdir().unwrap();
    let child = spawn(
        unitlab()
            .env("DOCKER_HOST", d.host())
            .args([
                "measure",
                "-b",
                "container",
                "-u",
                "200",
                "-w",
                "1",
                "-q",
                "-o",
            ])
            .arg(tmp.path()),
    );
    poll(Duration::from_secs(120), "a container starts", || {
        containers(&d.sock(), &["unitlab.kind=unit"]).filter(|c| !c.is_empty())
    });
    d.stop();
    let o = wait(child, Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("stopped answering") && t.contains(&d.host()) && t.contains("unitlab clean"),
        "{t}"
    );
    // A failed run leaves no result.
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));

    // Once the engine is back, clean removes what the run left.
    d.start()
        .unwrap_or_else(|| panic!("dockerd restarts\n{}", d.log()));
    let o = run(unitlab().env("DOCKER_HOST", d.host()).arg("clean"));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(containers(&d.sock(), &["unitlab=1"]), Some(vec![]));
    d.stop();
    // The machine's engine still has its bridge.
    assert_eq!(
        docker0.exists(),
        had_docker0,
        "the private dockerd must not touch the host's network (docker0)"
    );
}
