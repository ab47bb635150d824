//! Row-per-invocation files: the unitlab native CSV, the Azure Functions 2021 trace, and
//! generic CSV/JSONL request logs whose columns the user names.
//!
//! All go through one two-pass reader:
//! 1. **Pre-scan**: every row is parsed and checked (so a bad cell is reported before any
//!    invocation is streamed), function names are collected into the dense id table of
//!    [`TraceMeta::functions`] (ids in order of first appearance), the time origin is found,
//!    and sortedness is checked: the first row whose arrival is earlier than an earlier row's,
//!    and the largest such backward jump `W`.
//! 2. **Stream**: the file is read again and invocations are emitted in arrival order. If the
//!    file was sorted, rows pass straight through. If not, and [`Unsorted::Sort`] is chosen
//!    (the default), a reorder buffer holds rows until the running maximum arrival is `W`
//!    past them; since no later row can be earlier than that, the output is exactly the
//!    stable sort, with memory bounded by the rows inside one window `W` (for the Azure 2021
//!    trace, whose rows are ordered by *end* time, `W` is at most the longest duration). The
//!    source string then says so. With [`Unsorted::Reject`] the first offending line is an
//!    error.
//!
//! Memory: the function table plus the reorder buffer; never the whole trace. Cost: the file
//! is read (and decompressed) twice; a FIFO or standard input is read from the source only once
//! (see [`crate::io`]). Every cell is checked against [`crate::limits`] as it is parsed.
//!
//! Speed: a CSV file with a numeric timestamp and no memory column (the Azure 2021 trace) is
//! read by a fast path (`rows/fast.rs`: lines split in place, numbers parsed from the bytes,
//! a row naming the previous row's function reuses its id) whenever its pre-scan reads the
//! whole file; anything it does not read exactly as the `csv` crate would (quotes, lone
//! carriage returns, invalid UTF-8, any error) sends the file to the generic reader, from
//! the start, so rows, errors and their locations are the generic reader's
//! ([`RowStream::is_fast`] says which read it). A plain file of 8 MiB or more is
//! pre-scanned in two halves on two threads, merged into exactly the one-pass result (or, when
//! the merge could not be exact, read in one pass).
//!
//! Time origin: native files and the Azure 2021 trace are relative to the trace start
//! already (if an Azure 2021 arrival `end - duration` falls before 0, all arrivals are shifted
//! by the earliest one, and the source says so). Generic logs are made relative to their
//! earliest timestamp (named in the source string).
//!
//! Cells: numbers are parsed exactly as decimals (`1700000000.123456789` s keeps its
//! nanoseconds); an empty optional cell (duration, memory) is `None`; an empty or malformed
//! required cell, a negative duration or memory, or a non-numeric cell is an error naming
//! file, line, column and what was expected. Nothing silently becomes zero.

use crate::limits::{fmt_span, MAX_DURATION_NS, MAX_JSONL_LINE, MAX_MEMORY_BYTES, MAX_SPAN_NS};
use crate::trace::{FunctionId, Invocation, TraceMeta, TraceStream};
use crate::TraceError;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

mod fast;

/// Unit of a numeric time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeUnit {
    /// Seconds.
    S,
    /// Milliseconds.
    #[default]
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl TimeUnit {
    fn pow10(self) -> u32 {
        match self {
            TimeUnit::S => 9,
            TimeUnit::Ms => 6,
            TimeUnit::Us => 3,
            TimeUnit::Ns => 0,
        }
    }
    fn name(self) -> &'static str {
        match self {
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
        }
    }
}

/// Unit of a memory column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemUnit {
    /// Bytes.
    B,
    /// Kilobytes (1000).
    Kb,
    /// Megabytes (1000^2).
    Mb,
    /// Kibibytes (1024).
    Kib,
    /// Mebibytes (1024^2).
    #[default]
    Mib,
}

impl MemUnit {
    fn factor(self) -> f64 {
        match self {
            MemUnit::B => 1.0,
            MemUnit::Kb => 1e3,
            MemUnit::Mb => 1e6,
            MemUnit::Kib => 1024.0,
            MemUnit::Mib => 1048576.0,
        }
    }
}

/// How the timestamp column is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    /// A number (integer or decimal) in this unit, e.g. epoch milliseconds.
    Number(TimeUnit),
    /// A date-time in a chrono `strftime` format, e.g. `%Y-%m-%d %H:%M:%S%.f` (read as UTC
    /// unless the format has `%z`), or `rfc3339`.
    DateTime(String),
}

impl crate::choice::Choice for TimeUnit {
    const CHOICES: &'static [(Self, &'static str, &'static [&'static str], &'static str)] = &[
        (TimeUnit::S, "s", &[], "Seconds"),
        (TimeUnit::Ms, "ms", &[], "Milliseconds"),
        (TimeUnit::Us, "us", &[], "Microseconds"),
        (TimeUnit::Ns, "ns", &[], "Nanoseconds"),
    ];
}

impl crate::choice::Choice for MemUnit {
    const CHOICES: &'static [(Self, &'static str, &'static [&'static str], &'static str)] = &[
        (MemUnit::B, "b", &[], "Bytes"),
        (MemUnit::Kb, "kb", &[], "Kilobytes (1000)"),
        (MemUnit::Mb, "mb", &[], "Megabytes (1000^2)"),
        (MemUnit::Kib, "kib", &[], "Kibibytes (1024)"),
        (MemUnit::Mib, "mib", &[], "Mebibytes (1024^2)"),
    ];
}

