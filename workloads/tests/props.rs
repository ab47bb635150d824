//! Property tests of every trace loader: the native file, the Azure 2019 invocations,
//! durations and memory files, the Azure 2021 trace, generic CSV and JSONL logs, each plain
//! and gzip-compressed.
//!
//! Two properties per loader, on a fixed case budget with a fixed seed (reproducible in CI;
//! `PROPTEST_CASES` overrides the budget, `PROPTEST_RNG_SEED` the seed):
//! - **arbitrary bytes** (after the format's header, so the row parser is reached) and
//!   **mutations of valid files** (bytes flipped, inserted, deleted, ranges duplicated) never
//!   panic, stop within a bounded number of items, and allocate at most the stated bound
//!   ([`bound`]: 16 MiB + 64 bytes per input byte, on the heap, peak, per load);
//! - every error carries a location: `file:line:column` with line and column >= 1 for a
//!   parse error, the file for an I/O error (a truncated gzip stream).
//!
//! Each test prints how many distinct inputs it tried (`--nocapture` shows it).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::Path;
use unitlab_workloads::azure2019::{read_durations, read_memory, DurationJoin};
use unitlab_workloads::rows::{TimeFormat, TimeUnit};
use unitlab_workloads::{open, Format, LoadOptions, TraceError};

// ---- A heap counter: peak bytes allocated by this thread. ----

struct Counting;

thread_local! {
    /// Loads that succeeded and that failed (with a located error), for the summary line.
    static OUTCOMES: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    static CUR: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = CUR.try_with(|c| {
        let v = c.get() + delta;
        c.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size() as isize);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        note(-(l.size() as isize));
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size() as isize);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new as isize - l.size() as isize);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the peak heap it allocated above the start.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = CUR.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get) - start;
    (out, peak.max(0) as usize)
}

/// The stated allocation bound for loading an input of `len` bytes.
fn bound(len: usize) -> usize {
    (16 << 20) + 64 * len
}

/// Items read from one stream at most: a valid input of a few KiB holds far fewer (the Azure
/// 2019 counts of a mutated file are at most a few digits long), so reaching it means a loop.
const MAX_ITEMS: usize = 2_000_000;

// ---- The case budget. ----

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(17);
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

/// Runs `check` over `strategy` with the budget; prints the distinct inputs tried.
fn run<S>(label: &str, strategy: S, check: impl Fn(&[u8]) -> Result<(), TestCaseError>)
where
    S: Strategy<Value = Vec<u8>>,
{
    let seen = RefCell::new(HashSet::new());
    OUTCOMES.with(|o| o.set((0, 0)));
    let t0 = std::time::Instant::now();
    let mut runner = TestRunner::new(config());
    let result = runner.run(&strategy, |bytes| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        seen.borrow_mut().insert(h.finish());
        check(&bytes)
    });
    let (ok, failed) = OUTCOMES.with(Cell::get);
    eprintln!(
        "props {label}: {} distinct inputs in {:.2} s ({ok} loaded, {failed} rejected with a location)",
        seen.borrow().len(),
        t0.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{label}: {e}");
    }
}

// ---- Checking one input. ----

fn outcome(ok: bool) {
    OUTCOMES.with(|o| {
        let (a, b) = o.get();
        o.set(if ok { (a + 1, b) } else { (a, b + 1) });
    });
}

/// The error carries a location in `name`.
fn located(e: &TraceError, name: &str) -> Result<(), TestCaseError> {
    outcome(false);
    match e {
        TraceError::Parse {
            path, line, column, ..
        } => {
            prop_assert_eq!(path, name);
            prop_assert!(*line >= 1 && *column >= 1, "no line/column: {}", e);
        }
        TraceError::Io { path, .. } | TraceError::Format { path, .. } => {
            prop_assert_eq!(path, name, "{}", e)
        }
        other => prop_assert!(false, "an error without a file: {}", other),
    }
    Ok(())
}

/// Loads `bytes` as a trace with `opts` (gzip-compressed first when `gz`).
fn check_load(bytes: &[u8], opts: &LoadOptions, gz: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(if gz { "t.csv.gz" } else { "t.csv" });
    let data = if gz { gzip(bytes) } else { bytes.to_vec() };
    std::fs::write(&path, &data).unwrap();
    load_file(&path, data.len(), opts)
}

