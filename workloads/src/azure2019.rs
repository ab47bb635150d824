//! The Azure Functions 2019 trace ("Serverless in the Wild", Shahrad et al., USENIX ATC
//! 2020; files from Azure/AzurePublicDataset, CC-BY), read as published.
//!
//! Inputs (formats in `shared/TRACES.md`):
//! - one or more `invocations_per_function_md.anon.dNN.csv` files, one per day, read in the
//!   order given (day `i` starts at `i * 1440` minutes; a file with fewer minute columns, as
//!   in small test fixtures, spans only those minutes);
//! - optionally a `function_durations_percentiles.anon.dNN.csv` and an
//!   `app_memory_percentiles.anon.dNN.csv` (one of each, applied to all days).
//!
//! **Identity.** A function is the triple (HashOwner, HashApp, HashFunction), named
//! `owner/app/function` in [`TraceMeta::functions`], ids in order of first appearance. Rows
//! repeating a triple within a day are added together.
//!
//! **Spreading per-minute counts.** A minute's `c` invocations get times inside the minute by
//! [`Spread`]: `uniform` (default; `c` independent uniform times, which is exactly a Poisson
//! process conditioned on `c` arrivals in the minute), `equidistant` (the centres of `c`
//! equal slots), or `start` (all at the minute's first nanosecond: the burstiest reading).
//! Minute `g` (counted from the first day's first minute) draws from random stream
//! `PER_ITEM + 2g` of the seed, so a minute's times do not depend on any other minute.
//!
//! **Durations** ([`DurationJoin`], joined on the triple): `percentiles` (default) draws each
//! invocation's duration from the piecewise-linear inverse CDF through (0, p0), (0.01, p1),
//! (0.25, p25), (0.5, p50), (0.75, p75), (0.99, p99), (1, p100) of the function's row (stream
//! `PER_ITEM + 2g + 1`); `average` gives every invocation the row's `Average`; `none` leaves
//! durations out. Note the published percentiles are of 30-second averages, not of single
//! invocations, so the true spread of single invocations is wider. A function without a row
//! gets `None`.
//!
//! **Memory** (per application in the trace): the app's `AverageAllocatedMb` (MB read as MiB,
//! 2^20 bytes) is split evenly across the app's functions that appear in the loaded
//! invocations files. A function whose app has no row gets `None`.
//!
//! **Memory use.** The current day is held as its non-zero cells, each packed into 8 bytes
//! (minute, function, count) and sorted, plus per-function tables (name, duration row,
//! memory) and one minute's invocations (16 bytes each: the packed values and the radix
//! sort's scratch) while that minute is sorted. Nothing grows with the number of days or the total number of invocations: the
//! bound is O(functions + non-zero cells of one day + invocations of the busiest minute).
//! Later days are pre-scanned at open (names only) so that every function id is known up
//! front, then parsed one at a time as the stream reaches them.

use crate::rng::{stream, Rng};
use crate::rows::Names;
use crate::trace::{FunctionId, Invocation, TraceMeta, TraceStream};
use crate::TraceError;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The first four columns of an invocations file.
pub const INVOCATIONS_HEAD: [&str; 4] = ["HashOwner", "HashApp", "HashFunction", "Trigger"];
/// Percentile columns of the durations file and the probabilities they stand for.
pub const DURATION_PERCENTILES: [(&str, f64); 7] = [
    ("percentile_Average_0", 0.0),
    ("percentile_Average_1", 0.01),
    ("percentile_Average_25", 0.25),
    ("percentile_Average_50", 0.5),
    ("percentile_Average_75", 0.75),
    ("percentile_Average_99", 0.99),
    ("percentile_Average_100", 1.0),
];
const NS_PER_MIN: u64 = 60_000_000_000;
const FN_BITS: u32 = 28;

/// How a minute's invocations are placed inside the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Spread {
    /// Independent uniform times (a Poisson process conditioned on the count). Seeded.
    /// `poisson` is accepted as another name for it.
    #[default]
    #[value(alias = "poisson")]
    Uniform,
    /// The centres of equal slots: `(k + 1/2) * 60 s / c`.
    Equidistant,
    /// All at the start of the minute.
    Start,
}

/// How durations are joined to invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DurationJoin {
    /// Draw from the piecewise-linear inverse CDF through the row's percentiles. Seeded.
    #[default]
    Percentiles,
    /// The row's `Average` for every invocation.
    Average,
    /// No durations.
    None,
}

/// Options of the Azure 2019 loader.
#[derive(Debug, Clone, Default)]
pub struct Azure2019Options {
    /// Invocation files, one per day, in day order.
    pub invocations: Vec<PathBuf>,
    /// The durations file, if any.
    pub durations: Option<PathBuf>,
    /// The app memory file, if any.
    pub memory: Option<PathBuf>,
    /// Spreading inside a minute.
    pub spread: Spread,
    /// Duration join.
    pub duration_join: DurationJoin,
    /// Seed for spreading and duration draws.
    pub seed: u64,
}

