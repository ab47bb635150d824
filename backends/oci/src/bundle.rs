//! Root file systems (exported once from the container backend's image, cached) and bundles
//! (one `config.json` per unit pointing at the shared, read-only root file system).

use std::path::{Path, PathBuf};

use serde_json::json;
use unitlab_backend::BackendError;
use unitlab_backend_container::ImageChoice;

/// The prefix of every unit's cgroup (`/unitlab-oci-<id>`, at the top of each hierarchy: no
/// shared parent is left behind, and the runtime's `delete` removes the unit's own).
pub(crate) const CGROUP_PREFIX: &str = "unitlab-oci-";

/// A cached root file system and what to run in it.
#[derive(Debug, Clone)]
pub(crate) struct Rootfs {
    pub path: PathBuf,
    pub reference: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
}

fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn io_fail(what: &str, path: &Path, e: std::io::Error) -> BackendError {
    BackendError::Prepare {
        function: "rootfs".into(),
        message: format!("{what} {}: {e}", path.display()),
    }
}

/// The root file system of `image` under `<dir>/rootfs/`, exported through the engine the first
/// time (the tag is a hash of the image's contents, so a cached one is current).
pub(crate) fn rootfs(
    dir: &Path,
    image: &ImageChoice,
    docker_host: Option<&str>,
) -> Result<Rootfs, BackendError> {
    let base = dir.join("rootfs");
    let known = unitlab_backend_container::image_reference(image);
    if let Some(reference) = &known {
        let path = base.join(safe(reference));
        if let Ok(text) = std::fs::read_to_string(path.with_extension("json")) {
            if let Ok(meta) = serde_json::from_str::<serde_json::Value>(&text) {
                let list = |k: &str| -> Vec<String> {
                    meta[k]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                if path.is_dir() && !list("args").is_empty() {
                    return Ok(Rootfs {
                        path,
                        reference: reference.clone(),
                        args: list("args"),
                        env: list("env"),
                    });
                }
            }
        }
    }
    std::fs::create_dir_all(&base).map_err(|e| io_fail("creating", &base, e))?;
    let tmp = base.join(format!(".export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let exported = unitlab_backend_container::export_rootfs(docker_host, image, &tmp);
    let exported = match exported {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let path = base.join(safe(&exported.reference));
    // Another process may have finished the same export meanwhile: its copy is identical.
    let _ = std::fs::remove_dir_all(&path);
    std::fs::rename(&tmp, &path).map_err(|e| io_fail("renaming the export to", &path, e))?;
    let meta = json!({ "id": exported.id, "args": exported.args, "env": exported.env });
    std::fs::write(path.with_extension("json"), meta.to_string())
        .map_err(|e| io_fail("writing", &path.with_extension("json"), e))?;
    Ok(Rootfs {
        path,
        reference: exported.reference,
        args: exported.args,
        env: exported.env,
    })
}

/// The OCI spec of one unit: the image's entrypoint in new pid, network, ipc, uts and mount
/// namespaces, a read-only root, the default mounts and masked paths of `runc spec`, no
/// terminal (stdio are the pipes the runtime was started with).
pub(crate) fn config(rootfs: &Rootfs, id: &str, memory_limit: Option<u64>) -> serde_json::Value {
    let mut env = rootfs.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut resources = json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    if let Some(m) = memory_limit {
        resources["memory"] = json!({ "limit": m, "swap": m });
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": rootfs.args,
            "env": env,
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": rootfs.path, "readonly": true },
        "hostname": "unitlab",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] }
        ],
        "linux": {
            "cgroupsPath": format!("/{CGROUP_PREFIX}{id}"),
            "resources": resources,
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Writes `<bundle>/config.json`.
pub(crate) fn write(
    bundle: &Path,
    rootfs: &Rootfs,
    id: &str,
    memory_limit: Option<u64>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(bundle)?;
    let text = serde_json::to_vec_pretty(&config(rootfs, id, memory_limit))
        .map_err(std::io::Error::other)?;
    std::fs::write(bundle.join("config.json"), text)
}

/// The unit's memory cgroup usage (v1 `memory.usage_in_bytes`, v2 `memory.current`).
pub(crate) fn cgroup_memory(id: &str) -> Option<u64> {
    [
        format!("/sys/fs/cgroup/memory/{CGROUP_PREFIX}{id}/memory.usage_in_bytes"),
        format!("/sys/fs/cgroup/{CGROUP_PREFIX}{id}/memory.current"),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse().ok())
}

/// Removes the units' cgroups a killed runtime left behind, when empty (best effort: a
/// cgroup that still holds a process stays). Returns the ones removed.
pub(crate) fn remove_leftover_cgroups() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![root.to_path_buf()];
    if let Ok(controllers) = std::fs::read_dir(root) {
        dirs.extend(controllers.flatten().map(|c| c.path()));
    }
    let mut removed = Vec::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().starts_with(CGROUP_PREFIX)
                && std::fs::remove_dir(e.path()).is_ok()
            {
                removed.push(e.path());
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_points_at_the_shared_rootfs() {
        let r = Rootfs {
            path: "/x/rootfs/r".into(),
            reference: "unitlab/runner:1".into(),
            args: vec!["/unitlab-runner".into()],
            env: vec![],
        };
        let c = config(&r, "u-1", Some(1 << 20));
        assert_eq!(c["root"]["path"], "/x/rootfs/r");
        assert_eq!(c["root"]["readonly"], true);
        assert_eq!(c["process"]["terminal"], false);
        assert_eq!(c["process"]["args"][0], "/unitlab-runner");
        assert_eq!(c["linux"]["cgroupsPath"], "/unitlab-oci-u-1");
        assert_eq!(c["linux"]["resources"]["memory"]["limit"], 1 << 20);
        assert!(c["process"]["env"][0]
            .as_str()
            .unwrap()
            .starts_with("PATH="));
    }
}
