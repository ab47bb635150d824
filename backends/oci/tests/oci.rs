//! The oci backend against the real runtimes (crun, runc, runsc: scripts/setup-runtimes.sh)
//! and the engine (only to export the runner image once). These tests fail, never skip, when a
//! runtime is missing. Each test keeps its bundles and state in a folder of its own and checks
//! that nothing is left in it.

use std::path::Path;

use unitlab_backend::{Backend, BackendError, Boundary, Function, FunctionSpec, Request};
use unitlab_backend_oci::{clean, leftovers, Config, OciBackend};

fn backend(dir: &Path, opts: &[(&str, &str)]) -> OciBackend {
    let mut config = Config::default();
    config.set("dir", dir.to_str().unwrap()).unwrap();
    for (k, v) in opts {
        config.set(k, v).unwrap();
    }
    OciBackend::new(config).unwrap_or_else(|e| {
        panic!("the oci tests need crun, runc and runsc ({e}); run scripts/setup-runtimes.sh")
    })
}

fn expect_err<T>(r: Result<T, BackendError>) -> BackendError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn assert_nothing_left(dir: &Path) {
    let (containers, bundles) = leftovers(dir);
    assert!(containers.is_empty(), "runtime state left: {containers:?}");
    assert!(bundles.is_empty(), "bundles left: {bundles:?}");
}

/// A shared root file system cache, so the export happens once per test binary.
fn rootfs_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("unitlab-oci-test")
        .tempdir()
        .unwrap()
}

#[test]
fn every_runtime_runs_the_catalogue_directly() {
    let dir = rootfs_dir();
    for runtime in ["crun", "runc", "runsc"] {
        let b = backend(dir.path(), &[("runtime", runtime)]);
        let info = b.info();
        assert_eq!(info.name, "oci");
        assert_eq!(info.settings["runtime"], runtime);
        assert!(info.versions[runtime].contains("version"), "{info:?}");
        if runtime == "runsc" {
            assert_eq!(info.boundary, Some(Boundary::UserSpaceKernel));
            assert_eq!(info.settings["platform"], "ptrace");
        } else {
            assert_eq!(info.boundary, Some(Boundary::Namespaces));
        }
        assert_eq!(info.settings["lifecycle"], "run");
        for f in Function::ALL {
            let p = b.prepare(&FunctionSpec::catalogue(f)).unwrap();
            let mut unit = p.start().unwrap();
            let phases: Vec<_> = unit.start_phases().into_iter().map(|p| p.name).collect();
            assert_eq!(phases, ["bundle", "run"]);
            for (size, seed) in [(0, 0), (2, 7)] {
                let resp = unit.invoke(&Request { size, seed }).unwrap();
                assert_eq!(
                    resp.value,
                    f.expected(size, seed),
                    "{runtime} {f} {size} {seed}"
                );
            }
            if f == Function::Noop {
                let mem = unit.memory().unwrap();
                let host = mem
                    .host_bytes
                    .unwrap_or_else(|| panic!("{runtime}: {mem:?}"));
                assert!(host > 0, "{runtime}: {mem:?}");
                assert_eq!(
                    host,
                    mem.details["container_pss"] + mem.details["runtime_pss"]
                );
                // The foreground runtime (and runsc's gofer) are the unit's too.
                assert!(mem.details["runtime_pss"] > 0, "runtime counted: {mem:?}");
            }
            unit.stop().unwrap();
        }
        assert_nothing_left(dir.path());
    }
}

/// The `create-start` lifecycle: two execs of the runtime, each its own phase.
#[test]
fn create_start_lifecycle_times_both_execs() {
    let dir = rootfs_dir();
    for runtime in ["crun", "runsc"] {
        let b = backend(
            dir.path(),
            &[("runtime", runtime), ("lifecycle", "create-start")],
        );
        assert_eq!(b.info().settings["lifecycle"], "create-start");
        let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
        let mut unit = p.start().unwrap();
        let phases: Vec<_> = unit.start_phases().into_iter().map(|p| p.name).collect();
        assert_eq!(phases, ["bundle", "create", "start", "ready"]);
        let resp = unit.invoke(&Request { size: 2, seed: 7 }).unwrap();
        assert_eq!(resp.value, Function::Noop.expected(2, 7), "{runtime}");
        unit.stop().unwrap();
        assert_nothing_left(dir.path());
    }
    let mut config = Config::default();
    let e = config.set("lifecycle", "exec").unwrap_err().to_string();
    assert!(e.contains("`run` or `create-start`"), "{e}");
}

#[test]
fn runtime_not_installed_names_the_package_and_fix() {
    let mut config = Config::default();
    config.set("runtime", "runsc").unwrap();
    config.set("runtime_path", "/nonexistent/runsc").unwrap();
    let e = OciBackend::new(config).unwrap_err();
    let BackendError::Unavailable { reason, fix, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        reason.contains("`runsc` is not installed at /nonexistent/runsc"),
        "{reason}"
    );
    assert!(fix.contains("apt-get install -y runsc"), "{fix}");
    let mut config = Config::default();
    let e = config.set("runtime", "kata").unwrap_err();
    assert!(e.to_string().contains("`crun`, `runc` or `runsc`"), "{e}");
}

/// runsc on a platform that does not exist: the start fails with the runtime's own words,
/// and neither the bundle nor any runtime state is left.
#[test]
fn failing_runtime_shows_its_log_tail_and_leaves_nothing() {
    let dir = rootfs_dir();
    for (lifecycle, step) in [("run", "run"), ("create-start", "create")] {
        let b = backend(
            dir.path(),
            &[
                ("runtime", "runsc"),
                ("runtime_args", "--platform=bogus --network=none"),
                ("lifecycle", lifecycle),
            ],
        );
        let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
        let e = expect_err(p.start()).to_string();
        assert!(e.contains(&format!("runsc {step} of container")), "{e}");
        assert!(e.contains("runtime log tail:"), "{e}");
        assert!(e.contains("bogus"), "the runtime's own message: {e}");
        assert!(e.contains("container and bundle removed"), "{e}");
        assert_nothing_left(dir.path());
        eprintln!("{e}");
    }
}

/// Units leaked as a crash would leave them: `clean` deletes their containers and bundles.
#[test]
fn clean_removes_leaked_containers_and_bundles() {
    let dir = rootfs_dir();
    for runtime in ["crun", "runsc"] {
        let b = backend(dir.path(), &[("runtime", runtime)]);
        let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
        std::mem::forget(p.start().unwrap());
    }
    let (containers, bundles) = leftovers(dir.path());
    assert_eq!(containers.len(), 2, "{containers:?}");
    assert_eq!(bundles.len(), 2, "{bundles:?}");
    let report = clean(dir.path());
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.containers.len(), 2, "{report:?}");
    assert_eq!(report.bundles.len(), 2, "{report:?}");
    assert_nothing_left(dir.path());
}
