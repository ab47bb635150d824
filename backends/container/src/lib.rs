//! Docker containers through bollard: a unit is a container, images built locally.
//!
//! # Images (`--opt image=...`)
//! - `runner` (default): `FROM scratch` + the static C runner (`unitlab-runner`). The container
//!   runs one static process: its cold start isolates the cost of the container layer.
//! - `node`: `FROM scratch` + the host's `node`, the libraries `ldd` lists and the loader, +
//!   the shared JS catalogue (`guests/js/catalogue.js`, the functions the `v8` and `deno`
//!   backends run) wrapped in the protocol loop of `js/runner.js`. Its cold start adds
//!   booting a runtime.
//! - any other value: an image the user already has (nothing is pulled), or
//!   [`FunctionSource::Image`]. A [`FunctionSource::File`] naming a directory with a
//!   `Dockerfile` is built locally (a failed build's error carries the log's tail).
//!
//! Images are built through the Engine API from an in-memory build context and tagged with a
//! hash of their content, so `prepare` reuses an existing image. See [`images`].
//!
//! # Entry protocol for user images
//! The entrypoint speaks the runner protocol (`unitlab_runner`) on stdin/stdout: it prints
//! `ready <pid>` once, then answers each `<function> <size> <seed>` line (`<function>` is the
//! function spec's name, e.g. `noop` for `--function noop`) with `ok <value> <guest_ns>` or
//! `err <message>`, and exits on `quit` or end of input. Stderr is kept for error messages.
//!
//! # A unit's life, and what "ready" means
//! `start` = `create` (POST /containers/create) + `attach` (stdin/stdout/stderr hijacked before
//! start, so no output is missed and no port is published) + `start` (POST .../start returns:
//! runc has created the namespaces and exec'd the entrypoint) + `ready` (the entrypoint's
//! `ready <pid>` line arrived through the attach stream: the guest's `main` runs and reads
//! stdin). Each phase is timed apart ([`Unit::start_phases`](unitlab_backend::Unit::start_phases)). The first invoke completes the
//! cold start; warm invokes go over the same attached stream. Start waits at most
//! `start_timeout_ms` for `ready`; each invoke at most the spec's deadline (default
//! [`DEFAULT_DEADLINE`]). A container that exits early or never answers is force-removed and
//! the error says what it did.
//!
//! # Network (`--network none|bridge`)
//! `none` (default): `NetworkDisabled` + network mode `none`: Docker skips the libnetwork
//! prestart hook that re-executes dockerd (~80 ms per start on a small VM). `bridge`: Docker's
//! default bridge, for functions that need a network. Recorded in [`BackendInfo`].
//!
//! # Runtime (`--runtime runc|crun|runsc`, i.e. `--opt runtime=...`)
//! The OCI runtime dockerd starts the container with (`HostConfig.runtime`): runc (Docker's
//! default), crun, or runsc (gVisor, a user-space kernel). It must be registered in
//! `/etc/docker/daemon.json` (`scripts/setup-runtimes.sh` does it, runsc on the ptrace
//! platform); an unregistered or uninstalled one fails at construction naming the package and
//! the fix. Recorded in [`BackendInfo`]: `settings.runtime`, `settings.runtime_args`
//! (`settings.platform` for runsc), `versions.<runtime>` and the boundary (namespaces, or a
//! user-space kernel for runsc). Without the option the engine's default runtime is used and
//! recorded. The cold-start phases are the same for every runtime. See [`runtime`].
//!
//! # Memory
//! [`Unit::memory`](unitlab_backend::Unit::memory): `engine_bytes` = cgroup usage from the stats API minus inactive page cache
//! (what `docker stats` shows; raw usage in `details.cgroup_usage`); `host_bytes` = PSS of every
//! process of the unit, read from `/proc`: the container's process tree, the runtime's other
//! processes under the same containerd shim (gVisor's gofer: the sentry is the container's
//! process for the engine), and the shim itself (details `container_pss`, `container_rss`,
//! `runtime_pss`, `runtime_rss`, `shim_pss`, `shim_rss`). Limits: `Limits::memory_bytes` (or
//! `--opt memory_limit=256m`) sets the cgroup limit with swap equal to it; `Limits::cpus` (or
//! `--opt cpus=0.5`) sets `NanoCpus`. A unit killed by the OOM killer is reported as
//! [`BackendError::MemoryLimit`] "OOM-killed". A limit below [`MIN_MEMORY_LIMIT`] (Docker's
//! minimum) is refused at prepare.
//!
//! # An engine that stops
//! A start that cannot reach the engine (its socket gone or refusing connections: dockerd
//! stopped mid-run) is [`BackendError::Unavailable`] naming the address, not a failed unit:
//! a measurement stops at once. Containers it had started may remain; once the engine is back,
//! [`clean`] removes them.
//!
//! # Cleanup
//! Every container and image the lab creates carries the label `unitlab=1` (`unitlab.kind`
//! = `unit` or `image`). Units are removed by [`Unit::stop`](unitlab_backend::Unit::stop), on drop and on every error;
//! [`remove_live_units`] removes the ones this process still holds (call it from a Ctrl-C
//! handler); [`clean`] removes every labelled container left by any run (`unitlab clean`), and
//! [`clean_matching`] only those with one more label: each unit carries
//! `unitlab.owner_pid=<pid>` of its run (`unitlab clean --label unitlab.owner_pid=<pid>`).

