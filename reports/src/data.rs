//! The report's input: measure results (and, when present, floors) loaded from result
//! directories, and the per-chart views derived from them.
//!
//! A path given to [`load`] may be
//! - a measure result directory (`summary.json`, `samples.csv`, `memory.csv`),
//! - a `summary.json` file,
//! - a directory of such directories (the harness's `results/` folder), searched two levels deep,
//! - a `floors.json` file (or a directory holding one): mechanism floors, see [`Floor`],
//! - a `frontier.json` file (or a directory holding one): the keep-alive frontier and the
//!   burstiness sweep (`unitlab_results::frontier`).
//!
//! A missing `samples.csv` or `memory.csv` is a warning, not an error: the summaries still show,
//! the charts of raw data leave that run out and say so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use unitlab_results::frontier::{FrontierResult, FRONTIER_SCHEMA};
use unitlab_results::platform::{
    PlatformSummary, TimelineBin, ValidationReport, PLATFORM_SCHEMA, PLATFORM_SCHEMA_V1,
    VALIDATION_SCHEMA,
};
use unitlab_results::{MeasureResult, MemorySample, Sample, SampleKind, MEASURE_SCHEMA};

use crate::ReportError;

/// One measure run: its summary and raw data.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Where it was read from.
    pub dir: PathBuf,
    /// Display label, unique within a [`ReportData`] (`wasm`, or `wasm (cpu)` when a backend
    /// appears with several functions).
    pub label: String,
    /// `summary.json`.
    pub result: MeasureResult,
    /// `samples.csv` (empty when the file was missing).
    pub samples: Vec<Sample>,
    /// `memory.csv` (empty when the file was missing).
    pub memory: Vec<MemorySample>,
    /// Start phases in the order the backend reported them (from `phases.csv`; empty when
    /// unknown, and the phases are then shown alphabetically).
    pub phase_order: Vec<String>,
}

impl Run {
    /// A run from values already in memory (tests, or a harness that just measured).
    pub fn new(result: MeasureResult, samples: Vec<Sample>, memory: Vec<MemorySample>) -> Run {
        Run {
            dir: PathBuf::new(),
            label: result.backend.name.clone(),
            result,
            samples,
            memory,
            phase_order: Vec::new(),
        }
    }

    /// The backend's name.
    pub fn backend(&self) -> &str {
        &self.result.backend.name
    }

    /// Total nanoseconds of the cold samples, in file order.
    pub fn cold_nanos(&self) -> Vec<u64> {
        self.nanos(SampleKind::Cold)
    }

    /// Nanoseconds of the warm samples, in file order.
    pub fn warm_nanos(&self) -> Vec<u64> {
        self.nanos(SampleKind::Warm)
    }

    fn nanos(&self, kind: SampleKind) -> Vec<u64> {
        self.samples
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.total_ns)
            .collect()
    }

    /// Memory per unit the density and cost figures use: the host view, else the RSS delta
    /// (in-process backends), else the engine view; `None` when nothing was measured.
    pub fn bytes_per_unit(&self) -> Option<(f64, &'static str)> {
        let m = &self.result.memory;
        m.host_bytes_per_unit
            .map(|b| (b, "host"))
            .or(m.rss_delta_per_unit.map(|b| (b, "RSS delta")))
            .or(m.engine_bytes_per_unit.map(|b| (b, "engine")))
            .filter(|(b, _)| *b > 0.0)
    }
}

/// A mechanism floor: the cost of the bare mechanism a backend builds on (`fork/exec`,
/// `runc run`), shown beside the backends.
///
/// Floors come from a `process` backend result (fork/exec of the static runner), from
/// `floors.json` files (a JSON array of this struct), and from backend settings or versions
/// named `floor.<name>.p50_ns` (and optionally `floor.<name>.p99_ns`), e.g. a container
/// backend that timed `runc run` of its bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Floor {
    /// What was timed (`fork/exec`, `runc run`).
    pub name: String,
    /// Median, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns, when known.
    #[serde(default)]
    pub p99_ns: Option<u64>,
    /// Where the figure came from (a file, a result, a command).
    #[serde(default)]
    pub source: String,
}

/// Everything a report is made from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportData {
    /// Measure runs, in the order given.
    pub runs: Vec<Run>,
    /// Floors from `floors.json` files and backend settings (the `process` run's floor is
    /// derived from [`ReportData::runs`], see [`ReportData::floors`]).
    pub extra_floors: Vec<Floor>,
    /// Replay and simulation results.
    pub platforms: Vec<PlatformInput>,
    /// `unitlab validate` results.
    pub validations: Vec<ValidationReport>,
    /// Keep-alive frontiers and burstiness sweeps (`frontier.json`).
    pub frontiers: Vec<FrontierResult>,
    /// `unitlab burst` and `unitlab density` results.
    pub scale: crate::scale::ScaleInput,
    /// Things the reader should know about the inputs (missing files, schema mismatches).
    pub warnings: Vec<String>,
    /// Directories skipped as incomplete: a run's partial directory (`.partial-*`, still
    /// being written or left by a killed process) or a directory with no result in it.
    pub skipped: Vec<PathBuf>,
}