impl Azure2019Options {
    /// Finds the sibling durations and memory files of `invocations_per_function_md.anon.dNN.csv`
    /// (same folder and day, same compression suffix), if they exist.
    pub fn with_siblings(mut self) -> Self {
        if let Some(first) = self.invocations.first() {
            let name = first.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(rest) = name.strip_prefix("invocations_per_function_md.anon.") {
                let dir = first.parent().unwrap_or(Path::new(""));
                let d = dir.join(format!("function_durations_percentiles.anon.{rest}"));
                let m = dir.join(format!("app_memory_percentiles.anon.{rest}"));
                if self.durations.is_none() && d.exists() {
                    self.durations = Some(d);
                }
                if self.memory.is_none() && m.exists() {
                    self.memory = Some(m);
                }
            }
        }
        self
    }
}

/// One function's duration row (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationRow {
    /// `Average` (ms).
    pub average_ms: f64,
    /// The percentile values (ms) at [`DURATION_PERCENTILES`].
    pub percentiles_ms: [f64; 7],
}

impl DurationRow {
    /// The inverse CDF at `u` in [0, 1] (ms): linear between the percentile points.
    #[inline]
    pub fn quantile_ms(&self, u: f64) -> f64 {
        // Segment i spans probabilities [P[i], P[i+1]); INV[i] = 1 / (P[i+1] - P[i]).
        const P: [f64; 7] = [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0];
        const INV: [f64; 6] = [100.0, 1.0 / 0.24, 4.0, 4.0, 1.0 / 0.24, 100.0];
        let i = if u < 0.5 {
            if u < 0.01 {
                0
            } else if u < 0.25 {
                1
            } else {
                2
            }
        } else if u < 0.75 {
            3
        } else if u < 0.99 {
            4
        } else {
            5
        };
        let p = &self.percentiles_ms;
        let w = ((u - P[i]) * INV[i]).clamp(0.0, 1.0);
        p[i] + w * (p[i + 1] - p[i])
    }
}

/// One day held in memory: its non-zero cells, packed and sorted by (minute, function).
#[derive(Debug, Clone, Default)]
pub struct Day {
    /// Minutes in the file (1440 for a published day).
    pub minutes: u32,
    /// `cells[minute_start[m]..minute_start[m+1]]` are minute `m`'s cells.
    pub minute_start: Vec<u32>,
    /// Non-zero cells packed as `minute << 53 | function << 27 | count` (see [`Day::cell`]).
    pub cells: Vec<u64>,
    /// Total invocations in the day.
    pub invocations: u64,
}

const CELL_FN_BITS: u32 = 26;
const CELL_COUNT_BITS: u32 = 27;
const CELL_COUNT_MAX: u64 = (1 << CELL_COUNT_BITS) - 1;

impl Day {
    /// Unpacks a cell into (function, count).
    #[inline]
    pub fn cell(packed: u64) -> (FunctionId, u32) {
        (
            ((packed >> CELL_COUNT_BITS) & ((1 << CELL_FN_BITS) - 1)) as FunctionId,
            (packed & CELL_COUNT_MAX) as u32,
        )
    }

    /// Minute `m`'s (function, count) cells, by function id.
    pub fn minute(&self, m: usize) -> impl Iterator<Item = (FunctionId, u32)> + '_ {
        self.cells[self.minute_start[m] as usize..self.minute_start[m + 1] as usize]
            .iter()
            .map(|&c| Day::cell(c))
    }

    /// Invocations in the busiest minute.
    pub fn busiest_minute(&self) -> u64 {
        (0..self.minutes as usize)
            .map(|m| self.minute(m).map(|(_, c)| c as u64).sum::<u64>())
            .max()
            .unwrap_or(0)
    }
}

fn csv_reader(path: &Path) -> Result<csv::Reader<Box<dyn std::io::BufRead + Send>>, TraceError> {
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(crate::io::open_read(path)?))
}

fn header_of(
    r: &mut csv::Reader<Box<dyn std::io::BufRead + Send>>,
    name: &str,
    expected: &str,
) -> Result<csv::ByteRecord, TraceError> {
    let h = r.byte_headers().map_err(|e| csv_err(name, e))?.clone();
    if h.is_empty() || (h.len() == 1 && h[0].is_empty()) {
        return Err(TraceError::parse(
            name,
            1,
            1,
            format!("the file is empty: expected a header line `{expected}`"),
        ));
    }
    Ok(h)
}

fn csv_err(path: &str, e: csv::Error) -> TraceError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => TraceError::io(path, io),
        other => TraceError::parse(path, line, 1, format!("malformed CSV: {other:?}")),
    }
}

#[inline]
fn parse_count(b: &[u8]) -> Option<u32> {
    if b == b"0" {
        return Some(0);
    }
    if b.is_empty() || b.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u64;
    }
    u32::try_from(v).ok()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Checks an invocations file's header; returns its number of minutes.
