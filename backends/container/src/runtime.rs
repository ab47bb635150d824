//! OCI runtimes: the program that turns a bundle into a running container. Docker's default is
//! runc; crun is a smaller C implementation of the same job; runsc (gVisor) runs the
//! container's system calls in a user-space kernel instead of the host's.
//!
//! The `container` backend asks dockerd for one of them (`HostConfig.runtime`, so the runtime
//! must be registered in `/etc/docker/daemon.json`); the `oci` backend runs the binary
//! directly. Both record the runtime, its version and, for runsc, its platform.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use unitlab_backend::Boundary;

/// The set-up script that installs the runtimes and registers them with dockerd.
pub const SETUP_SCRIPT: &str = "scripts/setup-runtimes.sh";

/// An OCI runtime the lab knows how to install, register and describe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Runtime {
    /// runc (Go): Docker's default runtime.
    #[default]
    Runc,
    /// crun (C): the same namespaces and cgroups, a smaller and faster program.
    Crun,
    /// runsc (gVisor): a user-space kernel (the sentry) between the container and the host.
    Runsc,
}

impl Runtime {
    /// Every runtime, from the cheapest boundary to the most expensive.
    pub const ALL: [Runtime; 3] = [Runtime::Crun, Runtime::Runc, Runtime::Runsc];

    /// The name on the command line, in daemon.json and in results.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Crun => "crun",
            Runtime::Runsc => "runsc",
        }
    }

    /// Parses a runtime name.
    pub fn parse(name: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The Debian package that installs it.
    pub fn package(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Crun => "crun",
            Runtime::Runsc => "runsc",
        }
    }

    /// Where the isolation boundary of its containers lies.
    pub fn boundary(self) -> Boundary {
        match self {
            Runtime::Runsc => Boundary::UserSpaceKernel,
            Runtime::Runc | Runtime::Crun => Boundary::Namespaces,
        }
    }

    /// Global options the lab passes to the binary when it runs it directly (the `oci`
    /// backend): runsc on the ptrace platform without a network stack, as it is registered
    /// with dockerd (`--platform=kvm` hangs under nested virtualisation; see the README).
    pub fn default_args(self) -> &'static [&'static str] {
        match self {
            Runtime::Runsc => &["--platform=ptrace", "--network=none"],
            Runtime::Runc | Runtime::Crun => &[],
        }
    }

    /// The fix for a runtime that is not installed.
    pub fn install_fix(self) -> String {
        format!(
            "install Debian's `{}` package: `{SETUP_SCRIPT}` (or `apt-get install -y {}`)",
            self.package(),
            self.package()
        )
    }

    /// The fix for a runtime dockerd does not know.
    pub fn register_fix(self) -> String {
        let entry = match self {
            Runtime::Runsc => r#""runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]}"#.to_string(),
            other => format!(r#""{0}": {{"path": "/usr/bin/{0}"}}"#, other.name()),
        };
        format!(
            "run `{SETUP_SCRIPT}` (installs `{}` and registers it), or add {entry} to `runtimes` in /etc/docker/daemon.json and restart dockerd",
            self.package()
        )
    }

    /// The binary on `PATH` (also `/usr/sbin`, where Debian puts runc).
    pub fn binary(self) -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
        dirs.into_iter()
            .map(|d| d.join(self.name()))
            .find(|p| is_executable(p))
    }

    /// The first line of `<binary> --version` (`crun version 1.8.1`), when it runs.
    pub fn version(self, binary: &Path) -> Option<String> {
        let out = std::process::Command::new(binary)
            .arg("--version")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .next()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The value of `--platform=` in a runtime's arguments (runsc), if any.
pub fn platform_of(args: &[String]) -> Option<String> {
    args.iter()
        .find_map(|a| a.strip_prefix("--platform=").map(str::to_string))
}

/// What dockerd has registered: runtime name -> its `runtimeArgs`, plus the default runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineRuntimes {
    /// Registered runtimes and their arguments.
    pub registered: BTreeMap<String, Vec<String>>,
    /// The engine's default runtime (`runc` unless configured).
    pub default: String,
}

