//! Issue 17 (input half) end to end: each repro of a crash, an unbounded allocation, a silent
//! wrong result or a hang, through the `unitlab` binary. Each now gives a correct result or a
//! clear error naming the cause (and, for a trace, its line and column).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

fn unitlab() -> Command {
    let mut c =
        Command::cargo_bin("unitlab").expect("the unitlab binary is built for integration tests");
    // A repro that regressed to a hang or a runaway allocation fails here instead of stalling.
    c.timeout(Duration::from_secs(120));
    c
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Three rows one second apart, epoch seconds.
const EPOCH: &str = "ts,fn\n1700000000,a\n1700000001,b\n1700000002,a\n";

fn simulate(dir: &Path, trace: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    let mut args = vec![
        "simulate",
        "--trace",
        trace.to_str().unwrap(),
        "--timestamp-column",
        "ts",
        "--calibration",
        "assume:x:1ms:1MiB",
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    unitlab().args(args).assert()
}

#[test]
fn simulate_forty_hour_execution_does_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(tmp.path(), "t.csv", EPOCH);
    let out = simulate(
        tmp.path(),
        &t,
        &["--execution", "fixed:40h", "--policy", "none"],
    )
    .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    // 40 h + 1 ms start-up = 144000.001 s; the histogram's bins are 0.8% wide.
    assert!(text.contains("none"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn simulate_hour_long_queue_does_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(tmp.path(), "t.csv", EPOCH);
    simulate(tmp.path(), &t, &["--execution", "fixed:1h", "--cap", "1"]).success();
}

#[test]
fn simulate_bin_of_one_ns_is_refused_with_the_range() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(tmp.path(), "t.csv", EPOCH);
    simulate(tmp.path(), &t, &["--execution", "fixed:1s", "--bin", "1ns"])
        .failure()
        .stderr(predicate::str::contains(
            "--bin `1ns` is out of range: allowed 1ms to 366d",
        ));
}

#[test]
fn simulate_timeline_too_large_states_its_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(tmp.path(), "t.csv", EPOCH);
    // 7 days of execution in 1 ms bins: 604.8 million bins.
    simulate(
        tmp.path(),
        &t,
        &[
            "--execution",
            "fixed:7d",
            "--bin",
            "1ms",
            "--policy",
            "none",
        ],
    )
    .failure()
    .stderr(predicate::str::contains(
        "needs 604802002 bins (72.1 GiB); at most 2097152: pass --bin 288.393ms or wider",
    ));
}

#[test]
fn hybrid_bin_of_one_ns_is_refused_with_its_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(tmp.path(), "t.csv", EPOCH);
    simulate(
        tmp.path(),
        &t,
        &["--execution", "fixed:1s", "--policy", "hybrid:range=4h,bin=1ns"],
    )
    .failure()
    .stderr(predicate::str::contains(
        "range=4h over bin=1ns is 14400000000000 bins per function, 52.4 TiB for each function's idle-time histogram",
    ))
    .stderr(predicate::str::contains("choose bin >= 13.733ms"));
}

#[test]
fn stray_zero_among_epoch_seconds_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(
        tmp.path(),
        "t.csv",
        "ts,fn\n1700000000,a\n1700000001,b\n0,a\n1700000002,a\n",
    );
    let want = "t.csv:4:1: this row's arrival (0 ns on the file's scale) is 53.9 years before the row at line 3: a trace may span at most 10.0 years";
    unitlab()
        .args([
            "trace",
            "stats",
            t.to_str().unwrap(),
            "--timestamp-column",
            "ts",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(want));
    simulate(tmp.path(), &t, &["--execution", "fixed:1s"])
        .failure()
        .stderr(predicate::str::contains(want));
}

#[test]
fn stats_window_of_one_ns_is_sparse() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(tmp.path(), "t.csv", EPOCH);
    unitlab()
        .args([
            "trace",
            "stats",
            t.to_str().unwrap(),
            "--timestamp-column",
            "ts",
            "--window",
            "1ns",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "rate per 1.00 ns window (2000000001 windows): p50=0.000/s p90=0.000/s p99=0.000/s p100=1000000000.000/s",
        ));
}

#[test]
fn azure2021_duration_of_1e10_s_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(
        tmp.path(),
        "t.csv",
        "app,func,end_timestamp,duration\na,f,100,1e10\n",
    );
    unitlab()
        .args(["trace", "stats", t.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "t.csv:2:4: `duration` = `1e10` s is longer than 7.0 days",
        ));
}

