//! Secret masking for everything poolguard prints.
//!
//! Connection strings travel through env values, config files and messages, and they often
//! carry a password. Every renderer passes printed text through [`redact`] (or masks source
//! windows with [`secret_ranges`]) so that no password reaches a terminal, a CI log or a SARIF
//! upload. The forms recognised:
//!
//! - the password in a URL's userinfo, for any scheme (`postgres://user:PASS@host`,
//!   `jdbc:postgresql://user:PASS@host`, `redis://:PASS@host`);
//! - the password in a Go MySQL DSN (`user:PASS@tcp(host:3306)/db`);
//! - `key=value` passwords in libpq, ADO.NET and JDBC strings and query parameters
//!   (`password=…`, `Password=…;`, `pwd=…`, `passwd=…`, `?password=…&`, quoted values
//!   `password='a b'`), keys matched case-insensitively.
//!
//! Everything outside the masked ranges is left byte-identical.

use std::borrow::Cow;

/// What a masked secret is replaced with.
pub const MASK: &str = "****";

/// Keys whose `=` value is a password. `pgpassword` and `sslpassword` are listed because the
/// key boundary rule below would not match them through `password` (a letter precedes it).
const PASSWORD_KEYS: [&str; 5] = ["password", "passwd", "pwd", "pgpassword", "sslpassword"];

/// Masks every secret in `s` with [`MASK`].
///
/// Returns `Cow::Borrowed(s)` when there is nothing to mask, so the common case allocates
/// nothing.
pub fn redact(s: &str) -> Cow<'_, str> {
    let ranges = secret_ranges(s);
    if ranges.is_empty() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    for (start, end) in ranges {
        out.push_str(&s[pos..start]);
        out.push_str(MASK);
        pos = end;
    }
    out.push_str(&s[pos..]);
    Cow::Owned(out)
}

/// Byte ranges `start..end` of every secret in `text`, sorted, non-overlapping and non-empty,
/// each on `char` boundaries. These are exactly the ranges [`redact`] replaces.
pub fn secret_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    url_passwords(text, &mut ranges);
    dsn_passwords(text, &mut ranges);
    key_value_passwords(text, &mut ranges);
    merge(ranges)
}

