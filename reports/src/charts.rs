//! Charts: each one a function from data to an SVG string (plotters' SVG backend, no fonts
//! needed: text is written as SVG `<text>` and laid out by the browser).
//!
//! After criterion's `plot/plotters_backend`, one function per chart, but every function
//! returns a [`ReportError`] instead of panicking, and data with nothing to draw gives a
//! "no data" panel naming what is missing (see [`no_data`]).
//!
//! Every axis states its unit. Latencies use log axes because the backends span five orders of
//! magnitude (microseconds for Wasm, hundreds of milliseconds for containers).

use plotters::prelude::*;
use plotters::style::full_palette::{
    AMBER_800, BLUE_700, BROWN_500, CYAN_700, GREEN_700, GREY_600, INDIGO_400, LIME_800,
    ORANGE_700, PINK_500, PURPLE_500, RED_700, TEAL_600,
};
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::format;
use crate::ReportError;

pub use crate::style::WIDTH;
use crate::style::{log_bounds, render, render_with_legend, LegendEntry, Swatch, FONT};

/// Latency samples of one backend (or one run).
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySeries {
    /// Legend label.
    pub label: String,
    /// Raw samples, ns (zeros are below the timer's resolution and are left out).
    pub nanos: Vec<u64>,
}

/// Cold-start phases of one backend: medians of each phase, ns, in start order.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseBar {
    /// Row label.
    pub label: String,
    /// (phase, median ns).
    pub phases: Vec<(String, f64)>,
}

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
    /// Which view `bytes_per_unit` is (`host`, `RSS delta`, `engine`).
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

/// A colour per backend, the same in every chart: chosen by the label's first word.
pub fn backend_color(label: &str) -> RGBColor {
    let name = label.split([' ', '(']).next().unwrap_or(label);
    match name {
        "container" => BLUE_700,
        "v8" => ORANGE_700,
        "deno" => GREEN_700,
        "wasm" => PURPLE_500,
        "process" => GREY_600,
        "mock" => BROWN_500,
        other => {
            let cycle = [
                TEAL_600, PINK_500, INDIGO_400, LIME_800, CYAN_700, AMBER_800, RED_700,
            ];
            let h = other
                .bytes()
                .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            cycle[h % cycle.len()]
        }
    }
}

/// A colour for the n-th category (phases, memory views).
pub fn category_color(i: usize) -> RGBColor {
    let cycle = [
        BLUE_700, ORANGE_700, GREEN_700, PURPLE_500, TEAL_600, PINK_500, AMBER_800, INDIGO_400,
        LIME_800, RED_700, CYAN_700, BROWN_500,
    ];
    cycle[i % cycle.len()]
}

/// True when `svg` is a [`no_data`] panel.
pub fn is_no_data(svg: &str) -> bool {
    svg.contains(NO_DATA_MARK)
}

const NO_DATA_MARK: &str = "<svg class=\"no-data\" ";

/// A "no data" panel: the title, the words "no data", and why. Its root element carries
/// `class="no-data"` (see [`is_no_data`]).
pub fn no_data(title: &str, reason: &str) -> Result<String, ReportError> {
    let svg = render("no data", (WIDTH, 150), |root| {
        root.fill(&RGBColor(246, 246, 246))?;
        root.draw(&Text::new(
            title.to_string(),
            (16, 14),
            (FONT, 19).into_font().color(&BLACK),
        ))?;
        let center = Pos::new(HPos::Center, VPos::Center);
        root.draw(&Text::new(
            "no data".to_string(),
            (WIDTH as i32 / 2, 72),
            TextStyle::from((FONT, 26).into_font())
                .color(&GREY_600)
                .pos(center),
        ))?;
        root.draw(&Text::new(
            reason.to_string(),
            (WIDTH as i32 / 2, 112),
            TextStyle::from((FONT, 15).into_font())
                .color(&BLACK)
                .pos(center),
        ))?;
        Ok(())
    })?;
    Ok(svg.replacen("<svg ", NO_DATA_MARK, 1))
}

/// Nearest-rank percentile of sorted samples (`q` in 0..=1).
pub fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn sorted_nonzero(v: &[u64]) -> Vec<u64> {
    let mut s: Vec<u64> = v.iter().copied().filter(|&x| x > 0).collect();
    s.sort_unstable();
    s
}

/// Cold-start latency (start + first invoke) per backend as a CDF on a log axis, with p50 and
/// p99 marked on each curve.
pub fn cold_start_cdf(series: &[LatencySeries]) -> Result<String, ReportError> {
    latency_cdf(
        "cold_start_cdf",
        "Cold start latency (start + first invoke), CDF",
        series,
    )
}

