//! One unit = one OCI container: a bundle, `run` (or `create` and `start`), then the runner
//! protocol over the pipes the runtime handed to the container as its stdin and stdout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use unitlab_backend::{
    BackendError, FunctionSpec, Phase, Prepared, Request, Response, Unit, UnitMemory,
};
use unitlab_backend_container::hostmem;
use unitlab_backend_process::lines::{LineError, LineReader};

use crate::bundle::{self, Rootfs};
use crate::{Lifecycle, RuntimeCmd, LOG_TAIL, STOP_GRACE};

/// A function ready to start units from.
pub(crate) struct OciPrepared {
    pub cmd: Arc<RuntimeCmd>,
    pub dir: PathBuf,
    pub spec: FunctionSpec,
    pub function: String,
    pub rootfs: Rootfs,
    pub memory_limit: Option<u64>,
    pub deadline: Duration,
    pub start_timeout: Duration,
    pub lifecycle: Lifecycle,
}

/// `<runtime> delete --force <id>`; the error carries the runtime's stderr.
pub(crate) fn delete(cmd: &RuntimeCmd, id: &str) -> Result<(), String> {
    let out = cmd
        .command(&["delete", "--force", id])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {} delete: {e}", cmd.binary.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} delete --force {id} failed ({}): {}",
            cmd.runtime,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The last [`LOG_TAIL`] bytes of a file, trimmed; `(empty)` when there is nothing.
fn tail(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(LOG_TAIL);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let text = text.trim();
    if text.is_empty() {
        "(empty)".into()
    } else {
        text.to_string()
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Units this process started and has not removed yet: id -> (runtime, bundle). Emptied by
/// [`remove_live`] on Ctrl-C.
static LIVE: Mutex<Vec<(String, Arc<RuntimeCmd>, PathBuf)>> = Mutex::new(Vec::new());

fn unregister(id: &str) {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(i, _, _)| i != id);
}

/// Deletes every unit this process still holds, and waits for background deletions; returns
/// how many units were removed.
pub(crate) fn remove_live() -> usize {
    let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|p| p.into_inner()));
    let n = live
        .iter()
        .filter(|(id, cmd, bundle)| delete_and_remove(cmd, id, bundle).is_none())
        .count();
    let _ = wait_pending();
    n
}

/// Deletions still running in the background (runsc's), with what failed among the finished.
static PENDING: Mutex<Vec<std::thread::JoinHandle<Option<String>>>> = Mutex::new(Vec::new());

