//! The floor under Docker: a unit is an OCI bundle run directly with an OCI runtime (`crun`,
//! `runc` or `runsc`), with no dockerd, containerd or shim involved. The difference between
//! this backend's cold start and the `container` backend's, for the same runtime and image, is
//! what the engine adds.
//!
//! # Root file system
//! The bundle's root file system is the image the `container` backend builds (`--opt
//! image=runner`, the default: the FROM-scratch static runner; or `node`), exported through
//! the engine once by `prepare` and unpacked into `<dir>/rootfs/<image tag>`; it is mounted
//! read-only and shared by every unit. Nothing is pulled; once the root file system is
//! cached (its tag is a hash of its contents), `prepare` does not contact the engine at all.
//!
//! # A unit's life, and what "ready" means
//! Every start begins with `bundle` (write `<dir>/bundles/<id>/config.json`: the OCI spec,
//! pointing at the shared root file system). The runtime then runs with `--root
//! <dir>/state/<runtime>`, the unit's stdin and stdout as pipes and its stderr in the bundle's
//! `runtime.log`, in one of two lifecycles ([`Lifecycle`], `--opt lifecycle=`):
//! - `run` (the default, the floor): `<runtime> run` stays in the foreground as the
//!   container's parent, as a bare `crun run` does: one exec of the runtime. Phases: `bundle`,
//!   `run` (the exec until the entrypoint's `ready <pid>` line arrived on the pipe). The
//!   resident runtime process is counted in the unit's memory (`runtime_pss`).
//! - `create-start`: `<runtime> create` (namespaces and cgroups set up, the container's process
//!   waits), then `<runtime> start` (the entrypoint is exec'd): two execs of the runtime, as
//!   containerd's shim does under Docker. Phases: `bundle`, `create`, `start`, `ready`.
//!
//! Invokes speak the runner protocol over the same pipes (`unitlab_runner`). `stop` ends the
//! container (`run`: its stdin is closed and the runner exits, killed after
//! [`STOP_GRACE`]; `create-start`: `<runtime> delete --force`), then deletes what the runtime
//! still records and removes the bundle (for runsc in the background: it waits until init
//! has reaped the sandbox; the backend waits for these when dropped); so does every failed
//! start, whose error carries the tail of the runtime's log.
//!
//! # Runtimes (`--runtime crun|runc|runsc`, i.e. `--opt runtime=...`)
//! crun by default (else the first installed of runc and runsc). runsc runs with `--platform=ptrace --network=none`, as the set-up
//! registers it with dockerd (`--opt runtime_args=...` replaces these global arguments).
//! Recorded in [`BackendInfo`]: `settings.runtime`, `settings.runtime_args`,
//! `settings.platform` (runsc), `versions.<runtime>`, and the boundary.
//!
//! # Memory
//! `host_bytes` = PSS of the unit's processes, read from `/proc`: the container's process tree
//! (for runsc: the sentry and its ptrace stubs) plus every other process whose command line
//! names the unit's bundle (runsc's gofer); `details`: `container_pss`, `runtime_pss` and
//! their RSS. `engine_bytes` = the unit's memory cgroup usage (cgroup v1 `memory.usage_in_bytes`
//! or v2 `memory.current` of `/unitlab-oci-<id>`), when the runtime put it there.
//!
//! # Where things live, and cleanup
//! Everything is under one folder ([`default_dir`]: `$UNITLAB_OCI_DIR`, else
//! `<tmp>/unitlab-<uid>/oci`; `--opt dir=`): `rootfs/` (the cached root file systems), `bundles/`
//! (one per live unit) and `state/<runtime>/` (each runtime's `--root`). [`clean`] deletes
//! every container in the state folders and removes every bundle (`unitlab clean`);
//! [`leftovers`] lists what is there.

#![warn(missing_docs)]

mod bundle;
mod unit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use unitlab_backend::{
    Availability, Backend, BackendError, BackendInfo, FunctionSource, FunctionSpec, Prepared,
};
use unitlab_backend_container::{ImageChoice, Runtime};

pub use unitlab_backend_container::runtime;

