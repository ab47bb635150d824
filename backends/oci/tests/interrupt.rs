//! Ctrl-C clean-up, in a test binary of its own: `remove_live_units` removes every unit of
//! the process, so no other test may run beside it.

use unitlab_backend::{Backend, Function, FunctionSpec};
use unitlab_backend_oci::{leftovers, remove_live_units, Config, OciBackend};

/// A unit leaked on purpose (as an interrupted run holds it): the Ctrl-C clean-up finds it in
/// the live list and deletes its container and bundle.
#[test]
fn interrupt_cleanup_removes_live_units() {
    let dir = tempfile::Builder::new()
        .prefix("unitlab-oci-test")
        .tempdir()
        .unwrap();
    let mut config = Config::default();
    config.set("dir", dir.path().to_str().unwrap()).unwrap();
    config.set("runtime", "crun").unwrap();
    let b = OciBackend::new(config).expect("crun installed (scripts/setup-runtimes.sh)");
    let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
    std::mem::forget(p.start().unwrap());
    let (containers, bundles) = leftovers(dir.path());
    assert_eq!((containers.len(), bundles.len()), (1, 1));
    assert_eq!(remove_live_units(), 1);
    let (containers, bundles) = leftovers(dir.path());
    assert!(
        containers.is_empty() && bundles.is_empty(),
        "{containers:?} {bundles:?}"
    );
    // Nor its cgroups (`/unitlab-oci-unitlab-<pid>-<n>` in each hierarchy).
    let mine = format!("unitlab-oci-unitlab-{}-", std::process::id());
    let left: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .flat_map(|c| std::fs::read_dir(c.path()).into_iter().flatten().flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&mine))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "cgroups left: {left:?}");
}
