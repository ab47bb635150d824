//! The host's view of a container's memory: PSS/RSS of its processes and of its shim, read
//! from `/proc` (works when the engine runs on this host, in the same pid namespace).
//! Also used by the `oci` backend, whose units have no shim.

use std::collections::BTreeMap;

/// `(ppid, comm)` of a process, from `/proc/<pid>/stat`.
pub fn stat(pid: u32) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    let ppid = text[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
    Some((ppid, comm))
}

/// `pid` and all its descendants (one scan of `/proc`).
pub fn tree(pid: u32) -> Vec<u32> {
    let mut parent_of = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            {
                if let Some((ppid, _)) = stat(p) {
                    parent_of.insert(p, ppid);
                }
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i];
        out.extend(
            parent_of
                .iter()
                .filter(|(_, &pp)| pp == cur)
                .map(|(&p, _)| p),
        );
        i += 1;
    }
    out
}

/// Sum of `(pss, rss)` over `pids`; `None` when none could be read.
pub fn sum(pids: &[u32]) -> Option<(u64, u64)> {
    let mut any = false;
    let (mut pss, mut rss) = (0, 0);
    for &p in pids {
        if let Some((a, b)) = unitlab_backend::pid_memory(p) {
            any = true;
            pss += a;
            rss += b;
        }
    }
    any.then_some((pss, rss))
}

/// The containerd shim serving the container whose init process is `pid`: its parent, when
/// that parent is a `containerd-shim*` process.
pub fn shim_of(pid: u32) -> Option<u32> {
    let (ppid, _) = stat(pid)?;
    let (_, comm) = stat(ppid)?;
    // comm is truncated to 15 bytes: "containerd-shim".
    comm.starts_with("containerd-shi").then_some(ppid)
}

/// Whether `arg` holds `needle` as a whole name: not followed by a character that would make
/// it a longer name (`/b/unit-1` is in `--bundle=/b/unit-1` and `/b/unit-1/config.json`, not
/// in `/b/unit-10`).
fn names(arg: &str, needle: &str) -> bool {
    arg.match_indices(needle).any(|(i, _)| {
        arg[i + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
    })
}

/// Pids whose command line has `needle` as one of its arguments or inside one, as a whole name
/// (a bundle path, a container id): the processes a runtime starts beside the container
/// (gVisor's gofer), or a runtime serving it in the foreground.
pub fn with_argument(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if cmdline
                .split(|&b| b == 0)
                .any(|arg| names(&String::from_utf8_lossy(arg), needle))
            {
                out.push(pid);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_readable() {
        let me = std::process::id();
        let (ppid, comm) = stat(me).unwrap();
        assert!(ppid > 0 && !comm.is_empty());
        assert!(tree(me).contains(&me));
        let (pss, rss) = sum(&[me]).unwrap();
        assert!(pss > 0 && rss >= pss);
    }

    #[test]
    fn a_name_is_matched_whole() {
        assert!(names("/b/unit-1", "/b/unit-1"));
        assert!(names("--bundle=/b/unit-1", "/b/unit-1"));
        assert!(names("/b/unit-1/config.json", "/b/unit-1"));
        assert!(names("/b/unit-10 /b/unit-1", "/b/unit-1"));
        assert!(!names("/b/unit-10", "/b/unit-1"));
        assert!(!names("/b/unit-1.old", "/b/unit-1"));
        assert!(!names("/b/unit", "/b/unit-1"));
    }
}