#![warn(missing_docs)]

mod engine;
pub mod hostmem;
pub mod images;
pub mod runtime;
mod unit;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use unitlab_backend::{
    Availability, Backend, BackendError, BackendInfo, FunctionSource, FunctionSpec, Prepared,
};

pub use engine::{resolve_host, DEFAULT_DOCKER_HOST, ENGINE_FIX};
pub use images::{KIND_LABEL, LABEL};
pub use runtime::Runtime;

use engine::Engine;

/// The smallest memory limit accepted: Docker refuses a container memory limit below 6 MiB.
pub const MIN_MEMORY_LIMIT: u64 = 6 << 20;

/// The deadline of one invocation when the function spec sets none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// How long `start` waits for the `ready` line by default.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Keys accepted by [`Config::set`], with their help text.
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "image",
        "`runner` (FROM-scratch static runner, default), `node` (host node + the shared JS catalogue), or the name of a local image speaking the runner protocol",
    ),
    (
        "network",
        "`none` (default: network disabled, no libnetwork hook) or `bridge` (Docker's default bridge)",
    ),
    (
        "runtime",
        "OCI runtime dockerd starts units with: `runc`, `crun` or `runsc` (gVisor); must be registered in /etc/docker/daemon.json (scripts/setup-runtimes.sh); default: the engine's default",
    ),
    (
        "memory_limit",
        "cgroup memory limit per unit, bytes or with k/m/g suffix (e.g. 256m); swap is set equal; the function spec's limit wins",
    ),
    ("cpus", "CPU limit per unit in cores (NanoCpus), e.g. 0.5"),
    (
        "docker_host",
        "engine address (default: $DOCKER_HOST, else unix:///var/run/docker.sock)",
    ),
    (
        "start_timeout_ms",
        "how long a start waits for the container's `ready` line, in ms (default 30000)",
    ),
    (
        "cgroup_parent",
        "cgroup every unit's cgroup is created under (HostConfig.CgroupParent), e.g. one carrying a shared memory limit",
    ),
];

/// Which image a catalogue function runs in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ImageChoice {
    /// The FROM-scratch image holding the static runner.
    #[default]
    Runner,
    /// The node rootfs image running `js/runner.js`.
    Node,
    /// An image the user already has.
    User(String),
}

/// The container network setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// `NetworkDisabled` + network mode `none`.
    #[default]
    None,
    /// Docker's default bridge.
    Bridge,
}

impl Network {
    /// The name used on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Network::None => "none",
            Network::Bridge => "bridge",
        }
    }
}

/// Settings of the container backend.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The image catalogue functions run in.
    pub image: ImageChoice,
    /// Network setting of every unit.
    pub network: Network,
    /// Default memory limit per unit (bytes); the spec's limit wins.
    pub memory_limit: Option<u64>,
    /// Default CPU limit per unit (cores); the spec's limit wins.
    pub cpus: Option<f64>,
    /// Engine address; `None`: `DOCKER_HOST`, else the default socket.
    pub docker_host: Option<String>,
    /// How long start waits for `ready`; `None`: [`DEFAULT_START_TIMEOUT`].
    pub start_timeout: Option<Duration>,
    /// The OCI runtime; `None`: the engine's default.
    pub runtime: Option<Runtime>,
    /// The cgroup units' cgroups are created under; `None`: Docker's default.
    pub cgroup_parent: Option<String>,
}

