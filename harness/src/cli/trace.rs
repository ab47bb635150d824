//! `unitlab trace ...`: generate, inspect and transform traces with the workloads library.
//!
//! - `trace gen <pattern> [params] --output-file FILE` writes a seeded synthetic trace (native
//!   format; `x.gz` compresses, `-` writes to standard output). The file flag is spelled out:
//!   everywhere else `-o`/`--out` names a results directory;
//! - `trace stats FILE` prints invocations, span, rate percentiles, inter-arrival CV,
//!   burstiness, dispersion and the top functions (`--json` for machine-readable output);
//! - `trace slice FILE --from 10m --to 20m [--functions a,b] [--rebase] --output-file OUT`;
//! - `trace scale FILE [--time-factor 0.5] [--rate-factor 2] [--seed N] --output-file OUT`.
//!
//! Every command that reads a trace accepts the [`LoadArgs`] flags (`--format`,
//! `--timestamp-column`, `--time-format`, ...), which become the library's plain
//! [`LoadOptions`]; each `execute()` calls one of the typed operations in
//! [`unitlab_workloads::ops`]. Durations on the command line carry a unit (`250ms`, `1.5s`, `10m`,
//! `24h`); rates are invocations per second, optionally written `600/min` or `3600/h`.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use std::path::PathBuf;
use unitlab_workloads::azure2019::{DurationJoin, Spread};
use unitlab_workloads::durations::DurationDist;
use unitlab_workloads::ops;
use unitlab_workloads::rows::{MemUnit, TimeFormat, TimeUnit, Unsorted};
use unitlab_workloads::synth::{
    self, FlashCrowd, GenConfig, Mix, MixProcess, OnOff, Pattern, Popularity, Process,
};
use unitlab_workloads::units::{parse_duration_ns, parse_duration_s, parse_rate, parse_size};
use unitlab_workloads::{Choice, Format, LoadOptions};

/// A clap value parser for a workloads [`Choice`]: lists every name with its description
/// (and accepts its other names).
pub fn choice<T: Choice + Send + Sync>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(T::CHOICES.iter().map(|&(_, name, aliases, help)| {
        PossibleValue::new(name)
            .aliases(aliases.iter().copied())
            .help(help)
    }))
    .map(|s| T::parse_choice(&s).expect("clap accepted a listed name"))
}

/// How to load a trace file: the trace options of every command that reads one. Converts
/// into the workloads library's [`LoadOptions`].
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Input format (auto: recognised by the first line).
    #[arg(long, value_parser = choice::<Format>(), default_value = "auto")]
    pub format: Format,
    /// What to do with rows not sorted by arrival: sort them (bounded look-ahead, stated in
    /// the trace's source) or reject the file at the first offending line.
    #[arg(long, value_parser = choice::<Unsorted>(), default_value = "sort")]
    pub unsorted: Unsorted,
    /// Generic logs: the timestamp column (CSV header name or JSON key).
    #[arg(long)]
    pub timestamp_column: Option<String>,
    /// Generic logs: the timestamp's unit (s, ms, us, ns), `rfc3339`, or a chrono format such
    /// as `%Y-%m-%d %H:%M:%S%.f` (read as UTC unless it has %z). Default: s.
    #[arg(long)]
    pub time_format: Option<TimeFormat>,
    /// Generic logs: the timestamp is when the invocation ended (arrival = timestamp - duration).
    #[arg(long)]
    pub timestamp_is_end: bool,
    /// Generic logs: column(s) naming the function, joined with `/` (comma-separated). None:
    /// one function named `all`.
    #[arg(long, value_delimiter = ',')]
    pub function_column: Vec<String>,
    /// Generic logs: the execution duration column.
    #[arg(long)]
    pub duration_column: Option<String>,
    /// Generic logs: the duration column's unit.
    #[arg(long, value_parser = choice::<TimeUnit>(), default_value = "ms")]
    pub duration_unit: TimeUnit,
    /// Generic logs: the memory column.
    #[arg(long)]
    pub memory_column: Option<String>,
    /// Generic logs: the memory column's unit.
    #[arg(long, value_parser = choice::<MemUnit>(), default_value = "mib")]
    pub memory_unit: MemUnit,
    /// Azure 2019: the function_durations_percentiles file (default: the sibling of the
    /// invocations file, if present).
    #[arg(long)]
    pub durations: Option<PathBuf>,
    /// Azure 2019: the app_memory_percentiles file (default: the sibling, if present).
    #[arg(long)]
    pub memory: Option<PathBuf>,
    /// Azure 2019: further invocations files (later days), in order.
    #[arg(long = "next-day")]
    pub next_days: Vec<PathBuf>,
    /// Azure 2019: how a minute's invocations are placed inside the minute.
    #[arg(long, value_parser = choice::<Spread>(), default_value = "uniform")]
    pub spread: Spread,
    /// Azure 2019: how durations are joined.
    #[arg(long, value_parser = choice::<DurationJoin>(), default_value = "percentiles")]
    pub duration_join: DurationJoin,
    /// Azure 2019: seed for spreading and duration draws.
    #[arg(long = "load-seed", id = "load_seed", default_value_t = 0)]
    pub seed: u64,
}

