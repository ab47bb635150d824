//! One unit = one container: created, attached, started, answering over its attached
//! stdin/stdout (no ports, so no host port races).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, RemoveContainerOptionsBuilder, StatsOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use unitlab_backend::{
    BackendError, FunctionSpec, Phase, Prepared, Request, Response, Unit, UnitMemory,
};

use crate::engine::{describe, start_error, Engine};
use crate::hostmem;

/// Containers this process created and has not removed yet, by id, with their engine address.
/// [`crate::remove_live_units`] empties it on Ctrl-C.
pub(crate) static LIVE: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// Set by [`crate::remove_live_units`]: no new container may be created after it.
pub(crate) static STOPPING: AtomicBool = AtomicBool::new(false);
/// Creates sent to the engine whose container is not registered in [`LIVE`] yet.
pub(crate) static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

fn register(id: &str, host: &str) {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.to_string(), host.to_string());
}

fn unregister(id: &str) {
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
}

/// How many bytes of a container's stderr an error message carries.
const STDERR_TAIL: usize = 2048;

/// A function ready to start containers from.
pub(crate) struct ContainerPrepared {
    pub engine: Arc<Engine>,
    pub spec: FunctionSpec,
    /// The request line's function name.
    pub function: String,
    pub body: ContainerCreateBody,
    pub image: String,
    pub deadline: Duration,
    pub start_timeout: Duration,
    pub memory_limit: Option<u64>,
}

enum Failure {
    Timeout,
    Ended(String),
}

/// The attached streams of a running container.
struct Io {
    output: Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    buf: Vec<u8>,
    stderr: Vec<u8>,
}

impl Io {
    async fn read_line(&mut self) -> Result<String, String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let rest = self.buf.split_off(pos + 1);
                let line = std::mem::replace(&mut self.buf, rest);
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            match self.output.next().await {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                    self.buf.extend_from_slice(&message)
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    self.stderr.extend_from_slice(&message);
                    let over = self.stderr.len().saturating_sub(STDERR_TAIL);
                    self.stderr.drain(..over);
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => return Err(format!("the attach stream failed: {}", describe(&e))),
                None => return Err("the container's output ended".into()),
            }
        }
    }

    async fn read_line_within(&mut self, limit: Duration) -> Result<String, Failure> {
        match tokio::time::timeout(limit, self.read_line()).await {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(why)) => Err(Failure::Ended(why)),
            Err(_) => Err(Failure::Timeout),
        }
    }

    fn stderr_tail(&self) -> String {
        let s = String::from_utf8_lossy(&self.stderr);
        let s = s.trim();
        if s.is_empty() {
            "(empty)".into()
        } else {
            s.to_string()
        }
    }
}

impl Prepared for ContainerPrepared {
    fn spec(&self) -> &FunctionSpec {
        &self.spec
    }

    fn start(&self) -> Result<Box<dyn Unit>, BackendError> {
        let e = &self.engine;
        let interrupted = || BackendError::Start {
            message: "interrupted: the lab is removing its containers".into(),
        };
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        if STOPPING.load(Ordering::SeqCst) {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            return Err(interrupted());
        }
        let t0 = Instant::now();
        let created = e.block_on(e.docker.create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            self.body.clone(),
        ));
        let t_create = t0.elapsed();
        if let Ok(c) = &created {
            register(&c.id, &e.host);
        }
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        let created = created.map_err(|err| {
            start_error(
                &e.host,
                format!("creating a container from {} failed", self.image),
                &err,
            )
        })?;
        // From here on, an early return drops `unit`, which removes the container.
        let mut unit = ContainerUnit {
            engine: Arc::clone(e),
            id: created.id,
            io: None,
            function: self.function.clone(),
            deadline: self.deadline,
            memory_limit: self.memory_limit,
            phases: Vec::new(),
            pid: None,
            removed: false,
        };

        let t1 = Instant::now();
        let attach = AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attached = e
            .block_on(e.docker.attach_container(&unit.id, Some(attach)))
            .map_err(|err| {
                start_error(
                    &e.host,
                    format!("attaching to container {} failed", unit.short_id()),
                    &err,
                )
            })?;
        let mut io = Io {
            output: attached.output,
            input: attached.input,
            buf: Vec::with_capacity(256),
            stderr: Vec::new(),
        };
        let t_attach = t1.elapsed();

        let t2 = Instant::now();
        e.block_on(e.docker.start_container(
            &unit.id,
            None::<bollard::query_parameters::StartContainerOptions>,
        ))
        .map_err(|err| {
            start_error(
                &e.host,
                format!(
                    "starting container {} from {} failed (container removed)",
                    unit.short_id(),
                    self.image
                ),
                &err,
            )
        })?;
        let t_start = t2.elapsed();