fn bad_option(key: &str, value: &str, want: &str) -> BackendError {
    BackendError::bad_option("container", key, value, want)
}

/// Parses a byte size: plain bytes or with a `k`, `m`, `g` suffix (binary units).
pub fn parse_bytes(text: &str) -> Option<u64> {
    unitlab_backend::units::parse_bytes(text).ok()
}

impl Config {
    /// Sets one option by name (see [`OPTIONS`]).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), BackendError> {
        match key {
            "image" => {
                self.image = match value {
                    "runner" => ImageChoice::Runner,
                    "node" => ImageChoice::Node,
                    "" => return Err(bad_option(key, value, "an image name")),
                    other => ImageChoice::User(other.to_string()),
                }
            }
            "network" => {
                self.network = match value {
                    "none" => Network::None,
                    "bridge" | "default" => Network::Bridge,
                    _ => return Err(bad_option(key, value, "`none` or `bridge`")),
                }
            }
            "memory_limit" | "memory" => {
                self.memory_limit =
                    Some(parse_bytes(value).filter(|&b| b > 0).ok_or_else(|| {
                        bad_option(key, value, "a byte size like 268435456 or 256m")
                    })?)
            }
            "cpus" => {
                let c: f64 = value
                    .parse()
                    .ok()
                    .filter(|c: &f64| *c > 0.0 && c.is_finite())
                    .ok_or_else(|| bad_option(key, value, "a positive number of cores"))?;
                self.cpus = Some(c);
            }
            "docker_host" => self.docker_host = Some(value.to_string()),
            "runtime" => {
                self.runtime = Some(Runtime::parse(value).ok_or_else(|| {
                    bad_option(key, value, "an OCI runtime: `runc`, `crun` or `runsc`")
                })?)
            }
            "start_timeout_ms" => {
                let ms: u64 = value
                    .parse()
                    .map_err(|_| bad_option(key, value, "milliseconds"))?;
                self.start_timeout = Some(Duration::from_millis(ms));
            }
            "cgroup_parent" => self.cgroup_parent = Some(value.to_string()),
            _ => return Err(BackendError::unknown_option("container", key, OPTIONS)),
        }
        Ok(())
    }
}

/// Whether an engine answers at `DOCKER_HOST` or the default socket (one ping, a few ms).
pub fn availability() -> Availability {
    availability_at(None)
}

/// Like [`availability`], for an explicit engine address.
pub fn availability_at(docker_host: Option<&str>) -> Availability {
    match Engine::connect(docker_host) {
        Ok(e) => Availability::Available(format!(
            "Docker engine {} (API {}) at {}",
            e.versions
                .get("docker_engine")
                .map(String::as_str)
                .unwrap_or("?"),
            e.versions
                .get("api_version")
                .map(String::as_str)
                .unwrap_or("?"),
            e.host
        )),
        Err(BackendError::Unavailable { reason, fix, .. }) => {
            Availability::Unavailable { reason, fix }
        }
        Err(other) => Availability::Unavailable {
            reason: other.to_string(),
            fix: ENGINE_FIX.into(),
        },
    }
}

/// The container backend.
pub struct ContainerBackend {
    config: Config,
    engine: Arc<Engine>,
    /// The runtime units start with: its name and its registered arguments.
    runtime: (String, Vec<String>),
    /// Settings that depend on the last prepared function (image id, effective limits).
    prepared: Mutex<BTreeMap<String, String>>,
}

impl std::fmt::Debug for ContainerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerBackend")
            .field("config", &self.config)
            .field("engine", &self.engine)
            .finish()
    }
}

