//! The Deno host process and the JSON-lines pipe to it (protocol: `js/host.js`).
//!
//! One writer (a mutex around the child's stdin) and one reader thread that dispatches every
//! reply line to the caller waiting for its id (a one-shot channel per request). A second
//! thread keeps the tail of the host's stderr, which explains a crash (e.g. V8's "Fatal
//! JavaScript out of memory"). When the host's stdout reaches EOF, every waiting caller gets
//! [`HostError::Died`] and later requests fail at once; the owner then starts a new host.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The host script, written to a temporary directory at spawn time.
pub const HOST_JS: &str = include_str!("../js/host.js");

/// How much of the host's stderr is kept for error messages.
const STDERR_TAIL: usize = 8 * 1024;

/// Why a request got no normal reply.
#[derive(Debug, Clone)]
pub enum HostError {
    /// The host process exited (or closed its stdout).
    Died {
        /// Exit status, when known.
        status: Option<String>,
        /// The last lines of its stderr (colours off).
        stderr: String,
    },
    /// The host did not answer in time; it is killed, since its state is unknown.
    Timeout(Duration),
    /// The host answered with `ok: false`.
    Reply {
        /// `guest`, `deadline`, `start`, `dead`, `request`.
        kind: String,
        /// The host's message.
        message: String,
    },
    /// Spawning, writing or a malformed reply.
    Io(String),
    /// The host's resident memory grew past a unit's memory limit during a request; the host
    /// was killed (the reason).
    OverLimit(String),
    /// The request was not sent: the host had died before it (the reason).
    Gone(Box<HostError>),
}

impl HostError {
    /// True when the host crashed because a V8 heap reached its limit.
    pub fn is_oom(&self) -> bool {
        match self {
            HostError::Died { stderr, .. } => {
                stderr.contains("out of memory") || stderr.contains("heap limit")
            }
            _ => false,
        }
    }

    /// One-line description.
    pub fn describe(&self) -> String {
        match self {
            HostError::Died { status, stderr } => {
                let last: Vec<&str> = stderr
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("=="))
                    .collect();
                let reason = if self.is_oom() {
                    "Fatal JavaScript out of memory: Reached heap limit".to_string()
                } else {
                    last.iter()
                        .rev()
                        .take(3)
                        .rev()
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" | ")
                };
                format!(
                    "the Deno host process died ({}){}",
                    status.as_deref().unwrap_or("exit status unknown"),
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {reason}")
                    }
                )
            }
            HostError::Timeout(d) => format!(
                "the Deno host did not answer within {d:?}; it was killed and the next unit \
                 starts a new one"
            ),
            HostError::Reply { kind, message } => format!("{kind}: {message}"),
            HostError::Io(m) => m.clone(),
            HostError::OverLimit(m) => m.clone(),
            HostError::Gone(e) => {
                format!("the unit's host died before this request: {}", e.describe())
            }
        }
    }
}

type Pending = HashMap<u64, Sender<Result<Value, HostError>>>;

struct Shared {
    /// Waiting callers by request id; `None` once the host is dead (with the reason).
    pending: Mutex<Result<Pending, HostError>>,
    stderr: Mutex<VecDeque<u8>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running Deno host.
pub struct Host {
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    shared: Arc<Shared>,
    next_id: std::sync::atomic::AtomicU64,
    /// Set by [`Host::kill`], before its stdout's EOF is seen.
    killed: std::sync::atomic::AtomicBool,
    /// The host's pid (for PSS/RSS from procfs).
    pub pid: u32,
    /// Host PSS right after start, with zero workers (bytes), when procfs has it.
    pub baseline_pss: Option<u64>,
    /// Time from spawn to the host's ready line.
    pub boot: Duration,
}

/// The prefix of the temporary directory holding `host.js` while a host boots:
/// `unitlab-deno-<pid>-` (the pid of the process that spawned it).
const TEMP_PREFIX: &str = "unitlab-deno-";

/// Removes `unitlab-deno-<pid>-*` directories in the temporary folder whose process no longer
/// runs (left by a process killed while a host was booting).
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Host {
    /// Starts `deno run host.js` and waits for its ready line.
    pub fn spawn(
        deno: &Path,
        heap_limit_mib: Option<u64>,
        allow_read: bool,
        boot_timeout: Duration,
    ) -> Result<Host, HostError> {
        // The script's directory lives only while the host boots: deno has read it once the
        // ready line comes, and it is removed then, so a run killed later leaves nothing here.
        remove_stale_dirs();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|e| HostError::Io(format!("creating a temporary directory: {e}")))?;
        let script: PathBuf = dir.path().join("host.js");
        std::fs::write(&script, HOST_JS)
            .map_err(|e| HostError::Io(format!("writing {}: {e}", script.display())))?;
        let mut cmd = Command::new(deno);
        cmd.args(["run", "--quiet", "--no-prompt", "--no-config", "--no-lock"]);
        if allow_read {
            cmd.arg("--allow-read");
        }
        if let Some(mib) = heap_limit_mib {
            cmd.arg(format!("--v8-flags=--max-old-space-size={mib}"));
        }
        cmd.arg(&script)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let t0 = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| HostError::Io(format!("starting {}: {e}", deno.display())))?;
        let pid = child.id();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");

