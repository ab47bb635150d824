//! Plausibility bounds on what a trace may say, checked as each cell is parsed (no extra pass
//! over the data). A value beyond one is an error naming file, line and column: it is a
//! corrupt or mis-scaled cell, and accepting it would either be billed as a real figure or
//! make memory follow the value instead of the number of invocations (a timeline, a rate
//! window or a minute's expansion buffer sized by it).
//!
//! The bounds are far beyond any published serverless trace (the Azure traces span 14 days,
//! functions run for at most hours, a function's busiest minute holds well under a million
//! invocations) and leave every derived figure (arrival + duration, in ns) inside `u64`.

/// Nanoseconds per day.
pub const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// The longest execution a trace may give one invocation: 7 days.
pub const MAX_DURATION_NS: u64 = 7 * NS_PER_DAY;

/// The longest span a trace may have (its latest arrival minus its earliest): 10 years
/// (3653 days). A row further than this from the others is a stray or mis-scaled timestamp
/// (a `0` among epoch seconds, milliseconds read as seconds).
pub const MAX_SPAN_NS: u64 = 3653 * NS_PER_DAY;

/// The most memory a trace may give one invocation: 1 TiB.
pub const MAX_MEMORY_BYTES: u64 = 1 << 40;

/// The most invocations an Azure 2019 cell may give one function in one minute: 10 million
/// (167 thousand per second).
pub const MAX_COUNT_PER_MINUTE: u64 = 10_000_000;

/// The most invocations one minute of an Azure 2019 day may hold across its functions: 2^26
/// (67 million). A minute is expanded into a buffer of 16 bytes per invocation: 1 GiB at
/// this bound.
pub const MAX_INVOCATIONS_PER_MINUTE: u64 = 1 << 26;

/// The longest line a JSON-lines trace may have: 1 MiB (one invocation's object).
pub const MAX_JSONL_LINE: u64 = 1 << 20;

/// `ns` as a readable span for messages (`54.0 years`, `3.5 days`, `2.000 h`).
pub fn fmt_span(ns: u128) -> String {
    let days = ns as f64 / NS_PER_DAY as f64;
    if days >= 365.25 {
        format!("{:.1} years", days / 365.25)
    } else if days >= 1.0 {
        format!("{days:.1} days")
    } else {
        crate::units::fmt_ns(ns as f64)
    }
}
