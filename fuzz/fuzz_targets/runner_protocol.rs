#![no_main]
//! The runner's line protocol: `ready <pid>`, `ok <value> <guest_ns>`, `err <message>`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let Err(e) = unitlab_runner::parse_ready(&line) {
        assert!(e.to_string().contains(&format!("{:?}", line.as_ref())));
    }
    let _ = unitlab_runner::parse_response(&line);
});
