//! Platform policies: when to start a unit, which idle unit to reuse, when to destroy it.
//!
//! One [`Policy`] value drives both replay and simulation through the same
//! [`crate::platform::Platform`] state machine. A policy is the combination of
//!
//! - a keep-alive rule ([`KeepAlive`]): none (every invocation cold), a fixed keep-alive
//!   (10 minutes on AWS Lambda, 20 on Azure Functions, per Shahrad et al. 2020), or the
//!   hybrid-histogram policy of "Serverless in the Wild" ([`HybridParams`]);
//! - provisioned units per function that are up before the trace starts and never expire,
//!   with overflow to on-demand units under the keep-alive rule;
//! - per-unit concurrency (invocations one unit runs at once, 1 by default);
//! - a cap on total units, with queueing or rejection when it is reached ([`Cap`]);
//! - the rule for picking among idle units ([`PickRule`]).
//!
//! Policies are written on the command line as `none`, `keepalive:10m`, `provisioned:2`,
//! `provisioned:2+keepalive:10m`, `hybrid` or `hybrid:range=4h,head=5,tail=99,margin=0.1`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::PlatformError;
use unitlab_backend::units::{fmt_duration_ns, round_up_duration_ns};

/// Nanoseconds per second.
pub const NS_PER_S: u64 = 1_000_000_000;

/// How long a unit stays alive once idle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum KeepAlive {
    /// Destroy a unit as soon as it is idle: every on-demand invocation is cold.
    None,
    /// Keep an idle unit for a fixed time, then destroy it.
    Fixed {
        /// Keep-alive, ns.
        ns: u64,
    },
    /// Shahrad et al.'s hybrid histogram policy.
    Hybrid(HybridParams),
}

/// Parameters of the hybrid-histogram policy (Shahrad et al., "Serverless in the Wild",
/// USENIX ATC 2020, section 4.2).
///
/// Per function, the policy keeps a histogram of idle times (IT: from the end of the
/// function's last execution, when none is running, to the next arrival) with `bin_ns` bins up
/// to `range_ns`. When the histogram is representative, after an execution ends the unit is
/// unloaded, a new unit is pre-warmed after the head percentile (minus `margin`), and kept
/// alive until the tail percentile (plus `margin`). When the head percentile is 0 the unit is
/// not unloaded, just kept alive until the tail. When the histogram is not representative (too
/// few ITs, coefficient of variation of the bin counts below `cv_threshold`, or too many ITs
/// beyond the range), the policy falls back to a fixed keep-alive of `fallback_ns`. The paper
/// uses an ARIMA forecast when most ITs fall out of range; that is not implemented here and
/// the fallback is used instead (stated in every result's policy settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HybridParams {
    /// Histogram range, ns (paper: 4 hours).
    pub range_ns: u64,
    /// Bin width, ns (paper: 1 minute).
    pub bin_ns: u64,
    /// Pre-warm percentile (paper: 5).
    pub head_percentile: f64,
    /// Keep-alive percentile (paper: 99).
    pub tail_percentile: f64,
    /// Safety margin (paper: 10%): pre-warm earlier and keep alive longer by this fraction.
    pub margin: f64,
    /// Minimum coefficient of variation of bin counts for a representative histogram (paper:
    /// 2).
    pub cv_threshold: f64,
    /// Minimum number of observed ITs before the histogram is used.
    pub min_samples: u32,
    /// Maximum share of ITs beyond the range before the histogram is distrusted.
    pub max_out_of_range: f64,
    /// Keep-alive used while the histogram is not representative, ns (default: the range,
    /// the paper's conservative choice).
    pub fallback_ns: u64,
}

impl Default for HybridParams {
    fn default() -> Self {
        HybridParams {
            range_ns: 4 * 3600 * NS_PER_S,
            bin_ns: 60 * NS_PER_S,
            head_percentile: 5.0,
            tail_percentile: 99.0,
            margin: 0.1,
            cv_threshold: 2.0,
            min_samples: 10,
            max_out_of_range: 0.5,
            fallback_ns: 4 * 3600 * NS_PER_S,
        }
    }
}

