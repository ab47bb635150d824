//! The charts' common style: the font, the size, the render function (plotters' SVG backend to
//! a string, errors as [`ReportError`]), the mesh style ([`MeshExt`]) and the legend, drawn
//! outside the plot area.
//!
//! A legend never covers data: [`render_with_legend`] keeps a column on the right of the
//! chart for it and writes it as `<g class="legend">` after the plot, so that the report's
//! layout test can find it and check that no data mark lies under it.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::format;
use crate::ReportError;

/// Default chart width, pixels.
pub const WIDTH: u32 = 960;
/// The font family of every chart text.
pub const FONT: &str = "sans-serif";

/// A chart's drawing area.
pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// What a drawing function returns.
pub type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The mesh style every chart shares: the light grid ([`GRID`]), tick labels at `px` and axis
/// titles one pixel larger, in [`FONT`].
pub trait MeshExt {
    /// Applies the shared mesh style.
    fn shared_style(&mut self, px: u32) -> &mut Self;
}

impl<'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend> MeshExt
    for plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
{
    fn shared_style(&mut self, px: u32) -> &mut Self {
        self.light_line_style(GRID)
            .label_style((FONT, px))
            .axis_desc_style((FONT, px + 1))
    }
}

/// Renders `draw` into an SVG string of `size`, on white.
pub fn render(
    chart: &'static str,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<String, ReportError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        let r = root
            .fill(&WHITE)
            .and_then(|_| draw(&root))
            .and_then(|_| root.present());
        r.map_err(|e| ReportError::Chart {
            chart,
            message: e.to_string(),
        })?;
    }
    Ok(buf)
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swatch {
    /// A short line (a curve).
    Line,
    /// A filled square (a bar or an area).
    Box,
    /// A dot (a point series).
    Dot,
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// The text.
    pub label: String,
    /// The series' colour.
    pub color: RGBColor,
    /// How it is drawn.
    pub swatch: Swatch,
}

impl LegendEntry {
    /// An entry.
    pub fn new(label: impl Into<String>, color: RGBColor, swatch: Swatch) -> Self {
        LegendEntry {
            label: label.into(),
            color,
            swatch,
        }
    }
}

const LEGEND_FONT_PX: u32 = 12;
/// Layout estimate of a character's mean width, per cent of the font size: generous, since
/// labels such as `runtime_path=` in the browser's default sans-serif run wider than prose.
const EM_PER_CHAR_PCT: u32 = 72;
const LEGEND_ROW_PX: u32 = 18;
const LEGEND_TOP_PX: u32 = 48;

/// Width a legend column needs: the longest label at [`EM_PER_CHAR_PCT`], plus the swatch.
pub fn legend_width(entries: &[LegendEntry]) -> u32 {
    if entries.is_empty() {
        return 0;
    }
    let chars = entries
        .iter()
        .map(|e| e.label.chars().count())
        .max()
        .unwrap_or(0) as u32;
    (chars * LEGEND_FONT_PX * EM_PER_CHAR_PCT / 100 + 44).clamp(90, 420)
}

/// Width `text` takes at `px` pixels (an estimate for layout, [`EM_PER_CHAR_PCT`]).
pub fn text_width(text: &str, px: u32) -> u32 {
    text.chars().count() as u32 * px * EM_PER_CHAR_PCT / 100
}

/// `text` shortened with "…" to fit `width` pixels at `px` (the table has it in full).
pub fn shorten(text: &str, width: u32, px: u32) -> String {
    let max_chars = (width * 100 / (px * EM_PER_CHAR_PCT)).max(2) as usize;
    if text.chars().count() > max_chars {
        text.chars().take(max_chars - 1).collect::<String>() + "…"
    } else {
        text.to_string()
    }
}

/// The legend as SVG: a column of entries starting at (`x`, `y`).
pub fn legend_svg(entries: &[LegendEntry], x: u32, y: u32) -> String {
    let mut s = String::from("<g class=\"legend\">\n");
    for (i, e) in entries.iter().enumerate() {
        let cy = y + i as u32 * LEGEND_ROW_PX;
        let RGBColor(r, g, b) = e.color;
        let color = format!("#{r:02x}{g:02x}{b:02x}");
        match e.swatch {
            Swatch::Line => s.push_str(&format!(
                "<line x1=\"{x}\" y1=\"{cy}\" x2=\"{}\" y2=\"{cy}\" stroke=\"{color}\" stroke-width=\"3\"/>\n",
                x + 20
            )),
            Swatch::Box => s.push_str(&format!(
                "<rect x=\"{x}\" y=\"{}\" width=\"14\" height=\"12\" fill=\"{color}\"/>\n",
                cy - 6
            )),
            Swatch::Dot => s.push_str(&format!(
                "<circle cx=\"{}\" cy=\"{cy}\" r=\"5\" fill=\"{color}\"/>\n",
                x + 8
            )),
        }
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{cy}\" dy=\"0.35em\" font-family=\"{FONT}\" font-size=\"{LEGEND_FONT_PX}\" fill=\"#202124\">{}</text>\n",
            x + 26,
            format::html(&e.label)
        ));
    }
    s.push_str("</g>\n");
    s
}

/// Renders `draw` into the left part of an SVG of `size` (taller when the legend needs it)
/// and the legend into a column on the right (outside every plot area). Returns the SVG.
pub fn render_with_legend(
    chart: &'static str,
    size: (u32, u32),
    entries: &[LegendEntry],
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<String, ReportError> {
    let lw = legend_width(entries);
    // A legend taller than the chart makes the chart taller: no entry falls off the bottom.
    let size = (
        size.0,
        size.1
            .max(LEGEND_TOP_PX + entries.len() as u32 * LEGEND_ROW_PX + 12),
    );
    let svg = render(chart, size, |root| {
        let (plot, _) = root.split_horizontally(size.0 - lw);
        draw(&plot)
    })?;
    if entries.is_empty() {
        return Ok(svg);
    }
    // A label longer than the widest column is shortened (the table has it in full).
    let fitted: Vec<LegendEntry> = entries
        .iter()
        .map(|e| LegendEntry {
            label: shorten(&e.label, lw - 44, LEGEND_FONT_PX),
            ..e.clone()
        })
        .collect();
    let legend = legend_svg(&fitted, size.0 - lw + 8, LEGEND_TOP_PX);
    Ok(match svg.rfind("</svg>") {
        Some(i) => format!("{}{legend}{}", &svg[..i], &svg[i..]),
        None => svg,
    })
}

/// A log range covering `lo..hi` with some margin, never empty.
pub fn log_bounds(lo: f64, hi: f64) -> (f64, f64) {
    let lo = lo.max(1e-9);
    let hi = hi.max(lo);
    let (lo, hi) = (lo / 1.6, hi * 1.6);
    if hi / lo < 10.0 {
        let mid = (lo * hi).sqrt();
        (mid / 3.2, mid * 3.2)
    } else {
        (lo, hi)
    }
}

/// The light grid colour of every mesh.
pub const GRID: RGBColor = RGBColor(240, 240, 240);

/// Widest label area a category axis gets, pixels; longer labels are shortened with "…".
pub const MAX_LABEL_AREA: u32 = 300;

/// The labels fitted to at most [`MAX_LABEL_AREA`] at `px`, and the label area they need.
pub fn fit_labels(labels: &[String], px: u32) -> (Vec<String>, u32) {
    let fitted: Vec<String> = labels
        .iter()
        .map(|l| shorten(l, MAX_LABEL_AREA, px))
        .collect();
    let w = fitted.iter().map(|l| text_width(l, px)).max().unwrap_or(0) + 16;
    (fitted, w)
}
