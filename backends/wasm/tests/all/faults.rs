//! Failures: traps, deadlines, memory limits, invalid modules, a full pool. After each, the
//! next unit works.

use std::time::{Duration, Instant};

use unitlab_backend::{Backend, BackendError, Function, FunctionSpec, Request};
use unitlab_backend_wasm::Strategy;

use crate::{backend, backend_with, cold, file_spec, guest, limited, prepare};

fn faults() -> FunctionSpec {
    file_spec("faults", guest("faults.wat"))
}

#[test]
fn a_trap_is_a_guest_error_and_the_next_unit_works() {
    for strategy in Strategy::ALL {
        let b = backend(strategy);
        let p = prepare(&b, &faults());
        let mut unit = p.start().unwrap();
        assert_eq!(unit.invoke(&Request { size: 0, seed: 4 }).unwrap().value, 5);
        let err = unit.invoke(&Request { size: 1, seed: 0 }).unwrap_err();
        assert!(matches!(err, BackendError::Guest { .. }), "{err}");
        assert!(err.to_string().contains("unreachable"), "{err}");
        assert!(err.is_unit_fault());
        // The trapped unit is not reused...
        let again = unit.invoke(&Request { size: 0, seed: 4 }).unwrap_err();
        assert!(again.to_string().contains("not reused"), "{again}");
        drop(unit);
        // ...the next one works.
        assert_eq!(cold(p.as_ref(), 0, 9).unwrap(), 10);
    }
}

#[test]
fn an_endless_loop_hits_the_deadline_and_the_next_unit_works() {
    for strategy in [Strategy::Pooling, Strategy::OnDemand] {
        let b = backend(strategy);
        let deadline = Duration::from_millis(50);
        let p = prepare(&b, &limited(faults(), Some(deadline), None));
        let t = Instant::now();
        let err = cold(p.as_ref(), 2, 0).unwrap_err();
        assert!(
            matches!(err, BackendError::Deadline { deadline: d } if d == deadline),
            "{err}"
        );
        assert!(t.elapsed() >= deadline, "stopped before its deadline");
        assert_eq!(cold(p.as_ref(), 0, 1).unwrap(), 2);
        // A unit that ran for a while but under its deadline is fine.
        let cpu = prepare(
            &b,
            &limited(FunctionSpec::catalogue(Function::Cpu), Some(deadline), None),
        );
        assert_eq!(
            cold(cpu.as_ref(), 1, 3).unwrap(),
            Function::Cpu.expected(1, 3)
        );
    }
}

#[test]
fn the_default_deadline_comes_from_the_config() {
    let b = backend_with(
        Strategy::Pooling,
        &[("deadline_ms", "20"), ("tick_us", "500")],
    );
    let p = prepare(&b, &faults());
    let err = cold(p.as_ref(), 2, 0).unwrap_err();
    assert!(
        matches!(err, BackendError::Deadline { deadline } if deadline == Duration::from_millis(20)),
        "{err}"
    );
    assert_eq!(cold(p.as_ref(), 0, 0).unwrap(), 1);
}

#[test]
fn growing_past_the_memory_limit_is_a_memory_limit_error() {
    for strategy in Strategy::ALL {
        let b = backend(strategy);
        let limit = 1u64 << 20;
        let p = prepare(&b, &limited(faults(), None, Some(limit)));
        // Traps after the denied grow.
        let err = cold(p.as_ref(), 3, 0).unwrap_err();
        assert!(
            matches!(err, BackendError::MemoryLimit { limit: Some(l), .. } if l == limit),
            "{strategy}: {err}"
        );
        assert!(err.to_string().contains("limits.memory_bytes"), "{err}");
        // Returns -1 after the denied grow.
        let err = cold(p.as_ref(), 4, 0).unwrap_err();
        assert!(
            matches!(err, BackendError::MemoryLimit { .. }),
            "{strategy}: {err}"
        );
        // Copes with the denied grow: its answer stands.
        assert_eq!(cold(p.as_ref(), 5, 0).unwrap(), 7);
        // And the next unit works.
        assert_eq!(cold(p.as_ref(), 0, 2).unwrap(), 3);

        // The catalogue's alloc under the same limit.
        let alloc = prepare(
            &b,
            &limited(FunctionSpec::catalogue(Function::Alloc), None, Some(limit)),
        );
        let err = cold(alloc.as_ref(), 2, 1).unwrap_err();
        assert!(
            matches!(err, BackendError::MemoryLimit { .. }),
            "{strategy}: {err}"
        );
        assert_eq!(
            cold(alloc.as_ref(), 0, 1).unwrap(),
            Function::Alloc.expected(0, 1)
        );
    }
}

#[test]
fn the_pooling_slot_size_bounds_memory_and_says_which_option_to_raise() {
    let b = backend_with(Strategy::Pooling, &[("max_memory_mib", "4")]);
    let alloc = prepare(&b, &FunctionSpec::catalogue(Function::Alloc));
    let err = cold(alloc.as_ref(), 8, 1).unwrap_err();
    assert!(
        matches!(err, BackendError::MemoryLimit { limit: Some(l), .. } if l == 4 << 20),
        "{err}"
    );
    assert!(err.to_string().contains("max_memory_mib"), "{err}");
    assert_eq!(
        cold(alloc.as_ref(), 2, 1).unwrap(),
        Function::Alloc.expected(2, 1)
    );
}

#[test]
fn an_invalid_module_fails_prepare_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // Not wasm at all.
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x01\0\0\0\x7fnot a section").unwrap();
    // Well-formed but fails validation: the function returns nothing but promises an i32.
    let invalid = dir.path().join("invalid.wasm");
    std::fs::write(
        &invalid,
        wat::parse_str("(module (func (result i32)))").unwrap(),
    )
    .unwrap();
    let b = backend(Strategy::Pooling);
    for path in [garbage, invalid] {
        let err = match b.prepare(&file_spec("bad", path.clone())) {
            Err(e) => e,
            Ok(_) => panic!("{} prepared", path.display()),
        };
        let text = err.to_string();
        assert!(matches!(err, BackendError::Prepare { .. }), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("not a valid WebAssembly module"), "{text}");
    }
    // The invalid one carries wasmtime's validation message.
    let err = b
        .prepare(&file_spec("bad", dir.path().join("invalid.wasm")))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("type mismatch"), "{err}");
    // A missing file names the file too.
    let err = b
        .prepare(&file_spec("gone", dir.path().join("gone.wasm")))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("gone.wasm"), "{err}");
    // The backend still works.
    let noop = prepare(&b, &FunctionSpec::catalogue(Function::Noop));
    assert_eq!(
        cold(noop.as_ref(), 0, 0).unwrap(),
        Function::Noop.expected(0, 0)
    );
}

#[test]
fn a_full_pool_names_max_units_and_frees_slots_on_drop() {
    let b = backend_with(Strategy::Pooling, &[("max_units", "3")]);
    let p = prepare(&b, &FunctionSpec::catalogue(Function::Noop));
    let mut units: Vec<_> = (0..3).map(|_| p.start().unwrap()).collect();
    let err = p.start().err().unwrap();
    let text = err.to_string();
    assert!(matches!(err, BackendError::Start { .. }), "{text}");
    assert!(
        text.contains("max_units = 3") && text.contains("--opt max_units"),
        "{text}"
    );
    units.pop();
    assert_eq!(
        cold(p.as_ref(), 0, 0).unwrap(),
        Function::Noop.expected(0, 0)
    );
    for mut u in units {
        assert_eq!(
            u.invoke(&Request { size: 0, seed: 0 }).unwrap().value,
            0x2A2A_2A2A
        );
    }
}
