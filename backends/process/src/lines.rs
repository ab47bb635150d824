//! Reading protocol lines from a child's pipe with a timeout, without a helper thread.
//!
//! `poll(2)` on the pipe waits for data until the deadline; what is read is buffered, so a
//! response split over several reads, or two lines in one read, both work.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::ChildStdout;
use std::time::{Duration, Instant};

/// Why no line came.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Nothing complete arrived before the timeout.
    #[error("no complete line before the timeout")]
    Timeout,
    /// The writer closed its end (the child exited).
    #[error("end of output{}", if partial.is_empty() { String::new() } else { format!(" after a partial line {partial:?}") })]
    Eof {
        /// Whatever came after the last newline.
        partial: String,
    },
    /// Reading failed.
    #[error("reading the unit's output failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A buffered line reader over a child's stdout with per-call timeouts.
#[derive(Debug)]
pub struct LineReader {
    pipe: ChildStdout,
    buf: Vec<u8>,
}

impl LineReader {
    /// Wraps a child's stdout.
    pub fn new(pipe: ChildStdout) -> Self {
        LineReader {
            pipe,
            buf: Vec::with_capacity(256),
        }
    }

    /// The next line (with its newline), waiting at most `timeout`.
    pub fn read_line(&mut self, timeout: Duration) -> Result<String, LineError> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let rest = self.buf.split_off(pos + 1);
                let line = std::mem::replace(&mut self.buf, rest);
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LineError::Timeout);
            }
            let mut pfd = libc::pollfd {
                fd: self.pipe.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // Round up so that a sub-millisecond remainder still waits.
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            if n == 0 {
                continue; // the loop re-checks the deadline
            }
            let mut chunk = [0u8; 4096];
            match self.pipe.read(&mut chunk) {
                Ok(0) => {
                    return Err(LineError::Eof {
                        partial: String::from_utf8_lossy(&std::mem::take(&mut self.buf))
                            .into_owned(),
                    })
                }
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