fn check_invocations_header(name: &str, h: &csv::ByteRecord) -> Result<u32, TraceError> {
    let expected = "HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440";
    for (i, want) in INVOCATIONS_HEAD.iter().enumerate() {
        match h.get(i) {
            Some(got) if got == want.as_bytes() => {}
            got => {
                return Err(TraceError::parse(
                    name,
                    1,
                    i as u64 + 1,
                    format!(
                        "wrong header: expected `{want}` in column {}, found `{}` (an Azure 2019 invocations file starts `{expected}`)",
                        i + 1,
                        got.map(lossy).unwrap_or_default()
                    ),
                ))
            }
        }
    }
    let minutes = h.len() - 4;
    if minutes == 0 {
        return Err(TraceError::parse(
            name,
            1,
            5,
            format!("wrong header: no minute columns; expected `{expected}`"),
        ));
    }
    for m in 0..minutes {
        let got = &h[4 + m];
        if got != (m + 1).to_string().as_bytes() {
            return Err(TraceError::parse(
                name,
                1,
                m as u64 + 5,
                format!(
                    "wrong header: expected minute column `{}`, found `{}`",
                    m + 1,
                    lossy(got)
                ),
            ));
        }
    }
    Ok(minutes as u32)
}

fn triple(rec: &FastCsv, buf: &mut String) {
    buf.clear();
    for i in 0..3 {
        if i > 0 {
            buf.push('/');
        }
        buf.push_str(&String::from_utf8_lossy(rec.field(i)));
    }
}

/// A line-at-a-time CSV reader for the invocations files: a line without quotes is split on
/// commas in place (fast path: these files are hex ids and integers); a line with a quote is
/// parsed by the `csv` crate. Quoted fields spanning lines are not supported (the published
/// files have none). Empty lines are skipped, as the `csv` crate does.
struct FastCsv {
    name: String,
    reader: Box<dyn std::io::BufRead + Send>,
    buf: Vec<u8>,
    /// 1-based number of the current line.
    line: u64,
    ranges: Vec<(usize, usize)>,
    quoted: Option<csv::ByteRecord>,
}

impl FastCsv {
    fn open(path: &Path) -> Result<Self, TraceError> {
        Ok(FastCsv {
            name: path.display().to_string(),
            reader: crate::io::open_read(path)?,
            buf: Vec::with_capacity(1 << 14),
            line: 0,
            ranges: Vec::with_capacity(1500),
            quoted: None,
        })
    }

    /// Reads the next non-empty line; false at the end.
    fn next_record(&mut self) -> Result<bool, TraceError> {
        loop {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| TraceError::io(&self.name, e))?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            if self.line == 1 && self.buf.starts_with(b"\xef\xbb\xbf") {
                self.buf.drain(..3);
            }
            if self.buf.is_empty() {
                continue;
            }
            self.ranges.clear();
            if self.buf.contains(&b'"') {
                let mut r = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(&self.buf[..]);
                let mut rec = csv::ByteRecord::new();
                r.read_byte_record(&mut rec).map_err(|e| {
                    TraceError::parse(&self.name, self.line, 1, format!("malformed CSV: {e}"))
                })?;
                self.quoted = Some(rec);
            } else {
                self.quoted = None;
                let mut start = 0;
                for (i, &b) in self.buf.iter().enumerate() {
                    if b == b',' {
                        self.ranges.push((start, i));
                        start = i + 1;
                    }
                }
                self.ranges.push((start, self.buf.len()));
            }
            return Ok(true);
        }
    }

    fn len(&self) -> usize {
        self.quoted.as_ref().map_or(self.ranges.len(), |r| r.len())
    }

    #[inline]
    fn field(&self, i: usize) -> &[u8] {
        match &self.quoted {
            Some(r) => &r[i],
            None => {
                let (a, b) = self.ranges[i];
                &self.buf[a..b]
            }
        }
    }

    fn record(&self) -> csv::ByteRecord {
        (0..self.len()).map(|i| self.field(i)).collect()
    }

    /// Reads and checks the header of an invocations file; returns (fields, minutes).
    fn invocations_header(&mut self) -> Result<(usize, u32), TraceError> {
        if !self.next_record()? {
            return Err(TraceError::parse(&self.name, 1, 1, "the file is empty: expected a header line `HashOwner,HashApp,HashFunction,Trigger,1,...,1440`"));
        }
        let h = self.record();
        Ok((h.len(), check_invocations_header(&self.name, &h)?))
    }
}

/// Reads the names (and triggers) of an invocations file without its counts.
fn prescan_names(
    path: &Path,
    names: &mut Names,
    triggers: &mut Vec<String>,
) -> Result<u32, TraceError> {
    let mut r = FastCsv::open(path)?;
    let (fields, minutes) = r.invocations_header()?;
    let mut key = String::new();
    while r.next_record()? {
        if r.len() < 4 {
            return Err(TraceError::parse(
                &r.name,
                r.line,
                r.len() as u64 + 1,
                format!("expected {fields} fields, found {}", r.len()),
            ));
        }
        triple(&r, &mut key);
        let id = names.id_or_insert(&key);
        if id as usize == triggers.len() {
            triggers.push(lossy(r.field(3)));
        }
    }
    Ok(minutes)
}

