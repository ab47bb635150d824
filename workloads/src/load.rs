//! [`open`]: one entry point for every trace file, used by `unitlab trace ...`, replay and
//! simulation.
//!
//! With [`Format::Auto`] (the default) the format is recognised by the first line (after
//! gzip decompression):
//! - `# unitlab-trace v1` -> [`Format::Native`];
//! - `HashOwner,HashApp,HashFunction,Trigger,1,...` -> [`Format::Azure2019`] (sibling
//!   durations and memory files of the same day are picked up when they exist next to it);
//! - a header with exactly the columns `app,func,end_timestamp,duration` -> [`Format::Azure2021`];
//! - otherwise, when a timestamp column is named: [`Format::Jsonl`] if the line starts with
//!   `{`, else [`Format::Csv`];
//! - otherwise an error that says which options to give.

use crate::azure2019::{Azure2019, Azure2019Options, DurationJoin, Spread};
use crate::rows::{
    open_rows, Columns, MemUnit, RowFormat, RowOptions, TimeFormat, TimeUnit, Unsorted,
};
use crate::trace::BoxedTrace;
use crate::TraceError;
use std::path::{Path, PathBuf};

/// A trace file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Recognise by the first line.
    #[default]
    Auto,
    /// The unitlab native CSV (see [`crate::native`]).
    Native,
    /// Azure Functions 2019 per-minute invocation counts (see [`crate::azure2019`]).
    Azure2019,
    /// Azure Functions 2021 per-invocation CSV `app,func,end_timestamp,duration`.
    Azure2021,
    /// A generic CSV request log with a header row (name the columns).
    Csv,
    /// A generic JSON-lines request log (name the keys).
    Jsonl,
}

/// How to load a trace. `unitlab` fills it from the trace options of every command that
/// reads one (`--format`, `--timestamp-column`, ...).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Input format (auto: recognised by the first line).
    pub format: Format,
    /// What to do with rows not sorted by arrival: sort them (bounded look-ahead, stated in
    /// the trace's source) or reject the file at the first offending line.
    pub unsorted: Unsorted,
    /// Generic logs: the timestamp column (CSV header name or JSON key).
    pub timestamp_column: Option<String>,
    /// Generic logs: the timestamp's unit (s, ms, us, ns), `rfc3339`, or a chrono format such
    /// as `%Y-%m-%d %H:%M:%S%.f` (read as UTC unless it has %z). Default: s.
    pub time_format: Option<TimeFormat>,
    /// Generic logs: the timestamp is when the invocation ended (arrival = timestamp - duration).
    pub timestamp_is_end: bool,
    /// Generic logs: column(s) naming the function, joined with `/` (comma-separated). None:
    /// one function named `all`.
    pub function_column: Vec<String>,
    /// Generic logs: the execution duration column.
    pub duration_column: Option<String>,
    /// Generic logs: the duration column's unit.
    pub duration_unit: TimeUnit,
    /// Generic logs: the memory column.
    pub memory_column: Option<String>,
    /// Generic logs: the memory column's unit.
    pub memory_unit: MemUnit,
    /// Azure 2019: the function_durations_percentiles file (default: the sibling of the
    /// invocations file, if present).
    pub durations: Option<PathBuf>,
    /// Azure 2019: the app_memory_percentiles file (default: the sibling, if present).
    pub memory: Option<PathBuf>,
    /// Azure 2019: further invocations files (later days), in order.
    pub next_days: Vec<PathBuf>,
    /// Azure 2019: how a minute's invocations are placed inside the minute.
    pub spread: Spread,
    /// Azure 2019: how durations are joined.
    pub duration_join: DurationJoin,
    /// Azure 2019: seed for spreading and duration draws.
    pub seed: u64,
}

impl crate::choice::Choice for Format {
    const CHOICES: &'static [(Self, &'static str, &'static [&'static str], &'static str)] = &[
        (Format::Auto, "auto", &[], "Recognise by the first line"),
        (Format::Native, "native", &[], "The unitlab native CSV"),
        (
            Format::Azure2019,
            "azure2019",
            &[],
            "Azure Functions 2019 per-minute invocation counts",
        ),
        (
            Format::Azure2021,
            "azure2021",
            &[],
            "Azure Functions 2021 per-invocation CSV `app,func,end_timestamp,duration`",
        ),
        (
            Format::Csv,
            "csv",
            &[],
            "A generic CSV request log with a header row (name the columns)",
        ),
        (
            Format::Jsonl,
            "jsonl",
            &[],
            "A generic JSON-lines request log (name the keys)",
        ),
    ];
}
crate::choice::from_str_by_choice!(Format);

