//! The `v8` backend against the real V8 (Debian's libnode, see scripts/setup-v8.sh).
//!
//! Every test is skipped with a loud message when libnode is unavailable, unless
//! `UNITLAB_REQUIRE_V8=1`, which turns the skip into a failure (for CI machines that ran the
//! setup script).

use std::io::Write;
use std::time::Duration;

use unitlab_backend::{
    process_rss_bytes, Availability, Backend, BackendError, Function, FunctionSource, FunctionSpec,
    Limits, Request,
};
use unitlab_backend_v8::{availability, Config, V8Backend};

fn backend() -> Option<V8Backend> {
    match availability() {
        Availability::Available(_) => Some(V8Backend::new(Config::default()).expect("available")),
        Availability::Unavailable { reason, fix } => {
            if std::env::var("UNITLAB_REQUIRE_V8").as_deref() == Ok("1") {
                panic!("v8 unavailable: {reason}; fix: {fix}");
            }
            eprintln!("SKIPPED: v8 backend unavailable: {reason}\n  fix: {fix}");
            None
        }
    }
}

/// A user JS file (kept alive by the returned guard).
fn js(source: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .prefix("unitlab-v8-test-")
        .suffix(".js")
        .tempfile()
        .unwrap();
    f.write_all(source.as_bytes()).unwrap();
    f
}

fn user_spec(file: &tempfile::NamedTempFile, limits: Limits) -> FunctionSpec {
    FunctionSpec {
        name: "user".into(),
        source: FunctionSource::File(file.path().to_path_buf()),
        limits,
    }
}

/// The catalogue still works after whatever the previous test step did.
fn next_unit_works(b: &V8Backend) {
    let p = b.prepare(&FunctionSpec::catalogue(Function::Cpu)).unwrap();
    let mut u = p.start().unwrap();
    let r = u.invoke(&Request { size: 1, seed: 42 }).unwrap();
    assert_eq!(r.value, Function::Cpu.expected(1, 42));
}

#[test]
fn catalogue_values_match_the_reference() {
    let Some(b) = backend() else { return };
    let info = b.info();
    assert!(info.in_process);
    assert!(info.versions["v8"].starts_with("10."), "{info:?}");
    for f in Function::ALL {
        let p = b.prepare(&FunctionSpec::catalogue(f)).unwrap();
        let mut u = p.start().unwrap();
        let phases: Vec<_> = u.start_phases().into_iter().map(|p| p.name).collect();
        assert_eq!(phases, ["isolate", "context", "compile"]);
        // Cold, then warm invokes on the same isolate, with varied inputs.
        for (size, seed) in [(0, 0), (1, 7), (3, 0x9E37_79B9), (2, u32::MAX)] {
            let r = u.invoke(&Request { size, seed }).unwrap();
            assert_eq!(r.value, f.expected(size, seed), "{f}({size}, {seed})");
            assert!(r.guest_nanos.is_some());
        }
        let m = u.memory().unwrap();
        assert!(m.engine_bytes.unwrap() > 0);
        for k in [
            "v8_used_heap",
            "v8_total_heap",
            "v8_physical",
            "v8_external",
        ] {
            assert!(m.details.contains_key(k), "{k}");
        }
        u.stop().unwrap();
    }
}

#[test]
fn user_function_with_the_catalogue_prelude() {
    let Some(b) = backend() else { return };
    let f = js("function handler(size, seed) {\n  return (cpu(size, seed) ^ 1) >>> 0;\n}\n");
    let p = b.prepare(&user_spec(&f, Limits::default())).unwrap();
    let mut u = p.start().unwrap();
    let r = u.invoke(&Request { size: 2, seed: 9 }).unwrap();
    assert_eq!(r.value, Function::Cpu.expected(2, 9) ^ 1);

    // Without the prelude, `cpu` is not defined.
    let mut c = Config::default();
    c.set("catalogue_prelude", "false").unwrap();
    let b2 = V8Backend::new(c).unwrap();
    let p = b2.prepare(&user_spec(&f, Limits::default())).unwrap();
    let err = p.start().unwrap().invoke(&Request { size: 1, seed: 1 });
    let msg = err.unwrap_err().to_string();
    assert!(msg.contains("cpu is not defined"), "{msg}");
}

#[test]
fn syntax_error_is_reported_at_prepare_with_its_line() {
    let Some(b) = backend() else { return };
    let f = js("// line 1\nfunction handler(size, seed) {\n  return size +* seed;\n}\n");
    let err = b
        .prepare(&user_spec(&f, Limits::default()))
        .err()
        .expect("a syntax error must fail prepare");
    let msg = err.to_string();
    assert!(matches!(err, BackendError::Prepare { .. }), "{err:?}");
    assert!(msg.contains("SyntaxError"), "{msg}");
    assert!(msg.contains(":3:"), "line 3 expected in: {msg}");
    next_unit_works(&b);
}

