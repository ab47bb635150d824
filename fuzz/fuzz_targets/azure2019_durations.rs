#![no_main]
//! The Azure 2019 function durations file.
use unitlab_workloads::azure2019::{read_durations, DurationJoin};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (_dir, path) = unitlab_fuzz::file("d.csv", data);
    if let Err(e) = read_durations(&path, DurationJoin::Percentiles) {
        unitlab_fuzz::check_located(&e, &path);
    }
});