/// Parses one invocations file into a [`Day`]. With `grow`, new functions are added to
/// `names`; without, every function must already be there (pre-scanned).
pub fn read_day(
    path: &Path,
    names: &mut Names,
    triggers: &mut Vec<String>,
    grow: bool,
) -> Result<Day, TraceError> {
    let mut r = FastCsv::open(path)?;
    let (fields, minutes) = r.invocations_header()?;
    let name = r.name.clone();
    let mut cells: Vec<u64> = Vec::new();
    let mut key = String::new();
    let mut total = 0u64;
    // Invocations per minute so far: a minute is expanded into one buffer (see the limits).
    let mut per_minute = vec![0u64; minutes as usize];
    while r.next_record()? {
        let line = r.line;
        if r.len() != fields {
            return Err(TraceError::parse(
                &name,
                line,
                r.len().min(fields) as u64 + 1,
                format!(
                    "expected {fields} fields (4 ids and {minutes} minute counts), found {}",
                    r.len()
                ),
            ));
        }
        triple(&r, &mut key);
        let f = if grow {
            let id = names.id_or_insert(&key);
            if id as usize == triggers.len() {
                triggers.push(lossy(r.field(3)));
            }
            id
        } else {
            names.get(&key).ok_or_else(|| {
                TraceError::format(&name, format!("line {line}: function `{key}` was not seen in the pre-scan: the file changed while it was read"))
            })?
        };
        if f as u64 >= 1 << CELL_FN_BITS {
            return Err(TraceError::format(
                &name,
                format!("line {line}: more than 2^{CELL_FN_BITS} functions are not supported"),
            ));
        }
        for m in 0..minutes as usize {
            let cell = r.field(4 + m);
            let c = parse_count(cell).ok_or_else(|| {
                TraceError::parse(
                    &name,
                    line,
                    m as u64 + 5,
                    format!(
                        "minute {} = `{}` is not a count: expected an integer >= 0",
                        m + 1,
                        lossy(cell)
                    ),
                )
            })?;
            if c == 0 {
                continue;
            }
            let (cap, whole) = (
                crate::limits::MAX_COUNT_PER_MINUTE,
                crate::limits::MAX_INVOCATIONS_PER_MINUTE,
            );
            if c as u64 > cap {
                return Err(TraceError::parse(
                    &name,
                    line,
                    m as u64 + 5,
                    format!(
                        "minute {} = `{c}` is more than {cap} invocations of one function in one minute (a corrupt cell?)",
                        m + 1
                    ),
                ));
            }
            per_minute[m] += c as u64;
            if per_minute[m] > whole {
                return Err(TraceError::parse(
                    &name,
                    line,
                    m as u64 + 5,
                    format!(
                        "minute {} reaches {} invocations across functions at this row: more than {whole} in one minute, whose expansion would need {} GiB (16 bytes each); split the functions over several files",
                        m + 1,
                        per_minute[m],
                        per_minute[m] * 16 >> 30
                    ),
                ));
            }
            let mut left = c as u64;
            total += left;
            // Counts above 2^27 - 1 (134 million in one minute for one function) are split
            // into several cells of the same minute and function.
            while left > 0 {
                let part = left.min(CELL_COUNT_MAX);
                cells.push(
                    ((m as u64) << (CELL_FN_BITS + CELL_COUNT_BITS))
                        | ((f as u64) << CELL_COUNT_BITS)
                        | part,
                );
                left -= part;
            }
        }
    }
    // In place: (minute, function) order. Then the minute index.
    cells.sort_unstable();
    cells.shrink_to_fit();
    let mut minute_start = vec![0u32; minutes as usize + 1];
    for &c in &cells {
        minute_start[(c >> (CELL_FN_BITS + CELL_COUNT_BITS)) as usize + 1] += 1;
    }
    for m in 0..minutes as usize {
        minute_start[m + 1] += minute_start[m];
    }
    Ok(Day {
        minutes,
        minute_start,
        cells,
        invocations: total,
    })
}