#[test]
fn missing_handler_and_bad_return_values() {
    let Some(b) = backend() else { return };
    let f = js("function handle_it(size, seed) { return 1; }\n");
    let msg = b
        .prepare(&user_spec(&f, Limits::default()))
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("no global function `handler`"), "{msg}");

    let f = js("function handler(size, seed) { return size === 0 ? 'text' : -1; }\n");
    let p = b.prepare(&user_spec(&f, Limits::default())).unwrap();
    let mut u = p.start().unwrap();
    let err = u.invoke(&Request { size: 0, seed: 0 }).unwrap_err();
    assert!(err.to_string().contains("expected a number"), "{err}");
    // ToUint32(-1) is 0xFFFF_FFFF.
    assert_eq!(
        u.invoke(&Request { size: 1, seed: 0 }).unwrap().value,
        u32::MAX
    );
    next_unit_works(&b);
}

#[test]
fn thrown_exception_carries_message_and_line() {
    let Some(b) = backend() else { return };
    let f = js("function handler(size, seed) {\n  if (size === 1) {\n    throw new Error('boom ' + seed);\n  }\n  if (size === 2) return deep(0);\n  return 5;\n}\nfunction deep(n) { return deep(n + 1) + 1; }\n");
    let p = b.prepare(&user_spec(&f, Limits::default())).unwrap();
    let mut u = p.start().unwrap();
    let err = u.invoke(&Request { size: 1, seed: 77 }).unwrap_err();
    assert!(matches!(err, BackendError::Guest { .. }), "{err:?}");
    assert!(err.is_unit_fault());
    let msg = err.to_string();
    assert!(msg.contains("Error: boom 77"), "{msg}");
    assert!(msg.contains(":3:"), "line 3 expected in: {msg}");
    assert!(msg.contains("at handler"), "stack expected in: {msg}");
    // The same isolate keeps working after a throw.
    assert_eq!(u.invoke(&Request { size: 0, seed: 0 }).unwrap().value, 5);
    // Unbounded recursion is V8's RangeError, not a crash of the process.
    let err = u.invoke(&Request { size: 2, seed: 0 }).unwrap_err();
    assert!(
        err.to_string().contains("Maximum call stack size exceeded"),
        "{err}"
    );
    assert_eq!(u.invoke(&Request { size: 0, seed: 0 }).unwrap().value, 5);
    next_unit_works(&b);
}

#[test]
fn infinite_loop_is_stopped_by_the_deadline() {
    let Some(b) = backend() else { return };
    let f = js("function handler(size, seed) {\n  while (size > 0) {}\n  return 9;\n}\n");
    let deadline = Duration::from_millis(100);
    let limits = Limits {
        deadline: Some(deadline),
        ..Limits::default()
    };
    let p = b.prepare(&user_spec(&f, limits)).unwrap();
    let mut u = p.start().unwrap();
    let err = u.invoke(&Request { size: 1, seed: 0 }).unwrap_err();
    assert!(
        matches!(err, BackendError::Deadline { deadline: d } if d == deadline),
        "{err:?}"
    );
    // The isolate is usable again once the termination is cancelled.
    assert_eq!(u.invoke(&Request { size: 0, seed: 0 }).unwrap().value, 9);
    assert!(matches!(
        u.invoke(&Request { size: 1, seed: 0 }),
        Err(BackendError::Deadline { .. })
    ));
    next_unit_works(&b);

    // Formatting what the guest threw or returned runs guest code too, under the same deadline.
    let f = js("function handler(size) {\n  const evil = { toString() { for (;;) {} } };\n  if (size === 1) throw evil;\n  if (size === 2) return evil;\n  return 3;\n}\n");
    let p = b
        .prepare(&user_spec(
            &f,
            Limits {
                deadline: Some(deadline),
                ..Limits::default()
            },
        ))
        .unwrap();
    let mut u = p.start().unwrap();
    for size in [1, 2] {
        let err = u.invoke(&Request { size, seed: 0 }).unwrap_err();
        assert!(matches!(err, BackendError::Deadline { .. }), "{err:?}");
        assert_eq!(u.invoke(&Request { size: 0, seed: 0 }).unwrap().value, 3);
    }

    // A loop at the top level of the script is bounded too (and fails prepare).
    let f = js("while (true) {}\nfunction handler() { return 1; }\n");
    let err = b
        .prepare(&user_spec(
            &f,
            Limits {
                deadline: Some(deadline),
                ..Limits::default()
            },
        ))
        .err()
        .unwrap();
    assert!(err.to_string().contains("deadline"), "{err}");
}

