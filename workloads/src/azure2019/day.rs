//! One day of the invocations files held in memory ([`Day`]: its non-zero cells, packed and
//! sorted), and the parsers that read a file into one ([`read_day`]) or only its names.

use std::path::Path;

use super::fast_csv::{lossy, parse_count, FastCsv};
use crate::rows::Names;
use crate::trace::FunctionId;
use crate::TraceError;

/// One day held in memory: its non-zero cells, packed and sorted by (minute, function).
#[derive(Debug, Clone, Default)]
pub struct Day {
    /// Minutes in the file (1440 for a published day).
    pub minutes: u32,
    /// `cells[minute_start[m]..minute_start[m+1]]` are minute `m`'s cells.
    pub minute_start: Vec<u32>,
    /// Non-zero cells packed as `minute << 53 | function << 27 | count` (see [`Day::cell`]).
    pub cells: Vec<u64>,
    /// Total invocations in the day.
    pub invocations: u64,
}

const CELL_FN_BITS: u32 = 26;
const CELL_COUNT_BITS: u32 = 27;
const CELL_COUNT_MAX: u64 = (1 << CELL_COUNT_BITS) - 1;

impl Day {
    /// Unpacks a cell into (function, count).
    #[inline]
    pub fn cell(packed: u64) -> (FunctionId, u32) {
        (
            ((packed >> CELL_COUNT_BITS) & ((1 << CELL_FN_BITS) - 1)) as FunctionId,
            (packed & CELL_COUNT_MAX) as u32,
        )
    }

    /// Minute `m`'s (function, count) cells, by function id.
    pub fn minute(&self, m: usize) -> impl Iterator<Item = (FunctionId, u32)> + '_ {
        self.cells[self.minute_start[m] as usize..self.minute_start[m + 1] as usize]
            .iter()
            .map(|&c| Day::cell(c))
    }

    /// Invocations in the busiest minute.
    pub fn busiest_minute(&self) -> u64 {
        (0..self.minutes as usize)
            .map(|m| self.minute(m).map(|(_, c)| c as u64).sum::<u64>())
            .max()
            .unwrap_or(0)
    }
}

pub(super) fn triple(rec: &FastCsv, buf: &mut String) {
    buf.clear();
    for i in 0..3 {
        if i > 0 {
            buf.push('/');
        }
        buf.push_str(&String::from_utf8_lossy(rec.field(i)));
    }
}

/// Reads the names (and triggers) of an invocations file without its counts.
pub(super) fn prescan_names(
    path: &Path,
    names: &mut Names,
    triggers: &mut Vec<String>,
) -> Result<u32, TraceError> {
    let mut r = FastCsv::open(path)?;
    let (fields, minutes) = r.invocations_header()?;
    let mut key = String::new();
    while r.next_record()? {
        if r.len() < 4 {
            return Err(TraceError::parse(
                &r.name,
                r.line,
                r.len() as u64 + 1,
                format!("expected {fields} fields, found {}", r.len()),
            ));
        }
        triple(&r, &mut key);
        let id = names.id_or_insert(&key);
        if id as usize == triggers.len() {
            triggers.push(lossy(r.field(3)));
        }
    }
    Ok(minutes)
}

/// Parses one invocations file into a [`Day`]. With `grow`, new functions are added to
/// `names`; without, every function must already be there (pre-scanned).
pub fn read_day(
    path: &Path,
    names: &mut Names,
    triggers: &mut Vec<String>,
    grow: bool,
) -> Result<Day, TraceError> {
    let mut r = FastCsv::open(path)?;
    let (fields, minutes) = r.invocations_header()?;
    let name = r.name.clone();
    let mut cells: Vec<u64> = Vec::new();
    let mut key = String::new();
    let mut total = 0u64;
    // Invocations per minute so far: a minute is expanded into one buffer (see the limits).
    let mut per_minute = vec![0u64; minutes as usize];
    while r.next_record()? {
        let line = r.line;
        if r.len() != fields {
            return Err(TraceError::parse(
                &name,
                line,
                r.len().min(fields) as u64 + 1,
                format!(
                    "expected {fields} fields (4 ids and {minutes} minute counts), found {}",
                    r.len()
                ),
            ));
        }
        triple(&r, &mut key);
        let f = if grow {
            let id = names.id_or_insert(&key);
            if id as usize == triggers.len() {
                triggers.push(lossy(r.field(3)));
            }
            id
        } else {
            names.get(&key).ok_or_else(|| {
                TraceError::format(&name, format!("line {line}: function `{key}` was not seen in the pre-scan: the file changed while it was read"))
            })?
        };
        if f as u64 >= 1 << CELL_FN_BITS {
            return Err(TraceError::format(
                &name,
                format!("line {line}: more than 2^{CELL_FN_BITS} functions are not supported"),
            ));
        }
        for (m, in_minute) in per_minute.iter_mut().enumerate() {
            let cell = r.field(4 + m);
            let c = parse_count(cell).ok_or_else(|| {
                TraceError::parse(
                    &name,
                    line,
                    m as u64 + 5,
                    format!(
                        "minute {} = `{}` is not a count: expected an integer >= 0",
                        m + 1,
                        lossy(cell)
                    ),
                )
            })?;
            if c == 0 {
                continue;
            }
            let (cap, whole) = (
                crate::limits::MAX_COUNT_PER_MINUTE,
                crate::limits::MAX_INVOCATIONS_PER_MINUTE,
            );
            if c as u64 > cap {
                return Err(TraceError::parse(
                    &name,
                    line,
                    m as u64 + 5,
                    format!(
                        "minute {} = `{c}` is more than {cap} invocations of one function in one minute (a corrupt cell?)",
                        m + 1
                    ),
                ));
            }
            *in_minute += c as u64;
            if *in_minute > whole {
                return Err(TraceError::parse(
                    &name,
                    line,
                    m as u64 + 5,
                    format!(
                        "minute {} reaches {} invocations across functions at this row: more than {whole} in one minute, whose expansion would need {} GiB (16 bytes each); split the functions over several files",
                        m + 1,
                        *in_minute,
                        (*in_minute * 16) >> 30
                    ),
                ));
            }
            let mut left = c as u64;
            total += left;
            // Counts above 2^27 - 1 (134 million in one minute for one function) are split
            // into several cells of the same minute and function.
            while left > 0 {
                let part = left.min(CELL_COUNT_MAX);
                cells.push(
                    ((m as u64) << (CELL_FN_BITS + CELL_COUNT_BITS))
                        | ((f as u64) << CELL_COUNT_BITS)
                        | part,
                );
                left -= part;
            }
        }
    }
    // In place: (minute, function) order. Then the minute index.
    cells.sort_unstable();
    cells.shrink_to_fit();
    let mut minute_start = vec![0u32; minutes as usize + 1];
    for &c in &cells {
        minute_start[(c >> (CELL_FN_BITS + CELL_COUNT_BITS)) as usize + 1] += 1;
    }
    for m in 0..minutes as usize {
        minute_start[m + 1] += minute_start[m];
    }
    Ok(Day {
        minutes,
        minute_start,
        cells,
        invocations: total,
    })
}