impl crate::choice::Choice for Unsorted {
    const CHOICES: &'static [(Self, &'static str, &'static [&'static str], &'static str)] = &[
        (
            Unsorted::Sort,
            "sort",
            &[],
            "Sort it while streaming (bounded look-ahead) and say so in the trace's source",
        ),
        (
            Unsorted::Reject,
            "reject",
            &[],
            "Fail at the first row that is earlier than a previous one",
        ),
    ];
}

crate::choice::from_str_by_choice!(TimeUnit, MemUnit, Unsorted);

impl std::str::FromStr for TimeFormat {
    type Err = String;
    /// `s`, `ms`, `us`, `ns`, or anything with a `%` (a chrono format), or `rfc3339`.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "s" => TimeFormat::Number(TimeUnit::S),
            "ms" => TimeFormat::Number(TimeUnit::Ms),
            "us" => TimeFormat::Number(TimeUnit::Us),
            "ns" => TimeFormat::Number(TimeUnit::Ns),
            "rfc3339" => TimeFormat::DateTime(s.into()),
            f if f.contains('%') => TimeFormat::DateTime(f.into()),
            _ => {
                return Err(format!(
                    "`{s}`: expected s, ms, us, ns, rfc3339 or a chrono format such as `%Y-%m-%d %H:%M:%S%.f`"
                ))
            }
        })
    }
}

/// Which columns of a generic log hold what.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    /// Name of the timestamp column.
    pub timestamp: String,
    /// How the timestamp is written.
    pub time: TimeFormat,
    /// The timestamp marks the *end* of the invocation (arrival = timestamp - duration; needs
    /// a duration column).
    pub timestamp_is_end: bool,
    /// Columns naming the function, joined with `/` (empty: every row is function `all`).
    pub function: Vec<String>,
    /// Duration column, if any.
    pub duration: Option<String>,
    /// Unit of the duration column.
    pub duration_unit: TimeUnit,
    /// Memory column, if any.
    pub memory: Option<String>,
    /// Unit of the memory column.
    pub memory_unit: MemUnit,
}

impl Columns {
    /// Only a timestamp column.
    pub fn timestamp(name: &str, time: TimeFormat) -> Self {
        Columns {
            timestamp: name.into(),
            time,
            timestamp_is_end: false,
            function: vec![],
            duration: None,
            duration_unit: TimeUnit::Ms,
            memory: None,
            memory_unit: MemUnit::Mib,
        }
    }

    /// The Azure Functions 2021 trace: `app,func,end_timestamp,duration` (seconds).
    pub fn azure2021() -> Self {
        Columns {
            timestamp: "end_timestamp".into(),
            time: TimeFormat::Number(TimeUnit::S),
            timestamp_is_end: true,
            function: vec!["app".into(), "func".into()],
            duration: Some("duration".into()),
            duration_unit: TimeUnit::S,
            memory: None,
            memory_unit: MemUnit::B,
        }
    }
}

/// What to do with a file that is not sorted by arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unsorted {
    /// Sort it while streaming (bounded look-ahead; see the module docs) and say so in the
    /// trace's source.
    #[default]
    Sort,
    /// Fail at the first row that is earlier than a previous one.
    Reject,
}

/// The row-per-invocation formats.
#[derive(Debug, Clone, PartialEq)]
pub enum RowFormat {
    /// The unitlab native CSV (see [`crate::native`]).
    Native,
    /// CSV with a header row and the given columns.
    Csv(Columns),
    /// One JSON object per line with the given keys.
    Jsonl(Columns),
}

impl RowFormat {
    fn columns(&self) -> Columns {
        match self {
            RowFormat::Native => Columns {
                timestamp: "arrival_ns".into(),
                time: TimeFormat::Number(TimeUnit::Ns),
                timestamp_is_end: false,
                function: vec!["function".into()],
                duration: Some("duration_ns".into()),
                duration_unit: TimeUnit::Ns,
                memory: Some("memory_bytes".into()),
                memory_unit: MemUnit::B,
            },
            RowFormat::Csv(c) | RowFormat::Jsonl(c) => c.clone(),
        }
    }
}

/// Parses a decimal number exactly, scaled by `10^pow10` and rounded half away from zero to
/// an integer. Accepts an optional sign, digits, an optional fraction, and falls back to f64
/// for exponent notation (`1e3`). None if it is not a number. A number too large for `i128`
/// saturates to `i128::MIN`/`MAX`: every caller bounds the result far below that (see
/// [`crate::limits`]) and so rejects it with a message naming the cell.
pub fn parse_scaled(s: &str, pow10: u32) -> Option<i128> {
    let t = s.trim();
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if body.is_empty() {
        return None;
    }
    if body.bytes().any(|b| b == b'e' || b == b'E') {
        let v: f64 = t.parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        // `as` saturates: 1e308 becomes i128::MAX, which every caller's bound rejects.
        return Some((v * 10f64.powi(pow10 as i32)).round() as i128);
    }
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut v: i128 = 0;
    for b in int.bytes() {
        v = v.saturating_mul(10).saturating_add((b - b'0') as i128);
    }
    for i in 0..pow10 as usize {
        let d = frac
            .as_bytes()
            .get(i)
            .map(|b| (b - b'0') as i128)
            .unwrap_or(0);
        v = v.saturating_mul(10).saturating_add(d);
    }
    if let Some(&next) = frac.as_bytes().get(pow10 as usize) {
        if next >= b'5' {
            v = v.saturating_add(1);
        }
    }
    Some(if neg { -v } else { v })
}

