//! The container backend against the real Docker engine (start it with
//! scripts/setup-docker.sh). These tests fail, never skip, when the engine does not answer.
//!
//! Leak check: when this test process exits, after its own tests, no container it created
//! (label `unitlab.owner_pid=<this pid>`) may remain, or the process exits with status 101.
//! It looks only at this process's containers, so it holds whatever order or parallelism the
//! test runner uses (cargo test's threads, nextest's process per test) and whatever else runs
//! on the engine. `scripts/test.sh` checks the whole engine once the suite is over.

use std::path::Path;
use std::time::Duration;

use unitlab_backend::{
    Backend, BackendError, Function, FunctionSource, FunctionSpec, Limits, Request,
};
use unitlab_backend_container::{
    availability_at, images::runner_tag, labelled_containers, Config, ContainerBackend,
};

/// The label of the containers this test process creates.
fn owner_label() -> String {
    format!("unitlab.owner_pid={}", std::process::id())
}

/// Registers, once, the leak check that runs at process exit (see the module docs).
fn check_leaks_at_exit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn check() {
        // Runs after libtest has printed its summary: a leak is reported on stderr and turns
        // the exit status into a failure.
        match labelled_containers(None, Some(&owner_label())) {
            Ok(left) if left.is_empty() => {}
            Ok(left) => {
                eprintln!(
                    "leak check: containers of this test process remain after its tests: {left:?}\n  fix: every unit must remove its container when dropped or failed; `unitlab clean` removes them"
                );
                // SAFETY: _exit has no preconditions; it ends the process without running
                // further exit handlers.
                unsafe { libc::_exit(101) };
            }
            Err(e) => {
                eprintln!("leak check: listing this process's containers failed: {e}");
                // SAFETY: as above.
                unsafe { libc::_exit(101) };
            }
        }
    }
    ONCE.call_once(|| {
        // SAFETY: `check` is a plain `extern "C" fn()` that lives for the whole program.
        let rc = unsafe { libc::atexit(check) };
        assert_eq!(rc, 0, "registering the leak check failed");
    });
}

fn backend_with(opts: &[(&str, &str)]) -> ContainerBackend {
    check_leaks_at_exit();
    let mut config = Config::default();
    for (k, v) in opts {
        config.set(k, v).unwrap();
    }
    ContainerBackend::new(config).unwrap_or_else(|e| {
        panic!(
            "the container tests need a running Docker engine ({e}); run scripts/setup-docker.sh"
        )
    })
}

/// `unwrap_err` for results whose Ok side has no Debug (trait objects).
fn expect_err<T>(r: Result<T, BackendError>) -> BackendError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

/// A unique function name, so each test can look for its own containers by label.
fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

fn containers_of(function: &str) -> Vec<String> {
    labelled_containers(None, Some(&format!("unitlab.function={function}"))).unwrap()
}

fn build_dir(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    dir
}

fn user_spec(name: &str, dir: &Path) -> FunctionSpec {
    FunctionSpec {
        name: name.to_string(),
        source: FunctionSource::File(dir.to_path_buf()),
        limits: Limits::default(),
    }
}

fn check_catalogue(backend: &ContainerBackend) {
    for f in Function::ALL {
        let p = backend.prepare(&FunctionSpec::catalogue(f)).unwrap();
        let mut unit = p.start().unwrap();
        let phases: Vec<_> = unit.start_phases().into_iter().map(|p| p.name).collect();
        assert_eq!(phases, ["create", "attach", "start", "ready"]);
        for (size, seed) in [(0, 0), (2, 7), (3, 0xdead_beef)] {
            let resp = unit.invoke(&Request { size, seed }).unwrap();
            assert_eq!(
                resp.value,
                f.expected(size, seed),
                "{f} size {size} seed {seed}"
            );
        }
        let mem = unit.memory().unwrap();
        assert!(mem.engine_bytes.unwrap() > 0, "{mem:?}");
        assert!(mem.host_bytes.unwrap() > 0, "{mem:?}");
        assert!(mem.details.contains_key("container_pss"), "{mem:?}");
        assert!(mem.details.contains_key("shim_pss"), "{mem:?}");
        unit.stop().unwrap();
    }
}

#[test]
fn catalogue_on_the_scratch_runner_image() {
    let b = backend_with(&[]);
    check_catalogue(&b);
    let info = b.info();
    assert_eq!(info.name, "container");
    assert!(info.versions.contains_key("docker_engine"), "{info:?}");
    assert!(info.versions.contains_key("api_version"), "{info:?}");
    assert_eq!(info.settings["network"], "none");
    assert_eq!(info.settings["image"], "runner");
    assert!(info.settings["image_id"].starts_with("sha256:"), "{info:?}");
    assert_eq!(info.settings["image_ref"], runner_tag());
}

