//! INI files: `pgbouncer.ini`, `my.cnf`, `php-fpm` pool files and `postgresql.conf`.
//!
//! - `[section]` headers; keys before any section sit at the top level.
//! - `key = value` (blanks around `=` optional); the key is everything before the first `=`.
//! - Full-line comments start with `;` or `#`; after an unquoted value a blank followed by `;`
//!   or `#` starts an inline comment.
//! - Values may be single-quoted (`postgresql.conf`: `''` or `\'` is a quote) or double-quoted
//!   (`\"` and `\\` are escapes); other backslashes are kept. If text other than a comment
//!   follows the closing quote, the whole value is read as unquoted text instead.
//! - A lone word is a MySQL flag (`skip-name-resolve`): a key with an empty value.
//! - Include directives (`!include`, `!includedir`, `%include`, `include`, `include_dir`,
//!   `include_if_exists`) may omit the `=` and are kept as ordinary keys; nothing is read.
//! - Any other `key value` line without `=` is an error.
//!
//! The result is one map: top-level keys, then one entry per section (key span: the section
//! name) whose value is a map. A repeated section is merged into its first occurrence, and a
//! key repeated within a section (merged or not) is reported as a duplicate.

use std::collections::HashMap;

use super::yaml::find_duplicates;
use super::{Node, ParseError, Parsed, Style, Value};
use crate::source::{FileId, Span};

/// Directives that may be written `directive value`, without `=`.
const INCLUDES: &[&str] = &[
    "!include",
    "!includedir",
    "%include",
    "include",
    "include_dir",
    "include_if_exists",
];

/// Parses an INI file into one map document (empty for an empty file).
///
/// A malformed line (unclosed `[`, `key value` without `=`, an unterminated quote) is an
/// error, and then `docs` is empty.
pub fn parse(file: FileId, text: &str) -> Parsed {
    let mut out = Parsed::default();
    match read(file, text) {
        Ok((top, sections)) => {
            let mut entries = top;
            for section in sections {
                find_duplicates(&section.entries, false, &mut out.duplicates);
                let end = section
                    .entries
                    .last()
                    .map_or(section.header.end, |(k, v)| k.span.end.max(v.span.end));
                let span = Span {
                    end: end.max(section.header.end),
                    ..section.header
                };
                entries.push((section.name, Node::new(span, Value::Map(section.entries))));
            }
            find_duplicates(&entries, false, &mut out.duplicates);
            out.duplicates.sort_by_key(|d| d.span.start);
            let span = match (entries.first(), entries.last()) {
                (Some((k, _)), Some(_)) => {
                    let end = entries
                        .iter()
                        .map(|(k, v)| k.span.end.max(v.span.end))
                        .max()
                        .unwrap_or(k.span.end);
                    Span::new(file, k.span.start as usize, end as usize)
                }
                _ => Span::new(file, 0, 0),
            };
            out.docs.push(Node::new(span, Value::Map(entries)));
        }
        Err(e) => out.error = Some(e),
    }
    out
}

