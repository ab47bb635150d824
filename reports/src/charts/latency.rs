//! Latency charts: the cold-start CDF, the cold-start phases and the warm invoke ranges.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    backend_color, categories, category_color, category_label, no_data, percentile, sorted_nonzero,
};
use crate::format;
use crate::style::{
    log_bounds, render, render_with_legend, LegendEntry, MeshExt, Swatch, FONT, WIDTH,
};
use crate::ReportError;

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
            .shared_style(13)
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
            .shared_style(13)
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
            .shared_style(13)
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
