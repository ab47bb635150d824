//! The process backend against real processes.

use std::time::Duration;

use unitlab_backend::{
    Backend, BackendError, Function, FunctionSource, FunctionSpec, Limits, Request,
};
use unitlab_backend_process::{Config, ProcessBackend};

/// The runner's cache for these tests: under cargo's `target/tmp` (nothing is left in `/tmp`
/// after the suite).
fn cache_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("process-test-cache")
}

fn backend() -> ProcessBackend {
    let mut config = Config::default();
    config
        .set("cache_dir", cache_dir().to_str().unwrap())
        .unwrap();
    ProcessBackend::new(config).unwrap()
}

/// `unwrap_err` for results whose Ok side has no Debug (trait objects).
fn expect_err<T>(r: Result<T, BackendError>) -> BackendError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn is_zombie_or_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s.rsplit(')').next().unwrap().trim_start().starts_with('Z'),
    }
}

#[test]
fn catalogue_values_phases_and_memory() {
    let b = backend();
    assert_eq!(b.name(), "process");
    for f in Function::ALL {
        let p = b.prepare(&FunctionSpec::catalogue(f)).unwrap();
        let mut unit = p.start().unwrap();
        let names: Vec<_> = unit.start_phases().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["spawn", "ready"]);
        for (size, seed) in [(0, 0), (1, 7), (3, 0xdead_beef)] {
            let req = Request { size, seed };
            let resp = unit.invoke(&req).unwrap();
            assert_eq!(resp.value, f.expected(size, seed), "{f} {size} {seed}");
            assert!(resp.guest_nanos.is_some());
        }
        let mem = unit.memory().unwrap();
        assert!(mem.host_bytes.unwrap() > 0);
        assert!(mem.details["rss"] >= mem.details["pss"]);
        assert!(mem.engine_bytes.is_none());
        assert!(unit.id().starts_with("pid:"));
        unit.stop().unwrap();
    }
}

#[test]
fn deadline_kills_the_unit() {
    let b = backend();
    let mut spec = FunctionSpec::catalogue(Function::Cpu);
    spec.limits.deadline = Some(Duration::from_millis(100));
    let p = b.prepare(&spec).unwrap();
    let mut unit = p.start().unwrap();
    let pid: u32 = unit.id().strip_prefix("pid:").unwrap().parse().unwrap();
    // 4 GiB of input takes seconds.
    let err = unit
        .invoke(&Request {
            size: 4 << 20,
            seed: 1,
        })
        .unwrap_err();
    assert!(matches!(err, BackendError::Deadline { .. }), "{err}");
    assert!(is_zombie_or_gone(pid) && std::fs::metadata(format!("/proc/{pid}")).is_err());
    // The unit is dead: later invokes say so instead of hanging.
    let again = unit.invoke(&Request { size: 0, seed: 0 }).unwrap_err();
    assert!(matches!(again, BackendError::Protocol { .. }), "{again}");
    unit.stop().unwrap();
}

