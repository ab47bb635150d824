//! `unitlab burst` end to end: bad input, the results directory, a small burst on every real
//! engine, and Ctrl-C in the middle of a container burst (every container removed).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use unitlab_results::scale::BurstResult;

fn unitlab() -> Command {
    Command::cargo_bin("unitlab").expect("the unitlab binary is built for integration tests")
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
fn concurrency_zero_is_refused_with_the_fix() {
    unitlab()
        .args(["burst", "-b", "mock", "-c", "10,0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("0 units releases nothing"))
        .stderr(predicate::str::contains("--concurrency 1,10,100"));
    unitlab()
        .args(["burst", "-b", "mock", "-c", "5", "--threads", "0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("0 threads cannot start a unit"));
}

#[test]
fn mock_burst_writes_raw_samples_then_summary() {
    let tmp = tempfile::tempdir().unwrap();
    unitlab()
        .args([
            "burst", "-b", "mock", "-f", "cpu", "--size", "1", "-c", "1,5",
        ])
        .args(["--threads", "2", "-q", "-o"])
        .arg(tmp.path())
        .assert()
        .success();
    let dir = only_dir(tmp.path());
    let csv = std::fs::read_to_string(dir.join("samples.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 1 + 5, "{csv}");
    assert!(
        csv.lines().skip(1).all(|l| l.ends_with(",true,true")),
        "{csv}"
    );
    let r = BurstResult::load(&dir).unwrap();
    assert_eq!(r.schema, unitlab_results::scale::BURST_SCHEMA);
    assert_eq!(r.levels.len(), 2);
    assert_eq!(r.levels[1].concurrency, 5);
    assert_eq!(r.levels[1].threads, 2);
    assert_eq!(r.levels[1].answered, 5);
    assert!(r.levels[1].scale_out_ns.is_some());
    assert_eq!(r.env.seed, 1);
}

/// A small burst against a real engine: every unit answers, verified, and nothing remains.
fn real_burst(backend: &str, n: u32) {
    let tmp = tempfile::tempdir().unwrap();
    unitlab()
        .args(["burst", "-b", backend, "-c", &format!("1,{n}"), "-q", "-o"])
        .arg(tmp.path())
        .assert()
        .success();
    let r = BurstResult::load(&only_dir(tmp.path())).unwrap();
    for l in &r.levels {
        assert_eq!(l.failures, 0, "{backend}: {:?}", l.errors);
        assert_eq!(l.answered, l.concurrency);
        assert!(l.scale_out_ns.is_some());
    }
}

#[test]
fn wasm_burst() {
    real_burst("wasm", 20);
}

#[test]
fn v8_burst() {
    real_burst("v8", 10);
}

#[test]
fn process_burst() {
    real_burst("process", 10);
}

#[test]
fn deno_burst() {
    real_burst("deno", 5);
}

#[test]
fn container_burst() {
    real_burst("container", 4);
}

fn containers_of(pid: u32) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=unitlab.owner_pid={pid}"))
        .output()
        .expect("the docker CLI runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// SIGINT while a container burst is under way: the process exits 130 and no container it
/// created remains (filtered by its own pid, so other runs' containers do not matter).
#[test]
fn ctrl_c_mid_burst_leaves_no_container() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("unitlab"))
        .args(["burst", "-b", "container", "-c", "30", "-q", "-o"])
        .arg(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while containers_of(pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no container of the burst appeared"
        );
        assert!(child.try_wait().unwrap().is_none(), "the burst ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill has no memory-safety preconditions; pid is our child.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: removed"), "{err}");
    assert_eq!(containers_of(pid), Vec::<String>::new(), "{err}");
    // No result was written for an interrupted burst.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
