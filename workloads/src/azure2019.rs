//! The Azure Functions 2019 trace ("Serverless in the Wild", Shahrad et al., USENIX ATC
//! 2020; files from Azure/AzurePublicDataset, CC-BY), read as published.
//!
//! Inputs (the files as the dataset publishes them; the columns read are named below):
//! - one or more `invocations_per_function_md.anon.dNN.csv` files, one per day, read in the
//!   order given (day `i` starts at `i * 1440` minutes; a file with fewer minute columns, as
//!   in small test fixtures, spans only those minutes);
//! - optionally a `function_durations_percentiles.anon.dNN.csv` and an
//!   `app_memory_percentiles.anon.dNN.csv` (one of each, applied to all days).
//!
//! **Identity.** A function is the triple (HashOwner, HashApp, HashFunction), named
//! `owner/app/function` in [`TraceMeta::functions`], ids in order of first appearance. Rows
//! repeating a triple within a day are added together.
//!
//! **Spreading per-minute counts.** A minute's `c` invocations get times inside the minute by
//! [`Spread`]: `uniform` (default; `c` independent uniform times, which is exactly a Poisson
//! process conditioned on `c` arrivals in the minute), `equidistant` (the centres of `c`
//! equal slots), or `start` (all at the minute's first nanosecond: the burstiest reading).
//! Minute `g` (counted from the first day's first minute) draws from random stream
//! `PER_ITEM + 2g` of the seed, so a minute's times do not depend on any other minute.
//!
//! **Durations** ([`DurationJoin`], joined on the triple): `percentiles` (default) draws each
//! invocation's duration from the piecewise-linear inverse CDF through (0, p0), (0.01, p1),
//! (0.25, p25), (0.5, p50), (0.75, p75), (0.99, p99), (1, p100) of the function's row (stream
//! `PER_ITEM + 2g + 1`); `average` gives every invocation the row's `Average`; `none` leaves
//! durations out. Note the published percentiles are of 30-second averages, not of single
//! invocations, so the true spread of single invocations is wider. A function without a row
//! gets `None`.
//!
//! **Memory** (per application in the trace): the app's `AverageAllocatedMb` (MB read as MiB,
//! 2^20 bytes) is split evenly across the app's functions that appear in the loaded
//! invocations files. A function whose app has no row gets `None`.
//!
//! **Memory use.** The current day is held as its non-zero cells, each packed into 8 bytes
//! (minute, function, count) and sorted, plus per-function tables (name, duration row,
//! memory) and one minute's invocations (16 bytes each: the packed values and the radix
//! sort's scratch) while that minute is sorted. Nothing grows with the number of days or the total number of invocations: the
//! bound is O(functions + non-zero cells of one day + invocations of the busiest minute).
//! Later days are pre-scanned at open (names only) so that every function id is known up
//! front, then parsed one at a time as the stream reaches them.

mod day;
mod fast_csv;
mod fixture;

pub use day::{read_day, Day};
pub use fixture::SyntheticDay;

use day::prescan_names;
use fast_csv::{column_index, csv_reader, header_of, lossy, parse_ms, parse_non_negative};

use crate::rng::{stream, Rng};
use crate::rows::{csv_error, Names};
use crate::trace::{FunctionId, Invocation, TraceMeta, TraceStream};
use crate::TraceError;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The first four columns of an invocations file.
pub const INVOCATIONS_HEAD: [&str; 4] = ["HashOwner", "HashApp", "HashFunction", "Trigger"];
/// Percentile columns of the durations file and the probabilities they stand for.
pub const DURATION_PERCENTILES: [(&str, f64); 7] = [
    ("percentile_Average_0", 0.0),
    ("percentile_Average_1", 0.01),
    ("percentile_Average_25", 0.25),
    ("percentile_Average_50", 0.5),
    ("percentile_Average_75", 0.75),
    ("percentile_Average_99", 0.99),
    ("percentile_Average_100", 1.0),
];
const NS_PER_MIN: u64 = 60_000_000_000;
const FN_BITS: u32 = 28;

/// How a minute's invocations are placed inside the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spread {
    /// Independent uniform times (a Poisson process conditioned on the count). Seeded.
    /// `poisson` is accepted as another name for it.
    #[default]
    Uniform,
    /// The centres of equal slots: `(k + 1/2) * 60 s / c`.
    Equidistant,
    /// All at the start of the minute.
    Start,
}