        let t3 = Instant::now();
        let ready = e.block_on(io.read_line_within(self.start_timeout));
        let t_ready = t3.elapsed();
        let line = match ready {
            Ok(line) => line,
            Err(Failure::Timeout) => {
                let id = unit.short_id();
                unit.remove();
                return Err(BackendError::Protocol {
                    message: format!(
                        "container {id} from {} printed no `ready <pid>` line within {:?} \
                         (container removed; stderr: {}). Its entrypoint must speak the runner \
                         protocol; raise `--opt start_timeout_ms=` for slow images",
                        self.image,
                        self.start_timeout,
                        io.stderr_tail()
                    ),
                });
            }
            Err(Failure::Ended(why)) => {
                let state = unit.final_state();
                let id = unit.short_id();
                unit.remove();
                return Err(BackendError::Protocol {
                    message: format!(
                        "container {id} from {} exited before its `ready` line ({why}; {state}; \
                         stderr: {}); container removed",
                        self.image,
                        io.stderr_tail()
                    ),
                });
            }
        };
        if let Err(err) = unitlab_runner::parse_ready(&line) {
            unit.remove();
            return Err(err);
        }
        unit.io = Some(io);
        unit.phases = vec![
            Phase::new("create", t_create),
            Phase::new("attach", t_attach),
            Phase::new("start", t_start),
            Phase::new("ready", t_ready),
        ];
        Ok(Box::new(unit))
    }
}

/// One live container.
pub(crate) struct ContainerUnit {
    engine: Arc<Engine>,
    id: String,
    io: Option<Io>,
    function: String,
    deadline: Duration,
    memory_limit: Option<u64>,
    phases: Vec<Phase>,
    pid: Option<u32>,
    removed: bool,
}

impl ContainerUnit {
    fn short_id(&self) -> String {
        self.id.chars().take(12).collect()
    }

    /// Force-removes the container (kills it first). Idempotent.
    fn remove(&mut self) -> Option<String> {
        self.io = None;
        if self.removed {
            return None;
        }
        self.removed = true;
        let opts = RemoveContainerOptionsBuilder::default().force(true).build();
        let result = if tokio::runtime::Handle::try_current().is_ok() {
            // Dropped inside some async context: block_on would panic; remove from a thread.
            let engine = Arc::clone(&self.engine);
            let id = self.id.clone();
            std::thread::spawn(move || {
                engine.block_on(engine.docker.remove_container(&id, Some(opts)))
            })
            .join()
            .unwrap_or(Ok(()))
        } else {
            self.engine
                .block_on(self.engine.docker.remove_container(&self.id, Some(opts)))
        };
        unregister(&self.id);
        match result {
            Ok(()) => None,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => None,
            Err(e) => Some(describe(&e)),
        }
    }