/// Sorts ranges and merges overlapping or touching ones, dropping empty ones.
fn merge(mut ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    ranges.retain(|&(s, e)| e > s);
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Characters that end a URL or DSN token: whitespace and the quotes or brackets that usually
/// enclose a value in YAML, JSON, shell or prose.
fn ends_token(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`' | b'<' | b'>')
}

/// Passwords in `scheme://user:password@host` userinfo.
fn url_passwords(text: &str, out: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    for (sep, _) in text.match_indices("://") {
        let start = sep + 3;
        let end = bytes[start..]
            .iter()
            .position(|&b| ends_token(b))
            .map_or(text.len(), |p| start + p);
        let token = &text[start..end];
        let Some(colon) = token.find(':') else {
            continue;
        };
        // A `/`, `?`, `#` or `@` before the colon means the colon is in the host, path or
        // query, not in userinfo.
        if token[..colon].contains(['/', '?', '#', '@']) {
            continue;
        }
        let rest = &token[colon + 1..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let password_end = match rest[..authority_end].rfind('@') {
            // Standard URL: userinfo ends at the last `@` of the authority, so a raw `@` in the
            // password is covered too.
            Some(at) => at,
            // No `@` before the path: either there is no userinfo (`host:5432/db`), or the
            // password holds a raw `/`, `?` or `#` (`user:pa/ss@host`). A port is all digits;
            // anything else followed by an `@` later in the token is taken as a password,
            // since over-masking beats leaking.
            None => {
                let port = &rest[..authority_end];
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                match rest.find('@') {
                    Some(at) => at,
                    None => continue,
                }
            }
        };
        let s = start + colon + 1;
        out.push((s, s + password_end));
    }
}

/// Passwords in Go MySQL driver DSNs: `user:password@tcp(host:3306)/db`, `…@unix(/sock)/db`.
/// Without a scheme, only the `@tcp(` / `@unix(` marker makes `user:pass@` unambiguous.
fn dsn_passwords(text: &str, out: &mut Vec<(usize, usize)>) {
    // Most text has no `@`; skip the lower-cased copy below for it.
    if !text.contains('@') {
        return;
    }
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    for marker in ["@tcp(", "@unix("] {
        for (at, _) in lower.match_indices(marker) {
            let token_start = bytes[..at]
                .iter()
                .rposition(|&b| ends_token(b) || b == b'=')
                .map_or(0, |p| p + 1);
            let token = &text[token_start..at];
            // URLs are handled by `url_passwords`.
            if token.contains("://") {
                continue;
            }
            if let Some(colon) = token.find(':') {
                out.push((token_start + colon + 1, at));
            }
        }
    }
}

/// Values of `password=…`-style keys in libpq, ADO.NET and JDBC strings and query strings.
fn key_value_passwords(text: &str, out: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Keys start at a boundary: `DB_PASSWORD=` and `spring.datasource.password=` count,
        // `mypassword=` does not (it is some other key).
        let at_boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let key_len = if at_boundary {
            PASSWORD_KEYS
                .iter()
                .find(|k| {
                    bytes
                        .get(i..i + k.len())
                        .is_some_and(|s| s.eq_ignore_ascii_case(k.as_bytes()))
                })
                .map(|k| k.len())
        } else {
            None
        };
        let Some(key_len) = key_len else {
            i += 1;
            continue;
        };
        let mut j = skip_blanks(bytes, i + key_len);
        if bytes.get(j) != Some(&b'=') {
            i += key_len;
            continue;
        }
        j = skip_blanks(bytes, j + 1);
        let (start, end, next) = match bytes.get(j) {
            Some(&q @ (b'\'' | b'"')) => {
                let end = quoted_end(bytes, j + 1, q);
                (j + 1, end, (end + 1).min(bytes.len()))
            }
            _ => {
                let end = bytes[j..]
                    .iter()
                    .position(|&b| ends_token(b) || matches!(b, b';' | b'&'))
                    .map_or(bytes.len(), |p| j + p);
                (j, end, end)
            }
        };
        out.push((start, end));
        i = next.max(i + 1);
    }
}

/// Index after spaces and tabs from `i`.
fn skip_blanks(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// End (index of the closing quote) of a value quoted with `q` that starts at `i`. libpq escapes
/// with a backslash, ADO.NET by doubling the quote; an unterminated value runs to the end of the
/// line.
fn quoted_end(bytes: &[u8], mut i: usize, q: u8) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() && bytes[i + 1] != b'\n' => i += 2,
            b if b == q && bytes.get(i + 1) == Some(&q) => i += 2,
            b if b == q || b == b'\n' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact(s).into_owned()
    }

    #[test]
    fn no_secret_is_borrowed_and_unchanged() {
        for s in [
            "",
            "replicas: 6",
            "postgres://db.prod:5432/app",
            "http://host:8080/path?email=a@b.example",
            "jdbc:postgresql://db:5432/app?user=app&sslmode=require",
            "password_encryption = scram-sha-256",
            "mypassword=x",
            "git@github.com:org/repo.git",
            "café ☕ password",
        ] {
            assert!(matches!(redact(s), Cow::Borrowed(_)), "{s}");
            assert_eq!(redact(s), s);
        }
    }

    #[test]
    fn url_userinfo() {
        assert_eq!(
            r("postgres://app:s3cret@db:5432/app"),
            "postgres://app:****@db:5432/app"
        );
        assert_eq!(r("mysql://root:pw@db"), "mysql://root:****@db");
        assert_eq!(r("redis://:hunter2@cache:6379"), "redis://:****@cache:6379");
        assert_eq!(
            r("url: \"postgresql://u:p@h/db?sslmode=require\""),
            "url: \"postgresql://u:****@h/db?sslmode=require\""
        );
    }

    #[test]
    fn url_without_password_is_kept() {
        assert_eq!(r("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(r("postgres://app:@db/app"), "postgres://app:@db/app");
    }

    #[test]
    fn jdbc_url_userinfo() {
        assert_eq!(
            r("jdbc:postgresql://app:pw@db:5432/app"),
            "jdbc:postgresql://app:****@db:5432/app"
        );
    }

    #[test]
    fn url_password_with_special_characters() {
        assert_eq!(r("postgres://u:p@ss@db/app"), "postgres://u:****@db/app");
        assert_eq!(r("postgres://u:pa/ss@db/app"), "postgres://u:****@db/app");
        assert_eq!(r("postgres://u:pä☕@db/app"), "postgres://u:****@db/app");
    }

    #[test]
    fn several_urls_in_one_text() {
        assert_eq!(
            r("a=postgres://u:one@h1 b=postgres://v:two@h2"),
            "a=postgres://u:****@h1 b=postgres://v:****@h2"
        );
    }

    #[test]
    fn go_mysql_dsn() {
        assert_eq!(
            r("DSN=app:pw@tcp(db:3306)/orders"),
            "DSN=app:****@tcp(db:3306)/orders"
        );
        assert_eq!(
            r("app:pw@unix(/run/my.sock)/x"),
            "app:****@unix(/run/my.sock)/x"
        );
    }

    #[test]
    fn libpq_key_value() {
        assert_eq!(
            r("host=db port=5432 user=app password=s3cret dbname=app"),
            "host=db port=5432 user=app password=**** dbname=app"
        );
        assert_eq!(r("password = s3cret"), "password = ****");
        assert_eq!(
            r("host=db password='a b' dbname=x"),
            "host=db password='****' dbname=x"
        );
        assert_eq!(r(r"password='it\'s' x=1"), "password='****' x=1");
    }

    #[test]
    fn ado_net_key_value() {
        assert_eq!(
            r("Server=db;Database=app;User Id=app;Password=s3cret;Max Pool Size=50"),
            "Server=db;Database=app;User Id=app;Password=****;Max Pool Size=50"
        );
        assert_eq!(r("Uid=app;Pwd=x;"), "Uid=app;Pwd=****;");
        assert_eq!(r("UID=app;PWD=x"), "UID=app;PWD=****");
        assert_eq!(r("Password=\"a;b\";x=1"), "Password=\"****\";x=1");
        assert_eq!(r("Password='a''b';x=1"), "Password='****';x=1");
    }

    #[test]
    fn passwd_and_env_style_keys() {
        assert_eq!(r("passwd=x"), "passwd=****");
        assert_eq!(r("PASSWD=x"), "PASSWD=****");
        assert_eq!(r("DB_PASSWORD=x"), "DB_PASSWORD=****");
        assert_eq!(r("PGPASSWORD=x"), "PGPASSWORD=****");
        assert_eq!(
            r("spring.datasource.password=x"),
            "spring.datasource.password=****"
        );
    }

    #[test]
    fn jdbc_query_parameters() {
        assert_eq!(
            r("jdbc:mysql://db:3306/app?user=app&password=pw&useSSL=true"),
            "jdbc:mysql://db:3306/app?user=app&password=****&useSSL=true"
        );
        assert_eq!(
            r("jdbc:postgresql://db/app?PASSWORD=pw"),
            "jdbc:postgresql://db/app?PASSWORD=****"
        );
        assert_eq!(
            r("jdbc:sqlserver://db;user=app;password=pw;encrypt=true"),
            "jdbc:sqlserver://db;user=app;password=****;encrypt=true"
        );
    }

    #[test]
    fn url_and_query_password_together() {
        assert_eq!(
            r("postgres://u:a@h/db?sslpassword=b"),
            "postgres://u:****@h/db?sslpassword=****"
        );
    }

    #[test]
    fn empty_value_is_not_masked() {
        assert_eq!(r("Password=;User=x"), "Password=;User=x");
        assert_eq!(r("password=''"), "password=''");
        assert_eq!(r("password=\nx"), "password=\nx");
    }

    #[test]
    fn libpq_blanks_around_equals_belong_to_the_syntax() {
        // libpq reads `password= user=x` as the password `user=x`.
        assert_eq!(r("password= user=x"), "password= ****");
    }

    #[test]
    fn redaction_is_idempotent() {
        let once = r("postgres://u:p@h password=x");
        assert_eq!(r(&once), once);
    }

    #[test]
    fn ranges_are_on_char_boundaries() {
        let text = "é password=☕x€ postgres://ü:ö@h";
        for (s, e) in secret_ranges(text) {
            assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
        }
        assert_eq!(r(text), "é password=**** postgres://ü:****@h");
    }

    #[test]
    fn ranges_are_sorted_and_merged() {
        let text = "password=postgres://u:p@h";
        let ranges = secret_ranges(text);
        assert_eq!(ranges, vec![(9, text.len())]);
    }
}