/// How durations are joined to invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DurationJoin {
    /// Draw from the piecewise-linear inverse CDF through the row's percentiles. Seeded.
    #[default]
    Percentiles,
    /// The row's `Average` for every invocation.
    Average,
    /// No durations.
    None,
}

impl crate::choice::Choice for Spread {
    const CHOICES: &'static [(Self, &'static str, &'static [&'static str], &'static str)] = &[
        (Spread::Uniform, "uniform", &["poisson"], "Independent uniform times (a Poisson process conditioned on the count). Seeded. `poisson` is accepted as another name for it"),
        (Spread::Equidistant, "equidistant", &[], "The centres of equal slots: `(k + 1/2) * 60 s / c`"),
        (Spread::Start, "start", &[], "All at the start of the minute"),
    ];
}

impl crate::choice::Choice for DurationJoin {
    const CHOICES: &'static [(Self, &'static str, &'static [&'static str], &'static str)] = &[
        (
            DurationJoin::Percentiles,
            "percentiles",
            &[],
            "Draw from the piecewise-linear inverse CDF through the row's percentiles. Seeded",
        ),
        (
            DurationJoin::Average,
            "average",
            &[],
            "The row's `Average` for every invocation",
        ),
        (DurationJoin::None, "none", &[], "No durations"),
    ];
}

crate::choice::from_str_by_choice!(Spread, DurationJoin);

/// Options of the Azure 2019 loader.
#[derive(Debug, Clone, Default)]
pub struct Azure2019Options {
    /// Invocation files, one per day, in day order.
    pub invocations: Vec<PathBuf>,
    /// The durations file, if any.
    pub durations: Option<PathBuf>,
    /// The app memory file, if any.
    pub memory: Option<PathBuf>,
    /// Spreading inside a minute.
    pub spread: Spread,
    /// Duration join.
    pub duration_join: DurationJoin,
    /// Seed for spreading and duration draws.
    pub seed: u64,
}

impl Azure2019Options {
    /// Finds the sibling durations and memory files of `invocations_per_function_md.anon.dNN.csv`
    /// (same folder and day, same compression suffix), if they exist.
    pub fn with_siblings(mut self) -> Self {
        if let Some(first) = self.invocations.first() {
            let name = first.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(rest) = name.strip_prefix("invocations_per_function_md.anon.") {
                let dir = first.parent().unwrap_or(Path::new(""));
                let d = dir.join(format!("function_durations_percentiles.anon.{rest}"));
                let m = dir.join(format!("app_memory_percentiles.anon.{rest}"));
                if self.durations.is_none() && d.exists() {
                    self.durations = Some(d);
                }
                if self.memory.is_none() && m.exists() {
                    self.memory = Some(m);
                }
            }
        }
        self
    }
}

/// One function's duration row (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationRow {
    /// `Average` (ms).
    pub average_ms: f64,
    /// The percentile values (ms) at [`DURATION_PERCENTILES`].
    pub percentiles_ms: [f64; 7],
}

impl DurationRow {
    /// The inverse CDF at `u` in [0, 1] (ms): linear between the percentile points.
    #[inline]
    pub fn quantile_ms(&self, u: f64) -> f64 {
        // Segment i spans probabilities [P[i], P[i+1]); INV[i] = 1 / (P[i+1] - P[i]).
        const P: [f64; 7] = [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0];
        const INV: [f64; 6] = [100.0, 1.0 / 0.24, 4.0, 4.0, 1.0 / 0.24, 100.0];
        let i = if u < 0.5 {
            if u < 0.01 {
                0
            } else if u < 0.25 {
                1
            } else {
                2
            }
        } else if u < 0.75 {
            3
        } else if u < 0.99 {
            4
        } else {
            5
        };
        let p = &self.percentiles_ms;
        let w = ((u - P[i]) * INV[i]).clamp(0.0, 1.0);
        p[i] + w * (p[i + 1] - p[i])
    }
}