/// The deadline of one invocation when the function spec sets none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// How long `start` waits for the `ready` line by default.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many bytes of the runtime's log an error carries.
pub const LOG_TAIL: usize = 2048;
/// How long `stop` waits, in the `run` lifecycle, for the runner to exit once its stdin is
/// closed before it kills the container.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// How a unit's container is started (`--opt lifecycle=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lifecycle {
    /// `<runtime> run` in the foreground: one exec of the runtime (the floor).
    #[default]
    Run,
    /// `<runtime> create`, then `<runtime> start`: two execs, as containerd's shim does.
    CreateStart,
}

impl Lifecycle {
    /// The option's spelling: `run` or `create-start`.
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Run => "run",
            Lifecycle::CreateStart => "create-start",
        }
    }
}

/// Keys accepted by [`Config::set`], with their help text.
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "runtime",
        "OCI runtime run directly: `crun` (default), `runc` or `runsc` (gVisor)",
    ),
    (
        "runtime_path",
        "the runtime's binary (default: found on PATH)",
    ),
    (
        "runtime_args",
        "global arguments for the runtime, space separated (default: none; runsc: `--platform=ptrace --network=none`)",
    ),
    (
        "lifecycle",
        "`run` (default: one foreground `<runtime> run`, the floor) or `create-start` (`create` then `start`, two execs, as containerd's shim)",
    ),
    (
        "image",
        "`runner` (FROM-scratch static runner, default) or `node`: the container backend's image, exported as the bundle's root file system",
    ),
    (
        "dir",
        "folder for root file systems, bundles and runtime state (default $UNITLAB_OCI_DIR, else $XDG_CACHE_HOME/unitlab/oci, else <tmp>/unitlab-<uid>/oci)",
    ),
    (
        "memory_limit",
        "cgroup memory limit per unit, bytes or with k/m/g suffix; the function spec's limit wins",
    ),
    (
        "docker_host",
        "engine used once to build and export the image (default: $DOCKER_HOST, else the default socket)",
    ),
    (
        "start_timeout_ms",
        "how long a start waits for the container's `ready` line, in ms (default 30000)",
    ),
];

/// Settings of the oci backend.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The runtime units run with (default crun).
    pub runtime: Option<Runtime>,
    /// The runtime's binary; `None`: found on PATH.
    pub runtime_path: Option<PathBuf>,
    /// Global runtime arguments; `None`: [`Runtime::default_args`].
    pub runtime_args: Option<Vec<String>>,
    /// The image whose file system becomes the root file system.
    pub image: ImageChoice,
    /// Where root file systems, bundles and state live; `None`: [`default_dir`].
    pub dir: Option<PathBuf>,
    /// Default memory limit per unit (bytes).
    pub memory_limit: Option<u64>,
    /// Engine address for the export.
    pub docker_host: Option<String>,
    /// How long start waits for `ready`.
    pub start_timeout: Option<Duration>,
    /// How units are started.
    pub lifecycle: Lifecycle,
}

fn bad_option(key: &str, value: &str, want: &str) -> BackendError {
    BackendError::bad_option("oci", key, value, want)
}

impl Config {
    /// Sets one option by name (see [`OPTIONS`]).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), BackendError> {
        match key {
            "runtime" => {
                self.runtime = Some(Runtime::parse(value).ok_or_else(|| {
                    bad_option(key, value, "an OCI runtime: `crun`, `runc` or `runsc`")
                })?)
            }
            "runtime_path" => self.runtime_path = Some(PathBuf::from(value)),
            "runtime_args" => {
                self.runtime_args = Some(value.split_whitespace().map(str::to_string).collect())
            }
            "image" => {
                self.image = match value {
                    "runner" => ImageChoice::Runner,
                    "node" => ImageChoice::Node,
                    _ => return Err(bad_option(key, value, "`runner` or `node`")),
                }
            }
            "lifecycle" => {
                self.lifecycle = match value {
                    "run" => Lifecycle::Run,
                    "create-start" => Lifecycle::CreateStart,
                    _ => return Err(bad_option(key, value, "`run` or `create-start`")),
                }
            }
            "dir" => self.dir = Some(PathBuf::from(value)),
            "memory_limit" | "memory" => {
                self.memory_limit = Some(
                    unitlab_backend::units::parse_bytes(value)
                        .ok()
                        .filter(|&b| b > 0)
                        .ok_or_else(|| bad_option(key, value, "a byte size like 256m"))?,
                )
            }
            "docker_host" => self.docker_host = Some(value.to_string()),
            "start_timeout_ms" => {
                let ms: u64 = value
                    .parse()
                    .map_err(|_| bad_option(key, value, "milliseconds"))?;
                self.start_timeout = Some(Duration::from_millis(ms));
            }
            _ => return Err(BackendError::unknown_option("oci", key, OPTIONS)),
        }
        Ok(())
    }
}

