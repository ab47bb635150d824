//! The one shared wasmtime `Engine` and its epoch ticker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use unitlab_backend::BackendError;
use wasmtime::{InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::{Config, Strategy, POOL_TABLE_ELEMENTS};

/// Builds the engine for a configuration.
///
/// Every strategy compiles the same code: epoch interruption on, and the same
/// `memory_reservation` (= `max_memory_mib`), so that strategies differ only in how instances
/// and memories are allocated. (wasmtime's default 4 GiB reservation per memory would need
/// 80 TiB of address space for 20,000 pooled slots.)
pub(crate) fn build_engine(config: &Config) -> Result<wasmtime::Engine, BackendError> {
    let mut c = wasmtime::Config::new();
    c.epoch_interruption(true);
    c.memory_reservation(config.max_memory_bytes());
    c.memory_init_cow(config.strategy.cow());
    if config.strategy.is_pooling() {
        let units = config.max_units();
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(units)
            .total_memories(units)
            .total_tables(units)
            // Fiber stacks are for async calls, which this backend never makes; each would cost
            // a guard-page mapping against vm.max_map_count.
            .total_stacks(0)
            .total_component_instances(0)
            .max_memory_size(config.max_memory_bytes() as usize)
            .table_elements(POOL_TABLE_ELEMENTS);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    } else {
        c.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    }
    wasmtime::Engine::new(&c).map_err(|e| BackendError::Unavailable {
        backend: "wasm".into(),
        reason: format!(
            "wasmtime refused the engine configuration (strategy {}, max_units {}, max_memory_mib {}): {e:#}",
            config.strategy,
            config.max_units(),
            config.max_memory_bytes() >> 20
        ),
        fix: if config.strategy == Strategy::OnDemand {
            "check the options passed with --opt".into()
        } else {
            "the pool reserves max_units * (max_memory_mib + guard) of address space: lower \
             --opt max_units=N or --opt max_memory_mib=N, or use --strategy ondemand"
                .into()
        },
    })
}

/// A thread that increments the engine's epoch every `tick`, started on first need and stopped
/// when the backend and all its prepared functions are gone.
pub(crate) struct Ticker {
    tick: Duration,
    state: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
}

impl Ticker {
    pub(crate) fn new(tick: Duration) -> Self {
        Ticker {
            tick,
            state: Mutex::new(None),
        }
    }

    /// Starts the ticker if it is not running.
    pub(crate) fn ensure_running(&self, engine: &wasmtime::Engine) -> Result<(), BackendError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.is_some() {
            return Ok(());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let tick = self.tick;
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("unitlab-wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| BackendError::io("starting the wasm epoch ticker thread", e))?;
        *state = Some((stop, handle));
        Ok(())
    }

    /// Deadline in ticks: one more than the deadline needs, since the first tick can come at
    /// any moment after the deadline is set.
    pub(crate) fn ticks_for(&self, deadline: Duration) -> u64 {
        let tick = self.tick.as_nanos().max(1);
        let n = deadline.as_nanos().div_ceil(tick);
        u64::try_from(n).unwrap_or(u64::MAX / 4).saturating_add(1)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some((stop, handle)) = state.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up_and_add_one() {
        let t = Ticker::new(Duration::from_millis(1));
        assert_eq!(t.ticks_for(Duration::from_millis(10)), 11);
        assert_eq!(t.ticks_for(Duration::from_micros(10_500)), 12);
        assert_eq!(t.ticks_for(Duration::ZERO), 1);
    }

    #[test]
    fn every_strategy_builds_an_engine() {
        for strategy in Strategy::ALL {
            let config = Config {
                strategy,
                max_units: Some(10),
                ..Config::default()
            };
            build_engine(&config).unwrap();
        }
    }
}
