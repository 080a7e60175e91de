//! `.env` files as read by docker compose, python-dotenv and friends.
//!
//! - `KEY=value`, optionally `export KEY=value`; blanks around `=` are allowed. Keys start
//!   with a letter or `_` and continue with letters, digits, `_`, `.` or `-`.
//! - Blank lines and lines starting with `#` are ignored.
//! - Single-quoted values are literal; double-quoted values understand `\n`, `\r`, `\t`, `\"`,
//!   `\\` and `\$` (other backslashes are kept). Both may span lines. After the closing quote
//!   only blanks and a `#` comment may follow.
//! - Unquoted values end at the line break or at a `#` preceded by a blank, and are trimmed.
//! - `${VAR}` references are kept as written, not expanded.
//!
//! The result is one flat map of quoted scalars; value spans cover the value as written,
//! quotes included.

use super::yaml::find_duplicates;
use super::{Node, ParseError, Parsed, Style, Value};
use crate::source::{FileId, Span};

/// Parses a `.env` file into one map document (empty for an empty file).
///
/// Repeated keys are kept (lookups take the last) and reported. A line that is not an
/// assignment, or an unterminated quote, is an error, and then `docs` is empty.
pub fn parse(file: FileId, text: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut reader = Reader {
        file,
        text,
        bytes: text.as_bytes(),
        pos: if text.starts_with('\u{feff}') { 3 } else { 0 },
    };
    let mut entries = Vec::new();
    loop {
        match reader.assignment() {
            Ok(Some(entry)) => entries.push(entry),
            Ok(None) => break,
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        }
    }
    find_duplicates(&entries, false, &mut out.duplicates);
    let span = match (entries.first(), entries.last()) {
        (Some((k, _)), Some((_, v))) => Span::new(file, k.span.start as usize, v.span.end as usize),
        _ => Span::new(file, 0, 0),
    };
    out.docs.push(Node::new(span, Value::Map(entries)));
    out
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

struct Reader<'t> {
    file: FileId,
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
}