/// Which idle unit serves an arrival when there are several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PickRule {
    /// The unit that became free most recently (a stack). Lets the longest-idle units expire.
    #[default]
    Mru,
    /// The unit that has been free longest (a queue). Spreads load, keeps more units warm.
    Lru,
    /// The most recently created unit (SimFaaS's and Mahmoudi & Khazaei's routing rule).
    Newest,
}

impl PickRule {
    /// Parses `mru`, `lru` or `newest`.
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        match s {
            "mru" | "most-recently-used" => Ok(PickRule::Mru),
            "lru" | "least-recently-used" => Ok(PickRule::Lru),
            "newest" => Ok(PickRule::Newest),
            _ => Err(PlatformError::Policy {
                spec: s.to_string(),
                message: "pick rule must be `mru`, `lru` or `newest`".into(),
            }),
        }
    }
}

/// What happens to an arrival when the unit cap is reached and no idle unit can be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFull {
    /// Wait (FIFO) until a unit of its function frees up or room is made.
    Queue,
    /// Fail the invocation at once.
    Reject,
}

/// A cap on the total number of live units (all functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    /// Most live units (starting, executing or idle).
    pub max_units: u32,
    /// Queue or reject when full.
    pub on_full: OnFull,
}

/// A complete platform policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Name used in results and as a directory name.
    pub name: String,
    /// Keep-alive rule for on-demand units.
    pub keep_alive: KeepAlive,
    /// Units per function provisioned before the trace, never expired.
    pub provisioned: u32,
    /// Invocations one unit runs at once.
    pub concurrency: u32,
    /// Idle-unit pick rule.
    pub pick: PickRule,
    /// Total unit cap.
    pub cap: Option<Cap>,
}

impl Policy {
    /// No keep-alive: the baseline.
    pub fn no_keep_alive() -> Self {
        Policy::with_keep_alive("none", KeepAlive::None)
    }

    /// Fixed keep-alive of `ns`.
    pub fn fixed(ns: u64) -> Self {
        Policy::with_keep_alive(
            &format!("keepalive-{}", fmt_duration(ns)),
            KeepAlive::Fixed { ns },
        )
    }

    /// Hybrid histogram with the paper's parameters.
    pub fn hybrid() -> Self {
        Policy::with_keep_alive("hybrid", KeepAlive::Hybrid(HybridParams::default()))
    }

    /// `n` provisioned units per function, overflow under `overflow`.
    pub fn provisioned(n: u32, overflow: KeepAlive) -> Self {
        let mut p = Policy::with_keep_alive("", overflow);
        p.provisioned = n;
        p.name = match &p.keep_alive {
            KeepAlive::None => format!("provisioned-{n}"),
            KeepAlive::Fixed { ns } => format!("provisioned-{n}+keepalive-{}", fmt_duration(*ns)),
            KeepAlive::Hybrid(_) => format!("provisioned-{n}+hybrid"),
        };
        p
    }

    fn with_keep_alive(name: &str, keep_alive: KeepAlive) -> Self {
        Policy {
            name: name.to_string(),
            keep_alive,
            provisioned: 0,
            concurrency: 1,
            pick: PickRule::Mru,
            cap: None,
        }
    }

    /// True for the no-keep-alive, no-provisioning baseline.
    pub fn is_baseline(&self) -> bool {
        self.keep_alive == KeepAlive::None && self.provisioned == 0
    }