/// The folder the backend keeps everything in: `$UNITLAB_OCI_DIR`, else `oci/` in the user's
/// unitlab cache folder (`$XDG_CACHE_HOME/unitlab`, else `<tmp>/unitlab-<uid>`, beside the
/// process backend's runner).
pub fn default_dir() -> PathBuf {
    match std::env::var_os("UNITLAB_OCI_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => unitlab_backend_process::default_cache_dir().join("oci"),
    }
}

/// The runtime used without `--runtime`: crun when installed (the cheapest), else the first of
/// runc and runsc that is.
pub fn default_runtime() -> Runtime {
    Runtime::ALL
        .into_iter()
        .find(|r| r.binary().is_some())
        .unwrap_or(Runtime::Crun)
}

/// Available when at least one runtime is installed (and we are root: the runtimes create
/// namespaces and cgroups).
pub fn availability() -> Availability {
    let found: Vec<String> = Runtime::ALL
        .into_iter()
        .filter_map(|r| {
            let b = r.binary()?;
            Some(r.version(&b).unwrap_or_else(|| r.name().to_string()))
        })
        .collect();
    if found.is_empty() {
        return Availability::Unavailable {
            reason: "no OCI runtime installed (crun, runc or runsc)".into(),
            fix: Runtime::Crun.install_fix(),
        };
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Availability::Unavailable {
            reason: "running OCI runtimes directly needs root (namespaces, cgroups)".into(),
            fix: "run unitlab as root (or through sudo)".into(),
        };
    }
    Availability::Available(format!(
        "{} (bundles in {})",
        found.join(", "),
        default_dir().display()
    ))
}

/// The runtime's binary: `path` when given (it must exist), else found on PATH. The error
/// names the package and the fix.
pub fn locate(runtime: Runtime, path: Option<&Path>) -> Result<PathBuf, BackendError> {
    let found = match path {
        Some(p) if p.is_file() => Some(p.to_path_buf()),
        Some(_) => None,
        None => runtime.binary(),
    };
    found.ok_or_else(|| BackendError::Unavailable {
        backend: "oci".into(),
        reason: match path {
            Some(p) => format!(
                "the OCI runtime `{runtime}` is not installed at {}",
                p.display()
            ),
            None => format!("the OCI runtime `{runtime}` is not installed (not on PATH)"),
        },
        fix: runtime.install_fix(),
    })
}

/// The resolved runtime of a backend: which, where, with which global arguments.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeCmd {
    pub runtime: Runtime,
    pub binary: PathBuf,
    pub args: Vec<String>,
    /// `<dir>/state/<runtime>`, the runtime's `--root`.
    pub state: PathBuf,
}

impl RuntimeCmd {
    /// A command for `<binary> <args> --root <state> <sub...>`.
    pub fn command(&self, sub: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(&self.binary);
        c.args(&self.args).arg("--root").arg(&self.state).args(sub);
        c
    }
}

/// Waits for the units' deletions still running in the background (runsc's `delete` waits
/// for its sandbox to be reaped) and returns what failed. The backend calls it when dropped;
/// call it before checking that nothing is left.
pub fn wait_for_deletions() -> Vec<String> {
    unit::wait_pending()
}

/// Deletes every unit this process started and still holds (call it from a Ctrl-C handler),
/// and waits for background deletions. Returns how many units were removed.
pub fn remove_live_units() -> usize {
    unit::remove_live()
}

/// The oci backend.
#[derive(Debug)]
pub struct OciBackend {
    config: Config,
    dir: PathBuf,
    cmd: Arc<RuntimeCmd>,
    version: Option<String>,
}