impl ContainerBackend {
    /// Connects to the engine; fails with [`BackendError::Unavailable`] (naming the socket and
    /// the fix) when it does not answer.
    pub fn new(config: Config) -> Result<Self, BackendError> {
        let engine = Engine::connect(config.docker_host.as_deref())?;
        let runtimes = engine.runtimes();
        let runtime = match config.runtime {
            Some(r) => (
                r.name().to_string(),
                check_registered(r, &runtimes, r.binary().as_deref())?,
            ),
            None => {
                let name = if runtimes.default.is_empty() {
                    "runc".to_string()
                } else {
                    runtimes.default.clone()
                };
                let args = runtimes.registered.get(&name).cloned().unwrap_or_default();
                (name, args)
            }
        };
        Ok(ContainerBackend {
            config,
            engine: Arc::new(engine),
            runtime,
            prepared: Mutex::new(BTreeMap::new()),
        })
    }

    /// The engine address in use.
    pub fn docker_host(&self) -> &str {
        &self.engine.host
    }
}

/// Checks that dockerd has `runtime` registered; returns its registered arguments. Otherwise
/// the error names the package and the fix (install it when `binary` is `None`, register it
/// when it is installed).
pub fn check_registered(
    runtime: Runtime,
    engine: &runtime::EngineRuntimes,
    binary: Option<&std::path::Path>,
) -> Result<Vec<String>, BackendError> {
    if let Some(args) = engine.registered.get(runtime.name()) {
        return Ok(args.clone());
    }
    let known: Vec<&str> = engine.registered.keys().map(String::as_str).collect();
    let (reason, fix) = match binary {
        None => (
            format!(
                "the OCI runtime `{runtime}` is not installed (no `{runtime}` on PATH) and the \
                 Docker engine does not have it registered (it has: {})",
                known.join(", ")
            ),
            runtime.install_fix() + "; then " + &runtime.register_fix(),
        ),
        Some(path) => (
            format!(
                "the OCI runtime `{runtime}` is installed ({}) but the Docker engine does not \
                 have it registered (it has: {})",
                path.display(),
                known.join(", ")
            ),
            runtime.register_fix(),
        ),
    };
    Err(BackendError::Unavailable {
        backend: "container".into(),
        reason,
        fix,
    })
}

fn limit_text(v: Option<u64>) -> String {
    v.map(|b| b.to_string()).unwrap_or_else(|| "none".into())
}

