//! Opening files: plain or gzip (detected by the magic bytes `1f 8b`, whatever the name).
//!
//! Loaders read a file more than once (its first line to recognise the format, then a
//! pre-scan and a streaming pass). A regular file is simply opened again. Anything else (a
//! FIFO, `/dev/stdin`, a pipe given as `-`) can be read only once, so it is never reopened:
//! the first open copies it, once, into an anonymous temporary file (unlinked from the start,
//! so nothing is left behind even on SIGKILL), and every later open of the same path reads
//! that copy. Memory stays bounded (a 64 KiB buffer); disk use is the input's size.

use crate::TraceError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Non-regular inputs already copied, by the path they were given as.
static SPOOLED: Mutex<Vec<(PathBuf, Arc<File>)>> = Mutex::new(Vec::new());

/// A reader over a shared file with its own position (`pread`), so several readers of one
/// spooled copy never disturb each other.
struct AtReader {
    file: Arc<File>,
    pos: u64,
}

impl Read for AtReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// True for `-` (standard input).
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The raw bytes of `path`: the file itself when it is regular, else its spooled copy.
fn open_raw(path: &Path) -> Result<Box<dyn Read + Send>, TraceError> {
    let name = path.display().to_string();
    let regular = !is_stdin(path)
        && std::fs::metadata(path)
            .map_err(|e| TraceError::io(&name, e))?
            .is_file();
    if regular {
        return Ok(Box::new(
            File::open(path).map_err(|e| TraceError::io(&name, e))?,
        ));
    }
    let mut spooled = SPOOLED.lock().unwrap_or_else(|e| e.into_inner());
    let file = match spooled.iter().find(|(p, _)| p == path) {
        Some((_, f)) => f.clone(),
        None => {
            let mut copy = tempfile::tempfile().map_err(|e| {
                TraceError::io(
                    &format!("{name} (a temporary copy of this non-regular file)"),
                    e,
                )
            })?;
            let copied = if is_stdin(path) {
                std::io::copy(&mut std::io::stdin().lock(), &mut copy)
            } else {
                let mut src = File::open(path).map_err(|e| TraceError::io(&name, e))?;
                std::io::copy(&mut src, &mut copy)
            };
            copied.map_err(|e| TraceError::io(&name, e))?;
            let f = Arc::new(copy);
            spooled.push((path.to_path_buf(), f.clone()));
            f
        }
    };
    Ok(Box::new(AtReader { file, pos: 0 }))
}

/// A buffered reader over a file (or `-` for standard input), decompressing gzip
/// transparently. Non-regular files are read once (see the module docs).
pub fn open_read(path: &Path) -> Result<Box<dyn BufRead + Send>, TraceError> {
    let name = path.display().to_string();
    let file = open_raw(path)?;
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