impl From<LoadArgs> for LoadOptions {
    fn from(a: LoadArgs) -> Self {
        LoadOptions {
            format: a.format,
            unsorted: a.unsorted,
            timestamp_column: a.timestamp_column,
            time_format: a.time_format,
            timestamp_is_end: a.timestamp_is_end,
            function_column: a.function_column,
            duration_column: a.duration_column,
            duration_unit: a.duration_unit,
            memory_column: a.memory_column,
            memory_unit: a.memory_unit,
            durations: a.durations,
            memory: a.memory,
            next_days: a.next_days,
            spread: a.spread,
            duration_join: a.duration_join,
            seed: a.seed,
        }
    }
}

/// `--window`: 1 ns to 366 days, in whole ns.
fn parse_window(s: &str) -> Result<u64, String> {
    // The unit first, as every duration flag; then the range.
    parse_duration_ns(s)?;
    unitlab_backend::units::parse_duration_in("--window", s, 1, 366 * 86_400_000_000_000)
}

fn seconds(s: &str) -> Result<f64, String> {
    parse_duration_s(s)
}

/// `unitlab trace ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TraceCommand {
    /// Generate a seeded synthetic trace.
    Gen(GenArgs),
    /// Print a trace's statistics.
    Stats(StatsArgs),
    /// Cut a time window and/or some functions out of a trace.
    Slice(SliceArgs),
    /// Compress or stretch time, thin or thicken the rate.
    Scale(ScaleArgs),
}

impl TraceCommand {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        match self {
            TraceCommand::Gen(a) => a.execute(),
            TraceCommand::Stats(a) => a.execute(),
            TraceCommand::Slice(a) => a.execute(),
            TraceCommand::Scale(a) => a.execute(),
        }
    }
}

/// Options every generator shares.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonGen {
    /// Output file (native format; `.gz` compresses; `-` = standard output).
    #[arg(long = "output-file", value_name = "FILE")]
    pub output: PathBuf,
    /// Seed of every random stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Length of the trace (with a unit: 60s, 10m, 24h).
    #[arg(long, value_name = "DURATION", value_parser = seconds, default_value = "60s")]
    pub span: f64,
    /// Execution durations: none, fixed:<d>, exp:<mean>, lognormal:<median>,<sigma>,
    /// empirical:<d>,<d>,...
    #[arg(long, default_value = "none")]
    pub durations: DurationDist,
    /// Memory of every invocation (e.g. 128MiB); none if absent.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
}

/// `trace gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// The arrival pattern.
    #[command(subcommand)]
    pub pattern: PatternCmd,
}

