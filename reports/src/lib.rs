//! Reports: charts (plotters, SVG) and a self-contained HTML report from unitlab results.
