//! The static native catalogue runner, embedded.
//!
//! `runner.c` (beside this crate's manifest) implements `noop`, `cpu` and `alloc` as a small
//! static executable; `build.rs` compiles it with `cc -O2 -static`. The `process` backend
//! fork+execs it per unit, the `container` backend copies it into a FROM-scratch image.
//!
//! # Protocol
//! Line based over the unit's stdin and stdout:
//!
//! | direction | line |
//! |---|---|
//! | runner -> harness | `ready <pid>` once, first thing in `main` |
//! | harness -> runner | `<function> <size> <seed>` |
//! | runner -> harness | `ok <value> <guest_ns>` or `err <message>` |
//! | harness -> runner | `quit` (or EOF): exit 0 |
//!
//! A user image for the container backend speaks the same protocol on stdin/stdout.
//!
//! Two fault modes let the backends test their error paths with the real runner:
//! `unitlab-runner --exit <code>` exits with `<code>` before `ready`, and
//! `unitlab-runner --hang` never prints `ready` and waits forever.

#![warn(missing_docs)]

use std::io;
use std::path::{Path, PathBuf};

use unitlab_backend::{BackendError, Request, Response};

/// The runner executable's bytes.
pub const RUNNER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/unitlab-runner"));

/// Writes the runner into `dir` (mode 0755) and returns its path. Idempotent.
pub fn install(dir: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let path = dir.join("unitlab-runner");
    let current = std::fs::read(&path).ok();
    if current.as_deref() != Some(RUNNER) {
        // A name of its own per call: concurrent installs (threads of one process, or several
        // processes) must not rename each other's half-written file.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".unitlab-runner.{}.{n}", std::process::id()));
        std::fs::write(&tmp, RUNNER)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

/// Spawns `cmd`, retrying while the kernel says the executable is busy (ETXTBSY).
///
/// A file just written by this process can be briefly "busy" because another thread forked
/// while the file was still open for writing: the child holds the descriptor until it execs.
/// The retry waits that window out (a few milliseconds at most) instead of failing the unit.
pub fn spawn(cmd: &mut std::process::Command) -> io::Result<std::process::Child> {
    let mut delay = std::time::Duration::from_micros(200);
    for _ in 0..20 {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc_etxtbsy()) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
    cmd.spawn()
}

/// ETXTBSY on Linux (the only platform the runner is built for).
const fn libc_etxtbsy() -> i32 {
    26
}

/// Formats a request line (with its newline).
pub fn request_line(function: &str, req: &Request) -> String {
    format!("{function} {} {}\n", req.size, req.seed)
}

/// Parses the `ready <pid>` line; returns the pid.
pub fn parse_ready(line: &str) -> Result<u32, BackendError> {
    line.trim_end()
        .strip_prefix("ready ")
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| BackendError::Protocol {
            message: format!("expected `ready <pid>` from the runner, got {line:?}"),
        })
}

/// Parses a response line.
pub fn parse_response(line: &str) -> Result<Response, BackendError> {
    let line = line.trim_end();
    if let Some(msg) = line.strip_prefix("err ") {
        return Err(BackendError::Guest {
            message: msg.to_string(),
        });
    }
    let mut parts = line.strip_prefix("ok ").map(|r| r.split(' '));
    let parsed = parts.as_mut().and_then(|p| {
        let value = p.next()?.parse().ok()?;
        let guest = p.next()?.parse().ok()?;
        Some(Response {
            value,
            guest_nanos: Some(guest),
        })
    });
    parsed.ok_or_else(|| BackendError::Protocol {
        message: format!("expected `ok <value> <guest_ns>` or `err <message>`, got {line:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    use unitlab_backend::Function;

    #[test]
    fn runner_answers_the_catalogue() {
        let dir = std::env::temp_dir().join(format!("unitlab-runner-test-{}", std::process::id()));
        let exe = install(&dir).unwrap();
        let mut child = spawn(
            Command::new(&exe)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        )
        .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(parse_ready(&line).unwrap(), child.id());
        for (f, size) in [
            (Function::Noop, 0),
            (Function::Cpu, 3),
            (Function::Alloc, 2),
        ] {
            let req = Request { size, seed: 11 };
            stdin
                .write_all(request_line(f.name(), &req).as_bytes())
                .unwrap();
            line.clear();
            out.read_line(&mut line).unwrap();
            let resp = parse_response(&line).unwrap();
            assert_eq!(resp.value, f.expected(size, 11), "{f}");
        }
        stdin.write_all(b"nope 1 1\n").unwrap();
        line.clear();
        out.read_line(&mut line).unwrap();
        assert!(matches!(
            parse_response(&line),
            Err(BackendError::Guest { .. })
        ));
        drop(stdin);
        assert!(child.wait().unwrap().success());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fault_modes() {
        let dir = std::env::temp_dir().join(format!("unitlab-runner-fault-{}", std::process::id()));
        let exe = install(&dir).unwrap();
        let status = spawn(Command::new(&exe).args(["--exit", "3"]))
            .unwrap()
            .wait()
            .unwrap();
        assert_eq!(status.code(), Some(3));
        let mut hang = spawn(Command::new(&exe).arg("--hang").stdout(Stdio::piped())).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(hang.try_wait().unwrap().is_none(), "still running");
        hang.kill().unwrap();
        hang.wait().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn protocol_errors_are_named() {
        assert!(parse_ready("hello").is_err());
        let e = parse_response("garbage").unwrap_err();
        assert!(e.to_string().contains("expected `ok"), "{e}");
    }
}
