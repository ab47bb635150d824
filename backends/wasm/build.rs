//! Records the wasmtime version this crate was built against, read from the workspace's
//! `Cargo.lock`, so that `BackendInfo.versions["wasmtime"]` can never drift from what is linked.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let lock = manifest.join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    println!("cargo:rerun-if-changed=build.rs");
    let version = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|text| package_version(&text, "wasmtime"))
        .unwrap_or_else(|| "unknown (Cargo.lock not found)".to_string());
    println!("cargo:rustc-env=UNITLAB_WASMTIME_VERSION={version}");
}

/// The `version` of the `[[package]]` named `name` in a Cargo.lock.
fn package_version(lock: &str, name: &str) -> Option<String> {
    let mut in_package = false;
    for line in lock.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            in_package = false;
        } else if line == format!("name = \"{name}\"") {
            in_package = true;
        } else if in_package {
            if let Some(v) = line.strip_prefix("version = \"") {
                return Some(v.trim_end_matches('"').to_string());
            }
        }
    }
    None
}
