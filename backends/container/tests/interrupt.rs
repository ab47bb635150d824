//! Runs after the other container test binaries (cargo runs test targets in name order): no
//! container with the lab's label may remain. Then checks `clean` and `remove_live_units`.

use unitlab_backend::{Backend, Function, FunctionSpec};
use unitlab_backend_container::{
    clean, labelled_containers, remove_live_units, resume_after_interrupt, Config, ContainerBackend,
};

#[test]
fn no_labelled_container_remains_and_clean_removes_leftovers() {
    let leftovers = labelled_containers(None, None).unwrap_or_else(|e| {
        panic!(
            "the container tests need a running Docker engine ({e}); run scripts/setup-docker.sh"
        )
    });
    assert!(
        leftovers.is_empty(),
        "containers with the label unitlab=1 remain after the suite: {leftovers:?}"
    );

    // From here on, look only at this process's containers (another lab run may be going on).
    let mine_label = format!("unitlab.owner_pid={}", std::process::id());
    let mine = || labelled_containers(None, Some(&mine_label)).unwrap();
    let b = ContainerBackend::new(Config::default()).unwrap();
    let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
    // A unit leaked on purpose (as a crash would): Ctrl-C clean-up finds it in the live list.
    std::mem::forget(p.start().unwrap());
    assert_eq!(mine().len(), 1);
    assert_eq!(remove_live_units(), 1);
    assert!(mine().is_empty());
    // After an interrupt, starts are refused until resumed.
    assert!(p.start().is_err());
    resume_after_interrupt();

    // And `unitlab clean` removes leftovers from any run.
    std::mem::forget(p.start().unwrap());
    let leaked = mine();
    assert_eq!(leaked.len(), 1);
    let report = clean(None).unwrap();
    assert!(report.containers.contains(&leaked[0]), "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert!(mine().is_empty());
}