#[test]
fn azure2019_count_of_4294967295_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(
        tmp.path(),
        "t.csv",
        "HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,0,4294967295\n",
    );
    unitlab()
        .args(["trace", "stats", t.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "t.csv:2:6: minute 2 = `4294967295` is more than 10000000 invocations of one function in one minute",
        ));
}

#[test]
fn duration_of_1e308_is_rejected_not_saturated() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(
        tmp.path(),
        "t.csv",
        "# unitlab-trace v1\n# meta: {\"functions\":[\"a\"],\"source\":\"x\",\"seed\":null,\"span_ns\":null}\narrival_ns,function,duration_ns,memory_bytes\n0,0,1e308,\n",
    );
    unitlab()
        .args(["trace", "stats", t.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "t.csv:4:3: `duration_ns` = `1e308` ns is longer than 7.0 days",
        ));
    // The same on the command line: a duration beyond 2^64 ns is refused.
    simulate(
        tmp.path(),
        &write(tmp.path(), "e.csv", EPOCH),
        &["--execution", "fixed:100000000000000000000ns"],
    )
    .failure()
    .stderr(predicate::str::contains("too long"));
}

#[test]
fn duplicate_header_names_both_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(tmp.path(), "t.csv", "ts,fn,ts\n1,a,2\n");
    unitlab()
        .args([
            "trace",
            "stats",
            t.to_str().unwrap(),
            "--timestamp-column",
            "ts",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "t.csv:1:3: the header names `ts` twice, in columns 1 and 3",
        ));
}

#[test]
fn stdin_and_dash_are_read_once() {
    for path in ["/dev/stdin", "-"] {
        unitlab()
            .args(["trace", "stats", path, "--timestamp-column", "ts"])
            .write_stdin(EPOCH)
            .assert()
            .success()
            .stdout(predicate::str::contains("invocations:       3"));
    }
}

#[test]
fn fifo_is_read_once_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("trace.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            // Opening blocks until the reader opens; one writer, one pass.
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            f.write_all(EPOCH.as_bytes()).unwrap();
        })
    };
    unitlab()
        .args([
            "trace",
            "stats",
            fifo.to_str().unwrap(),
            "--timestamp-column",
            "ts",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("invocations:       3"));
    writer.join().unwrap();
}

#[test]
fn execution_and_keep_alive_are_range_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(tmp.path(), "t.csv", EPOCH);
    simulate(tmp.path(), &t, &["--execution", "fixed:8d"])
        .failure()
        .stderr(predicate::str::contains(
            "the execution time `8d` is out of range: allowed 0ns to 7d",
        ));
    simulate(
        tmp.path(),
        &t,
        &["--execution", "fixed:1s", "--policy", "keepalive:4000d"],
    )
    .failure()
    .stderr(predicate::str::contains(
        "a duration `4000d` is out of range: allowed 0ns to 3653d",
    ));
}

#[test]
fn duplicate_json_keys_are_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(
        tmp.path(),
        "t.jsonl",
        "{\"ts\": 1, \"fn\": \"a\", \"ts\": 2}\n",
    );
    unitlab()
        .args([
            "trace",
            "stats",
            t.to_str().unwrap(),
            "--timestamp-column",
            "ts",
        ])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("t.jsonl:1:")
                .and(predicate::str::contains("the key `ts` is given twice")),
        );
}

#[test]
fn hybrid_histograms_are_bounded_across_functions() {
    let tmp = tempfile::tempdir().unwrap();
    // 5000 functions x 2^20 bins x 4 bytes = 19.5 GiB.
    let mut text = String::from("ts,fn\n");
    for i in 0..5000 {
        text.push_str(&format!("{},f{i}\n", 1_700_000_000 + i));
    }
    let t = write(tmp.path(), "t.csv", &text);
    simulate(
        tmp.path(),
        &t,
        &[
            "--function-column",
            "fn",
            "--execution",
            "fixed:1s",
            "--policy",
            "hybrid:range=1048576s,bin=1s",
        ],
    )
    .failure()
    .stderr(predicate::str::contains(
        "hybrid: 5000 functions' idle-time histograms of 1048576 bins each need 19.5 GiB together; at most 4.0 GiB",
    ));
}

#[test]
fn native_span_beyond_ten_years_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let t = write(
        tmp.path(),
        "t.csv",
        "# unitlab-trace v1\n# meta: {\"functions\":[\"a\"],\"source\":\"x\",\"seed\":null,\"span_ns\":18446744073709551615}\narrival_ns,function,duration_ns,memory_bytes\n0,0,1,\n",
    );
    unitlab()
        .args(["trace", "stats", t.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "t.csv:2:53: `span_ns` = 18446744073709551615 is 584.5 years: a trace may span at most 10.0 years",
        ));
}