fn column_index(
    name: &str,
    h: &csv::ByteRecord,
    col: &str,
    expected: &str,
) -> Result<usize, TraceError> {
    h.iter().position(|x| x == col.as_bytes()).ok_or_else(|| {
        TraceError::parse(
            name,
            1,
            1,
            format!(
                "missing column `{col}`: the header has {}; expected {expected}",
                h.iter()
                    .map(|x| format!("`{}`", lossy(x)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

fn parse_ms(name: &str, line: u64, col: usize, colname: &str, b: &[u8]) -> Result<f64, TraceError> {
    let v = parse_non_negative(
        name,
        line,
        col,
        colname,
        b,
        "milliseconds",
        "a duration >= 0 ms",
    )?;
    if v * 1e6 > crate::limits::MAX_DURATION_NS as f64 {
        return Err(TraceError::parse(
            name,
            line,
            col as u64 + 1,
            format!(
                "`{colname}` = `{}` ms is longer than {}, the longest execution a trace may give (a corrupt cell?)",
                lossy(b),
                crate::limits::fmt_span(crate::limits::MAX_DURATION_NS as u128)
            ),
        ));
    }
    Ok(v)
}

/// A finite number >= 0 in cell `col` (0-based) of `line`; the errors say what was
/// `expected` of a non-number and of a `negative` value.
fn parse_non_negative(
    name: &str,
    line: u64,
    col: usize,
    colname: &str,
    b: &[u8],
    expected: &str,
    negative: &str,
) -> Result<f64, TraceError> {
    let s = std::str::from_utf8(b).unwrap_or("").trim();
    let v: f64 = s
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| {
            TraceError::parse(
                name,
                line,
                col as u64 + 1,
                format!(
                    "`{colname}` = `{}` is not a number: expected {expected}",
                    lossy(b)
                ),
            )
        })?;
    if v < 0.0 {
        return Err(TraceError::parse(
            name,
            line,
            col as u64 + 1,
            format!("`{colname}` = `{s}` is negative: expected {negative}"),
        ));
    }
    Ok(v)
}

/// Reads the durations file: (owner/app/function) -> row. The first row of a triple wins.
pub fn read_durations(
    path: &Path,
    join: DurationJoin,
) -> Result<HashMap<String, DurationRow>, TraceError> {
    let name = path.display().to_string();
    let expected = "`HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,...,percentile_Average_100`";
    let mut r = csv_reader(path)?;
    let h = header_of(&mut r, &name, expected)?;
    let ids: Vec<usize> = INVOCATIONS_HEAD[..3]
        .iter()
        .map(|c| column_index(&name, &h, c, expected))
        .collect::<Result<_, _>>()?;
    let avg = column_index(&name, &h, "Average", expected)?;
    let pct: Vec<usize> = if join == DurationJoin::Percentiles {
        DURATION_PERCENTILES
            .iter()
            .map(|(c, _)| column_index(&name, &h, c, expected))
            .collect::<Result<_, _>>()?
    } else {
        vec![]
    };
    let mut out = HashMap::new();
    let mut rec = csv::ByteRecord::new();
    while r
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(&name, e))?
    {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() != h.len() {
            return Err(TraceError::parse(
                &name,
                line,
                rec.len().min(h.len()) as u64 + 1,
                format!("expected {} fields, found {}", h.len(), rec.len()),
            ));
        }
        let key = format!(
            "{}/{}/{}",
            lossy(&rec[ids[0]]),
            lossy(&rec[ids[1]]),
            lossy(&rec[ids[2]])
        );
        let average_ms = parse_ms(&name, line, avg, "Average", &rec[avg])?;
        let mut percentiles_ms = [average_ms; 7];
        for (k, &c) in pct.iter().enumerate() {
            percentiles_ms[k] = parse_ms(&name, line, c, DURATION_PERCENTILES[k].0, &rec[c])?;
            if k > 0 && percentiles_ms[k] < percentiles_ms[k - 1] {
                return Err(TraceError::parse(
                    &name,
                    line,
                    c as u64 + 1,
                    format!(
                        "`{}` = {} is below `{}` = {}: percentiles must not decrease",
                        DURATION_PERCENTILES[k].0,
                        percentiles_ms[k],
                        DURATION_PERCENTILES[k - 1].0,
                        percentiles_ms[k - 1]
                    ),
                ));
            }
        }
        out.entry(key).or_insert(DurationRow {
            average_ms,
            percentiles_ms,
        });
    }
    Ok(out)
}

/// Reads the app memory file: (owner/app) -> AverageAllocatedMb. The first row of an app wins.
pub fn read_memory(path: &Path) -> Result<HashMap<String, f64>, TraceError> {
    let name = path.display().to_string();
    let expected = "`HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,...`";
    let mut r = csv_reader(path)?;
    let h = header_of(&mut r, &name, expected)?;
    let o = column_index(&name, &h, "HashOwner", expected)?;
    let a = column_index(&name, &h, "HashApp", expected)?;
    let m = column_index(&name, &h, "AverageAllocatedMb", expected)?;
    let mut out = HashMap::new();
    let mut rec = csv::ByteRecord::new();
    while r
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(&name, e))?
    {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() != h.len() {
            return Err(TraceError::parse(
                &name,
                line,
                rec.len().min(h.len()) as u64 + 1,
                format!("expected {} fields, found {}", h.len(), rec.len()),
            ));
        }
        let v = parse_non_negative(
            &name,
            line,
            m,
            "AverageAllocatedMb",
            &rec[m],
            "megabytes",
            "megabytes >= 0",
        )?;
        if v * 1048576.0 > crate::limits::MAX_MEMORY_BYTES as f64 {
            return Err(TraceError::parse(
                &name,
                line,
                m as u64 + 1,
                format!(
                    "`AverageAllocatedMb` = `{}` is more than 1 TiB for one app (a corrupt cell?)",
                    lossy(&rec[m])
                ),
            ));
        }
        out.entry(format!("{}/{}", lossy(&rec[o]), lossy(&rec[a])))
            .or_insert(v);
    }
    Ok(out)
}

/// The Azure 2019 stream (see the module docs). Cloning copies the held day (cheap next to
/// parsing it again; used by the benchmark to replay one parsed day).
#[derive(Clone)]
pub struct Azure2019 {
    meta: TraceMeta,
    opts: Azure2019Options,
    names: Names,
    /// Trigger of each function (`http`, `timer`, ...), by id.
    pub triggers: Vec<String>,
    durations: Vec<Option<DurationRow>>,
    memory: Vec<Option<u64>>,
    day_index: usize,
    day: Option<Day>,
    day_base_minute: u64,
    minute: u32,
    buf: Vec<u64>,
    scratch: Vec<u64>,
    pos: usize,
    dur_rng: Rng,
    minute_base_ns: u64,
    failed: bool,
}

impl std::fmt::Debug for Azure2019 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Azure2019")
            .field("meta.source", &self.meta.source)
            .finish()
    }
}

impl Azure2019 {
    /// Opens the files: reads the durations and memory files, pre-scans every day's names,
    /// and parses the first day.
    pub fn open(opts: Azure2019Options) -> Result<Self, TraceError> {
        if opts.invocations.is_empty() {
            return Err(TraceError::param(
                "invocations",
                "give at least one invocations_per_function_md.anon.dNN.csv file",
            ));
        }
        let mut names = Names::default();
        let mut triggers = Vec::new();
        let day = read_day(&opts.invocations[0], &mut names, &mut triggers, true)?;
        let mut total_minutes = day.minutes as u64;
        for p in &opts.invocations[1..] {
            total_minutes += prescan_names(p, &mut names, &mut triggers)? as u64;
        }
        let list: Vec<String> = names.clone().into_list();
        let durations = match (&opts.durations, opts.duration_join) {
            (Some(p), j) if j != DurationJoin::None => {
                let t = read_durations(p, j)?;
                list.iter().map(|n| t.get(n).copied()).collect()
            }
            _ => vec![None; list.len()],
        };
        let memory = match &opts.memory {
            Some(p) => {
                let t = read_memory(p)?;
                let app_of = |n: &str| {
                    n.rsplit_once('/')
                        .map(|(a, _)| a.to_string())
                        .unwrap_or_default()
                };
                let mut per_app: HashMap<String, u32> = HashMap::new();
                for n in &list {
                    *per_app.entry(app_of(n)).or_default() += 1;
                }
                list.iter()
                    .map(|n| {
                        let app = app_of(n);
                        t.get(&app)
                            .map(|mb| (mb * 1048576.0 / per_app[&app] as f64).round() as u64)
                    })
                    .collect()
            }
            None => vec![None; list.len()],
        };
        let with_d = durations.iter().filter(|d| d.is_some()).count();
        let with_m = memory.iter().filter(|d| d.is_some()).count();
        let source = format!(
            "Azure Functions 2019 trace: {} day file(s) [{}]; durations: {} ({:?}, {with_d} of {} functions matched); memory: {} (app average split evenly across its functions, {with_m} matched); spread within minutes: {:?}",
            opts.invocations.len(),
            opts.invocations.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            opts.durations.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into()),
            opts.duration_join,
            list.len(),
            opts.memory.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into()),
            opts.spread,
        );
        let seed = opts.seed;
        Ok(Azure2019 {
            meta: TraceMeta {
                functions: list,
                source,
                seed: Some(seed),
                span_ns: Some(total_minutes * NS_PER_MIN),
            },
            opts,
            names,
            triggers,
            durations,
            memory,
            day_index: 0,
            day: Some(day),
            day_base_minute: 0,
            minute: 0,
            buf: Vec::new(),
            scratch: Vec::new(),
            pos: 0,
            dur_rng: Rng::new(seed, stream::DURATIONS),
            minute_base_ns: 0,
            failed: false,
        })
    }

    /// The day currently held (the first day right after open).
    pub fn current_day(&self) -> Option<&Day> {
        self.day.as_ref()
    }

    /// Expands the next minute into `buf`; false at the end of the trace.
    fn fill_minute(&mut self) -> Result<bool, TraceError> {
        loop {
            let Some(day) = &self.day else {
                return Ok(false);
            };
            if self.minute >= day.minutes {
                self.day_base_minute += day.minutes as u64;
                self.day = None;
                self.day_index += 1;
                self.minute = 0;
                if self.day_index < self.opts.invocations.len() {
                    self.day = Some(read_day(
                        &self.opts.invocations[self.day_index],
                        &mut self.names,
                        &mut Vec::new(),
                        false,
                    )?);
                }
                continue;
            }
            let m = self.minute as usize;
            self.minute += 1;
            let g = self.day_base_minute + m as u64;
            self.minute_base_ns = g * NS_PER_MIN;
            let cells = &day.cells[day.minute_start[m] as usize..day.minute_start[m + 1] as usize];
            if cells.is_empty() {
                continue;
            }
            expand_minute(
                cells,
                self.opts.spread,
                self.opts.seed,
                g,
                &mut self.buf,
                &mut self.scratch,
            );
            self.pos = 0;
            self.dur_rng = Rng::new(self.opts.seed, stream::PER_ITEM + 2 * g + 1);
            return Ok(true);
        }
    }
}

