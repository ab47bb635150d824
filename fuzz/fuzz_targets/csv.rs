#![no_main]
//! The generic CSV loader (header included in the input).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let opts = unitlab_fuzz::generic(unitlab_workloads::Format::Csv);
    unitlab_fuzz::load(data, &opts, false);
});
