//! Opening files: plain or gzip (detected by the magic bytes `1f 8b`, whatever the name).

use crate::TraceError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// A buffered reader over a file, decompressing gzip transparently.
pub fn open_read(path: &Path) -> Result<Box<dyn BufRead + Send>, TraceError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| TraceError::io(&name, e))?;
    let mut buf = BufReader::with_capacity(1 << 16, file);
    let head = buf.fill_buf().map_err(|e| TraceError::io(&name, e))?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(buf),
        )))
    } else {
        Ok(Box::new(buf))
    }
}

/// Where a trace is written: a file (gzip-compressed when its name ends in `.gz`) or `-` for
/// standard output. Call [`Output::finish`] to flush and close the gzip stream.
pub enum Output {
    /// Plain.
    Plain(BufWriter<Box<dyn Write + Send>>),
    /// Gzip.
    Gzip(flate2::write::GzEncoder<BufWriter<Box<dyn Write + Send>>>),
}

impl Output {
    /// Creates the file.
    pub fn create(path: &Path) -> Result<Self, TraceError> {
        let name = path.display().to_string();
        let inner: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(File::create(path).map_err(|e| TraceError::io(&name, e))?)
        };
        let w = BufWriter::with_capacity(1 << 16, inner);
        Ok(if name.ends_with(".gz") {
            Output::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::default(),
            ))
        } else {
            Output::Plain(w)
        })
    }

    /// Flushes everything (and writes the gzip trailer).
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Output::Plain(mut w) => w.flush(),
            Output::Gzip(g) => g.finish()?.flush(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Plain(w) => w.write(buf),
            Output::Gzip(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Plain(w) => w.flush(),
            Output::Gzip(w) => w.flush(),
        }
    }
}

/// Reads the first line of a file (after decompression), without the line ending. Empty
/// string for an empty file.
pub fn first_line(path: &Path) -> Result<String, TraceError> {
    let name = path.display().to_string();
    let mut r = open_read(path)?;
    let mut line = Vec::new();
    // Read at most 1 MiB: a header is never longer; the 2019 files' header is ~8 KB.
    (&mut r)
        .take(1 << 20)
        .read_until(b'\n', &mut line)
        .map_err(|e| TraceError::io(&name, e))?;
    let mut s = String::from_utf8_lossy(&line).into_owned();
    while s.ends_with('\n') || s.ends_with('\r') {
        s.pop();
    }
    Ok(s.trim_start_matches('\u{feff}').to_string())
}
