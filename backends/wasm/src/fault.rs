//! Turning wasmtime errors into [`BackendError`]s that name the cause and the fix.

use std::time::Duration;

use unitlab_backend::BackendError;
use wasmtime::Trap;

/// What the store saw while the guest ran, needed to classify a failure.
pub(crate) struct FaultContext<'a> {
    /// The function's deadline, if it has one.
    pub deadline: Option<Duration>,
    /// The memory limit in force: the function's, else the pooling slot size.
    pub memory_limit: Option<u64>,
    /// Where that limit comes from, for the fix text.
    pub limit_source: &'a str,
    /// Set by the limiter when a `memory.grow` was denied during this call.
    pub denied_grow: Option<&'a str>,
}

/// A call into the guest failed (trap, interrupt, host error).
pub(crate) fn call_error(err: wasmtime::Error, cx: &FaultContext<'_>) -> BackendError {
    if let Some(Trap::Interrupt) = err.downcast_ref::<Trap>() {
        if let Some(deadline) = cx.deadline {
            return BackendError::Deadline { deadline };
        }
    }
    if let Some(denied) = cx.denied_grow {
        return memory_limit(
            cx,
            format!("{denied}; the guest then failed: {}", describe(&err)),
        );
    }
    BackendError::Guest {
        message: describe(&err),
    }
}

/// The guest returned normally but reported a failed allocation (-1 after a denied grow).
pub(crate) fn memory_limit(cx: &FaultContext<'_>, message: String) -> BackendError {
    BackendError::MemoryLimit {
        limit: cx.memory_limit,
        message: format!("{message} (limit from {})", cx.limit_source),
    }
}

/// Instantiation failed in `start`.
pub(crate) fn start_error(
    err: wasmtime::Error,
    cx: &FaultContext<'_>,
    function: &str,
    max_units: Option<u32>,
) -> BackendError {
    if cx.denied_grow.is_some() {
        return call_error(err, cx);
    }
    if err.downcast_ref::<Trap>().is_some() {
        // A start function trapped.
        return call_error(err, cx);
    }
    let text = describe(&err);
    if text.contains("maximum concurrent limit of") {
        let slots = max_units
            .map(|n| n.to_string())
            .unwrap_or_else(|| "?".into());
        return BackendError::Start {
            message: format!(
                "the pooling allocator is full ({text}): all max_units = {slots} slots hold live \
                 units; fix: stop units before starting more, or raise --opt max_units=N"
            ),
        };
    }
    if is_enomem(&err) {
        return BackendError::Start {
            message: format!(
                "instantiating `{function}` could not map memory ({text}); the process most \
                 likely hit the kernel's limit on memory mappings: vm.max_map_count = {}, this \
                 process holds {} mappings (a live instance takes about 3 with strategies \
                 ondemand and pooling, 2 with pooling-nocow: about 21,800 or 32,700 live units \
                 under the default 65530); fix: `sysctl -w vm.max_map_count=262144`, or use \
                 --strategy pooling-nocow",
                read_trimmed("/proc/sys/vm/max_map_count").unwrap_or_else(|| "?".into()),
                count_mappings()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "?".into()),
            ),
        };
    }
    BackendError::Start {
        message: format!("instantiating `{function}` failed: {text}"),
    }
}

/// The error with its whole chain (and wasm backtrace, when wasmtime captured one).
pub(crate) fn describe(err: &wasmtime::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn is_enomem(err: &wasmtime::Error) -> bool {
    err.chain().any(|cause| {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.raw_os_error() == Some(libc::ENOMEM) {
                return true;
            }
        }
        let text = cause.to_string();
        text.contains("os error 12") || text.contains("Cannot allocate memory")
    })
}

/// Lines of `/proc/self/maps`, read through a stack buffer: at this point a heap allocation
/// large enough to need its own mapping would fail too.
fn count_mappings() -> Option<usize> {
    use std::io::Read;
    let mut file = std::fs::File::open("/proc/self/maps").ok()?;
    let mut buf = [0u8; 4096];
    let mut lines = 0;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Some(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(denied: Option<&str>) -> FaultContext<'_> {
        FaultContext {
            deadline: Some(Duration::from_millis(5)),
            memory_limit: Some(1 << 20),
            limit_source: "limits.memory_bytes",
            denied_grow: denied,
        }
    }

    #[test]
    fn enomem_names_max_map_count_and_the_fix() {
        let err = wasmtime::Error::from(std::io::Error::from_raw_os_error(libc::ENOMEM))
            .context("failed to mmap memory");
        let e = start_error(err, &cx(None), "noop", None).to_string();
        assert!(e.contains("vm.max_map_count"), "{e}");
        assert!(e.contains("sysctl -w vm.max_map_count=262144"), "{e}");
        assert!(e.contains("--strategy pooling-nocow"), "{e}");
        assert!(count_mappings().unwrap() > 10);
    }

    #[test]
    fn pool_exhaustion_names_max_units() {
        let err = wasmtime::format_err!("maximum concurrent limit of 3 for memories reached");
        let e = start_error(err, &cx(None), "noop", Some(3)).to_string();
        assert!(
            e.contains("max_units = 3") && e.contains("--opt max_units"),
            "{e}"
        );
    }

    #[test]
    fn interrupt_is_a_deadline_and_denied_grow_a_memory_limit() {
        let e = call_error(wasmtime::Error::from(Trap::Interrupt), &cx(None));
        assert!(matches!(e, BackendError::Deadline { .. }), "{e}");
        let e = call_error(
            wasmtime::Error::from(Trap::UnreachableCodeReached),
            &cx(Some("grow denied")),
        );
        assert!(
            matches!(
                e,
                BackendError::MemoryLimit {
                    limit: Some(1048576),
                    ..
                }
            ),
            "{e}"
        );
        let e = call_error(
            wasmtime::Error::from(Trap::UnreachableCodeReached),
            &cx(None),
        );
        assert!(e.to_string().contains("unreachable"), "{e}");
    }
}
