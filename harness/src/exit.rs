//! Exit codes of the `unitlab` binary, and the errors that choose them.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | everything requested was done; for `measure`, every unit was measured and verified |
//! | 1    | the run failed (a backend, an engine or the file system failed): nothing was written |
//! | 2    | the input was rejected before any work: a usage error, a bad flag value, an unknown function, a malformed trace, an unwritable `--out` |
//! | 3    | `measure` finished and wrote its results, but some units failed (the count is printed; the errors are in `summary.json`) |
//! | 130  | interrupted (SIGINT): partial results, containers and child processes were removed |

use std::path::PathBuf;

/// Everything requested was done.
pub const OK: i32 = 0;
/// The run failed.
pub const FAILED: i32 = 1;
/// The input was rejected (the code clap uses for usage errors).
pub const REJECTED: i32 = 2;
/// Results were written, but some units failed.
pub const UNITS_FAILED: i32 = 3;
/// Interrupted by SIGINT (128 + 2, as shells report it).
pub const INTERRUPTED: i32 = 130;

/// Some units of a measurement failed; its results were written all the same.
#[derive(Debug, thiserror::Error)]
#[error(
    "{failed} of {units} units failed (their errors are in {}/summary.json)",
    dir.display()
)]
pub struct UnitsFailed {
    /// Units with at least one failed start or invoke.
    pub failed: u32,
    /// Units requested.
    pub units: u32,
    /// The results directory.
    pub dir: PathBuf,
}

/// Input the command refuses, with what to do instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

/// The exit code for an error: [`UNITS_FAILED`], [`REJECTED`] when any error in the chain is
/// bad input, else [`FAILED`].
pub fn code(e: &anyhow::Error) -> i32 {
    if e.downcast_ref::<UnitsFailed>().is_some() {
        return UNITS_FAILED;
    }
    use unitlab_backend::BackendError as B;
    use unitlab_results::dir::DirError as D;
    let bad_limit = |b: &B| matches!(b, B::UnknownFunction { .. } | B::Limit { .. });
    let bad_dir = |d: &D| matches!(d, D::NotWritable { .. });
    // Wrappers that display their inner error transparently hide it from the chain: look
    // inside them too.
    let rejected = e.chain().any(|c| {
        c.is::<Rejected>()
            || c.is::<unitlab_workloads::TraceError>()
            || c.is::<unitlab_workloads::ops::OpError>()
            || c.downcast_ref::<D>().is_some_and(bad_dir)
            || c.downcast_ref::<B>().is_some_and(bad_limit)
            || matches!(
                c.downcast_ref::<crate::measure::MeasureError>(),
                Some(crate::measure::MeasureError::Backend(b)) if bad_limit(b)
            )
            || match c.downcast_ref::<unitlab_platform::PlatformError>() {
                Some(unitlab_platform::PlatformError::Dir(d)) => bad_dir(d),
                Some(unitlab_platform::PlatformError::Trace(_)) => true,
                _ => false,
            }
    });
    if rejected {
        REJECTED
    } else {
        FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let e = anyhow::Error::new(UnitsFailed {
            failed: 1,
            units: 2,
            dir: "d".into(),
        });
        assert_eq!(code(&e), UNITS_FAILED);
        let e = anyhow::Error::new(Rejected("no".into())).context("while doing");
        assert_eq!(code(&e), REJECTED);
        let e = anyhow::Error::new(unitlab_backend::BackendError::unknown_function("x"));
        assert_eq!(code(&e.context("outer")), REJECTED);
        assert_eq!(code(&anyhow::anyhow!("engine broke")), FAILED);
    }
}
