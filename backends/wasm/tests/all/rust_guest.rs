//! The Rust WASI guest (`guests/rust-catalogue`): built with cargo for wasm32-wasip1, then run
//! as a WASI command on every strategy.

use std::path::PathBuf;
use std::process::Command;

use unitlab_backend::{Function, Request};
use unitlab_backend_wasm::Strategy;

use crate::{backend, file_spec, prepare};

const TARGET: &str = "wasm32-wasip1";

/// Builds the guest into this test run's scratch directory and returns the .wasm path.
fn build_rust_guest() -> PathBuf {
    let manifest =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/rust-catalogue/Cargo.toml");
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rust-catalogue");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        })
        .unwrap_or(false);
    let output = Command::new(cargo)
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("running cargo");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !installed || stderr.contains("target may not be installed") {
            panic!(
                "the Rust target {TARGET} is missing: run `rustup target add {TARGET}` \
                 (or scripts/setup-wasm.sh)\ncargo said:\n{stderr}"
            );
        }
        panic!("building guests/rust-catalogue failed:\n{stderr}");
    }
    let wasm = target_dir.join(TARGET).join("release/rust-catalogue.wasm");
    assert!(
        wasm.is_file(),
        "cargo succeeded but {} is missing",
        wasm.display()
    );
    wasm
}

#[test]
fn the_rust_wasi_guest_builds_and_answers_like_the_catalogue() {
    let wasm = build_rust_guest();
    for strategy in Strategy::ALL {
        let b = backend(strategy);
        for f in Function::ALL {
            // The function name reaches the command as argv[1] and on stdin.
            let p = prepare(&b, &file_spec(f.name(), wasm.clone()));
            let mut unit = p.start().unwrap();
            for (size, seed) in [(0, 0), (1, 7), (2, u32::MAX)] {
                let resp = unit
                    .invoke(&Request { size, seed })
                    .unwrap_or_else(|e| panic!("{strategy} {f} {size} {seed}: {e}"));
                assert_eq!(
                    resp.value,
                    f.expected(size, seed),
                    "{strategy} {f} {size} {seed}"
                );
            }
        }
    }
    // An unknown function name: the guest exits with status 2 and says why.
    let b = backend(Strategy::Pooling);
    let p = prepare(&b, &file_spec("nope", wasm));
    let err = p
        .start()
        .unwrap()
        .invoke(&Request { size: 0, seed: 0 })
        .unwrap_err();
    assert!(err.to_string().contains("unknown function `nope`"), "{err}");
}
