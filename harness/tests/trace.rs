//! `unitlab trace` (gen, stats, slice, scale) end to end through the `unitlab` binary
//! (assert_cmd), and the slice/scale transforms checked by reading the files back with the
//! workloads library.

use std::path::Path;
use unitlab_workloads::trace::collect;
use unitlab_workloads::{open, LoadOptions};

/// Runs `unitlab trace <args>`; on failure, the error message as the binary prints it
/// (without its `error: ` prefix).
fn run(args: &[&str]) -> Result<(), String> {
    let out = assert_cmd::Command::cargo_bin("unitlab")
        .expect("the unitlab binary is built for integration tests")
        .arg("trace")
        .args(args)
        .output()
        .expect("unitlab runs");
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(err.trim().trim_start_matches("error: ").to_string())
    }
}

/// `trace scale <src> <options> -o <out>`.
fn scale(src: &Path, options: &[&str], out: &Path) -> Result<(), String> {
    let mut v = vec!["scale", src.to_str().unwrap()];
    v.extend_from_slice(options);
    v.extend_from_slice(&["--output-file", out.to_str().unwrap()]);
    run(&v)
}

fn read(
    p: &Path,
) -> (
    unitlab_workloads::TraceMeta,
    Vec<unitlab_workloads::Invocation>,
) {
    collect(open(p, &LoadOptions::default()).unwrap()).unwrap()
}

#[test]
fn gen_every_pattern_then_stats() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).display().to_string();
    let cases: &[&[&str]] = &[
        &[
            "gen",
            "poisson",
            "--rate",
            "50",
            "--span",
            "20s",
            "--seed",
            "1",
            "--durations",
            "exp:20ms",
            "--memory",
            "128MiB",
        ],
        &[
            "gen",
            "onoff",
            "--rate-on",
            "100",
            "--mean-on",
            "1s",
            "--mean-off",
            "4s",
            "--span",
            "1m",
        ],
        &[
            "gen",
            "diurnal",
            "--rate",
            "600/min",
            "--amplitude",
            "0.9",
            "--period",
            "30s",
            "--peak",
            "10s",
            "--span",
            "1m",
        ],
        &[
            "gen",
            "flash-crowd",
            "--base-rate",
            "5",
            "--peak-rate",
            "300",
            "--start",
            "10s",
            "--ramp",
            "2s",
            "--hold",
            "5s",
            "--decay",
            "3s",
            "--span",
            "40s",
        ],
        &[
            "gen", "pareto", "--rate", "20", "--shape", "1.5", "--span", "1m",
        ],
        &[
            "gen",
            "lognormal",
            "--rate",
            "20",
            "--sigma",
            "2",
            "--span",
            "1m",
        ],
        &[
            "gen", "periodic", "--period", "1s", "--jitter", "100ms", "--span", "1m",
        ],
        &[
            "gen",
            "mix",
            "--functions",
            "50",
            "--rate",
            "100",
            "--zipf",
            "1.2",
            "--process",
            "onoff",
            "--timer-fraction",
            "0.1",
            "--durations",
            "lognormal:50ms,1",
            "--span",
            "30s",
        ],
        &[
            "gen",
            "mix",
            "--functions",
            "50",
            "--rate",
            "100",
            "--popularity-sigma",
            "3",
            "--span",
            "30s",
        ],
        &["gen", "default-bursty", "--seed", "3"],
    ];
    for (k, args) in cases.iter().enumerate() {
        let out = d(&format!("t{k}.csv.gz"));
        let mut a = args.to_vec();
        a.extend(["--output-file", &out]);
        run(&a).unwrap_or_else(|e| panic!("{args:?}: {e:#}"));
        let (meta, v) = read(Path::new(&out));
        assert!(!v.is_empty(), "{args:?}");
        assert!(meta.source.starts_with("synthetic "), "{}", meta.source);
        run(&["stats", &out, "--window", "5s", "--top", "3"]).unwrap();
        run(&["stats", &out, "--json"]).unwrap();
    }
    // Parameters are checked with the parameter named.
    let e = run(&[
        "gen",
        "pareto",
        "--rate",
        "20",
        "--shape",
        "0.5",
        "--output-file",
        &d("x.csv"),
    ])
    .unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "invalid parameter `shape`: must be > 1 (the mean is infinite otherwise), got 0.5"
    );
    let e = run(&[
        "gen",
        "poisson",
        "--rate",
        "20",
        "--span",
        "10",
        "--output-file",
        &d("x.csv"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("has no unit"), "{e}");
}

#[test]
fn same_seed_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    for p in [&a, &b] {
        run(&[
            "gen",
            "mix",
            "--functions",
            "20",
            "--rate",
            "50",
            "--process",
            "onoff",
            "--seed",
            "9",
            "--span",
            "20s",
            "--output-file",
            p.to_str().unwrap(),
        ])
        .unwrap();
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn slice_by_time_and_function() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.csv");
    let out = dir.path().join("out.csv");
    run(&[
        "gen",
        "mix",
        "--functions",
        "10",
        "--rate",
        "100",
        "--span",
        "60s",
        "--seed",
        "2",
        "--output-file",
        src.to_str().unwrap(),
    ])
    .unwrap();
    run(&[
        "slice",
        src.to_str().unwrap(),
        "--from",
        "10s",
        "--to",
        "20s",
        "--functions",
        "f3,f1",
        "--rebase",
        "--output-file",
        out.to_str().unwrap(),
    ])
    .unwrap();
    let (m0, all) = read(&src);
    let (m1, cut) = read(&out);
    assert_eq!(m1.functions, ["f3", "f1"]);
    assert_eq!(m1.span_ns, Some(10_000_000_000));
    let want: Vec<(u64, u32)> = all
        .iter()
        .filter(|i| {
            (10_000_000_000..20_000_000_000).contains(&i.arrival_ns)
                && (i.function == 3 || i.function == 1)
        })
        .map(|i| {
            (
                i.arrival_ns - 10_000_000_000,
                if i.function == 3 { 0 } else { 1 },
            )
        })
        .collect();
    let got: Vec<(u64, u32)> = cut.iter().map(|i| (i.arrival_ns, i.function)).collect();
    assert_eq!(got, want);
    assert!(!got.is_empty());
    assert!(m1.source.starts_with(&m0.source));
    let e = run(&[
        "slice",
        src.to_str().unwrap(),
        "--functions",
        "nope",
        "--output-file",
        out.to_str().unwrap(),
    ])
    .unwrap_err();
    assert_eq!(format!("{e:#}"), "invalid parameter `functions`: `nope` is neither a function name nor an id in 0..10 of this trace");
}

#[test]
fn scale_time_and_rate() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.csv");
    run(&[
        "gen",
        "poisson",
        "--rate",
        "100",
        "--span",
        "200s",
        "--seed",
        "4",
        "--output-file",
        src.to_str().unwrap(),
    ])
    .unwrap();
    let (m0, base) = read(&src);
    let n = base.len() as f64;

    // Time x0.5: same invocations, arrivals halved (rounded), span halved.
    let half = dir.path().join("half.csv");
    scale(&src, &["--time-factor", "0.5"], &half).unwrap();
    let (m1, v) = read(&half);
    assert_eq!(m1.span_ns, m0.span_ns.map(|s| s / 2));
    assert_eq!(v.len(), base.len());
    assert!(v
        .iter()
        .zip(&base)
        .all(|(a, b)| a.arrival_ns == (b.arrival_ns as f64 * 0.5).round() as u64));

    // Rate x0.25: thinning keeps ~25% (within 3%, ~5,000 kept) and keeps Poisson CV ~1.
    let thin = dir.path().join("thin.csv");
    scale(&src, &["--rate-factor", "0.25", "--seed", "1"], &thin).unwrap();
    let (_, v) = read(&thin);
    assert!(
        (v.len() as f64 / (0.25 * n) - 1.0).abs() < 0.03,
        "{} of {n}",
        v.len()
    );
    let st = unitlab_workloads::stats::compute(
        open(&thin, &LoadOptions::default()).unwrap(),
        1_000_000_000,
        1,
    )
    .unwrap();
    assert!((st.interarrival_cv.unwrap() - 1.0).abs() < 0.05);

    // Rate x2.5: thickening gives ~2.5x (within 2%), still sorted, same time span.
    let thick = dir.path().join("thick.csv");
    scale(&src, &["--rate-factor", "2.5", "--seed", "1"], &thick).unwrap();
    let (m3, v) = read(&thick);
    assert!(
        (v.len() as f64 / (2.5 * n) - 1.0).abs() < 0.02,
        "{} vs {n}",
        v.len()
    );
    assert!(v.windows(2).all(|w| w[0].arrival_ns <= w[1].arrival_ns));
    assert_eq!(m3.span_ns, m0.span_ns);
    assert!(v.last().unwrap().arrival_ns < m0.span_ns.unwrap());

    let e = scale(&src, &["--time-factor", "0"], &thick).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "invalid parameter `time-factor`: must be > 0, got 0"
    );
}

