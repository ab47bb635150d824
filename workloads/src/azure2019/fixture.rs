//! The synthetic fixture writer: a day in the published Azure 2019 format, for tests and
//! benches (the real files cannot be shipped).

use super::*;

/// Parameters of a synthetic day written in the Azure 2019 format (for tests and benches:
/// the real files cannot be shipped). Per-function daily counts are log-normal; a function
/// with `D` invocations per day puts each in a uniformly chosen minute when `D <= 2880`, and
/// a Poisson(`D/1440`) count in every minute otherwise.
#[derive(Debug, Clone)]
pub struct SyntheticDay {
    /// Number of functions (rows).
    pub functions: u32,
    /// Functions per app (apps get consecutive functions).
    pub functions_per_app: u32,
    /// Median invocations per function per day.
    pub median_daily: f64,
    /// Standard deviation of ln(daily invocations).
    pub sigma: f64,
    /// Largest daily count of one function (caps the log-normal tail).
    pub max_daily: f64,
    /// Minutes (1440 for a day).
    pub minutes: u32,
    /// Seed.
    pub seed: u64,
}

impl Default for SyntheticDay {
    /// 50,000 functions, 4 per app; daily counts log-normal with median 20 and sigma 2.6,
    /// capped at 2 million (by construction about 53% of functions at most once an hour and 95% at most once a
    /// minute on average; the 2019 paper reports 45% and 81% of apps).
    fn default() -> Self {
        SyntheticDay {
            functions: 50_000,
            functions_per_app: 4,
            median_daily: 20.0,
            sigma: 2.6,
            max_daily: 2e6,
            minutes: 1440,
            seed: 1,
        }
    }
}

fn hex(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    for _ in 0..4 {
        let _ = write!(out, "{:016x}", rng.next_u64());
    }
}

impl SyntheticDay {
    /// Writes `invocations_per_function_md.anon.dNN.csv`, `function_durations_percentiles.anon.dNN.csv`
    /// and `app_memory_percentiles.anon.dNN.csv` into `dir`; returns the invocations path and
    /// the total number of invocations.
    pub fn write(&self, dir: &Path, day: u32) -> Result<(PathBuf, u64), TraceError> {
        let inv_path = dir.join(format!("invocations_per_function_md.anon.d{day:02}.csv"));
        let dur_path = dir.join(format!("function_durations_percentiles.anon.d{day:02}.csv"));
        let mem_path = dir.join(format!("app_memory_percentiles.anon.d{day:02}.csv"));
        let e = |p: &Path| {
            let n = p.display().to_string();
            move |err| TraceError::io(&n, err)
        };
        let mut inv = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&inv_path).map_err(e(&inv_path))?,
        );
        let mut dur =
            std::io::BufWriter::new(std::fs::File::create(&dur_path).map_err(e(&dur_path))?);
        let mut mem =
            std::io::BufWriter::new(std::fs::File::create(&mem_path).map_err(e(&mem_path))?);
        let io = |r: std::io::Result<()>, p: &Path| r.map_err(e(p));
        let mut line = String::from("HashOwner,HashApp,HashFunction,Trigger");
        for m in 1..=self.minutes {
            line.push_str(&format!(",{m}"));
        }
        io(writeln!(inv, "{line}"), &inv_path)?;
        io(writeln!(dur, "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100"), &dur_path)?;
        io(writeln!(mem, "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100"), &mem_path)?;
        let mut rng = Rng::new(self.seed, stream::MIX_SETUP + day as u64);
        let (mut owner, mut app, mut func) = (String::new(), String::new(), String::new());
        let mut counts = vec![0u32; self.minutes as usize];
        let triggers = [
            "http",
            "timer",
            "event",
            "queue",
            "storage",
            "orchestration",
            "others",
        ];
        let mut total = 0u64;
        use std::fmt::Write as _;
        for i in 0..self.functions {
            if i % self.functions_per_app.max(1) == 0 {
                hex(&mut rng, &mut owner);
                hex(&mut rng, &mut app);
                let mb = rng.lognormal(130f64.ln(), 0.6);
                io(writeln!(mem, "{owner},{app},{},{mb:.1},{:.1},{:.1},{:.1},{mb:.1},{:.1},{:.1},{:.1},{:.1}", 100, mb * 0.8, mb * 0.85, mb * 0.9, mb * 1.1, mb * 1.2, mb * 1.3, mb * 1.4), &mem_path)?;
            }
            hex(&mut rng, &mut func);
            let daily = rng
                .lognormal(self.median_daily.ln(), self.sigma)
                .min(self.max_daily)
                .round() as u64;
            counts.iter_mut().for_each(|c| *c = 0);
            let per_min = daily as f64 / self.minutes as f64;
            if daily <= 2 * self.minutes as u64 {
                for _ in 0..daily {
                    counts[rng.below(self.minutes as u64) as usize] += 1;
                }
            } else {
                for c in counts.iter_mut() {
                    *c = rng.poisson(per_min) as u32;
                }
            }
            line.clear();
            let trig = triggers[rng.below(triggers.len() as u64) as usize];
            let _ = write!(line, "{owner},{app},{func},{trig}");
            for &c in &counts {
                total += c as u64;
                let _ = write!(line, ",{c}");
            }
            io(writeln!(inv, "{line}"), &inv_path)?;
            let med = rng.lognormal(300f64.ln(), 1.5);
            let p = [
                med * 0.2,
                med * 0.3,
                med * 0.7,
                med,
                med * 1.5,
                med * 4.0,
                med * 6.0,
            ];
            io(writeln!(dur, "{owner},{app},{func},{:.3},{daily},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}", med * 1.2, p[0], p[6], p[0], p[1], p[2], p[3], p[4], p[5], p[6]), &dur_path)?;
        }
        io(inv.flush(), &inv_path)?;
        io(dur.flush(), &dur_path)?;
        io(mem.flush(), &mem_path)?;
        Ok((inv_path, total))
    }
}