        let shared = Arc::new(Shared {
            pending: Mutex::new(Ok(HashMap::new())),
            stderr: Mutex::new(VecDeque::new()),
        });
        // The ready line has id 0.
        let (tx, rx) = mpsc::channel();
        if let Ok(p) = &mut *lock(&shared.pending) {
            p.insert(0, tx);
        }

        let err_shared = Arc::clone(&shared);
        let err_thread = std::thread::Builder::new()
            .name(format!("deno-host-{pid}-stderr"))
            .spawn(move || stderr_loop(stderr, &err_shared))
            .map_err(|e| HostError::Io(format!("spawning a thread: {e}")))?;
        let out_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("deno-host-{pid}-stdout"))
            .spawn(move || stdout_loop(stdout, &out_shared, err_thread))
            .map_err(|e| HostError::Io(format!("spawning a thread: {e}")))?;

        let mut host = Host {
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            shared,
            next_id: std::sync::atomic::AtomicU64::new(1),
            killed: std::sync::atomic::AtomicBool::new(false),
            pid,
            baseline_pss: None,
            boot: Duration::ZERO,
        };
        let ready = host.wait(0, &rx, boot_timeout);
        drop(dir);
        let ready = ready.map_err(|e| host.with_status(e))?;
        if ready.get("ready").and_then(Value::as_bool) != Some(true) {
            return Err(HostError::Io(format!(
                "unexpected first line from host: {ready}"
            )));
        }
        host.boot = t0.elapsed();
        host.baseline_pss = unitlab_backend::pid_memory(pid).map(|(pss, _)| pss);
        Ok(host)
    }

    /// True once the host has exited or was killed.
    pub fn is_dead(&self) -> bool {
        self.killed.load(std::sync::atomic::Ordering::Relaxed)
            || lock(&self.shared.pending).is_err()
    }

    /// Sends `body` (an object; `id` is added) and waits up to `timeout` for the reply.
    /// Returns the reply and the round trip measured here.
    pub fn request(&self, body: Value, timeout: Duration) -> Result<(Value, Duration), HostError> {
        self.request_watched(body, timeout, None)
    }

    /// [`Host::request`], calling `watch` every [`WATCH_POLL`] while the reply is outstanding:
    /// when it returns a reason, the host is killed and the request fails with
    /// [`HostError::OverLimit`].
    pub fn request_watched(
        &self,
        mut body: Value,
        timeout: Duration,
        watch: Option<&mut dyn FnMut() -> Option<String>>,
    ) -> Result<(Value, Duration), HostError> {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        body["id"] = json!(id);
        let mut line = serde_json::to_vec(&body).map_err(|e| HostError::Io(e.to_string()))?;
        line.push(b'\n');
        let (tx, rx) = mpsc::channel();
        match &mut *lock(&self.shared.pending) {
            Ok(p) => {
                p.insert(id, tx);
            }
            Err(e) => return Err(HostError::Gone(Box::new(e.clone()))),
        }
        let t0 = Instant::now();
        {
            let mut stdin = lock(&self.stdin);
            let written = match stdin.as_mut() {
                Some(s) => s.write_all(&line).and_then(|()| s.flush()),
                None => Err(std::io::Error::other("stdin closed")),
            };
            if let Err(e) = written {
                // The host is going away: its stdout EOF will answer us with the reason, unless
                // it already did; wait a little for that.
                drop(stdin);
                return match rx.recv_timeout(Duration::from_secs(2)) {
                    Ok(r) => r.map(|v| (v, t0.elapsed())),
                    Err(_) => Err(HostError::Io(format!("writing to the Deno host: {e}"))),
                };
            }
        }
        let reply = self.wait_watched(id, &rx, timeout, watch)?;
        Ok((reply, t0.elapsed()))
    }

    /// Sends without waiting for the reply (used by drop).
    pub fn notify(&self, mut body: Value) {
        body["id"] = json!(0);
        if let Ok(mut line) = serde_json::to_vec(&body) {
            line.push(b'\n');
            if let Some(s) = lock(&self.stdin).as_mut() {
                let _ = s.write_all(&line).and_then(|()| s.flush());
            }
        }
    }

    fn wait(
        &self,
        id: u64,
        rx: &Receiver<Result<Value, HostError>>,
        timeout: Duration,
    ) -> Result<Value, HostError> {
        self.wait_watched(id, rx, timeout, None)
    }

    fn wait_watched(
        &self,
        id: u64,
        rx: &Receiver<Result<Value, HostError>>,
        timeout: Duration,
        mut watch: Option<&mut dyn FnMut() -> Option<String>>,
    ) -> Result<Value, HostError> {
        let t0 = Instant::now();
        let give_up = |e: HostError| {
            if let Ok(p) = &mut *lock(&self.shared.pending) {
                p.remove(&id);
            }
            self.kill();
            Err(e)
        };
        let reply = loop {
            let left = timeout.saturating_sub(t0.elapsed());
            let slice = match watch {
                Some(_) => left.min(WATCH_POLL),
                None => left,
            };
            match rx.recv_timeout(slice) {
                Ok(r) => break r?,
                Err(RecvTimeoutError::Timeout) => {
                    if t0.elapsed() >= timeout {
                        return give_up(HostError::Timeout(timeout));
                    }
                    if let Some(reason) = watch.as_mut().and_then(|w| w()) {
                        return give_up(HostError::OverLimit(reason));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(HostError::Io("the host reader thread stopped".into()))
                }
            }
        };
        if reply.get("ok").and_then(Value::as_bool) == Some(true) {
            Ok(reply)
        } else {
            Err(HostError::Reply {
                kind: reply
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("protocol")
                    .to_string(),
                message: reply
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no message")
                    .to_string(),
            })
        }
    }

    /// Kills the host process (its stdout EOF then fails every waiting request).
    pub fn kill(&self) {
        self.killed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = lock(&self.child).kill();
    }

    /// Waits until the host has no thread named `name` (a worker's thread, see the `start`
    /// reply in `js/host.js`), polling procfs, for at most `limit`. True when the thread is
    /// gone, or when procfs cannot tell or the host died; false when it outlived `limit`.
    pub fn wait_thread_gone(&self, name: &str, limit: Duration) -> bool {
        let t0 = Instant::now();
        loop {
            if self.is_dead() || has_thread(self.pid, name) != Some(true) {
                return true;
            }
            if t0.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(THREAD_POLL);
        }
    }
}

