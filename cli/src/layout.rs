//! Fitting a search's table to the terminal: display width measured per character (CJK and emoji
//! take two columns), ids never cut, a few columns by default when the user didn't pick them, and no
//! row wider than the terminal, so nothing wraps.

use std::io::IsTerminal;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The widest a column grows when the user didn't pick the columns.
const DEFAULT_COLUMN_WIDTH: usize = 40;
/// Below this, a column is not shortened further (the id column is never shortened).
const NARROWEST: usize = 6;
/// The gap between columns.
const GAP: usize = 2;

/// A table ready to print, and how many columns were left out.
#[derive(Debug, PartialEq)]
pub struct Fitted {
    /// The headers shown.
    pub headers: Vec<String>,
    /// The rows, cells shortened with `…` where needed.
    pub rows: Vec<Vec<String>>,
    /// Columns not shown.
    pub hidden: usize,
}

/// The display width of `text` on a terminal.
pub fn width(text: &str) -> usize {
    if !text.contains('\x1b') {
        return text.width();
    }
    // Styles the CLI put in (a cell's own control characters were blanked before) take no room.
    let mut visible = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            visible.push(c);
        }
    }
    visible.width()
}

/// Fits `rows` under `headers` into `width` terminal columns (none: as they are). `picked`: the user
/// chose the columns, so every one is kept (shortened if need be); otherwise the first column (the id)
/// and then as many of the others as fit, skipping those empty on every row.
pub fn fit(headers: &[String], rows: Vec<Vec<String>>, width: Option<usize>, picked: bool) -> Fitted {
    let Some(limit) = width else { return Fitted { headers: headers.to_vec(), rows, hidden: 0 } };
    let natural: Vec<usize> = (0..headers.len())
        .map(|c| rows.iter().map(|r| self::width(&r[c])).chain([self::width(&headers[c])]).max().unwrap_or(0))
        .collect();
    let keep: Vec<usize> = if picked {
        (0..headers.len()).collect()
    } else {
        let mut keep = vec![0];
        let mut used = natural[0];
        for column in 1..headers.len() {
            let empty = rows.iter().all(|r| r[column].is_empty());
            let wanted = natural[column].min(DEFAULT_COLUMN_WIDTH);
            if !empty && used + GAP + wanted <= limit {
                keep.push(column);
                used += GAP + wanted;
            }
        }
        keep
    };
    let mut widths: Vec<usize> = keep
        .iter()
        .map(|&c| if picked || c == 0 { natural[c] } else { natural[c].min(DEFAULT_COLUMN_WIDTH) })
        .collect();
    let total = |widths: &[usize]| widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1);
    // Shorten the widest shortenable column, one column at a time, until the rows fit.
    while total(&widths) > limit {
        let widest = (1..widths.len()).filter(|&i| widths[i] > NARROWEST).max_by_key(|&i| widths[i]);
        let Some(widest) = widest else { break };
        widths[widest] -= 1;
    }
    let cut = |cells: &[String]| -> Vec<String> {
        keep.iter().zip(&widths).map(|(&c, &w)| if c == 0 { cells[c].clone() } else { shorten(&cells[c], w) }).collect()
    };
    let mut rows: Vec<Vec<String>> = rows.iter().map(|r| cut(r)).collect();
    let mut shown = cut(headers);
    // Still too wide (too many picked columns, or an id longer than the terminal): drop whole columns
    // from the right rather than wrap, keeping the id.
    while shown.len() > 1 && total(&widths) > limit {
        shown.pop();
        widths.pop();
        for row in &mut rows {
            row.pop();
        }
    }
    Fitted { hidden: headers.len() - shown.len(), headers: shown, rows }
}

/// `text` cut to `width` display columns, ending in `…` when cut.
fn shorten(text: &str, width: usize) -> String {
    if self::width(text) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The width tables are fitted to: the terminal's, or `COLUMNS` when stdout is not a terminal (none
/// without either: a file gets whole rows).
pub fn terminal_width() -> Option<usize> {
    if std::io::stdout().is_terminal() {
        return terminal_size::terminal_size().map(|(w, _)| usize::from(w.0));
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()).filter(|&c: &usize| c > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn wide_characters_count_twice_and_ids_are_never_cut() {
        let headers = strings(&["id", "title", "notes"]);
        let id = "task-0123456789abcdef";
        let rows = vec![strings(&[id, "会議の議事録を共有する 🎉🎉", &"x".repeat(200)])];
        let fitted = fit(&headers, rows, Some(60), true);
        assert_eq!(fitted.rows[0][0], id);
        let line = fitted.rows[0].iter().map(|c| width(c)).sum::<usize>() + GAP * 2;
        assert!(line <= 60, "{line}: {:?}", fitted.rows);
        assert!(fitted.rows[0][1].ends_with('…') || width(&fitted.rows[0][1]) == 29, "{:?}", fitted.rows);
    }

    #[test]
    fn unpicked_columns_are_chosen_to_fit_and_empty_ones_skipped() {
        let headers = strings(&["id", "empty", "name", "long", "more"]);
        let rows = vec![strings(&["1", "", "Ada", &"y".repeat(70), "z"])];
        let fitted = fit(&headers, rows, Some(80), false);
        assert_eq!(fitted.headers, strings(&["id", "name", "long", "more"]));
        assert_eq!(fitted.hidden, 1);
        assert!(width(&fitted.rows[0][2]) <= DEFAULT_COLUMN_WIDTH);
    }
}