/// A section being collected.
struct Section {
    /// The key node: the section name.
    name: Node,
    /// The first header, `[` to `]`.
    header: Span,
    entries: Vec<(Node, Node)>,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Top-level entries and sections in order of first appearance.
type Contents = (Vec<(Node, Node)>, Vec<Section>);

fn read(file: FileId, text: &str) -> Result<Contents, ParseError> {
    let bytes = text.as_bytes();
    let span = |s: usize, e: usize| Span::new(file, s, e);
    let error = |s: usize, e: usize, message: &str| ParseError {
        span: span(s, e),
        message: message.to_string(),
    };
    let mut top = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut current: Option<usize> = None;

    let mut pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
    while pos < bytes.len() {
        // One line: `start..end` is its content without leading blanks and line break.
        let mut end = pos;
        while end < bytes.len() && bytes[end] != b'\n' {
            end += 1;
        }
        let next = end + 1;
        if end > pos && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        let mut start = pos;
        while start < end && is_blank(bytes[start]) {
            start += 1;
        }
        pos = next;
        if start == end || matches!(bytes[start], b';' | b'#') {
            continue;
        }
        let content_end = start + text[start..end].trim_end().len();

        if bytes[start] == b'[' {
            let Some(close) = text[start..content_end].find(']').map(|i| start + i) else {
                return Err(error(start, content_end, "section header without `]`"));
            };
            let rest = text[close + 1..content_end].trim_start();
            if !(rest.is_empty() || rest.starts_with(['#', ';'])) {
                let at = content_end - rest.len();
                return Err(error(
                    at,
                    content_end,
                    "unexpected text after the section header",
                ));
            }
            let inner = &text[start + 1..close];
            let name = inner.trim();
            if name.is_empty() {
                return Err(error(start, close + 1, "empty section name"));
            }
            let name_start = start + 1 + (inner.len() - inner.trim_start().len());
            let index = *by_name.entry(name.to_string()).or_insert_with(|| {
                sections.push(Section {
                    name: Node::scalar(
                        span(name_start, name_start + name.len()),
                        name,
                        Style::Quoted,
                    ),
                    header: span(start, close + 1),
                    entries: Vec::new(),
                });
                sections.len() - 1
            });
            current = Some(index);
            continue;
        }

        let line = &text[start..content_end];
        let (key_start, key_end, value_from) = match line.find('=') {
            Some(eq) => {
                let key = line[..eq].trim_end();
                if key.is_empty() {
                    return Err(error(start, start + eq + 1, "missing key before `=`"));
                }
                (start, start + key.len(), Some(start + eq + 1))
            }
            None => {
                // A flag or an include directive; `key value` is not INI.
                let word_end = line.find([' ', '\t']).map_or(content_end, |i| start + i);
                let word = &text[start..word_end];
                let rest = text[word_end..content_end].trim_start();
                if rest.is_empty() || rest.starts_with(['#', ';']) {
                    (start, word_end, None)
                } else if INCLUDES.contains(&word) {
                    (start, word_end, Some(word_end))
                } else {
                    return Err(error(start, content_end, "expected `key = value`"));
                }
            }
        };
        let key = Node::scalar(
            span(key_start, key_end),
            &text[key_start..key_end],
            Style::Quoted,
        );
        let value = match value_from {
            Some(from) => value(file, text, from, content_end)?,
            None => Node::scalar(span(key_end, key_end), "", Style::Quoted),
        };
        match current {
            Some(i) => sections[i].entries.push((key, value)),
            None => top.push((key, value)),
        }
    }
    Ok((top, sections))
}

/// The value in `from..end` (one line, already right-trimmed), leading blanks skipped.
fn value(file: FileId, text: &str, from: usize, end: usize) -> Result<Node, ParseError> {
    let bytes = text.as_bytes();
    let mut start = from;
    while start < end && is_blank(bytes[start]) {
        start += 1;
    }
    if start == end {
        return Ok(Node::scalar(Span::new(file, from, from), "", Style::Quoted));
    }
    let q = bytes[start];
    if q == b'\'' || q == b'"' {
        let Some((decoded, close)) = quoted(bytes, text, start, end) else {
            return Err(ParseError {
                span: Span::new(file, start, start + 1),
                message: "unterminated quoted value".to_string(),
            });
        };
        let rest = text[close..end].trim_start();
        if rest.is_empty() || rest.starts_with(['#', ';']) {
            return Ok(Node::scalar(
                Span::new(file, start, close),
                decoded,
                Style::Quoted,
            ));
        }
        // `"a", "b"` and the like: not one quoted value, read it as unquoted text.
    }
    // An inline comment starts at a blank followed by `#` or `;` (`key = ; note` is empty,
    // `color=#fff` is not).
    let mut value_end = end;
    for i in start..end {
        if matches!(bytes[i], b'#' | b';') && i > from && is_blank(bytes[i - 1]) {
            value_end = i;
            break;
        }
    }
    let value = text[start..value_end].trim_end();
    Ok(Node::scalar(
        Span::new(file, start, start + value.len()),
        value,
        Style::Quoted,
    ))
}

/// Decodes the quoted value opening at `start`; returns it and the offset after the closing
/// quote, or `None` if the line ends first.
fn quoted(bytes: &[u8], text: &str, start: usize, end: usize) -> Option<(String, usize)> {
    let q = bytes[start];
    let mut out = String::new();
    let mut copied = start + 1;
    let mut i = start + 1;
    while i < end {
        let b = bytes[i];
        let escaped = if b == b'\\' && i + 1 < end {
            match (q, bytes[i + 1]) {
                (b'\'', b'\'') => Some('\''),
                (b'"', b'"') => Some('"'),
                (b'"', b'\\') => Some('\\'),
                _ => None,
            }
        } else if q == b'\'' && b == b'\'' && i + 1 < end && bytes[i + 1] == b'\'' {
            Some('\'')
        } else if b == q {
            out.push_str(&text[copied..i]);
            return Some((out, i + 1));
        } else {
            None
        };
        if let Some(c) = escaped {
            out.push_str(&text[copied..i]);
            out.push(c);
            i += 2;
            copied = i;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: FileId = FileId(2);

    fn at(text: &str, span: Span) -> &str {
        assert_eq!(span.file, F);
        &text[span.start as usize..span.end as usize]
    }

    fn doc(text: &str) -> Parsed {
        let p = parse(F, text);
        assert!(p.error.is_none(), "unexpected error {:?}", p.error);
        assert_eq!(p.docs.len(), 1);
        p
    }

    /// `(key, value, value as written)` of the entries of `node`.
    fn entries<'a>(text: &'a str, node: &Node) -> Vec<(String, String, &'a str)> {
        node.as_map()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.as_scalar().is_some())
            .map(|(k, v)| {
                assert_eq!(at(text, k.span), k.as_scalar().unwrap().text);
                assert_eq!(v.as_scalar().unwrap().style, Style::Quoted);
                (
                    k.as_scalar().unwrap().text.to_string(),
                    v.as_scalar().unwrap().text.to_string(),
                    at(text, v.span),
                )
            })
            .collect()
    }

    fn e<'a>(k: &str, v: &str, vs: &'a str) -> (String, String, &'a str) {
        (k.to_string(), v.to_string(), vs)
    }