    /// Refuses a hybrid policy whose idle-time histograms for `functions` functions would
    /// need more than [`MAX_HYBRID_BYTES`] together, stating the memory they would need.
    pub fn check_memory(&self, functions: u64) -> Result<(), PlatformError> {
        if let KeepAlive::Hybrid(h) = &self.keep_alive {
            let per_fn = (h.range_ns / h.bin_ns.max(1)) as u128 * 4;
            let total = per_fn * functions as u128;
            if total > MAX_HYBRID_BYTES as u128 {
                return Err(PlatformError::Policy {
                    spec: self.name.clone(),
                    message: format!(
                        "hybrid: {functions} functions' idle-time histograms of {} bins each need {} together; at most {}: choose a wider bin or a shorter range",
                        h.range_ns / h.bin_ns.max(1),
                        fmt_bytes(total),
                        fmt_bytes(MAX_HYBRID_BYTES as u128),
                    ),
                });
            }
        }
        Ok(())
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), PlatformError> {
        let bad = |m: &str| {
            Err(PlatformError::Policy {
                spec: self.name.clone(),
                message: m.to_string(),
            })
        };
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1");
        }
        if let Some(cap) = self.cap {
            if cap.max_units == 0 {
                return bad("the unit cap must be at least 1");
            }
        }
        if let KeepAlive::Hybrid(h) = &self.keep_alive {
            if h.bin_ns == 0 || h.range_ns < h.bin_ns {
                return bad("hybrid: bin must be > 0 and range >= bin");
            }
            let bins = h.range_ns / h.bin_ns;
            if bins > MAX_HYBRID_BINS {
                return Err(PlatformError::Policy {
                    spec: self.name.clone(),
                    message: format!(
                        "hybrid: range={} over bin={} is {bins} bins per function, {} for each function's idle-time histogram (4 bytes a bin); at most {MAX_HYBRID_BINS} bins (4 MiB): choose bin >= {}",
                        fmt_duration_ns(h.range_ns),
                        fmt_duration_ns(h.bin_ns),
                        fmt_bytes(bins as u128 * 4),
                        fmt_duration_ns(round_up_duration_ns(h.range_ns.div_ceil(MAX_HYBRID_BINS))),
                    ),
                });
            }
            if !(0.0..=100.0).contains(&h.head_percentile)
                || !(0.0..=100.0).contains(&h.tail_percentile)
                || h.head_percentile > h.tail_percentile
            {
                return bad("hybrid: percentiles must satisfy 0 <= head <= tail <= 100");
            }
            if !(0.0..1.0).contains(&h.margin) {
                return bad("hybrid: margin must be in [0, 1)");
            }
        }
        Ok(())
    }

    /// The settings as text, for results.
    pub fn facts(&self) -> unitlab_results::platform::PolicyFacts {
        unitlab_results::platform::PolicyFacts {
            keep_alive_ns: match &self.keep_alive {
                KeepAlive::None => Some(0),
                KeepAlive::Fixed { ns } => Some(*ns),
                KeepAlive::Hybrid(_) => None,
            },
            baseline: self.is_baseline(),
            provisioned: self.provisioned,
            pick: self.settings()["pick"].clone(),
            cap: self.cap.map(|c| c.max_units),
            concurrency: self.concurrency,
        }
    }

    /// The settings as text, for people (readers use [`Policy::facts`]).
    pub fn settings(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let ka = match &self.keep_alive {
            KeepAlive::None => "none".to_string(),
            KeepAlive::Fixed { ns } => format!("fixed {}", fmt_duration(*ns)),
            KeepAlive::Hybrid(h) => {
                m.insert("hybrid.range".into(), fmt_duration(h.range_ns));
                m.insert("hybrid.bin".into(), fmt_duration(h.bin_ns));
                m.insert(
                    "hybrid.head_percentile".into(),
                    h.head_percentile.to_string(),
                );
                m.insert(
                    "hybrid.tail_percentile".into(),
                    h.tail_percentile.to_string(),
                );
                m.insert("hybrid.margin".into(), h.margin.to_string());
                m.insert("hybrid.cv_threshold".into(), h.cv_threshold.to_string());
                m.insert("hybrid.min_samples".into(), h.min_samples.to_string());
                m.insert(
                    "hybrid.max_out_of_range".into(),
                    h.max_out_of_range.to_string(),
                );
                m.insert("hybrid.fallback".into(), fmt_duration(h.fallback_ns));
                m.insert(
                    "hybrid.arima".into(),
                    "not implemented: out-of-range histograms use the fallback keep-alive".into(),
                );
                "hybrid histogram".to_string()
            }
        };
        m.insert("keep_alive".into(), ka);
        m.insert(
            "provisioned_per_function".into(),
            self.provisioned.to_string(),
        );
        m.insert("concurrency".into(), self.concurrency.to_string());
        m.insert(
            "pick".into(),
            match self.pick {
                PickRule::Mru => "mru",
                PickRule::Lru => "lru",
                PickRule::Newest => "newest",
            }
            .into(),
        );
        m.insert(
            "cap".into(),
            match self.cap {
                None => "none".into(),
                Some(c) => format!(
                    "{} units, {}",
                    c.max_units,
                    match c.on_full {
                        OnFull::Queue => "queue",
                        OnFull::Reject => "reject",
                    }
                ),
            },
        );
        m
    }

    /// Parses a policy spec: `none`, `keepalive:10m`, `provisioned:2`,
    /// `provisioned:2+keepalive:10m`, `hybrid`, `hybrid:range=4h,bin=1m,head=5,tail=99,
    /// margin=0.1,cv=2,min=10,oor=0.5,fallback=4h`. Pick rule, concurrency and cap are set
    /// apart (see [`Policy::pick`], [`Policy::concurrency`], [`Policy::cap`]).
    pub fn parse(spec: &str) -> Result<Self, PlatformError> {
        let err = |m: String| PlatformError::Policy {
            spec: spec.to_string(),
            message: m,
        };
        let mut provisioned = None;
        let mut keep_alive = None;
        for part in spec.split('+') {
            let (head, arg) = match part.split_once(':') {
                Some((h, a)) => (h.trim(), Some(a.trim())),
                None => (part.trim(), None),
            };
            let ka = match (head, arg) {
                ("none" | "no-keepalive", None) => Some(KeepAlive::None),
                ("keepalive" | "fixed", Some(a)) => Some(KeepAlive::Fixed {
                    ns: parse_duration(a).map_err(err)?,
                }),
                ("hybrid", a) => {
                    let mut h = HybridParams::default();
                    let mut fallback_set = false;
                    for kv in a.unwrap_or("").split(',').filter(|s| !s.is_empty()) {
                        let (k, v) = kv
                            .split_once('=')
                            .ok_or_else(|| err(format!("`{kv}`: expected key=value")))?;
                        let num = || {
                            v.parse::<f64>()
                                .map_err(|_| err(format!("`{kv}`: not a number")))
                        };
                        match k {
                            "range" => h.range_ns = parse_duration(v).map_err(err)?,
                            "bin" => h.bin_ns = parse_duration(v).map_err(err)?,
                            "head" => h.head_percentile = num()?,
                            "tail" => h.tail_percentile = num()?,
                            "margin" => h.margin = num()?,
                            "cv" => h.cv_threshold = num()?,
                            "min" => h.min_samples = num()? as u32,
                            "oor" => h.max_out_of_range = num()?,
                            "fallback" => {
                                h.fallback_ns = parse_duration(v).map_err(err)?;
                                fallback_set = true;
                            }
                            _ => return Err(err(format!(
                                "unknown hybrid key `{k}`; known: range, bin, head, tail, margin, cv, min, oor, fallback"
                            ))),
                        }
                    }
                    if !fallback_set {
                        h.fallback_ns = h.range_ns;
                    }
                    Some(KeepAlive::Hybrid(h))
                }
                ("provisioned", Some(a)) => {
                    provisioned = Some(
                        a.parse::<u32>()
                            .map_err(|_| err(format!("`{a}`: not a unit count")))?,
                    );
                    None
                }
                _ => {
                    return Err(err(format!(
                        "`{part}`: expected none, keepalive:<duration>, provisioned:<n>, hybrid[:k=v,...]"
                    )))
                }
            };
            if let Some(ka) = ka {
                if keep_alive.replace(ka).is_some() {
                    return Err(err("more than one keep-alive rule".into()));
                }
            }
        }
        let keep_alive = keep_alive.unwrap_or(KeepAlive::None);
        let mut p = match provisioned {
            Some(n) => Policy::provisioned(n, keep_alive),
            None => match keep_alive {
                KeepAlive::None => Policy::no_keep_alive(),
                KeepAlive::Fixed { ns } => Policy::fixed(ns),
                KeepAlive::Hybrid(h) => {
                    let mut p = Policy::hybrid();
                    p.keep_alive = KeepAlive::Hybrid(h);
                    p
                }
            },
        };
        if !spec.contains(':') && !spec.contains('+') {
            p.name = spec.to_string();
        }
        p.validate()?;
        Ok(p)
    }

    /// Appends the non-default pick, concurrency and cap to the name, so that runs differing
    /// only in those get distinct directories.
    pub fn refresh_name(&mut self) {
        let base = self.name.split('@').next().unwrap_or("").to_string();
        let mut extra = Vec::new();
        if self.pick != PickRule::Mru {
            extra.push(self.settings()["pick"].clone());
        }
        if self.concurrency != 1 {
            extra.push(format!("c{}", self.concurrency));
        }
        if let Some(c) = self.cap {
            extra.push(format!(
                "cap{}{}",
                c.max_units,
                if c.on_full == OnFull::Queue { "q" } else { "r" }
            ));
        }
        self.name = if extra.is_empty() {
            base
        } else {
            format!("{base}@{}", extra.join(","))
        };
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Parses `--bin`, the timeline bin width: 1 ms to 366 days (a narrower bin is never a useful
/// chart, and its timeline would need memory in proportion to the span over the bin).
pub fn parse_bin(s: &str) -> Result<u64, String> {
    unitlab_backend::units::parse_duration_in("--bin", s, 1_000_000, 366 * 86_400 * NS_PER_S)
}

/// The most memory a hybrid policy's idle-time histograms may take together: 4 GiB.
pub const MAX_HYBRID_BYTES: u64 = 4 << 30;

/// The most bins a hybrid policy's per-function idle-time histogram may have (`range / bin`):
/// 2^20, 4 MiB per function.
pub const MAX_HYBRID_BINS: u64 = 1 << 20;

/// Bytes with a binary unit, for messages about memory (`52.4 TiB`).
pub fn fmt_bytes(b: u128) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// Parses `500ms`, `10s`, `10m`, `4h`, `250us`, `100ns` into ns: the one duration syntax of
/// every flag, so a bare number (seconds? milliseconds?) is refused with the units to write.
///
/// At most [`MAX_POLICY_NS`]: every time the simulator adds up (arrival + keep-alive +
/// execution) then stays far inside `u64` ns.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    unitlab_workloads::units::parse_duration_ns(s)?;
    unitlab_backend::units::parse_duration_in("a duration", s, 0, MAX_POLICY_NS)
}

/// The longest keep-alive, range, window or other policy duration: 3653 days (10 years, the
/// longest span a trace may have).
pub const MAX_POLICY_NS: u64 = 3653 * 86_400 * NS_PER_S;

/// The longest execution or start-up a calibration or execution model may state: 7 days
/// (the longest execution a trace may give).
pub const MAX_EXECUTION_NS: u64 = 7 * 86_400 * NS_PER_S;

/// Parses an execution time or start-up with its unit (a bare number is refused, as by
/// [`parse_duration`]): 0 to [`MAX_EXECUTION_NS`].
pub fn parse_execution(what: &str, s: &str) -> Result<u64, String> {
    unitlab_workloads::units::parse_duration_ns(s).map_err(|e| format!("{what}: {e}"))?;
    unitlab_backend::units::parse_duration_in(what, s, 0, MAX_EXECUTION_NS)
}

/// Formats ns as a short duration (`10m`, `1.5s`, `250ms`).
pub fn fmt_duration(ns: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (86400 * NS_PER_S, "d"),
        (3600 * NS_PER_S, "h"),
        (60 * NS_PER_S, "m"),
        (NS_PER_S, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    for (div, u) in UNITS {
        if ns >= div && ns.is_multiple_of(div) {
            return format!("{}{u}", ns / div);
        }
    }
    for (div, u) in UNITS {
        if ns >= div {
            return format!("{}{u}", ns as f64 / div as f64);
        }
    }
    format!("{ns}ns")
}

impl std::str::FromStr for Policy {
    type Err = PlatformError;
    /// [`Policy::parse`].
    fn from_str(s: &str) -> Result<Self, PlatformError> {
        Policy::parse(s)
    }
}

impl std::str::FromStr for PickRule {
    type Err = PlatformError;
    /// [`PickRule::parse`].
    fn from_str(s: &str) -> Result<Self, PlatformError> {
        PickRule::parse(s)
    }
}

impl std::str::FromStr for OnFull {
    type Err = PlatformError;
    /// `queue` or `reject`.
    fn from_str(s: &str) -> Result<Self, PlatformError> {
        match s {
            "queue" => Ok(OnFull::Queue),
            "reject" => Ok(OnFull::Reject),
            o => Err(PlatformError::Config {
                what: format!("on-full rule `{o}`"),
                message: "expected queue or reject".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_policies() {
        assert_eq!(Policy::parse("none").unwrap().keep_alive, KeepAlive::None);
        let p = Policy::parse("keepalive:10m").unwrap();
        assert_eq!(p.keep_alive, KeepAlive::Fixed { ns: 600 * NS_PER_S });
        assert_eq!(p.name, "keepalive-10m");
        let p = Policy::parse("provisioned:2+keepalive:20m").unwrap();
        assert_eq!(p.provisioned, 2);
        assert_eq!(p.name, "provisioned-2+keepalive-20m");
        let p = Policy::parse("hybrid:range=2h,head=1").unwrap();
        match p.keep_alive {
            KeepAlive::Hybrid(h) => {
                assert_eq!(h.range_ns, 7200 * NS_PER_S);
                assert_eq!(h.fallback_ns, 7200 * NS_PER_S);
                assert_eq!(h.head_percentile, 1.0);
            }
            _ => panic!(),
        }
        assert!(Policy::parse("keepalive:10x").is_err());
        assert!(Policy::parse("bogus").is_err());
        assert!(Policy::parse("keepalive:1m+hybrid").is_err());
    }

    #[test]
    fn durations_round_trip() {
        assert_eq!(parse_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(fmt_duration(600 * NS_PER_S), "10m");
        assert_eq!(fmt_duration(1_500_000_000), "1500ms");
        assert_eq!(fmt_duration(1_234_567), "1.234567ms");
        assert_eq!(parse_duration("250ms").unwrap(), 250_000_000);
    }

    #[test]
    fn durations_in_specs_name_their_unit() {
        let e = Policy::parse("keepalive:600").unwrap_err().to_string();
        assert!(e.contains("`600` has no unit"), "{e}");
        let e = Policy::parse("hybrid:range=4").unwrap_err().to_string();
        assert!(e.contains("`4` has no unit"), "{e}");
        let e = parse_execution("the start-up", "150").unwrap_err();
        assert!(e.starts_with("the start-up: `150` has no unit"), "{e}");
        assert!(Policy::parse("keepalive:10m").is_ok());
        assert!(Policy::parse("provisioned:2+keepalive:10m").is_ok());
    }
}
