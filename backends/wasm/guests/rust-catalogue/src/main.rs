//! The unitlab catalogue (`noop`, `cpu`, `alloc`) as a WASI preview 1 command.
//!
//! Input: `<function> <size> <seed>`, taken from the command line when three arguments follow
//! the program name, otherwise from the first line of stdin. Output: the function's u32 value in
//! decimal on stdout's first line, exit status 0. Bad input: a message on stderr, exit status 2.
//!
//! The semantics are those of `backends/core/src/catalogue.rs` (xorshift32 13/17/5 input,
//! FNV-1a 32 hashing); this crate has no dependency so that it builds for `wasm32-wasip1` with
//! nothing but `rustup target add wasm32-wasip1`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

const NOOP_VALUE: u32 = 0x2A2A_2A2A;
const FNV_OFFSET: u32 = 2_166_136_261;
const FNV_PRIME: u32 = 16_777_619;
const PAGE: usize = 4096;

fn cpu(kib: u32, seed: u32) -> u32 {
    let mut x = seed ^ 0x9E37_79B9;
    if x == 0 {
        x = 1;
    }
    let mut h = FNV_OFFSET;
    for _ in 0..(kib as u64 * 1024) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        h = (h ^ (x & 0xff)).wrapping_mul(FNV_PRIME);
    }
    h
}

fn alloc(mib: u32, seed: u32) -> u32 {
    let len = mib as usize * (1 << 20);
    let mut buf = vec![0u8; len];
    for (p, byte) in buf.iter_mut().step_by(PAGE).enumerate() {
        *byte = (p as u32).wrapping_mul(7).wrapping_add(seed) as u8;
    }
    let buf = std::hint::black_box(buf);
    buf.iter()
        .step_by(PAGE)
        .fold(FNV_OFFSET, |h, &b| (h ^ b as u32).wrapping_mul(FNV_PRIME))
}

fn run(function: &str, size: u32, seed: u32) -> Result<u32, String> {
    match function {
        "noop" => Ok(NOOP_VALUE),
        "cpu" => Ok(cpu(size, seed)),
        "alloc" => Ok(alloc(size, seed)),
        other => Err(format!("unknown function `{other}`; known: noop, cpu, alloc")),
    }
}

fn parse(words: &[String]) -> Result<(String, u32, u32), String> {
    match words {
        [function, size, seed] => {
            let size = size.parse().map_err(|e| format!("bad size `{size}`: {e}"))?;
            let seed = seed.parse().map_err(|e| format!("bad seed `{seed}`: {e}"))?;
            Ok((function.clone(), size, seed))
        }
        _ => Err(format!(
            "expected `<function> <size> <seed>` in the arguments or on stdin, got {words:?}"
        )),
    }
}

fn main() -> ExitCode {
    let mut words: Vec<String> = std::env::args().skip(1).collect();
    if words.len() != 3 {
        let mut line = String::new();
        if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
            eprintln!("rust-catalogue: reading stdin: {e}");
            return ExitCode::from(2);
        }
        words = line.split_whitespace().map(str::to_string).collect();
    }
    match parse(&words).and_then(|(f, size, seed)| run(&f, size, seed)) {
        Ok(value) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{value}").and_then(|()| out.flush()).is_err() {
                return ExitCode::from(3);
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("rust-catalogue: {message}");
            ExitCode::from(2)
        }
    }
}
