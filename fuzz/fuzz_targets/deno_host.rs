#![no_main]
//! The deno host's JSON-lines replies: line splitting (bounded) and reply parsing.
use std::io::{BufReader, Cursor};
use unitlab_backend_deno::host::{parse_reply, read_reply_line, MAX_REPLY_LINE};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut r = BufReader::with_capacity(13, Cursor::new(data));
    let mut line = Vec::new();
    while read_reply_line(&mut r, &mut line).unwrap() {
        assert!(line.len() <= MAX_REPLY_LINE + 1);
        if let Some((id, v)) = parse_reply(&line) {
            assert_eq!(v["id"].as_u64(), Some(id));
        }
    }
});
