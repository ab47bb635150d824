#![no_main]
//! The Azure 2021 per-invocation loader, past its header.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let head = "app,func,end_timestamp,duration\n";
    unitlab_fuzz::load(&unitlab_fuzz::after(head, data), &unitlab_fuzz::auto(), false);
});