    fn err(text: &str) -> ParseError {
        let p = parse(F, text);
        assert!(p.docs.is_empty());
        p.error.expect("expected an error")
    }

    #[test]
    fn pgbouncer_ini() {
        let t = "\
;; pgbouncer
[databases]
app = host=db port=5432 dbname=app pool_size=40
* = host=fallback

[pgbouncer]
pool_mode = transaction   ; inline
max_client_conn=1000
default_pool_size = 20 # inline too
auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename=$1
admin_users = \"a\", \"b\"
";
        let p = doc(t);
        let d = &p.docs[0];
        let dbs = d.get("databases").unwrap();
        assert_eq!(
            entries(t, dbs),
            [
                e(
                    "app",
                    "host=db port=5432 dbname=app pool_size=40",
                    "host=db port=5432 dbname=app pool_size=40"
                ),
                e("*", "host=fallback", "host=fallback"),
            ]
        );
        let pgb = d.get("pgbouncer").unwrap();
        assert_eq!(
            entries(t, pgb),
            [
                e("pool_mode", "transaction", "transaction"),
                e("max_client_conn", "1000", "1000"),
                e("default_pool_size", "20", "20"),
                e(
                    "auth_query",
                    "SELECT usename, passwd FROM pg_shadow WHERE usename=$1",
                    "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"
                ),
                e("admin_users", "\"a\", \"b\"", "\"a\", \"b\""),
            ]
        );
        assert_eq!(
            d.path(&["pgbouncer", "default_pool_size"])
                .unwrap()
                .as_i64(),
            Some(20)
        );
        let (name, _) = d.get_entry("pgbouncer").unwrap();
        assert_eq!(at(t, name.span), "pgbouncer");
        assert_eq!(
            at(t, dbs.span),
            "[databases]\napp = host=db port=5432 dbname=app pool_size=40\n* = host=fallback"
        );
        let flat: Vec<_> = d.flatten().into_iter().map(|(k, _)| k).collect();
        assert!(flat.contains(&"pgbouncer.max_client_conn".to_string()));
    }

    #[test]
    fn postgresql_conf() {
        let t = "\
# PostgreSQL configuration
max_connections = 100			# (change requires restart)
shared_buffers = '128MB'	# min 128kB
search_path = '\"$user\", public'
log_line_prefix = 'it''s %m \\' '
listen_addresses='*'
include 'extra.conf'
include_if_exists = 'maybe.conf'
";
        let p = doc(t);
        assert_eq!(
            entries(t, &p.docs[0]),
            [
                e("max_connections", "100", "100"),
                e("shared_buffers", "128MB", "'128MB'"),
                e("search_path", "\"$user\", public", "'\"$user\", public'"),
                e("log_line_prefix", "it's %m ' ", "'it''s %m \\' '"),
                e("listen_addresses", "*", "'*'"),
                e("include", "extra.conf", "'extra.conf'"),
                e("include_if_exists", "maybe.conf", "'maybe.conf'"),
            ]
        );
        assert_eq!(
            p.docs[0].get("max_connections").unwrap().as_i64(),
            Some(100)
        );
    }

    #[test]
    fn my_cnf_flags_and_includes() {
        let t = "\
[mysqld]
skip-name-resolve
max_connections=151
datadir = \"C:\\\\data \\\"x\\\"\" ; c
!include /etc/mysql/extra.cnf
!includedir /etc/mysql/conf.d/
";
        let p = doc(t);
        let m = p.docs[0].get("mysqld").unwrap();
        assert_eq!(
            entries(t, m),
            [
                e("skip-name-resolve", "", ""),
                e("max_connections", "151", "151"),
                e("datadir", "C:\\data \"x\"", "\"C:\\\\data \\\"x\\\"\""),
                e("!include", "/etc/mysql/extra.cnf", "/etc/mysql/extra.cnf"),
                e("!includedir", "/etc/mysql/conf.d/", "/etc/mysql/conf.d/"),
            ]
        );
        let (k, v) = m.get_entry("skip-name-resolve").unwrap();
        assert_eq!((v.span.start, v.span.end), (k.span.end, k.span.end));
        assert!(!v.is_null());
    }