/// One cell of a row: its text and 1-based column.
struct Cell<'a> {
    text: Option<&'a str>,
    column: u64,
}

/// Raw rows from a CSV or JSONL source.
enum Source {
    Csv {
        reader: csv::Reader<Box<dyn BufRead + Send>>,
        record: csv::StringRecord,
        /// Column index of each wanted key (same order as `keys`).
        index: Vec<usize>,
    },
    Jsonl {
        reader: Box<dyn BufRead + Send>,
        line: String,
        line_no: u64,
        values: Vec<Option<String>>,
        columns: Vec<u64>,
    },
}

struct RowReader {
    path: String,
    format: RowFormat,
    cols: Columns,
    /// Keys in this order: timestamp, function columns..., duration?, memory?
    keys: Vec<String>,
    source: Source,
    /// Native files: the function table from the metadata.
    native_functions: Option<usize>,
    key_buf: String,
    /// The previous row's function name and id.
    last_key: String,
    last_function: Option<FunctionId>,
}

/// A parsed row.
#[derive(Debug, Clone, Copy)]
struct Row {
    line: u64,
    /// Arrival in ns on the file's own scale (absolute for generic logs).
    t: i128,
    function: FunctionId,
    duration_ns: Option<u64>,
    memory_bytes: Option<u64>,
}

fn keys_of(c: &Columns) -> Vec<String> {
    let mut k = vec![c.timestamp.clone()];
    k.extend(c.function.iter().cloned());
    k.extend(c.duration.iter().cloned());
    k.extend(c.memory.iter().cloned());
    k
}