#[test]
fn catalogue_on_the_node_image() {
    let b = backend_with(&[("image", "node")]);
    check_catalogue(&b);
    assert!(b.info().settings["image_ref"].starts_with("unitlab/node:"));
}

#[test]
fn bridge_network_and_limits_are_applied() {
    let b = backend_with(&[
        ("network", "bridge"),
        ("cpus", "0.5"),
        ("memory_limit", "64m"),
    ]);
    let p = b.prepare(&FunctionSpec::catalogue(Function::Cpu)).unwrap();
    let mut unit = p.start().unwrap();
    assert_eq!(
        unit.invoke(&Request { size: 1, seed: 3 }).unwrap().value,
        Function::Cpu.expected(1, 3)
    );
    let mem = unit.memory().unwrap();
    assert_eq!(mem.details["cgroup_limit"], 64 << 20, "{mem:?}");
    unit.stop().unwrap();
    let info = b.info();
    assert_eq!(info.settings["network"], "bridge");
    assert_eq!(info.settings["cpus"], "0.5");
    assert_eq!(info.settings["memory_limit"], (64u64 << 20).to_string());
}

#[test]
fn user_image_speaking_the_protocol() {
    let b = backend_with(&[]);
    b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap(); // builds the runner image
    let spec = FunctionSpec {
        name: "noop".into(),
        source: FunctionSource::Image(runner_tag()),
        limits: Limits::default(),
    };
    let mut unit = b.prepare(&spec).unwrap().start().unwrap();
    assert_eq!(
        unit.invoke(&Request { size: 0, seed: 0 }).unwrap().value,
        Function::Noop.expected(0, 0)
    );
    unit.stop().unwrap();
    let missing = FunctionSpec {
        name: "x".into(),
        source: FunctionSource::Image("unitlab-test/does-not-exist:1".into()),
        limits: Limits::default(),
    };
    let err = expect_err(b.prepare(&missing));
    assert!(err.to_string().contains("nothing is pulled"), "{err}");
}

#[test]
fn engine_not_running_names_the_socket_and_the_fix() {
    let host = "unix:///nonexistent/unitlab/docker.sock";
    let mut config = Config::default();
    config.set("docker_host", host).unwrap();
    let err = ContainerBackend::new(config).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BackendError::Unavailable { .. }), "{text}");
    assert!(text.contains("/nonexistent/unitlab/docker.sock"), "{text}");
    assert!(text.contains("scripts/setup-docker.sh"), "{text}");
    match availability_at(Some(host)) {
        unitlab_backend::Availability::Unavailable { reason, fix } => {
            assert!(
                reason.contains("/nonexistent/unitlab/docker.sock"),
                "{reason}"
            );
            assert!(fix.contains("setup-docker.sh"), "{fix}");
        }
        other => panic!("{other:?}"),
    }
    // A socket file nobody listens on: the same error, not a hang.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let mut config = Config::default();
    config.set("docker_host", sock.to_str().unwrap()).unwrap();
    let err = ContainerBackend::new(config).unwrap_err();
    assert!(err.to_string().contains("dead.sock"), "{err}");
}

#[test]
fn image_build_failure_carries_the_log_tail() {
    let b = backend_with(&[]);
    let dir = build_dir("FROM scratch\nCOPY no-such-file-here /x\nENTRYPOINT [\"/x\"]\n");
    let err = expect_err(b.prepare(&user_spec("broken", dir.path())));
    let text = err.to_string();
    assert!(matches!(err, BackendError::Prepare { .. }), "{text}");
    assert!(text.contains("last lines of the build log"), "{text}");
    assert!(text.contains("COPY no-such-file-here"), "{text}");
    let err = expect_err(b.prepare(&user_spec(
        "nodockerfile",
        tempfile::tempdir().unwrap().path(),
    )));
    assert!(err.to_string().contains("Dockerfile"), "{err}");
}

#[test]
fn container_exiting_early_is_reported_and_removed() {
    let b = backend_with(&[]);
    b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
    let dir = build_dir(&format!("FROM {}\nCMD [\"--exit\", \"3\"]\n", runner_tag()));
    let name = unique("exits");
    let p = b.prepare(&user_spec(&name, dir.path())).unwrap();
    let err = expect_err(p.start());
    let text = err.to_string();
    assert!(matches!(err, BackendError::Protocol { .. }), "{text}");
    assert!(text.contains("exit code 3"), "{text}");
    assert!(text.contains("removed"), "{text}");
    assert!(containers_of(&name).is_empty());
}

