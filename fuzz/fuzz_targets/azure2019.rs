#![no_main]
//! The Azure 2019 invocations loader (5 minute columns), past its header.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let head = "HashOwner,HashApp,HashFunction,Trigger,1,2,3,4,5\n";
    unitlab_fuzz::load(&unitlab_fuzz::after(head, data), &unitlab_fuzz::auto(), false);
});