impl RowReader {
    fn open(path: &Path, format: &RowFormat) -> Result<Self, TraceError> {
        let name = path.display().to_string();
        let cols = format.columns();
        if cols.timestamp_is_end && cols.duration.is_none() {
            return Err(TraceError::param(
                "timestamp-is-end",
                "an end timestamp needs a duration column (arrival = end - duration): name one with --duration-column",
            ));
        }
        let keys = keys_of(&cols);
        let reader = crate::io::open_read(path)?;
        let source = match format {
            RowFormat::Native | RowFormat::Csv(_) => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    // No csv-level trimming: it rebuilds every record (an allocation and a
                    // copy per row); the header is trimmed here and cells where they are read.
                    .trim(csv::Trim::None)
                    .comment(matches!(format, RowFormat::Native).then_some(b'#'))
                    .from_reader(reader);
                let mut header = reader.headers().map_err(|e| csv_error(&name, e))?.clone();
                header.trim();
                if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
                    return Err(TraceError::parse(
                        &name,
                        1,
                        1,
                        format!(
                            "the file is empty: expected a header line naming the columns {}",
                            quote_list(&keys)
                        ),
                    ));
                }
                let mut index = Vec::new();
                for k in &keys {
                    let mut at = header.iter().enumerate().filter(|(_, h)| h == k);
                    if let (Some((a, _)), Some((b, _))) = (at.next(), at.next()) {
                        return Err(TraceError::parse(
                            &name,
                            header.position().map(|p| p.line()).unwrap_or(1),
                            b as u64 + 1,
                            format!(
                                "the header names `{k}` twice, in columns {} and {}: rename one so the column to read is unambiguous",
                                a + 1,
                                b + 1
                            ),
                        ));
                    }
                    match header.iter().position(|h| h == k) {
                        Some(i) => index.push(i),
                        None => {
                            return Err(TraceError::parse(
                                &name,
                                header.position().map(|p| p.line()).unwrap_or(1),
                                1,
                                format!(
                                    "missing column `{k}`: the header has {}; expected {}",
                                    quote_list(
                                        &header.iter().map(String::from).collect::<Vec<_>>()
                                    ),
                                    quote_list(&keys)
                                ),
                            ))
                        }
                    }
                }
                Source::Csv {
                    reader,
                    record: csv::StringRecord::new(),
                    index,
                }
            }
            RowFormat::Jsonl(_) => Source::Jsonl {
                reader,
                line: String::new(),
                line_no: 0,
                values: vec![None; keys.len()],
                columns: vec![0; keys.len()],
            },
        };
        Ok(RowReader {
            path: name,
            format: format.clone(),
            cols,
            keys,
            source,
            native_functions: None,
            key_buf: String::new(),
            last_key: String::new(),
            last_function: None,
        })
    }

    /// Advances to the next record; returns its line number.
    fn advance(&mut self) -> Option<Result<u64, TraceError>> {
        match &mut self.source {
            Source::Csv { reader, record, .. } => match reader.read_record(record) {
                Ok(true) => Some(Ok(record.position().map(|p| p.line()).unwrap_or(0))),
                Ok(false) => None,
                Err(e) => Some(Err(csv_error(&self.path, e))),
            },
            Source::Jsonl {
                reader,
                line,
                line_no,
                values,
                columns,
            } => loop {
                line.clear();
                // At most one byte past the bound is read: a longer line is an error, not
                // an allocation as large as the file.
                match reader.by_ref().take(MAX_JSONL_LINE + 1).read_line(line) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => {
                        return Some(Err(match e.kind() {
                            std::io::ErrorKind::InvalidData => TraceError::parse(
                                &self.path,
                                *line_no + 1,
                                1,
                                "invalid UTF-8: expected one JSON object per line",
                            ),
                            _ => TraceError::io(&self.path, e),
                        }))
                    }
                }
                *line_no += 1;
                if line.len() as u64 > MAX_JSONL_LINE {
                    return Some(Err(TraceError::parse(
                        &self.path,
                        *line_no,
                        MAX_JSONL_LINE + 1,
                        format!("the line is longer than {MAX_JSONL_LINE} bytes: expected one JSON object per line"),
                    )));
                }
                let text = line.trim();
                if text.is_empty() {
                    continue;
                }
                let obj = match serde_json::from_str::<UniqueObject>(text) {
                    Ok(o) => o.0,
                    Err(e) => {
                        return Some(Err(TraceError::parse(
                            &self.path,
                            *line_no,
                            (e.column() as u64).max(1),
                            format!("expected one JSON object per line: {e}"),
                        )))
                    }
                };
                for (i, k) in self.keys.iter().enumerate() {
                    values[i] = match obj.get(k) {
                        None | Some(serde_json::Value::Null) => None,
                        Some(serde_json::Value::String(s)) => Some(s.clone()),
                        Some(v) => Some(v.to_string()),
                    };
                    columns[i] = line
                        .find(&format!("\"{k}\""))
                        .map(|p| p as u64 + 1)
                        .unwrap_or(1);
                }
                return Some(Ok(*line_no));
            },
        }
    }

    fn cell(&self, i: usize) -> Cell<'_> {
        match &self.source {
            Source::Csv { record, index, .. } => Cell {
                text: record.get(index[i]),
                column: index[i] as u64 + 1,
            },
            Source::Jsonl {
                values, columns, ..
            } => Cell {
                text: values[i].as_deref(),
                column: columns[i],
            },
        }
    }

    fn err(&self, line: u64, column: u64, msg: String) -> TraceError {
        TraceError::parse(&self.path, line, column, msg)
    }

    fn parse_row(&mut self, line: u64, names: &mut Names, grow: bool) -> Result<Row, TraceError> {
        let is_jsonl = matches!(self.format, RowFormat::Jsonl(_));
        // Field count check for CSV: a row with fewer fields than a wanted column.
        if let Source::Csv { record, index, .. } = &self.source {
            let need = index.iter().max().copied().unwrap_or(0) + 1;
            if record.len() < need {
                return Err(self.err(
                    line,
                    record.len() as u64 + 1,
                    format!(
                        "expected at least {need} fields (up to column `{}`), found {}",
                        self.keys[index.iter().position(|&i| i + 1 == need).unwrap_or(0)],
                        record.len()
                    ),
                ));
            }
        }
        fn required<'a>(
            this: &'a RowReader,
            line: u64,
            is_jsonl: bool,
            i: usize,
            what: &str,
        ) -> Result<(&'a str, u64), TraceError> {
            let c = this.cell(i);
            match c.text.map(str::trim) {
                Some(t) if !t.is_empty() => Ok((t, c.column)),
                _ => Err(this.err(
                    line,
                    c.column,
                    format!(
                        "`{}` is empty{}: expected {what}",
                        this.keys[i],
                        if is_jsonl { " or missing" } else { "" }
                    ),
                )),
            }
        }
        // Duration first: an end timestamp needs it.
        let nfun = self.cols.function.len();
        let mut k = 1 + nfun;
        let duration_ns = if self.cols.duration.is_some() {
            let c = self.cell(k);
            let col = c.column;
            let unit = self.cols.duration_unit;
            let v = match c.text.map(str::trim) {
                None | Some("") => None,
                Some(t) => {
                    let v = parse_scaled(t, unit.pow10()).ok_or_else(|| {
                        self.err(
                            line,
                            col,
                            format!(
                                "`{}` = `{t}` is not a number: expected a duration in {}",
                                self.keys[k],
                                unit.name()
                            ),
                        )
                    })?;
                    if v < 0 {
                        return Err(self.err(
                            line,
                            col,
                            format!(
                                "`{}` = `{t}` is negative: expected a duration >= 0 in {}",
                                self.keys[k],
                                unit.name()
                            ),
                        ));
                    }
                    if v > MAX_DURATION_NS as i128 {
                        return Err(self.err(
                            line,
                            col,
                            format!(
                                "`{}` = `{t}` {} is longer than {}, the longest execution a trace may give (a corrupt or mis-scaled cell? check --duration-unit)",
                                self.keys[k],
                                unit.name(),
                                fmt_span(MAX_DURATION_NS as u128)
                            ),
                        ));
                    }
                    Some(v as u64)
                }
            };
            k += 1;
            v
        } else {
            None
        };
        let memory_bytes = if self.cols.memory.is_some() {
            let c = self.cell(k);
            let col = c.column;
            match c.text.map(str::trim) {
                None | Some("") => None,
                Some(t) => {
                    let v: f64 =
                        t.parse()
                            .ok()
                            .filter(|v: &f64| v.is_finite())
                            .ok_or_else(|| {
                                self.err(
                                    line,
                                    col,
                                    format!(
                                    "`{}` = `{t}` is not a number: expected a memory size in {:?}",
                                    self.keys[k], self.cols.memory_unit
                                ),
                                )
                            })?;
                    if v < 0.0 {
                        return Err(self.err(
                            line,
                            col,
                            format!(
                                "`{}` = `{t}` is negative: expected a memory size >= 0",
                                self.keys[k]
                            ),
                        ));
                    }
                    let bytes = (v * self.cols.memory_unit.factor()).round();
                    if bytes > MAX_MEMORY_BYTES as f64 {
                        return Err(self.err(
                            line,
                            col,
                            format!(
                                "`{}` = `{t}` {:?} is more than 1 TiB for one invocation (a corrupt or mis-scaled cell? check --memory-unit)",
                                self.keys[k], self.cols.memory_unit
                            ),
                        ));
                    }
                    Some(bytes as u64)
                }
            }
        } else {
            None
        };
        // Timestamp.
        let (ts, tcol) = required(self, line, is_jsonl, 0, &self.time_expectation())?;
        let mut t = match &self.cols.time {
            TimeFormat::Number(u) => parse_scaled(ts, u.pow10()).ok_or_else(|| {
                self.err(
                    line,
                    tcol,
                    format!(
                        "`{}` = `{ts}` is not a number: expected {}",
                        self.keys[0],
                        self.time_expectation()
                    ),
                )
            })?,
            TimeFormat::DateTime(f) => parse_datetime(ts, f).ok_or_else(|| {
                self.err(
                    line,
                    tcol,
                    format!(
                        "`{}` = `{ts}` does not match the date-time format `{f}`",
                        self.keys[0]
                    ),
                )
            })?,
        };
        if self.cols.timestamp_is_end {
            match duration_ns {
                Some(d) => t = t.saturating_sub(d as i128),
                None => {
                    let c = self.cell(1 + nfun);
                    return Err(self.err(
                        line,
                        c.column,
                        format!(
                            "`{}` is empty: the end timestamp needs a duration to give the arrival",
                            self.keys[1 + nfun]
                        ),
                    ));
                }
            }
        }
        if matches!(self.format, RowFormat::Native) && t < 0 {
            return Err(self.err(line, tcol, format!("`arrival_ns` = `{ts}` is negative: expected nanoseconds >= 0 since the trace start")));
        }
        // Function.
        let function = if nfun == 0 {
            names.id_or_insert("all")
        } else if let Some(n) = self.native_functions {
            let (f, col) = required(self, line, is_jsonl, 1, "a function id")?;
            match f.parse::<u32>() {
                Ok(id) if (id as usize) < n => id,
                _ => {
                    return Err(self.err(line, col, format!("`function` = `{f}` is not a function id: expected an integer in 0..{n} (the functions listed in the metadata line)")))
                }
            }
        } else {
            let mut buf = std::mem::take(&mut self.key_buf);
            buf.clear();
            for i in 0..nfun {
                let (f, _) = required(self, line, is_jsonl, 1 + i, "a function name")?;
                if i > 0 {
                    buf.push('/');
                }
                buf.push_str(f);
            }
            let id = if let Some(id) = self.last_function.filter(|_| buf == self.last_key) {
                // Rows of one function often come in runs: no hashing for those.
                id
            } else if grow {
                names.id_or_insert(&buf)
            } else {
                names.get(&buf).ok_or_else(|| TraceError::format(&self.path, format!("line {line}: function `{buf}` was not seen in the pre-scan: the file changed while it was read")))?
            };
            if self.last_function != Some(id) {
                self.last_key.clone_from(&buf);
                self.last_function = Some(id);
            }
            self.key_buf = buf;
            id
        };
        Ok(Row {
            line,
            t,
            function,
            duration_ns,
            memory_bytes,
        })
    }

    fn time_expectation(&self) -> String {
        match &self.cols.time {
            TimeFormat::Number(u) => format!("a timestamp in {}", u.name()),
            TimeFormat::DateTime(f) => format!("a date-time in the format `{f}`"),
        }
    }
}

