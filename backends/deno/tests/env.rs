//! `UNITLAB_DENO` is honoured and never silently replaced. One test in its own binary: it sets
//! a process-wide environment variable.

use unitlab_backend::Availability;
use unitlab_backend_deno::{availability, Config, DenoBackend};

#[test]
fn unitlab_deno_pointing_nowhere_is_a_clear_error() {
    std::env::set_var("UNITLAB_DENO", "/nonexistent/deno");
    let Availability::Unavailable { reason, fix } = availability() else {
        panic!("UNITLAB_DENO=/nonexistent/deno must make the backend unavailable");
    };
    assert!(
        reason.contains("/nonexistent/deno") && reason.contains("UNITLAB_DENO"),
        "{reason}"
    );
    assert!(
        fix.contains("setup-deno.sh") && fix.contains("UNITLAB_DENO"),
        "{fix}"
    );
    let err = DenoBackend::new(Config::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("unavailable") && err.contains("/nonexistent/deno"),
        "{err}"
    );
    std::env::remove_var("UNITLAB_DENO");
    assert!(matches!(availability(), Availability::Available(_)));
}
