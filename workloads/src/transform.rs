//! Stream transforms behind `unitlab trace slice` and `unitlab trace scale`.
//!
//! - [`Slice`]: keeps arrivals in `[from, to)` and, optionally, only some functions (whose
//!   ids are then renumbered densely in the order given); optionally shifts the window to
//!   start at 0. Stops reading at `to`.
//! - [`Scale`]: multiplies every arrival time by `time_factor` (< 1 compresses time, so the
//!   rate rises by 1/factor; durations are left alone), then changes the rate by
//!   `rate_factor` without touching the time axis: below 1 each invocation is kept with
//!   probability `rate_factor` (independent thinning, which keeps a Poisson process Poisson);
//!   above 1 each invocation is followed by `floor(f) - 1` copies plus one more with
//!   probability `f - floor(f)`, each copy (same function, duration, memory) at a uniform
//!   random time between the invocation and the next original arrival (or the span's end).
//!   Seeded (stream `SCALE`).

use crate::rng::{stream, Rng};
use crate::trace::{FunctionId, Invocation, TraceMeta, TraceStream};
use crate::TraceError;
use std::collections::VecDeque;

/// A time window and function filter over a stream.
pub struct Slice<S> {
    inner: S,
    meta: TraceMeta,
    from_ns: u64,
    to_ns: u64,
    remap: Option<Vec<Option<FunctionId>>>,
    rebase: bool,
    done: bool,
}

impl<S: TraceStream> Slice<S> {
    /// Keeps `[from_ns, to_ns)` (to = None: to the end) and the named functions (by name or
    /// by numeric id; empty: all). `rebase` shifts arrivals so the window starts at 0.
    pub fn new(
        inner: S,
        from_ns: u64,
        to_ns: Option<u64>,
        functions: &[String],
        rebase: bool,
    ) -> Result<Self, TraceError> {
        let mut meta = inner.meta().clone();
        let to = to_ns.unwrap_or(u64::MAX);
        if to <= from_ns {
            return Err(TraceError::param(
                "to",
                format!("the window end ({to} ns) must be after its start ({from_ns} ns)"),
            ));
        }
        let remap = if functions.is_empty() {
            None
        } else {
            let mut map = vec![None; meta.functions.len()];
            let mut names = Vec::new();
            for f in functions {
                let id = meta
                    .functions
                    .iter()
                    .position(|n| n == f)
                    .or_else(|| {
                        f.parse::<usize>()
                            .ok()
                            .filter(|&i| i < meta.functions.len())
                    })
                    .ok_or_else(|| {
                        TraceError::param(
                            "functions",
                            format!(
                                "`{f}` is neither a function name nor an id in 0..{} of this trace",
                                meta.functions.len()
                            ),
                        )
                    })?;
                if map[id].is_none() {
                    map[id] = Some(names.len() as FunctionId);
                    names.push(meta.functions[id].clone());
                }
            }
            meta.functions = names;
            Some(map)
        };
        let end = meta.span_ns.map_or(to, |s| s.min(to));
        meta.span_ns = if rebase {
            Some(end.saturating_sub(from_ns))
        } else {
            meta.span_ns.map(|s| s.min(to))
        };
        if to_ns.is_none() && meta.span_ns == Some(u64::MAX) {
            meta.span_ns = None;
        }
        meta.source = format!(
            "{}; sliced to [{from_ns}, {}) ns{}{}",
            meta.source,
            to_ns.map_or("end".into(), |t| t.to_string()),
            if functions.is_empty() {
                String::new()
            } else {
                format!(", functions {}", functions.join(","))
            },
            if rebase { ", rebased to 0" } else { "" }
        );
        Ok(Slice {
            inner,
            meta,
            from_ns,
            to_ns: to,
            remap,
            rebase,
            done: false,
        })
    }
}