/// How often a watched request ([`Host::request_watched`]) calls its watch.
pub const WATCH_POLL: Duration = Duration::from_millis(1);

/// The resident memory of process `pid` in bytes, from `/proc/<pid>/statm` (cheap: a few
/// microseconds). `None` where procfs cannot tell.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok().filter(|&p| p > 0)?)
}

/// How often [`Host::wait_thread_gone`] looks at procfs.
const THREAD_POLL: Duration = Duration::from_micros(200);

/// Whether process `pid` has a thread named `name`, from `/proc/<pid>/task/*/comm` (which
/// keeps the first 15 bytes of a name). `None` when procfs cannot be read.
pub fn has_thread(pid: u32, name: &str) -> Option<bool> {
    let want = &name.as_bytes()[..name.len().min(15)];
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        if let Ok(comm) = std::fs::read(task.path().join("comm")) {
            if comm.strip_suffix(b"\n").unwrap_or(&comm) == want {
                return Some(true);
            }
        }
    }
    Some(false)
}

impl Drop for Host {
    fn drop(&mut self) {
        // Closing stdin ends the host's read loop; kill in case it is stuck.
        lock(&self.stdin).take();
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn stderr_loop(mut stderr: impl Read, shared: &Shared) {
    let mut buf = [0u8; 4096];
    loop {
        match stderr.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut tail = lock(&shared.stderr);
                tail.extend(&buf[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..excess);
            }
        }
    }
}

/// The longest reply line read from the host: 64 MiB. A longer line (a runaway
/// `console.log` from a worker) is skipped, not held.
pub const MAX_REPLY_LINE: usize = 64 << 20;

/// A reply line from the host: `(id, the whole object)`, or None for a line that is not one
/// (a stray `console.log` from a worker, broken JSON, an object without a numeric `id`).
pub fn parse_reply(line: &[u8]) -> Option<(u64, Value)> {
    let value = serde_json::from_slice::<Value>(line).ok()?;
    let id = value.get("id").and_then(Value::as_u64)?;
    Some((id, value))
}

/// Reads the next line into `line` (cleared first), at most [`MAX_REPLY_LINE`] bytes of it;
/// the rest of a longer line is read and dropped. `Ok(false)` at EOF; `Ok(true)` with an
/// empty `line` for a line that was too long.
pub fn read_reply_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<bool> {
    line.clear();
    let n = reader
        .by_ref()
        .take(MAX_REPLY_LINE as u64 + 1)
        .read_until(b'\n', line)?;
    if n == 0 {
        return Ok(false);
    }
    if line.len() > MAX_REPLY_LINE && line.last() != Some(&b'\n') {
        line.clear();
        // Drop the rest of the line without holding it.
        loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    reader.consume(i + 1);
                    break;
                }
                None => {
                    let k = buf.len();
                    reader.consume(k);
                }
            }
        }
    }
    Ok(true)
}

