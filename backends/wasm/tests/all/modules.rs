//! User modules: the core module ABI, its errors, WASI reactors and WASI commands.

use unitlab_backend::{Backend, BackendError, FunctionSource, FunctionSpec, Limits, Request};
use unitlab_backend_wasm::Strategy;

use crate::{backend, backend_with, cold, file_spec, guest, prepare};

fn write_wat(dir: &tempfile::TempDir, name: &str, wat: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    path
}

#[test]
fn a_core_module_following_the_abi_runs_and_keeps_state_between_invokes() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wat(
        &dir,
        "counter.wasm",
        r#"(module
             (global $n (mut i32) (i32.const 0))
             (func (export "run") (param i32 i32) (result i32)
               (global.set $n (i32.add (global.get $n) (i32.const 1)))
               (i32.add (global.get $n) (i32.mul (local.get 0) (local.get 1)))))"#,
    );
    for strategy in Strategy::ALL {
        let b = backend(strategy);
        let p = prepare(&b, &file_spec("counter", path.clone()));
        let mut unit = p.start().unwrap();
        assert_eq!(
            unit.invoke(&Request { size: 2, seed: 5 }).unwrap().value,
            11
        );
        assert_eq!(
            unit.invoke(&Request { size: 2, seed: 5 }).unwrap().value,
            12
        );
        // No exported memory: its size is unknown, not zero.
        assert_eq!(unit.memory().unwrap().engine_bytes, None);
    }
}

#[test]
fn an_unknown_export_is_a_clear_prepare_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wat(
        &dir,
        "other.wasm",
        r#"(module (func (export "work") (param i32 i32) (result i32) (local.get 0)))"#,
    );
    let b = backend(Strategy::Pooling);
    let err = b.prepare(&file_spec("other", path.clone())).err().unwrap();
    let text = err.to_string();
    assert!(matches!(err, BackendError::Prepare { .. }), "{text}");
    for needle in [
        "other.wasm",
        "`run`",
        "`_start`",
        "`work`",
        "--opt entry=NAME",
    ] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    // Naming the export with --opt entry makes it work.
    let b = backend_with(Strategy::Pooling, &[("entry", "work")]);
    let p = prepare(&b, &file_spec("other", path));
    assert_eq!(cold(p.as_ref(), 6, 1).unwrap(), 6);
}

#[test]
fn an_entry_with_the_wrong_type_or_a_foreign_import_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(Strategy::Pooling);
    let wrong = write_wat(
        &dir,
        "wrong.wasm",
        r#"(module (func (export "run") (param i64) (result i32) (i32.const 0)))"#,
    );
    let text = b
        .prepare(&file_spec("wrong", wrong))
        .err()
        .unwrap()
        .to_string();
    assert!(
        text.contains("(i64) -> (i32)") && text.contains("(i32, i32) -> (i32)"),
        "{text}"
    );

    let foreign = write_wat(
        &dir,
        "foreign.wasm",
        r#"(module (import "env" "host" (func))
             (func (export "run") (param i32 i32) (result i32) (i32.const 0)))"#,
    );
    let text = b
        .prepare(&file_spec("foreign", foreign))
        .err()
        .unwrap()
        .to_string();
    assert!(
        text.contains("`env::host`") && text.contains("wasi_snapshot_preview1"),
        "{text}"
    );

    let image = FunctionSpec {
        name: "img".into(),
        source: FunctionSource::Image("alpine".into()),
        limits: Limits::default(),
    };
    let text = b.prepare(&image).err().unwrap().to_string();
    assert!(text.contains("container backend"), "{text}");
}

#[test]
fn a_wasi_reactor_gets_a_context_and_its_initialize_runs() {
    let b = backend(Strategy::Pooling);
    let p = prepare(&b, &file_spec("reactor", guest("reactor.wat")));
    let mut unit = p.start().unwrap();
    // argc = 1 (the function name), plus the seed.
    assert_eq!(
        unit.invoke(&Request { size: 0, seed: 10 }).unwrap().value,
        11
    );
    assert_eq!(
        unit.invoke(&Request { size: 0, seed: 20 }).unwrap().value,
        21
    );
}

#[test]
fn a_wasi_command_prints_its_value_and_warm_invokes_reinstantiate() {
    for strategy in Strategy::ALL {
        let b = backend(strategy);
        let p = prepare(&b, &file_spec("hello", guest("hello_command.wat")));
        let mut unit = p.start().unwrap();
        for _ in 0..3 {
            assert_eq!(
                unit.invoke(&Request { size: 1, seed: 2 }).unwrap().value,
                42
            );
        }
        assert_eq!(unit.memory().unwrap().engine_bytes, Some(65536));
        // Non-zero exit status: a guest error carrying stderr; the next invoke works.
        let err = unit.invoke(&Request { size: 9, seed: 0 }).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BackendError::Guest { .. }), "{text}");
        assert!(text.contains("status 3") && text.contains("bad"), "{text}");
        assert_eq!(
            unit.invoke(&Request { size: 1, seed: 2 }).unwrap().value,
            42
        );
    }
}

#[test]
fn a_wasi_command_on_a_full_pool_reuses_its_own_slot() {
    // Each warm invoke of a command needs a new instance: the spent one must be freed first.
    let b = backend_with(Strategy::Pooling, &[("max_units", "1")]);
    let p = prepare(&b, &file_spec("hello", guest("hello_command.wat")));
    let mut unit = p.start().unwrap();
    for _ in 0..3 {
        assert_eq!(
            unit.invoke(&Request { size: 1, seed: 2 }).unwrap().value,
            42
        );
    }
}