/// Expands one minute's packed cells (see [`Day::cells`]) into packed
/// `(offset_ns << 28) | function` values (offset within the minute), sorted by offset and
/// then function. `scratch` is reused between calls. Public for the benchmark.
pub fn expand_minute(
    cells: &[u64],
    spread: Spread,
    seed: u64,
    minute: u64,
    buf: &mut Vec<u64>,
    scratch: &mut Vec<u64>,
) {
    buf.clear();
    match spread {
        Spread::Uniform => {
            let mut rng = Rng::new(seed, stream::PER_ITEM + 2 * minute);
            for &cell in cells {
                let (f, c) = Day::cell(cell);
                for _ in 0..c {
                    buf.push((rng.below(NS_PER_MIN) << FN_BITS) | f as u64);
                }
            }
        }
        Spread::Equidistant => {
            for &cell in cells {
                let (f, c) = Day::cell(cell);
                let c = c as u64;
                for k in 0..c {
                    let off = ((2 * k + 1) as u128 * NS_PER_MIN as u128 / (2 * c) as u128) as u64;
                    buf.push((off << FN_BITS) | f as u64);
                }
            }
        }
        Spread::Start => {
            for &cell in cells {
                let (f, c) = Day::cell(cell);
                buf.extend(std::iter::repeat_n(f as u64, c as usize));
            }
        }
    }
    // Cells come in function order, so a stable sort on the offset alone gives
    // (offset, function) order: the same as sorting the packed values.
    sort_by_offset(buf, scratch);
}

