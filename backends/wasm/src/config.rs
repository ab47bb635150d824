//! Backend configuration: the keys `--strategy` and `--opt key=value` set.

use std::time::Duration;

use unitlab_backend::BackendError;

/// Default number of pooling slots (live units at once).
pub const DEFAULT_MAX_UNITS: u32 = 20_000;
/// Default largest linear memory per unit, in MiB.
pub const DEFAULT_MAX_MEMORY_MIB: u32 = 128;
/// Default epoch tick.
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);
/// Default entry export of a user core module.
pub const DEFAULT_ENTRY: &str = "run";
/// Table elements reserved per pooling slot (wasmtime's default is 20,000; Rust guests need a
/// few hundred and every slot reserves `8 * elements` bytes of address space).
pub const POOL_TABLE_ELEMENTS: usize = 10_000;

/// How wasmtime allocates instances, memories and tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// `mmap` per instance (wasmtime's default allocator). Each live instance holds about three
    /// kernel mappings, so the kernel's `vm.max_map_count` caps live units near 21,000.
    OnDemand,
    /// Pre-reserved slots, memory initialised copy-on-write from the module's image.
    #[default]
    Pooling,
    /// Pre-reserved slots, memory initialised by copying the data segments.
    PoolingNoCow,
}

impl Strategy {
    /// Every strategy, in display order.
    pub const ALL: [Strategy; 3] = [
        Strategy::OnDemand,
        Strategy::Pooling,
        Strategy::PoolingNoCow,
    ];

    /// The name `--strategy` takes.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::OnDemand => "ondemand",
            Strategy::Pooling => "pooling",
            Strategy::PoolingNoCow => "pooling-nocow",
        }
    }

    /// Parses a strategy name.
    pub fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether memories come from the pooling allocator.
    pub fn is_pooling(self) -> bool {
        matches!(self, Strategy::Pooling | Strategy::PoolingNoCow)
    }

    /// Whether linear memory is initialised copy-on-write.
    pub fn cow(self) -> bool {
        !matches!(self, Strategy::PoolingNoCow)
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the wasm backend can be told. `None` fields take the defaults above.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Instance allocation strategy (`strategy`).
    pub strategy: Strategy,
    /// Pooling slots: the most units alive at once (`max_units`).
    pub max_units: Option<u32>,
    /// Largest linear memory of one unit in MiB (`max_memory_mib`): the pooling slot size and,
    /// for every strategy, the memory reservation the compiled code assumes.
    pub max_memory_mib: Option<u32>,
    /// Deadline for functions whose `limits.deadline` is unset (`deadline_ms`); default none.
    pub deadline: Option<Duration>,
    /// Memory limit for functions whose `limits.memory_bytes` is unset (`memory_limit_mib`);
    /// default none (the slot size still bounds pooled memories).
    pub memory_limit_bytes: Option<u64>,
    /// Epoch tick of the deadline ticker (`tick_us`); default 1 ms.
    pub tick: Option<Duration>,
    /// Entry export called in user core modules (`entry`); default `run`.
    pub entry: Option<String>,
}

