//! Opens a generated report in headless Chromium (Debian's `chromium`, installed by
//! `scripts/setup-chromium.sh`): takes a screenshot, and checks in the rendered page that every
//! chart is present, drawn and has a non-zero size.
//!
//! The report itself has no script. To measure the rendered charts, the test writes a copy of
//! `index.html` with a small script appended that records, for every `figure.chart`, the SVG's
//! rendered width and height and its number of elements into a `<pre>`, and reads it back with
//! `--dump-dom`.
//!
//! Without Chromium this test fails (it does not skip), naming the set-up script.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use unitlab_reports::html::CHART_IDS;
use unitlab_reports::{fixture, ReportOptions};

const TIMEOUT: Duration = Duration::from_secs(60);

fn chromium() -> PathBuf {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return fixed.to_path_buf();
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("chromium");
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "chromium not found (looked for /usr/bin/chromium and chromium on PATH): run \
         scripts/setup-chromium.sh, which installs Debian's chromium package"
    );
}

/// Runs headless Chromium with `args` and a fresh profile; returns stdout. Kills it after
/// [`TIMEOUT`].
fn run_chromium(profile: &Path, args: &[String]) -> String {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(chromium())
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
        .stdout(out.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium did not start: run scripts/setup-chromium.sh");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium {args:?} exited with {status}");
            break;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish in {TIMEOUT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(out.path()).unwrap()
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

#[test]
fn report_opens_in_headless_chromium_with_every_chart_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    // The whole pipeline: result directories as the harness writes them -> load -> report.
    let results = tmp.path().join("results");
    fixture::write_all(&results, 11).unwrap();
    let data = unitlab_reports::load(&[&results]).unwrap();
    let report = tmp.path().join("report");
    let files = unitlab_reports::render_report(&data, &report, &ReportOptions::default()).unwrap();

    // 1. Screenshot.
    let png = tmp.path().join("shot.png");
    run_chromium(
        &tmp.path().join("profile-shot"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,4000".to_string(),
            format!("file://{}", files.index.display()),
        ],
    );
    let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 4000));
    // A blank or single-colour page of this size compresses to a few KiB; charts and tables do
    // not.
    assert!(
        bytes.len() > 100 * 1024,
        "screenshot is only {} bytes: the page looks empty",
        bytes.len()
    );
    if let Some(keep) = std::env::var_os("UNITLAB_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }

    // 2. Every chart present, drawn, and with a rendered size.
    let html = std::fs::read_to_string(&files.index).unwrap();
    let probe = report.join("probe.html");
    std::fs::write(&probe, html.replacen("</body>", PROBE, 1)).unwrap();
    let dom = run_chromium(
        &tmp.path().join("profile-dom"),
        &[
            "--window-size=1280,4000".to_string(),
            "--dump-dom".to_string(),
            format!("file://{}", probe.display()),
        ],
    );
    let start = dom
        .find("<pre id=\"layout-probe\">")
        .expect("the probe did not run");
    let text = &dom[start + "<pre id=\"layout-probe\">".len()..];
    let text = &text[..text.find("</pre>").unwrap()];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), CHART_IDS.len(), "charts in the page:\n{text}");
    for id in CHART_IDS {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("chart-{id} ")))
            .unwrap_or_else(|| panic!("chart {id} missing from the rendered page:\n{text}"));
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[1], "drawn", "chart {id} is a no-data panel: {line}");
        let (w, h, marks): (u32, u32, u32) = (
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
        );
        assert!(w >= 400 && h >= 150, "chart {id} rendered at {w}x{h}");
        assert!(marks > 5, "chart {id} has only {marks} drawn elements");
    }
}