/// Generator patterns with their parameters.
#[derive(Debug, clap::Subcommand)]
pub enum PatternCmd {
    /// Poisson arrivals (exponential inter-arrivals).
    Poisson {
        /// Rate (invocations/s, or N/min, N/h).
        #[arg(long, value_parser = parse_rate)]
        rate: f64,
        #[command(flatten)]
        #[allow(missing_docs, reason = "flattened")]
        common: CommonGen,
    },
    /// On/off bursts: a two-state Markov-modulated Poisson process.
    Onoff {
        /// Rate during bursts (invocations/s).
        #[arg(long, value_parser = parse_rate)]
        rate_on: f64,
        /// Rate between bursts (invocations/s).
        #[arg(long, value_parser = parse_rate, default_value = "0")]
        rate_off: f64,
        /// Mean burst length (e.g. 10s); exponentially distributed.
        #[arg(long, value_name = "DURATION", value_parser = seconds)]
        mean_on: f64,
        /// Mean gap between bursts (e.g. 50s); exponentially distributed.
        #[arg(long, value_name = "DURATION", value_parser = seconds)]
        mean_off: f64,
        #[command(flatten)]
        #[allow(missing_docs, reason = "flattened")]
        common: CommonGen,
    },
    /// Sinusoidal (diurnal) rate.
    Diurnal {
        /// Mean rate (invocations/s).
        #[arg(long, value_parser = parse_rate)]
        rate: f64,
        /// Relative amplitude in [0, 1].
        #[arg(long, default_value_t = 0.5)]
        amplitude: f64,
        /// Period (e.g. 24h).
        #[arg(long, value_name = "DURATION", value_parser = seconds, default_value = "24h")]
        period: f64,
        /// Time of the peak within the period (e.g. 14h).
        #[arg(long, value_name = "DURATION", value_parser = seconds, default_value = "0s")]
        peak: f64,
        #[command(flatten)]
        #[allow(missing_docs, reason = "flattened")]
        common: CommonGen,
    },
    /// A spike over a baseline.
    FlashCrowd {
        /// Baseline rate (invocations/s).
        #[arg(long, value_parser = parse_rate)]
        base_rate: f64,
        /// Rate at the top of the spike (invocations/s).
        #[arg(long, value_parser = parse_rate)]
        peak_rate: f64,
        /// When the ramp up starts (e.g. 20s).
        #[arg(long, value_name = "DURATION", value_parser = seconds)]
        start: f64,
        /// Ramp-up length.
        #[arg(long, value_name = "DURATION", value_parser = seconds, default_value = "0s")]
        ramp: f64,
        /// How long the peak holds.
        #[arg(long, value_name = "DURATION", value_parser = seconds)]
        hold: f64,
        /// Fall-back length.
        #[arg(long, value_name = "DURATION", value_parser = seconds, default_value = "0s")]
        decay: f64,
        #[command(flatten)]
        #[allow(missing_docs, reason = "flattened")]
        common: CommonGen,
    },
    /// Renewal process with Pareto inter-arrivals (heavy tail).
    Pareto {
        /// Mean rate (invocations/s).
        #[arg(long, value_parser = parse_rate)]
        rate: f64,
        /// Pareto shape alpha (> 1; infinite variance for <= 2).
        #[arg(long, default_value_t = 1.5)]
        shape: f64,
        #[command(flatten)]
        #[allow(missing_docs, reason = "flattened")]
        common: CommonGen,
    },
    /// Renewal process with log-normal inter-arrivals.
    Lognormal {
        /// Mean rate (invocations/s).
        #[arg(long, value_parser = parse_rate)]
        rate: f64,
        /// Standard deviation of ln(inter-arrival).
        #[arg(long, default_value_t = 1.5)]
        sigma: f64,
        #[command(flatten)]
        #[allow(missing_docs, reason = "flattened")]
        common: CommonGen,
    },
    /// A timer with jitter.
    Periodic {
        /// Period (e.g. 1m).
        #[arg(long, value_name = "DURATION", value_parser = seconds)]
        period: f64,
        /// Each firing is delayed by U[0, jitter) (<= period).
        #[arg(long, value_name = "DURATION", value_parser = seconds, default_value = "0s")]
        jitter: f64,
        /// First firing (before jitter).
        #[arg(long, value_name = "DURATION", value_parser = seconds, default_value = "0s")]
        offset: f64,
        #[command(flatten)]
        #[allow(missing_docs, reason = "flattened")]
        common: CommonGen,
    },
    /// Many functions with heavy-tailed popularity (Azure-2019-like).
    Mix {
        /// Number of functions.
        #[arg(long, default_value_t = 100)]
        functions: u32,
        /// Total rate over all functions (invocations/s).
        #[arg(long, value_parser = parse_rate)]
        rate: f64,
        /// Zipf exponent of the popularity law (function i gets (i+1)^-s).
        #[arg(long, default_value_t = 1.0, conflicts_with = "popularity_sigma")]
        zipf: f64,
        /// Use log-normal popularity with this sigma instead of Zipf.
        #[arg(long)]
        popularity_sigma: Option<f64>,
        /// Per-function process: poisson or onoff.
        #[arg(long, default_value = "poisson", value_parser = ["poisson", "onoff"])]
        process: String,
        /// On/off: fraction of time in bursts.
        #[arg(long, default_value_t = 0.2)]
        on_fraction: f64,
        /// On/off: mean burst length.
        #[arg(long, value_name = "DURATION", value_parser = seconds, default_value = "10s")]
        mean_on: f64,
        /// Fraction of functions that are timers.
        #[arg(long, default_value_t = 0.0)]
        timer_fraction: f64,
        /// Per-function spread of durations (sigma of a log-normal scale factor).
        #[arg(long, default_value_t = 0.0)]
        function_duration_sigma: f64,
        #[command(flatten)]
        #[allow(missing_docs, reason = "flattened")]
        common: CommonGen,
    },
    /// The default bursty workload (see `unitlab_workloads::default_bursty`); only --seed
    /// and --output-file apply.
    DefaultBursty {
        /// Output file.
        #[arg(long = "output-file", value_name = "FILE")]
        output: PathBuf,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

impl PatternCmd {
    /// The generator pattern and configuration, and the output path.
    pub fn into_parts(self) -> (Pattern, GenConfig, PathBuf) {
        let single = |p: Process, c: CommonGen| {
            (
                Pattern::Single(p),
                GenConfig {
                    seed: c.seed,
                    span_s: c.span,
                    durations: c.durations,
                    memory_bytes: c.memory,
                },
                c.output,
            )
        };
        match self {
            PatternCmd::Poisson { rate, common } => single(Process::Poisson { rate }, common),
            PatternCmd::Onoff {
                rate_on,
                rate_off,
                mean_on,
                mean_off,
                common,
            } => single(
                Process::OnOff(OnOff {
                    rate_on,
                    rate_off,
                    mean_on_s: mean_on,
                    mean_off_s: mean_off,
                }),
                common,
            ),
            PatternCmd::Diurnal {
                rate,
                amplitude,
                period,
                peak,
                common,
            } => single(
                Process::Diurnal {
                    mean_rate: rate,
                    amplitude,
                    period_s: period,
                    peak_s: peak,
                },
                common,
            ),
            PatternCmd::FlashCrowd {
                base_rate,
                peak_rate,
                start,
                ramp,
                hold,
                decay,
                common,
            } => single(
                Process::FlashCrowd(FlashCrowd {
                    base_rate,
                    peak_rate,
                    start_s: start,
                    ramp_s: ramp,
                    hold_s: hold,
                    decay_s: decay,
                }),
                common,
            ),
            PatternCmd::Pareto {
                rate,
                shape,
                common,
            } => single(Process::Pareto { rate, shape }, common),
            PatternCmd::Lognormal {
                rate,
                sigma,
                common,
            } => single(Process::LogNormal { rate, sigma }, common),
            PatternCmd::Periodic {
                period,
                jitter,
                offset,
                common,
            } => single(
                Process::Periodic {
                    period_s: period,
                    jitter_s: jitter,
                    offset_s: offset,
                },
                common,
            ),
            PatternCmd::Mix {
                functions,
                rate,
                zipf,
                popularity_sigma,
                process,
                on_fraction,
                mean_on,
                timer_fraction,
                function_duration_sigma,
                common,
            } => {
                let m = Mix {
                    functions,
                    total_rate: rate,
                    popularity: match popularity_sigma {
                        Some(sigma) => Popularity::LogNormal { sigma },
                        None => Popularity::Zipf { exponent: zipf },
                    },
                    process: if process == "onoff" {
                        MixProcess::OnOff {
                            on_fraction,
                            mean_on_s: mean_on,
                        }
                    } else {
                        MixProcess::Poisson
                    },
                    timer_fraction,
                    function_duration_sigma,
                };
                (
                    Pattern::Mix(m),
                    GenConfig {
                        seed: common.seed,
                        span_s: common.span,
                        durations: common.durations,
                        memory_bytes: common.memory,
                    },
                    common.output,
                )
            }
            PatternCmd::DefaultBursty { output, seed } => {
                let (p, c) = synth::default_bursty_config(seed);
                (p, c, output)
            }
        }
    }
}

impl GenArgs {
    /// Generates and writes the trace.
    pub fn execute(self) -> anyhow::Result<()> {
        let (pattern, config, output) = self.pattern.into_parts();
        let n = ops::generate(&pattern, &config, &output)?;
        if output.as_os_str() != "-" {
            eprintln!("wrote {n} invocations to {}", output.display());
        }
        Ok(())
    }
}

/// Prints the notes about the input, then reports what was written.
fn report_written(done: ops::Done<u64>, output: &std::path::Path) {
    for note in &done.notes {
        eprintln!("note: {note}");
    }
    if output.as_os_str() != "-" {
        eprintln!("wrote {} invocations to {}", done.value, output.display());
    }
}

/// `trace stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The trace file.
    pub file: PathBuf,
    /// Window for the rate percentiles and the dispersion index (e.g. 1s, 1m; 1ns to 366d).
    /// Only non-empty windows are stored, so a narrow window costs no memory.
    #[arg(long, value_name = "DURATION", value_parser = parse_window, default_value = "1s")]
    pub window: u64,
    /// How many of the most invoked functions to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub load: LoadArgs,
}

impl StatsArgs {
    /// Computes and prints the statistics.
    pub fn execute(self) -> anyhow::Result<()> {
        let done = ops::stats(&self.file, &self.load.into(), self.window, self.top)?;
        for note in &done.notes {
            eprintln!("note: {note}");
        }
        if self.json {
            println!("{}", serde_json::to_string_pretty(&done.value)?);
        } else {
            print!("{}", done.value);
        }
        Ok(())
    }
}

/// `trace slice`.
#[derive(Debug, clap::Args)]
pub struct SliceArgs {
    /// The trace file.
    pub file: PathBuf,
    /// Output file (native format).
    #[arg(long = "output-file", value_name = "FILE")]
    pub output: PathBuf,
    /// Window start (e.g. 10m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ns, default_value = "0s")]
    pub from: f64,
    /// Window end, exclusive (e.g. 20m); default: the end.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ns)]
    pub to: Option<f64>,
    /// Keep only these functions (names or ids, comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub functions: Vec<String>,
    /// Shift arrivals so the window starts at 0.
    #[arg(long)]
    pub rebase: bool,
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub load: LoadArgs,
}

impl SliceArgs {
    /// Slices and writes.
    pub fn execute(self) -> anyhow::Result<()> {
        let spec = ops::SliceSpec {
            from_ns: self.from.round() as u64,
            to_ns: self.to.map(|t| t.round() as u64),
            functions: self.functions,
            rebase: self.rebase,
        };
        let done = ops::slice(&self.file, &self.load.into(), &spec, &self.output)?;
        report_written(done, &self.output);
        Ok(())
    }
}

/// `trace scale`.
#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// The trace file.
    pub file: PathBuf,
    /// Output file (native format).
    #[arg(long = "output-file", value_name = "FILE")]
    pub output: PathBuf,
    /// Multiply arrival times by this (< 1 compresses time and raises the rate).
    #[arg(long, default_value_t = 1.0)]
    pub time_factor: f64,
    /// Multiply the rate by this without changing the time axis (< 1 thins, > 1 thickens).
    #[arg(long, default_value_t = 1.0)]
    pub rate_factor: f64,
    /// Seed for thinning/thickening.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub load: LoadArgs,
}

impl ScaleArgs {
    /// Scales and writes.
    pub fn execute(self) -> anyhow::Result<()> {
        let spec = ops::ScaleSpec {
            time_factor: self.time_factor,
            rate_factor: self.rate_factor,
            seed: self.seed,
        };
        let done = ops::scale(&self.file, &self.load.into(), &spec, &self.output)?;
        report_written(done, &self.output);
        Ok(())
    }
}