/// One replay or simulation result: its summary and each policy's `timeline.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformInput {
    /// Where it was read from.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: PlatformSummary,
    /// `<backend>/<policy>/timeline.csv` (or `<policy>/timeline.csv`) per (backend, policy);
    /// runs without the file are absent.
    pub timelines: BTreeMap<(String, String), Vec<TimelineBin>>,
}

impl PlatformInput {
    /// The timeline of one of this result's runs, when it was written.
    pub fn timeline(&self, run: &unitlab_results::platform::PlatformRun) -> Option<&[TimelineBin]> {
        self.timelines
            .get(&(run.backend.clone(), run.policy.clone()))
            .map(Vec::as_slice)
    }
}

impl ReportData {
    /// Builds report data from runs already in memory; labels are made unique.
    pub fn from_runs(runs: Vec<Run>) -> ReportData {
        let mut d = ReportData {
            runs,
            ..ReportData::default()
        };
        d.relabel();
        d
    }

    /// Makes labels unique: the backend name; with the function when a backend appears with
    /// several functions; with the settings that differ (`strategy=ondemand`) when a backend
    /// appears several times with one function; `#n` when that is still ambiguous.
    pub fn relabel(&mut self) {
        let group = |r: &Run| r.backend().to_string();
        let mut functions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in &self.runs {
            let f = functions.entry(group(r)).or_default();
            if !f.contains(&r.result.function.name) {
                f.push(r.result.function.name.clone());
            }
        }
        let labels: Vec<String> = self
            .runs
            .iter()
            .map(|r| {
                let mut parts: Vec<String> = Vec::new();
                if functions[&group(r)].len() > 1 {
                    parts.push(r.result.function.name.clone());
                }
                // Settings whose values differ among the runs of this backend and function.
                let peers: Vec<&Run> = self
                    .runs
                    .iter()
                    .filter(|o| {
                        o.backend() == r.backend()
                            && o.result.function.name == r.result.function.name
                    })
                    .collect();
                if peers.len() > 1 {
                    let gap = r.result.config.gap_ns;
                    if peers.iter().any(|o| o.result.config.gap_ns != gap) {
                        parts.push(if gap == 0 {
                            "back to back".to_string()
                        } else {
                            format!("after {} idle", crate::format::ns(gap as f64))
                        });
                    }
                    for (k, v) in &r.result.backend.settings {
                        // Identifiers (an image's id or reference) and long values follow
                        // from a shorter setting that differs too (`image=node`).
                        if k.ends_with("_id") || k.ends_with("_ref") || v.len() > 24 {
                            continue;
                        }
                        if peers
                            .iter()
                            .any(|o| o.result.backend.settings.get(k) != Some(v))
                        {
                            parts.push(format!("{k}={v}"));
                        }
                    }
                }
                if parts.is_empty() {
                    r.backend().to_string()
                } else {
                    format!("{} ({})", r.backend(), parts.join(", "))
                }
            })
            .collect();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (r, mut label) in self.runs.iter_mut().zip(labels) {
            let n = seen.entry(label.clone()).or_default();
            *n += 1;
            if *n > 1 {
                label = format!("{label} #{n}");
            }
            r.label = label;
        }
    }