impl RowSource for RowReader {
    fn next_row(&mut self, names: &mut Names, grow: bool) -> Option<Result<Row, TraceError>> {
        let line = match self.advance()? {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        Some(self.parse_row(line, names, grow))
    }

    fn timestamp_column(&self) -> u64 {
        self.cell(0).column
    }
}

/// A reader of rows: the generic one ([`RowReader`]) or the fast path for plain CSV
/// (`fast`).
trait RowSource {
    /// Reads the next row; `names` is the function table (grown in the pre-scan, looked up
    /// in the stream pass).
    fn next_row(&mut self, names: &mut Names, grow: bool) -> Option<Result<Row, TraceError>>;
    /// The current row's timestamp column (1-based), for messages.
    fn timestamp_column(&self) -> u64;
}

/// The stream pass's reader.
enum Reader {
    Generic(Box<RowReader>),
    Fast(Box<fast::FastRows>),
}

impl Reader {
    #[inline]
    fn next_row(&mut self, names: &mut Names, grow: bool) -> Option<Result<Row, TraceError>> {
        match self {
            Reader::Generic(r) => r.next_row(names, grow),
            Reader::Fast(r) => r.next_row(names, grow),
        }
    }
}

/// A JSON object whose keys are all different: a key given twice is an error (at the second
/// one), never silently the last value.
struct UniqueObject(serde_json::Map<String, serde_json::Value>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<UniqueObject, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(k) = m.next_key::<String>()? {
                    let v: serde_json::Value = m.next_value()?;
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!(
                            "the key `{k}` is given twice: remove one so the value to read is unambiguous"
                        )));
                    }
                    out.insert(k, v);
                }
                Ok(UniqueObject(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn parse_datetime(s: &str, fmt: &str) -> Option<i128> {
    use chrono::{DateTime, NaiveDateTime};
    let dt = if fmt == "rfc3339" {
        DateTime::parse_from_rfc3339(s).ok()?.to_utc()
    } else if fmt.contains("%z") || fmt.contains("%:z") {
        DateTime::parse_from_str(s, fmt).ok()?.to_utc()
    } else {
        NaiveDateTime::parse_from_str(s, fmt).ok()?.and_utc()
    };
    Some(dt.timestamp() as i128 * 1_000_000_000 + dt.timestamp_subsec_nanos() as i128)
}

fn quote_list(v: &[String]) -> String {
    v.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `csv` crate error as a [`TraceError`] naming the file and line (the one constructor for
/// every CSV reader of this crate).
pub(crate) fn csv_error(path: &str, e: csv::Error) -> TraceError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => TraceError::io(path, io),
        csv::ErrorKind::Utf8 { err, .. } => TraceError::parse(
            path,
            line,
            err.field() as u64 + 1,
            format!("invalid UTF-8: {err}"),
        ),
        other => TraceError::parse(path, line, 1, format!("malformed CSV: {other:?}")),
    }
}

/// The dense function-id table.
#[derive(Debug, Default, Clone)]
pub struct Names {
    map: HashMap<String, FunctionId>,
    list: Vec<String>,
}

impl Names {
    /// The id of `name`, adding it if new.
    pub fn id_or_insert(&mut self, name: &str) -> FunctionId {
        if let Some(&id) = self.map.get(name) {
            return id;
        }
        let id = self.list.len() as FunctionId;
        self.map.insert(name.to_string(), id);
        self.list.push(name.to_string());
        id
    }
    /// The id of `name`, if known.
    pub fn get(&self, name: &str) -> Option<FunctionId> {
        self.map.get(name).copied()
    }
    /// All names by id.
    pub fn into_list(self) -> Vec<String> {
        self.list
    }
}

/// Options for [`open_rows`].
#[derive(Debug, Clone, Default)]
pub struct RowOptions {
    /// What to do if the rows are not sorted by arrival.
    pub unsorted: Unsorted,
    /// Read with the generic reader even where the fast path for plain CSV applies (the
    /// two give the same rows and errors; tests compare them).
    pub generic: bool,
}

/// What the pre-scan found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prescan {
    /// Rows.
    pub rows: u64,
    /// Earliest arrival (file scale, ns).
    pub min_t: Option<i128>,
    /// Latest arrival (file scale, ns).
    pub max_t: Option<i128>,
    /// First row earlier than a previous row: (line, its arrival, the previous maximum).
    pub first_unsorted: Option<(u64, i128, i128)>,
    /// Largest backward jump (ns): the reorder window.
    pub window_ns: i128,
}

/// A row waiting in the reorder buffer: (arrival, sequence, function, duration, memory).
type Pending = (u64, u64, FunctionId, Option<u64>, Option<u64>);

/// A stream over a row-per-invocation file (see the module docs).
pub struct RowStream {
    meta: TraceMeta,
    reader: Reader,
    names: Names,
    origin: i128,
    window: i128,
    sorting: bool,
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    running_max: u64,
    done: bool,
    /// What the pre-scan found.
    pub prescan: Prescan,
}

impl std::fmt::Debug for RowStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("meta", &self.meta)
            .field("prescan", &self.prescan)
            .finish()
    }
}

