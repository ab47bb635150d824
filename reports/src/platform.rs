//! The platform part of the report: replay and simulation results
//! (`unitlab_results::platform`), their charts, tables and the headline's "you stop paying
//! for waiting" row.
//!
//! Burstiness is measured, not taken from a generator's name: the coefficient of variation
//! (standard deviation / mean) of the arrivals per `timeline.csv` bin. A keep-alive length is
//! read from a policy setting whose key contains `keep_alive`, `keepalive` or `ttl` (`none`,
//! `fixed 10m` as the platform writes it, a number of seconds, or a duration: `500ms`, `600s`,
//! `10m`, `1h`); a policy named `none` or `no-keepalive` counts as 0 s. A hybrid-histogram
//! policy has no single length and is left out of that chart.

use plotters::prelude::*;
use plotters::style::full_palette::{BLUE_700, GREY_400, GREY_600, ORANGE_700};

use plotters::style::text_anchor::{HPos, Pos, VPos};
use unitlab_results::platform::{Difference, PlatformRun, RunKind, TimelineBin};

use crate::charts::{categories, category_color, no_data, WIDTH};
use crate::data::{PlatformInput, ReportData};
use crate::format;
use crate::tables::{Cell, Table};
use crate::ReportError;

use crate::style::{render, render_with_legend, LegendEntry, Swatch, FONT};
/// Most policies drawn in the timeline.
pub const MAX_TIMELINES: usize = 6;

/// One policy's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineSeries {
    /// `simulate wasm: keepalive-600s`.
    pub label: String,
    /// Bins in time order.
    pub bins: Vec<TimelineBin>,
}

/// Cost against keep-alive length for one backend (and run kind).
#[derive(Debug, Clone, PartialEq)]
pub struct KeepAliveSeries {
    /// Legend label.
    pub label: String,
    /// Currency of the costs.
    pub currency: String,
    /// (keep-alive seconds, idle cost), sorted by keep-alive.
    pub points: Vec<(f64, f64)>,
}

/// Billed costs against burstiness for one (backend, policy): one point per trace.
#[derive(Debug, Clone, PartialEq)]
pub struct BurstinessSeries {
    /// Legend label.
    pub label: String,
    /// (coefficient of variation of arrivals, pay-per-use billed, provisioned billed), sorted
    /// by the first.
    pub points: Vec<(f64, f64, f64)>,
}

/// The differences of one `unitlab validate` result.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationBars {
    /// `wasm: keepalive-600s`.
    pub label: String,
    /// The compared figures.
    pub differences: Vec<Difference>,
}

/// Everything the platform charts draw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlatformViews {
    /// The trace of the timelines.
    pub timeline_trace: String,
    /// One per (backend, policy) with a timeline, of one result (see [`headline_input`]).
    pub timelines: Vec<TimelineSeries>,
    /// One per (backend, kind).
    pub keepalive: Vec<KeepAliveSeries>,
    /// One per (backend, policy, model).
    pub burstiness: Vec<BurstinessSeries>,
    /// One per validation result.
    pub validation: Vec<ValidationBars>,
}

fn kind(k: RunKind) -> &'static str {
    match k {
        RunKind::Replay => "replay",
        RunKind::Simulate => "simulate",
    }
}

/// The keep-alive length of a policy, seconds: 0 for none, `None` when it is adaptive
/// (hybrid). Read from the run's typed facts, never from its settings' text.
pub fn keep_alive_seconds(run: &PlatformRun) -> Option<f64> {
    run.facts.keep_alive_ns.map(|ns| ns as f64 / 1e9)
}

/// [`burstiness`] of the bins that start before the trace's last arrival (`last_arrival_ns`;
/// 0 = all bins): the bins after it only show units winding down, and a longer keep-alive
/// would otherwise look like a burstier trace.
pub fn burstiness_within(bins: &[TimelineBin], last_arrival_ns: u64) -> Option<f64> {
    if last_arrival_ns == 0 {
        return burstiness(bins);
    }
    let end = last_arrival_ns as f64 / 1e9;
    let n = bins.iter().take_while(|b| b.t_s <= end).count();
    burstiness(&bins[..n])
}