fn load_file(path: &Path, len: usize, opts: &LoadOptions) -> Result<(), TestCaseError> {
    let name = path.display().to_string();
    let (result, peak) = peak_of(|| -> Result<usize, TraceError> {
        let mut n = 0;
        for inv in open(path, opts)?.take(MAX_ITEMS) {
            inv?;
            n += 1;
        }
        Ok(n)
    });
    prop_assert!(
        peak <= bound(len),
        "allocated {peak} bytes for {len} input bytes (bound {})",
        bound(len)
    );
    match result {
        Ok(n) => {
            outcome(true);
            prop_assert!(n < MAX_ITEMS, "{n} items from {len} bytes")
        }
        Err(e) => located(&e, &name)?,
    }
    Ok(())
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

// ---- Inputs. ----

/// Bytes biased towards what the formats are made of.
fn noise(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b",\n\r\"{}:.-+e0123456789 aZ#%\\".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..max)
}

/// Rows of cells drawn from what real and broken cells look like (numbers of every size and
/// sign, exponents, dates, empty cells, quotes): reaches the cell parsers more often than
/// plain noise, which mostly stops at the first row.
fn rows(max_rows: usize) -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        Just(String::new()),
        (0u64..100_000).prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        prop::sample::select(vec![
            "1e308",
            "-1e308",
            "1e-308",
            "NaN",
            "inf",
            "4294967295",
            "18446744073709551616",
            "0.0000000001",
            "1700000000.123456789",
            "2023-11-16 18:17:03.97",
            "\"a,b\"",
            "\"",
            "null",
            "{}",
            "[1,2]",
            "f0",
            "a1",
            "0",
            "1",
            "2",
            "-0",
            "1.5e3",
            "99999999999999999999999999999999999999999",
        ])
        .prop_map(String::from),
    ];
    let row = prop::collection::vec(cell, 1..8).prop_map(|c| c.join(","));
    prop::collection::vec(row, 0..max_rows).prop_map(|r| {
        let mut s = r.join("\n");
        s.push('\n');
        s.into_bytes()
    })
}

/// Noise or rows.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![noise(2048), rows(24)]
}

/// One edit of a file.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), noise(4)).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ];
    prop::collection::vec(edit, 0..4)
}

fn apply(mut v: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match e {
            Edit::Set(i, b) => {
                if !v.is_empty() {
                    let n = v.len();
                    v[i % n] = *b;
                }
            }
            Edit::Insert(i, b) => {
                let p = at(*i, v.len());
                v.splice(p..p, b.iter().copied());
            }
            Edit::Delete(i, n) => {
                let p = at(*i, v.len());
                let end = (p + n).min(v.len());
                v.drain(p..end);
            }
            Edit::Duplicate(i, n) => {
                let p = at(*i, v.len());
                let end = (p + n).min(v.len());
                let part = v[p..end].to_vec();
                v.splice(p..p, part);
            }
        }
    }
    v
}

/// A valid file (from `make`, given a seed) with edits applied.
fn mutated(make: fn(u64) -> Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), edits()).prop_map(move |(seed, e)| apply(make(seed), &e))
}

