//! Frontier charts: the keep-alive frontier (idle cost against cold-start penalty) and the
//! burstiness sweep (the bill under three policies as burstiness grows).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use unitlab_results::frontier::{FrontierResult, PointKind, TraceFrontier};

use super::{backend_color, no_data};
use crate::format;
use crate::frontier::money;
use crate::style::{render_with_legend, LegendEntry, MeshExt, Swatch, FONT, WIDTH};
use crate::ReportError;

fn pos_min(v: impl Iterator<Item = f64>) -> Option<f64> {
    v.filter(|x| *x > 0.0 && x.is_finite())
        .min_by(f64::total_cmp)
}

fn pos_max(v: impl Iterator<Item = f64>) -> Option<f64> {
    v.filter(|x| *x > 0.0 && x.is_finite())
        .max_by(f64::total_cmp)
}

/// The keep-alive frontier of one trace: x = price of idle time per million invocations, y =
/// the p99 latency cold starts add (left) and the share of invocations that waited on a
/// start (right); one curve per model, each point labelled by its keep-alive. Zero idle
/// cost (scale to zero) and zero penalty are drawn on the axis edge marked "0".
pub fn frontier_chart(f: &FrontierResult, t: &TraceFrontier) -> Result<String, ReportError> {
    let title = format!(
        "Keep-alive frontier: {} ({} invocations)",
        t.trace.name,
        format::count(t.trace.invocations as f64)
    );
    let pts = || t.curves.iter().flat_map(|c| c.points.iter());
    let xs = || pts().filter_map(|p| p.idle_cost_per_million);
    let (Some(xmin), Some(xmax)) = (pos_min(xs()), pos_max(xs())) else {
        return no_data(
            &title,
            "no priced idle time (memory per unit or pay-per-use price missing)",
        );
    };
    let x0 = xmin / 4.0;
    let x1 = xmax * 2.0;
    let ys = || pts().filter_map(|p| p.p99_penalty_ns.map(|v| v as f64));
    let y0 = pos_min(ys()).unwrap_or(1e3) / 4.0;
    let y1 = pos_max(ys()).unwrap_or(1e6) * 2.0;
    let legend: Vec<LegendEntry> = t
        .curves
        .iter()
        .map(|c| LegendEntry::new(c.model.clone(), backend_color(&c.model), Swatch::Line))
        .chain([LegendEntry::new(
            "■ hybrid  ◆ peak",
            RGBColor(90, 90, 90),
            Swatch::Dot,
        )])
        .collect();
    let cur = f.pricing.currency.clone();
    let target = f.latency_target_ns as f64;
    render_with_legend("frontier", (WIDTH, 500), &legend, |root| {
        root.draw(&Text::new(
            title.clone(),
            (14, 8),
            (FONT, 19).into_font().color(&BLACK),
        ))?;
        let body = root.margin(34, 0, 0, 0);
        let (left, right) = body.split_horizontally(body.dim_in_pixel().0 * 58 / 100);
        let clampx = |v: f64| v.max(x0);
        let xfmt = |v: &f64| {
            if *v <= x0 * 1.01 {
                "0".to_string()
            } else {
                money(&cur, *v)
            }
        };
        // Left: p99 penalty.
        let mut c = ChartBuilder::on(&left)
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
        c.configure_mesh()
            .x_desc(format!("idle time's price per 1M invocations ({cur}, log)"))
            .y_desc("p99 latency added by cold starts (log)")
            .x_label_formatter(&xfmt)
            .y_label_formatter(&|v| {
                if *v <= y0 * 1.01 {
                    "0".into()
                } else {
                    format::ns(*v)
                }
            })
            .shared_style(11)
            .draw()?;
        if target > y0 && target < y1 {
            c.draw_series(LineSeries::new(
                [(x0, target), (x1, target)],
                RGBColor(200, 60, 60).stroke_width(1),
            ))?;
            c.draw_series(std::iter::once(Text::new(
                format!("target {}", format::ns(target)),
                (x1 / 1.05, target * 1.15),
                TextStyle::from((FONT, 11).into_font())
                    .color(&RGBColor(200, 60, 60))
                    .pos(Pos::new(HPos::Right, VPos::Bottom)),
            )))?;
        }
        for cv in &t.curves {
            let color = backend_color(&cv.model);
            let p: Vec<(f64, f64, &str, PointKind)> = cv
                .points
                .iter()
                .filter_map(|p| {
                    Some((
                        clampx(p.idle_cost_per_million?),
                        (p.p99_penalty_ns? as f64).max(y0),
                        p.label.as_str(),
                        p.kind,
                    ))
                })
                .collect();
            draw_curve(&mut c, &p, color)?;
        }
        // Right: share of invocations that waited on a start.
        let mut c = ChartBuilder::on(&right)
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(50)
            .build_cartesian_2d((x0..x1).log_scale(), 0f64..1.05f64)?;
        c.configure_mesh()
            .x_desc("idle price per 1M (log)")
            .y_desc("invocations that waited on a start")
            .x_label_formatter(&xfmt)
            .x_labels(4)
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .shared_style(11)
            .draw()?;
        for cv in &t.curves {
            let color = backend_color(&cv.model);
            let p: Vec<(f64, f64, &str, PointKind)> = cv
                .points
                .iter()
                .filter_map(|p| Some((clampx(p.idle_cost_per_million?), p.cold_share?, "", p.kind)))
                .collect();
            draw_curve(&mut c, &p, color)?;
        }
        Ok(())
    })
}