impl Backend for ContainerBackend {
    fn name(&self) -> &'static str {
        "container"
    }

    fn info(&self) -> BackendInfo {
        let mut settings = BTreeMap::new();
        settings.insert(
            "image".to_string(),
            match &self.config.image {
                ImageChoice::Runner => "runner".to_string(),
                ImageChoice::Node => "node".to_string(),
                ImageChoice::User(u) => u.clone(),
            },
        );
        settings.insert("network".into(), self.config.network.name().into());
        settings.insert("memory_limit".into(), limit_text(self.config.memory_limit));
        settings.insert(
            "cpus".into(),
            self.config
                .cpus
                .map(|c| c.to_string())
                .unwrap_or_else(|| "none".into()),
        );
        settings.insert("docker_host".into(), self.engine.host.clone());
        settings.insert("runtime".into(), self.runtime.0.clone());
        settings.insert("runtime_args".into(), self.runtime.1.join(" "));
        if let Some(p) = runtime::platform_of(&self.runtime.1) {
            settings.insert("platform".into(), p);
        }
        let kind = Runtime::parse(&self.runtime.0);
        if let Some(p) = &self.config.cgroup_parent {
            settings.insert("cgroup_parent".into(), p.clone());
        }
        settings.insert(
            "start_timeout_ms".into(),
            self.config
                .start_timeout
                .unwrap_or(DEFAULT_START_TIMEOUT)
                .as_millis()
                .to_string(),
        );
        settings.insert(
            "ready".into(),
            "entrypoint's `ready <pid>` line read through the attach stream".into(),
        );
        // Before any prepare: the image catalogue functions will run in, if it exists already
        // (prepare builds it otherwise). After: the prepared function's image and limits.
        let reference = match &self.config.image {
            ImageChoice::Runner => Some(images::runner_tag()),
            ImageChoice::Node => images::node_plan().ok().map(|(tag, _, _)| tag),
            ImageChoice::User(u) => Some(u.clone()),
        };
        if let Some(reference) = reference {
            let id = images::local_image_id(&self.engine, &reference)
                .unwrap_or_else(|| "not built yet (prepare builds it)".into());
            settings.insert("image_ref".into(), reference);
            settings.insert("image_id".into(), id);
        }
        settings.extend(
            self.prepared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        );
        let mut versions = self.engine.versions.clone();
        if let Some(r) = kind {
            // The engine reports runc's version only; ask the binary for the others.
            if !versions.contains_key(r.name()) {
                if let Some(v) = r.binary().and_then(|b| r.version(&b)) {
                    versions.insert(r.name().to_string(), v);
                }
            }
        }
        BackendInfo {
            name: "container".into(),
            versions,
            settings,
            in_process: false,
            boundary: Some(
                kind.map(Runtime::boundary)
                    .unwrap_or(unitlab_backend::Boundary::Namespaces),
            ),
        }
    }

    fn prepare(&self, spec: &FunctionSpec) -> Result<Box<dyn Prepared>, BackendError> {
        spec.limits.check(
            "container",
            MIN_MEMORY_LIMIT,
            "Docker refuses a container memory limit below 6 MiB",
        )?;
        let fail = |message: String| BackendError::Prepare {
            function: spec.name.clone(),
            message,
        };
        let (image, function) = match &spec.source {
            FunctionSource::Catalogue(f) => {
                let image = match &self.config.image {
                    ImageChoice::Runner => images::runner_image(&self.engine),
                    ImageChoice::Node => images::node_image(&self.engine),
                    ImageChoice::User(name) => images::user_image(&self.engine, name),
                }
                .map_err(fail)?;
                (image, f.name().to_string())
            }
            FunctionSource::Image(name) => (
                images::user_image(&self.engine, name).map_err(fail)?,
                spec.name.clone(),
            ),
            FunctionSource::File(dir) => (
                images::directory_image(&self.engine, &spec.name, dir).map_err(fail)?,
                spec.name.clone(),
            ),
            #[allow(unreachable_patterns, reason = "FunctionSource is non_exhaustive")]
            other => return Err(fail(format!("unsupported function source {other:?}"))),
        };
        let memory_limit = spec.limits.memory_bytes.or(self.config.memory_limit);
        let cpus = spec.limits.cpus.or(self.config.cpus);
        let network = self.config.network;
        let labels = HashMap::from([
            (LABEL.to_string(), "1".to_string()),
            (KIND_LABEL.to_string(), "unit".to_string()),
            ("unitlab.function".to_string(), spec.name.clone()),
            (
                "unitlab.owner_pid".to_string(),
                std::process::id().to_string(),
            ),
        ]);
        let host_config = HostConfig {
            network_mode: Some(network.name().to_string()),
            memory: memory_limit.map(|m| m as i64),
            memory_swap: memory_limit.map(|m| m as i64),
            nano_cpus: cpus.map(|c| (c * 1e9).round() as i64),
            runtime: self.config.runtime.map(|r| r.name().to_string()),
            cgroup_parent: self.config.cgroup_parent.clone(),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image.id.clone()),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            open_stdin: Some(true),
            stdin_once: Some(false),
            tty: Some(false),
            network_disabled: Some(network == Network::None),
            labels: Some(labels),
            host_config: Some(host_config),
            ..Default::default()
        };
        {
            let mut p = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
            p.insert("image_ref".into(), image.reference.clone());
            p.insert("image_id".into(), image.id.clone());
            p.insert("image_built_now".into(), image.built.to_string());
            p.insert("memory_limit".into(), limit_text(memory_limit));
            p.insert(
                "cpus".into(),
                cpus.map(|c| c.to_string()).unwrap_or_else(|| "none".into()),
            );
        }
        Ok(Box::new(unit::ContainerPrepared {
            engine: Arc::clone(&self.engine),
            spec: spec.clone(),
            function,
            body,
            image: format!(
                "{} ({}, runtime {})",
                image.reference,
                short(&image.id),
                self.runtime.0
            ),
            deadline: spec.limits.deadline.unwrap_or(DEFAULT_DEADLINE),
            start_timeout: self.config.start_timeout.unwrap_or(DEFAULT_START_TIMEOUT),
            memory_limit,
        }))
    }
}

/// An image's file system unpacked into a directory, for running it without the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedRootfs {
    /// The image's tag or name.
    pub reference: String,
    /// The engine's image id.
    pub id: String,
    /// Entrypoint followed by Cmd, from the image's config.
    pub args: Vec<String>,
    /// The image's environment (`KEY=value`).
    pub env: Vec<String>,
}

