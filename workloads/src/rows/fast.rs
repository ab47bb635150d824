//! The fast path of the row reader for CSV files whose cells are plain (the Azure Functions
//! 2021 trace, and generic logs with a numeric timestamp and no memory column): lines are
//! found and split on commas in place (`memchr`), numbers are parsed straight from the bytes,
//! and a row whose function cells are byte-equal to the previous row's reuses its id without
//! building or hashing a name.
//!
//! It is a pure accelerator: it reads exactly what the `csv` crate would, or declines. It
//! declines (returns [`Unplain`] from its pre-scan, and the generic reader takes over from the
//! start, so errors, locations and results are the generic reader's) on anything whose
//! reading would need the `csv` crate's full rules: a quote anywhere, a carriage return that
//! is not part of a CRLF line ending, a byte-order mark, a header not on line 1, invalid
//! UTF-8, and on every error (a bad cell, a short row, a row out of order under
//! `--unsorted reject`, a span too long). So a file it accepts in the pre-scan gives the
//! same rows, with the same line numbers, as the generic reader; the stream pass then reads
//! the same bytes again (a file that changed in between is an error).
//!
//! Line numbers follow the `csv` crate's: a record's line is the reader's line count when
//! the previous record ended, which is the record's own line, except after a CRLF line (the
//! `\n` of a CRLF is counted when the next record starts) or blank lines (counted after the
//! position is taken).

use super::{parse_scaled, Columns, Names, Prescan, Row, RowSource, TimeFormat};
use crate::limits::MAX_DURATION_NS;
use crate::trace::FunctionId;
use crate::TraceError;
use std::io::Read;
use std::path::Path;

/// The pre-scan met something only the generic reader reads exactly.
#[derive(Debug)]
pub(super) struct Unplain;

/// Bytes read per refill (lines longer than this grow the buffer).
const BUF: usize = 256 * 1024;

/// Where each wanted cell is, and how to read it.
#[derive(Debug, Clone)]
struct Layout {
    /// Column of the timestamp.
    ts: usize,
    /// Columns naming the function (joined with `/`).
    function: Vec<usize>,
    /// Column of the duration.
    duration: Option<usize>,
    /// Fields a row needs (the largest wanted column + 1).
    need: usize,
    /// The function columns are the first ones, in order, and some wanted column follows
    /// them (the Azure 2021 layout `app,func,...`).
    function_first: bool,
    time_pow10: u32,
    duration_pow10: u32,
    timestamp_is_end: bool,
}

/// A plain-CSV row reader (see the module docs).
pub(super) struct FastRows {
    path: String,
    layout: Layout,
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// A read error (reported as such by the stream pass; the pre-scan leaves it to the
    /// generic reader).
    io_error: Option<std::io::Error>,
    /// 1-based number of the next physical line.
    line: u64,
    /// The `csv` crate's line count when the previous record ended (see the module docs).
    pos_line: u64,
    /// A CRLF line ending or a blank line was seen (a split pre-scan then declines: its
    /// second part could not number its lines as the `csv` crate would).
    irregular: bool,
    /// Field bounds of the current line (relative to its start).
    fields: Vec<(usize, usize)>,
    /// The previous row's function cells, raw, separated by commas (no cell holds one).
    last_raw: Vec<u8>,
    /// With [`Layout::function_first`]: the previous row's line up to and including the
    /// comma after its function cells.
    prefix: Vec<u8>,
    last_function: Option<FunctionId>,
    /// The id of `all` when no column names the function.
    all: Option<FunctionId>,
    key: String,
}

