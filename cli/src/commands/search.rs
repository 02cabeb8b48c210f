//! `max search`: filtered, ordered, paginated reads of synced data, as a table, JSON, NDJSON or CSV.

use std::cell::RefCell;
use std::ops::ControlFlow;

use clap::Args;
use max_host::query::{SearchPage, SearchRequest};

use crate::args::{GlobalArgs, OutputFormat};
use crate::commands::host;
use crate::daemon::protocol::SearchParams;
use crate::export::{RowWriter, cell};
use crate::output::{Printer, printable};
use crate::prompt;

/// Search synced data.
///
/// Filters: `field op value` with ops = != > >= < <= and ~= (contains, case-insensitive), combined with
/// AND (binds tighter) and OR, grouped with parentheses. "Quoted" values stay strings; bare values are
/// read as the field's type; `null` matches empty fields. Follow references with dots:
/// `--filter 'assignee.email = "ada@acme.com" AND (status = todo OR priority = high)'`.
///
/// Full-text search (`--match`) looks in the fields the connector marks searchable (`max schema` lists
/// them): words (all must match; `plans` finds `plan`), "a phrase", word* (a prefix), a OR b, -word
/// (must not match), field:word (in one field). The most relevant rows come first, each with a
/// `_snippet` of its best match; `--fields .match` adds `_score` (relevance, higher is better), which
/// can be filtered and sorted on.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  max search linear Issue --filter 'state.name = \"Todo\"'\n  max search linear Issue --filter 'priority <= 2 AND assignee.email ~= \"@acme.com\"' --order-by updatedAt:desc\n  max search linear Issue --fields id,title,assignee.name --limit 20\n  max search linear Issue --all -o csv > issues.csv\n  max search linear Issue --after <cursor printed by the previous page>\n  max search linear Issue --match '\"sign in\" crash' --filter 'state.name = \"Todo\"'\n  max search linear Issue --match 'login OR signin -title:flaky' --fields identifier,title,.match"
)]
pub struct SearchCommand {
    /// The installation: `connector` or `connector/name`.
    target: String,
    /// The entity type (see `max schema <connector>`).
    entity: String,
    /// Which rows (see above).
    #[arg(long, short = 'f')]
    filter: Option<String>,
    /// Rows whose searchable fields match these words, most relevant first (see above).
    #[arg(long = "match", short = 'm', value_name = "WORDS", allow_hyphen_values = true)]
    text: Option<String>,
    /// Columns to show, comma-separated (dotted paths allowed), or `all`. `.meta` adds when each row was
    /// last synced (`_synced_at`) and by which sync (`_sync_id`); both can be filtered and sorted on.
    #[arg(long, value_name = "a,b|all", value_parser = crate::args::non_empty)]
    fields: Option<String>,
    /// Sort keys, comma-separated or repeated: `field`, `field:asc`, `field:desc` (ties by id).
    #[arg(long = "order-by", value_name = "FIELD[:asc|desc]", value_parser = crate::args::non_empty)]
    order_by: Vec<String>,
    /// Rows per page (1 to 1,000,000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    limit: u64,
    /// Continue after the page that printed this cursor.
    #[arg(long, value_name = "CURSOR")]
    after: Option<String>,
    /// Every matching row, no paging.
    #[arg(long)]
    all: bool,
}

impl SearchCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let daemon = crate::daemon::client::serving(host.project().root(), global.no_daemon);
        let mut searcher = Searcher { host: &host, daemon: daemon.map(|(client, _)| client), target: &self.target };
        let fields = match self.fields.as_deref().map(str::trim) {
            None | Some("all") => None,
            Some(list) => Some(list.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect()),
        };
        let order_by = self
            .order_by
            .iter()
            .flat_map(|o| o.split(','))
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .collect();
        let request = SearchRequest {
            entity: self.entity.clone(),
            filter: self.filter.clone(),
            fields,
            order_by,
            limit: if self.all { None } else { usize::try_from(self.limit).ok() },
            after: self.after.clone(),
            text: self.text.clone(),
            highlight: None,
        };
        if printer.format() == OutputFormat::Text {
            let marks = (MATCH_START.to_string(), MATCH_END.to_string());
            let request = SearchRequest { highlight: Some(marks), ..request };
            let (mut entity, mut page) = (String::new(), SearchPage::default());
            page.next = searcher.each(
                &request,
                &mut |name, columns| (entity, page.columns) = (name.to_string(), columns.to_vec()),
                &mut |row| {
                    page.rows.push(row);
                    ControlFlow::Continue(())
                },
            )?;
            return render_table(printer, &entity, &page, self.fields.is_some());
        }
        stream(&mut searcher, &request, printer.format())
    }
}