impl OciBackend {
    /// Finds the runtime; fails with [`BackendError::Unavailable`] naming the package and the
    /// fix when it is not installed.
    pub fn new(config: Config) -> Result<Self, BackendError> {
        let runtime = config.runtime.unwrap_or_else(default_runtime);
        let binary = locate(runtime, config.runtime_path.as_deref())?;
        let dir = config.dir.clone().unwrap_or_else(default_dir);
        let args = config.runtime_args.clone().unwrap_or_else(|| {
            runtime
                .default_args()
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        let version = runtime.version(&binary);
        let cmd = RuntimeCmd {
            runtime,
            binary,
            args,
            state: dir.join("state").join(runtime.name()),
        };
        Ok(OciBackend {
            config,
            dir,
            cmd: Arc::new(cmd),
            version,
        })
    }

    /// The folder holding root file systems, bundles and state.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for OciBackend {
    fn drop(&mut self) {
        for failure in wait_for_deletions() {
            eprintln!("oci: {failure} (fix: `unitlab clean`)");
        }
    }
}

fn image_name(choice: &ImageChoice) -> &str {
    match choice {
        ImageChoice::Runner => "runner",
        ImageChoice::Node => "node",
        ImageChoice::User(u) => u,
    }
}

impl Backend for OciBackend {
    fn name(&self) -> &'static str {
        "oci"
    }

    fn info(&self) -> BackendInfo {
        let r = self.cmd.runtime;
        let mut settings = BTreeMap::new();
        settings.insert("runtime".to_string(), r.name().to_string());
        settings.insert("runtime_path".into(), self.cmd.binary.display().to_string());
        settings.insert("runtime_args".into(), self.cmd.args.join(" "));
        if let Some(p) = runtime::platform_of(&self.cmd.args) {
            settings.insert("platform".into(), p);
        }
        settings.insert("image".into(), image_name(&self.config.image).to_string());
        if let Some(reference) = unitlab_backend_container::image_reference(&self.config.image) {
            settings.insert("image_ref".into(), reference);
        }
        settings.insert("dir".into(), self.dir.display().to_string());
        settings.insert(
            "memory_limit".into(),
            self.config
                .memory_limit
                .map(|b| b.to_string())
                .unwrap_or_else(|| "none".into()),
        );
        settings.insert(
            "ready".into(),
            "entrypoint's `ready <pid>` line read from the container's stdout pipe".into(),
        );
        settings.insert("engine".into(), "none: the runtime is run directly".into());
        let lifecycle = self.config.lifecycle;
        settings.insert("lifecycle".into(), lifecycle.name().into());
        let stop = match lifecycle {
            Lifecycle::Run => {
                format!("stdin closed (killed after {STOP_GRACE:?}), then delete if still recorded")
            }
            Lifecycle::CreateStart => "delete --force".to_string(),
        };
        settings.insert(
            "stop".into(),
            if r == Runtime::Runsc {
                format!("{stop}, in the background (runsc waits for init to reap the sandbox)")
            } else {
                stop.to_string()
            },
        );
        let mut versions = BTreeMap::new();
        versions.insert(
            r.name().to_string(),
            self.version.clone().unwrap_or_else(|| "unknown".into()),
        );
        BackendInfo {
            name: "oci".into(),
            versions,
            settings,
            in_process: false,
            boundary: Some(r.boundary()),
        }
    }

    fn prepare(&self, spec: &FunctionSpec) -> Result<Box<dyn Prepared>, BackendError> {
        // The cgroup takes any limit from the shared 1 MiB floor up; the static runner fits.
        spec.limits.check("oci", 0, "")?;
        let function = match &spec.source {
            FunctionSource::Catalogue(f) => f.name().to_string(),
            other => {
                return Err(BackendError::Prepare {
                    function: spec.name.clone(),
                    message: format!(
                        "the oci backend runs the catalogue in the container backend's images; \
                         {other:?} is not supported (use `--backend container` for images of your own)"
                    ),
                })
            }
        };
        let rootfs = bundle::rootfs(
            &self.dir,
            &self.config.image,
            self.config.docker_host.as_deref(),
        )
        .map_err(|e| match e {
            BackendError::Prepare { message, .. } => BackendError::Prepare {
                function: spec.name.clone(),
                message,
            },
            other => other,
        })?;
        Ok(Box::new(unit::OciPrepared {
            cmd: Arc::clone(&self.cmd),
            dir: self.dir.clone(),
            spec: spec.clone(),
            function,
            rootfs,
            memory_limit: spec.limits.memory_bytes.or(self.config.memory_limit),
            deadline: spec.limits.deadline.unwrap_or(DEFAULT_DEADLINE),
            start_timeout: self.config.start_timeout.unwrap_or(DEFAULT_START_TIMEOUT),
            lifecycle: self.config.lifecycle,
        }))
    }
}

/// Writes a bundle at `bundle` exactly as a unit's (same OCI spec, same cached root file
/// system of `image`, exported first if needed), for timing a bare `crun run` of it
/// (`scripts/bench-container-floors.sh`). The bundle is the caller's to remove.
pub fn write_bundle(
    dir: &Path,
    image: &ImageChoice,
    bundle: &Path,
    id: &str,
) -> Result<(), BackendError> {
    let rootfs = bundle::rootfs(dir, image, None)?;
    bundle::write(bundle, &rootfs, id, None)
        .map_err(|e| BackendError::io(format!("writing the bundle {}", bundle.display()), e))
}

/// What [`clean`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Containers deleted from a runtime's state (`runtime/id`).
    pub containers: Vec<String>,
    /// Bundle folders removed.
    pub bundles: Vec<PathBuf>,
    /// Empty unit cgroups removed (left by a runtime killed before its `delete`).
    pub cgroups: Vec<PathBuf>,
    /// What could not be removed, with why.
    pub failures: Vec<String>,
}

