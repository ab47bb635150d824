//! Fixture tests: one file in each supported format (values checked exactly), and malformed
//! files, each with the exact error message.

use std::path::PathBuf;
use unitlab_workloads::azure2019::{DurationJoin, Spread};
use unitlab_workloads::rows::{TimeFormat, TimeUnit, Unsorted};
use unitlab_workloads::trace::collect;
use unitlab_workloads::{open, Format, Invocation, LoadOptions, TraceMeta, TraceStream};

fn fx(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load(name: &str, opts: &LoadOptions) -> (TraceMeta, Vec<Invocation>) {
    collect(open(&fx(name), opts).unwrap()).unwrap()
}

/// The error message with the fixture directory removed.
fn err(name: &str, opts: &LoadOptions) -> String {
    let e = match open(&fx(name), opts) {
        Ok(s) => collect(s).map(|_| ()).unwrap_err(),
        Err(e) => e,
    };
    e.to_string().replace(
        &format!("{}/", fx("").parent().unwrap().join("fixtures").display()),
        "",
    )
}

fn inv(
    arrival_ns: u64,
    function: u32,
    duration_ns: Option<u64>,
    memory_bytes: Option<u64>,
) -> Invocation {
    Invocation {
        arrival_ns,
        function,
        duration_ns,
        memory_bytes,
    }
}

#[test]
fn native_plain_and_gzip() {
    let (meta, v) = load("native.csv", &LoadOptions::default());
    assert_eq!(meta.functions, ["a", "b"]);
    assert_eq!(meta.source, "fixture");
    assert_eq!(meta.span_ns, Some(10_000));
    assert_eq!(
        v,
        [
            inv(0, 0, Some(100), None),
            inv(1500, 1, None, Some(1024)),
            inv(1500, 0, Some(200), Some(2048)),
            inv(9000, 1, Some(50), None)
        ]
    );
    let (meta_gz, v_gz) = load("native.csv.gz", &LoadOptions::default());
    assert_eq!((meta, v), (meta_gz, v_gz));
}

#[test]
fn native_unsorted_is_sorted_or_rejected() {
    let (meta, v) = load("native_unsorted.csv", &LoadOptions::default());
    let a: Vec<u64> = v.iter().map(|i| i.arrival_ns).collect();
    assert_eq!(a, [0, 2000, 3000, 3500, 4000]);
    assert!(meta.source.ends_with("; not sorted by arrival (first at line 6): sorted on load with a look-ahead window of 1000 ns"), "{}", meta.source);
    let reject = LoadOptions {
        unsorted: Unsorted::Reject,
        ..Default::default()
    };
    assert_eq!(
        err("native_unsorted.csv", &reject),
        "native_unsorted.csv:6:1: rows are not sorted by arrival: this row arrives at 2000 ns, before the row at line 5 (3000 ns); sort the file or load it with --unsorted sort"
    );
}

#[test]
fn azure2021_sorted_by_arrival_plain_and_gzip() {
    let (meta, v) = load("azure2021.csv", &LoadOptions::default());
    assert_eq!(meta.functions, ["a1/f1", "a1/f2", "a2/f1"]);
    let ms = 1_000_000;
    assert_eq!(
        v,
        [
            inv(50 * ms, 1, Some(650 * ms), None),
            inv(400 * ms, 0, Some(100 * ms), None),
            inv(800 * ms, 0, Some(500 * ms), None),
            inv(1100 * ms, 2, Some(1000 * ms), None),
            inv(1240 * ms, 2, Some(10 * ms), None),
            inv(1980 * ms, 0, Some(20 * ms), None),
        ]
    );
    assert!(meta.source.contains("not sorted by arrival (first at line 3): sorted on load with a look-ahead window of 880000000 ns"));
    let (_, gz) = load("azure2021.csv.gz", &LoadOptions::default());
    assert_eq!(v, gz);
    let reject = LoadOptions {
        unsorted: Unsorted::Reject,
        ..Default::default()
    };
    assert_eq!(
        err("azure2021.csv", &reject),
        "azure2021.csv:3:3: rows are not sorted by arrival: this row arrives at 50000000 ns, before the row at line 2 (400000000 ns); sort the file or load it with --unsorted sort"
    );
}

#[test]
fn azure2019_join_and_spread() {
    let (meta, v) = load(
        "invocations_per_function_md.anon.d01.csv",
        &LoadOptions {
            seed: 3,
            ..Default::default()
        },
    );
    assert_eq!(meta.functions.len(), 4);
    assert_eq!(meta.span_ns, Some(1440 * 60_000_000_000));
    assert_eq!(v.len(), 6 + 24 + 6 + 2);
    assert!(v.windows(2).all(|w| w[0].arrival_ns <= w[1].arrival_ns));
    let count = |f: u32, minute: u64| {
        v.iter()
            .filter(|i| i.function == f && i.arrival_ns / 60_000_000_000 == minute - 1)
            .count()
    };
    assert_eq!((count(0, 1), count(0, 2), count(0, 1440)), (3, 1, 2));
    assert_eq!((count(2, 1), count(2, 700)), (1, 5));
    assert_eq!(count(3, 2), 2);
    for i in &v {
        match i.function {
            // Percentile draws stay inside [p0, p100] = [10, 900] ms.
            0 => assert!((10_000_000..=900_000_000).contains(&i.duration_ns.unwrap())),
            1 => assert!((1_500_000_000..=3_000_000_000).contains(&i.duration_ns.unwrap())),
            2 => assert_eq!(i.duration_ns, Some(40_000_000)),
            _ => assert_eq!(i.duration_ns, None, "no duration row"),
        }
        // App 1: 256 MB over its 2 functions = 128 MiB each; app 2 has no memory row.
        let want = if i.function < 2 {
            Some(128 << 20)
        } else {
            None
        };
        assert_eq!(i.memory_bytes, want);
    }
    // Same seed: same trace; another seed: other times.
    let (_, again) = load(
        "invocations_per_function_md.anon.d01.csv",
        &LoadOptions {
            seed: 3,
            ..Default::default()
        },
    );
    assert_eq!(v, again);
    let (_, other) = load(
        "invocations_per_function_md.anon.d01.csv",
        &LoadOptions {
            seed: 4,
            ..Default::default()
        },
    );
    assert_ne!(v, other);

    // Equidistant spreading and the average join: exact values.
    let opts = LoadOptions {
        spread: Spread::Equidistant,
        duration_join: DurationJoin::Average,
        ..Default::default()
    };
    let (_, v) = load("invocations_per_function_md.anon.d01.csv", &opts);
    let f3: Vec<u64> = v
        .iter()
        .filter(|i| i.function == 3)
        .map(|i| i.arrival_ns)
        .collect();
    assert_eq!(f3, [75_000_000_000, 105_000_000_000]);
    assert!(v
        .iter()
        .filter(|i| i.function == 0)
        .all(|i| i.duration_ns == Some(120_500_000)));
    // Two days: the second starts at minute 1440.
    let opts = LoadOptions {
        next_days: vec![fx("invocations_per_function_md.anon.d01.csv")],
        ..Default::default()
    };
    let (meta, v2) = load("invocations_per_function_md.anon.d01.csv", &opts);
    assert_eq!(meta.span_ns, Some(2 * 1440 * 60_000_000_000));
    assert_eq!(v2.len(), 76);
    assert_eq!(
        v2.iter()
            .filter(|i| i.arrival_ns >= 1440 * 60_000_000_000)
            .count(),
        38
    );
}

#[test]
fn generic_csv_with_datetimes() {
    let opts = LoadOptions {
        timestamp_column: Some("time".into()),
        time_format: Some("%Y-%m-%d %H:%M:%S%.f".parse().unwrap()),
        function_column: vec!["service".into()],
        duration_column: Some("latency_ms".into()),
        memory_column: Some("mem_mb".into()),
        ..Default::default()
    };
    let (meta, v) = load("generic.csv", &opts);
    assert_eq!(meta.functions, ["checkout", "search"]);
    assert_eq!(
        v,
        [
            inv(0, 0, Some(12_500_000), Some(128 << 20)),
            inv(20_040_000, 1, Some(3_000_000), Some(64 << 20)),
            inv(520_040_100, 0, None, Some(128 << 20)),
            inv(6_020_040_000, 1, Some(4_250_000), None),
        ]
    );
}

#[test]
fn generic_jsonl_epoch_ms() {
    let opts = LoadOptions {
        timestamp_column: Some("ts".into()),
        time_format: Some(TimeFormat::Number(TimeUnit::Ms)),
        function_column: vec!["fn".into()],
        duration_column: Some("dur".into()),
        ..Default::default()
    };
    let (meta, v) = load("generic.jsonl", &opts);
    assert_eq!(meta.functions, ["resize", "thumb"]);
    let ms = 1_000_000;
    assert_eq!(
        v,
        [
            inv(0, 0, Some(120 * ms), None),
            inv(250_500_000, 1, Some(30 * ms), None),
            inv(1000 * ms, 0, None, None),
            inv(2000 * ms, 0, Some(95 * ms), None)
        ]
    );
}

#[test]
fn malformed_files_exact_errors() {
    let a21 = LoadOptions {
        format: Format::Azure2021,
        ..Default::default()
    };
    let a19 = LoadOptions {
        format: Format::Azure2019,
        ..Default::default()
    };
    let auto = LoadOptions::default();
    let cases: &[(&str, &LoadOptions, &str)] = &[
        ("azure2021_missing_column.csv", &a21, "azure2021_missing_column.csv:1:1: missing column `duration`: the header has `app`, `func`, `end_timestamp`; expected `end_timestamp`, `app`, `func`, `duration`"),
        ("azure2021_short_row.csv", &a21, "azure2021_short_row.csv:3:4: expected at least 4 fields (up to column `duration`), found 3"),
        ("azure2021_bad_cell.csv", &a21, "azure2021_bad_cell.csv:3:4: `duration` = `abc` is not a number: expected a duration in s"),
        ("azure2021_negative_duration.csv", &a21, "azure2021_negative_duration.csv:4:4: `duration` = `-0.010` is negative: expected a duration >= 0 in s"),
        ("azure2021_wrong_header.csv", &a21, "azure2021_wrong_header.csv:1:1: missing column `end_timestamp`: the header has `app`, `function`, `end`, `duration`; expected `end_timestamp`, `app`, `func`, `duration`"),
        ("azure2021_wrong_header.csv", &auto, "azure2021_wrong_header.csv:1:1: unrecognised header `app,function,end,duration`: expected `# unitlab-trace v1`, an Azure 2019 invocations header (`HashOwner,HashApp,HashFunction,Trigger,1,...`), the Azure 2021 header `app,func,end_timestamp,duration`, or name the timestamp column of a generic log with --timestamp-column"),
        ("empty.csv", &auto, "empty.csv:1:1: the file is empty: expected a header line (or `# unitlab-trace v1` for a native trace)"),
        ("empty.csv", &a21, "empty.csv:1:1: the file is empty: expected a header line naming the columns `end_timestamp`, `app`, `func`, `duration`"),
        ("empty.csv", &a19, "empty.csv:1:1: the file is empty: expected a header line `HashOwner,HashApp,HashFunction,Trigger,1,...,1440`"),
        ("azure2019_bad_count.csv", &a19, "azure2019_bad_count.csv:3:5: minute 1 = `x1` is not a count: expected an integer >= 0"),
        ("azure2019_wrong_header.csv", &a19, "azure2019_wrong_header.csv:1:7: wrong header: expected minute column `3`, found `4`"),
        ("azure2021.csv", &a19, "azure2021.csv:1:1: wrong header: expected `HashOwner` in column 1, found `app` (an Azure 2019 invocations file starts `HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440`)"),
        ("native_bad_function.csv", &auto, "native_bad_function.csv:5:2: `function` = `2` is not a function id: expected an integer in 0..2 (the functions listed in the metadata line)"),
        ("function_durations_percentiles.anon.d01.csv", &auto, "function_durations_percentiles.anon.d01.csv: this is an Azure 2019 durations file: open the matching invocations_per_function_md.anon.dNN.csv and pass this file with --durations"),
    ];
    for (file, opts, want) in cases {
        assert_eq!(&err(file, opts), want, "{file}");
    }
    // Negative duration in the 2019 durations file.
    let opts = LoadOptions {
        durations: Some(fx("azure2019_negative_duration.csv")),
        ..Default::default()
    };
    assert_eq!(
        err("invocations_per_function_md.anon.d01.csv", &opts),
        "azure2019_negative_duration.csv:4:4: `Average` = `-40` is negative: expected a duration >= 0 ms"
    );
    // Generic: a date-time that does not match, a JSON value that is not a number, and no
    // timestamp column named.
    let dt = LoadOptions {
        timestamp_column: Some("time".into()),
        time_format: Some("%Y-%m-%d %H:%M:%S%.f".parse().unwrap()),
        ..Default::default()
    };
    assert_eq!(
        err("generic_bad_time.csv", &dt),
        "generic_bad_time.csv:3:1: `time` = `16/11/2023 18:17:04` does not match the date-time format `%Y-%m-%d %H:%M:%S%.f`"
    );
    let js = LoadOptions {
        timestamp_column: Some("ts".into()),
        time_format: Some(TimeFormat::Number(TimeUnit::Ms)),
        ..Default::default()
    };
    assert_eq!(
        err("generic_bad.jsonl", &js),
        "generic_bad.jsonl:2:13: `ts` = `soon` is not a number: expected a timestamp in ms"
    );
    let csv = LoadOptions {
        format: Format::Csv,
        ..Default::default()
    };
    assert_eq!(
        err("generic.csv", &csv),
        "generic.csv: a generic CSV/JSONL log needs --timestamp-column NAME (and --time-format s|ms|us|ns|<chrono format>)"
    );
}

#[test]
fn azure2019_quoted_crlf_gzip_and_short_days() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let p = dir
        .path()
        .join("invocations_per_function_md.anon.d02.csv.gz");
    let text = "HashOwner,HashApp,HashFunction,Trigger,1,2,3\r\n\"o1\",\"a1\",\"f,1\",http,0,2,1\r\n\r\no1,a1,f2,timer,1,0,0\r\n";
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
    let opts = LoadOptions {
        spread: Spread::Start,
        ..Default::default()
    };
    let (meta, v) = collect(open(&p, &opts).unwrap()).unwrap();
    assert_eq!(meta.functions, ["o1/a1/f,1", "o1/a1/f2"]);
    assert_eq!(meta.span_ns, Some(3 * 60_000_000_000));
    let got: Vec<(u64, u32)> = v
        .iter()
        .map(|i| (i.arrival_ns / 60_000_000_000, i.function))
        .collect();
    assert_eq!(got, [(0, 1), (1, 0), (1, 0), (2, 0)]);
    // A row with a missing minute cell.
    let bad = dir.path().join("short.csv");
    std::fs::write(
        &bad,
        "HashOwner,HashApp,HashFunction,Trigger,1,2,3\no1,a1,f1,http,0,2\n",
    )
    .unwrap();
    let e = open(&bad, &LoadOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.ends_with("short.csv:2:7: expected 7 fields (4 ids and 3 minute counts), found 6"),
        "{e}"
    );
}