/// Powers of ten up to 10^19.
const POW10: [u64; 20] = {
    let mut p = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// A plain number (digits, at most one `.`, no sign, no spaces, at most 18 integer digits)
/// scaled by `10^pow10` (`pow10` at most 18), exactly as [`parse_scaled`] gives it; None for
/// anything else (the caller then asks [`parse_scaled`]).
#[inline]
fn plain_scaled(b: &[u8], pow10: u32) -> Option<i128> {
    let p = pow10 as usize;
    if p > 18 {
        return None;
    }
    let mut i = 0;
    let mut v: u64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        if i == 18 {
            return None;
        }
        v = v * 10 + (b[i] - b'0') as u64;
        i += 1;
    }
    let int_len = i;
    let frac: &[u8] = if i < b.len() {
        if b[i] != b'.' {
            return None;
        }
        &b[i + 1..]
    } else {
        &[]
    };
    if int_len == 0 && frac.is_empty() {
        return None;
    }
    let k = frac.len().min(p);
    let mut f: u64 = 0;
    for &c in &frac[..k] {
        if !c.is_ascii_digit() {
            return None;
        }
        f = f * 10 + (c - b'0') as u64;
    }
    if !frac[k..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let round = frac.get(p).is_some_and(|&d| d >= b'5');
    Some(v as i128 * POW10[p] as i128 + (f * POW10[p - k]) as i128 + round as i128)
}

/// A number cell: `Ok(None)` when empty (after trimming), `Err` when not a number.
#[inline]
fn number(cell: &[u8], pow10: u32) -> Result<Option<i128>, Unplain> {
    if let Some(v) = plain_scaled(cell, pow10) {
        return Ok(Some(v));
    }
    let t = std::str::from_utf8(cell).map_err(|_| Unplain)?.trim();
    if t.is_empty() {
        return Ok(None);
    }
    parse_scaled(t, pow10).map(Some).ok_or(Unplain)
}

impl FastRows {
    /// The fast reader for `path`, positioned after its header, if `cols` and the file's
    /// first line allow it; `index` holds each wanted key's column as the generic reader
    /// found it in the header (timestamp, function columns..., duration?). None: use the
    /// generic reader.
    pub(super) fn open(path: &Path, cols: &Columns, index: &[usize]) -> Option<FastRows> {
        let reader: Box<dyn Read + Send> = crate::io::open_read(path).ok()?;
        let mut r = FastRows::with_reader(path, cols, index, reader)?;
        // The header: plain, on line 1 (the generic reader has checked its columns).
        let (s, e, crlf) = r.next_line().ok()??;
        let head = &r.buf[s..e];
        if head.is_empty() || head.starts_with(b"\xef\xbb\xbf") {
            return None;
        }
        r.pos_line = if crlf { 1 } else { 2 };
        Some(r)
    }

    /// A reader of `reader`'s rows (no header), lines numbered from 1.
    fn with_reader(
        path: &Path,
        cols: &Columns,
        index: &[usize],
        reader: Box<dyn Read + Send>,
    ) -> Option<FastRows> {
        let TimeFormat::Number(unit) = cols.time else {
            return None;
        };
        if cols.memory.is_some() {
            return None;
        }
        let nfun = cols.function.len();
        let layout = Layout {
            ts: index[0],
            function: index[1..1 + nfun].to_vec(),
            duration: cols.duration.as_ref().map(|_| index[1 + nfun]),
            need: index.iter().max().copied().unwrap_or(0) + 1,
            function_first: nfun > 0
                && index[1..1 + nfun].iter().enumerate().all(|(i, &c)| i == c)
                && index.iter().max().is_some_and(|&m| m >= nfun),
            time_pow10: unit.pow10(),
            duration_pow10: cols.duration_unit.pow10(),
            timestamp_is_end: cols.timestamp_is_end,
        };
        Some(FastRows {
            path: path.display().to_string(),
            layout,
            reader,
            buf: vec![0; BUF],
            start: 0,
            end: 0,
            eof: false,
            io_error: None,
            line: 1,
            pos_line: 1,
            irregular: false,
            fields: Vec::new(),
            last_raw: Vec::new(),
            prefix: Vec::new(),
            last_function: None,
            all: None,
            key: String::new(),
        })
    }

    /// The next physical line as `buf[s..e]` (without its line ending) and whether it ended
    /// in CRLF; None at the end of the file. Unplain for a quote or a lone carriage return.
    #[inline]
    fn next_line(&mut self) -> Result<Option<(usize, usize, bool)>, Unplain> {
        loop {
            let hay = &self.buf[self.start..self.end];
            if let Some(p) = memchr::memchr3(b'\n', b'"', b'\r', hay) {
                let at = self.start + p;
                match self.buf[at] {
                    b'\n' => {
                        let s = self.start;
                        self.start = at + 1;
                        self.line += 1;
                        return Ok(Some((s, at, false)));
                    }
                    b'\r' if at + 1 < self.end => {
                        if self.buf[at + 1] != b'\n' {
                            return Err(Unplain);
                        }
                        let s = self.start;
                        self.start = at + 2;
                        self.line += 1;
                        return Ok(Some((s, at, true)));
                    }
                    b'\r' if self.eof => return Err(Unplain),
                    b'\r' => {}
                    _ => return Err(Unplain),
                }
            } else if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let s = self.start;
                self.start = self.end;
                self.line += 1;
                return Ok(Some((s, self.end, false)));
            }
            self.refill()?;
        }
    }

    /// Moves the unread bytes to the front and reads more (growing the buffer for a line
    /// longer than it).
    fn refill(&mut self) -> Result<(), Unplain> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.io_error = Some(e);
                    return Err(Unplain);
                }
            }
        }
    }

    /// The next row, or Unplain (see the module docs).
    fn row(&mut self, names: &mut Names, grow: bool) -> Option<Result<Row, Unplain>> {
        let (s, e, crlf) = loop {
            match self.next_line() {
                Err(u) => return Some(Err(u)),
                Ok(None) => return None,
                // Blank lines are skipped, as the csv crate does.
                Ok(Some((s, e, _))) if s == e => {
                    self.irregular = true;
                    continue;
                }
                Ok(Some(l)) => break l,
            }
        };
        self.irregular |= crlf;
        let line = self.pos_line;
        self.pos_line = self.line - u64::from(crlf);
        Some(self.parse(s, e, line, names, grow))
    }

    #[inline]
    fn parse(
        &mut self,
        s: usize,
        e: usize,
        line: u64,
        names: &mut Names,
        grow: bool,
    ) -> Result<Row, Unplain> {
        let lay = &self.layout;
        let text = &self.buf[s..e];
        // Split the fields a row needs; the rest of the line must be valid UTF-8 (the csv
        // crate checks every field).
        // The previous row's function cells lead this line too (same bytes up to the comma
        // after them): their bounds and id are the previous row's.
        let k = lay.function.len();
        let reuse = lay.function_first
            && self.last_function.is_some()
            && !self.prefix.is_empty()
            && text.starts_with(&self.prefix);
        let mut at = if reuse {
            self.fields.truncate(k);
            self.prefix.len()
        } else {
            self.fields.clear();
            0
        };
        while self.fields.len() < lay.need {
            match memchr::memchr(b',', &text[at..]) {
                Some(p) => {
                    self.fields.push((at, at + p));
                    at += p + 1;
                }
                None => {
                    self.fields.push((at, text.len()));
                    at = text.len() + 1;
                    break;
                }
            }
        }
        if self.fields.len() < lay.need {
            return Err(Unplain);
        }
        if at < text.len() && std::str::from_utf8(&text[at..]).is_err() {
            return Err(Unplain);
        }
        let cell = |i: usize| {
            let (a, b) = self.fields[i];
            &text[a..b]
        };
        // Columns read by nobody are still checked for UTF-8.
        for i in 0..lay.need {
            if i != lay.ts
                && Some(i) != lay.duration
                && !lay.function.contains(&i)
                && std::str::from_utf8(cell(i)).is_err()
            {
                return Err(Unplain);
            }
        }
        let duration_ns = match lay.duration {
            Some(c) => match number(cell(c), lay.duration_pow10)? {
                None => None,
                Some(v) if v < 0 || v > MAX_DURATION_NS as i128 => return Err(Unplain),
                Some(v) => Some(v as u64),
            },
            None => None,
        };
        let mut t = number(cell(lay.ts), lay.time_pow10)?.ok_or(Unplain)?;
        if lay.timestamp_is_end {
            t = t.saturating_sub(duration_ns.ok_or(Unplain)? as i128);
        }
        // Function.
        let function = if reuse {
            self.last_function.expect("checked")
        } else if lay.function.is_empty() {
            match self.all {
                Some(id) => id,
                None => *self.all.insert(names.id_or_insert("all")),
            }
        } else {
            // Byte-equal to the previous row's cells (joined with commas, which no cell
            // holds): the same function.
            let same = self.last_function.is_some() && {
                let mut pos = 0;
                lay.function.iter().enumerate().all(|(k, &c)| {
                    let f = cell(c);
                    let sep = usize::from(k > 0);
                    let ok = (k == 0 || self.last_raw.get(pos) == Some(&b','))
                        && self.last_raw.get(pos + sep..pos + sep + f.len()) == Some(f);
                    pos += sep + f.len();
                    ok
                }) && pos == self.last_raw.len()
            };
            if same {
                self.last_function.expect("checked")
            } else {
                self.key.clear();
                self.last_raw.clear();
                for (k, &c) in lay.function.iter().enumerate() {
                    let raw = cell(c);
                    let f = std::str::from_utf8(raw).map_err(|_| Unplain)?.trim();
                    if f.is_empty() {
                        return Err(Unplain);
                    }
                    if k > 0 {
                        self.key.push('/');
                        self.last_raw.push(b',');
                    }
                    self.key.push_str(f);
                    self.last_raw.extend_from_slice(raw);
                }
                let id = if grow {
                    names.id_or_insert(&self.key)
                } else {
                    names.get(&self.key).ok_or(Unplain)?
                };
                self.last_function = Some(id);
                if lay.function_first {
                    // The cells and the comma after them (a row needs a field after them).
                    self.prefix.clear();
                    self.prefix
                        .extend_from_slice(&text[..self.fields[k - 1].1 + 1]);
                }
                id
            }
        };
        Ok(Row {
            line,
            t,
            function,
            duration_ns,
            memory_bytes: None,
        })
    }
}

