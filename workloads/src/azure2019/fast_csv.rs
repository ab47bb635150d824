//! The fast CSV reader of the invocations files ([`FastCsv`]: split on commas in place, the
//! `csv` crate only for quoted lines), the header checks, and the cell parsers shared by the
//! invocations, durations and memory files.

use std::path::Path;

use super::INVOCATIONS_HEAD;
use crate::rows::csv_error;
use crate::TraceError;

pub(super) fn csv_reader(
    path: &Path,
) -> Result<csv::Reader<Box<dyn std::io::BufRead + Send>>, TraceError> {
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(crate::io::open_read(path)?))
}

pub(super) fn header_of(
    r: &mut csv::Reader<Box<dyn std::io::BufRead + Send>>,
    name: &str,
    expected: &str,
) -> Result<csv::ByteRecord, TraceError> {
    let h = r.byte_headers().map_err(|e| csv_error(name, e))?.clone();
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

#[inline]
pub(super) fn parse_count(b: &[u8]) -> Option<u32> {
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

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Checks an invocations file's header; returns its number of minutes.
pub(super) fn check_invocations_header(name: &str, h: &csv::ByteRecord) -> Result<u32, TraceError> {
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

/// A line-at-a-time CSV reader for the invocations files: a line without quotes is split on
/// commas in place (fast path: these files are hex ids and integers); a line with a quote is
/// parsed by the `csv` crate. Quoted fields spanning lines are not supported (the published
/// files have none). Empty lines are skipped, as the `csv` crate does.
pub(super) struct FastCsv {
    pub(super) name: String,
    reader: Box<dyn std::io::BufRead + Send>,
    buf: Vec<u8>,
    /// 1-based number of the current line.
    pub(super) line: u64,
    ranges: Vec<(usize, usize)>,
    quoted: Option<csv::ByteRecord>,
}

impl FastCsv {
    pub(super) fn open(path: &Path) -> Result<Self, TraceError> {
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
    pub(super) fn next_record(&mut self) -> Result<bool, TraceError> {
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

    pub(super) fn len(&self) -> usize {
        self.quoted.as_ref().map_or(self.ranges.len(), |r| r.len())
    }

    #[inline]
    pub(super) fn field(&self, i: usize) -> &[u8] {
        match &self.quoted {
            Some(r) => &r[i],
            None => {
                let (a, b) = self.ranges[i];
                &self.buf[a..b]
            }
        }
    }

    pub(super) fn record(&self) -> csv::ByteRecord {
        (0..self.len()).map(|i| self.field(i)).collect()
    }

    /// Reads and checks the header of an invocations file; returns (fields, minutes).
    pub(super) fn invocations_header(&mut self) -> Result<(usize, u32), TraceError> {
        if !self.next_record()? {
            return Err(TraceError::parse(&self.name, 1, 1, "the file is empty: expected a header line `HashOwner,HashApp,HashFunction,Trigger,1,...,1440`"));
        }
        let h = self.record();
        Ok((h.len(), check_invocations_header(&self.name, &h)?))
    }
}

pub(super) fn column_index(
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

pub(super) fn parse_ms(
    name: &str,
    line: u64,
    col: usize,
    colname: &str,
    b: &[u8],
) -> Result<f64, TraceError> {
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
pub(super) fn parse_non_negative(
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