#[test]
fn early_exit_is_a_protocol_error() {
    let b = backend();
    let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
    let mut unit = p.start().unwrap();
    // The runner dies behind the backend's back: the next request finds it gone.
    let pid: u32 = unit.id().strip_prefix("pid:").unwrap().parse().unwrap();
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let err = unit.invoke(&Request { size: 0, seed: 0 }).unwrap_err();
    assert!(matches!(err, BackendError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("exited early"), "{err}");
    drop(unit);
    assert!(std::fs::metadata(format!("/proc/{pid}")).is_err(), "reaped");
}

#[test]
fn user_executable_that_never_gets_ready_or_exits() {
    let b = backend();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    use std::os::unix::fs::PermissionsExt;
    let write = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let silent = write("silent.sh", "#!/bin/sh\nexec sleep 30\n");
    let quitter = write("quitter.sh", "#!/bin/sh\nexit 3\n");
    let echo = write(
        "echo.sh",
        "#!/bin/sh\necho \"ready $$\"\nwhile read f s x; do echo \"ok $s 0\"; done\n",
    );
    let mut config = Config::default();
    config.set("start_timeout_ms", "200").unwrap();
    let b2 = ProcessBackend::new(config).unwrap();
    let spec = |path| FunctionSpec {
        name: "mine".into(),
        source: FunctionSource::File(path),
        limits: Limits::default(),
    };
    let err = expect_err(b2.prepare(&spec(silent)).unwrap().start());
    assert!(err.to_string().contains("no `ready <pid>` line"), "{err}");
    let err = expect_err(b.prepare(&spec(quitter)).unwrap().start());
    assert!(err.to_string().contains("exit status: 3"), "{err}");
    let mut unit = b.prepare(&spec(echo)).unwrap().start().unwrap();
    assert_eq!(
        unit.invoke(&Request { size: 42, seed: 0 }).unwrap().value,
        42
    );
    unit.stop().unwrap();
    let err = expect_err(b.prepare(&spec(dir.join("missing"))));
    assert!(matches!(err, BackendError::Prepare { .. }), "{err}");
}

/// Issue 17: a unit killed by a signal under RLIMIT_AS is reported as the memory limit's
/// effect, naming it; without a limit the same death is a protocol error. A limit below the
/// backend's floor is refused before any unit runs.
#[test]
fn a_signal_under_a_memory_limit_is_the_limits_effect() {
    use std::os::unix::fs::PermissionsExt;
    let b = backend();
    let dir = tempfile::tempdir().unwrap();
    let segv = dir.path().join("segv.sh");
    std::fs::write(
        &segv,
        "#!/bin/sh\necho \"ready $$\"\nread l\nkill -SEGV $$\n",
    )
    .unwrap();
    std::fs::set_permissions(&segv, std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = |memory_bytes| FunctionSpec {
        name: "segv".into(),
        source: FunctionSource::File(segv.clone()),
        limits: Limits {
            memory_bytes,
            ..Limits::default()
        },
    };
    let req = Request { size: 1, seed: 1 };
    let mut unit = b.prepare(&spec(Some(256 << 20))).unwrap().start().unwrap();
    match unit.invoke(&req).unwrap_err() {
        BackendError::MemoryLimit { limit, message } => {
            assert_eq!(limit, Some(256 << 20));
            assert!(
                message.contains("under the memory limit (RLIMIT_AS 256MiB)")
                    && message.contains("raise --memory-limit"),
                "{message}"
            );
        }
        other => panic!("expected MemoryLimit, got {other}"),
    }
    let mut unit = b.prepare(&spec(None)).unwrap().start().unwrap();
    let err = unit.invoke(&req).unwrap_err();
    assert!(matches!(err, BackendError::Protocol { .. }), "{err}");

    let err = expect_err(b.prepare(&FunctionSpec {
        limits: Limits {
            memory_bytes: Some(1 << 20),
            ..Limits::default()
        },
        ..FunctionSpec::catalogue(Function::Noop)
    }));
    let text = err.to_string();
    assert!(matches!(err, BackendError::Limit { .. }), "{text}");
    assert!(
        text.contains("--memory-limit 1MiB") && text.contains("below 2MiB"),
        "{text}"
    );
}

#[test]
fn memory_limit_is_reported() {
    let b = backend();
    let mut spec = FunctionSpec::catalogue(Function::Alloc);
    spec.limits.memory_bytes = Some(64 << 20);
    let p = b.prepare(&spec).unwrap();
    let mut unit = p.start().unwrap();
    // Within the limit: fine.
    let ok = unit.invoke(&Request { size: 8, seed: 2 }).unwrap();
    assert_eq!(ok.value, Function::Alloc.expected(8, 2));
    let err = unit.invoke(&Request { size: 256, seed: 2 }).unwrap_err();
    match err {
        BackendError::MemoryLimit { limit, .. } => assert_eq!(limit, Some(64 << 20)),
        other => panic!("expected MemoryLimit, got {other}"),
    }
    // The unit survives a failed allocation.
    let ok = unit.invoke(&Request { size: 1, seed: 3 }).unwrap();
    assert_eq!(ok.value, Function::Alloc.expected(1, 3));
    unit.stop().unwrap();
}

#[test]
fn config_rejects_unknown_keys() {
    let mut c = Config::default();
    let err = c.set("nope", "1").unwrap_err();
    assert!(err.to_string().contains("cache_dir"), "{err}");
    assert!(c.set("start_timeout_ms", "x").is_err());
}