/// Reads the durations file: (owner/app/function) -> row. The first row of a triple wins.
pub fn read_durations(
    path: &Path,
    join: DurationJoin,
) -> Result<HashMap<String, DurationRow>, TraceError> {
    let name = path.display().to_string();
    let expected = "`HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,...,percentile_Average_100`";
    let mut r = csv_reader(path)?;
    let h = header_of(&mut r, &name, expected)?;
    let ids: Vec<usize> = INVOCATIONS_HEAD[..3]
        .iter()
        .map(|c| column_index(&name, &h, c, expected))
        .collect::<Result<_, _>>()?;
    let avg = column_index(&name, &h, "Average", expected)?;
    let pct: Vec<usize> = if join == DurationJoin::Percentiles {
        DURATION_PERCENTILES
            .iter()
            .map(|(c, _)| column_index(&name, &h, c, expected))
            .collect::<Result<_, _>>()?
    } else {
        vec![]
    };
    let mut out = HashMap::new();
    let mut rec = csv::ByteRecord::new();
    while r
        .read_byte_record(&mut rec)
        .map_err(|e| csv_error(&name, e))?
    {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() != h.len() {
            return Err(TraceError::parse(
                &name,
                line,
                rec.len().min(h.len()) as u64 + 1,
                format!("expected {} fields, found {}", h.len(), rec.len()),
            ));
        }
        let key = format!(
            "{}/{}/{}",
            lossy(&rec[ids[0]]),
            lossy(&rec[ids[1]]),
            lossy(&rec[ids[2]])
        );
        let average_ms = parse_ms(&name, line, avg, "Average", &rec[avg])?;
        let mut percentiles_ms = [average_ms; 7];
        for (k, &c) in pct.iter().enumerate() {
            percentiles_ms[k] = parse_ms(&name, line, c, DURATION_PERCENTILES[k].0, &rec[c])?;
            if k > 0 && percentiles_ms[k] < percentiles_ms[k - 1] {
                return Err(TraceError::parse(
                    &name,
                    line,
                    c as u64 + 1,
                    format!(
                        "`{}` = {} is below `{}` = {}: percentiles must not decrease",
                        DURATION_PERCENTILES[k].0,
                        percentiles_ms[k],
                        DURATION_PERCENTILES[k - 1].0,
                        percentiles_ms[k - 1]
                    ),
                ));
            }
        }
        out.entry(key).or_insert(DurationRow {
            average_ms,
            percentiles_ms,
        });
    }
    Ok(out)
}

/// Reads the app memory file: (owner/app) -> AverageAllocatedMb. The first row of an app wins.
pub fn read_memory(path: &Path) -> Result<HashMap<String, f64>, TraceError> {
    let name = path.display().to_string();
    let expected = "`HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,...`";
    let mut r = csv_reader(path)?;
    let h = header_of(&mut r, &name, expected)?;
    let o = column_index(&name, &h, "HashOwner", expected)?;
    let a = column_index(&name, &h, "HashApp", expected)?;
    let m = column_index(&name, &h, "AverageAllocatedMb", expected)?;
    let mut out = HashMap::new();
    let mut rec = csv::ByteRecord::new();
    while r
        .read_byte_record(&mut rec)
        .map_err(|e| csv_error(&name, e))?
    {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() != h.len() {
            return Err(TraceError::parse(
                &name,
                line,
                rec.len().min(h.len()) as u64 + 1,
                format!("expected {} fields, found {}", h.len(), rec.len()),
            ));
        }
        let v = parse_non_negative(
            &name,
            line,
            m,
            "AverageAllocatedMb",
            &rec[m],
            "megabytes",
            "megabytes >= 0",
        )?;
        if v * 1048576.0 > crate::limits::MAX_MEMORY_BYTES as f64 {
            return Err(TraceError::parse(
                &name,
                line,
                m as u64 + 1,
                format!(
                    "`AverageAllocatedMb` = `{}` is more than 1 TiB for one app (a corrupt cell?)",
                    lossy(&rec[m])
                ),
            ));
        }
        out.entry(format!("{}/{}", lossy(&rec[o]), lossy(&rec[a])))
            .or_insert(v);
    }
    Ok(out)
}

/// The Azure 2019 stream (see the module docs). Cloning copies the held day (cheap next to
/// parsing it again; used by the benchmark to replay one parsed day).
#[derive(Clone)]
pub struct Azure2019 {
    meta: TraceMeta,
    opts: Azure2019Options,
    names: Names,
    /// Trigger of each function (`http`, `timer`, ...), by id.
    pub triggers: Vec<String>,
    durations: Vec<Option<DurationRow>>,
    memory: Vec<Option<u64>>,
    day_index: usize,
    day: Option<Day>,
    day_base_minute: u64,
    minute: u32,
    buf: Vec<u64>,
    scratch: Vec<u64>,
    pos: usize,
    dur_rng: Rng,
    minute_base_ns: u64,
    failed: bool,
}

impl std::fmt::Debug for Azure2019 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Azure2019")
            .field("meta.source", &self.meta.source)
            .finish()
    }
}

