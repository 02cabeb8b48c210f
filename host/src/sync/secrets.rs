//! Secrets never reach storage: before a task's outcome is written, every secret of the installation
//! is taken out of everything it would store (ids, values, links, deletions, cursors, the next pages'
//! cursors). Responses are redacted before a connector sees them; this holds even for a secret that
//! reached it another way (an API that reflects it encoded, for one).

use crate::data::FieldValue;
use crate::http::Redactor;
use crate::task::{TaskOutcome, TaskSpec};

/// Redacts every secret in `outcome`.
pub(super) fn redact(outcome: &mut TaskOutcome, redactor: &Redactor) {
    let clean = |text: &mut String| {
        redactor.redact_in_place(text);
    };
    for batch in &mut outcome.batches {
        for row in &mut batch.rows {
            clean(&mut row.id);
            for value in &mut row.values {
                match value {
                    FieldValue::Text(text)
                    | FieldValue::Datetime(text)
                    | FieldValue::Json(text)
                    | FieldValue::Reference(text) => clean(text),
                    FieldValue::Collection(ids) => ids.iter_mut().for_each(clean),
                    FieldValue::Null | FieldValue::Integer(_) | FieldValue::Float(_) | FieldValue::Boolean(_) => {}
                }
            }
        }
    }
    if let Some(links) = &mut outcome.links {
        links.child_ids.iter_mut().for_each(clean);
    }
    for deleted in &mut outcome.deletions {
        clean(&mut deleted.id);
    }
    if let Some(feed) = &mut outcome.cursor {
        clean(&mut feed.cursor);
    }
    for task in &mut outcome.spawn {
        if let TaskSpec::Page { cursor: Some(cursor), .. } | TaskSpec::Changes { cursor: Some(cursor), .. } =
            &mut task.spec
        {
            clean(cursor);
        }
    }
}