impl Config {
    /// The keys [`Config::set`] accepts, with their help text.
    pub const OPTIONS: &'static [(&'static str, &'static str)] = &[
        (
            "strategy",
            "instance allocator: pooling (default; copy-on-write memory init), pooling-nocow, ondemand",
        ),
        (
            "max_units",
            "pooling slots = most units alive at once (default 20000)",
        ),
        (
            "max_memory_mib",
            "largest linear memory per unit in MiB: pooling slot size and memory reservation (default 128)",
        ),
        (
            "deadline_ms",
            "deadline per invocation in ms for functions without one, enforced by epoch interruption (default: none)",
        ),
        (
            "memory_limit_mib",
            "linear memory limit per unit in MiB for functions without one (default: none)",
        ),
        (
            "tick_us",
            "epoch tick of the deadline ticker in microseconds (default 1000)",
        ),
        (
            "entry",
            "export called in user core modules, type (i32, i32) -> i32 (default run)",
        ),
    ];

    /// Sets one key from the command line.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), BackendError> {
        let bad = |expected: &str| {
            BackendError::bad_option(
                "wasm",
                key,
                value,
                &format!("{expected} (e.g. --opt {key}={})", example(key)),
            )
        };
        let number = |expected: &str| value.trim().parse::<u64>().map_err(|_| bad(expected));
        match key {
            "strategy" => {
                self.strategy = Strategy::from_name(value.trim())
                    .ok_or_else(|| bad("one of ondemand, pooling, pooling-nocow"))?;
            }
            "max_units" => {
                let n = number("a positive number of units")?;
                self.max_units = Some(
                    u32::try_from(n)
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| bad("a number of units in 1..=4294967295"))?,
                );
            }
            "max_memory_mib" => {
                let n = number("a size in MiB")?;
                self.max_memory_mib = Some(
                    u32::try_from(n)
                        .ok()
                        .filter(|&n| (1..=4096).contains(&n))
                        .ok_or_else(|| bad("a size in MiB in 1..=4096"))?,
                );
            }
            "deadline_ms" => {
                let n = number("milliseconds")?;
                self.deadline = (n > 0).then(|| Duration::from_millis(n));
            }
            "memory_limit_mib" => {
                let n = number("a size in MiB")?;
                self.memory_limit_bytes = (n > 0).then_some(n << 20);
            }
            "tick_us" => {
                let n = number("microseconds")?;
                if n == 0 {
                    return Err(bad("at least 1 microsecond"));
                }
                self.tick = Some(Duration::from_micros(n));
            }
            "entry" => {
                if value.trim().is_empty() {
                    return Err(bad("an export name"));
                }
                self.entry = Some(value.trim().to_string());
            }
            _ => return Err(BackendError::unknown_option("wasm", key, Self::OPTIONS)),
        }
        Ok(())
    }

    /// Pooling slots in effect.
    pub fn max_units(&self) -> u32 {
        self.max_units.unwrap_or(DEFAULT_MAX_UNITS)
    }

    /// Largest linear memory per unit in bytes.
    pub fn max_memory_bytes(&self) -> u64 {
        u64::from(self.max_memory_mib.unwrap_or(DEFAULT_MAX_MEMORY_MIB)) << 20
    }

    /// Epoch tick in effect.
    pub fn tick(&self) -> Duration {
        self.tick.unwrap_or(DEFAULT_TICK)
    }

    /// Entry export of user core modules.
    pub fn entry(&self) -> &str {
        self.entry.as_deref().unwrap_or(DEFAULT_ENTRY)
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "strategy" => "pooling",
        "max_units" => "20000",
        "max_memory_mib" => "128",
        "deadline_ms" => "1000",
        "memory_limit_mib" => "64",
        "tick_us" => "1000",
        "entry" => "run",
        _ => "VALUE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_accepted_and_bad_values_say_why() {
        let mut c = Config::default();
        for (key, _) in Config::OPTIONS {
            c.set(key, example(key)).unwrap();
        }
        assert_eq!(c.strategy, Strategy::Pooling);
        assert_eq!(c.max_units(), 20_000);
        assert_eq!(c.deadline, Some(Duration::from_secs(1)));
        assert_eq!(c.memory_limit_bytes, Some(64 << 20));
        c.set("strategy", "pooling-nocow").unwrap();
        assert_eq!(c.strategy, Strategy::PoolingNoCow);
        let err = c.set("strategy", "fast").unwrap_err().to_string();
        assert!(err.contains("ondemand, pooling, pooling-nocow"), "{err}");
        let err = c.set("max_units", "-3").unwrap_err().to_string();
        assert!(err.contains("max_units"), "{err}");
        let err = c.set("colour", "red").unwrap_err().to_string();
        assert!(
            err.contains("unknown option `colour`") && err.contains("strategy"),
            "{err}"
        );
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.strategy, Strategy::Pooling);
        assert!(c.strategy.cow());
        assert_eq!(c.max_memory_bytes(), 128 << 20);
        assert_eq!(c.tick(), Duration::from_millis(1));
        assert_eq!(c.entry(), "run");
        assert_eq!(c.deadline, None);
    }
}