/// `<runtime> kill <id> KILL`, its outcome ignored: a failure shows in the `delete` that follows
/// when the container stays.
fn kill(cmd: &RuntimeCmd, id: &str) {
    let _ = cmd
        .command(&["kill", id, "KILL"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Deletes the container from the runtime's state, if the runtime got far enough to record it.
fn delete_if_recorded(cmd: &RuntimeCmd, id: &str) -> Result<(), String> {
    if crate::state_ids(cmd.runtime, &cmd.state)
        .iter()
        .any(|s| s == id)
    {
        delete(cmd, id)?;
    }
    Ok(())
}

/// Ends the container `id` of a unit this process does not hold (Ctrl-C, `unitlab clean`) and
/// deletes what the runtime still records. A runtime serving the container in the foreground
/// (`run`: a process naming the bundle) deletes it itself once the container is gone, and a
/// `delete` beside it races it (runsc's times out): the container is killed and the runtime
/// let finish first.
pub(crate) fn end_container(cmd: &RuntimeCmd, id: &str, bundle: &Path) -> Result<(), String> {
    let needle = bundle.display().to_string();
    if !hostmem::with_argument(&needle).is_empty() {
        kill(cmd, id);
        let t0 = Instant::now();
        while !hostmem::with_argument(&needle).is_empty() && t0.elapsed() < STOP_GRACE {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    delete_if_recorded(cmd, id)
}

/// Removes a bundle; a missing one is fine.
fn remove_bundle(bundle: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(bundle) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("removing {}: {e}", bundle.display()))
        }
        _ => Ok(()),
    }
}

/// Ends the container ([`end_container`]) and removes its bundle. Returns what failed, if
/// anything.
fn delete_and_remove(cmd: &RuntimeCmd, id: &str, bundle: &Path) -> Option<String> {
    let failures: Vec<String> = [end_container(cmd, id, bundle), remove_bundle(bundle)]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    (!failures.is_empty()).then(|| failures.join("; "))
}

/// Ends a unit this process holds, its stdin closed. In the `run` lifecycle the foreground
/// runtime gets [`STOP_GRACE`] to exit (the runner exits at the end of its input, and the
/// runtime deletes the container), then the container is killed and the runtime given as long
/// again, then the runtime itself is killed; it is reaped. Then what the runtime still records
/// is deleted (`create-start`: `delete --force` ends the container) and the bundle removed.
/// Returns what failed, if anything.
fn teardown(
    cmd: &RuntimeCmd,
    id: &str,
    bundle: &Path,
    foreground: Option<Child>,
) -> Option<String> {
    let mut failures = Vec::new();
    if let Some(mut child) = foreground {
        let exited = |child: &mut Child| {
            let t0 = Instant::now();
            loop {
                match child.try_wait() {
                    Ok(None) if t0.elapsed() < STOP_GRACE => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    Ok(None) => return false,
                    _ => return true,
                }
            }
        };
        if !exited(&mut child) {
            kill(cmd, id);
            if !exited(&mut child) {
                let _ = child.kill();
            }
        }
        if let Err(e) = child.wait() {
            failures.push(format!("waiting for {} run: {e}", cmd.runtime));
        }
    }
    failures.extend(delete_if_recorded(cmd, id).err());
    failures.extend(remove_bundle(bundle).err());
    (!failures.is_empty()).then(|| failures.join("; "))
}

/// Waits for every background deletion to finish; returns the failures.
pub(crate) fn wait_pending() -> Vec<String> {
    let handles = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|p| p.into_inner()));
    handles
        .into_iter()
        .filter_map(|h| {
            h.join()
                .unwrap_or_else(|_| Some("a deletion thread panicked".into()))
        })
        .collect()
}

impl Prepared for OciPrepared {
    fn spec(&self) -> &FunctionSpec {
        &self.spec
    }

