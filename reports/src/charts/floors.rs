//! Cold-start bars: the mechanism floors beside the backends, and the first screen's
//! spectrum of execution models.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{backend_color, categories, category_label, no_data};
use crate::format;
use crate::style::{log_bounds, render, MeshExt, FONT, WIDTH};
use crate::ReportError;

/// One bar of the mechanism-floors chart.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorBar {
    /// Row label.
    pub label: String,
    /// A bare mechanism (fork/exec, runc) rather than a backend.
    pub mechanism: bool,
    /// Median, ns.
    pub p50_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: Option<f64>,
}

/// Mechanism floors (fork/exec, runc) beside the backends' cold starts: medians as bars on a
/// log axis, p99 as a whisker.
pub fn mechanism_floors(bars: &[FloorBar]) -> Result<String, ReportError> {
    cold_bars(
        "mechanism_floors",
        "Cold start against the bare mechanisms (median bar, p99 whisker)",
        bars,
    )
}

/// The spectrum: each execution model's cold start (median bar, p99 whisker) on a log axis,
/// rows in the order given (heaviest isolation boundary first).
pub fn spectrum(bars: &[FloorBar]) -> Result<String, ReportError> {
    cold_bars(
        "spectrum",
        "Cold start by execution model, heaviest isolation boundary first (p50 bar, p99 whisker)",
        bars,
    )
}

fn cold_bars(chart: &'static str, title: &str, bars: &[FloorBar]) -> Result<String, ReportError> {
    let bars: Vec<&FloorBar> = bars
        .iter()
        .filter(|b| b.p50_ns.is_finite() && b.p50_ns > 0.0)
        .collect();
    if bars.is_empty() {
        return no_data(title, "no cold starts or floors among the inputs");
    }
    let lo = bars.iter().map(|b| b.p50_ns).fold(f64::INFINITY, f64::min);
    let hi = bars
        .iter()
        .map(|b| b.p99_ns.unwrap_or(b.p50_ns).max(b.p50_ns))
        .fold(0.0, f64::max);
    let (lo, hi) = log_bounds(lo, hi);
    let hi_axis = hi * (hi / lo).powf(0.25);
    let labels: Vec<String> = bars
        .iter()
        .map(|b| {
            if b.mechanism {
                format!("{} [floor]", b.label)
            } else {
                b.label.clone()
            }
        })
        .collect();
    let height = if chart == "spectrum" {
        100 + 30 * bars.len() as u32
    } else {
        140 + 42 * bars.len() as u32
    };
    let (labels, label_w) = crate::style::fit_labels(&labels, 13);
    render(chart, (WIDTH, height.max(200)), |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(label_w)
            .build_cartesian_2d((lo..hi_axis).log_scale(), categories(bars.len(), true))?;
        c.configure_mesh()
            .disable_y_mesh()
            .x_desc("cold start latency (log scale)")
            .x_label_formatter(&|v| {
                if *v <= hi {
                    format::ns(*v)
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| category_label(&labels, *v))
            .shared_style(13)
            .draw()?;
        for (i, b) in bars.iter().enumerate() {
            let y = i as f64;
            let color = if b.mechanism {
                RGBColor(120, 120, 120)
            } else {
                backend_color(&b.label)
            };
            c.draw_series(std::iter::once(Rectangle::new(
                [(lo, y + 0.22), (b.p50_ns, y + 0.78)],
                if b.mechanism {
                    color.mix(0.55).filled()
                } else {
                    color.filled()
                },
            )))?;
            let mut end = b.p50_ns;
            if let Some(p99) = b.p99_ns.filter(|p| *p > b.p50_ns) {
                c.draw_series(LineSeries::new(
                    [(b.p50_ns, y + 0.5), (p99, y + 0.5)],
                    BLACK.stroke_width(1),
                ))?;
                c.draw_series(LineSeries::new(
                    [(p99, y + 0.35), (p99, y + 0.65)],
                    BLACK.stroke_width(1),
                ))?;
                end = p99;
            }
            let text = match b.p99_ns {
                Some(p99) => format!("p50 {} · p99 {}", format::ns(b.p50_ns), format::ns(p99)),
                None => format!("p50 {}", format::ns(b.p50_ns)),
            };
            c.draw_series(std::iter::once(Text::new(
                text,
                (end * 1.12, y + 0.5),
                TextStyle::from((FONT, 12).into_font())
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )))?;
        }
        Ok(())
    })
}