    #[test]
    fn php_fpm_pool() {
        let t = "[www]\npm = dynamic\npm.max_children = 50\nphp_admin_value[memory_limit] = 128M\nenv[DB_HOST] = $DB_HOST\n";
        let p = doc(t);
        let www = p.docs[0].get("www").unwrap();
        assert_eq!(www.get("pm.max_children").unwrap().as_i64(), Some(50));
        assert_eq!(
            www.get("php_admin_value[memory_limit]").unwrap().as_str(),
            Some("128M")
        );
        assert_eq!(at(t, www.get("env[DB_HOST]").unwrap().span), "$DB_HOST");
    }

    #[test]
    fn top_level_keys_and_repeated_sections() {
        let t = "top = 1\n[a]\nx = 1\ny = 2\n[b]\nz = 3\n[ a ]\nx = 10\nw = 4\n";
        let p = doc(t);
        let d = &p.docs[0];
        let keys: Vec<_> = d
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap())
            .collect();
        assert_eq!(keys, ["top", "a", "b"]);
        let a = d.get("a").unwrap();
        assert_eq!(a.get("x").unwrap().as_i64(), Some(10));
        assert_eq!(a.as_map().unwrap().len(), 4);
        assert_eq!(at(t, d.get_entry("a").unwrap().0.span), "a");
        let dups: Vec<_> = p
            .duplicates
            .iter()
            .map(|x| (x.key.as_str(), at(t, x.span), x.span.start, x.first.start))
            .collect();
        assert_eq!(dups, [("x", "x", 40, 12)]);
    }

    #[test]
    fn duplicates_within_a_section() {
        let t = "[s]\nk=1\nk=2\n";
        let p = doc(t);
        assert_eq!(p.duplicates.len(), 1);
        assert_eq!(
            (p.duplicates[0].span.start, p.duplicates[0].first.start),
            (8, 4)
        );
        assert_eq!(p.docs[0].path(&["s", "k"]).unwrap().as_i64(), Some(2));
    }

    #[test]
    fn non_ascii_crlf_and_bom() {
        let t = "\u{feff}; café ☕\r\n[sé]\r\nname = naïve ☕  \r\nq = 'é' # c\r\nlast=x";
        let p = doc(t);
        let s = p.docs[0].get("sé").unwrap();
        assert_eq!(
            entries(t, s),
            [
                e("name", "naïve ☕", "naïve ☕"),
                e("q", "é", "'é'"),
                e("last", "x", "x")
            ]
        );
    }

    #[test]
    fn comment_characters_inside_values() {
        let t = "password = ab#c;d\nurl = \"x # y\"  # real\nempty =\nsemi = ; only a comment\ncolor=#fff\n";
        let p = doc(t);
        assert_eq!(
            entries(t, &p.docs[0]),
            [
                e("password", "ab#c;d", "ab#c;d"),
                e("url", "x # y", "\"x # y\""),
                e("empty", "", ""),
                e("semi", "", ""),
                e("color", "#fff", "#fff"),
            ]
        );
    }

    #[test]
    fn errors_have_locations() {
        let t = "[ok]\n[broken\n";
        let e = err(t);
        assert_eq!(at(t, e.span), "[broken");
        let t = "[☕]\nmax_connections 100\n";
        let e = err(t);
        assert_eq!(e.message, "expected `key = value`");
        assert_eq!(at(t, e.span), "max_connections 100");
        let t = "a = 'open\n";
        let e = err(t);
        assert_eq!(at(t, e.span), "'");
        let t = " = 1\n";
        assert_eq!(at(t, err(t).span), "=");
        let t = "[a] junk\n";
        assert_eq!(at(t, err(t).span), "junk");
        let t = "[ ]\n";
        assert_eq!(err(t).message, "empty section name");
    }

    #[test]
    fn empty_file_is_an_empty_map() {
        for t in ["", "\n", "; only\n# comments\n", "\u{feff}"] {
            let p = doc(t);
            assert!(p.docs[0].as_map().unwrap().is_empty());
        }
        // An empty section is still a (empty) map.
        let p = doc("[empty]\n");
        assert!(p.docs[0].get("empty").unwrap().as_map().unwrap().is_empty());
    }
}