    /// True when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
            && self.extra_floors.is_empty()
            && self.platforms.is_empty()
            && self.validations.is_empty()
            && self.frontiers.is_empty()
            && self.scale.count() == 0
    }

    /// The run the headline uses for a backend: its back-to-back `noop` run if there is one,
    /// else its first back-to-back run, else its first.
    pub fn headline_run(&self, backend: &str) -> Option<&Run> {
        let of_backend = || self.runs.iter().filter(|r| r.backend() == backend);
        let back_to_back = || of_backend().filter(|r| r.result.config.gap_ns == 0);
        back_to_back()
            .find(|r| r.result.function.name == "noop")
            .or_else(|| back_to_back().next())
            .or_else(|| of_backend().next())
    }

    /// Every floor: the `process` runs' cold starts (fork/exec of the static runner), floors
    /// named in backend settings or versions, and `floors.json` entries.
    pub fn floors(&self) -> Vec<Floor> {
        let mut out = Vec::new();
        for r in &self.runs {
            if r.backend() == "process" {
                if let Some(p50) = r.result.cold.p50 {
                    out.push(Floor {
                        name: format!("fork/exec ({})", r.result.function.name),
                        p50_ns: p50,
                        p99_ns: r.result.cold.p99,
                        source: format!("{} cold start", r.label),
                    });
                }
            }
            let b = &r.result.backend;
            for map in [&b.settings, &b.versions] {
                for (k, v) in map {
                    let Some(name) = k
                        .strip_prefix("floor.")
                        .and_then(|k| k.strip_suffix(".p50_ns"))
                    else {
                        continue;
                    };
                    let Ok(p50) = v.trim().parse::<u64>() else {
                        continue;
                    };
                    let p99 = map
                        .get(&format!("floor.{name}.p99_ns"))
                        .and_then(|v| v.trim().parse().ok());
                    if out.iter().any(|f: &Floor| f.name == name) {
                        continue;
                    }
                    out.push(Floor {
                        name: name.to_string(),
                        p50_ns: p50,
                        p99_ns: p99,
                        source: format!("{} settings", r.label),
                    });
                }
            }
        }
        out.extend(self.extra_floors.iter().cloned());
        out
    }
}

/// Loads every result found under `paths` (see the module docs for what a path may be).
///
/// Fails on a path that does not exist, a `summary.json` that is not a measure result, or a
/// malformed CSV; succeeds with a warning when a run's raw files are missing.
pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<ReportData, ReportError> {
    let mut data = ReportData::default();
    for p in paths {
        load_path(p.as_ref(), 0, &mut data)?;
    }
    if data.runs.is_empty()
        && data.platforms.is_empty()
        && data.validations.is_empty()
        && data.extra_floors.is_empty()
    {
        if let Some(p) = paths.first() {
            return Err(ReportError::NoResults {
                path: p.as_ref().to_path_buf(),
            });
        }
    }
    data.relabel();
    Ok(data)
}

fn load_path(path: &Path, depth: usize, data: &mut ReportData) -> Result<(), ReportError> {
    if !path.exists() {
        return Err(ReportError::NotFound {
            path: path.to_path_buf(),
        });
    }
    if path.is_file() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "floors.json" {
            data.extra_floors.extend(load_floors(path)?);
            return Ok(());
        }
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        return load_json_result(&dir, path, data);
    }
    let summary = path.join("summary.json");
    let floors = path.join("floors.json");
    let validation = path.join("validation.json");
    let frontier = path.join("frontier.json");
    let mut found = false;
    if frontier.is_file() {
        load_json_result(path, &frontier, data)?;
        found = true;
    }
    if floors.is_file() {
        data.extra_floors.extend(load_floors(&floors)?);
        found = true;
    }
    if validation.is_file() {
        load_json_result(path, &validation, data)?;
        found = true;
    }
    if summary.is_file() {
        load_json_result(path, &summary, data)?;
        return Ok(());
    }
    if depth < 2 {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|source| ReportError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        entries.retain(|e| {
            let partial = e
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(unitlab_results::dir::is_partial);
            if partial {
                skip(
                    data,
                    e,
                    "an unfinished run (still being written, or its process was killed)",
                );
            }
            !partial
        });
        let count = |d: &ReportData| {
            d.runs.len()
                + d.platforms.len()
                + d.validations.len()
                + d.extra_floors.len()
                + d.frontiers.len()
                + d.scale.count()
        };
        let before = count(data);
        for e in entries {
            load_path(&e, depth + 1, data)?;
        }
        found |= count(data) > before;
    }
    let empty = || {
        std::fs::read_dir(path)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false)
    };
    if !found && (depth == 0 || empty()) {
        skip(
            data,
            path,
            "no summary.json or validation.json (a run that failed or was interrupted)",
        );
    }
    Ok(())
}

/// Records a directory skipped as incomplete, with a warning naming it.
fn skip(data: &mut ReportData, path: &Path, why: &str) {
    data.warnings
        .push(format!("skipped {}: incomplete: {why}", path.display()));
    data.skipped.push(path.to_path_buf());
}

fn load_floors(path: &Path) -> Result<Vec<Floor>, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut floors: Vec<Floor> =
        serde_json::from_str(&text).map_err(|source| ReportError::Json {
            path: path.to_path_buf(),
            source,
        })?;
    for f in &mut floors {
        if f.source.is_empty() {
            f.source = path.display().to_string();
        }
    }
    Ok(floors)
}