/// A small deterministic generator for valid files.
struct Gen(u64);
impl Gen {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

fn valid_native(seed: u64) -> Vec<u8> {
    let mut g = Gen(seed);
    let nf = 1 + g.next(4);
    let names: Vec<String> = (0..nf).map(|i| format!("\"f{i}\"")).collect();
    let mut s = format!(
        "# unitlab-trace v1\n# meta: {{\"functions\":[{}],\"source\":\"p\",\"seed\":null,\"span_ns\":{}}}\narrival_ns,function,duration_ns,memory_bytes\n",
        names.join(","),
        1_000_000 + g.next(1000)
    );
    let mut t = 0;
    for _ in 0..g.next(30) {
        t += g.next(50_000);
        s += &format!("{t},{},{},{}\n", g.next(nf), g.next(9999), g.next(1 << 20));
    }
    s.into_bytes()
}

fn valid_azure2021(seed: u64) -> Vec<u8> {
    let mut g = Gen(seed);
    let mut s = String::from("app,func,end_timestamp,duration\n");
    let mut t = 0;
    for _ in 0..g.next(30) {
        t += g.next(2000);
        s += &format!(
            "a{},f{},{}.{:03},{}.{:03}\n",
            g.next(3),
            g.next(3),
            t / 1000,
            t % 1000,
            g.next(2),
            g.next(1000)
        );
    }
    s.into_bytes()
}

fn valid_csv(seed: u64) -> Vec<u8> {
    let mut g = Gen(seed);
    let mut s = String::from("id,ts,fn,dur,mem\n");
    let mut t = 1_700_000_000_000u64;
    for i in 0..g.next(30) {
        t += g.next(5000);
        s += &format!(
            "r{i},{t},fn{},{}.{},{}\n",
            g.next(4),
            g.next(500),
            g.next(10),
            g.next(512)
        );
    }
    s.into_bytes()
}

fn valid_jsonl(seed: u64) -> Vec<u8> {
    let mut g = Gen(seed);
    let mut s = String::new();
    let mut t = 1_700_000_000_000u64;
    for _ in 0..g.next(30) {
        t += g.next(5000);
        s += &format!(
            "{{\"ts\": {t}, \"fn\": \"f{}\", \"dur\": {}, \"x\": [1, {{\"y\": null}}]}}\n",
            g.next(4),
            g.next(500)
        );
    }
    s.into_bytes()
}

fn azure2019_header(minutes: u64) -> String {
    let mut s = String::from("HashOwner,HashApp,HashFunction,Trigger");
    for m in 1..=minutes {
        s += &format!(",{m}");
    }
    s.push('\n');
    s
}

fn valid_azure2019(seed: u64) -> Vec<u8> {
    let mut g = Gen(seed);
    let minutes = 1 + g.next(20);
    let mut s = azure2019_header(minutes);
    for f in 0..g.next(8) {
        s += &format!("o{},a{},f{f},http", g.next(2), g.next(3));
        for _ in 0..minutes {
            s += &format!(",{}", if g.next(3) == 0 { g.next(50) } else { 0 });
        }
        s.push('\n');
    }
    s.into_bytes()
}

const DURATIONS_HEADER: &str = "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100\n";

fn valid_durations(seed: u64) -> Vec<u8> {
    let mut g = Gen(seed);
    let mut s = String::from(DURATIONS_HEADER);
    for f in 0..g.next(8) {
        let mut p = g.next(100);
        let mut ps = Vec::new();
        for _ in 0..7 {
            p += g.next(100);
            ps.push(p.to_string());
        }
        s += &format!(
            "o,a,f{f},{},{},{},{},{}\n",
            g.next(500),
            g.next(100),
            ps[0],
            ps[6],
            ps.join(",")
        );
    }
    s.into_bytes()
}

const MEMORY_HEADER: &str = "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100\n";

fn valid_memory(seed: u64) -> Vec<u8> {
    let mut g = Gen(seed);
    let mut s = String::from(MEMORY_HEADER);
    for a in 0..g.next(8) {
        let m = 10 + g.next(300);
        s += &format!(
            "o,a{a},{},{m},{m},{m},{m},{m},{m},{m},{m},{m}\n",
            g.next(99)
        );
    }
    s.into_bytes()
}

fn with_prefix(prefix: &'static [u8], tail: Vec<u8>) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend(tail);
    v
}

fn native_opts() -> LoadOptions {
    LoadOptions::default()
}

fn csv_opts(format: Format) -> LoadOptions {
    LoadOptions {
        format,
        timestamp_column: Some("ts".into()),
        time_format: Some(TimeFormat::Number(TimeUnit::Ms)),
        function_column: vec!["fn".into()],
        duration_column: Some("dur".into()),
        memory_column: (format == Format::Csv).then(|| "mem".into()),
        ..LoadOptions::default()
    }
}

// ---- The properties. ----

#[test]
fn any_bytes_any_format() {
    run("auto (arbitrary bytes)", body(), |b| {
        check_load(b, &native_opts(), false)
    });
}

#[test]
fn native() {
    let head: &[u8] = b"# unitlab-trace v1\n# meta: {\"functions\":[\"a\",\"b\"],\"source\":\"p\",\"seed\":null,\"span_ns\":null}\narrival_ns,function,duration_ns,memory_bytes\n";
    let head: &'static [u8] = Box::leak(head.to_vec().into_boxed_slice());
    run(
        "native (header + arbitrary bytes)",
        body().prop_map(move |t| with_prefix(head, t)),
        |b| check_load(b, &native_opts(), false),
    );
    run("native (mutated)", mutated(valid_native), |b| {
        check_load(b, &native_opts(), false)
    });
}

#[test]
fn azure2021() {
    run(
        "azure2021 (header + arbitrary bytes)",
        body().prop_map(|t| with_prefix(b"app,func,end_timestamp,duration\n", t)),
        |b| check_load(b, &native_opts(), false),
    );
    run("azure2021 (mutated)", mutated(valid_azure2021), |b| {
        check_load(b, &native_opts(), false)
    });
}

#[test]
fn generic_csv() {
    let o = csv_opts(Format::Csv);
    run(
        "csv (header + arbitrary bytes)",
        body().prop_map(|t| with_prefix(b"id,ts,fn,dur,mem\n", t)),
        |b| check_load(b, &o, false),
    );
    run("csv (mutated)", mutated(valid_csv), |b| {
        check_load(b, &o, false)
    });
}

#[test]
fn generic_jsonl() {
    let o = csv_opts(Format::Jsonl);
    run("jsonl (arbitrary bytes)", body(), |b| {
        check_load(b, &o, false)
    });
    run("jsonl (mutated)", mutated(valid_jsonl), |b| {
        check_load(b, &o, false)
    });
}

#[test]
fn azure2019_invocations() {
    let head: &'static [u8] = Box::leak(azure2019_header(5).into_bytes().into_boxed_slice());
    run(
        "azure2019 invocations (header + arbitrary bytes)",
        body().prop_map(move |t| with_prefix(head, t)),
        |b| check_load(b, &native_opts(), false),
    );
    run(
        "azure2019 invocations (mutated)",
        mutated(valid_azure2019),
        |b| check_load(b, &native_opts(), false),
    );
}

/// Reads a durations or memory file with `read`, checking the bound and the location.
fn check_side(
    bytes: &[u8],
    read: impl FnOnce(&Path) -> Result<usize, TraceError>,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("side.csv");
    std::fs::write(&path, bytes).unwrap();
    let (result, peak) = peak_of(|| read(&path));
    prop_assert!(peak <= bound(bytes.len()), "allocated {peak} bytes");
    match result {
        Ok(_) => outcome(true),
        Err(e) => located(&e, &path.display().to_string())?,
    }
    Ok(())
}

#[test]
fn azure2019_durations_and_memory() {
    let dur = |p: &Path| read_durations(p, DurationJoin::Percentiles).map(|m| m.len());
    run(
        "azure2019 durations (header + arbitrary bytes)",
        body().prop_map(|t| with_prefix(DURATIONS_HEADER.as_bytes(), t)),
        |b| check_side(b, dur),
    );
    run(
        "azure2019 durations (mutated)",
        mutated(valid_durations),
        |b| check_side(b, dur),
    );
    let mem = |p: &Path| read_memory(p).map(|m| m.len());
    run(
        "azure2019 memory (header + arbitrary bytes)",
        body().prop_map(|t| with_prefix(MEMORY_HEADER.as_bytes(), t)),
        |b| check_side(b, mem),
    );
    run("azure2019 memory (mutated)", mutated(valid_memory), |b| {
        check_side(b, mem)
    });
}

#[test]
fn gzip_input() {
    // A valid file compressed, then loaded; and the compressed bytes mutated.
    run("gzip (mutated contents)", mutated(valid_azure2021), |b| {
        check_load(b, &native_opts(), true)
    });
    run(
        "gzip (mutated stream)",
        (any::<u64>(), edits()).prop_map(|(seed, e)| apply(gzip(&valid_native(seed)), &e)),
        |b| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.gz");
            std::fs::write(&path, b).unwrap();
            load_file(&path, b.len(), &native_opts())
        },
    );
}