#[test]
fn deadline_from_config_applies_when_the_function_sets_none() {
    let Some(_) = backend() else { return };
    let mut c = Config::default();
    c.set("deadline_ms", "50").unwrap();
    let b = V8Backend::new(c).unwrap();
    let f = js("function handler() { for (;;) {} }\n");
    let p = b.prepare(&user_spec(&f, Limits::default())).unwrap();
    let err = p
        .start()
        .unwrap()
        .invoke(&Request { size: 0, seed: 0 })
        .unwrap_err();
    assert!(
        matches!(err, BackendError::Deadline { deadline } if deadline == Duration::from_millis(50)),
        "{err:?}"
    );
}

#[test]
fn heap_exhaustion_is_a_memory_limit_error_and_the_process_survives() {
    let Some(b) = backend() else { return };
    let f = js("function handler(size, seed) {\n  const a = [];\n  for (;;) a.push({ x: new Array(1000).fill(seed), s: 'k' + a.length });\n}\n");
    let limit = 16u64 << 20;
    let limits = Limits {
        memory_bytes: Some(limit),
        deadline: Some(Duration::from_secs(30)),
        cpus: None,
    };
    let p = b.prepare(&user_spec(&f, limits.clone())).unwrap();
    for _ in 0..3 {
        let mut u = p.start().unwrap();
        let err = u.invoke(&Request { size: 0, seed: 1 }).unwrap_err();
        assert!(
            matches!(err, BackendError::MemoryLimit { limit: Some(l), .. } if l == limit),
            "{err:?}"
        );
        assert!(err.is_unit_fault());
        // The isolate is gone: later calls fail cleanly, and memory has nothing to report.
        let again = u.invoke(&Request { size: 0, seed: 1 }).unwrap_err();
        assert!(again.to_string().contains("start a new unit"), "{again}");
        assert_eq!(u.memory().unwrap().engine_bytes, None);
    }
    next_unit_works(&b);

    // Allocations far larger than the limit at once: V8 checks the limit at GC time, when the
    // heap can already be well past it; the callback must still let the guest unwind.
    for body in [
        "const a = []; for (;;) a.push(new Array(2e6).fill(1.5));",
        "const a = new Array(3e7); for (let i = 0; i < a.length; i++) a[i] = i + 0.5; return 1;",
        "const a = new Array(2e7).fill(0); const b = []; for (;;) b.push({});",
    ] {
        let f = js(&format!("function handler(size, seed) {{ {body} }}\n"));
        let p = b.prepare(&user_spec(&f, limits.clone())).unwrap();
        let err = p
            .start()
            .unwrap()
            .invoke(&Request { size: 0, seed: 1 })
            .unwrap_err();
        assert!(
            matches!(err, BackendError::MemoryLimit { .. }),
            "{body}: {err:?}"
        );
    }
    next_unit_works(&b);

    // ArrayBuffers are counted against the same limit (catalogue `alloc` of 32 MiB > 16 MiB).
    let spec = FunctionSpec {
        limits,
        ..FunctionSpec::catalogue(Function::Alloc)
    };
    let p = b.prepare(&spec).unwrap();
    let mut u = p.start().unwrap();
    assert_eq!(
        u.invoke(&Request { size: 8, seed: 3 }).unwrap().value,
        Function::Alloc.expected(8, 3)
    );
    let err = u.invoke(&Request { size: 32, seed: 3 }).unwrap_err();
    assert!(matches!(err, BackendError::MemoryLimit { .. }), "{err:?}");
    assert!(err.to_string().contains("ArrayBuffer"), "{err}");
    next_unit_works(&b);
}

#[test]
fn a_thousand_isolates_in_a_row() {
    let Some(b) = backend() else { return };
    let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
    // Warm up the process (platform threads, first-isolate costs) before the baseline.
    drop(p.start().unwrap());
    let before = process_rss_bytes();
    for i in 0..1000u32 {
        let mut u = p.start().unwrap();
        let r = u.invoke(&Request { size: 0, seed: i }).unwrap();
        assert_eq!(r.value, Function::Noop.expected(0, i));
        u.stop().unwrap();
    }
    let after = process_rss_bytes();
    unitlab_backend_v8::release_freed_memory();
    let trimmed = process_rss_bytes();
    if let (Some(a), Some(b), Some(t)) = (before, after, trimmed) {
        eprintln!(
            "1000 isolates created and disposed: RSS before {:.1} MiB, after {:.1} MiB, \
             kept {:+.1} MiB ({:+.1} KiB per isolate); after malloc_trim {:.1} MiB \
             (other tests running in this process add to these figures)",
            a as f64 / 1048576.0,
            b as f64 / 1048576.0,
            (b as f64 - a as f64) / 1048576.0,
            (b as f64 - a as f64) / 1024.0 / 1000.0,
            t as f64 / 1048576.0
        );
    }
}

