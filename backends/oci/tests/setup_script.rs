//! `scripts/setup-runtimes.sh` against temporary files: the daemon.json it writes, that a
//! second run finds nothing to do, and the hybrid-cgroup fix only with consent. (On a
//! configured machine the real run finds nothing to do; that path is not exercised here
//! because it would touch the shared dockerd.)

use std::path::Path;
use std::process::Command;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-runtimes.sh")
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("DAEMON_JSON", dir.join("daemon.json"))
        .env("CGROUP_ROOT", dir.join("cg"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn registers_runtimes_once_and_keeps_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = dir.path().join("daemon.json");
    std::fs::write(
        &daemon,
        r#"{"log-level": "warn", "runtimes": {"crun": {"path": "/usr/bin/crun"}}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("cg/unified")).unwrap();
    std::fs::write(dir.path().join("cg/unified/cgroup.controllers"), "").unwrap();

    // A dry run says what it would write and changes nothing.
    let before = std::fs::read_to_string(&daemon).unwrap();
    let (ok, out) = run(dir.path(), &["--dry-run"], &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("would write") && out.contains("would then tell dockerd"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&daemon).unwrap(), before);

    // The real run writes both runtimes, runsc on ptrace without a network, keeps the rest.
    let (ok, out) = run(dir.path(), &[], &[("NO_RELOAD", "1")]);
    assert!(ok, "{out}");
    assert!(out.contains("the configuration changed"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&daemon).unwrap()).unwrap();
    assert_eq!(json["log-level"], "warn");
    assert!(json["runtimes"]["crun"]["path"]
        .as_str()
        .unwrap()
        .ends_with("/crun"));
    assert_eq!(
        json["runtimes"]["runsc"]["runtimeArgs"],
        serde_json::json!(["--platform=ptrace", "--network=none"])
    );

    // A second run finds nothing to do and leaves dockerd alone.
    let written = std::fs::read_to_string(&daemon).unwrap();
    let (ok, out) = run(dir.path(), &[], &[("NO_RELOAD", "1")]);
    assert!(ok, "{out}");
    assert!(out.contains("dockerd left alone"), "{out}");
    assert!(!out.contains("configuration changed"), "{out}");
    assert_eq!(std::fs::read_to_string(&daemon).unwrap(), written);
}

#[test]
fn hybrid_cgroups_are_explained_and_fixed_only_with_consent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("cg/unified")).unwrap();
    std::fs::write(
        dir.path().join("cg/unified/cgroup.controllers"),
        "hugetlb\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("cg/unified/cgroup.subtree_control"), "").unwrap();

    // Without consent: explained, not changed, and the step fails (crun cannot work yet).
    let (ok, out) = run(dir.path(), &["--dry-run"], &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("holds the controller(s): hugetlb"), "{out}");
    assert!(
        out.contains("cgroups in hybrid mode not supported"),
        "{out}"
    );
    assert!(out.contains("--fix-hybrid-cgroups"), "{out}");
    assert!(
        !out.contains("mount -t cgroup"),
        "no consent, no mount: {out}"
    );

    let (ok, out) = run(dir.path(), &["--dry-run", "--fix-hybrid-cgroups"], &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("would run: as_root mount -t cgroup -o hugetlb cgroup"),
        "{out}"
    );

    // A controller the cgroup2 groups use cannot be moved: the script stops and says why.
    std::fs::write(
        dir.path().join("cg/unified/cgroup.subtree_control"),
        "hugetlb\n",
    )
    .unwrap();
    let (ok, out) = run(dir.path(), &["--dry-run", "--fix-hybrid-cgroups"], &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("cgroup2 groups use hugetlb"), "{out}");
}
