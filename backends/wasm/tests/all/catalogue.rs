//! Every catalogue function on every strategy returns `Function::expected`.

use unitlab_backend::{verify, Backend, Function, FunctionSpec, Request};
use unitlab_backend_wasm::Strategy;

use crate::{backend, prepare};

fn sizes(f: Function) -> &'static [u32] {
    match f {
        Function::Noop => &[0, 7],
        Function::Cpu => &[0, 1, 3],
        Function::Alloc => &[0, 1, 3, 2],
    }
}

#[test]
fn catalogue_answers_on_every_strategy() {
    for strategy in Strategy::ALL {
        let b = backend(strategy);
        for f in Function::ALL {
            let spec = FunctionSpec::catalogue(f);
            let prepared = prepare(&b, &spec);
            for seed in [0u32, 1, 0x9E37_79B9, u32::MAX] {
                // Cold: start + first invoke, then warm invokes on the same unit.
                let mut unit = prepared.start().unwrap();
                for &size in sizes(f) {
                    let req = Request { size, seed };
                    let resp = unit
                        .invoke(&req)
                        .unwrap_or_else(|e| panic!("{strategy} {f} size {size} seed {seed}: {e}"));
                    assert_eq!(
                        resp.value,
                        f.expected(size, seed),
                        "{strategy} {f} size {size} seed {seed}"
                    );
                    assert!(verify(&spec, &req, &resp, None).unwrap());
                }
                assert!(unit.id().starts_with("wasm-"));
                let phases: Vec<String> = unit.start_phases().into_iter().map(|p| p.name).collect();
                assert_eq!(phases, ["store", "instantiate"]);
                unit.stop().unwrap();
            }
        }
    }
}

#[test]
fn memory_reports_linear_memory_size_and_residency() {
    let b = backend(Strategy::Pooling);
    let noop = prepare(&b, &FunctionSpec::catalogue(Function::Noop));
    let mut unit = noop.start().unwrap();
    unit.invoke(&Request { size: 0, seed: 0 }).unwrap();
    let m = unit.memory().unwrap();
    assert_eq!(m.engine_bytes, Some(65536), "{m:?}");
    assert_eq!(m.details["linear_memory_pages"], 1);
    let resident = m.details["linear_memory_resident"];
    assert!((4096..=65536).contains(&resident), "{m:?}");

    let alloc = prepare(&b, &FunctionSpec::catalogue(Function::Alloc));
    let mut unit = alloc.start().unwrap();
    unit.invoke(&Request { size: 2, seed: 5 }).unwrap();
    let m = unit.memory().unwrap();
    assert_eq!(m.engine_bytes, Some(65536 + (2 << 20)), "{m:?}");
    // One byte per 4 KiB page touched: all 512 pages of the buffer are resident.
    assert!(m.details["linear_memory_resident"] >= 2 << 20, "{m:?}");
    assert_eq!(m.host_bytes, None);
}

#[test]
fn info_matches_the_configuration() {
    let b = crate::backend_with(
        Strategy::PoolingNoCow,
        &[("deadline_ms", "250"), ("memory_limit_mib", "8")],
    );
    let info = b.info();
    assert_eq!(info.settings["strategy"], "pooling-nocow");
    assert_eq!(info.settings["cow"], "false");
    assert_eq!(info.settings["max_units"], "16");
    assert_eq!(info.settings["deadline"], "250ms");
    assert_eq!(info.settings["memory_limit"], (8u64 << 20).to_string());
    assert!(info.in_process);
    assert!(info.versions["wasmtime"].starts_with("48."));
}
