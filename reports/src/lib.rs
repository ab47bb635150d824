//! Reports: charts (plotters, SVG) and a self-contained HTML report from unitlab results.
//!
//! The pipeline is [`load`] -> [`ReportData`] -> views (tables and chart data) -> charts (SVG
//! strings) -> [`render_report`] (one `index.html` with the SVGs inline, each chart also as an
//! `.svg` file, each table also as a `.csv` file). [`compare()`] sets two results side by side
//! with a noise test per metric.
//!
//! - [`data`]: loading result directories ([`load`]): measure results (`summary.json`,
//!   `samples.csv`, `memory.csv`, `phases.csv`), replay/simulation results (`summary.json` with
//!   the platform schema and each policy's `timeline.csv`), `validation.json`, `floors.json`.
//! - [`charts`]: one function per chart, data -> SVG string, a "no data" panel instead of a
//!   panic; [`platform`] holds the replay/simulation charts and tables.
//! - [`tables`]: every table of the report, rendered to HTML and CSV (raw numbers; units in the
//!   column names; an empty field is a figure that was not measured).
//! - [`scale`]: burst and density results: the scale-out chart, the burst and measured density
//!   tables.
//! - [`html`]: the page (template `templates/index.html`, inline CSS, no script, no network).
//! - [`mod@compare`]: baseline versus new, with a bootstrap confidence interval and a Mann–Whitney
//!   U test per metric.
//! - [`browser`]: checks a rendered report in headless Chromium (tests).
//! - [`fixture`]: synthetic, deterministic results for tests and demos (never measurements).
//!
//! ```no_run
//! let data = unitlab_reports::load(&["results"])?;
//! let files = unitlab_reports::render_report(
//!     &data,
//!     std::path::Path::new("report"),
//!     &unitlab_reports::ReportOptions::default(),
//! )?;
//! println!("{}", files.index.display());
//! # Ok::<(), unitlab_reports::ReportError>(())
//! ```

#![warn(missing_docs)]

pub mod browser;
pub mod charts;
pub mod compare;
pub mod data;
pub mod fixture;
pub mod format;
pub mod frontier;
pub mod html;
pub mod platform;
pub mod scale;
pub mod style;
pub mod summary;
pub mod tables;

use std::path::PathBuf;

pub use compare::{compare, compare_runs, Comparison, MetricChange};
pub use data::{load, Floor, PlatformInput, ReportData, Run};
pub use html::{render_report, ReportFiles, ReportOptions};

/// Errors building a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A path given as input does not exist.
    #[error("{path}: no such file or directory (give a result directory from `unitlab measure`, its summary.json, or a folder of result directories)")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// A directory holds no result.
    #[error("{path}: no summary.json found here or in its subdirectories (run `unitlab measure` first, or point at its output directory)")]
    NoResults {
        /// The directory.
        path: PathBuf,
    },
    /// A summary could not be read.
    #[error("{path}: {source}")]
    Results {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: unitlab_results::ResultsError,
    },
    /// A CSV file could not be read or written.
    #[error(
        "{path}: bad CSV ({source}); the file may be truncated or from another unitlab version"
    )]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: csv::Error,
    },
    /// A JSON file could not be read.
    #[error("{path}: bad JSON ({source})")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// File I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Headless Chromium could not check a report.
    #[error("{message}: run scripts/setup-chromium.sh (installs Debian's chromium)")]
    Browser {
        /// What went wrong.
        message: String,
    },
    /// Drawing a chart failed.
    #[error("chart {chart}: {message}")]
    Chart {
        /// Which chart.
        chart: &'static str,
        /// What plotters said.
        message: String,
    },
}