#[test]
fn units_on_two_threads_and_moved_between_threads() {
    let Some(b) = backend() else { return };
    let p = b.prepare(&FunctionSpec::catalogue(Function::Cpu)).unwrap();
    let p: std::sync::Arc<dyn unitlab_backend::Prepared> = std::sync::Arc::from(p);
    let workers: Vec<_> = (0..2u32)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut units = Vec::new();
                for i in 0..20u32 {
                    let mut u = p.start().unwrap();
                    let seed = t * 1000 + i;
                    assert_eq!(
                        u.invoke(&Request { size: 1, seed }).unwrap().value,
                        Function::Cpu.expected(1, seed)
                    );
                    units.push(u);
                }
                units
            })
        })
        .collect();
    let mut units: Vec<_> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    // Units created on the workers are used (and dropped) on this thread.
    for (i, u) in units.iter_mut().enumerate() {
        let seed = 5000 + i as u32;
        assert_eq!(
            u.invoke(&Request { size: 1, seed }).unwrap().value,
            Function::Cpu.expected(1, seed)
        );
    }
    assert_eq!(units.len(), 40);
}

#[test]
fn process_wide_settings_are_fixed_by_the_first_prepare() {
    let Some(b) = backend() else { return };
    // Make sure V8 runs (with the default settings) before asking for others.
    next_unit_works(&b);
    let settings = b.info().settings;
    assert_eq!(settings["v8_flags"], unitlab_backend_v8::DEFAULT_V8_FLAGS);
    assert_eq!(settings["anchor"], "true");
    for (key, value) in [("v8_flags", "--stack-size=900"), ("anchor", "false")] {
        let mut c = Config::default();
        c.set(key, value).unwrap();
        let other = V8Backend::new(c).unwrap();
        let err = other
            .prepare(&FunctionSpec::catalogue(Function::Noop))
            .err()
            .expect("a different process-wide setting must be refused once V8 runs");
        let msg = err.to_string();
        assert!(
            msg.contains("already started") && msg.contains(key),
            "{msg}"
        );
    }
}

#[test]
fn code_cache_and_source_compile_agree_and_keep_error_lines() {
    let Some(_) = backend() else { return };
    let f = js("function handler(size, seed) {\n  if (size === 9) {\n    throw new Error(\"nine\");\n  }\n  return (cpu(size, seed) ^ 3) >>> 0;\n}\n");
    for cached in ["true", "false"] {
        let mut c = Config::default();
        c.set("code_cache", cached).unwrap();
        let b = V8Backend::new(c).unwrap();
        assert_eq!(b.info().settings["code_cache"], cached);
        for spec in [
            user_spec(&f, Limits::default()),
            FunctionSpec::catalogue(Function::Alloc),
        ] {
            let p = b.prepare(&spec).unwrap();
            // Several isolates from the same cache.
            for seed in 0..3 {
                let mut u = p.start().unwrap();
                let r = u.invoke(&Request { size: 2, seed }).unwrap();
                let want = match &spec.source {
                    FunctionSource::Catalogue(f) => f.expected(2, seed),
                    _ => Function::Cpu.expected(2, seed) ^ 3,
                };
                assert_eq!(r.value, want, "code_cache={cached} {spec:?}");
            }
        }
        // A throw in a function that came from the cache still names its line.
        let p = b.prepare(&user_spec(&f, Limits::default())).unwrap();
        let err = p.start().unwrap().invoke(&Request { size: 9, seed: 0 });
        let msg = err.unwrap_err().to_string();
        assert!(msg.contains("nine") && msg.contains(":3"), "{msg}");
    }
}

/// Issue 17: a heap limit below V8's minimum is refused, naming the minimum, instead of being
/// raised silently; a zero deadline is refused too.
#[test]
fn limits_below_what_v8_honours_are_refused() {
    let Some(b) = backend() else { return };
    let mut spec = FunctionSpec::catalogue(Function::Noop);
    spec.limits.memory_bytes = Some(2 << 20);
    let err = match b.prepare(&spec) {
        Ok(_) => panic!("a 2 MiB heap limit was accepted"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(matches!(err, BackendError::Limit { .. }), "{text}");
    assert!(
        text.contains("--memory-limit 2MiB") && text.contains("below 4MiB"),
        "{text}"
    );
    spec.limits.memory_bytes = Some(4 << 20);
    b.prepare(&spec).unwrap();
    spec.limits.deadline = Some(Duration::ZERO);
    let err = match b.prepare(&spec) {
        Ok(_) => panic!("a zero deadline was accepted"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("--deadline"), "{err}");
}
