//! Checks a rendered report in headless Chromium (Debian's `chromium`, installed by
//! `scripts/setup-chromium.sh`): a screenshot, and every chart's rendered size and drawn
//! elements. Used by this crate's browser test and by the harness's end-to-end test of
//! `unitlab run`.
//!
//! The report has no script. To measure the rendered charts, [`check_report`] writes a copy
//! of `index.html` beside it (`browser-probe.html`) with a small script appended that records,
//! for every `figure.chart`, the SVG's rendered width and height and its number of drawing
//! elements into a `<pre>`, and reads it back with `--dump-dom`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ReportError;

/// Longest a Chromium run may take before it is killed.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Finds Chromium: `/usr/bin/chromium`, else `chromium` on `PATH`.
pub fn chromium() -> Result<PathBuf, ReportError> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Ok(fixed.to_path_buf());
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("chromium");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(ReportError::Browser {
        message: "chromium not found (looked for /usr/bin/chromium and chromium on PATH)"
            .to_string(),
    })
}

/// Runs headless Chromium with `args` and a fresh profile under `profile`; returns stdout.
/// Kills it after [`TIMEOUT`].
pub fn run_chromium(profile: &Path, args: &[String]) -> Result<String, ReportError> {
    let browser = chromium()?;
    let out_path = profile.with_extension("stdout");
    let out = std::fs::File::create(&out_path).map_err(|source| ReportError::Io {
        path: out_path.clone(),
        source,
    })?;
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| ReportError::Browser {
            message: format!("{} did not start: {e}", browser.display()),
        })?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(status)) => {
                return Err(ReportError::Browser {
                    message: format!("chromium {args:?} exited with {status}"),
                })
            }
            Ok(None) => {}
            Err(e) => {
                return Err(ReportError::Browser {
                    message: format!("waiting for chromium: {e}"),
                })
            }
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ReportError::Browser {
                message: format!("chromium {args:?} did not finish in {TIMEOUT:?}: killed"),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(&out_path).map_err(|source| ReportError::Io {
        path: out_path,
        source,
    })
}

/// One chart as Chromium rendered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedChart {
    /// Chart id (without the `chart-` prefix).
    pub id: String,
    /// False for a "no data" panel.
    pub drawn: bool,
    /// Rendered width, CSS pixels.
    pub width: u32,
    /// Rendered height, CSS pixels.
    pub height: u32,
    /// Drawing elements (polyline, rect, circle, path, polygon, line) in its SVG.
    pub marks: u32,
}

/// What [`check_report`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserCheck {
    /// The screenshot.
    pub screenshot: PathBuf,
    /// Its size in bytes (a blank 1280x4000 page compresses to about 10 KiB).
    pub screenshot_bytes: u64,
    /// Its width and height from the PNG header.
    pub screenshot_size: (u32, u32),
    /// Every `figure.chart` of the page, in page order.
    pub charts: Vec<RenderedChart>,
}

const PROBE: &str = r#"<pre id="layout-probe"></pre>
<script>
  var out = [];
  document.querySelectorAll('figure.chart').forEach(function (f) {
    var svg = f.querySelector('svg');
    if (!svg) { out.push(f.id + ' nosvg 0 0 0'); return; }
    var r = svg.getBoundingClientRect();
    var marks = svg.querySelectorAll('polyline,rect,circle,path,polygon,line').length;
    var empty = svg.classList.contains('no-data') ? 'empty' : 'drawn';
    out.push(f.id + ' ' + empty + ' ' + Math.round(r.width) + ' ' + Math.round(r.height) + ' ' + marks);
  });
  document.getElementById('layout-probe').textContent = out.join('\n');
</script>
</body>"#;

/// Opens `index` in headless Chromium at 1280x4000: writes `work/shot.png` and measures every
/// chart. `work` must exist; Chromium profiles are created in it.
pub fn check_report(index: &Path, work: &Path) -> Result<BrowserCheck, ReportError> {
    let png = work.join("shot.png");
    let index = index.canonicalize().map_err(|source| ReportError::Io {
        path: index.to_path_buf(),
        source,
    })?;
    run_chromium(
        &work.join("profile-shot"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,4000".to_string(),
            format!("file://{}", index.display()),
        ],
    )?;
    let bytes = std::fs::read(&png).map_err(|source| ReportError::Io {
        path: png.clone(),
        source,
    })?;
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" {
        return Err(ReportError::Browser {
            message: format!("{} is not a PNG", png.display()),
        });
    }
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let screenshot_size = (be(16), be(20));

    let html = std::fs::read_to_string(&index).map_err(|source| ReportError::Io {
        path: index.clone(),
        source,
    })?;
    let probe = index.with_file_name("browser-probe.html");
    std::fs::write(&probe, html.replacen("</body>", PROBE, 1)).map_err(|source| {
        ReportError::Io {
            path: probe.clone(),
            source,
        }
    })?;
    let dom = run_chromium(
        &work.join("profile-dom"),
        &[
            "--window-size=1280,4000".to_string(),
            "--dump-dom".to_string(),
            format!("file://{}", probe.display()),
        ],
    );
    let _ = std::fs::remove_file(&probe);
    let dom = dom?;
    let tag = "<pre id=\"layout-probe\">";
    let text = dom
        .find(tag)
        .map(|i| &dom[i + tag.len()..])
        .and_then(|t| t.find("</pre>").map(|j| &t[..j]))
        .ok_or_else(|| ReportError::Browser {
            message: "the layout probe did not run in the page".to_string(),
        })?;
    let mut charts = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
        charts.push(RenderedChart {
            id: f
                .first()
                .map(|s| s.trim_start_matches("chart-").to_string())
                .unwrap_or_default(),
            drawn: f.get(1) == Some(&"drawn"),
            width: num(2),
            height: num(3),
            marks: num(4),
        });
    }
    Ok(BrowserCheck {
        screenshot: png,
        screenshot_bytes: bytes.len() as u64,
        screenshot_size,
        charts,
    })
}

