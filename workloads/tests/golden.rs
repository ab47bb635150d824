//! Golden values: the same seed and parameters must give the same bytes on every machine and
//! after every change. If one of these fails, either the change was meant to alter generated
//! traces (then update the values and say so in the commit) or the platform's libm differs
//! (see `unitlab_workloads::rng`).

use unitlab_workloads::durations::DurationDist;
use unitlab_workloads::synth::{GenConfig, Pattern, Process, Synthetic};
use unitlab_workloads::trace::collect;

/// FNV-1a 64 of a byte string.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn file_bytes(g: Synthetic) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.csv");
    unitlab_workloads::native::write(g, &p).unwrap();
    std::fs::read(p).unwrap()
}

#[test]
fn poisson_first_arrivals_are_pinned() {
    let cfg = GenConfig {
        seed: 42,
        span_s: 10.0,
        durations: "lognormal:100ms,1".parse().unwrap(),
        memory_bytes: None,
    };
    let (_, v) =
        collect(Synthetic::new(&Pattern::Single(Process::Poisson { rate: 10.0 }), &cfg).unwrap())
            .unwrap();
    let first: Vec<(u64, Option<u64>)> = v
        .iter()
        .take(5)
        .map(|i| (i.arrival_ns, i.duration_ns))
        .collect();
    assert_eq!(first, GOLDEN_POISSON);
}

#[test]
fn generated_files_are_byte_identical_and_pinned() {
    let a = file_bytes(unitlab_workloads::default_bursty(7));
    let b = file_bytes(unitlab_workloads::default_bursty(7));
    assert_eq!(a, b);
    assert_eq!((a.len(), fnv1a(&a)), GOLDEN_BURSTY);
    let c = file_bytes(unitlab_workloads::default_bursty(8));
    assert_ne!(a, c);
    // Every process once, with every duration distribution.
    let procs = [
        "poisson",
        "onoff",
        "diurnal",
        "flash",
        "pareto",
        "lognormal",
        "periodic",
    ];
    let mut got = Vec::new();
    for (k, name) in procs.iter().enumerate() {
        let p = match *name {
            "poisson" => Process::Poisson { rate: 50.0 },
            "onoff" => Process::OnOff(unitlab_workloads::synth::OnOff {
                rate_on: 100.0,
                rate_off: 1.0,
                mean_on_s: 1.0,
                mean_off_s: 3.0,
            }),
            "diurnal" => Process::Diurnal {
                mean_rate: 50.0,
                amplitude: 0.5,
                period_s: 10.0,
                peak_s: 2.0,
            },
            "flash" => Process::FlashCrowd(unitlab_workloads::synth::FlashCrowd {
                base_rate: 5.0,
                peak_rate: 200.0,
                start_s: 3.0,
                ramp_s: 1.0,
                hold_s: 2.0,
                decay_s: 1.0,
            }),
            "pareto" => Process::Pareto {
                rate: 50.0,
                shape: 1.5,
            },
            "lognormal" => Process::LogNormal {
                rate: 50.0,
                sigma: 1.5,
            },
            _ => Process::Periodic {
                period_s: 0.1,
                jitter_s: 0.05,
                offset_s: 0.0,
            },
        };
        let durations: DurationDist = [
            "none",
            "fixed:10ms",
            "exp:20ms",
            "lognormal:30ms,0.8",
            "empirical:1ms,5ms,9ms",
            "exp:1s",
            "fixed:0ns",
        ][k]
            .parse()
            .unwrap();
        let cfg = GenConfig {
            seed: 100 + k as u64,
            span_s: 10.0,
            durations,
            memory_bytes: Some(64 << 20),
        };
        let bytes = file_bytes(Synthetic::new(&Pattern::Single(p), &cfg).unwrap());
        got.push((bytes.len(), fnv1a(&bytes)));
    }
    assert_eq!(got, GOLDEN_PROCESSES);
}

const GOLDEN_POISSON: [(u64, Option<u64>); 5] = [
    (84438123, Some(295506394)),
    (117900779, Some(32900637)),
    (131920695, Some(170351044)),
    (281328770, Some(40272715)),
    (284585977, Some(72468027)),
];
const GOLDEN_BURSTY: (usize, u64) = (410734, 9627491243767728703);
const GOLDEN_PROCESSES: [(usize, u64); 7] = [
    (11495, 5363165974066761948),
    (6515, 10346093897131541453),
    (16369, 11883908597807118906),
    (19239, 13885454884093639826),
    (15715, 15779808437800366698),
    (19031, 13527642829326518636),
    (2626, 9438631682673857082),
];
