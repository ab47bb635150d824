//! The `unitlab` binary end to end (hyperfine-style CLI tests with assert_cmd): behaviour and
//! error messages, never timings.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

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
fn doctor_lists_every_backend() {
    let out = unitlab().arg("doctor").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for b in ["container", "deno", "v8", "wasm", "process", "mock"] {
        assert!(
            text.lines().any(|l| l.starts_with(b)),
            "{b} missing:\n{text}"
        );
    }
}

#[test]
fn measure_writes_raw_samples_and_summary() {
    let tmp = tempfile::tempdir().unwrap();
    unitlab()
        .args([
            "measure", "-b", "mock", "-f", "cpu", "--size", "1", "-u", "7", "-w", "3",
        ])
        .args(["--memory-units", "2", "--seed", "9", "--quiet", "-o"])
        .arg(tmp.path())
        .assert()
        .success();
    let dir = only_dir(tmp.path());
    let samples = std::fs::read_to_string(dir.join("samples.csv")).unwrap();
    let lines: Vec<&str> = samples.lines().collect();
    assert_eq!(
        lines[0],
        "kind,unit,invoke,total_ns,start_ns,invoke_ns,guest_ns,verified"
    );
    assert_eq!(lines.len(), 1 + 7 * 4);
    assert_eq!(lines.iter().filter(|l| l.starts_with("cold,")).count(), 7);
    assert!(lines[1..].iter().all(|l| l.ends_with(",true")));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["schema"], "unitlab.measure/1");
    assert_eq!(summary["cold"]["count"], 7);
    assert_eq!(summary["warm"]["count"], 21);
    assert_eq!(summary["env"]["seed"], 9);
    assert_eq!(summary["memory"]["live_units"], 2);
    assert!(summary["overhead"]["timer_resolution_ns"].as_u64().unwrap() > 0);
    assert!(summary["env"]["kernel"]
        .as_str()
        .is_some_and(|k| !k.is_empty()));
}

#[test]
fn unknown_backend_and_function_are_named() {
    unitlab()
        .args(["measure", "-b", "lambda"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("invalid value 'lambda'"))
        .stderr(predicate::str::contains("wasm"));
    unitlab()
        .args(["measure", "-b", "mock", "-f", "sleepy"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "unknown function `sleepy`; known: noop, cpu, alloc",
        ));
}

#[test]
fn a_wrong_answer_stops_the_run_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    unitlab()
        .args([
            "measure",
            "-b",
            "mock",
            "--opt",
            "wrong_answer=true",
            "--quiet",
            "-o",
        ])
        .arg(tmp.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("wrong answer from `noop`"));
}

#[test]
fn bad_backend_options_are_named() {
    unitlab()
        .args(["measure", "-b", "mock", "--opt", "warp=9"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "unknown option `warp` for backend `mock`; known: start_us",
        ));
}

/// The main job end to end on the fast backends, and the report it writes, opened in headless
/// Chromium: every chart present, and drawn where this run has data for it.
#[test]
fn run_writes_a_report_that_chromium_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let out = unitlab()
        .args([
            "run",
            "-b",
            "wasm,process",
            "--scale",
            "0.01",
            "--replay-seconds",
            "3",
        ])
        .args(["--quiet", "-o"])
        .arg(tmp.path())
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let index = PathBuf::from(stdout.trim());
    assert!(index.ends_with("report/index.html"), "{stdout}");
    let html = std::fs::read_to_string(&index).unwrap();
    // Self-contained: nothing fetched (the SVG namespace URI is a name, not a fetch).
    for fetch in ["src=\"http", "href=\"http", "url(http", "<link", "@import"] {
        assert!(
            !html.contains(fetch),
            "the report must open offline: found {fetch}"
        );
    }
    let work = tempfile::tempdir().unwrap();
    let check = unitlab_reports::browser::check_report(&index, work.path())
        .expect("headless Chromium renders the report (scripts/setup-chromium.sh installs it)");
    assert!(check.screenshot_bytes > 50_000, "{check:?}");
    let drawn = |id: &str| {
        check
            .charts
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("chart {id} missing: {:?}", check.charts))
            .drawn
    };
    for id in [
        "cold_start_cdf",
        "cold_start_phases",
        "warm_latency",
        "memory_per_unit",
        "mechanism_floors",
        "timeline",
        "validation",
    ] {
        assert!(drawn(id), "chart {id} has no data: {:?}", check.charts);
    }
    for c in &check.charts {
        assert!(c.width > 0 && c.height > 0 && c.marks > 0, "{c:?}");
    }
}
