//! A backend with scripted latencies, for testing the harness without real engines.
//!
//! After hyperfine's `MockExecutor`: the harness, its statistics and the reports are tested
//! against this backend, whose every latency and failure is known in advance, while the real
//! backends are tested against the real engines in their own crates.
//!
//! Latencies are spent busy-waiting on the monotonic clock (not sleeping), so a scripted 5 us
//! start takes 5 us plus the clock's read cost, not a scheduler tick. Scripts are cyclic lists:
//! `start_us = "10,20"` makes units alternately take 10 and 20 us to start.

#![warn(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use unitlab_backend::{
    Availability, Backend, BackendError, BackendInfo, FunctionSource, FunctionSpec, Phase,
    Prepared, Request, Response, Unit, UnitMemory,
};

/// The mock's script.
#[derive(Debug, Clone)]
pub struct Config {
    /// Start latencies in microseconds, used in turn.
    pub start_us: Vec<u64>,
    /// Invoke latencies in microseconds, used in turn.
    pub invoke_us: Vec<u64>,
    /// Engine memory each unit reports, bytes.
    pub memory_bytes: u64,
    /// Every n-th start (1-based) fails with a start error; 0 never.
    pub fail_start_every: u64,
    /// Every n-th invoke (1-based) fails as a guest error; 0 never.
    pub fail_invoke_every: u64,
    /// Return a wrong answer from every invoke (to test verification).
    pub wrong_answer: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            start_us: vec![100],
            invoke_us: vec![10],
            memory_bytes: 1 << 20,
            fail_start_every: 0,
            fail_invoke_every: 0,
            wrong_answer: false,
        }
    }
}

impl Config {
    /// Keys accepted by [`Config::set`].
    pub const OPTIONS: &'static [(&'static str, &'static str)] = &[
        (
            "start_us",
            "start latencies in us, comma-separated, used in turn (default 100)",
        ),
        (
            "invoke_us",
            "invoke latencies in us, comma-separated, used in turn (default 10)",
        ),
        (
            "memory_bytes",
            "engine memory reported per unit (default 1 MiB)",
        ),
        (
            "fail_start_every",
            "every n-th start fails (default 0: never)",
        ),
        (
            "fail_invoke_every",
            "every n-th invoke fails (default 0: never)",
        ),
        ("wrong_answer", "true: every invoke returns a wrong value"),
    ];

    /// Sets one option by name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), BackendError> {
        let bad = |what: &str| BackendError::bad_option("mock", key, value, what);
        let num = |v: &str| v.trim().parse::<u64>().map_err(|_| bad("a whole number"));
        match key {
            "start_us" => self.start_us = value.split(',').map(num).collect::<Result<_, _>>()?,
            "invoke_us" => self.invoke_us = value.split(',').map(num).collect::<Result<_, _>>()?,
            "memory_bytes" => self.memory_bytes = num(value)?,
            "fail_start_every" => self.fail_start_every = num(value)?,
            "fail_invoke_every" => self.fail_invoke_every = num(value)?,
            "wrong_answer" => {
                self.wrong_answer = value.parse().map_err(|_| bad("true or false"))?
            }
            _ => return Err(BackendError::unknown_option("mock", key, Self::OPTIONS)),
        }
        if self.start_us.is_empty() || self.invoke_us.is_empty() {
            return Err(bad("at least one latency"));
        }
        Ok(())
    }
}

/// Always available.
pub fn availability() -> Availability {
    Availability::Available("scripted latencies".into())
}

/// The mock backend.
#[derive(Debug, Clone)]
pub struct MockBackend {
    config: Arc<Config>,
    starts: Arc<AtomicU64>,
    invokes: Arc<AtomicU64>,
}

impl MockBackend {
    /// A mock following `config`.
    pub fn new(config: Config) -> Result<Self, BackendError> {
        Ok(MockBackend {
            config: Arc::new(config),
            starts: Arc::default(),
            invokes: Arc::default(),
        })
    }
}

fn spin(us: u64) -> Duration {
    let t0 = Instant::now();
    let target = Duration::from_micros(us);
    while t0.elapsed() < target {
        std::hint::spin_loop();
    }
    t0.elapsed()
}

fn pick(list: &[u64], n: u64) -> u64 {
    list[(n % list.len() as u64) as usize]
}

