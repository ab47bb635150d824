//! Property tests of the runner's line protocol (the Rust side: request lines out,
//! `ready <pid>` and `ok <value> <guest_ns>` / `err <message>` lines in), on a fixed case
//! budget and seed (`PROPTEST_CASES`, `PROPTEST_RNG_SEED` override them):
//! - any line (arbitrary bytes, lossily decoded, and mutations of valid lines) never panics,
//!   and an error quotes the offending line (its location in the stream);
//! - valid lines round-trip exactly;
//! - a request line is exactly one line.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use unitlab_backend::{BackendError, Request};
use unitlab_runner::{parse_ready, parse_response, request_line};

fn config() -> Config {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    Config {
        cases: env("PROPTEST_CASES").unwrap_or(512) as u32,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(env("PROPTEST_RNG_SEED").unwrap_or(17)),
        ..Config::default()
    }
}

/// Lines built from the protocol's words, numbers of every size and stray bytes.
fn line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        prop::sample::select(vec![
            "ok", "err", "ready", " ", "", "\r", "\n", "-", "+", "0x"
        ])
        .prop_map(String::from),
        any::<u64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        "[0-9]{0,30}",
        prop::collection::vec(any::<u8>(), 0..16)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    prop::collection::vec(word, 0..6).prop_map(|w| w.join(" "))
}

fn quotes_the_line(e: &BackendError, line: &str) -> bool {
    match e {
        BackendError::Protocol { message } => message.contains(&format!("{line:?}")),
        BackendError::Guest { .. } => line.trim_end().starts_with("err "),
        _ => false,
    }
}

#[test]
fn any_line_parses_or_is_quoted_in_the_error() {
    let mut n = std::collections::HashSet::new();
    let seen = std::cell::RefCell::new(&mut n);
    TestRunner::new(config())
        .run(&line(), |l| {
            seen.borrow_mut().insert(l.clone());
            match parse_ready(&l) {
                Ok(pid) => prop_assert_eq!(l.trim_end(), format!("ready {pid}")),
                Err(e) => prop_assert!(
                    matches!(&e, BackendError::Protocol { message } if message.contains(&format!("{l:?}"))),
                    "{e}"
                ),
            }
            match parse_response(&l) {
                Ok(r) => prop_assert!(l.trim_end().starts_with("ok ")
                    && r.guest_nanos.is_some()),
                Err(e) => {
                    let trimmed = l.trim_end();
                    prop_assert!(quotes_the_line(&e, trimmed), "{e}")
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "props runner protocol (arbitrary lines): {} distinct inputs",
        n.len()
    );
}

#[test]
fn valid_lines_round_trip() {
    TestRunner::new(config())
        .run(
            &(any::<u32>(), any::<u64>(), any::<u32>(), any::<u32>()),
            |(value, guest, size, seed)| {
                let r = parse_response(&format!("ok {value} {guest}\n")).unwrap();
                prop_assert_eq!(r.value, value);
                prop_assert_eq!(r.guest_nanos, Some(guest));
                prop_assert_eq!(parse_ready(&format!("ready {seed}\n")).unwrap(), seed);
                let req = request_line("cpu", &Request { size, seed });
                prop_assert!(req.ends_with('\n') && req.matches('\n').count() == 1);
                prop_assert_eq!(req, format!("cpu {size} {seed}\n"));
                Ok(())
            },
        )
        .unwrap();
}