/// Opens a row-per-invocation file (pre-scan included: parse errors surface here).
pub fn open_rows(
    path: &Path,
    format: &RowFormat,
    opts: &RowOptions,
) -> Result<RowStream, TraceError> {
    let name = path.display().to_string();
    let mut names = Names::default();
    let mut native_meta = None;
    if let RowFormat::Native = format {
        let m = crate::native::read_meta(path)?;
        for f in &m.functions {
            names.id_or_insert(f);
        }
        native_meta = Some(m);
    }
    // Pass 1: the fast path for plain CSV if it reads the whole file, else the generic
    // reader (from the start: its rows, errors and locations are the reference).
    let mut reader = RowReader::open(path, format)?;
    reader.native_functions = native_meta.as_ref().map(|m| m.functions.len());
    let mut fast_scan = None;
    if let (false, RowFormat::Csv(cols), Source::Csv { index, .. }) =
        (opts.generic, format, &reader.source)
    {
        let split = fast::prescan_split(
            path,
            cols,
            index,
            &names,
            format,
            opts,
            fast::SPLIT_MIN_BYTES,
        );
        if let Some((scan, fast_names)) = split {
            fast_scan = Some((scan, fast_names, cols, index.clone()));
        } else if let Some(mut f) = fast::FastRows::open(path, cols, index) {
            let mut fast_names = names.clone();
            if let Ok(scan) = prescan(&mut f, &mut fast_names, &name, format, opts) {
                fast_scan = Some((scan, fast_names, cols, index.clone()));
            }
        }
    }
    let (scan, stream_reader) = match fast_scan {
        Some((scan, fast_names, cols, index)) => {
            names = fast_names;
            let f = fast::FastRows::open(path, cols, &index).ok_or_else(|| {
                TraceError::format(
                    &name,
                    "the file changed while it was read (it is read twice: a pre-scan, then the stream)",
                )
            })?;
            (scan, Reader::Fast(Box::new(f)))
        }
        None => {
            let scan = prescan(&mut reader, &mut names, &name, format, opts)?;
            let mut r = RowReader::open(path, format)?;
            r.native_functions = native_meta.as_ref().map(|m| m.functions.len());
            (scan, Reader::Generic(Box::new(r)))
        }
    };
    // Origin.
    let origin = match format {
        RowFormat::Native => 0,
        RowFormat::Csv(c) | RowFormat::Jsonl(c) if c == &Columns::azure2021() => {
            scan.min_t.unwrap_or(0).min(0)
        }
        _ => scan.min_t.unwrap_or(0),
    };
    let mut source = match &native_meta {
        Some(m) => m.source.clone(),
        None => format!("{} ({})", name, describe(format)),
    };
    if origin != 0 {
        source.push_str(&format!(
            "; time origin: {origin} ns on the file's scale (its earliest arrival)"
        ));
    }
    if let Some((line, _, _)) = scan.first_unsorted {
        source.push_str(&format!(
            "; not sorted by arrival (first at line {line}): sorted on load with a look-ahead window of {} ns",
            scan.window_ns
        ));
    }
    let span_ns = match &native_meta {
        Some(m) if m.span_ns.is_some() => m.span_ns,
        _ => scan.max_t.map(|m| (m - origin) as u64 + 1),
    };
    let meta = TraceMeta {
        functions: names.clone().into_list(),
        source,
        seed: native_meta.as_ref().and_then(|m| m.seed),
        span_ns,
    };
    Ok(RowStream {
        meta,
        reader: stream_reader,
        names,
        origin,
        window: scan.window_ns,
        sorting: scan.first_unsorted.is_some(),
        heap: BinaryHeap::new(),
        seq: 0,
        running_max: 0,
        done: false,
        prescan: scan,
    })
}