impl Backend for MockBackend {
    fn name(&self) -> &'static str {
        "mock"
    }

    fn info(&self) -> BackendInfo {
        let mut info = BackendInfo {
            name: "mock".into(),
            in_process: true,
            boundary: None,
            ..BackendInfo::default()
        };
        info.versions
            .insert("mock".into(), env!("CARGO_PKG_VERSION").into());
        info.settings
            .insert("start_us".into(), format!("{:?}", self.config.start_us));
        info.settings
            .insert("invoke_us".into(), format!("{:?}", self.config.invoke_us));
        info
    }

    fn prepare(&self, spec: &FunctionSpec) -> Result<Box<dyn Prepared>, BackendError> {
        spec.limits.check("mock", 0, "")?;
        if !matches!(spec.source, FunctionSource::Catalogue(_)) {
            return Err(BackendError::Prepare {
                function: spec.name.clone(),
                message: "the mock backend runs catalogue functions only".into(),
            });
        }
        Ok(Box::new(MockPrepared {
            backend: self.clone(),
            spec: spec.clone(),
        }))
    }
}

struct MockPrepared {
    backend: MockBackend,
    spec: FunctionSpec,
}

impl Prepared for MockPrepared {
    fn spec(&self) -> &FunctionSpec {
        &self.spec
    }

    fn start(&self) -> Result<Box<dyn Unit>, BackendError> {
        let n = self.backend.starts.fetch_add(1, Ordering::Relaxed);
        let cfg = &self.backend.config;
        if cfg.fail_start_every > 0 && (n + 1).is_multiple_of(cfg.fail_start_every) {
            return Err(BackendError::Start {
                message: format!("scripted start failure (start {})", n + 1),
            });
        }
        let took = spin(pick(&cfg.start_us, n));
        Ok(Box::new(MockUnit {
            id: n,
            backend: self.backend.clone(),
            spec: self.spec.clone(),
            phases: vec![Phase::new("spin", took)],
        }))
    }
}

struct MockUnit {
    id: u64,
    backend: MockBackend,
    spec: FunctionSpec,
    phases: Vec<Phase>,
}

impl Unit for MockUnit {
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError> {
        let n = self.backend.invokes.fetch_add(1, Ordering::Relaxed);
        let cfg = &self.backend.config;
        let took = spin(pick(&cfg.invoke_us, n));
        if cfg.fail_invoke_every > 0 && (n + 1).is_multiple_of(cfg.fail_invoke_every) {
            return Err(BackendError::Guest {
                message: format!("scripted invoke failure (invoke {})", n + 1),
            });
        }
        let f = self.spec.catalogue_function().expect("checked in prepare");
        let mut value = f.expected(req.size, req.seed);
        if cfg.wrong_answer {
            value ^= 1;
        }
        Ok(Response {
            value,
            guest_nanos: Some(took.as_nanos() as u64),
        })
    }

    fn start_phases(&self) -> Vec<Phase> {
        self.phases.clone()
    }

    fn memory(&mut self) -> Result<UnitMemory, BackendError> {
        Ok(UnitMemory {
            engine_bytes: Some(self.backend.config.memory_bytes),
            ..UnitMemory::default()
        })
    }

    fn id(&self) -> String {
        format!("mock-{}", self.id)
    }

    fn stop(self: Box<Self>) -> Result<(), BackendError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unitlab_backend::Function;

    #[test]
    fn scripted_failures_and_answers() {
        let mut cfg = Config::default();
        cfg.set("start_us", "1,2").unwrap();
        cfg.set("fail_start_every", "3").unwrap();
        let b = MockBackend::new(cfg).unwrap();
        let p = b.prepare(&FunctionSpec::catalogue(Function::Cpu)).unwrap();
        let mut u = p.start().unwrap();
        let req = Request { size: 1, seed: 4 };
        assert_eq!(u.invoke(&req).unwrap().value, Function::Cpu.expected(1, 4));
        assert!(p.start().is_ok());
        assert!(matches!(p.start(), Err(BackendError::Start { .. })));
        assert!(Config::default().set("nope", "1").is_err());
    }

    /// Option errors are their own variant, naming the backend and the key, never a start
    /// failure.
    #[test]
    fn option_errors_are_bad_option() {
        for (key, value) in [
            ("nope", "1"),
            ("start_us", "fast"),
            ("wrong_answer", "maybe"),
        ] {
            let err = Config::default().set(key, value).unwrap_err();
            match &err {
                BackendError::BadOption {
                    backend, key: k, ..
                } => {
                    assert_eq!((backend.as_str(), k.as_str()), ("mock", key));
                }
                other => panic!("{key}={value}: expected BadOption, got {other:?}"),
            }
            let text = err.to_string();
            assert!(
                text.contains(key) && !text.contains("starting a unit"),
                "{text}"
            );
        }
    }
}