/// The fast path for plain CSV (Azure 2021, generic numeric logs) against the generic reader
/// on seeded variants: header orders and extra columns, CRLF, blank lines, spaces, rows out
/// of order, bad cells, quotes, lone carriage returns, invalid UTF-8. Both give the same
/// metadata, pre-scan, invocations and errors (with their locations); the fast path reads
/// every plain file.
#[test]
fn fast_rows_match_the_generic_reader() {
    use unitlab_workloads::rows::{open_rows, Columns, RowFormat, RowOptions};
    struct Gen(u64);
    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }
    type Outcome = Result<(TraceMeta, String, Vec<Result<Invocation, String>>, bool), String>;
    fn read(path: &std::path::Path, format: &RowFormat, opts: &RowOptions) -> Outcome {
        let s = open_rows(path, format, opts).map_err(|e| e.to_string())?;
        let fast = s.is_fast();
        let (meta, scan) = (s.meta().clone(), format!("{:?}", s.prescan));
        let items = s.map(|r| r.map_err(|e| e.to_string())).collect();
        Ok((meta, scan, items, fast))
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    let generic_cols = Columns {
        function: vec![],
        duration: Some("d".into()),
        ..Columns::timestamp("ts", TimeFormat::Number(TimeUnit::Ms))
    };
    let (mut plain, mut fast_used) = (0, 0);
    for seed in 1..=600u64 {
        let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let azure = seed % 4 != 0;
        let nl = if g.next(4) == 0 { "\r\n" } else { "\n" };
        let mut s = String::new();
        let order: &[usize] = if azure {
            [&[0, 1, 2, 3][..], &[2, 3, 0, 1], &[4, 0, 1, 2, 3, 4]][g.next(3) as usize]
        } else {
            [&[0, 1][..], &[2, 1, 0]][g.next(2) as usize]
        };
        let names: &[&str] = if azure {
            &["app", "func", "end_timestamp", "duration", "x"]
        } else {
            &["ts", "d", "x"]
        };
        let head: Vec<&str> = order.iter().map(|&i| names[i]).collect();
        s += &head.join(if g.next(5) == 0 { " , " } else { "," });
        s += nl;
        let mut clean = true;
        let odd_rows = if g.next(2) == 0 { 8 } else { 0 };
        let mut t = 1000u64;
        for _ in 0..g.next(40) {
            t += g.next(3000);
            let back = if g.next(6) == 0 { g.next(2500) } else { 0 };
            let d = g.next(2000);
            let mut cells: Vec<String> = if azure {
                let end = t.saturating_sub(back) + d;
                vec![
                    format!("a{}", g.next(3)),
                    format!("f{}", g.next(2)),
                    format!("{}.{:03}", end / 1000, end % 1000),
                    format!("{}.{:03}", d / 1000, d % 1000),
                    "z".into(),
                ]
            } else {
                let dur = if g.next(5) == 0 {
                    String::new()
                } else {
                    d.to_string()
                };
                vec![(t.saturating_sub(back)).to_string(), dur, "z".into()]
            };
            if odd_rows > 0 && g.next(odd_rows) == 0 {
                let k = g.next(cells.len() as u64) as usize;
                let odd = [
                    " 7 ",
                    "",
                    "abc",
                    "-1",
                    "1e3",
                    "\"a1\"",
                    "ä",
                    "\u{a0}5",
                    "1.5.",
                    ".",
                    "9999999999999",
                    "0x1",
                    "+4",
                    "1\r2",
                ];
                cells[k] = odd[g.next(odd.len() as u64) as usize].into();
                clean = false;
            }
            let mut row: Vec<&str> = order.iter().map(|&i| cells[i].as_str()).collect();
            if odd_rows > 0 && g.next(30) == 0 {
                row.pop();
                clean = false;
            }
            s += &row.join(",");
            s += nl;
            if g.next(15) == 0 {
                s += nl;
            }
        }
        if g.next(3) == 0 {
            s.truncate(s.trim_end().len());
        }
        let mut bytes = s.into_bytes();
        if g.next(40) == 0 && bytes.len() > 40 {
            let at = 35 + g.next(bytes.len() as u64 - 35) as usize;
            bytes[at] = 0xff;
            clean = false;
        }
        std::fs::write(&path, &bytes).unwrap();
        let format = if azure {
            RowFormat::Csv(Columns::azure2021())
        } else {
            RowFormat::Csv(generic_cols.clone())
        };
        for unsorted in [Unsorted::Sort, Unsorted::Reject] {
            let opts = RowOptions {
                unsorted,
                generic: false,
            };
            let fast = read(&path, &format, &opts);
            let generic = read(
                &path,
                &format,
                &RowOptions {
                    generic: true,
                    ..opts.clone()
                },
            );
            let strip = |o: &Outcome| o.clone().map(|(m, p, i, _)| (m, p, i));
            assert_eq!(
                strip(&fast),
                strip(&generic),
                "seed {seed}, {unsorted:?}:\n{}",
                String::from_utf8_lossy(&bytes)
            );
            if clean && unsorted == Unsorted::Sort {
                plain += 1;
                fast_used += usize::from(fast.is_ok_and(|f| f.3));
            }
        }
    }
    assert!(plain > 100, "{plain} plain files");
    assert_eq!(fast_used, plain, "the fast path reads every plain file");
}