fn draw_curve<'a, Y>(
    c: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<LogCoord<f64>, Y>>,
    p: &[(f64, f64, &str, PointKind)],
    color: RGBColor,
) -> crate::style::DrawResult
where
    Y: Ranged<ValueType = f64>,
{
    let line: Vec<(f64, f64)> = p
        .iter()
        .filter(|q| q.3 == PointKind::KeepAlive)
        .map(|q| (q.0, q.1))
        .collect();
    c.draw_series(LineSeries::new(line, color.stroke_width(2)))?;
    // Points on the axis floor crowd together: only the first of them is labelled.
    let floor = p.iter().map(|q| q.1).fold(f64::INFINITY, f64::min);
    let mut floor_labelled = false;
    for &(x, y, label, kind) in p {
        let label = if y <= floor * 1.0001 {
            if floor_labelled {
                ""
            } else {
                floor_labelled = true;
                label
            }
        } else {
            label
        };
        let marker: DynElement<'_, SVGBackend<'_>, (i32, i32)> = match kind {
            PointKind::KeepAlive => Circle::new((0, 0), 3, color.filled()).into_dyn(),
            PointKind::Hybrid => Rectangle::new([(-4, -4), (4, 4)], color.filled()).into_dyn(),
            PointKind::ProvisionedForPeak => {
                Polygon::new(vec![(0, -5), (5, 0), (0, 5), (-5, 0)], color.filled()).into_dyn()
            }
        };
        let el = EmptyElement::at((x, y))
            + marker
            + Text::new(
                label.to_string(),
                (5, -12),
                (FONT, 10).into_font().color(&color),
            );
        c.draw_series(std::iter::once(el))?;
    }
    Ok(())
}

