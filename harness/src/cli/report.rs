//! `unitlab report` and `unitlab compare`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use unitlab_reports::{ReportFiles, ReportOptions};

/// Writes the HTML report (charts inline), the charts as SVG and every table as CSV.
#[derive(Debug, Args)]
pub struct ReportCmd {
    /// Result directories (from measure, replay, simulate, validate), or folders of them.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Output directory.
    #[arg(long, short, default_value = "report")]
    pub out: PathBuf,
    /// Page title.
    #[arg(long, default_value = "unitlab report")]
    pub title: String,
}

/// Builds a report from result paths.
pub fn build(results: &[PathBuf], out: &std::path::Path, title: &str) -> Result<ReportFiles> {
    let data = unitlab_reports::load(results).context("loading results for the report")?;
    for s in &data.skipped {
        eprintln!(
            "skipped {} (incomplete: not a finished result)",
            s.display()
        );
    }
    let opts = ReportOptions {
        title: title.to_string(),
        generated_at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    };
    unitlab_reports::render_report(&data, out, &opts)
        .with_context(|| format!("writing the report into {}", out.display()))
}

impl ReportCmd {
    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        let files = build(&self.results, &self.out, &self.title)?;
        println!(
            "report: {} ({} charts, {} tables)",
            files.index.display(),
            files.charts.len(),
            files.tables.len()
        );
        Ok(())
    }
}

/// Compares two sets of results metric by metric, flagging changes outside the noise.
#[derive(Debug, Args)]
pub struct CompareCmd {
    /// The baseline: a result directory or a folder of them.
    pub baseline: PathBuf,
    /// The new results.
    pub new: PathBuf,
}

impl CompareCmd {
    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        let b = unitlab_reports::load(std::slice::from_ref(&self.baseline))
            .context("loading the baseline")?;
        let n = unitlab_reports::load(std::slice::from_ref(&self.new))
            .context("loading the new results")?;
        let (comparisons, unmatched) = unitlab_reports::compare_runs(&b, &n);
        if comparisons.is_empty() {
            anyhow::bail!(
                "no result in {} matches one in {} by backend and function",
                self.baseline.display(),
                self.new.display()
            );
        }
        for c in &comparisons {
            println!("{}", c.to_text());
        }
        for u in unmatched {
            println!("not compared: {u}");
        }
        Ok(())
    }
}