/// Coefficient of variation of arrivals per bin; `None` with fewer than 2 bins or no arrival.
pub fn burstiness(bins: &[TimelineBin]) -> Option<f64> {
    if bins.len() < 2 {
        return None;
    }
    let n = bins.len() as f64;
    let mean = bins.iter().map(|b| b.arrivals as f64).sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = bins
        .iter()
        .map(|b| (b.arrivals as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    Some(var.sqrt() / mean)
}

fn run_label(_p: &PlatformInput, r: &PlatformRun) -> String {
    format!("{} {}: {}", kind(r.kind), r.backend, r.policy)
}

/// The platform result the headline and the timeline use: the first whose trace is bursty by
/// name (its source names "burst", or the on/off arrival process of the default bursty mix,
/// `process=onoff`), else the first.
pub fn headline_input(d: &ReportData) -> Option<&PlatformInput> {
    d.platforms
        .iter()
        .find(|p| {
            let s = p.summary.trace.source.to_ascii_lowercase();
            s.contains("burst") || s.contains("process=onoff")
        })
        .or(d.platforms.first())
}

/// Builds the platform chart data.
pub fn views(d: &ReportData) -> PlatformViews {
    let mut v = PlatformViews::default();
    let mut ka: Vec<(String, KeepAliveSeries)> = Vec::new();
    let mut bu: Vec<BurstinessSeries> = Vec::new();
    if let Some(p) = headline_input(d) {
        v.timeline_trace = p.summary.trace.source.clone();
        for r in &p.summary.runs {
            if let Some(bins) = p.timeline(r) {
                v.timelines.push(TimelineSeries {
                    label: run_label(p, r),
                    bins: bins.to_vec(),
                });
            }
        }
    }
    for p in &d.platforms {
        let currency = p.summary.pricing.currency.clone();
        for r in &p.summary.runs {
            if let (Some(k), Some(c)) = (keep_alive_seconds(r), r.waiting.pay_per_use) {
                // Keyed by the full trace source, shown shortened.
                let key = format!("{} {} {}", r.backend, kind(r.kind), p.summary.trace.source);
                match ka.iter_mut().find(|(k2, _)| *k2 == key) {
                    Some((_, s)) => s.points.push((k, c)),
                    None => ka.push((
                        key,
                        KeepAliveSeries {
                            label: format!(
                                "{} {} · {}",
                                r.backend,
                                kind(r.kind),
                                short(&p.summary.trace.source, 48)
                            ),
                            currency: currency.clone(),
                            points: vec![(k, c)],
                        },
                    )),
                }
            }
            let Some(cv) = p
                .timeline(r)
                .and_then(|b| burstiness_within(b, p.summary.trace.last_arrival_ns))
            else {
                continue;
            };
            let (Some(ppu), Some(prov)) = (&r.costs.pay_per_use, &r.costs.provisioned) else {
                continue;
            };
            let label = format!("{} {}: {}", r.backend, kind(r.kind), r.policy);
            let point = (cv, ppu.billed, prov.billed);
            match bu.iter_mut().find(|s| s.label == label) {
                Some(s) => s.points.push(point),
                None => bu.push(BurstinessSeries {
                    label,
                    points: vec![point],
                }),
            }
        }
    }
    for (_, s) in &mut ka {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    for s in &mut bu {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    v.keepalive = ka.into_iter().map(|(_, s)| s).collect();
    v.burstiness = bu;
    v.validation = d
        .validations
        .iter()
        .map(|r| ValidationBars {
            label: format!("{}: {}", r.backend, r.policy),
            differences: r.differences.clone(),
        })
        .collect();
    v
}

/// A stacked layer of the timeline: name, colour, top of the layer.
type Layer = (&'static str, RGBColor, fn(&TimelineBin) -> f64);

fn steps(bins: &[TimelineBin], f: impl Fn(&TimelineBin) -> f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(bins.len() * 2);
    for b in bins {
        let v = f(b);
        pts.push((b.t_s, v));
        pts.push((b.t_s + b.width_s, v));
    }
    pts
}

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
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
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
                .light_line_style(RGBColor(240, 240, 240))
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 13));
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

/// Price of idle time against keep-alive length, per backend.
pub fn keepalive_cost(series: &[KeepAliveSeries]) -> Result<String, ReportError> {
    let title = "Cost of idle time against keep-alive length";
    let series: Vec<&KeepAliveSeries> = series.iter().filter(|s| !s.points.is_empty()).collect();
    if series.is_empty() {
        return no_data(
            title,
            "no replay or simulation run with a keep-alive setting and a pay-per-use price",
        );
    }
    let xmax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.05;
    let ymax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        .max(1e-12)
        * 1.15;
    let currency = series[0].currency.clone();
    render("keepalive_cost", (WIDTH, 440), |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
        c.configure_mesh()
            .x_desc("keep-alive length (s)")
            .y_desc(format!("idle GB-s at the pay-per-use price ({currency})"))
            .x_label_formatter(&|v| format::sig3(*v))
            .y_label_formatter(&|v| format_money(*v))
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            let color = category_color(i);
            c.draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
            c.draw_series(s.points.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT, 12))
            .draw()?;
        Ok(())
    })
}

/// Provisioned versus pay per use as burstiness grows: the ratio of the billed costs
/// (provisioned / pay per use) per (backend, policy), one point per trace, log ratio axis with
/// 1× marked (above it provisioned costs more).
pub fn burstiness_cost(series: &[BurstinessSeries]) -> Result<String, ReportError> {
    let title = "Provisioned versus pay per use as burstiness grows";
    let ratio = |p: &(f64, f64, f64)| (p.1 > 0.0 && p.2 > 0.0).then(|| (p.0, p.2 / p.1));
    let series: Vec<(&BurstinessSeries, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| (s, s.points.iter().filter_map(ratio).collect::<Vec<_>>()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if series.is_empty() {
        return no_data(
            title,
            "no replay or simulation result with a timeline and both prices",
        );
    }
    let pts = || series.iter().flat_map(|(_, v)| v.iter());
    let xmax = pts().map(|p| p.0).fold(0.0, f64::max).max(0.1) * 1.1;
    let xmin = (pts().map(|p| p.0).fold(f64::INFINITY, f64::min) * 0.9).min(xmax / 1.2);
    let ylo = pts().map(|p| p.1).fold(1.0, f64::min) / 2.0;
    // Headroom above the data for the legend.
    let yhi = pts().map(|p| p.1).fold(1.0, f64::max) * 30.0;
    let traces = pts()
        .map(|p| (p.0 * 1e9) as i64)
        .collect::<std::collections::BTreeSet<_>>();
    let single = traces.len() < 2;
    render("burstiness_cost", (WIDTH, 460), |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .build_cartesian_2d(xmin..xmax, (ylo..yhi).log_scale())?;
        c.configure_mesh()
            .x_desc("burstiness: coefficient of variation of arrivals per timeline bin")
            .y_desc("provisioned / pay-per-use billed cost (log)")
            .x_label_formatter(&|v| format::sig3(*v))
            .y_label_formatter(&|v| format::ratio(*v))
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()?;
        c.draw_series(LineSeries::new(
            [(xmin, 1.0), (xmax, 1.0)],
            BLACK.stroke_width(1),
        ))?;
        c.draw_series(std::iter::once(Text::new(
            "1×: same bill; above, provisioned costs more".to_string(),
            (xmax, 1.0),
            TextStyle::from((FONT, 11).into_font())
                .color(&GREY_600)
                .pos(Pos::new(HPos::Right, VPos::Bottom)),
        )))?;
        if single {
            c.draw_series(std::iter::once(Text::new(
                "one trace only: give results of traces of different burstiness to see a trend"
                    .to_string(),
                (xmax, ylo * 1.2),
                TextStyle::from((FONT, 12).into_font())
                    .color(&GREY_600)
                    .pos(Pos::new(HPos::Right, VPos::Bottom)),
            )))?;
        }
        for (i, (s, pts)) in series.iter().enumerate() {
            let color = category_color(i);
            c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
            c.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT, 12))
            .draw()?;
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
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
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

/// Number of platform and validation results.
pub fn count(d: &ReportData) -> usize {
    d.platforms.len() + d.validations.len()
}

/// Warnings of the platform results, prefixed with the run.
pub fn warnings(d: &ReportData) -> Vec<String> {
    let mut out = Vec::new();
    for p in &d.platforms {
        for r in &p.summary.runs {
            for w in &r.warnings {
                out.push(format!("{}: {w}", run_label(p, r)));
            }
        }
    }
    for v in &d.validations {
        for w in &v.warnings {
            out.push(format!("validate {}: {}: {w}", v.backend, v.policy));
        }
    }
    out
}

/// Replaces the headline's "you stop paying for waiting" row with measured rows when a replay or
/// simulation result is present: the trace whose source names "burst" (else the first), one row
/// per backend, told through its first keep-alive policy (else its first policy).
pub fn headline_rows(d: &ReportData, headline: &mut Table) {
    let Some(p) = headline_input(d) else {
        return;
    };
    let claim = "You stop paying for waiting";
    headline
        .rows
        .retain(|r| r.first() != Some(&Cell::text(claim)));
    let s = &p.summary;
    let cur = &s.pricing.currency;
    let money = |v: f64| format!("{} {cur}", format_money(v));
    let machine = s
        .env
        .as_ref()
        .map(|e| {
            format!(
                "{}, {} cores, {}, Linux {}",
                e.cpu_model,
                e.cores,
                format::bytes(e.memory_bytes as f64),
                e.kernel
            )
        })
        .unwrap_or_else(|| "not recorded".to_string());
    let mut versions: Vec<String> = s
        .backend
        .versions
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if let Some(e) = &s.env {
        versions.push(format!("unitlab {}", e.unitlab));
    }
    let date = s.env.as_ref().map(|e| e.time.clone()).unwrap_or_default();
    // One row per backend, every policy of that backend in the result.
    let mut backends: Vec<&str> = Vec::new();
    for r in &s.runs {
        if !backends.contains(&r.backend.as_str()) {
            backends.push(&r.backend);
        }
    }
    for backend in backends {
        let runs: Vec<_> = s.runs.iter().filter(|r| r.backend == backend).collect();
        // The first keep-alive policy speaks for the row (scale to zero after waiting is the
        // claim's subject); every policy is in the "Replay and simulation runs" table.
        let Some(r) = runs
            .iter()
            .find(|r| r.policy.starts_with("keepalive"))
            .or(runs.first())
        else {
            continue;
        };
        let mut m = format!(
            "{} of trace \"{}\" ({} invocations) on {backend}, policy {}: ",
            kind(s.kind),
            short(&s.trace.source, 60),
            s.trace.invocations,
            r.policy,
        );
        if let Some(share) = r.usage.idle_share {
            m.push_str(&format!("{:.0}% of unit life idle; ", share * 100.0));
        }
        match (&r.costs.pay_per_use, &r.costs.provisioned) {
            (Some(ppu), Some(prov)) => {
                m.push_str(&format!(
                    "pay per use bills {}, and the idle time the platform carries is priced {}",
                    money(ppu.billed),
                    money(prov.idle)
                ));
                if ppu.billed > 0.0 {
                    m.push_str(&format!(
                        " ({} the bill)",
                        format::ratio(prov.idle / ppu.billed)
                    ));
                }
                m.push_str(&format!(
                    "; pay per use versus provisioned, billed: {} versus {}",
                    money(ppu.billed),
                    money(prov.billed)
                ));
                if ppu.billed > 0.0 {
                    m.push_str(&format!(" ({})", format::ratio(prov.billed / ppu.billed)));
                }
            }
            _ => m.push_str("cost not computable (a price or the memory per unit is missing)"),
        }
        m.push_str(&format!(
            ". {} policies in the table \"Replay and simulation runs\".",
            runs.len()
        ));
        headline.rows.push(vec![
            Cell::text(claim),
            Cell::text(m),
            Cell::text(format!(
                "{} {backend} ({})",
                kind(s.kind),
                p.dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )),
            Cell::text(&machine),
            Cell::text(versions.join(", ")),
            Cell::text(&date),
        ]);
    }
}

/// `s` cut to `n` characters with an ellipsis.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn format_money(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if v.abs() >= 0.01 {
        format::sig3(v)
    } else {
        format!("{v:.2e}")
    }
}

/// The platform tables: one row per (result, policy), the validation differences, and the
/// platform results' environment.
pub fn tables(d: &ReportData) -> Vec<Table> {
    let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut runs = Table {
        id: "platform_runs".to_string(),
        title: "Replay and simulation runs".to_string(),
        note: "One row per policy. Idle share = idle / alive unit-seconds. Costs under the \
               pricing file of each result; GB = 10^9 bytes. Burstiness = coefficient of \
               variation of arrivals per timeline bin."
            .to_string(),
        columns: cols(&[
            "kind",
            "backend",
            "policy",
            "trace",
            "invocations",
            "cold_starts",
            "cold_rate",
            "e2e_p50_ns",
            "e2e_p99_ns",
            "mean_live_units",
            "peak_live_units",
            "idle_share",
            "idle_gb_seconds",
            "keep_alive_s",
            "burstiness_cv",
            "pay_per_use_billed",
            "provisioned_billed",
            "cpu_time_billed",
            "idle_cost_pay_per_use",
            "idle_cost_provisioned",
            "currency",
            "memory_source",
        ]),
        rows: Vec::new(),
    };
    let mut env = Table {
        id: "platform_environment".to_string(),
        title: "Replay and simulation: inputs and machine".to_string(),
        note: "The trace, seed, time scale, prices and machine of every platform result."
            .to_string(),
        columns: cols(&[
            "result",
            "kind",
            "backend",
            "trace",
            "seed",
            "time_scale",
            "pricing",
            "machine",
            "time_utc",
        ]),
        rows: Vec::new(),
    };
    for p in &d.platforms {
        let s = &p.summary;
        for r in &s.runs {
            let ns = |v: Option<u64>| Cell::Ns(v.map(|v| v as f64));
            let num = Cell::Num;
            runs.rows.push(vec![
                Cell::text(kind(r.kind)),
                Cell::text(&r.backend),
                Cell::text(&r.policy),
                Cell::text(&s.trace.source),
                Cell::Count(Some(r.counts.invocations as f64)),
                Cell::Count(Some(r.counts.cold_starts as f64)),
                num(r.counts.cold_rate),
                ns(r.latency.end_to_end.p50),
                ns(r.latency.end_to_end.p99),
                num(r.usage.mean_live_units),
                Cell::Count(Some(r.usage.peak_live_units as f64)),
                num(r.usage.idle_share),
                num(r.waiting.idle_gb_seconds),
                num(keep_alive_seconds(r)),
                num(p
                    .timeline(r)
                    .and_then(|b| burstiness_within(b, s.trace.last_arrival_ns))),
                num(r.costs.pay_per_use.as_ref().map(|c| c.billed)),
                num(r.costs.provisioned.as_ref().map(|c| c.billed)),
                num(r.costs.cpu_time.as_ref().map(|c| c.billed)),
                num(r.waiting.pay_per_use),
                num(r.waiting.provisioned),
                Cell::text(&s.pricing.currency),
                Cell::text(&r.memory_source.kind),
            ]);
        }
        let e = s.env.as_ref();
        env.rows.push(vec![
            Cell::text(p.dir.display().to_string()),
            Cell::text(kind(s.kind)),
            Cell::text(&s.backend.name),
            Cell::text(&s.trace.source),
            Cell::text(s.seed.to_string()),
            Cell::Num(Some(s.time_scale)),
            Cell::text(&s.pricing.note),
            Cell::text(
                e.map(|e| format!("{}, {} cores, Linux {}", e.cpu_model, e.cores, e.kernel))
                    .unwrap_or_default(),
            ),
            Cell::text(e.map(|e| e.time.clone()).unwrap_or_default()),
        ]);
    }
    let mut val = Table {
        id: "validation".to_string(),
        title: "Simulated versus replayed".to_string(),
        note: "relative = (simulated − replayed) / replayed. The simulation's calibration is in \
               the validation.json."
            .to_string(),
        columns: cols(&[
            "backend", "policy", "figure", "replay", "simulate", "absolute", "relative",
        ]),
        rows: Vec::new(),
    };
    let mut harness = Table {
        id: "replay_harness".to_string(),
        title: "Replay: the harness's share".to_string(),
        note: "Replay hands every start and invoke to a worker thread. A replayed start-up is \
               start hand-off + backend start, an execution invoke hand-off + backend invoke \
               (+ the trace's hold); the hand-offs are the harness's cost. Backend times are \
               taken on the worker. Report lag (worker done to main thread) does not shift \
               event times. Wall-clock ns."
            .to_string(),
        columns: cols(&[
            "source", "backend", "policy", "part", "n", "p50_ns", "p99_ns", "max_ns",
        ]),
        rows: Vec::new(),
    };
    let mut harness_rows = |source: &str, r: &PlatformRun| {
        let Some(h) = &r.harness else { return };
        for (part, s) in h.parts() {
            let ns = |v: Option<u64>| Cell::Ns(v.map(|v| v as f64));
            harness.rows.push(vec![
                Cell::text(source),
                Cell::text(&r.backend),
                Cell::text(&r.policy),
                Cell::text(part),
                Cell::Count(Some(s.count as f64)),
                ns(s.p50),
                ns(s.p99),
                ns(s.max),
            ]);
        }
    };
    for p in &d.platforms {
        for r in &p.summary.runs {
            harness_rows("replay", r);
        }
    }
    for v in &d.validations {
        harness_rows("validate", &v.replay);
    }
    for v in &d.validations {
        for x in &v.differences {
            val.rows.push(vec![
                Cell::text(&v.backend),
                Cell::text(&v.policy),
                Cell::text(&x.name),
                Cell::Num(x.replay),
                Cell::Num(x.simulate),
                Cell::Num(x.absolute),
                Cell::Num(x.relative),
            ]);
        }
    }
    vec![runs, val, harness, env]
}
