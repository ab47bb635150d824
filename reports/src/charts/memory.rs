//! Memory charts: memory per unit in every view, and density (units per RAM budget).

use plotters::prelude::*;
use plotters::style::full_palette::GREY_600;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{backend_color, categories, category_color, category_label, no_data};
use crate::format;
use crate::style::{
    legend_width, log_bounds, render_with_legend, shorten, LegendEntry, MeshExt, Swatch, FONT,
    WIDTH,
};
use crate::ReportError;

/// Memory per unit of one backend, every view it has, bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryBar {
    /// Group label.
    pub label: String,
    /// Engine view (linear memory, V8 heap, cgroup usage).
    pub engine_bytes: Option<f64>,
    /// Host view (PSS/RSS of the unit's processes).
    pub host_bytes: Option<f64>,
    /// In-process backends: process RSS growth per live unit.
    pub rss_delta_bytes: Option<f64>,
}

/// One line of the density chart.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityLine {
    /// Legend label.
    pub label: String,
    /// Memory one unit costs, bytes.
    pub bytes_per_unit: f64,
    /// Which view `bytes_per_unit` is (`host`, `engine`, `RSS growth`).
    pub view: String,
}

/// Density: how many units fit in a RAM budget.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DensityData {
    /// One line per backend.
    pub lines: Vec<DensityLine>,
    /// The measuring machine's memory, marked on the chart when known.
    pub machine_bytes: Option<u64>,
}

/// Memory per unit per backend, every view it reports (engine, host, RSS growth), on a log axis.
pub fn memory_per_unit(bars: &[MemoryBar]) -> Result<String, ReportError> {
    let title = "Memory per live unit (engine and host views)";
    let views = |b: &MemoryBar| {
        [
            ("engine view", b.engine_bytes),
            ("host view (PSS/RSS)", b.host_bytes),
            ("process RSS growth", b.rss_delta_bytes),
        ]
    };
    let bars: Vec<&MemoryBar> = bars
        .iter()
        .filter(|b| views(b).iter().any(|(_, v)| v.is_some_and(|v| v > 0.0)))
        .collect();
    if bars.is_empty() {
        return no_data(title, "no memory readings among the inputs");
    }
    let all: Vec<f64> = bars
        .iter()
        .flat_map(|b| views(b).into_iter().filter_map(|(_, v)| v))
        .filter(|v| *v > 0.0)
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(0.0, f64::max);
    let (lo, hi) = log_bounds(lo, hi);
    let legend: Vec<LegendEntry> = views(bars[0])
        .iter()
        .enumerate()
        .map(|(i, (n, _))| LegendEntry::new(*n, category_color(i), Swatch::Box))
        .collect();
    // Each label fits its category's width (the plot's width less the axis, over the bars).
    let per_bar = (WIDTH - legend_width(&legend) - 110) / bars.len() as u32;
    let labels: Vec<String> = bars
        .iter()
        .map(|b| shorten(&b.label, per_bar.saturating_sub(6), 13))
        .collect();
    render_with_legend("memory_per_unit", (WIDTH, 470), &legend, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(categories(bars.len(), false), (lo..hi).log_scale())?;
        c.configure_mesh()
            .disable_x_mesh()
            .y_desc("bytes per unit (log scale; kB = 1000 B, KiB = 1024 B)")
            .x_label_formatter(&|v| category_label(&labels, *v))
            .y_label_formatter(&|v| format::bytes_si(*v))
            .shared_style(13)
            .draw()?;
        for vi in 0..3 {
            let color = category_color(vi);
            let name = views(bars[0])[vi].0;
            let rects: Vec<Rectangle<(f64, f64)>> = bars
                .iter()
                .enumerate()
                .filter_map(|(bi, b)| {
                    let v = views(b)[vi].1.filter(|v| *v > 0.0)?;
                    let x0 = bi as f64 + 0.12 + vi as f64 * 0.26;
                    Some(Rectangle::new([(x0, lo), (x0 + 0.24, v)], color.filled()))
                })
                .collect();
            c.draw_series(rects)?.label(name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
            });
            let texts: Vec<Text<(f64, f64), String>> = bars
                .iter()
                .enumerate()
                .filter_map(|(bi, b)| {
                    let v = views(b)[vi].1.filter(|v| *v > 0.0)?;
                    let x = bi as f64 + 0.24 + vi as f64 * 0.26;
                    Some(Text::new(
                        format::bytes(v),
                        (x, v),
                        TextStyle::from((FONT, 11).into_font())
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ))
                })
                .collect();
            c.draw_series(texts)?;
        }
        Ok(())
    })
}

/// Density: units that fit in a RAM budget (budget / memory per unit), per backend, log–log,
/// with the measuring machine's memory marked.
pub fn density(data: &DensityData) -> Result<String, ReportError> {
    let title = "Density: units that fit in a RAM budget (memory per unit only)";
    let lines: Vec<&DensityLine> = data
        .lines
        .iter()
        .filter(|l| l.bytes_per_unit.is_finite() && l.bytes_per_unit > 0.0)
        .collect();
    if lines.is_empty() {
        return no_data(title, "no memory-per-unit figure among the inputs");
    }
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let (x0, x1) = (GIB / 16.0, 256.0 * GIB);
    let units = |budget: f64, per: f64| (budget / per).floor().max(0.0);
    let ymax = lines
        .iter()
        .map(|l| units(x1, l.bytes_per_unit))
        .fold(1.0, f64::max);
    let ymin = lines
        .iter()
        .map(|l| units(x0, l.bytes_per_unit))
        .fold(f64::INFINITY, f64::min)
        .max(0.5);
    let (ylo, yhi) = log_bounds(ymin, ymax);
    let legend: Vec<LegendEntry> = lines
        .iter()
        .map(|l| {
            LegendEntry::new(
                format!(
                    "{}: {} ({})",
                    l.label,
                    format::bytes(l.bytes_per_unit),
                    l.view
                ),
                backend_color(&l.label),
                Swatch::Line,
            )
        })
        .collect();
    render_with_legend("density", (WIDTH, 470), &legend, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d((x0..x1).log_scale(), (ylo..yhi).log_scale())?;
        c.configure_mesh()
            .x_desc("RAM budget (log scale)")
            .y_desc("live units that fit (log scale)")
            .x_label_formatter(&|v| format::bytes_si(*v))
            .y_label_formatter(&|v| format::count(*v))
            .shared_style(13)
            .draw()?;
        if let Some(m) = data
            .machine_bytes
            .map(|m| m as f64)
            .filter(|m| *m > x0 && *m < x1)
        {
            c.draw_series(LineSeries::new(
                [(m, ylo), (m, yhi)],
                RGBColor(150, 150, 150).stroke_width(1),
            ))?;
            c.draw_series(std::iter::once(Text::new(
                format!("this machine: {}", format::bytes(m)),
                (m * 1.08, yhi / 1.5),
                (FONT, 12).into_font().color(&GREY_600),
            )))?;
        }
        for l in &lines {
            let color = backend_color(&l.label);
            let pts: Vec<(f64, f64)> = (0..=48)
                .map(|i| x0 * (x1 / x0).powf(i as f64 / 48.0))
                .map(|b| (b, units(b, l.bytes_per_unit)))
                .filter(|(_, u)| *u >= ylo)
                .collect();
            c.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(format!(
                    "{} ({} per unit, {} view)",
                    l.label,
                    format::bytes(l.bytes_per_unit),
                    l.view
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
        }
        Ok(())
    })
}