/// Reads a `summary.json` or `validation.json` and dispatches on its `schema` field.
fn load_json_result(dir: &Path, file: &Path, data: &mut ReportData) -> Result<(), ReportError> {
    #[derive(Deserialize)]
    struct Tag {
        #[serde(default)]
        schema: String,
    }
    let text = std::fs::read_to_string(file).map_err(|source| ReportError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    let tag: Tag = serde_json::from_str(&text).map_err(|source| ReportError::Json {
        path: file.to_path_buf(),
        source,
    })?;
    let results = |source| ReportError::Results {
        path: file.to_path_buf(),
        source,
    };
    match tag.schema.as_str() {
        PLATFORM_SCHEMA => {
            let summary = PlatformSummary::load(file).map_err(results)?;
            let mut timelines = BTreeMap::new();
            for run in &summary.runs {
                // `unitlab simulate` writes <backend>/<policy>/, replay <policy>/.
                let policy = policy_dir_name(&run.policy);
                let found = [
                    dir.join(&run.backend).join(&policy),
                    dir.join(&policy),
                    dir.join(&run.policy),
                ]
                .into_iter()
                .map(|d| d.join("timeline.csv"))
                .find(|p| p.is_file());
                if let Some(p) = found {
                    timelines.insert(
                        (run.backend.clone(), run.policy.clone()),
                        read_csv_opt(&p, data)?,
                    );
                }
            }
            data.platforms.push(PlatformInput {
                dir: dir.to_path_buf(),
                summary,
                timelines,
            });
            Ok(())
        }
        FRONTIER_SCHEMA => {
            data.frontiers
                .push(FrontierResult::load(file).map_err(results)?);
            Ok(())
        }
        unitlab_results::scale::BURST_SCHEMA => {
            let b = unitlab_results::scale::BurstResult::load(file).map_err(results)?;
            data.scale.bursts.push(b);
            Ok(())
        }
        unitlab_results::scale::DENSITY_SCHEMA => {
            let r = unitlab_results::scale::DensityResult::load(file).map_err(results)?;
            data.scale.densities.push(r);
            Ok(())
        }
        PLATFORM_SCHEMA_V1 => Err(ReportError::Results {
            path: file.to_path_buf(),
            source: unitlab_results::ResultsError::OldSchema {
                path: file.display().to_string(),
                found: PLATFORM_SCHEMA_V1.into(),
                expected: PLATFORM_SCHEMA.into(),
            },
        }),
        VALIDATION_SCHEMA => {
            data.validations
                .push(ValidationReport::load(file).map_err(results)?);
            Ok(())
        }
        _ => load_run(dir, file, data),
    }
}

fn load_run(dir: &Path, summary: &Path, data: &mut ReportData) -> Result<(), ReportError> {
    let result = MeasureResult::load(summary).map_err(|source| ReportError::Results {
        path: summary.to_path_buf(),
        source,
    })?;
    if result.schema != MEASURE_SCHEMA {
        data.warnings.push(format!(
            "{}: schema is {:?}, this report reads {MEASURE_SCHEMA:?}; figures may be misread",
            summary.display(),
            result.schema
        ));
    }
    let samples = read_csv_opt::<Sample>(&dir.join("samples.csv"), data)?;
    let memory = read_csv_opt::<MemorySample>(&dir.join("memory.csv"), data)?;
    let mut run = Run::new(result, samples, memory);
    run.dir = dir.to_path_buf();
    run.phase_order = read_phase_order(&dir.join("phases.csv"))?;
    data.runs.push(run);
    Ok(())
}

pub use unitlab_results::platform::policy_dir_name;

/// One row of the harness's `phases.csv`.
#[derive(Deserialize)]
struct PhaseRow {
    #[allow(dead_code)] // reason: read to validate the row, the order is what is kept
    unit: u32,
    phase: String,
}

/// Phase names in order of first appearance in `phases.csv` (empty when the file is absent).
fn read_phase_order(path: &Path) -> Result<Vec<String>, ReportError> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let csv_err = |source| ReportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut order: Vec<String> = Vec::new();
    for row in csv::Reader::from_path(path).map_err(csv_err)?.deserialize() {
        let row: PhaseRow = row.map_err(csv_err)?;
        if !order.contains(&row.phase) {
            order.push(row.phase);
        }
    }
    Ok(order)
}

fn read_csv_opt<T: serde::de::DeserializeOwned>(
    path: &Path,
    data: &mut ReportData,
) -> Result<Vec<T>, ReportError> {
    if !path.is_file() {
        data.warnings.push(format!(
            "{} is missing: charts of raw samples leave this run out",
            path.display()
        ));
        return Ok(Vec::new());
    }
    let mut rdr = csv::Reader::from_path(path).map_err(|source| ReportError::Csv {
        path: path.to_path_buf(),
        source,
    })?;
    rdr.deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|source| ReportError::Csv {
            path: path.to_path_buf(),
            source,
        })
}