    /// Waits (briefly) until the engine has recorded the container's exit, then describes it.
    /// Returns `(oom_killed, description)`.
    fn exit_state(&self) -> (bool, String) {
        let e = &self.engine;
        let wait = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let limited = self.memory_limit.is_some();
        let inspected = e.block_on(async {
            let mut w = e.docker.wait_container(&self.id, Some(wait));
            // A non-zero exit arrives as an Err; either way the container has stopped.
            let _ = tokio::time::timeout(Duration::from_secs(5), w.next()).await;
            let inspect = || {
                e.docker.inspect_container(
                    &self.id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
            };
            let mut info = inspect().await;
            // With cgroup v1 the engine may record the exit (SIGKILL, 137) before the OOM
            // event that explains it: give the OOM flag up to 2 s to catch up.
            for _ in 0..20 {
                let sigkilled_unflagged = matches!(&info, Ok(i) if i.state.as_ref().is_some_and(|s|
                    s.exit_code == Some(137) && !s.oom_killed.unwrap_or(false)));
                if !(limited && sigkilled_unflagged) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                info = inspect().await;
            }
            info
        });
        match inspected {
            Ok(info) => {
                let state = info.state.unwrap_or_default();
                let oom = state.oom_killed.unwrap_or(false);
                let desc = match (state.status, state.exit_code) {
                    (Some(ContainerStateStatusEnum::EXITED), Some(code)) => {
                        format!("exit code {code}{}", if oom { ", OOM-killed" } else { "" })
                    }
                    (status, _) => format!("state {status:?}"),
                };
                (oom, desc)
            }
            Err(err) => (false, format!("inspect failed: {}", describe(&err))),
        }
    }

    fn final_state(&self) -> String {
        self.exit_state().1
    }

    fn container_pid(&mut self) -> Option<u32> {
        if self.pid.is_none() {
            let e = &self.engine;
            let info = e
                .block_on(e.docker.inspect_container(
                    &self.id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                ))
                .ok()?;
            self.pid = info
                .state
                .and_then(|s| s.pid)
                .filter(|&p| p > 0)
                .map(|p| p as u32);
        }
        self.pid
    }
}

impl Unit for ContainerUnit {
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError> {
        let Some(io) = self.io.as_mut() else {
            return Err(BackendError::Protocol {
                message: format!("container {} was already removed", self.short_id()),
            });
        };
        let line = unitlab_runner::request_line(&self.function, req);
        let deadline = self.deadline;
        let result = self.engine.block_on(async {
            io.input
                .write_all(line.as_bytes())
                .await
                .map_err(|e| Failure::Ended(format!("writing the request failed: {e}")))?;
            io.input
                .flush()
                .await
                .map_err(|e| Failure::Ended(format!("writing the request failed: {e}")))?;
            io.read_line_within(deadline).await
        });
        match result {
            Ok(line) => match unitlab_runner::parse_response(&line) {
                Err(BackendError::Guest { message }) if message.starts_with("out of memory") => {
                    Err(BackendError::MemoryLimit {
                        limit: self.memory_limit,
                        message,
                    })
                }
                other => other,
            },
            Err(Failure::Timeout) => {
                self.remove();
                Err(BackendError::Deadline { deadline })
            }
            Err(Failure::Ended(why)) => {
                let stderr = io.stderr_tail();
                let (oom, state) = self.exit_state();
                let id = self.short_id();
                self.remove();
                if oom {
                    Err(BackendError::MemoryLimit {
                        limit: self.memory_limit,
                        message: format!(
                            "OOM-killed: the kernel stopped container {id} at its cgroup memory limit ({state}); container removed"
                        ),
                    })
                } else {
                    Err(BackendError::Protocol {
                        message: format!(
                            "container {id} exited early ({why}; {state}; stderr: {stderr}); container removed"
                        ),
                    })
                }
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
        let e = Arc::clone(&self.engine);
        let opts = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let stats = e.block_on(async { e.docker.stats(&self.id, Some(opts)).next().await });
        match stats {
            Some(Ok(s)) => {
                if let Some(m) = s.memory_stats {
                    if let Some(usage) = m.usage {
                        // As `docker stats` shows it: usage minus the inactive page cache
                        // (cgroup v1 `total_inactive_file`, v2 `inactive_file`).
                        let stats = m.stats.unwrap_or_default();
                        let inactive = stats
                            .get("total_inactive_file")
                            .or_else(|| stats.get("inactive_file"))
                            .copied()
                            .unwrap_or(0);
                        mem.engine_bytes = Some(usage.saturating_sub(inactive));
                        mem.details.insert("cgroup_usage".into(), usage);
                        if let Some(rss) = stats.get("total_rss").or_else(|| stats.get("anon")) {
                            mem.details.insert("cgroup_anon".into(), *rss);
                        }
                    }
                    if let Some(limit) = m.limit {
                        mem.details.insert("cgroup_limit".into(), limit);
                    }
                }
            }
            Some(Err(err)) => {
                return Err(BackendError::Protocol {
                    message: format!(
                        "reading stats of container {} failed: {}",
                        self.short_id(),
                        describe(&err)
                    ),
                })
            }
            None => {}
        }
        if let Some(pid) = self.container_pid() {
            let container = hostmem::tree(pid);
            if let Some((pss, rss)) = hostmem::sum(&container) {
                mem.details.insert("container_pss".into(), pss);
                mem.details.insert("container_rss".into(), rss);
                mem.host_bytes = Some(pss);
            }
            if let Some(shim) = hostmem::shim_of(pid) {
                // The runtime's other processes under the shim: gVisor's gofer (its sentry is
                // the container's pid). runc and crun leave none.
                let runtime: Vec<u32> = hostmem::tree(shim)
                    .into_iter()
                    .filter(|p| *p != shim && !container.contains(p))
                    .collect();
                let (pss, rss) = hostmem::sum(&runtime).unwrap_or((0, 0));
                mem.details.insert("runtime_pss".into(), pss);
                mem.details.insert("runtime_rss".into(), rss);
                mem.host_bytes = mem.host_bytes.map(|c| c + pss);
                if let Some((pss, rss)) = hostmem::sum(&[shim]) {
                    mem.details.insert("shim_pss".into(), pss);
                    mem.details.insert("shim_rss".into(), rss);
                    // What the host pays per unit: the container's processes, the runtime's
                    // and its shim.
                    mem.host_bytes = mem.host_bytes.map(|c| c + pss);
                }
            }
        }
        Ok(mem)
    }

    fn id(&self) -> String {
        self.short_id()
    }

    fn stop(mut self: Box<Self>) -> Result<(), BackendError> {
        match self.remove() {
            None => Ok(()),
            Some(why) => Err(BackendError::Protocol {
                message: format!(
                    "removing container {} failed: {why} (fix: `unitlab clean`)",
                    self.short_id()
                ),
            }),
        }
    }
}

impl Drop for ContainerUnit {
    fn drop(&mut self) {
        self.remove();
    }
}
