//! Shared by the fuzz targets: load bytes as a trace file with given options and check what
//! the property tests check (no panic, a bounded number of items, every error located).

use std::io::Write;
use unitlab_workloads::rows::{TimeFormat, TimeUnit};
use unitlab_workloads::{open, Format, LoadOptions, TraceError};

/// Items read from one stream at most (a loop would exceed it).
pub const MAX_ITEMS: usize = 2_000_000;

/// Writes `data` to a temporary file named `name` and returns it (kept alive by the dir).
pub fn file(name: &str, data: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(data))
        .expect("writing the input");
    (dir, path)
}

/// Panics unless `e` names `path` (with line and column >= 1 for a parse error).
pub fn check_located(e: &TraceError, path: &std::path::Path) {
    let name = path.display().to_string();
    match e {
        TraceError::Parse {
            path, line, column, ..
        } => assert!(path == &name && *line >= 1 && *column >= 1, "{e}"),
        TraceError::Io { path, .. } | TraceError::Format { path, .. } => {
            assert_eq!(path, &name, "{e}")
        }
        other => panic!("an error without a location: {other}"),
    }
}

/// Loads `data` as a trace (`gz`: compressed first) and checks the properties.
pub fn load(data: &[u8], opts: &LoadOptions, gz: bool) {
    let bytes = if gz {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    } else {
        data.to_vec()
    };
    let (_dir, path) = file(if gz { "t.csv.gz" } else { "t.csv" }, &bytes);
    let result = open(&path, opts).and_then(|s| {
        let mut n = 0;
        for inv in s.take(MAX_ITEMS) {
            inv?;
            n += 1;
        }
        Ok(n)
    });
    match result {
        Ok(n) => assert!(n < MAX_ITEMS),
        Err(e) => check_located(&e, &path),
    }
}

/// Recognised by its first line (native, Azure 2019, Azure 2021).
pub fn auto() -> LoadOptions {
    LoadOptions::default()
}

/// A generic log: timestamp `ts` (ms), function `fn`, duration `dur`, memory `mem`.
pub fn generic(format: Format) -> LoadOptions {
    LoadOptions {
        format,
        timestamp_column: Some("ts".into()),
        time_format: Some(TimeFormat::Number(TimeUnit::Ms)),
        function_column: vec!["fn".into()],
        duration_column: Some("dur".into()),
        memory_column: Some("mem".into()),
        ..LoadOptions::default()
    }
}

/// `prefix` then `data`.
pub fn after(prefix: &str, data: &[u8]) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.extend_from_slice(data);
    v
}
