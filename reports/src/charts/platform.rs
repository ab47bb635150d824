//! Platform charts: the replay/simulation timeline and simulated-versus-measured validation.

use plotters::prelude::*;
use plotters::style::full_palette::{BLUE_700, GREY_400, GREY_600, ORANGE_700};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use unitlab_results::platform::{Difference, TimelineBin};

use super::{categories, category_color, no_data};
use crate::format;
use crate::platform::{short, TimelineSeries, ValidationBars, MAX_TIMELINES};
use crate::style::{render, render_with_legend, LegendEntry, MeshExt, Swatch, FONT, WIDTH};
use crate::ReportError;

fn steps(bins: &[TimelineBin], f: impl Fn(&TimelineBin) -> f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(bins.len() * 2);
    for b in bins {
        let v = f(b);
        pts.push((b.t_s, v));
        pts.push((b.t_s + b.width_s, v));
    }
    pts
}

/// A stacked layer of the timeline: name, colour, top of the layer.
type Layer = (&'static str, RGBColor, fn(&TimelineBin) -> f64);

/// Replay or simulation timeline of one trace: arrivals per second on top (named by `trace`),
/// then per policy the mean live units per bin stacked as executing, starting and idle (at
/// most [`MAX_TIMELINES`] policies).
pub fn timeline(trace: &str, series: &[TimelineSeries]) -> Result<String, ReportError> {
    let trace = trace.to_string();
    let title = "Timeline: arrivals, and live units per policy (executing, starting, idle)";
    let series: Vec<&TimelineSeries> = series
        .iter()
        .filter(|s| !s.bins.is_empty())
        .take(MAX_TIMELINES)
        .collect();
    if series.is_empty() {
        return no_data(
            title,
            "no replay or simulation timeline (timeline.csv) among the inputs",
        );
    }
    let t_max = series
        .iter()
        .flat_map(|s| s.bins.iter().map(|b| b.t_s + b.width_s))
        .fold(0.0, f64::max)
        .max(1e-9);
    let k = series.len();
    let top_h = 190u32;
    let panel_h = 150u32;
    let height = top_h + panel_h * k as u32 + 40;
    let legend = [
        LegendEntry::new("idle", RGBColor(250, 195, 140), Swatch::Box),
        LegendEntry::new("starting", category_color(3), Swatch::Box),
        LegendEntry::new("executing", BLUE_700, Swatch::Box),
    ];
    render_with_legend("timeline", (WIDTH, height), &legend, |root| {
        let (top, rest) = root.split_vertically(top_h);
        let first = series[0];
        let arr = |b: &TimelineBin| {
            if b.width_s > 0.0 {
                b.arrivals as f64 / b.width_s
            } else {
                0.0
            }
        };
        let amax = first.bins.iter().map(arr).fold(0.0, f64::max).max(1e-9) * 1.1;
        let mut c = ChartBuilder::on(&top)
            .caption(title, (FONT, 20))
            .margin(10)
            .x_label_area_size(22)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..t_max, 0f64..amax)?;
        c.configure_mesh()
            .y_desc("arrivals/s")
            .x_label_formatter(&|v| format!("{} s", format::sig3(*v)))
            .y_label_formatter(&|v| format::sig3(*v))
            .shared_style(12)
            .draw()?;
        c.draw_series(AreaSeries::new(
            steps(&first.bins, arr),
            0.0,
            GREY_400.mix(0.7),
        ))?;
        c.draw_series(std::iter::once(Text::new(
            format!("trace: {}", short(&trace, 90)),
            (t_max * 0.99, amax * 0.95),
            TextStyle::from((FONT, 12).into_font())
                .color(&GREY_600)
                .pos(Pos::new(HPos::Right, VPos::Top)),
        )))?;
        let panels = rest.split_evenly((k, 1));
        for (i, (s, area)) in series.iter().zip(panels.iter()).enumerate() {
            let ymax = s.bins.iter().map(|b| b.live).fold(0.0, f64::max).max(1.0) * 1.15;
            let last = i + 1 == k;
            let mut c = ChartBuilder::on(area)
                .margin_left(10)
                .margin_right(10)
                .margin_top(6)
                .x_label_area_size(if last { 40 } else { 18 })
                .y_label_area_size(70)
                .build_cartesian_2d(0f64..t_max, 0f64..ymax)?;
            let mut mesh = c.configure_mesh();
            mesh.y_desc("units")
                .x_label_formatter(&|v| format!("{} s", format::sig3(*v)))
                .y_label_formatter(&|v| format::sig3(*v))
                .shared_style(12);
            if last {
                mesh.x_desc("trace time");
            }
            mesh.draw()?;
            let layers: [Layer; 3] = [
                ("idle", ORANGE_700, |b| b.executing + b.starting + b.idle),
                ("starting", category_color(3), |b| b.executing + b.starting),
                ("executing", BLUE_700, |b| b.executing),
            ];
            for (name, color, f) in layers {
                let a = c.draw_series(AreaSeries::new(
                    steps(&s.bins, f),
                    0.0,
                    color.mix(if name == "idle" { 0.45 } else { 0.8 }),
                ))?;
                if i == 0 {
                    a.label(name).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.mix(0.8).filled())
                    });
                }
            }
            c.draw_series(std::iter::once(Text::new(
                s.label.clone(),
                (t_max * 0.005, ymax * 0.97),
                TextStyle::from((FONT, 13).into_font())
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Top)),
            )))?;
        }
        Ok(())
    })
}

