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
    for b in ["container", "oci", "deno", "v8", "wasm", "process", "mock"] {
        assert!(
            text.lines().any(|l| l.starts_with(b)),
            "{b} missing:\n{text}"
        );
    }
    // Every OCI runtime, installed or not, registered with dockerd or not.
    assert!(text.contains("OCI runtimes (--runtime)"), "{text}");
    for r in ["crun", "runc", "runsc"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(r)
                && (l.contains("registered with dockerd") || l.contains("dockerd not answering"))),
            "{r} missing:\n{text}"
        );
    }
}

/// A runtime that is not installed: the error names the package and the fix, the exit code
/// says it failed, and nothing is created.
#[test]
fn missing_runtime_names_the_package_and_fix() {
    let tmp = tempfile::tempdir().unwrap();
    unitlab()
        .args([
            "measure",
            "-b",
            "oci",
            "--runtime",
            "runsc",
            "-u",
            "1",
            "--quiet",
        ])
        .args(["--opt", "runtime_path=/nonexistent/runsc", "-o"])
        .arg(tmp.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("`runsc` is not installed"))
        .stderr(predicate::str::contains("apt-get install -y runsc"));
    unitlab()
        .args([
            "measure",
            "-b",
            "container",
            "--runtime",
            "kata",
            "-u",
            "1",
            "--quiet",
            "-o",
        ])
        .arg(tmp.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("`runc`, `crun` or `runsc`"));
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
fn validate_prints_the_differences_and_the_harness_share() {
    let tmp = tempfile::tempdir().unwrap();
    let out = unitlab()
        .args(["validate", "-b", "mock", "--trace", "synthetic:bursty"])
        .args(["--span", "3s", "--time-scale", "4"])
        .args(["--calibration", "assume:mock:1ms:1MiB", "-o"])
        .arg(tmp.path())
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for row in [
        "cold_starts",
        "backend_startup_p50_ns",
        "idle_gb_seconds",
        "start handoff",
        "backend start",
        "invoke handoff",
        "backend invoke",
        "results: ",
    ] {
        assert!(text.contains(row), "{row} missing:\n{text}");
    }
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(only_dir(tmp.path()).join("validation.json")).unwrap(),
    )
    .unwrap();
    // Every replayed start and invoke is timed on both sides of its hand-off.
    let h = &v["replay"]["harness"];
    assert_eq!(
        h["backend_start"]["count"],
        v["replay"]["counts"]["units_started"]
    );
    assert_eq!(h["start_handoff"]["count"], h["backend_start"]["count"]);
    assert_eq!(
        h["backend_invoke"]["count"],
        v["replay"]["counts"]["completed"]
    );
    // The simulated run has no harness.
    assert!(v["simulate"].get("harness").is_none());
}

#[test]
fn simulate_prints_one_row_per_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let out = unitlab()
        .args(["simulate", "--trace", "synthetic:bursty"])
        .args(["--calibration", "assume:wasm:5us:64KiB"])
        .args(["--policy", "keepalive:10m", "--policy", "hybrid", "-o"])
        .arg(tmp.path())
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for policy in ["none ", "keepalive-10m ", "hybrid "] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(policy)),
            "{policy}missing:\n{text}"
        );
    }
}

#[test]
fn measure_records_the_idle_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let out = unitlab()
        .args([
            "measure", "-b", "mock", "-u", "2", "-w", "2", "--gap", "100ms",
        ])
        .args(["--memory-units", "0", "-o"])
        .arg(tmp.path())
        .assert()
        .success();
    // Six timed calls (2 cold, 4 warm), each after a sleep of at least the gap: a lower bound
    // that holds on any machine (the same run without a gap takes ~30 ms), not a speed target.
    assert!(t0.elapsed() >= std::time::Duration::from_millis(6 * 100));
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("after 100 ms idle"), "{text}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(only_dir(tmp.path()).join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["config"]["gap_ns"], 100_000_000);
    assert_eq!(summary["warm"]["count"], 4);
    unitlab()
        .args(["measure", "-b", "mock", "--gap", "soon"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--gap"));
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
    // Your own traffic: a trace file, named in the frontier and the summary.
    let trace = tmp.path().join("my-traffic.csv");
    unitlab_workloads::native::write(unitlab_workloads::default_bursty(3), &trace).unwrap();
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
        .arg("--trace")
        .arg(&trace)
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
    // The frontier and the burstiness sweep come from the run's own calibrations, on the
    // given trace.
    for id in ["spectrum", "frontier", "frontier_other", "burstiness"] {
        assert!(drawn(id), "chart {id} has no data: {:?}", check.charts);
    }
    assert!(html.contains("Keep-alive frontier: my-traffic.csv"));
    // Layout at 1400x900: the first screen is written under the results.
    let layout = unitlab_reports::browser::check_layout(&index, work.path()).unwrap();
    assert!(layout.first_screen.starts_with(tmp.path()), "{layout:?}");
    assert!(layout.legend_overlaps.is_empty(), "{layout:?}");
    assert!(layout.clipped_texts.is_empty(), "{layout:?}");
    assert!(
        layout.height_closed <= unitlab_reports::browser::MAX_PAGE_HEIGHT,
        "{layout:?}"
    );
}

/// Durations and sizes inside policy, calibration and execution specs name their unit, like
/// every flag: a bare number is refused with the units to write.
#[test]
fn specs_refuse_bare_numbers() {
    for (flag, spec, bare) in [
        ("--policy", "keepalive:600", "`600` has no unit"),
        ("--policy", "hybrid:range=4h,bin=60", "`60` has no unit"),
        ("--calibration", "assume:x:150:1MiB", "`150` has no unit"),
        ("--calibration", "assume:x:150ms:64", "`64` has no unit"),
        ("--execution", "fixed:100", "`100` has no unit"),
    ] {
        unitlab()
            .args(["simulate", "--trace", "synthetic:bursty", flag, spec])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(bare));
    }
}