fn latency_cdf(
    chart: &'static str,
    title: &str,
    series: &[LatencySeries],
) -> Result<String, ReportError> {
    let data: Vec<(&LatencySeries, Vec<u64>)> = series
        .iter()
        .map(|s| (s, sorted_nonzero(&s.nanos)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if data.is_empty() {
        return no_data(title, "no raw samples (samples.csv) among the inputs");
    }
    let lo = data.iter().map(|(_, v)| v[0]).min().unwrap_or(1) as f64;
    let hi = data.iter().map(|(_, v)| v[v.len() - 1]).max().unwrap_or(1) as f64;
    let (lo, hi) = log_bounds(lo, hi);
    let legend: Vec<LegendEntry> = data
        .iter()
        .map(|(s, v)| {
            LegendEntry::new(
                format!("{} (n={})", s.label, v.len()),
                backend_color(&s.label),
                Swatch::Line,
            )
        })
        .collect();
    render_with_legend(chart, (WIDTH, 470), &legend, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..1.02f64)?;
        c.configure_mesh()
            .x_desc("latency (log scale)")
            .y_desc("fraction of cold starts ≤ x")
            .x_label_formatter(&|v| format::ns(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for q in [0.5, 0.99] {
            c.draw_series(LineSeries::new(
                [(lo, q), (hi, q)],
                RGBColor(190, 190, 190).stroke_width(1),
            ))?;
        }
        for (si, (s, v)) in data.iter().enumerate() {
            let color = backend_color(&s.label);
            let n = v.len();
            let step = (n / 1500).max(1);
            let mut pts = Vec::with_capacity(2 * n / step + 2);
            let mut i = 0;
            while i < n {
                let x = v[i] as f64;
                pts.push((x, i as f64 / n as f64));
                pts.push((x, (i + 1) as f64 / n as f64));
                i += step;
            }
            pts.push((v[n - 1] as f64, 1.0));
            c.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(format!("{} (n={n})", s.label))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
            for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
                if let Some(p) = percentile(v, q) {
                    let text = format!("{name} {}", format::ns(p as f64));
                    // Stagger the labels so that curves close together stay readable.
                    let dy = if q < 0.9 {
                        -16 - 15 * (si as i32 % 3)
                    } else {
                        14 + 15 * (si as i32 % 3)
                    };
                    c.draw_series(std::iter::once(
                        EmptyElement::at((p as f64, q))
                            + Circle::new((0, 0), 4, color.filled())
                            + Text::new(text, (7, dy), (FONT, 12).into_font().color(&color)),
                    ))?;
                }
            }
        }
        Ok(())
    })
}

/// A categorical axis: `n` categories, category `i` spanning `i..i + 1`, ticks at the centres;
/// `flip` puts category 0 at the far end (the top of a vertical axis).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Categories {
    n: usize,
    flip: bool,
}

impl Ranged for Categories {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let n = self.n.max(1) as f64;
        let f = if self.flip { (n - v) / n } else { v / n };
        limit.0 + ((limit.1 - limit.0) as f64 * f).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: H) -> Vec<f64> {
        (0..self.n).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.n as f64
    }
}

/// A category axis over `n` categories.
pub(crate) fn categories(n: usize, flip: bool) -> Categories {
    Categories { n, flip }
}

