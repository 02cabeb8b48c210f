//! `--match` on PostgreSQL, with its own text search: each searchable field's words
//! (`to_tsvector`, English stems as SQLite's porter tokenizer has them and, as there, every word
//! kept: `the` and `of` too; a GIN index per field), a term matching when it matches in any
//! searchable field (or in the one it names), the relevance the sum over fields of their weight ×
//! `ts_rank`, and the snippet `ts_headline`'s. What users type never reaches a query parser as syntax: words and phrases go
//! through `phraseto_tsquery`, prefixes as one quoted lexeme.

use tokio_postgres::GenericClient;

use super::connection::{MAX_SCHEMA_LOCK, failed};
use super::names::ident;
use crate::Result;
use crate::manifest::SearchableField;
use crate::query::TextMatch;
use crate::query::text::Term;

/// The text search configuration: PostgreSQL's `english` with a stemmer that drops no stop words.
const CONFIG: &str = "'\"_max\".english_every_word'::regconfig";

/// Creates [`CONFIG`] in the database unless it is there (once per database, under the lock of
/// the `"_max"` schema, in the caller's transaction).
pub(super) async fn create_config(tx: &impl GenericClient, place: &str) -> Result<()> {
    let sql = format!(
        "{MAX_SCHEMA_LOCK}; CREATE SCHEMA IF NOT EXISTS \"_max\";
         DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_ts_config
                          WHERE cfgname = 'english_every_word' AND cfgnamespace = '\"_max\"'::regnamespace) THEN
             CREATE TEXT SEARCH DICTIONARY \"_max\".english_every_stem (TEMPLATE = snowball, LANGUAGE = english);
             CREATE TEXT SEARCH CONFIGURATION \"_max\".english_every_word (COPY = pg_catalog.english);
             ALTER TEXT SEARCH CONFIGURATION \"_max\".english_every_word
               ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
               WITH \"_max\".english_every_stem;
           END IF;
         END $$"
    );
    tx.batch_execute(&sql).await.map_err(failed(place))
}

/// What the snippet puts around a matched word before the caller's markers replace them.
pub(super) const MARKS: (char, char) = ('\u{1}', '\u{2}');

/// The words of `column` of the searched table (`t`), as indexed.
pub(super) fn words_of(column: &str) -> String {
    format!("to_tsvector({CONFIG}, coalesce({column}, ''))")
}

/// The index statement of one searchable field's words.
pub(super) fn index(field: &SearchableField, index_name: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {index_name} ON {} USING gin ({})",
        ident(&field.entity),
        words_of(&ident(&field.field))
    )
}

/// A `--match` as SQL over the searched table `t`: the condition rows must meet, their relevance
/// and their snippet.
pub(super) struct Matching {
    /// Rows whose searchable fields match.
    pub condition: String,
    /// Higher is better (`float8`).
    pub score: String,
    /// The documents searched and what was wanted, for the snippet.
    document: String,
    wanted: String,
}

impl Matching {
    /// The text around the best matches, matched words between [`MARKS`] (binding its options
    /// through `bind`: only a search that shows snippets binds them).
    pub fn snippet(&self, bind: &mut dyn FnMut(String) -> String) -> String {
        let (open, close) = MARKS;
        let options = bind(format!("StartSel=\"{open}\", StopSel=\"{close}\", MaxWords=16, MinWords=6, HighlightAll=false"));
        let marks = bind(format!("{open}{close}"));
        format!("ts_headline({CONFIG}, translate({}, {marks}, ''), {}, {options})", self.document, self.wanted)
    }
}

/// The SQL of `text`, binding what users typed through `bind` (which returns a `text` parameter).
pub(super) fn matching(text: &TextMatch, bind: &mut dyn FnMut(String) -> String) -> Matching {
    let fields = &text.fields;
    let column = |field: &str| format!("t.{}", ident(field));
    let mut term_sql = |term: &Term| -> (String, String) {
        let query = if term.prefix {
            let lexeme = term.text.replace('\\', "\\\\").replace('\'', "''");
            format!("to_tsquery({CONFIG}, {})", bind(format!("'{lexeme}':*")))
        } else {
            format!("phraseto_tsquery({CONFIG}, {})", bind(term.text.clone()))
        };
        let searched: Vec<&SearchableField> = match &term.field {
            Some(name) => fields.iter().filter(|f| &f.field == name).collect(),
            None => fields.iter().collect(),
        };
        let matches: Vec<String> =
            searched.iter().map(|f| format!("{} @@ {query}", words_of(&column(&f.field)))).collect();
        (format!("({})", matches.join(" OR ")), query)
    };
    let mut conditions = Vec::new();
    let mut wanted = Vec::new();
    for group in &text.words.groups {
        let terms: Vec<(String, String)> = group.iter().map(&mut term_sql).collect();
        conditions.push(format!("({})", terms.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(" OR ")));
        wanted.extend(terms.into_iter().map(|(_, q)| q));
    }
    for term in &text.words.excluded {
        let (condition, _) = term_sql(term);
        conditions.push(format!("NOT {condition}"));
    }
    let wanted = format!("({})", wanted.join(" || "));
    let ranks: Vec<String> = fields
        .iter()
        .map(|f| format!("{}.0 * ts_rank({}, {wanted})", f.weight, words_of(&column(&f.field))))
        .collect();
    let document: Vec<String> = fields.iter().map(|f| column(&f.field)).collect();
    Matching {
        condition: conditions.join(" AND "),
        score: format!("({})::float8", ranks.join(" + ")),
        document: format!("concat_ws(' … ', {})", document.join(", ")),
        wanted,
    }
}
