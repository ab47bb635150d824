//! Replay against a fake backend whose units sleep a known time to start and answer the
//! catalogue's `noop` correctly, time-scaled x10: the trace's decisions (cold or warm, unit
//! ids, unit-seconds in trace time) must come out as the simulator's on gaps far longer than
//! any real latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use unitlab_backend::{
    Backend, BackendError, BackendInfo, Function, FunctionSpec, Prepared, Request, Response, Unit,
    UnitMemory,
};
use unitlab_platform::calibration::{Calibration, Startup};
use unitlab_platform::policy::{Policy, NS_PER_S};
use unitlab_platform::replay::{replay, ReplayOptions};
use unitlab_platform::synth::{inv, MemTrace};
use unitlab_results::platform::Outcome;

const S: u64 = NS_PER_S;

struct Fake {
    started: Arc<AtomicU64>,
    stopped: Arc<AtomicU64>,
}
struct FakePrepared {
    spec: FunctionSpec,
    started: Arc<AtomicU64>,
    stopped: Arc<AtomicU64>,
}
struct FakeUnit {
    id: u64,
    stopped: Arc<AtomicU64>,
}

impl Backend for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "fake".into(),
            ..BackendInfo::default()
        }
    }
    fn prepare(&self, spec: &FunctionSpec) -> Result<Box<dyn Prepared>, BackendError> {
        Ok(Box::new(FakePrepared {
            spec: spec.clone(),
            started: Arc::clone(&self.started),
            stopped: Arc::clone(&self.stopped),
        }))
    }
}

impl Prepared for FakePrepared {
    fn spec(&self) -> &FunctionSpec {
        &self.spec
    }
    fn start(&self) -> Result<Box<dyn Unit>, BackendError> {
        std::thread::sleep(Duration::from_millis(2));
        let id = self.started.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(FakeUnit {
            id,
            stopped: Arc::clone(&self.stopped),
        }))
    }
}

impl Unit for FakeUnit {
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError> {
        Ok(Response {
            value: Function::Noop.expected(req.size, req.seed),
            guest_nanos: None,
        })
    }
    fn memory(&mut self) -> Result<UnitMemory, BackendError> {
        Ok(UnitMemory {
            engine_bytes: Some(1_000_000),
            host_bytes: None,
            details: Default::default(),
        })
    }
    fn id(&self) -> String {
        format!("fake-{}", self.id)
    }
    fn stop(self: Box<Self>) -> Result<(), BackendError> {
        self.stopped.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn fake() -> Fake {
    Fake {
        started: Arc::new(AtomicU64::new(0)),
        stopped: Arc::new(AtomicU64::new(0)),
    }
}

fn opts() -> ReplayOptions {
    ReplayOptions {
        time_scale: 10.0,
        workers: 4,
        ..ReplayOptions::default()
    }
}

/// Function 0 every 2 s (trace time) with 0.5 s executions, function 1 once; 10 s keep-alive.
fn trace() -> Vec<unitlab_workloads::Invocation> {
    let mut v: Vec<_> = (0..6).map(|k| inv(k * 2 * S, 0, S / 2)).collect();
    v.push(inv(3 * S, 1, S / 2));
    v
}

#[test]
fn replay_keep_alive_matches_the_decisions_of_the_simulator() {
    let b = fake();
    let spec = FunctionSpec::catalogue(Function::Noop);
    let out = replay(
        &b,
        &spec,
        MemTrace::new(trace(), "hand-built"),
        &Policy::fixed(10 * S),
        &opts(),
    )
    .unwrap();
    let p = &out.platform;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(p.counts.invocations, 7);
    assert_eq!(p.counts.cold_starts, 2);
    assert_eq!(p.counts.warm_starts, 5);
    assert_eq!(out.verified, 7);
    assert_eq!(b.started.load(Ordering::SeqCst), 2);
    assert_eq!(b.stopped.load(Ordering::SeqCst), 2, "every unit is stopped");
    // Every invocation row, and each unit's own memory reading used for GB-s.
    let inv = &p.records.invocations;
    assert_eq!(inv.len(), 7);
    assert!(inv.iter().all(|r| r.outcome == Outcome::Ok));
    assert!(inv
        .iter()
        .filter(|r| r.function == 0)
        .all(|r| r.unit == Some(0)));
    assert_eq!(out.memory_samples.len(), 2);
    assert!(p
        .records
        .units
        .iter()
        .all(|u| u.memory_bytes == Some(1_000_000)));
    assert!(p.records.units.iter().all(|u| u.backend_id.is_some()));
    assert_eq!(p.usage.units_without_memory, 0);
    // Held for the trace's 0.5 s: executing >= 7 x 0.5 s of trace time; each unit idles its
    // full keep-alive after its last invocation.
    assert!(p.usage.executing_ns >= (7 * S / 2) as u128);
    let u0 = p.records.units.iter().find(|u| u.unit == 0).unwrap();
    assert!(u0.idle_ns >= 10 * S);
    assert_eq!(u0.invocations, 6);

    // The simulator, calibrated with the fake's 2 ms start (x10 time scale = 20 ms of trace
    // time), makes the same decisions.
    let mut cal = Calibration::ideal(Some(1_000_000));
    cal.startup = Startup::Fixed { ns: S / 50 };
    let sim = unitlab_platform::sim::simulate(
        MemTrace::new(trace(), "hand-built"),
        &Policy::fixed(10 * S),
        &cal,
        &unitlab_platform::sim::SimOptions {
            functions: 2,
            records: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(sim.platform.counts.cold_starts, p.counts.cold_starts);
    assert_eq!(sim.platform.counts.units_started, p.counts.units_started);
}

#[test]
fn replay_without_keep_alive_is_all_cold() {
    let b = fake();
    let spec = FunctionSpec::catalogue(Function::Noop);
    let out = replay(
        &b,
        &spec,
        MemTrace::new(trace(), "hand-built"),
        &Policy::no_keep_alive(),
        &opts(),
    )
    .unwrap();
    assert_eq!(out.platform.counts.cold_starts, 7);
    assert_eq!(b.started.load(Ordering::SeqCst), 7);
    assert_eq!(b.stopped.load(Ordering::SeqCst), 7);
    assert_eq!(out.platform.usage.idle_ns, 0);
}

#[test]
fn replay_refuses_concurrency_above_one() {
    let mut p = Policy::fixed(S);
    p.concurrency = 2;
    let err = replay(
        &fake(),
        &FunctionSpec::catalogue(Function::Noop),
        MemTrace::new(trace(), "x"),
        &p,
        &opts(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("simulate"), "{err}");
}