/// The heap counter sees an allocation (so the bound above is really checked).
#[test]
fn the_counter_counts() {
    let (v, peak) = peak_of(|| vec![1u8; 3 << 20]);
    assert_eq!(v.len(), 3 << 20);
    assert!(peak >= 3 << 20, "{peak}");
}

/// A JSON line over the bound is an error naming its line, read without holding the file.
#[test]
fn jsonl_line_over_one_mib_names_its_line() {
    let mut text = String::from("{\"ts\": 1, \"fn\": \"a\"}\n{\"ts\": 2, \"fn\": \"");
    text.push_str(&"x".repeat(16 << 20));
    text.push_str("\"}\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    std::fs::write(&path, &text).unwrap();
    let ((), peak) = peak_of(|| {
        let e = match open(&path, &csv_opts(Format::Jsonl)) {
            Ok(mut s) => s.try_for_each(|r| r.map(|_| ())).unwrap_err(),
            Err(e) => e,
        };
        let msg = e.to_string();
        assert!(
            msg.ends_with(":2:1048577: the line is longer than 1048576 bytes: expected one JSON object per line"),
            "{msg}"
        );
    });
    // The 16 MiB line is never held whole: at most the 1 MiB bound (a buffer that doubled).
    assert!(peak < 4 << 20, "{peak}");
}
