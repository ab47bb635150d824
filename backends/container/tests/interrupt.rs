//! Ctrl-C and `unitlab clean` against the real Docker engine, in a test binary of their own:
//! `remove_live_units` removes every live unit of the process, so it must not run beside the
//! other container tests' threads. It looks only at this process's containers (label
//! `unitlab.owner_pid=<pid>`), so it does not depend on test order or on what else runs on
//! the engine, and it leaves nothing behind.

use unitlab_backend::{Backend, Function, FunctionSpec};
use unitlab_backend_container::{
    clean_label, labelled_containers, remove_live_units, resume_after_interrupt, Config,
    ContainerBackend,
};

#[test]
fn interrupt_removes_live_units_and_clean_removes_leftovers() {
    let mine_label = format!("unitlab.owner_pid={}", std::process::id());
    let mine = || {
        labelled_containers(None, Some(&mine_label)).unwrap_or_else(|e| {
            panic!(
                "the container tests need a running Docker engine ({e}); run scripts/setup-docker.sh"
            )
        })
    };
    assert!(mine().is_empty());
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

    // And clean removes leftovers (`unitlab clean` removes those of every run; this removes
    // only this process's, so as not to disturb other runs on the engine).
    std::mem::forget(p.start().unwrap());
    let leaked = mine();
    assert_eq!(leaked.len(), 1);
    let report = clean_label(None, &mine_label, false).unwrap();
    assert_eq!(report.containers, leaked, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert!(mine().is_empty());
}
