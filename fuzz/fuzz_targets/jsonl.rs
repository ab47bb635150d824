#![no_main]
//! The generic JSON-lines loader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let opts = unitlab_fuzz::generic(unitlab_workloads::Format::Jsonl);
    unitlab_fuzz::load(data, &opts, false);
});