/// Pass 1 (see the module docs): every row parsed and checked, the function table grown,
/// the earliest and latest arrivals, and the sort window.
fn prescan(
    reader: &mut impl RowSource,
    names: &mut Names,
    name: &str,
    format: &RowFormat,
    opts: &RowOptions,
) -> Result<Prescan, TraceError> {
    let mut scan = Prescan::default();
    let mut run_max: Option<(i128, u64)> = None;
    // The rows holding the earliest and latest arrival so far, for a span error.
    let (mut min_line, mut max_line) = (0u64, 0u64);
    while let Some(row) = reader.next_row(names, true) {
        let row = row?;
        scan.rows += 1;
        if scan.min_t.is_none_or(|m| row.t < m) {
            scan.min_t = Some(row.t);
            min_line = row.line;
        }
        if scan.max_t.is_none_or(|m| row.t > m) {
            scan.max_t = Some(row.t);
            max_line = row.line;
        }
        let (lo, hi) = (scan.min_t.unwrap_or(0), scan.max_t.unwrap_or(0));
        let origin_lo = if matches!(format, RowFormat::Native) {
            0
        } else {
            lo
        };
        if hi.saturating_sub(origin_lo) > MAX_SPAN_NS as i128 {
            let (other, other_t) = if row.line == max_line {
                (min_line, lo)
            } else {
                (max_line, hi)
            };
            let gap = row.t.saturating_sub(other_t).unsigned_abs();
            let what = if matches!(format, RowFormat::Native) {
                format!(
                    "is {} after the trace start",
                    fmt_span(row.t.unsigned_abs())
                )
            } else {
                format!(
                    "is {} {} the row at line {other}",
                    fmt_span(gap),
                    if row.t > other_t { "after" } else { "before" }
                )
            };
            return Err(TraceError::parse(
                name,
                row.line,
                reader.timestamp_column(),
                format!(
                    "this row's arrival ({} ns on the file's scale) {what}: a trace may span at most {} (a stray or mis-scaled timestamp? check --time-format)",
                    row.t,
                    fmt_span(MAX_SPAN_NS as u128)
                ),
            ));
        }
        match run_max {
            Some((m, ml)) if row.t < m => {
                if scan.first_unsorted.is_none() {
                    if opts.unsorted == Unsorted::Reject {
                        return Err(TraceError::parse(
                            name,
                            row.line,
                            reader.timestamp_column(),
                            format!(
                                "rows are not sorted by arrival: this row arrives at {} ns, before the row at line {ml} ({} ns); sort the file or load it with --unsorted sort",
                                row.t, m
                            ),
                        ));
                    }
                    scan.first_unsorted = Some((row.line, row.t, m));
                }
                scan.window_ns = scan.window_ns.max(m - row.t);
            }
            Some((m, _)) if row.t == m => {}
            _ => run_max = Some((row.t, row.line)),
        }
    }
    Ok(scan)
}