impl LoadOptions {
    fn columns(&self, path: &str) -> Result<Columns, TraceError> {
        let ts = self.timestamp_column.clone().ok_or_else(|| {
            TraceError::format(path, "a generic CSV/JSONL log needs --timestamp-column NAME (and --time-format s|ms|us|ns|<chrono format>)")
        })?;
        Ok(Columns {
            timestamp: ts,
            time: self
                .time_format
                .clone()
                .unwrap_or(TimeFormat::Number(TimeUnit::S)),
            timestamp_is_end: self.timestamp_is_end,
            function: self.function_column.clone(),
            duration: self.duration_column.clone(),
            duration_unit: self.duration_unit,
            memory: self.memory_column.clone(),
            memory_unit: self.memory_unit,
        })
    }
}

/// Recognises a file's format from its first line (see the module docs).
pub fn detect(path: &Path, opts: &LoadOptions) -> Result<Format, TraceError> {
    let name = path.display().to_string();
    let first = crate::io::first_line(path)?;
    if first.trim().is_empty() {
        return Err(TraceError::parse(&name, 1, 1, "the file is empty: expected a header line (or `# unitlab-trace v1` for a native trace)"));
    }
    if first.trim_end() == crate::native::MAGIC {
        return Ok(Format::Native);
    }
    if first.starts_with("HashOwner,HashApp,HashFunction,Trigger") {
        return Ok(Format::Azure2019);
    }
    if first.starts_with("HashOwner,HashApp,HashFunction,Average") {
        return Err(TraceError::format(&name, "this is an Azure 2019 durations file: open the matching invocations_per_function_md.anon.dNN.csv and pass this file with --durations"));
    }
    if first.starts_with("HashOwner,HashApp,SampleCount") {
        return Err(TraceError::format(&name, "this is an Azure 2019 app memory file: open the matching invocations_per_function_md.anon.dNN.csv and pass this file with --memory"));
    }
    let mut fields: Vec<&str> = first.split(',').map(str::trim).collect();
    fields.sort_unstable();
    if fields == ["app", "duration", "end_timestamp", "func"] && opts.timestamp_column.is_none() {
        return Ok(Format::Azure2021);
    }
    if opts.timestamp_column.is_some() {
        return Ok(if first.trim_start().starts_with('{') {
            Format::Jsonl
        } else {
            Format::Csv
        });
    }
    let shown: String = first.chars().take(120).collect();
    Err(TraceError::parse(
        &name,
        1,
        1,
        format!(
            "unrecognised header `{shown}`: expected `# unitlab-trace v1`, an Azure 2019 invocations header (`HashOwner,HashApp,HashFunction,Trigger,1,...`), the Azure 2021 header `app,func,end_timestamp,duration`, or name the timestamp column of a generic log with --timestamp-column"
        ),
    ))
}

/// Opens any trace file as a sorted stream. Parse errors found by a loader's pre-scan (row
/// formats) or in the first day (Azure 2019) are returned here; later ones are `Err` items.
pub fn open(path: &Path, opts: &LoadOptions) -> Result<BoxedTrace, TraceError> {
    let name = path.display().to_string();
    let format = match opts.format {
        Format::Auto => detect(path, opts)?,
        f => f,
    };
    let row_opts = RowOptions {
        unsorted: opts.unsorted,
        generic: false,
    };
    Ok(match format {
        Format::Auto => unreachable!("resolved above"),
        Format::Native => Box::new(open_rows(path, &RowFormat::Native, &row_opts)?),
        Format::Azure2021 => Box::new(open_rows(
            path,
            &RowFormat::Csv(Columns::azure2021()),
            &row_opts,
        )?),
        Format::Csv => Box::new(open_rows(
            path,
            &RowFormat::Csv(opts.columns(&name)?),
            &row_opts,
        )?),
        Format::Jsonl => Box::new(open_rows(
            path,
            &RowFormat::Jsonl(opts.columns(&name)?),
            &row_opts,
        )?),
        Format::Azure2019 => {
            let mut invocations = vec![path.to_path_buf()];
            invocations.extend(opts.next_days.iter().cloned());
            let a = Azure2019Options {
                invocations,
                durations: opts.durations.clone(),
                memory: opts.memory.clone(),
                spread: opts.spread,
                duration_join: opts.duration_join,
                seed: opts.seed,
            }
            .with_siblings();
            Box::new(Azure2019::open(a)?)
        }
    })
}
