//! The unitlab native trace file: what `unitlab trace gen -o` writes and every command reads.
//!
//! A CSV file (gzip-compressed when its name ends in `.gz`; readers detect gzip by its magic
//! bytes) made of:
//!
//! ```text
//! # unitlab-trace v1
//! # meta: {"functions":["f0","f1"],"source":"synthetic poisson rate=10/s ...","seed":42,"span_ns":60000000000}
//! arrival_ns,function,duration_ns,memory_bytes
//! 81764531,0,1000000,
//! 90112003,1,,134217728
//! ```
//!
//! - line 1: the magic comment, exactly `# unitlab-trace v1`;
//! - line 2: `# meta: ` and the [`TraceMeta`] as one line of JSON (function names indexed by
//!   id, where the trace came from, the seed, the nominal span in ns);
//! - line 3: the header, exactly `arrival_ns,function,duration_ns,memory_bytes`;
//! - then one row per invocation, sorted by `arrival_ns` (ns since the trace start, integer),
//!   `function` the integer id into `functions`, `duration_ns` and `memory_bytes` integers or
//!   empty for "unknown".
//!
//! Readers go through [`crate::rows`], so a native file gets the same checks as any other.

use crate::io::Output;
use crate::trace::{Invocation, TraceMeta, TraceStream};
use crate::TraceError;
use std::io::{BufRead, Write};
use std::path::Path;

/// The first line of a native file.
pub const MAGIC: &str = "# unitlab-trace v1";
/// The header row.
pub const HEADER: &str = "arrival_ns,function,duration_ns,memory_bytes";
const META_PREFIX: &str = "# meta: ";

/// Writes the header lines (magic, metadata, header row).
pub fn write_header(w: &mut impl Write, meta: &TraceMeta) -> std::io::Result<()> {
    let json = serde_json::to_string(meta).map_err(std::io::Error::other)?;
    writeln!(w, "{MAGIC}")?;
    writeln!(w, "{META_PREFIX}{json}")?;
    writeln!(w, "{HEADER}")
}

/// Writes one invocation row.
#[inline]
pub fn write_row(w: &mut impl Write, inv: &Invocation) -> std::io::Result<()> {
    write!(w, "{},{},", inv.arrival_ns, inv.function)?;
    if let Some(d) = inv.duration_ns {
        write!(w, "{d}")?;
    }
    w.write_all(b",")?;
    if let Some(m) = inv.memory_bytes {
        write!(w, "{m}")?;
    }
    w.write_all(b"\n")
}

/// Writes a whole stream to `path` (`-` for standard output; `.gz` compresses). Returns the
/// number of invocations written. Fails on the stream's first error or on an out-of-order
/// invocation (which would make the file unreadable as sorted).
pub fn write(stream: impl TraceStream, path: &Path) -> Result<u64, TraceError> {
    let name = path.display().to_string();
    let ioe = |e| TraceError::io(&name, e);
    let mut out = Output::create(path)?;
    let meta = stream.meta().clone();
    write_header(&mut out, &meta).map_err(ioe)?;
    let mut n = 0u64;
    let mut last = 0u64;
    for inv in stream {
        let inv = inv?;
        if inv.arrival_ns < last {
            return Err(TraceError::format(
                &name,
                format!("the stream produced arrival {} ns after {} ns: not sorted (a bug in its source)", inv.arrival_ns, last),
            ));
        }
        last = inv.arrival_ns;
        write_row(&mut out, &inv).map_err(ioe)?;
        n += 1;
    }
    out.finish().map_err(ioe)?;
    Ok(n)
}

/// Reads the metadata of a native file (its first two lines).
pub fn read_meta(path: &Path) -> Result<TraceMeta, TraceError> {
    let name = path.display().to_string();
    let mut r = crate::io::open_read(path)?;
    let mut line = String::new();
    r.read_line(&mut line)
        .map_err(|e| TraceError::io(&name, e))?;
    if line.trim_end() != MAGIC {
        return Err(TraceError::parse(
            &name,
            1,
            1,
            format!(
                "expected `{MAGIC}` (a unitlab native trace), found `{}`",
                line.trim_end()
            ),
        ));
    }
    line.clear();
    r.read_line(&mut line)
        .map_err(|e| TraceError::io(&name, e))?;
    let json = line.trim_end().strip_prefix(META_PREFIX).ok_or_else(|| {
        TraceError::parse(
            &name,
            2,
            1,
            format!("expected `{META_PREFIX}{{...}}` with the trace's metadata as JSON"),
        )
    })?;
    let meta: TraceMeta = serde_json::from_str(json).map_err(|e| {
        TraceError::parse(
            &name,
            2,
            (META_PREFIX.len() + e.column()) as u64,
            format!("invalid metadata JSON: {e}"),
        )
    })?;
    if let Some(span) = meta.span_ns.filter(|&s| s > crate::limits::MAX_SPAN_NS) {
        let col = line.find("\"span_ns\"").map_or(1, |p| p as u64 + 1);
        return Err(TraceError::parse(
            &name,
            2,
            col,
            format!(
                "`span_ns` = {span} is {}: a trace may span at most {}",
                crate::limits::fmt_span(span as u128),
                crate::limits::fmt_span(crate::limits::MAX_SPAN_NS as u128)
            ),
        ));
    }
    Ok(meta)
}
