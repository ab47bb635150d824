#![no_main]
//! The Azure 2019 app memory file.
use unitlab_workloads::azure2019::read_memory;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (_dir, path) = unitlab_fuzz::file("m.csv", data);
    if let Err(e) = read_memory(&path) {
        unitlab_fuzz::check_located(&e, &path);
    }
});