pub(crate) fn category_label(labels: &[String], v: f64) -> String {
    let i = (v - 0.5).round();
    if i >= 0.0 && (v - 0.5 - i).abs() < 1e-6 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Cold-start phase breakdown per backend: one bar per backend, each phase's median as a share
/// of the sum of the medians, with the sum written beside the bar (medians of phases do not
/// add up to the median of the total; the table gives both).
pub fn cold_start_phases(bars: &[PhaseBar]) -> Result<String, ReportError> {
    let title = "Cold start phases (median of each phase, share of their sum)";
    let bars: Vec<&PhaseBar> = bars
        .iter()
        .filter(|b| b.phases.iter().any(|(_, v)| *v > 0.0))
        .collect();
    if bars.is_empty() {
        return no_data(title, "no cold starts with phases among the inputs");
    }
    let mut names: Vec<String> = Vec::new();
    for b in &bars {
        for (n, _) in &b.phases {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let height = 120 + 46 * bars.len() as u32;
    let legend: Vec<LegendEntry> = names
        .iter()
        .enumerate()
        .map(|(i, n)| LegendEntry::new(n.clone(), category_color(i), Swatch::Box))
        .collect();
    // Row labels are written in full: the label area is as wide as the longest one.
    let (labels, label_w) = crate::style::fit_labels(&labels, 13);
    let height = height.max(130 + 18 * legend.len() as u32).max(260);
    render_with_legend("cold_start_phases", (WIDTH, height), &legend, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(label_w)
            .right_y_label_area_size(0)
            .build_cartesian_2d(0f64..130f64, categories(bars.len(), true))?;
        c.configure_mesh()
            .disable_y_mesh()
            .x_labels(14)
            .x_desc("share of the sum of phase medians (%)")
            .x_label_formatter(&|v| {
                if *v <= 100.0 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| category_label(&labels, *v))
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for (pi, name) in names.iter().enumerate() {
            let color = category_color(pi);
            let mut rects = Vec::new();
            for (bi, b) in bars.iter().enumerate() {
                let total: f64 = b.phases.iter().map(|(_, v)| v.max(0.0)).sum();
                let mut x0 = 0.0;
                for (n, v) in &b.phases {
                    let w = v.max(0.0) / total * 100.0;
                    if n == name {
                        let y = bi as f64;
                        rects.push(Rectangle::new(
                            [(x0, y + 0.2), (x0 + w, y + 0.8)],
                            color.filled(),
                        ));
                    }
                    x0 += w;
                }
            }
            c.draw_series(rects)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
        }
        for (bi, b) in bars.iter().enumerate() {
            let total: f64 = b.phases.iter().map(|(_, v)| v.max(0.0)).sum();
            let style = TextStyle::from((FONT, 13).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            c.draw_series(std::iter::once(Text::new(
                format!("Σ {}", format::ns(total)),
                (101.5, bi as f64 + 0.5),
                style,
            )))?;
        }
        Ok(())
    })
}

/// Warm invoke latency per backend: a range plot on a log axis (min–max line, p25–p75 box, p50
/// tick, p99 dot), with the figures written beside each row.
pub fn warm_latency(series: &[LatencySeries]) -> Result<String, ReportError> {
    latency_ranges(
        "warm_latency",
        "Warm invoke latency (unit already started)",
        series,
    )
}

fn latency_ranges(
    chart: &'static str,
    title: &str,
    series: &[LatencySeries],
) -> Result<String, ReportError> {
    let data: Vec<(&LatencySeries, Vec<u64>)> = series
        .iter()
        .map(|s| (s, sorted_nonzero(&s.nanos)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if data.is_empty() {
        return no_data(title, "no warm samples (samples.csv) among the inputs");
    }
    let lo = data.iter().map(|(_, v)| v[0]).min().unwrap_or(1) as f64;
    let hi = data.iter().map(|(_, v)| v[v.len() - 1]).max().unwrap_or(1) as f64;
    let (lo, hi) = log_bounds(lo, hi);
    // Room on the right for the figures.
    let hi_axis = hi * (hi / lo).powf(0.45);
    let labels: Vec<String> = data.iter().map(|(s, _)| s.label.clone()).collect();
    let (labels, label_w) = crate::style::fit_labels(&labels, 13);
    let height = 150 + 50 * data.len() as u32;
    render(chart, (WIDTH, height.max(200)), |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(label_w)
            .build_cartesian_2d((lo..hi_axis).log_scale(), categories(data.len(), true))?;
        c.configure_mesh()
            .disable_y_mesh()
            .x_desc("latency (log scale); box p25–p75, tick p50, dot p99, line min–max")
            .x_label_formatter(&|v| {
                if *v <= hi {
                    format::ns(*v)
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| category_label(&labels, *v))
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for (i, (s, v)) in data.iter().enumerate() {
            let color = backend_color(&s.label);
            let y = i as f64 + 0.5;
            let q = |p: f64| percentile(v, p).unwrap_or(0) as f64;
            let (min, p25, p50, p75, p99, max) = (
                v[0] as f64,
                q(0.25),
                q(0.5),
                q(0.75),
                q(0.99),
                v[v.len() - 1] as f64,
            );
            c.draw_series(LineSeries::new([(min, y), (max, y)], color.stroke_width(1)))?;
            c.draw_series(std::iter::once(Rectangle::new(
                [(p25, y - 0.22), (p75.max(p25 * 1.01), y + 0.22)],
                color.mix(0.35).filled(),
            )))?;
            c.draw_series(LineSeries::new(
                [(p50, y - 0.3), (p50, y + 0.3)],
                color.stroke_width(3),
            ))?;
            c.draw_series(std::iter::once(Circle::new((p99, y), 4, color.filled())))?;
            let style = TextStyle::from((FONT, 12).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            c.draw_series(std::iter::once(Text::new(
                format!(
                    "p50 {} · p99 {} · max {} · n={}",
                    format::ns(p50),
                    format::ns(p99),
                    format::ns(max),
                    v.len()
                ),
                (max * 1.15, y),
                style,
            )))?;
        }
        Ok(())
    })
}

/// Memory per unit per backend, every view it reports (engine, host, RSS delta), on a log axis.
pub fn memory_per_unit(bars: &[MemoryBar]) -> Result<String, ReportError> {
    let title = "Memory per live unit (engine and host views)";
    let views = |b: &MemoryBar| {
        [
            ("engine view", b.engine_bytes),
            ("host view (PSS/RSS)", b.host_bytes),
            ("process RSS delta", b.rss_delta_bytes),
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
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let legend: Vec<LegendEntry> = views(bars[0])
        .iter()
        .enumerate()
        .map(|(i, (n, _))| LegendEntry::new(*n, category_color(i), Swatch::Box))
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
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
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
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
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
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
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
