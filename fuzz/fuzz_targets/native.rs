#![no_main]
//! The native trace loader, past its magic, metadata and header lines.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let head = "# unitlab-trace v1\n# meta: {\"functions\":[\"a\",\"b\"],\"source\":\"f\",\"seed\":null,\"span_ns\":null}\narrival_ns,function,duration_ns,memory_bytes\n";
    unitlab_fuzz::load(&unitlab_fuzz::after(head, data), &unitlab_fuzz::auto(), false);
});