/// The fast path on a seeded Azure 2021 file of 20,000 rows in end-time order (so arrivals
/// are out of order within the longest duration): exact count, function table, sorted
/// arrivals, the sort window and the first out-of-order line, all computed here
/// independently; then one bad cell deep in the file, reported at its line and column.
#[test]
fn azure2021_fast_path_exact() {
    use unitlab_workloads::rows::{open_rows, Columns, RowFormat, RowOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a21.csv");
    let mut x = 0x2021u64;
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    // (end ms, duration ms, function); written sorted by end, as the published trace is.
    let mut rows: Vec<(u64, u64, u64)> = (0..20_000)
        .map(|_| (5_000 + next(3_600_000), next(5_000), next(7)))
        .collect();
    rows.sort_by_key(|r| r.0);
    let mut text = String::from("app,func,end_timestamp,duration\n");
    for &(end, d, f) in &rows {
        text += &format!(
            "app{},fn{f},{}.{:03},{}.{:03}\n",
            f % 3,
            end / 1000,
            end % 1000,
            d / 1000,
            d % 1000
        );
    }
    std::fs::write(&path, &text).unwrap();
    let format = RowFormat::Csv(Columns::azure2021());
    let s = open_rows(&path, &format, &RowOptions::default()).unwrap();
    assert!(s.is_fast());
    // Expected, computed from the rows: functions by first appearance, the stable sort by
    // arrival, the largest backward jump and the first row (file line) behind the maximum.
    let mut names: Vec<String> = Vec::new();
    let mut want: Vec<(u64, u32, u64)> = Vec::new();
    let (mut run_max, mut window, mut first) = (0u64, 0u64, None);
    for (i, &(end, d, f)) in rows.iter().enumerate() {
        let name = format!("app{}/fn{f}", f % 3);
        let id = names.iter().position(|n| *n == name).unwrap_or_else(|| {
            names.push(name);
            names.len() - 1
        });
        let a = (end - d) * 1_000_000;
        if a < run_max {
            window = window.max(run_max - a);
            first.get_or_insert(i + 2);
        }
        run_max = run_max.max(a);
        want.push((a, id as u32, d * 1_000_000));
    }
    want.sort_by_key(|w| w.0);
    let meta = s.meta().clone();
    assert_eq!(meta.functions, names);
    assert!(
        meta.source.contains(&format!(
            "not sorted by arrival (first at line {}): sorted on load with a look-ahead window of {window} ns",
            first.unwrap()
        )),
        "{}",
        meta.source
    );
    let got: Vec<(u64, u32, u64)> = s
        .map(|r| r.unwrap())
        .map(|i| (i.arrival_ns, i.function, i.duration_ns.unwrap()))
        .collect();
    assert_eq!(got.len(), 20_000);
    assert_eq!(got, want);
    // A bad cell at line 15,003: the same error, with its location, as the generic reader.
    let mut lines: Vec<&str> = text.lines().collect();
    let bad = lines[15_002].rsplit_once(',').unwrap().0.to_string() + ",1.2x";
    lines[15_002] = &bad;
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let e = open_rows(&path, &format, &RowOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:15003:4: `duration` = `1.2x` is not a number: expected a duration in s",
            path.display()
        )
    );
}