/// One line per known runtime, for `unitlab doctor`: which ones the engine has, which ones are
/// installed for the `oci` backend, and the fix for each missing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeStatus {
    /// The runtime.
    pub runtime: Runtime,
    /// The binary and its version, when installed.
    pub installed: Option<(PathBuf, String)>,
    /// Whether dockerd has it registered (`None`: the engine did not answer).
    pub registered: Option<bool>,
    /// What to do about what is missing (empty when nothing is).
    pub fixes: Vec<String>,
}

/// Every runtime the engine at `docker_host` (or the default) has registered, with its
/// default; `None` when the engine does not answer.
pub fn engine_runtimes(docker_host: Option<&str>) -> Option<EngineRuntimes> {
    crate::engine::Engine::connect(docker_host)
        .ok()
        .map(|e| e.runtimes())
}

/// The status of every known runtime, asking the engine at `docker_host` (or the default).
pub fn statuses(docker_host: Option<&str>) -> Vec<RuntimeStatus> {
    let engine = crate::engine::Engine::connect(docker_host).ok();
    let registered = engine.as_ref().map(|e| e.runtimes());
    Runtime::ALL
        .into_iter()
        .map(|runtime| {
            let installed = runtime.binary().map(|b| {
                let v = runtime
                    .version(&b)
                    .unwrap_or_else(|| "version unknown".into());
                (b, v)
            });
            let reg = registered
                .as_ref()
                .map(|r| r.registered.contains_key(runtime.name()));
            let mut fixes = Vec::new();
            if installed.is_none() {
                fixes.push(runtime.install_fix());
            }
            if reg == Some(false) {
                fixes.push(runtime.register_fix());
            }
            RuntimeStatus {
                runtime,
                installed,
                registered: reg,
                fixes,
            }
        })
        .collect()
}

/// The set-up flag that consents to the hybrid-cgroup fix.
pub const CGROUP_FIX_FLAG: &str = "--fix-hybrid-cgroups";

/// crun (1.8) refuses hybrid cgroups ("cgroups in hybrid mode not supported, drop all
/// controllers from cgroupv2") when the cgroup2 mount beside the v1 hierarchies holds a
/// controller. Returns the explanation when `unified` (normally
/// `/sys/fs/cgroup/unified/cgroup.controllers`) lists one.
pub fn hybrid_cgroup_problem(unified_controllers: &Path) -> Option<String> {
    let text = std::fs::read_to_string(unified_controllers).ok()?;
    let controllers = text.split_whitespace().collect::<Vec<_>>();
    (!controllers.is_empty()).then(|| {
        format!(
            "hybrid cgroups: the cgroup2 mount holds the controller(s) {} ({}), and crun refuses \
             that (\"cgroups in hybrid mode not supported\"). Fix: `{SETUP_SCRIPT} {CGROUP_FIX_FLAG}` \
             mounts them as v1 hierarchies (e.g. `mkdir /sys/fs/cgroup/hugetlb && mount -t cgroup \
             -o hugetlb cgroup /sys/fs/cgroup/hugetlb`), while no cgroup2 group uses them",
            controllers.join(", "),
            unified_controllers.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_cgroups_are_explained() {
        let dir = std::env::temp_dir().join(format!("unitlab-cg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("cgroup.controllers");
        std::fs::write(&f, "hugetlb\n").unwrap();
        let why = hybrid_cgroup_problem(&f).unwrap();
        assert!(
            why.contains("hugetlb") && why.contains(CGROUP_FIX_FLAG),
            "{why}"
        );
        std::fs::write(&f, "\n").unwrap();
        assert_eq!(hybrid_cgroup_problem(&f), None);
        assert_eq!(hybrid_cgroup_problem(&dir.join("missing")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_round_trip_and_boundaries() {
        for r in Runtime::ALL {
            assert_eq!(Runtime::parse(r.name()), Some(r));
        }
        assert_eq!(Runtime::parse("kata"), None);
        assert_eq!(Runtime::Runsc.boundary(), Boundary::UserSpaceKernel);
        assert_eq!(Runtime::Crun.boundary(), Boundary::Namespaces);
        assert!(Runtime::Runsc.register_fix().contains("--platform=ptrace"));
        assert!(Runtime::Crun
            .install_fix()
            .contains("apt-get install -y crun"));
        assert_eq!(
            platform_of(&["--network=none".into(), "--platform=ptrace".into()]).as_deref(),
            Some("ptrace")
        );
    }
}