/// Stable LSD radix sort on bits 28..64 (the offset: 36 bits, three 12-bit digits), with
/// a comparison sort for short inputs (same result: keys are unique up to identical values).
fn sort_by_offset(buf: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    const DIGIT: u32 = 12;
    const BUCKETS: usize = 1 << DIGIT;
    if buf.len() < 512 {
        buf.sort_unstable();
        return;
    }
    scratch.clear();
    scratch.resize(buf.len(), 0);
    let mut counts = vec![0usize; BUCKETS];
    for pass in 0..3 {
        let shift = FN_BITS + pass * DIGIT;
        counts.iter_mut().for_each(|c| *c = 0);
        for &x in buf.iter() {
            counts[((x >> shift) as usize) & (BUCKETS - 1)] += 1;
        }
        if counts.contains(&buf.len()) {
            continue; // every key has the same digit: this pass would not move anything
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for &x in buf.iter() {
            let d = ((x >> shift) as usize) & (BUCKETS - 1);
            scratch[counts[d]] = x;
            counts[d] += 1;
        }
        std::mem::swap(buf, scratch);
    }
}

impl Iterator for Azure2019 {
    type Item = Result<Invocation, TraceError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            if self.failed {
                return None;
            }
            match self.fill_minute() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let x = self.buf[self.pos];
        self.pos += 1;
        let f = (x & ((1 << FN_BITS) - 1)) as usize;
        let duration_ns = match (&self.durations[f], self.opts.duration_join) {
            (Some(d), DurationJoin::Percentiles) => {
                Some((d.quantile_ms(self.dur_rng.uniform()) * 1e6).round() as u64)
            }
            (Some(d), DurationJoin::Average) => Some((d.average_ms * 1e6).round() as u64),
            _ => None,
        };
        Some(Ok(Invocation {
            arrival_ns: self.minute_base_ns + (x >> FN_BITS),
            function: f as FunctionId,
            duration_ns,
            memory_bytes: self.memory[f],
        }))
    }
}

