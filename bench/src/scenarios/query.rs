//! Queries on the largest synced installation through the real `max search`: an indexed filter, a
//! contains filter, a filter through a reference, and every row exported as NDJSON with all columns
//! and with five (streamed: memory stays flat, and a wide row costs no more per byte than a narrow one).

use std::path::Path;

use super::Env;
use super::startup::verdict;
use crate::measure;
use crate::report::Row;

/// Measures searches in `project`, which holds `rows` tasks.
pub fn run(env: &Env, project: &Path, rows: u64) -> anyhow::Result<Vec<Row>> {
    let cases = [
        ("indexed: project = <id>", "project = prj_00000007", Some(0.050)),
        ("contains: title ~= \"sync zoom\"", "title ~= \"sync zoom\"", None),
        ("through a ref: project.name ~= \"Payments 3\"", "project.name ~= \"Payments 3\"", None),
    ];
    let mut out = Vec::new();
    for (name, filter, target) in cases {
        let seconds = measure::median(env.repeats(), || {
            measure::max(
                &env.bin,
                project,
                &["search", "acme", "Task", "--filter", filter, "--limit", "50", "--fields", "id,title"],
            )
        })?
        .as_secs_f64();
        let note = target.map(|t| verdict("target < 50 ms", seconds < t)).unwrap_or_default();
        out.push(Row { size: Some(rows), ..Row::timed("query", &format!("max search {name}"), seconds, note) });
    }
    out.extend(export(env, project)?);
    Ok(out)
}

/// `max search acme Task --all -o ndjson`, with all columns and with five: bytes per second of each, and
/// their ratio (the limit: the narrow export's speed per byte, measured in the same run).
fn export(env: &Env, project: &Path) -> anyhow::Result<Vec<Row>> {
    let mut measured = Vec::new();
    for (name, fields) in [("all columns", "all"), ("five columns", "id,title,status,priority,dueDate")] {
        let file = env.work.join("export.ndjson");
        let args = ["search", "acme", "Task", "--all", "-o", "ndjson", "--fields", fields];
        let run = measure::run_to_file(&mut measure::max(&env.bin, project, &args), &file)?;
        let (bytes, lines) = count_lines(&file)?;
        std::fs::remove_file(&file)?;
        measured.push((name, run.wall.as_secs_f64(), bytes as f64, run.peak_rss, lines));
    }
    let rows = measured[0].4;
    anyhow::ensure!(rows > 0 && measured[1].4 == rows, "the two exports wrote {rows} and {} rows", measured[1].4);
    let per_byte = |(_, seconds, bytes, _, _): &(&str, f64, f64, u64, u64)| bytes / seconds;
    let ratio = per_byte(&measured[0]) / per_byte(&measured[1]);
    Ok(measured
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let note = if i == 0 {
                format!(
                    "{:.1} MB/s; × {ratio:.2} the five-column MB/s ({}; target ≥ 1.0)",
                    per_byte(m) / 1e6,
                    if ratio >= 1.0 { "holds" } else { "misses" }
                )
            } else {
                format!("{:.1} MB/s", per_byte(m) / 1e6)
            };
            Row {
                size: Some(rows),
                per_second: Some(rows as f64 / m.1),
                peak_rss_mib: Some(m.3 as f64 / (1 << 20) as f64),
                ..Row::timed("query", &format!("export --all -o ndjson, {}", m.0), m.1, note)
            }
        })
        .collect())
}

/// The size of `file` and its lines, read in chunks.
fn count_lines(file: &Path) -> anyhow::Result<(u64, u64)> {
    use std::io::Read;
    let mut reader = std::fs::File::open(file)?;
    let mut buffer = vec![0u8; 1 << 16];
    let (mut bytes, mut lines) = (0u64, 0u64);
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            return Ok((bytes, lines));
        }
        bytes += n as u64;
        lines += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}