/// Where a search runs: in the project's daemon when one of this build serves it (its database
/// already open there), else in this process.
struct Searcher<'a> {
    host: &'a max_host::Host,
    daemon: Option<crate::daemon::client::Client>,
    target: &'a str,
}

impl Searcher<'_> {
    /// Runs `request` as [`max_host::Host::search_each`] does.
    fn each(
        &mut self,
        request: &SearchRequest,
        start: &mut dyn FnMut(&str, &[String]),
        visit: &mut dyn FnMut(Vec<serde_json::Value>) -> ControlFlow<()>,
    ) -> anyhow::Result<Option<String>> {
        match &mut self.daemon {
            Some(client) => {
                let params = SearchParams { installation: self.target.to_string(), request: request.clone() };
                client.search(&params, start, visit)
            }
            None => {
                let installation = self.host.installation(self.target)?;
                Ok(self.host.search_each(&installation, request, start, visit)?)
            }
        }
    }
}

/// Writes the rows as JSON, NDJSON or CSV while they are read.
fn stream(searcher: &mut Searcher<'_>, request: &SearchRequest, format: OutputFormat) -> anyhow::Result<()> {
    let writer =
        RefCell::new(RowWriter::new(format, std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock())));
    let failed: RefCell<Option<std::io::Error>> = RefCell::new(None);
    let keep = |written: std::io::Result<()>| match written {
        Ok(()) => ControlFlow::Continue(()),
        Err(error) => {
            failed.borrow_mut().get_or_insert(error);
            ControlFlow::Break(())
        }
    };
    let next = searcher.each(
        request,
        &mut |entity, columns| {
            let _ = keep(writer.borrow_mut().start(Some(entity), columns));
        },
        &mut |row| {
            if failed.borrow().is_some() {
                return ControlFlow::Break(());
            }
            keep(writer.borrow_mut().row(&row))
        },
    )?;
    if let Some(error) = failed.into_inner() {
        return Err(error.into());
    }
    writer.into_inner().finish(&[("next", serde_json::Value::from(next.clone()))])?;
    if format != OutputFormat::Json
        && let Some(cursor) = &next
    {
        prompt::note(&format!("next page: --after {cursor}"));
    }
    Ok(())
}

/// A page of rows as a table fitted to the terminal, with what was left out and the next page on stderr.
fn render_table(printer: &Printer, entity: &str, page: &SearchPage, picked: bool) -> anyhow::Result<()> {
    if page.rows.is_empty() {
        printer.text(&format!("No {entity} matches."))?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> =
        page.rows.iter().map(|row| row.iter().map(|v| printable(&cell(v))).collect()).collect();
    let mut fitted = crate::layout::fit(&page.columns, rows, crate::layout::terminal_width(), picked);
    for cell in fitted.rows.iter_mut().flatten() {
        *cell = highlighted(printer, cell);
    }
    let headers: Vec<&str> = fitted.headers.iter().map(String::as_str).collect();
    printer.text(&printer.table(&headers, &fitted.rows))?;
    let mut shown = format!("{} {entity} row{}", page.rows.len(), if page.rows.len() == 1 { "" } else { "s" });
    if fitted.hidden > 0 {
        shown.push_str(&format!(
            " ({} more column{} left out to fit: --fields all, or name them with --fields a,b)",
            fitted.hidden,
            if fitted.hidden == 1 { "" } else { "s" }
        ));
    }
    match &page.next {
        Some(cursor) => prompt::note(&printer.on_stderr().dim(&format!("{shown}; next page: --after {cursor}"))),
        None => prompt::note(&printer.on_stderr().dim(&shown)),
    }
    Ok(())
}

/// What the host puts around a snippet's matched words for a table (characters of Unicode's private
/// use area, which text of a connector's is not shown with).
const MATCH_START: char = '\u{E000}';
const MATCH_END: char = '\u{E001}';

/// `cell` with a snippet's matched words in bold on a colour terminal, unmarked otherwise (a mark cut
/// off by fitting closes at the end).
fn highlighted(printer: &Printer, cell: &str) -> String {
    if !cell.contains([MATCH_START, MATCH_END]) {
        return cell.to_string();
    }
    let mut out = String::with_capacity(cell.len() + 16);
    let mut open = false;
    for c in cell.chars() {
        match c {
            MATCH_START => {
                out.push_str(printer.bold_start());
                open = true;
            }
            MATCH_END => {
                out.push_str(printer.bold_end());
                open = false;
            }
            c => out.push(c),
        }
    }
    if open {
        out.push_str(printer.bold_end());
    }
    out
}