fn describe(format: &RowFormat) -> String {
    match format {
        RowFormat::Native => "unitlab native".into(),
        RowFormat::Csv(c) if c == &Columns::azure2021() => {
            "Azure Functions 2021 per-invocation trace".into()
        }
        RowFormat::Csv(c) => format!("CSV, timestamp column `{}` as {:?}", c.timestamp, c.time),
        RowFormat::Jsonl(c) => format!("JSONL, timestamp key `{}` as {:?}", c.timestamp, c.time),
    }
}

impl Iterator for RowStream {
    type Item = Result<Invocation, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.sorting {
                if let Some(Reverse(top)) = self.heap.peek() {
                    let limit = self.running_max as i128 - self.window;
                    if self.done || (top.0 as i128) <= limit {
                        let Reverse((a, _, f, d, m)) = self.heap.pop().expect("peeked");
                        return Some(Ok(Invocation {
                            arrival_ns: a,
                            function: f,
                            duration_ns: d,
                            memory_bytes: m,
                        }));
                    }
                }
            }
            if self.done {
                return None;
            }
            let row = match self.reader.next_row(&mut self.names, false) {
                None => {
                    self.done = true;
                    continue;
                }
                Some(Err(e)) => {
                    self.done = true;
                    self.heap.clear();
                    return Some(Err(e));
                }
                Some(Ok(r)) => r,
            };
            let a = (row.t - self.origin) as u64;
            if !self.sorting {
                return Some(Ok(Invocation {
                    arrival_ns: a,
                    function: row.function,
                    duration_ns: row.duration_ns,
                    memory_bytes: row.memory_bytes,
                }));
            }
            self.running_max = self.running_max.max(a);
            self.heap.push(Reverse((
                a,
                self.seq,
                row.function,
                row.duration_ns,
                row.memory_bytes,
            )));
            self.seq += 1;
        }
    }
}

impl RowStream {
    /// Whether the fast path for plain CSV reads this file (see the module docs).
    pub fn is_fast(&self) -> bool {
        matches!(self.reader, Reader::Fast(_))
    }
}

impl TraceStream for RowStream {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

/// A path, for messages.
pub fn path_name(p: &Path) -> String {
    PathBuf::from(p).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(
            parse_scaled("1700000000.123456789", 9),
            Some(1_700_000_000_123_456_789)
        );
        assert_eq!(parse_scaled("1.5", 3), Some(1500));
        assert_eq!(parse_scaled("0.0005", 3), Some(1));
        assert_eq!(parse_scaled("-2.25", 1), Some(-23));
        assert_eq!(parse_scaled("1e3", 0), Some(1000));
        assert_eq!(parse_scaled("12", 0), Some(12));
        assert_eq!(parse_scaled(".5", 1), Some(5));
        for bad in ["", "abc", "1.2.3", "-", "1,5", "nan", "."] {
            assert_eq!(parse_scaled(bad, 3), None, "{bad}");
        }
    }

    /// The pre-scan in two halves gives the one-pass pre-scan and function table, or
    /// declines; it reads files in end order (out of order in both halves), in arrival order,
    /// with the second half behind the first, and declines CRLF files.
    #[test]
    fn split_prescan_matches_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let cols = Columns::azure2021();
        let format = RowFormat::Csv(cols.clone());
        let opts = RowOptions::default();
        let mut x = 7u64;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let (mut merged, mut declined) = (0, 0);
        for case in 0..24 {
            let n = 50 + next(400);
            let mut rows: Vec<(u64, u64, u64)> = (0..n)
                .map(|_| (5_000 + next(100_000), next(4_000), next(12)))
                .collect();
            match case % 4 {
                0 => rows.sort_by_key(|r| r.0),
                1 => rows.sort_by_key(|r| r.0 - r.1),
                2 => rows.sort_by_key(|r| std::cmp::Reverse(r.0 - r.1)),
                _ => {}
            }
            let nl = if case % 8 == 7 { "\r\n" } else { "\n" };
            let mut text = format!("app,func,end_timestamp,duration{nl}");
            for (end, d, f) in rows {
                text += &format!(
                    "a{},f{f},{}.{:03},{}.{:03}{nl}",
                    f % 3,
                    end / 1000,
                    end % 1000,
                    d / 1000,
                    d % 1000
                );
            }
            std::fs::write(&path, &text).unwrap();
            let generic = RowReader::open(&path, &format).unwrap();
            let Source::Csv { index, .. } = &generic.source else {
                unreachable!()
            };
            let mut one = fast::FastRows::open(&path, &cols, index).unwrap();
            let mut one_names = Names::default();
            let want = prescan(&mut one, &mut one_names, "t", &format, &opts).unwrap();
            match fast::prescan_split(&path, &cols, index, &Names::default(), &format, &opts, 0) {
                Some((got, names)) => {
                    assert_eq!(got, want, "case {case}");
                    assert_eq!(names.into_list(), one_names.into_list(), "case {case}");
                    merged += 1;
                }
                None => declined += 1,
            }
        }
        assert!(
            merged >= 15 && declined >= 3,
            "{merged} merged, {declined} declined"
        );
    }

    #[test]
    fn datetimes() {
        let f = "%Y-%m-%d %H:%M:%S%.f";
        let a = parse_datetime("2023-11-16 18:17:03.9799600", f).unwrap();
        let b = parse_datetime("2023-11-16 18:17:04", f).unwrap();
        assert_eq!(b - a, 20_040_000);
        assert!(parse_datetime("16/11/2023", f).is_none());
    }
}