impl Reader<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn skip_blanks(&mut self) {
        while self.pos < self.bytes.len() && is_blank(self.bytes[self.pos]) {
            self.pos += 1;
        }
    }

    /// End of the line content at `from` (before CR LF or LF).
    fn line_end(&self, from: usize) -> usize {
        let mut end = from;
        while end < self.bytes.len() && self.bytes[end] != b'\n' {
            end += 1;
        }
        if end > from && self.bytes[end - 1] == b'\r' {
            end -= 1;
        }
        end
    }

    /// Moves past the rest of the current line, line break included.
    fn next_line(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
            self.pos += 1;
        }
        self.pos = (self.pos + 1).min(self.bytes.len());
    }

    /// An error covering the (trimmed) line from `start`.
    fn line_error(&self, start: usize, message: &str) -> ParseError {
        let end = self.line_end(start);
        let end = start + self.text[start..end].trim_end().len();
        ParseError {
            span: self.span(start, end),
            message: message.to_string(),
        }
    }

    /// The next `KEY=value`, skipping blank and comment lines; `None` at the end.
    fn assignment(&mut self) -> Result<Option<(Node, Node)>, ParseError> {
        loop {
            self.skip_blanks();
            match self.bytes.get(self.pos) {
                None => return Ok(None),
                Some(b'\n' | b'\r' | b'#') => self.next_line(),
                Some(_) => break,
            }
        }
        let line_start = self.pos;
        let rest = &self.bytes[self.pos..];
        if rest.starts_with(b"export") && rest.get(6).is_some_and(|&b| is_blank(b)) {
            self.pos += 6;
            self.skip_blanks();
        }

        let key_start = self.pos;
        if !self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        {
            return Err(self.line_error(
                line_start,
                "expected `KEY=value` (a key starts with a letter or `_`)",
            ));
        }
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            self.pos += 1;
        }
        let key_end = self.pos;
        self.skip_blanks();
        if self.bytes.get(self.pos) != Some(&b'=') {
            return Err(self.line_error(line_start, "expected `=` after the key"));
        }
        self.pos += 1;
        let after_eq = self.pos;
        self.skip_blanks();

        let value = match self.bytes.get(self.pos) {
            Some(&q @ (b'"' | b'\'')) => self.quoted(q)?,
            _ => self.unquoted(after_eq),
        };
        let key = &self.text[key_start..key_end];
        let key = Node::scalar(self.span(key_start, key_end), key, Style::Quoted);
        Ok(Some((key, value)))
    }

    /// A quoted value starting at the opening quote `q`; leaves `pos` on the next line.
    fn quoted(&mut self, q: u8) -> Result<Node, ParseError> {
        let open = self.pos;
        let mut i = open + 1;
        let mut value = String::new();
        let mut copied = i; // start of the text not yet copied into `value`
        loop {
            let Some(&b) = self.bytes.get(i) else {
                let which = if q == b'"' { "double" } else { "single" };
                return Err(ParseError {
                    span: self.span(open, open + 1),
                    message: format!("unterminated {which}-quoted value"),
                });
            };
            if b == q {
                break;
            }
            if q == b'"' && b == b'\\' && i + 1 < self.bytes.len() {
                let decoded = match self.bytes[i + 1] {
                    b'n' => Some('\n'),
                    b'r' => Some('\r'),
                    b't' => Some('\t'),
                    b'"' => Some('"'),
                    b'\\' => Some('\\'),
                    b'$' => Some('$'),
                    _ => None,
                };
                if let Some(c) = decoded {
                    value.push_str(&self.text[copied..i]);
                    value.push(c);
                    i += 2;
                    copied = i;
                    continue;
                }
            }
            i += 1;
        }
        value.push_str(&self.text[copied..i]);
        let end = i + 1;
        self.pos = end;
        self.skip_blanks();
        match self.bytes.get(self.pos) {
            None | Some(b'\n' | b'#') => {}
            Some(b'\r') if matches!(self.bytes.get(self.pos + 1), None | Some(b'\n')) => {}
            Some(_) => {
                return Err(ParseError {
                    span: self.span(self.pos, self.line_end(self.pos)),
                    message: "unexpected text after the closing quote".to_string(),
                });
            }
        }
        self.next_line();
        Ok(Node::scalar(self.span(open, end), value, Style::Quoted))
    }

    /// An unquoted value from `pos` to the end of the line or an inline ` #` comment.
    /// `after_eq` is where the value would start without blanks (an empty value's span).
    fn unquoted(&mut self, after_eq: usize) -> Node {
        let start = self.pos;
        let line_end = self.line_end(start);
        let mut end = line_end;
        for i in start..line_end {
            if self.bytes[i] == b'#' && i > after_eq && is_blank(self.bytes[i - 1]) {
                end = i;
                break;
            }
        }
        let value = self.text[start..end].trim_end_matches([' ', '\t']);
        self.next_line();
        if value.is_empty() {
            return Node::scalar(self.span(after_eq, after_eq), "", Style::Quoted);
        }
        Node::scalar(self.span(start, start + value.len()), value, Style::Quoted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: FileId = FileId(4);

    fn at(text: &str, span: Span) -> &str {
        assert_eq!(span.file, F);
        &text[span.start as usize..span.end as usize]
    }

    /// `(key, value, value as written)` of every entry.
    fn entries(text: &str) -> Vec<(String, String, &str)> {
        let p = parse(F, text);
        assert!(p.error.is_none(), "unexpected error {:?}", p.error);
        assert_eq!(p.docs.len(), 1);
        p.docs[0]
            .as_map()
            .unwrap()
            .iter()
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
    fn value_forms() {
        let t = "\
# database
DB_POOL=20
export DATABASE_URL=postgres://u:p@db/app#frag   # inline comment
  SPACED = value with spaces   
QUOTED=\"a \\\"b\\\" c\\n\\$HOME\\x\" # trailing comment
LITERAL='no $expansion \\n here'
HASH=#not-a-comment
EMPTY=
EMPTY_COMMENT= # nothing
REF=${OTHER}/x
";
        assert_eq!(
            entries(t),
            [
                e("DB_POOL", "20", "20"),
                e(
                    "DATABASE_URL",
                    "postgres://u:p@db/app#frag",
                    "postgres://u:p@db/app#frag"
                ),
                e("SPACED", "value with spaces", "value with spaces"),
                e(
                    "QUOTED",
                    "a \"b\" c\n$HOME\\x",
                    "\"a \\\"b\\\" c\\n\\$HOME\\x\""
                ),
                e(
                    "LITERAL",
                    "no $expansion \\n here",
                    "'no $expansion \\n here'"
                ),
                e("HASH", "#not-a-comment", "#not-a-comment"),
                e("EMPTY", "", ""),
                e("EMPTY_COMMENT", "", ""),
                e("REF", "${OTHER}/x", "${OTHER}/x"),
            ]
        );
        let p = parse(F, t);
        assert_eq!(p.docs[0].get("DB_POOL").unwrap().as_i64(), Some(20));
        let (_, empty) = p.docs[0].get_entry("EMPTY").unwrap();
        assert_eq!(empty.span.start as usize, t.find("EMPTY=").unwrap() + 6);
    }

    #[test]
    fn multi_line_quoted_values() {
        let t = "KEY=\"line1\nline2\"\nPEM='-----BEGIN-----\nabc\n-----END-----'\nNEXT=1\n";
        assert_eq!(
            entries(t),
            [
                e("KEY", "line1\nline2", "\"line1\nline2\""),
                e(
                    "PEM",
                    "-----BEGIN-----\nabc\n-----END-----",
                    "'-----BEGIN-----\nabc\n-----END-----'"
                ),
                e("NEXT", "1", "1"),
            ]
        );
    }

    #[test]
    fn non_ascii_crlf_and_bom() {
        let t =
            "\u{feff}# café ☕\r\nNAME=naïve ☕  \r\nQ=\"é\" # c\r\nexport\tPORT=5432\r\nLAST=x";
        assert_eq!(
            entries(t),
            [
                e("NAME", "naïve ☕", "naïve ☕"),
                e("Q", "é", "\"é\""),
                e("PORT", "5432", "5432"),
                e("LAST", "x", "x"),
            ]
        );
    }

    #[test]
    fn export_is_a_key_when_assigned() {
        assert_eq!(entries("export=1\n"), [e("export", "1", "1")]);
    }

    #[test]
    fn duplicates_are_reported_and_last_wins() {
        let t = "A=1\nB=2\nA=3\n";
        let p = parse(F, t);
        assert_eq!(p.docs[0].get("A").unwrap().as_i64(), Some(3));
        let d: Vec<_> = p
            .duplicates
            .iter()
            .map(|d| (d.key.as_str(), d.span.start, d.first.start))
            .collect();
        assert_eq!(d, [("A", 8, 0)]);
    }

    #[test]
    fn invalid_lines_are_errors_at_the_line() {
        let t = "A=1\n☕ not an assignment  \r\nB=2\n";
        let e = err(t);
        assert_eq!(at(t, e.span), "☕ not an assignment");
        let t = "A=1\nJUST_A_WORD\n";
        let e = err(t);
        assert_eq!(at(t, e.span), "JUST_A_WORD");
        assert_eq!(e.message, "expected `=` after the key");
        let t = "MY KEY=1\n";
        assert_eq!(at(t, err(t).span), "MY KEY=1");
        let t = "1ABC=1\n";
        assert_eq!(at(t, err(t).span), "1ABC=1");
    }

    #[test]
    fn unterminated_and_trailing_text_after_quotes() {
        let t = "A=1\nB=\"never closed\nC=3\n";
        let e = err(t);
        assert_eq!(e.message, "unterminated double-quoted value");
        assert_eq!(e.span.start, 6);
        let t = "B='x'y\n";
        let e = err(t);
        assert_eq!(at(t, e.span), "y");
    }

    #[test]
    fn empty_file_is_an_empty_map() {
        for t in ["", "\n\n", "# only\n", "\u{feff}", "   \r\n"] {
            assert!(entries(t).is_empty());
        }
    }
}