#[test]
fn stats_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.csv");
    run(&[
        "gen",
        "periodic",
        "--period",
        "100ms",
        "--span",
        "10s",
        "--output-file",
        p.to_str().unwrap(),
    ])
    .unwrap();
    let st = unitlab_workloads::stats::compute(
        open(&p, &LoadOptions::default()).unwrap(),
        1_000_000_000,
        5,
    )
    .unwrap();
    assert_eq!(st.invocations, 100);
    assert_eq!(st.span_ns, 10_000_000_000);
    assert_eq!(st.windows, 10);
    // A jitter-free timer: every window holds 10, CV 0, burstiness -1, dispersion 0.
    assert_eq!(
        st.rate_percentiles,
        vec![(50.0, 10.0), (90.0, 10.0), (99.0, 10.0), (100.0, 10.0)]
    );
    assert!(st.interarrival_cv.unwrap() < 1e-6);
    assert!((st.burstiness.unwrap() + 1.0).abs() < 1e-6);
    assert_eq!(st.dispersion_index, Some(0.0));
    assert_eq!(st.top[0].invocations, 100);
    assert_eq!(st.mean_duration_ns, None);
}

#[test]
fn every_trace_command_has_help() {
    for cmd in [
        &["--help"][..],
        &["gen", "--help"],
        &["gen", "mix", "--help"],
        &["stats", "--help"],
        &["slice", "--help"],
        &["scale", "--help"],
    ] {
        run(cmd).unwrap_or_else(|e| panic!("trace {cmd:?}: {e}"));
    }
}

/// A parameter out of range is bad input (exit code 2), named in the message.
#[test]
fn bad_parameter_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.csv");
    assert_cmd::Command::cargo_bin("unitlab")
        .unwrap()
        .args([
            "trace",
            "gen",
            "pareto",
            "--rate",
            "20",
            "--shape",
            "0.5",
            "--output-file",
        ])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("invalid parameter `shape`"));
}