/// The reference of the image `choice` names, when it can be known without the engine
/// (`runner`: a hash of its contents), for caching an exported root file system.
pub fn image_reference(choice: &ImageChoice) -> Option<String> {
    match choice {
        ImageChoice::Runner => Some(images::runner_tag()),
        ImageChoice::Node => images::node_plan().ok().map(|(tag, _, _)| tag),
        ImageChoice::User(u) => Some(u.clone()),
    }
}

/// Builds (or finds) the image `choice` names, exactly as `prepare` does, and unpacks its file
/// system into `dest` (which must not exist yet) through a created, never started, labelled
/// container that is removed afterwards. Nothing is pulled.
pub fn export_rootfs(
    docker_host: Option<&str>,
    choice: &ImageChoice,
    dest: &std::path::Path,
) -> Result<ExportedRootfs, BackendError> {
    let engine = Engine::connect(docker_host)?;
    let fail = |message: String| BackendError::Prepare {
        function: "image export".into(),
        message,
    };
    let image = match choice {
        ImageChoice::Runner => images::runner_image(&engine),
        ImageChoice::Node => images::node_image(&engine),
        ImageChoice::User(name) => images::user_image(&engine, name),
    }
    .map_err(fail)?;
    let inspected = engine
        .block_on(engine.docker.inspect_image(&image.id))
        .map_err(|e| {
            fail(format!(
                "inspecting {}: {}",
                image.reference,
                engine::describe(&e)
            ))
        })?;
    let config = inspected.config.unwrap_or_default();
    let mut args = config.entrypoint.unwrap_or_default();
    args.extend(config.cmd.unwrap_or_default());
    if args.is_empty() {
        return Err(fail(format!(
            "image {} has neither an entrypoint nor a command to run",
            image.reference
        )));
    }
    let labels = HashMap::from([
        (LABEL.to_string(), "1".to_string()),
        (KIND_LABEL.to_string(), "export".to_string()),
    ]);
    let body = ContainerCreateBody {
        image: Some(image.id.clone()),
        labels: Some(labels),
        network_disabled: Some(true),
        ..Default::default()
    };
    let created = engine
        .block_on(engine.docker.create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        ))
        .map_err(|e| {
            fail(format!(
                "creating a container to export: {}",
                engine::describe(&e)
            ))
        })?;
    let tar = engine.block_on(async {
        use futures_util::StreamExt;
        let mut out = Vec::new();
        let mut stream = engine.docker.export_container(&created.id);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok::<_, bollard::errors::Error>(out)
    });
    let opts = RemoveContainerOptionsBuilder::default().force(true).build();
    let removed = engine.block_on(engine.docker.remove_container(&created.id, Some(opts)));
    let tar = tar.map_err(|e| {
        fail(format!(
            "exporting {}: {}",
            image.reference,
            engine::describe(&e)
        ))
    })?;
    if let Err(e) = removed {
        return Err(fail(format!(
            "removing the export container {}: {} (fix: `unitlab clean`)",
            short(&created.id),
            engine::describe(&e)
        )));
    }
    std::fs::create_dir_all(dest).map_err(|e| fail(format!("creating {}: {e}", dest.display())))?;
    let mut archive = tar::Archive::new(&tar[..]);
    archive.set_preserve_permissions(true);
    archive.unpack(dest).map_err(|e| {
        fail(format!(
            "unpacking {} into {}: {e}",
            image.reference,
            dest.display()
        ))
    })?;
    Ok(ExportedRootfs {
        reference: image.reference,
        id: image.id,
        args,
        env: config.env.unwrap_or_default(),
    })
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// What [`clean`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Ids of removed containers.
    pub containers: Vec<String>,
    /// Ids of removed images.
    pub images: Vec<String>,
    /// Objects that could not be removed, with why.
    pub failures: Vec<String>,
}

/// Removes every container carrying the lab's label (from any run, running or not).
pub fn clean(docker_host: Option<&str>) -> Result<CleanReport, BackendError> {
    clean_with(docker_host, false)
}