#[test]
fn container_never_ready_times_out_and_is_removed() {
    let b = backend_with(&[("start_timeout_ms", "700")]);
    b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
    let dir = build_dir(&format!("FROM {}\nCMD [\"--hang\"]\n", runner_tag()));
    let name = unique("hangs");
    let p = b.prepare(&user_spec(&name, dir.path())).unwrap();
    let err = expect_err(p.start());
    assert!(err.to_string().contains("no `ready <pid>` line"), "{err}");
    assert!(containers_of(&name).is_empty());
}

#[test]
fn deadline_stops_and_removes_the_container() {
    let b = backend_with(&[]);
    let mut spec = FunctionSpec::catalogue(Function::Cpu);
    spec.name = unique("slow");
    spec.limits.deadline = Some(Duration::from_millis(300));
    let mut unit = b.prepare(&spec).unwrap().start().unwrap();
    assert_eq!(containers_of(&spec.name).len(), 1);
    let err = unit
        .invoke(&Request {
            size: 4 << 20,
            seed: 1,
        })
        .unwrap_err();
    assert!(matches!(err, BackendError::Deadline { .. }), "{err}");
    assert!(containers_of(&spec.name).is_empty());
    let again = unit.invoke(&Request { size: 0, seed: 0 }).unwrap_err();
    assert!(again.to_string().contains("already removed"), "{again}");
    unit.stop().unwrap();
}

#[test]
fn exceeding_the_memory_limit_is_an_oom_kill() {
    let b = backend_with(&[]);
    let mut spec = FunctionSpec::catalogue(Function::Alloc);
    spec.name = unique("hungry");
    spec.limits.memory_bytes = Some(32 << 20);
    let mut unit = b.prepare(&spec).unwrap().start().unwrap();
    // Within the limit: fine.
    let ok = unit.invoke(&Request { size: 4, seed: 1 }).unwrap();
    assert_eq!(ok.value, Function::Alloc.expected(4, 1));
    let err = unit.invoke(&Request { size: 128, seed: 1 }).unwrap_err();
    match &err {
        BackendError::MemoryLimit { limit, message } => {
            assert_eq!(*limit, Some(32 << 20));
            assert!(message.contains("OOM-killed"), "{message}");
        }
        other => panic!("expected an OOM kill, got {other}"),
    }
    assert!(containers_of(&spec.name).is_empty());
}

#[test]
fn dropping_a_unit_removes_its_container() {
    let b = backend_with(&[]);
    let mut spec = FunctionSpec::catalogue(Function::Noop);
    spec.name = unique("dropped");
    let unit = b.prepare(&spec).unwrap().start().unwrap();
    assert_eq!(containers_of(&spec.name).len(), 1);
    drop(unit);
    assert!(containers_of(&spec.name).is_empty());
}

/// Every runtime the set-up registers (scripts/setup-runtimes.sh): the catalogue answers, the
/// runtime and its boundary are recorded, the start phases are the same, and the host view of
/// a unit's memory counts the runtime's own processes (gVisor's gofer beside its sentry).
#[test]
fn every_registered_runtime_runs_the_catalogue() {
    use unitlab_backend::Boundary;
    use unitlab_backend_container::Runtime;
    for runtime in Runtime::ALL {
        let backend = backend_with(&[("runtime", runtime.name())]);
        let info = backend.info();
        assert_eq!(info.settings["runtime"], runtime.name());
        assert_eq!(info.boundary, Some(runtime.boundary()));
        assert!(info.versions.contains_key(runtime.name()), "{info:?}");
        if runtime == Runtime::Runsc {
            assert_eq!(info.boundary, Some(Boundary::UserSpaceKernel));
            assert_eq!(info.settings["platform"], "ptrace", "{info:?}");
        }
        let p = backend
            .prepare(&FunctionSpec::catalogue(Function::Cpu))
            .unwrap();
        let mut unit = p.start().unwrap();
        let phases: Vec<_> = unit.start_phases().into_iter().map(|p| p.name).collect();
        assert_eq!(phases, ["create", "attach", "start", "ready"], "{runtime}");
        let resp = unit.invoke(&Request { size: 2, seed: 7 }).unwrap();
        assert_eq!(resp.value, Function::Cpu.expected(2, 7), "{runtime}");
        let mem = unit.memory().unwrap();
        let host = mem.host_bytes.unwrap();
        let parts =
            mem.details["container_pss"] + mem.details["runtime_pss"] + mem.details["shim_pss"];
        assert_eq!(host, parts, "{runtime}: {mem:?}");
        if runtime == Runtime::Runsc {
            assert!(
                mem.details["runtime_pss"] > 0,
                "the gofer is counted: {mem:?}"
            );
        } else {
            assert_eq!(mem.details["runtime_pss"], 0, "{runtime}: {mem:?}");
        }
        unit.stop().unwrap();
    }
}
