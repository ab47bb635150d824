//! Property tests of the deno host's JSON-lines replies (the Rust side of `js/host.js`'s
//! protocol), on a fixed case budget and seed (`PROPTEST_CASES`, `PROPTEST_RNG_SEED`
//! override them). No deno process is started.
//! - any stream of bytes splits into lines without panicking, never holding a line longer
//!   than `MAX_REPLY_LINE`; every line is either a reply (an object with a numeric `id`) or
//!   skipped (a stray `console.log`, broken JSON);
//! - mutations of valid replies never panic, and a reply that still parses keeps its id.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::json;
use std::io::{BufReader, Cursor};
use unitlab_backend_deno::host::{parse_reply, read_reply_line, MAX_REPLY_LINE};

fn config() -> Config {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    Config {
        cases: env("PROPTEST_CASES").unwrap_or(512) as u32,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(env("PROPTEST_RNG_SEED").unwrap_or(17)),
        ..Config::default()
    }
}

/// All the lines of `bytes`, as the host reader sees them (a small buffer, so lines straddle
/// its refills).
fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    lines_with(bytes, 7)
}

fn lines_with(bytes: &[u8], capacity: usize) -> Vec<Vec<u8>> {
    let mut r = BufReader::with_capacity(capacity, Cursor::new(bytes));
    let mut out = Vec::new();
    let mut line = Vec::new();
    while read_reply_line(&mut r, &mut line).unwrap() {
        out.push(line.clone());
    }
    out
}

fn reply() -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), any::<u32>(), any::<bool>(), "[ -~]{0,20}").prop_map(|(id, v, ok, s)| {
        let body = if ok {
            json!({"id": id, "ok": true, "value": v, "guest_ns": v as u64 * 3})
        } else {
            json!({"id": id, "ok": false, "error": s})
        };
        let mut b = serde_json::to_vec(&body).unwrap();
        b.push(b'\n');
        b
    })
}

#[test]
fn any_bytes_split_into_bounded_lines() {
    let mut seen = std::collections::HashSet::new();
    let seen_ref = std::cell::RefCell::new(&mut seen);
    let stream = prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(b"{}\":,\n0123456789id ".to_vec()),
            1 => any::<u8>(),
        ],
        0..1024,
    );
    TestRunner::new(config())
        .run(&stream, |bytes| {
            seen_ref.borrow_mut().insert(bytes.clone());
            let got = lines(&bytes);
            let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
            let tail = usize::from(!bytes.is_empty() && bytes.last() != Some(&b'\n'));
            prop_assert_eq!(got.len(), newlines + tail);
            for l in &got {
                prop_assert!(l.len() <= MAX_REPLY_LINE + 1);
                // Either a reply with an id or skipped; never a panic.
                if let Some((id, v)) = parse_reply(l) {
                    prop_assert_eq!(v["id"].as_u64(), Some(id));
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "props deno host replies (arbitrary bytes): {} distinct inputs",
        seen.len()
    );
}

#[test]
fn mutated_replies_keep_their_id_or_are_skipped() {
    let mut seen = std::collections::HashSet::new();
    let seen_ref = std::cell::RefCell::new(&mut seen);
    let s = (reply(), any::<usize>(), any::<u8>(), any::<bool>());
    TestRunner::new(config())
        .run(&s, |(mut r, at, b, delete)| {
            prop_assert!(parse_reply(&r).is_some(), "a valid reply parses");
            let i = at % r.len();
            if delete {
                r.remove(i);
            } else {
                r[i] = b;
            }
            seen_ref.borrow_mut().insert(r.clone());
            for l in lines(&r) {
                if let Some((id, _)) = parse_reply(&l) {
                    // An edit may change the id's digits; it is still the object's own id.
                    let v: serde_json::Value = serde_json::from_slice(&l).unwrap();
                    prop_assert_eq!(v["id"].as_u64(), Some(id));
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "props deno host replies (mutated): {} distinct inputs",
        seen.len()
    );
}

#[test]
fn an_overlong_line_is_skipped_not_held() {
    let mut bytes = vec![b'x'; MAX_REPLY_LINE + 10];
    bytes.push(b'\n');
    bytes.extend_from_slice(b"{\"id\":7,\"ok\":true}\n");
    let got = lines_with(&bytes, 1 << 16);
    assert_eq!(got.len(), 2);
    assert!(got[0].is_empty());
    assert_eq!(parse_reply(&got[1]).unwrap().0, 7);
}
