//! Charts: each one a function from data to an SVG string (plotters' SVG backend, no fonts
//! needed: text is written as SVG `<text>` and laid out by the browser).
//!
//! After criterion's `plot/plotters_backend`, one function per chart, but every function
//! returns a [`ReportError`] instead of panicking, and data with nothing to draw gives a
//! "no data" panel naming what is missing (see [`no_data`]).
//!
//! Every axis states its unit. Latencies use log axes because the backends span five orders of
//! magnitude (microseconds for Wasm, hundreds of milliseconds for containers).
//!
//! One file per chart group, each chart drawn with the shared style (`crate::style`: font,
//! render function, mesh and legend helpers): [`latency`] (cold-start CDF, phases, warm
//! ranges), [`memory`] (memory per unit, density), [`floors`] (mechanism floors, the
//! spectrum), [`frontier`] (keep-alive frontier, burstiness sweep), [`platform`] (timeline,
//! validation) and [`scale`] (scale-out). This module holds what they share: colours,
//! category axes, percentiles and the "no data" panel.

pub mod floors;
pub mod frontier;
pub mod latency;
pub mod memory;
pub mod platform;
pub mod scale;

pub use floors::{mechanism_floors, spectrum, FloorBar};
pub use frontier::{burstiness_chart, frontier_chart};
pub use latency::{cold_start_cdf, cold_start_phases, warm_latency, LatencySeries, PhaseBar};
pub use memory::{density, memory_per_unit, DensityData, DensityLine, MemoryBar};
pub use platform::{timeline, validation};
pub use scale::{scale_out, ScaleLine};

use plotters::prelude::*;
use plotters::style::full_palette::{
    AMBER_800, BLUE_700, BROWN_500, CYAN_700, GREEN_700, GREY_600, INDIGO_400, LIME_800,
    ORANGE_700, PINK_500, PURPLE_500, RED_700, TEAL_600,
};
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::ReportError;

pub use crate::style::WIDTH;
use crate::style::{render, FONT};

/// A colour per backend, the same in every chart: chosen by the label's first word, with the
/// container's variants (node runtime, gVisor, crun) apart from the plain runner container, so
/// that two models never share a colour in one chart.
pub fn backend_color(label: &str) -> RGBColor {
    let name = label.split([' ', '(']).next().unwrap_or(label);
    match name {
        "container" if label.contains("node") => TEAL_600,
        "container" if label.contains("runsc") => INDIGO_400,
        "container" if label.contains("crun") => CYAN_700,
        "container" => BLUE_700,
        "oci" if label.contains("runsc") => PINK_500,
        "oci" if label.contains("runc") && !label.contains("crun") => RED_700,
        "oci" => AMBER_800,
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

pub(crate) fn sorted_nonzero(v: &[u64]) -> Vec<u64> {
    let mut s: Vec<u64> = v.iter().copied().filter(|&x| x > 0).collect();
    s.sort_unstable();
    s
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