fn stdout_loop(stdout: impl Read, shared: &Shared, err_thread: std::thread::JoinHandle<()>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        match read_reply_line(&mut reader, &mut line) {
            Ok(false) | Err(_) => break,
            Ok(true) => {}
        }
        let Some((id, value)) = parse_reply(&line) else {
            continue; // not ours (a stray console.log from a worker)
        };
        let tx = match &mut *lock(&shared.pending) {
            Ok(p) => p.remove(&id),
            Err(_) => None,
        };
        if let Some(tx) = tx {
            let _ = tx.send(Ok(value));
        }
    }
    // EOF: the host is gone. Its stderr closes at the same time; wait for the tail.
    let _ = err_thread.join();
    let stderr = {
        let mut tail = lock(&shared.stderr);
        String::from_utf8_lossy(tail.make_contiguous()).into_owned()
    };
    let died = HostError::Died {
        status: None,
        stderr,
    };
    let old = std::mem::replace(&mut *lock(&shared.pending), Err(died.clone()));
    if let Ok(pending) = old {
        for (_, tx) in pending {
            let _ = tx.send(Err(died.clone()));
        }
    }
}

/// Describes an exit status like `signal 5 (SIGTRAP)` or `exit code 1`.
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

impl Host {
    /// The exit status, if the process has exited. EOF on its stdout can come a moment before
    /// the process can be reaped, so this waits up to half a second for it.
    pub fn exit_status(&self) -> Option<String> {
        for _ in 0..50 {
            if let Some(s) = lock(&self.child).try_wait().ok().flatten() {
                return Some(describe_status(s));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Fills in the exit status of a [`HostError::Died`] (also inside [`HostError::Gone`]).
    pub fn with_status(&self, e: HostError) -> HostError {
        match e {
            HostError::Died {
                status: None,
                stderr,
            } => HostError::Died {
                status: self.exit_status(),
                stderr,
            },
            HostError::Gone(inner) => HostError::Gone(Box::new(self.with_status(*inner))),
            other => other,
        }
    }
}