    fn start(&self) -> Result<Box<dyn Unit>, BackendError> {
        let id = format!(
            "unitlab-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let bundle_dir = self.dir.join("bundles").join(&id);
        // From the first file written on, dropping `unit` deletes the container (if the runtime
        // created it) and removes the bundle.
        let mut unit = OciUnit {
            cmd: Arc::clone(&self.cmd),
            id,
            bundle: bundle_dir,
            stdin: None,
            stdout: None,
            function: self.function.clone(),
            deadline: self.deadline,
            memory_limit: self.memory_limit,
            phases: Vec::new(),
            pid: None,
            foreground: None,
            removed: false,
        };
        LIVE.lock().unwrap_or_else(|p| p.into_inner()).push((
            unit.id.clone(),
            Arc::clone(&self.cmd),
            unit.bundle.clone(),
        ));
        let log = unit.bundle.join("runtime.log");
        let t0 = Instant::now();
        bundle::write(&unit.bundle, &self.rootfs, &unit.id, self.memory_limit).map_err(|e| {
            BackendError::io(format!("writing the bundle {}", unit.bundle.display()), e)
        })?;
        std::fs::create_dir_all(&self.cmd.state)
            .map_err(|e| BackendError::io(format!("creating {}", self.cmd.state.display()), e))?;
        let t_bundle = t0.elapsed();

        let fail = |unit: &mut OciUnit, step: &str, why: String| {
            let log_tail = tail(&log);
            let id = unit.id.clone();
            let cleanup = unit.remove();
            BackendError::Start {
                message: format!(
                    "{} {step} of container {id} ({}) failed: {why}; runtime log tail: {log_tail}; {}",
                    self.cmd.runtime,
                    self.rootfs.reference,
                    match cleanup {
                        None => "container and bundle removed".to_string(),
                        Some(e) => format!("clean-up failed: {e} (fix: `unitlab clean`)"),
                    }
                ),
            }
        };
        let stderr = std::fs::File::create(&log)
            .map_err(|e| BackendError::io(format!("creating {}", log.display()), e))?;

        let bundle_arg = unit.bundle.display().to_string();
        let pid_file = unit.bundle.join("pid").display().to_string();
        let first = match self.lifecycle {
            Lifecycle::Run => "run",
            Lifecycle::CreateStart => "create",
        };
        let t1 = Instant::now();
        let spawned = self
            .cmd
            .command(&[
                first,
                "--bundle",
                &bundle_arg,
                "--pid-file",
                &pid_file,
                &unit.id,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let why = format!("cannot run {}: {e}", self.cmd.binary.display());
                return Err(fail(&mut unit, first, why));
            }
        };
        unit.stdin = child.stdin.take();
        unit.stdout = child.stdout.take().map(LineReader::new);
        let mut phases = vec![Phase::new("bundle", t_bundle)];
        if self.lifecycle == Lifecycle::Run {
            // The runtime stays in the foreground as the container's parent; the `ready` line
            // ends the one phase.
            unit.foreground = Some(child);
        } else {
            let status = child.wait();
            phases.push(Phase::new("create", t1.elapsed()));
            match status {
                Ok(s) if s.success() => {}
                Ok(s) => return Err(fail(&mut unit, "create", format!("it exited with {s}"))),
                Err(e) => return Err(fail(&mut unit, "create", e.to_string())),
            }

            let t2 = Instant::now();
            let started = self
                .cmd
                .command(&["start", &unit.id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output();
            phases.push(Phase::new("start", t2.elapsed()));
            match started {
                Ok(o) if o.status.success() => {}
                Ok(o) => {
                    let why = format!(
                        "it exited with {}: {}",
                        o.status,
                        String::from_utf8_lossy(&o.stderr).trim()
                    );
                    return Err(fail(&mut unit, "start", why));
                }
                Err(e) => return Err(fail(&mut unit, "start", e.to_string())),
            }
        }

        let t3 = Instant::now();
        let ready = unit
            .stdout
            .as_mut()
            .expect("set above")
            .read_line(self.start_timeout);
        let t_ready = t3.elapsed();
        let last = match self.lifecycle {
            Lifecycle::Run => "run",
            Lifecycle::CreateStart => "start",
        };
        let line = match ready {
            Ok(line) => line,
            Err(LineError::Timeout) => {
                let why = format!(
                    "no `ready <pid>` line within {:?} (raise `--opt start_timeout_ms=`)",
                    self.start_timeout
                );
                return Err(fail(&mut unit, last, why));
            }
            Err(e) => {
                let why = format!("the container exited before its `ready` line ({e})");
                return Err(fail(&mut unit, last, why));
            }
        };
        if let Err(e) = unitlab_runner::parse_ready(&line) {
            return Err(fail(&mut unit, last, e.to_string()));
        }
        phases.push(match self.lifecycle {
            Lifecycle::Run => Phase::new("run", t1.elapsed()),
            Lifecycle::CreateStart => Phase::new("ready", t_ready),
        });
        unit.phases = phases;
        Ok(Box::new(unit))
    }
}

/// One live OCI container.
pub(crate) struct OciUnit {
    cmd: Arc<RuntimeCmd>,
    id: String,
    bundle: PathBuf,
    stdin: Option<ChildStdin>,
    stdout: Option<LineReader>,
    function: String,
    deadline: Duration,
    memory_limit: Option<u64>,
    phases: Vec<Phase>,
    pid: Option<u32>,
    /// The `run` lifecycle's runtime process, the container's parent.
    foreground: Option<Child>,
    removed: bool,
}

impl OciUnit {
    /// Deletes the container (killing it) and removes its bundle. Idempotent. Returns what
    /// failed, if anything.
    fn remove(&mut self) -> Option<String> {
        self.stdin = None;
        self.stdout = None;
        if self.removed {
            return None;
        }
        self.removed = true;
        unregister(&self.id);
        teardown(&self.cmd, &self.id, &self.bundle, self.foreground.take())
    }

    /// Like [`OciUnit::remove`], but `runsc delete` runs in the background: it kills the
    /// sandbox at once, then waits until the sandbox's pid is gone, which takes as long as the
    /// host's init takes to reap it (about a second on some VMs). Nothing of it is timed; the
    /// backend waits for it when dropped ([`wait_pending`]).
    fn remove_soon(&mut self) -> Option<String> {
        if self.cmd.runtime != crate::Runtime::Runsc || self.removed {
            return self.remove();
        }
        self.stdin = None;
        self.stdout = None;
        self.removed = true;
        unregister(&self.id);
        let (cmd, id, bundle) = (Arc::clone(&self.cmd), self.id.clone(), self.bundle.clone());
        let foreground = self.foreground.take();
        let handle = std::thread::spawn(move || teardown(&cmd, &id, &bundle, foreground));
        PENDING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
        None
    }

    /// The container's first process, from the runtime's pid file. A foreground runtime
    /// (`run`) may write it a moment after the entrypoint's `ready` line (runc does): it is
    /// waited for, up to a second.
    fn container_pid(&mut self) -> Option<u32> {
        let t0 = Instant::now();
        while self.pid.is_none() {
            self.pid = std::fs::read_to_string(self.bundle.join("pid"))
                .ok()
                .and_then(|t| t.trim().parse().ok());
            if self.foreground.is_none() || t0.elapsed() > Duration::from_secs(1) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.pid
    }

    fn log_tail(&self) -> String {
        tail(&self.bundle.join("runtime.log"))
    }
}

impl Unit for OciUnit {
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError> {
        let (Some(stdin), Some(stdout)) = (self.stdin.as_mut(), self.stdout.as_mut()) else {
            return Err(BackendError::Protocol {
                message: format!("container {} was already removed", self.id),
            });
        };
        let line = unitlab_runner::request_line(&self.function, req);
        let written = stdin.write_all(line.as_bytes()).and_then(|_| stdin.flush());
        let read = match written {
            Ok(()) => stdout.read_line(self.deadline),
            Err(e) => Err(LineError::Io(e)),
        };
        match read {
            Ok(line) => match unitlab_runner::parse_response(&line) {
                Err(BackendError::Guest { message }) if message.starts_with("out of memory") => {
                    Err(BackendError::MemoryLimit {
                        limit: self.memory_limit,
                        message,
                    })
                }
                other => other,
            },
            Err(LineError::Timeout) => {
                self.remove();
                Err(BackendError::Deadline {
                    deadline: self.deadline,
                })
            }
            Err(e) => {
                let log = self.log_tail();
                let id = self.id.clone();
                self.remove();
                Err(BackendError::Protocol {
                    message: format!(
                        "container {id} exited early ({e}; runtime log tail: {log}); container and bundle removed"
                    ),
                })
            }
        }
    }

    fn start_phases(&self) -> Vec<Phase> {
        self.phases.clone()
    }

    fn memory(&mut self) -> Result<UnitMemory, BackendError> {
        let mut mem = UnitMemory::default();
        if self.removed {
            return Ok(mem);
        }
        mem.engine_bytes = bundle::cgroup_memory(&self.id);
        if let Some(pid) = self.container_pid() {
            let container = hostmem::tree(pid);
            if let Some((pss, rss)) = hostmem::sum(&container) {
                mem.details.insert("container_pss".into(), pss);
                mem.details.insert("container_rss".into(), rss);
                mem.host_bytes = Some(pss);
            }
            // The runtime's other processes name the bundle (runsc's gofer); runc and crun
            // leave none once `create` returned.
            let needle = self.bundle.display().to_string();
            let mut runtime: Vec<u32> = Vec::new();
            for p in hostmem::with_argument(&needle) {
                for q in hostmem::tree(p) {
                    if !container.contains(&q) && !runtime.contains(&q) {
                        runtime.push(q);
                    }
                }
            }
            let (pss, rss) = hostmem::sum(&runtime).unwrap_or((0, 0));
            mem.details.insert("runtime_pss".into(), pss);
            mem.details.insert("runtime_rss".into(), rss);
            mem.host_bytes = mem.host_bytes.map(|c| c + pss);
        }
        Ok(mem)
    }

    fn id(&self) -> String {
        self.id.clone()
    }

    fn stop(mut self: Box<Self>) -> Result<(), BackendError> {
        match self.remove_soon() {
            None => Ok(()),
            Some(why) => Err(BackendError::Protocol {
                message: format!(
                    "removing container {} failed: {why} (fix: `unitlab clean`)",
                    self.id
                ),
            }),
        }
    }
}

impl Drop for OciUnit {
    fn drop(&mut self) {
        self.remove_soon();
    }
}