impl Azure2019 {
    /// Opens the files: reads the durations and memory files, pre-scans every day's names,
    /// and parses the first day.
    pub fn open(opts: Azure2019Options) -> Result<Self, TraceError> {
        if opts.invocations.is_empty() {
            return Err(TraceError::param(
                "invocations",
                "give at least one invocations_per_function_md.anon.dNN.csv file",
            ));
        }
        let mut names = Names::default();
        let mut triggers = Vec::new();
        let day = read_day(&opts.invocations[0], &mut names, &mut triggers, true)?;
        let mut total_minutes = day.minutes as u64;
        for p in &opts.invocations[1..] {
            total_minutes += prescan_names(p, &mut names, &mut triggers)? as u64;
        }
        let list: Vec<String> = names.clone().into_list();
        let durations = match (&opts.durations, opts.duration_join) {
            (Some(p), j) if j != DurationJoin::None => {
                let t = read_durations(p, j)?;
                list.iter().map(|n| t.get(n).copied()).collect()
            }
            _ => vec![None; list.len()],
        };
        let memory = match &opts.memory {
            Some(p) => {
                let t = read_memory(p)?;
                let app_of = |n: &str| {
                    n.rsplit_once('/')
                        .map(|(a, _)| a.to_string())
                        .unwrap_or_default()
                };
                let mut per_app: HashMap<String, u32> = HashMap::new();
                for n in &list {
                    *per_app.entry(app_of(n)).or_default() += 1;
                }
                list.iter()
                    .map(|n| {
                        let app = app_of(n);
                        t.get(&app)
                            .map(|mb| (mb * 1048576.0 / per_app[&app] as f64).round() as u64)
                    })
                    .collect()
            }
            None => vec![None; list.len()],
        };
        let with_d = durations.iter().filter(|d| d.is_some()).count();
        let with_m = memory.iter().filter(|d| d.is_some()).count();
        let source = format!(
            "Azure Functions 2019 trace: {} day file(s) [{}]; durations: {} ({:?}, {with_d} of {} functions matched); memory: {} (app average split evenly across its functions, {with_m} matched); spread within minutes: {:?}",
            opts.invocations.len(),
            opts.invocations.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            opts.durations.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into()),
            opts.duration_join,
            list.len(),
            opts.memory.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into()),
            opts.spread,
        );
        let seed = opts.seed;
        Ok(Azure2019 {
            meta: TraceMeta {
                functions: list,
                source,
                seed: Some(seed),
                span_ns: Some(total_minutes * NS_PER_MIN),
            },
            opts,
            names,
            triggers,
            durations,
            memory,
            day_index: 0,
            day: Some(day),
            day_base_minute: 0,
            minute: 0,
            buf: Vec::new(),
            scratch: Vec::new(),
            pos: 0,
            dur_rng: Rng::new(seed, stream::DURATIONS),
            minute_base_ns: 0,
            failed: false,
        })
    }

    /// The day currently held (the first day right after open).
    pub fn current_day(&self) -> Option<&Day> {
        self.day.as_ref()
    }

    /// Expands the next minute into `buf`; false at the end of the trace.
    fn fill_minute(&mut self) -> Result<bool, TraceError> {
        loop {
            let Some(day) = &self.day else {
                return Ok(false);
            };
            if self.minute >= day.minutes {
                self.day_base_minute += day.minutes as u64;
                self.day = None;
                self.day_index += 1;
                self.minute = 0;
                if self.day_index < self.opts.invocations.len() {
                    self.day = Some(read_day(
                        &self.opts.invocations[self.day_index],
                        &mut self.names,
                        &mut Vec::new(),
                        false,
                    )?);
                }
                continue;
            }
            let m = self.minute as usize;
            self.minute += 1;
            let g = self.day_base_minute + m as u64;
            self.minute_base_ns = g * NS_PER_MIN;
            let cells = &day.cells[day.minute_start[m] as usize..day.minute_start[m + 1] as usize];
            if cells.is_empty() {
                continue;
            }
            expand_minute(
                cells,
                self.opts.spread,
                self.opts.seed,
                g,
                &mut self.buf,
                &mut self.scratch,
            );
            self.pos = 0;
            self.dur_rng = Rng::new(self.opts.seed, stream::PER_ITEM + 2 * g + 1);
            return Ok(true);
        }
    }
}

