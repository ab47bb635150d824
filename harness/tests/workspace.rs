//! Workspace conventions that a new crate could silently break.

use std::path::Path;

/// `cargo bench -- --quick` (and `--save-baseline`, `--baseline`) from the root reaches every
/// bench target: a lib or bin target left on libtest's bench harness rejects criterion's flags
/// ("Unrecognized option"), so every member's lib and bin targets say `bench = false`.
#[test]
fn every_lib_and_bin_target_leaves_cargo_bench_to_criterion() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    assert!(members.len() > 10, "{members:?}");
    let mut missing = Vec::new();
    for member in members {
        let dir = root.join(member.as_str().unwrap());
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let m: toml::Value = toml::from_str(&text).unwrap();
        let off = |t: Option<&toml::Value>| {
            t.and_then(|t| t.get("bench"))
                .and_then(toml::Value::as_bool)
                == Some(false)
        };
        if dir.join("src/lib.rs").exists() && !off(m.get("lib")) {
            missing.push(format!("{} [lib]", member));
        }
        let bins = m.get("bin").and_then(toml::Value::as_array);
        if dir.join("src/main.rs").exists() && bins.is_none() {
            missing.push(format!("{} [[bin]] (implicit)", member));
        }
        for bin in bins.into_iter().flatten() {
            if !off(Some(bin)) {
                missing.push(format!("{} [[bin]] {}", member, bin["name"]));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "targets without `bench = false` (cargo bench -- --quick would fail): {missing:?}"
    );
}