/// What is left in `dir` (after the background deletions finished): containers in each runtime's state (`runtime/id`) and bundles.
pub fn leftovers(dir: &Path) -> (Vec<String>, Vec<PathBuf>) {
    let _ = wait_for_deletions();
    let mut containers = Vec::new();
    for r in Runtime::ALL {
        let state = dir.join("state").join(r.name());
        containers.extend(
            state_ids(r, &state)
                .into_iter()
                .map(|id| format!("{}/{id}", r.name())),
        );
    }
    let bundles = std::fs::read_dir(dir.join("bundles"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    (containers, bundles)
}

/// Container ids in a runtime's state folder (each runtime keeps one entry per container:
/// runc and crun a folder, runsc `<sandbox>_sandbox:<id>.state` files).
fn state_ids(runtime: Runtime, state: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(state) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            match runtime {
                Runtime::Runsc => name
                    .strip_suffix(".state")
                    .and_then(|n| n.split_once(':'))
                    .map(|(_, id)| id.to_string()),
                _ => e.path().is_dir().then_some(name),
            }
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Deletes every container in `dir`'s runtime state folders (killing them) and removes every
/// bundle: what a killed run left behind. `unitlab clean` calls it with [`default_dir`].
pub fn clean(dir: &Path) -> CleanReport {
    let mut report = CleanReport::default();
    report.failures.extend(wait_for_deletions());
    for r in Runtime::ALL {
        let state = dir.join("state").join(r.name());
        let ids = state_ids(r, &state);
        if ids.is_empty() {
            continue;
        }
        let Some(binary) = r.binary() else {
            report.failures.push(format!(
                "{} containers of {r} in {}: {r} is not installed to delete them",
                ids.len(),
                state.display()
            ));
            continue;
        };
        let cmd = RuntimeCmd {
            runtime: r,
            binary,
            args: r.default_args().iter().map(|s| s.to_string()).collect(),
            state: state.clone(),
        };
        for id in ids {
            match unit::end_container(&cmd, &id, &dir.join("bundles").join(&id)) {
                Ok(()) => report.containers.push(format!("{r}/{id}")),
                Err(e) => report.failures.push(format!("{r}/{id}: {e}")),
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("bundles")) {
        for e in entries.flatten() {
            let p = e.path();
            match std::fs::remove_dir_all(&p) {
                Ok(()) => report.bundles.push(p),
                Err(err) => report.failures.push(format!("{}: {err}", p.display())),
            }
        }
    }
    report.cgroups = bundle::remove_leftover_cgroups();
    report
}
