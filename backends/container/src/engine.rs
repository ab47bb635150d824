//! The connection to the Docker engine: a bollard client and the tokio runtime that drives it.
//!
//! The [`unitlab_backend::Backend`] trait is synchronous, so every engine call goes through
//! [`Engine::block_on`]. The runtime is multi-threaded (two workers) so that units used from
//! several harness threads at once can each block on their own calls.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use bollard::Docker;
use unitlab_backend::BackendError;

/// The socket used when neither the config nor `DOCKER_HOST` name an engine.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// What fixes an engine that does not answer.
pub const ENGINE_FIX: &str = "run scripts/setup-docker.sh (installs docker.io and starts dockerd) or start your Docker daemon; or point DOCKER_HOST (or `--opt docker_host=unix:///path/to/docker.sock`) at a running engine";

/// How long the first contact with the engine may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The engine address to use: the explicit one, else `DOCKER_HOST`, else the default socket.
pub fn resolve_host(explicit: Option<&str>) -> String {
    if let Some(h) = explicit.filter(|h| !h.is_empty()) {
        return normalize(h);
    }
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => normalize(&h),
        _ => DEFAULT_DOCKER_HOST.to_string(),
    }
}

fn normalize(host: &str) -> String {
    if host.starts_with('/') {
        format!("unix://{host}")
    } else {
        host.to_string()
    }
}

/// A connected engine.
pub(crate) struct Engine {
    pub rt: tokio::runtime::Runtime,
    pub docker: Docker,
    /// The address, as the user would write it (`unix:///var/run/docker.sock`).
    pub host: String,
    /// `docker_engine`, `api_version`, `containerd`, `runc`, ... from the version API.
    pub versions: BTreeMap<String, String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("host", &self.host)
            .field("versions", &self.versions)
            .finish()
    }
}

/// The error for an engine that cannot be reached: names the address and the fix.
pub(crate) fn unreachable(host: &str, why: impl std::fmt::Display) -> BackendError {
    BackendError::Unavailable {
        backend: "container".into(),
        reason: format!("cannot reach the Docker engine at {host}: {why}"),
        fix: ENGINE_FIX.into(),
    }
}

impl Engine {
    /// Connects and negotiates the API version (one round trip: fails fast when the engine
    /// is not running).
    pub fn connect(explicit_host: Option<&str>) -> Result<Engine, BackendError> {
        let host = resolve_host(explicit_host);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("unitlab-docker")
            .enable_all()
            .build()
            .map_err(|e| BackendError::io("starting the tokio runtime for the Docker client", e))?;
        if let Some(path) = host.strip_prefix("unix://") {
            if !std::path::Path::new(path).exists() {
                return Err(unreachable(
                    &host,
                    format!("the socket {path} does not exist"),
                ));
            }
        }
        let docker = {
            // bollard's hyper clients must be created inside the runtime.
            let _guard = rt.enter();
            if host.starts_with("unix://") {
                Docker::connect_with_unix(&host, 120, bollard::API_DEFAULT_VERSION)
            } else {
                Docker::connect_with_host(&host)
            }
        }
        .map_err(|e| unreachable(&host, e))?;
        let (docker, version) = rt
            .block_on(async {
                let contact = async {
                    let docker = docker.negotiate_version().await?;
                    let version = docker.version().await?;
                    Ok::<_, bollard::errors::Error>((docker, version))
                };
                tokio::time::timeout(CONNECT_TIMEOUT, contact)
                    .await
                    .map_err(|_| format!("no answer within {CONNECT_TIMEOUT:?}"))?
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| unreachable(&host, e))?;
        let mut versions = BTreeMap::new();
        if let Some(v) = version.version {
            versions.insert("docker_engine".to_string(), v);
        }
        versions.insert(
            "api_version".to_string(),
            docker.client_version().to_string(),
        );
        for c in version.components.unwrap_or_default() {
            let name = c.name.to_lowercase();
            if name != "engine" {
                versions.insert(name.replace(' ', "_"), c.version);
            }
        }
        if let Some(k) = version.kernel_version {
            versions.insert("kernel".to_string(), k);
        }
        Ok(Engine {
            rt,
            docker,
            host,
            versions,
        })
    }

    /// The OCI runtimes the engine has registered (one `GET /info`); empty when it fails.
    pub fn runtimes(&self) -> crate::runtime::EngineRuntimes {
        let mut out = crate::runtime::EngineRuntimes::default();
        if let Ok(info) = self.block_on(self.docker.info()) {
            for (name, r) in info.runtimes.unwrap_or_default() {
                out.registered
                    .insert(name, r.runtime_args.unwrap_or_default());
            }
            out.default = info.default_runtime.unwrap_or_default();
        }
        out
    }

    /// Runs a future on the engine's runtime from synchronous code.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

/// Describes an engine error in one line, for messages.
pub(crate) fn describe(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => format!("the engine answered {status_code}: {message}"),
        other => other.to_string(),
    }
}

/// True when the engine could not be reached at all: its socket is gone or refuses
/// connections (the daemon stopped).
pub(crate) fn is_unreachable(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    use std::io::ErrorKind as K;
    match e {
        E::HyperLegacyError { err } => err.is_connect(),
        E::IOError { err } => matches!(
            err.kind(),
            K::ConnectionRefused | K::NotFound | K::ConnectionReset | K::BrokenPipe
        ),
        E::SocketNotFoundError(_) => true,
        _ => false,
    }
}

/// The error of a failed start step (`what`, e.g. "creating a container from ... failed"):
/// [`BackendError::Unavailable`] when the engine stopped answering, which ends a measurement
/// at once with the fix, instead of a failed unit.
pub(crate) fn start_error(host: &str, what: String, err: &bollard::errors::Error) -> BackendError {
    if is_unreachable(err) {
        BackendError::Unavailable {
            backend: "container".into(),
            reason: format!(
                "the Docker engine at {host} stopped answering ({what}: {}); containers this \
                 run started may remain: once the engine is back, `unitlab clean` removes them",
                describe(err)
            ),
            fix: ENGINE_FIX.into(),
        }
    } else {
        BackendError::Start {
            message: format!("{what}: {}", describe(err)),
        }
    }
}
