//! Scale-out chart: cold start against concurrent starts.

use plotters::prelude::*;

use super::{backend_color, no_data};
use crate::format;
use crate::style::{render_with_legend, LegendEntry, MeshExt, Swatch, FONT, WIDTH};
use crate::ReportError;

/// One backend's line: (N, ns until all N answered), N ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleLine {
    /// Backend (and function when not noop).
    pub label: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

/// Time until all N answered against N, log-log, one line per backend.
pub fn scale_out(lines: &[ScaleLine]) -> Result<String, ReportError> {
    let title = "Scale-out: time until all N cold starts answered";
    if lines.is_empty() {
        return no_data(title, "no `unitlab burst` result among the inputs");
    }
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let xmax = all().map(|p| p.0).fold(1.0, f64::max) * 2.0;
    let ymin = all().map(|p| p.1).fold(f64::INFINITY, f64::min).max(1.0) / 2.0;
    let ymax = all().map(|p| p.1).fold(1.0, f64::max) * 2.0;
    let legend: Vec<LegendEntry> = lines
        .iter()
        .map(|l| LegendEntry::new(l.label.clone(), backend_color(&l.label), Swatch::Line))
        .collect();
    render_with_legend("scale_out", (WIDTH, 440), &legend, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .build_cartesian_2d((0.7f64..xmax).log_scale(), (ymin..ymax).log_scale())?;
        c.configure_mesh()
            .x_desc("N: cold starts released at once (log scale)")
            .y_desc("release to the last answer (log scale)")
            .x_label_formatter(&|v| format::count(*v))
            .y_label_formatter(&|v| format::ns(*v))
            .shared_style(12)
            .draw()?;
        for l in lines {
            let color = backend_color(&l.label);
            c.draw_series(LineSeries::new(l.points.clone(), color.stroke_width(2)))?;
            c.draw_series(l.points.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        }
        Ok(())
    })
}
