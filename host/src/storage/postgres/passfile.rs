//! The password of a PostgreSQL URL that has none, found where libpq finds it, so that the URL in a
//! project, a worker's command line or a process list never needs to carry it: `PGPASSWORD`, else
//! the password file (`PGPASSFILE`, or `~/.pgpass`). Its lines are
//! `hostname:port:database:username:password`, `*` matching anything, `\` escaping `:` and `\`,
//! `#` starting a comment; the first line that matches is used. As with libpq, a file that others
//! can read is ignored (with a warning), and a socket folder matches `localhost`.

use std::path::{Path, PathBuf};

use tokio_postgres::config::Host;

/// The password for the first host of `config`, if the environment or the password file has one.
pub(super) fn password(config: &tokio_postgres::Config) -> Option<String> {
    if let Some(password) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
        return password.into_string().ok();
    }
    let user = config.get_user()?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        _ => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let database = config.get_dbname().unwrap_or(user);
    let file = file()?;
    let text = readable(&file)?;
    matching(&text, [host.as_str(), port.as_str(), database, user])
}

/// The password file: `PGPASSFILE`, else `~/.pgpass`.
fn file() -> Option<PathBuf> {
    match std::env::var_os("PGPASSFILE") {
        Some(path) => Some(PathBuf::from(path)),
        None => Some(PathBuf::from(std::env::var_os("HOME")?).join(".pgpass")),
    }
}

/// The file's text, unless it is missing or others may read it.
fn readable(file: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(file).ok()?;
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            file = %file.display(),
            "the password file is ignored: others can read it (chmod 0600 it, as libpq asks)"
        );
        return None;
    }
    std::fs::read_to_string(file).ok()
}

/// The password of the first line of `text` whose fields match `wanted` (host, port, database, user).
fn matching(text: &str, wanted: [&str; 4]) -> Option<String> {
    text.lines().filter(|line| !line.trim_start().starts_with('#')).find_map(|line| {
        let fields = fields(line);
        let [host, port, database, user, password] = fields.as_slice() else { return None };
        let all = [host, port, database, user].iter().zip(wanted).all(|(field, want)| *field == "*" || *field == want);
        all.then(|| password.clone())
    })
}

/// A line's fields, split at unescaped `:`, with `\:` and `\\` unescaped.
fn fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("a field").extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("a field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_line_gives_the_password() {
        let text = "# a comment\n\
                    db.example:5432:other:max:wrong\n\
                    db.example:*:max:max:right\n\
                    *:*:*:*:fallback\n";
        assert_eq!(matching(text, ["db.example", "5432", "max", "max"]).as_deref(), Some("right"));
        assert_eq!(matching(text, ["elsewhere", "6432", "x", "y"]).as_deref(), Some("fallback"));
        assert_eq!(matching("db:5432:max:max:pw\n", ["db", "5433", "max", "max"]), None);
        assert_eq!(matching("db:5432:max:max\n", ["db", "5432", "max", "max"]), None, "a short line is skipped");
    }

    #[test]
    fn escapes_keep_colons_and_backslashes_in_fields() {
        assert_eq!(fields(r"h:5432:d:u:pa\:ss\\word"), ["h", "5432", "d", "u", r"pa:ss\word"]);
        assert_eq!(fields("h:5432:d:u:with:colon"), ["h", "5432", "d", "u", "with:colon"]);
        assert_eq!(matching(r"my\:host:*:*:*:pw", ["my:host", "1", "d", "u"]).as_deref(), Some("pw"));
    }

    #[test]
    fn a_file_others_can_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(readable(&file), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(readable(&file).as_deref(), Some("*:*:*:*:pw\n"));
    }
}