/// Like [`clean`]; with `images`, also removes the images the lab built (they are rebuilt on
/// the next `prepare`; user images are never labelled, so never removed).
pub fn clean_with(docker_host: Option<&str>, images: bool) -> Result<CleanReport, BackendError> {
    clean_matching(docker_host, None, images)
}

/// Like [`clean_with`], removing only the lab's containers that also carry `label` (a Docker
/// label filter such as `unitlab.owner_pid=1234`: the containers of one run, whose process was
/// killed, without touching a concurrent run's).
pub fn clean_label(
    docker_host: Option<&str>,
    label: &str,
    images: bool,
) -> Result<CleanReport, BackendError> {
    clean_matching(docker_host, Some(label), images)
}

/// Like [`clean_with`]; with `label`, only the lab's containers that also carry it.
pub fn clean_matching(
    docker_host: Option<&str>,
    label: Option<&str>,
    images: bool,
) -> Result<CleanReport, BackendError> {
    let engine = Engine::connect(docker_host)?;
    let d = &engine.docker;
    let mut report = CleanReport::default();
    let mut wanted = vec![format!("{LABEL}=1")];
    wanted.extend(label.map(str::to_string));
    let filters = HashMap::from([("label".to_string(), wanted)]);
    engine.block_on(async {
        let list = d
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(|e| BackendError::Protocol {
                message: format!("listing containers failed: {}", engine::describe(&e)),
            })?;
        for c in list {
            let Some(id) = c.id else { continue };
            let opts = RemoveContainerOptionsBuilder::default().force(true).build();
            match d.remove_container(&id, Some(opts)).await {
                Ok(()) => report.containers.push(id),
                Err(e) => report
                    .failures
                    .push(format!("container {id}: {}", engine::describe(&e))),
            }
        }
        if images {
            let list = d
                .list_images(Some(
                    ListImagesOptionsBuilder::default()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .map_err(|e| BackendError::Protocol {
                    message: format!("listing images failed: {}", engine::describe(&e)),
                })?;
            for i in list {
                let opts = RemoveImageOptionsBuilder::default().force(true).build();
                match d.remove_image(&i.id, Some(opts), None).await {
                    Ok(_) => report.images.push(i.id),
                    Err(e) => {
                        report
                            .failures
                            .push(format!("image {}: {}", i.id, engine::describe(&e)))
                    }
                }
            }
        }
        Ok::<_, BackendError>(())
    })?;
    Ok(report)
}

/// Ids of the containers present in the engine (running or not) that carry `label` (a Docker
/// label filter such as `unitlab.function=noop`); `None` means the lab's label `unitlab=1`.
pub fn labelled_containers(
    docker_host: Option<&str>,
    label: Option<&str>,
) -> Result<Vec<String>, BackendError> {
    let engine = Engine::connect(docker_host)?;
    let label = label
        .map(str::to_string)
        .unwrap_or_else(|| format!("{LABEL}=1"));
    let filters = HashMap::from([("label".to_string(), vec![label])]);
    let list = engine
        .block_on(
            engine.docker.list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            )),
        )
        .map_err(|e| BackendError::Protocol {
            message: format!("listing containers failed: {}", engine::describe(&e)),
        })?;
    Ok(list.into_iter().filter_map(|c| c.id).collect())
}

/// Force-removes every container this process started and still holds: call it from a Ctrl-C
/// handler before exiting (it opens its own connection, so it does not wait for a busy unit).
/// From then on `start` refuses to create containers (until [`resume_after_interrupt`]), and
/// creates already sent to the engine are waited for and removed too, so a run interrupted in
/// the middle of a start leaves nothing behind. Returns how many were removed.
pub fn remove_live_units() -> usize {
    use std::sync::atomic::Ordering;
    // No container may be created from now on; creates already sent are waited for.
    unit::STOPPING.store(true, Ordering::SeqCst);
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    let mut engines: BTreeMap<String, Option<Engine>> = BTreeMap::new();
    let mut removed = 0;
    // A container whose removal failed (e.g. the engine was still starting it) is tried again.
    let mut retry: Vec<(String, String)> = Vec::new();
    loop {
        let in_flight = unit::IN_FLIGHT.load(Ordering::SeqCst);
        let mut batch: Vec<(String, String)> = {
            let mut map = unit::LIVE.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *map).into_iter().collect()
        };
        batch.append(&mut retry);
        if batch.is_empty() && in_flight == 0 {
            break;
        }
        for (id, host) in batch {
            let engine = engines
                .entry(host.clone())
                .or_insert_with(|| Engine::connect(Some(&host)).ok());
            let Some(engine) = engine else { continue };
            let opts = RemoveContainerOptionsBuilder::default().force(true).build();
            match engine.block_on(engine.docker.remove_container(&id, Some(opts))) {
                Ok(()) => removed += 1,
                // Already gone (its unit removed it).
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(_) => retry.push((id, host)),
            }
        }
        if std::time::Instant::now() > give_up {
            break;
        }
        if !retry.is_empty() || in_flight > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    removed
}

