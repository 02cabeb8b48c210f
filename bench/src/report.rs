//! The results: one row per measurement, printed as a table and written as JSON.

use max_host::format::thousands;
use serde::Serialize;

/// One measured quantity.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scenario group (`end-to-end`, `limit`, …).
    pub scenario: String,
    /// What was measured.
    pub name: String,
    /// How much data.
    pub size: Option<u64>,
    /// Seconds.
    pub seconds: Option<f64>,
    /// Entities (or rows) per second.
    pub per_second: Option<f64>,
    /// HTTP requests per second.
    pub requests_per_second: Option<f64>,
    /// Peak RSS in MiB.
    pub peak_rss_mib: Option<f64>,
    /// A ratio or target check, as text.
    pub note: String,
}

impl Row {
    /// A row of `size` items processed in `seconds`, with their rate.
    pub fn throughput(scenario: &str, name: &str, size: u64, seconds: f64, note: impl Into<String>) -> Self {
        Row { size: Some(size), per_second: Some(size as f64 / seconds), ..Row::timed(scenario, name, seconds, note) }
    }

    /// A row with only a time.
    pub fn timed(scenario: &str, name: &str, seconds: f64, note: impl Into<String>) -> Self {
        Row {
            scenario: scenario.into(),
            name: name.into(),
            size: None,
            seconds: Some(seconds),
            per_second: None,
            requests_per_second: None,
            peak_rss_mib: None,
            note: note.into(),
        }
    }
}

fn duration(seconds: f64) -> String {
    if seconds < 0.001 {
        format!("{:.0} µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}

/// The rows as an aligned table.
pub fn table(rows: &[Row]) -> String {
    let header = ["SCENARIO", "MEASURE", "SIZE", "TIME", "RATE/S", "REQ/S", "PEAK RSS", "RATIO / TARGET"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.scenario.clone(),
                r.name.clone(),
                r.size.map(thousands).unwrap_or_default(),
                r.seconds.map(duration).unwrap_or_default(),
                r.per_second.map(|v| thousands(v as u64)).unwrap_or_default(),
                r.requests_per_second.map(|v| thousands(v as u64)).unwrap_or_default(),
                r.peak_rss_mib.map(|v| format!("{v:.0} MiB")).unwrap_or_default(),
                r.note.clone(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(cells.into_iter().map(line));
    out.join("\n")
}