/// The burstiness sweep: one panel per model, x = the trace's dispersion index (log), y =
/// memory-time cost per million invocations (log) under provisioned for peak, scale to zero
/// (keep-alive 0) and the cheapest keep-alive that meets the latency target. Needs two or
/// more traces.
pub fn burstiness_chart(f: &FrontierResult) -> Result<String, ReportError> {
    let title = "What waiting costs as burstiness grows (same mean rate)";
    let traces = &f.burstiness;
    let xs: Vec<f64> = traces
        .iter()
        .filter_map(|t| t.trace.dispersion_index)
        .filter(|d| *d > 0.0)
        .collect();
    if xs.len() < 2 {
        return no_data(
            title,
            "this chart needs two or more traces with different burstiness (the burstiness sweep of `unitlab run`)",
        );
    }
    let models: Vec<String> = traces[0].curves.iter().map(|c| c.model.clone()).collect();
    let target = f.latency_target_ns;
    let series = |model: &str| -> [Vec<(f64, f64)>; 3] {
        let mut out: [Vec<(f64, f64)>; 3] = Default::default();
        for t in traces {
            let (Some(d), Some(c)) = (
                t.trace.dispersion_index,
                t.curves.iter().find(|c| c.model == model),
            ) else {
                continue;
            };
            let per = |p: Option<&unitlab_results::frontier::FrontierPoint>| {
                p.and_then(|p| p.memory_cost_per_million)
            };
            for (i, v) in [
                per(c.point(PointKind::ProvisionedForPeak)),
                per(c.scale_to_zero()),
                per(c.cheapest_meeting(target)),
            ]
            .into_iter()
            .enumerate()
            {
                if let Some(v) = v.filter(|v| *v > 0.0) {
                    out[i].push((d, v));
                }
            }
        }
        out
    };
    let all: Vec<f64> = models
        .iter()
        .flat_map(|m| series(m).into_iter().flatten().map(|(_, v)| v))
        .collect();
    let (Some(ylo), Some(yhi)) = (pos_min(all.iter().copied()), pos_max(all.iter().copied()))
    else {
        return no_data(title, "no priced memory-time in the burstiness sweep");
    };
    let (y0, y1) = (ylo / 3.0, yhi * 3.0);
    let (x0, x1) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min) / 1.5,
        xs.iter().copied().fold(0.0, f64::max) * 1.5,
    );
    let colors = [
        RGBColor(120, 120, 120),
        RGBColor(33, 113, 181),
        RGBColor(230, 120, 20),
    ];
    let legend = vec![
        LegendEntry::new("provisioned for peak", colors[0], Swatch::Line),
        LegendEntry::new("scale to zero", colors[1], Swatch::Line),
        LegendEntry::new(
            format!("cheapest keep-alive, p99 +≤{}", format::ns(target as f64)),
            colors[2],
            Swatch::Line,
        ),
    ];
    let cols = 3usize;
    let rows = models.len().div_ceil(cols).max(1);
    let cur = f.pricing.currency.clone();
    render_with_legend(
        "burstiness",
        (WIDTH, 40 + 210 * rows as u32),
        &legend,
        |root| {
            root.draw(&Text::new(
                title.to_string(),
                (14, 8),
                (FONT, 19).into_font().color(&BLACK),
            ))?;
            let body = root.margin(34, 0, 0, 0);
            let panels = body.split_evenly((rows, cols));
            for (m, area) in models.iter().zip(panels.iter()) {
                let mut c = ChartBuilder::on(area)
                    .margin(6)
                    .x_label_area_size(34)
                    .y_label_area_size(58)
                    .caption(m.clone(), (FONT, 13))
                    .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
                c.configure_mesh()
                    .x_desc("dispersion index")
                    .y_desc(format!("{cur} per 1M"))
                    .x_labels(4)
                    .y_labels(4)
                    .x_label_formatter(&|v| format::sig3(*v))
                    .y_label_formatter(&|v| money(&cur, *v))
                    .shared_style(10)
                    .draw()?;
                // The keep-alive line is drawn wide and first: when keep-alive 0 is the
                // cheapest that meets the target, scale to zero shows on top of it.
                let [peak, zero, best] = series(m);
                for (i, s, w) in [(2usize, best, 5u32), (0, peak, 2), (1, zero, 2)] {
                    let color = colors[i];
                    c.draw_series(LineSeries::new(s.clone(), color.stroke_width(w)))?;
                    c.draw_series(s.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
                }
            }
            Ok(())
        },
    )
}