/// Simulated versus measured: relative difference per compared figure.
pub fn validation(reports: &[ValidationBars]) -> Result<String, ReportError> {
    let title = "Simulated versus measured (replay): relative difference per figure";
    let rows: Vec<(String, &Difference)> = reports
        .iter()
        .flat_map(|r| {
            r.differences
                .iter()
                .map(move |d| (format!("{} · {}", r.label, d.name), d))
        })
        .collect();
    if rows.is_empty() {
        return no_data(
            title,
            "no `unitlab validate` result (validation.json) among the inputs",
        );
    }
    let rel: Vec<Option<f64>> = rows
        .iter()
        .map(|(_, d)| d.relative.map(|r| r * 100.0))
        .collect();
    let m = rel
        .iter()
        .flatten()
        .fold(0.0f64, |a, b| a.max(b.abs()))
        .max(5.0)
        * 1.6;
    let labels: Vec<String> = rows.iter().map(|(l, _)| l.clone()).collect();
    let n = rows.len();
    let height = (130 + 30 * n as u32).max(220);
    render("validation", (WIDTH, height), |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(260)
            .build_cartesian_2d(-m..m, categories(n, true))?;
        c.configure_mesh()
            .disable_y_mesh()
            .x_desc("(simulated − replayed) / replayed (%)")
            .x_label_formatter(&|v| format!("{v:+.0}%"))
            .y_label_formatter(&|v| {
                let i = (v - 0.5).round();
                if i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .shared_style(12)
            .draw()?;
        c.draw_series(LineSeries::new(
            [(0.0, 0.0), (0.0, n as f64)],
            BLACK.stroke_width(1),
        ))?;
        for (i, ((_, d), r)) in rows.iter().zip(&rel).enumerate() {
            let y = i as f64;
            let f = |v: Option<f64>| v.map(format::sig3).unwrap_or("—".into());
            let text = format!("replay {} · sim {}", f(d.replay), f(d.simulate));
            match r {
                Some(r) => {
                    let color = if r.abs() <= 10.0 {
                        BLUE_700
                    } else {
                        ORANGE_700
                    };
                    c.draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y + 0.2), (*r, y + 0.8)],
                        color.filled(),
                    )))?;
                    let (x, h) = if *r >= 0.0 {
                        (r + m * 0.02, HPos::Left)
                    } else {
                        (r - m * 0.02, HPos::Right)
                    };
                    c.draw_series(std::iter::once(Text::new(
                        format!("{r:+.1}% ({text})"),
                        (x, y + 0.5),
                        TextStyle::from((FONT, 11).into_font())
                            .color(&BLACK)
                            .pos(Pos::new(h, VPos::Center)),
                    )))?;
                }
                None => {
                    c.draw_series(std::iter::once(Text::new(
                        format!("not comparable ({text})"),
                        (m * 0.02, y + 0.5),
                        TextStyle::from((FONT, 11).into_font())
                            .color(&GREY_600)
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    )))?;
                }
            }
        }
        Ok(())
    })
}