impl TraceStream for Azure2019 {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

/// Parameters of a synthetic day written in the Azure 2019 format (for tests and benches:
/// the real files cannot be shipped). Per-function daily counts are log-normal; a function
/// with `D` invocations per day puts each in a uniformly chosen minute when `D <= 2880`, and
/// a Poisson(`D/1440`) count in every minute otherwise.
#[derive(Debug, Clone)]
pub struct SyntheticDay {
    /// Number of functions (rows).
    pub functions: u32,
    /// Functions per app (apps get consecutive functions).
    pub functions_per_app: u32,
    /// Median invocations per function per day.
    pub median_daily: f64,
    /// Standard deviation of ln(daily invocations).
    pub sigma: f64,
    /// Largest daily count of one function (caps the log-normal tail).
    pub max_daily: f64,
    /// Minutes (1440 for a day).
    pub minutes: u32,
    /// Seed.
    pub seed: u64,
}

impl Default for SyntheticDay {
    /// 50,000 functions, 4 per app; daily counts log-normal with median 20 and sigma 2.6,
    /// capped at 2 million (by construction about 53% of functions at most once an hour and 95% at most once a
    /// minute on average; the 2019 paper reports 45% and 81% of apps).
    fn default() -> Self {
        SyntheticDay {
            functions: 50_000,
            functions_per_app: 4,
            median_daily: 20.0,
            sigma: 2.6,
            max_daily: 2e6,
            minutes: 1440,
            seed: 1,
        }
    }
}

fn hex(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    for _ in 0..4 {
        let _ = write!(out, "{:016x}", rng.next_u64());
    }
}

impl SyntheticDay {
    /// Writes `invocations_per_function_md.anon.dNN.csv`, `function_durations_percentiles.anon.dNN.csv`
    /// and `app_memory_percentiles.anon.dNN.csv` into `dir`; returns the invocations path and
    /// the total number of invocations.
    pub fn write(&self, dir: &Path, day: u32) -> Result<(PathBuf, u64), TraceError> {
        let inv_path = dir.join(format!("invocations_per_function_md.anon.d{day:02}.csv"));
        let dur_path = dir.join(format!("function_durations_percentiles.anon.d{day:02}.csv"));
        let mem_path = dir.join(format!("app_memory_percentiles.anon.d{day:02}.csv"));
        let e = |p: &Path| {
            let n = p.display().to_string();
            move |err| TraceError::io(&n, err)
        };
        let mut inv = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&inv_path).map_err(e(&inv_path))?,
        );
        let mut dur =
            std::io::BufWriter::new(std::fs::File::create(&dur_path).map_err(e(&dur_path))?);
        let mut mem =
            std::io::BufWriter::new(std::fs::File::create(&mem_path).map_err(e(&mem_path))?);
        let io = |r: std::io::Result<()>, p: &Path| r.map_err(e(p));
        let mut line = String::from("HashOwner,HashApp,HashFunction,Trigger");
        for m in 1..=self.minutes {
            line.push_str(&format!(",{m}"));
        }
        io(writeln!(inv, "{line}"), &inv_path)?;
        io(writeln!(dur, "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100"), &dur_path)?;
        io(writeln!(mem, "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100"), &mem_path)?;
        let mut rng = Rng::new(self.seed, stream::MIX_SETUP + day as u64);
        let (mut owner, mut app, mut func) = (String::new(), String::new(), String::new());
        let mut counts = vec![0u32; self.minutes as usize];
        let triggers = [
            "http",
            "timer",
            "event",
            "queue",
            "storage",
            "orchestration",
            "others",
        ];
        let mut total = 0u64;
        use std::fmt::Write as _;
        for i in 0..self.functions {
            if i % self.functions_per_app.max(1) == 0 {
                hex(&mut rng, &mut owner);
                hex(&mut rng, &mut app);
                let mb = rng.lognormal(130f64.ln(), 0.6);
                io(writeln!(mem, "{owner},{app},{},{mb:.1},{:.1},{:.1},{:.1},{mb:.1},{:.1},{:.1},{:.1},{:.1}", 100, mb * 0.8, mb * 0.85, mb * 0.9, mb * 1.1, mb * 1.2, mb * 1.3, mb * 1.4), &mem_path)?;
            }
            hex(&mut rng, &mut func);
            let daily = rng
                .lognormal(self.median_daily.ln(), self.sigma)
                .min(self.max_daily)
                .round() as u64;
            counts.iter_mut().for_each(|c| *c = 0);
            let per_min = daily as f64 / self.minutes as f64;
            if daily <= 2 * self.minutes as u64 {
                for _ in 0..daily {
                    counts[rng.below(self.minutes as u64) as usize] += 1;
                }
            } else {
                for c in counts.iter_mut() {
                    *c = rng.poisson(per_min) as u32;
                }
            }
            line.clear();
            let trig = triggers[rng.below(triggers.len() as u64) as usize];
            let _ = write!(line, "{owner},{app},{func},{trig}");
            for &c in &counts {
                total += c as u64;
                let _ = write!(line, ",{c}");
            }
            io(writeln!(inv, "{line}"), &inv_path)?;
            let med = rng.lognormal(300f64.ln(), 1.5);
            let p = [
                med * 0.2,
                med * 0.3,
                med * 0.7,
                med,
                med * 1.5,
                med * 4.0,
                med * 6.0,
            ];
            io(writeln!(dur, "{owner},{app},{func},{:.3},{daily},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}", med * 1.2, p[0], p[6], p[0], p[1], p[2], p[3], p[4], p[5], p[6]), &dur_path)?;
        }
        io(inv.flush(), &inv_path)?;
        io(dur.flush(), &dur_path)?;
        io(mem.flush(), &mem_path)?;
        Ok((inv_path, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_is_piecewise_linear_through_the_percentiles() {
        let d = DurationRow {
            average_ms: 0.0,
            percentiles_ms: [10.0, 20.0, 50.0, 100.0, 150.0, 800.0, 900.0],
        };
        for (u, want) in [
            (0.0, 10.0),
            (0.005, 15.0),
            (0.01, 20.0),
            (0.25, 50.0),
            (0.375, 75.0),
            (0.5, 100.0),
            (0.75, 150.0),
            (0.99, 800.0),
            (0.995, 850.0),
            (1.0, 900.0),
        ] {
            assert!(
                (d.quantile_ms(u) - want).abs() < 1e-9,
                "u={u}: {} vs {want}",
                d.quantile_ms(u)
            );
        }
    }

    #[test]
    fn radix_sort_matches_sort() {
        let mut r = Rng::new(1, 0);
        for n in [0usize, 10, 600, 5000] {
            let mut v: Vec<u64> = (0..n)
                .map(|i| (r.below(NS_PER_MIN) << FN_BITS) | (i as u64 % 7))
                .collect();
            // Insertion order within equal offsets must be ascending function for equality.
            let mut want = v.clone();
            want.sort_unstable();
            let mut scratch = Vec::new();
            sort_by_offset(&mut v, &mut scratch);
            assert_eq!(v, want);
        }
    }
}