/// Widest window the layout check uses, CSS pixels (and the first-screen screenshot's size).
pub const SCREEN: (u32, u32) = (1400, 900);

/// Longest page allowed with every `<details>` closed: 12 screens of [`SCREEN`].
pub const MAX_PAGE_HEIGHT: u32 = 12 * SCREEN.1;

/// What [`check_layout`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutCheck {
    /// The first screen (1400x900, details closed): `first-screen.png` beside the page.
    pub first_screen: PathBuf,
    /// Document height with every `<details>` closed, CSS pixels.
    pub height_closed: u32,
    /// Document height with every `<details>` open.
    pub height_open: u32,
    /// Legend boxes (`g.legend`) that intersect a data mark: "chart: what".
    pub legend_overlaps: Vec<String>,
    /// SVG texts whose box is not inside their SVG: "chart: text".
    pub clipped_texts: Vec<String>,
    /// Charts checked (every `figure.chart`, details opened).
    pub charts: u32,
}

const LAYOUT_PROBE: &str = r#"<pre id="layout-probe"></pre>
<script>
  var out = [];
  out.push('closed ' + Math.round(document.documentElement.scrollHeight));
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  out.push('open ' + Math.round(document.documentElement.scrollHeight));
  var n = 0;
  function inter(a, b) {
    return Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
           Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  }
  document.querySelectorAll('figure.chart').forEach(function (f) {
    var svg = f.querySelector('svg');
    if (!svg) return;
    n++;
    var id = f.id.replace(/^chart-/, '');
    var s = svg.getBoundingClientRect();
    var area = s.width * s.height;
    svg.querySelectorAll('text').forEach(function (t) {
      if (!t.textContent.trim()) return;
      var r = t.getBoundingClientRect();
      if (r.left < s.left - 1 || r.right > s.right + 1 || r.top < s.top - 1 || r.bottom > s.bottom + 1) {
        out.push('clip ' + id + ': ' + t.textContent.trim().slice(0, 60));
      }
    });
    svg.querySelectorAll('g.legend').forEach(function (g) {
      var L = g.getBoundingClientRect();
      svg.querySelectorAll('polyline,path,circle,polygon,line,rect').forEach(function (m) {
        if (g.contains(m)) return;
        var r = m.getBoundingClientRect();
        if (m.tagName.toLowerCase() === 'rect' && r.width * r.height > 0.5 * area) return;
        if (inter(L, r)) {
          out.push('legend ' + id + ': covers a ' + m.tagName + ' at ' + Math.round(r.left - s.left) + ',' + Math.round(r.top - s.top));
        }
      });
    });
  });
  out.push('charts ' + n);
  document.getElementById('layout-probe').textContent = out.join('\n');
</script>
</body>"#;

/// Opens `index` in headless Chromium at 1400x900: writes the first screen as
/// `first-screen.png` beside `index`, measures the page with every `<details>` closed and
/// open, and, with them open, checks every chart: no legend box (`g.legend`) intersects a
/// mark outside it, and every `<text>` lies inside its SVG. `work` holds Chromium profiles.
pub fn check_layout(index: &Path, work: &Path) -> Result<LayoutCheck, ReportError> {
    let index = index.canonicalize().map_err(|source| ReportError::Io {
        path: index.to_path_buf(),
        source,
    })?;
    let size = format!("--window-size={},{}", SCREEN.0, SCREEN.1);
    let png = index.with_file_name("first-screen.png");
    run_chromium(
        &work.join("profile-first-screen"),
        &[
            format!("--screenshot={}", png.display()),
            size.clone(),
            format!("file://{}", index.display()),
        ],
    )?;
    let html = std::fs::read_to_string(&index).map_err(|source| ReportError::Io {
        path: index.clone(),
        source,
    })?;
    let probe = index.with_file_name("layout-probe.html");
    std::fs::write(&probe, html.replacen("</body>", LAYOUT_PROBE, 1)).map_err(|source| {
        ReportError::Io {
            path: probe.clone(),
            source,
        }
    })?;
    let dom = run_chromium(
        &work.join("profile-layout"),
        &[
            size,
            "--dump-dom".to_string(),
            format!("file://{}", probe.display()),
        ],
    );
    let _ = std::fs::remove_file(&probe);
    let dom = dom?;
    let tag = "<pre id=\"layout-probe\">";
    let text = dom
        .find(tag)
        .map(|i| &dom[i + tag.len()..])
        .and_then(|t| t.find("</pre>").map(|j| &t[..j]))
        .ok_or_else(|| ReportError::Browser {
            message: "the layout probe did not run in the page".to_string(),
        })?;
    let mut c = LayoutCheck {
        first_screen: png,
        height_closed: 0,
        height_open: 0,
        legend_overlaps: Vec::new(),
        clipped_texts: Vec::new(),
        charts: 0,
    };
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
    };
    for line in text.lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        match k {
            "closed" => c.height_closed = v.trim().parse().unwrap_or(0),
            "open" => c.height_open = v.trim().parse().unwrap_or(0),
            "charts" => c.charts = v.trim().parse().unwrap_or(0),
            "clip" => c.clipped_texts.push(unescape(v)),
            "legend" => c.legend_overlaps.push(unescape(v)),
            _ => {}
        }
    }
    Ok(c)
}