/// Expands one minute's packed cells (see [`Day::cells`]) into packed
/// `(offset_ns << 28) | function` values (offset within the minute), sorted by offset and
/// then function. `scratch` is reused between calls. Public for the benchmark.
pub fn expand_minute(
    cells: &[u64],
    spread: Spread,
    seed: u64,
    minute: u64,
    buf: &mut Vec<u64>,
    scratch: &mut Vec<u64>,
) {
    buf.clear();
    match spread {
        Spread::Uniform => {
            let mut rng = Rng::new(seed, stream::PER_ITEM + 2 * minute);
            for &cell in cells {
                let (f, c) = Day::cell(cell);
                for _ in 0..c {
                    buf.push((rng.below(NS_PER_MIN) << FN_BITS) | f as u64);
                }
            }
        }
        Spread::Equidistant => {
            for &cell in cells {
                let (f, c) = Day::cell(cell);
                let c = c as u64;
                for k in 0..c {
                    let off = ((2 * k + 1) as u128 * NS_PER_MIN as u128 / (2 * c) as u128) as u64;
                    buf.push((off << FN_BITS) | f as u64);
                }
            }
        }
        Spread::Start => {
            for &cell in cells {
                let (f, c) = Day::cell(cell);
                buf.extend(std::iter::repeat_n(f as u64, c as usize));
            }
        }
    }
    // Cells come in function order, so a stable sort on the offset alone gives
    // (offset, function) order: the same as sorting the packed values.
    sort_by_offset(buf, scratch);
}

/// Stable LSD radix sort on bits 28..64 (the offset: 36 bits, three 12-bit digits), with
/// a comparison sort for short inputs (same result: keys are unique up to identical values).
fn sort_by_offset(buf: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    const DIGIT: u32 = 12;
    const BUCKETS: usize = 1 << DIGIT;
    if buf.len() < 512 {
        buf.sort_unstable();
        return;
    }
    scratch.clear();
    scratch.resize(buf.len(), 0);
    let mut counts = vec![0usize; BUCKETS];
    for pass in 0..3 {
        let shift = FN_BITS + pass * DIGIT;
        counts.iter_mut().for_each(|c| *c = 0);
        for &x in buf.iter() {
            counts[((x >> shift) as usize) & (BUCKETS - 1)] += 1;
        }
        if counts.contains(&buf.len()) {
            continue; // every key has the same digit: this pass would not move anything
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for &x in buf.iter() {
            let d = ((x >> shift) as usize) & (BUCKETS - 1);
            scratch[counts[d]] = x;
            counts[d] += 1;
        }
        std::mem::swap(buf, scratch);
    }
}

impl Iterator for Azure2019 {
    type Item = Result<Invocation, TraceError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            if self.failed {
                return None;
            }
            match self.fill_minute() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let x = self.buf[self.pos];
        self.pos += 1;
        let f = (x & ((1 << FN_BITS) - 1)) as usize;
        let duration_ns = match (&self.durations[f], self.opts.duration_join) {
            (Some(d), DurationJoin::Percentiles) => {
                Some((d.quantile_ms(self.dur_rng.uniform()) * 1e6).round() as u64)
            }
            (Some(d), DurationJoin::Average) => Some((d.average_ms * 1e6).round() as u64),
            _ => None,
        };
        Some(Ok(Invocation {
            arrival_ns: self.minute_base_ns + (x >> FN_BITS),
            function: f as FunctionId,
            duration_ns,
            memory_bytes: self.memory[f],
        }))
    }
}

impl TraceStream for Azure2019 {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_is_piecewise_linear_through_the_percentiles() {
        let d = DurationRow {
            average_ms: 0.0,
            percentiles_ms: [10.0, 20.0, 50.0, 100.0, 150.0, 800.0, 900.0],
        };
        for (u, want) in [
            (0.0, 10.0),
            (0.005, 15.0),
            (0.01, 20.0),
            (0.25, 50.0),
            (0.375, 75.0),
            (0.5, 100.0),
            (0.75, 150.0),
            (0.99, 800.0),
            (0.995, 850.0),
            (1.0, 900.0),
        ] {
            assert!(
                (d.quantile_ms(u) - want).abs() < 1e-9,
                "u={u}: {} vs {want}",
                d.quantile_ms(u)
            );
        }
    }

    #[test]
    fn radix_sort_matches_sort() {
        let mut r = Rng::new(1, 0);
        for n in [0usize, 10, 600, 5000] {
            let mut v: Vec<u64> = (0..n)
                .map(|i| (r.below(NS_PER_MIN) << FN_BITS) | (i as u64 % 7))
                .collect();
            // Insertion order within equal offsets must be ascending function for equality.
            let mut want = v.clone();
            want.sort_unstable();
            let mut scratch = Vec::new();
            sort_by_offset(&mut v, &mut scratch);
            assert_eq!(v, want);
        }
    }
}