/// Files at least this large are pre-scanned in two halves on two threads.
pub(super) const SPLIT_MIN_BYTES: u64 = 8 << 20;

/// The pre-scan of a plain, uncompressed regular file of at least `min_bytes`, in two halves
/// read on two threads and merged: the same [`Prescan`] and function table as one pass
/// (`names` holds the functions known before; the result has them first). None when it
/// cannot be sure of that, and the caller reads the file in one pass: a gzip or non-regular
/// file, a CRLF line or a blank line (line numbers), `--unsorted reject`, any error, or a
/// second half whose earliest arrival is earlier than the first half's latest while the first
/// half is in order (the first out-of-order row would need the first half's maximum).
///
/// Merging: rows add up; the earliest and latest arrivals are the halves' extremes; a span
/// beyond the limit declines (one pass reports it); the second half's lines are offset by
/// the first half's; the function table is the first half's, then the second half's new
/// names in their order of first appearance; the sort window is the largest of the halves'
/// windows and the first half's latest arrival minus the second half's earliest (a row of
/// the second half is behind the running maximum by the larger of what it is behind in its
/// half and behind the first half's maximum).
pub(super) fn prescan_split(
    path: &Path,
    cols: &Columns,
    index: &[usize],
    names: &Names,
    format: &super::RowFormat,
    opts: &super::RowOptions,
    min_bytes: u64,
) -> Option<(Prescan, Names)> {
    use std::io::{Seek, SeekFrom};
    use std::os::unix::fs::FileExt;
    if opts.unsorted != super::Unsorted::Sort || crate::io::is_stdin(path) {
        return None;
    }
    // Regular files only, checked before opening: opening a FIFO would wait for a writer
    // (its content is read once, through `crate::io`, by the one-pass reader).
    let meta = std::fs::metadata(path).ok()?;
    let size = meta.len();
    if !meta.is_file() || size < min_bytes.max(2) {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 2];
    file.read_exact_at(&mut head, 0).ok()?;
    if head == [0x1f, 0x8b] {
        return None;
    }
    // The first line end at or after the middle.
    let mut at = size / 2;
    let mut window = vec![0u8; 64 * 1024];
    let cut = loop {
        let n = file.read_at(&mut window, at).ok()?;
        if n == 0 {
            return None;
        }
        if let Some(p) = memchr::memchr(b'\n', &window[..n]) {
            break at + p as u64 + 1;
        }
        at += n as u64;
    };
    if cut >= size {
        return None;
    }
    let name = path.display().to_string();
    let mut second = std::fs::File::open(path).ok()?;
    second.seek(SeekFrom::Start(cut)).ok()?;
    let first_reader: Box<dyn Read + Send> = Box::new(file.take(cut));
    let mut a = FastRows::with_reader(path, cols, index, first_reader)?;
    let mut b = FastRows::with_reader(path, cols, index, Box::new(second))?;
    let (s, e, crlf) = a.next_line().ok()??;
    if s == e || crlf || a.buf[s..e].starts_with(b"\xef\xbb\xbf") {
        return None;
    }
    a.pos_line = 2;
    let mut a_names = names.clone();
    let (a_scan, b_scan) = std::thread::scope(|sc| {
        let other = sc.spawn(|| {
            let mut b_names = Names::default();
            let r = super::prescan(&mut b, &mut b_names, &name, format, opts);
            (r, b_names)
        });
        let a_scan = super::prescan(&mut a, &mut a_names, &name, format, opts);
        (a_scan, other.join())
    });
    let (b_scan, b_names) = b_scan.ok()?;
    let (a_scan, b_scan) = (a_scan.ok()?, b_scan.ok()?);
    if a.irregular || b.irregular {
        return None;
    }
    let lines_a = a.line - 1;
    let mut scan = Prescan {
        rows: a_scan.rows + b_scan.rows,
        min_t: match (a_scan.min_t, b_scan.min_t) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        },
        max_t: a_scan.max_t.max(b_scan.max_t),
        first_unsorted: a_scan.first_unsorted,
        window_ns: a_scan.window_ns.max(b_scan.window_ns),
    };
    if let (Some(lo), Some(hi)) = (scan.min_t, scan.max_t) {
        if hi.saturating_sub(lo) > crate::limits::MAX_SPAN_NS as i128 {
            return None;
        }
    }
    if let (Some(a_max), Some(b_min)) = (a_scan.max_t, b_scan.min_t) {
        if a_scan.first_unsorted.is_none() && b_min < a_max {
            return None;
        }
        scan.window_ns = scan.window_ns.max(a_max - b_min);
    }
    if scan.first_unsorted.is_none() {
        scan.first_unsorted = b_scan
            .first_unsorted
            .map(|(line, t, m)| (line + lines_a, t, m));
    }
    for f in b_names.into_list() {
        a_names.id_or_insert(&f);
    }
    Some((scan, a_names))
}

