#![no_main]
//! Gzip input: the bytes as a (possibly broken) gzip stream, and compressed by us.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut stream = vec![0x1f, 0x8b];
    stream.extend_from_slice(data);
    unitlab_fuzz::load(&stream, &unitlab_fuzz::auto(), false);
    let head = "app,func,end_timestamp,duration\n";
    unitlab_fuzz::load(&unitlab_fuzz::after(head, data), &unitlab_fuzz::auto(), true);
});
