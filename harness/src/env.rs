//! The environment record stored with every result: machine, kernel, versions, seed, time.

use std::collections::BTreeMap;

use unitlab_results::EnvRecord;

/// Collects the environment record for a run with `seed`.
pub fn collect(seed: u64) -> EnvRecord {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kib| kib * 1024)
        .unwrap_or(0);
    let kernel = read_trim("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("PRETTY_NAME="))
                .map(|l| l["PRETTY_NAME=".len()..].trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let mut extra = BTreeMap::new();
    for (key, path) in [
        ("vm.max_map_count", "/proc/sys/vm/max_map_count"),
        (
            "cpufreq_governor",
            "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
        ),
        ("hostname", "/proc/sys/kernel/hostname"),
        (
            "clocksource",
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        ),
    ] {
        if let Some(v) = read_trim(path) {
            extra.insert(key.to_string(), v);
        }
    }
    let commit = env!("UNITLAB_GIT_COMMIT");
    EnvRecord {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_bytes,
        kernel,
        os,
        rustc: env!("UNITLAB_RUSTC_VERSION").to_string(),
        unitlab: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: (!commit.is_empty()).then(|| commit.to_string()),
        seed,
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        extra,
    }
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn record_is_filled() {
        let e = super::collect(7);
        assert_eq!(e.seed, 7);
        assert!(e.cores >= 1);
        assert!(e.rustc.starts_with("rustc "), "{}", e.rustc);
        assert!(!e.time.is_empty());
    }
}