/// Lets units be created again after [`remove_live_units`] (for tests and long-lived hosts
/// that handled an interrupt without exiting).
pub fn resume_after_interrupt() {
    unit::STOPPING.store(false, std::sync::atomic::Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse() {
        let mut c = Config::default();
        c.set("image", "node").unwrap();
        assert_eq!(c.image, ImageChoice::Node);
        c.set("image", "my/img:1").unwrap();
        assert_eq!(c.image, ImageChoice::User("my/img:1".into()));
        c.set("network", "bridge").unwrap();
        assert_eq!(c.network, Network::Bridge);
        assert!(c.set("network", "host").is_err());
        c.set("memory_limit", "256m").unwrap();
        assert_eq!(c.memory_limit, Some(256 << 20));
        c.set("memory_limit", "1048576").unwrap();
        assert_eq!(c.memory_limit, Some(1 << 20));
        assert!(c.set("memory_limit", "lots").is_err());
        c.set("cpus", "0.5").unwrap();
        assert_eq!(c.cpus, Some(0.5));
        assert!(c.set("cpus", "-1").is_err());
        c.set("runtime", "crun").unwrap();
        assert_eq!(c.runtime, Some(Runtime::Crun));
        let e = c.set("runtime", "kata").unwrap_err();
        assert!(e.to_string().contains("`runsc`"), "{e}");
        let e = c.set("bogus", "1").unwrap_err();
        assert!(e.to_string().contains("network"), "{e}");
        for (k, _) in OPTIONS {
            assert!(
                !matches!(c.clone().set(k, "x"), Err(BackendError::BadOption { message, .. }) if message.contains("unknown option")),
                "{k} is listed but not accepted"
            );
        }
    }

    /// A runtime the engine lacks: the error names the package and the fix, which differs
    /// when the binary is missing (install, then register) and when it is only unregistered.
    #[test]
    fn unregistered_runtime_names_package_and_fix() {
        let engine = runtime::EngineRuntimes {
            registered: [("runc".to_string(), vec![])].into_iter().collect(),
            default: "runc".into(),
        };
        assert_eq!(
            check_registered(Runtime::Runc, &engine, None).unwrap(),
            Vec::<String>::new()
        );
        let e = check_registered(Runtime::Crun, &engine, None).unwrap_err();
        let BackendError::Unavailable { reason, fix, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(reason.contains("`crun` is not installed"), "{reason}");
        assert!(reason.contains("it has: runc"), "{reason}");
        assert!(fix.contains("apt-get install -y crun"), "{fix}");
        assert!(fix.contains("scripts/setup-runtimes.sh"), "{fix}");
        let e = check_registered(
            Runtime::Runsc,
            &engine,
            Some(std::path::Path::new("/usr/bin/runsc")),
        )
        .unwrap_err();
        let BackendError::Unavailable { reason, fix, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(
            reason.contains("installed (/usr/bin/runsc) but"),
            "{reason}"
        );
        assert!(
            fix.contains("daemon.json") && fix.contains("--platform=ptrace"),
            "{fix}"
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("2g"), Some(2 << 30));
        assert_eq!(parse_bytes("64MiB"), Some(64 << 20));
        assert_eq!(parse_bytes("10k"), Some(10 << 10));
        assert_eq!(parse_bytes("x"), None);
    }

    #[test]
    fn host_resolution() {
        assert_eq!(resolve_host(Some("/tmp/x.sock")), "unix:///tmp/x.sock");
        assert_eq!(resolve_host(Some("tcp://h:2375")), "tcp://h:2375");
    }
}