impl RowSource for FastRows {
    fn next_row(&mut self, names: &mut Names, grow: bool) -> Option<Result<Row, TraceError>> {
        let line = self.line;
        Some(self.row(names, grow)?.map_err(|Unplain| match self.io_error.take() {
            Some(e) => TraceError::io(&self.path, e),
            None => TraceError::format(
                &self.path,
                format!("line {line}: the file changed while it was read (it is read twice: a pre-scan, then the stream)"),
            ),
        }))
    }

    fn timestamp_column(&self) -> u64 {
        self.layout.ts as u64 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_match_parse_scaled() {
        let cases = [
            "0",
            "1",
            "12",
            "1.5",
            "0.0005",
            ".5",
            "5.",
            "1700000000.123456789",
            "1700000000.1234567895",
            "999999999999999999",
            "9999999999999999999",
            "123456789012345678.9",
            "0.000000000",
            "3.14159265358979",
            "00012.000",
        ];
        for c in cases {
            for p in [0, 3, 6, 9] {
                assert_eq!(
                    number(c.as_bytes(), p).ok().flatten(),
                    parse_scaled(c, p),
                    "{c} at 10^{p}"
                );
            }
        }
        for c in [" 1.5", "1.5 ", "-2.25", "+3", "1e3", "1E-2"] {
            assert_eq!(plain_scaled(c.as_bytes(), 9), None, "{c}");
            assert_eq!(number(c.as_bytes(), 9).unwrap(), parse_scaled(c, 9), "{c}");
        }
        assert_eq!(number(b" ", 9).unwrap(), None);
        assert!(number(b"abc", 9).is_err());
        assert!(number(b".", 9).is_err());
    }
}
