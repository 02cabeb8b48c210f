//! Names as PostgreSQL keeps them: it cuts an identifier to 63 bytes without a word, so two long
//! names that begin alike would be one table, one column or one schema. Every name Max makes in
//! PostgreSQL goes through [`fit`]: one of up to 63 bytes stays as it is, a longer one keeps its
//! first 50 bytes and ends with a hash of the whole.

use std::borrow::Cow;

use sha2::Digest;

use crate::storage::schema::quote;

/// The most bytes of a name PostgreSQL keeps (`NAMEDATALEN - 1`).
const KEPT: usize = 63;
/// The bytes of a long name kept before its hash.
const PREFIX: usize = 50;

/// `name` within PostgreSQL's 63 bytes, distinct for distinct names.
pub(crate) fn fit(name: &str) -> Cow<'_, str> {
    if name.len() <= KEPT {
        return Cow::Borrowed(name);
    }
    let hash = crate::format::hex(&sha2::Sha256::digest(name.as_bytes())[..6]);
    let mut cut = PREFIX;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}~{hash}", &name[..cut]))
}

/// `name` fitted and quoted, for SQL.
pub(crate) fn ident(name: &str) -> String {
    quote(&fit(name))
}

/// The link table of a collection field (`"Entity.field"`), fitted and quoted.
pub(crate) fn link_ident(entity: &str, field: &str) -> String {
    ident(&format!("{entity}.{field}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_that_begin_alike_stay_apart_within_63_bytes() {
        assert_eq!(fit("Issue"), "Issue");
        let exact = "a".repeat(63);
        assert_eq!(fit(&exact), exact.as_str());
        let (one, two) = (format!("{}1", "a".repeat(63)), format!("{}2", "a".repeat(63)));
        let (one, two) = (fit(&one), fit(&two));
        assert_ne!(one, two);
        assert!(one.len() <= 63 && two.len() <= 63, "{one} {two}");
        assert!(one.starts_with(&"a".repeat(50)));
        // A cut never splits a character.
        let wide = "é".repeat(40);
        assert!(fit(&wide).len() <= 63 && fit(&wide).starts_with("éé"));
        assert_eq!(link_ident("Issue", "labels"), "\"Issue.labels\"");
    }
}