impl<S: TraceStream> Iterator for Slice<S> {
    type Item = Result<Invocation, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let mut inv = match self.inner.next()? {
                Ok(i) => i,
                Err(e) => return Some(Err(e)),
            };
            if inv.arrival_ns >= self.to_ns {
                self.done = true;
                return None;
            }
            if inv.arrival_ns < self.from_ns {
                continue;
            }
            if let Some(map) = &self.remap {
                match map.get(inv.function as usize).copied().flatten() {
                    Some(id) => inv.function = id,
                    None => continue,
                }
            }
            if self.rebase {
                inv.arrival_ns -= self.from_ns;
            }
            return Some(Ok(inv));
        }
        None
    }
}

impl<S: TraceStream> TraceStream for Slice<S> {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

/// Time stretch and rate thinning/thickening.
pub struct Scale<S> {
    inner: S,
    meta: TraceMeta,
    time_factor: f64,
    rate_factor: f64,
    rng: Rng,
    lookahead: Option<Invocation>,
    pending: VecDeque<Invocation>,
    started: bool,
}

impl<S: TraceStream> Scale<S> {
    /// `time_factor` > 0 multiplies arrival times; `rate_factor` > 0 thins (< 1) or
    /// thickens (> 1). `seed` drives both random choices.
    pub fn new(
        inner: S,
        time_factor: f64,
        rate_factor: f64,
        seed: u64,
    ) -> Result<Self, TraceError> {
        if !(time_factor > 0.0 && time_factor.is_finite()) {
            return Err(TraceError::param(
                "time-factor",
                format!("must be > 0, got {time_factor}"),
            ));
        }
        if !(rate_factor > 0.0 && rate_factor.is_finite()) {
            return Err(TraceError::param(
                "rate-factor",
                format!("must be > 0, got {rate_factor}"),
            ));
        }
        let mut meta = inner.meta().clone();
        meta.span_ns = meta
            .span_ns
            .map(|s| (s as f64 * time_factor).round() as u64);
        meta.source = format!(
            "{}; scaled: time x{time_factor}, rate x{rate_factor} (seed {seed})",
            meta.source
        );
        Ok(Scale {
            inner,
            meta,
            time_factor,
            rate_factor,
            rng: Rng::new(seed, stream::SCALE),
            lookahead: None,
            pending: VecDeque::new(),
            started: false,
        })
    }

    fn pull(&mut self) -> Option<Result<Invocation, TraceError>> {
        let tf = self.time_factor;
        self.inner.next().map(|r| {
            r.map(|mut i| {
                if tf != 1.0 {
                    i.arrival_ns = (i.arrival_ns as f64 * tf).round() as u64;
                }
                i
            })
        })
    }
}

impl<S: TraceStream> Iterator for Scale<S> {
    type Item = Result<Invocation, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(i) = self.pending.pop_front() {
                return Some(Ok(i));
            }
            if !self.started {
                self.started = true;
                match self.pull() {
                    Some(Ok(i)) => self.lookahead = Some(i),
                    Some(Err(e)) => return Some(Err(e)),
                    None => return None,
                }
            }
            let cur = self.lookahead.take()?;
            let next = match self.pull() {
                Some(Ok(i)) => Some(i),
                Some(Err(e)) => return Some(Err(e)),
                None => None,
            };
            self.lookahead = next;
            if self.rate_factor < 1.0 {
                if self.rng.uniform() < self.rate_factor {
                    return Some(Ok(cur));
                }
                continue;
            }
            let f = self.rate_factor;
            let mut copies = f.floor() as u64 - 1;
            if self.rng.uniform() < f - f.floor() {
                copies += 1;
            }
            let end = next
                .map(|n| n.arrival_ns)
                .or(self.meta.span_ns.filter(|&s| s > cur.arrival_ns))
                .unwrap_or(cur.arrival_ns + 1);
            let gap = end.saturating_sub(cur.arrival_ns).max(1);
            let mut times: Vec<u64> = (0..copies)
                .map(|_| cur.arrival_ns + self.rng.below(gap))
                .collect();
            times.sort_unstable();
            self.pending.push_back(cur);
            self.pending.extend(times.into_iter().map(|t| Invocation {
                arrival_ns: t,
                ..cur
            }));
        }
    }
}

impl<S: TraceStream> TraceStream for Scale<S> {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}
