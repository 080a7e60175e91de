//! TOML through `toml_edit`, whose parsed [`Document`] keeps byte spans.
//!
//! The document becomes one map: tables (standard, inline, dotted) are maps, arrays and arrays
//! of tables are sequences. Strings are quoted scalars holding their decoded value; integers,
//! floats, booleans and date-times are plain scalars holding their source text (integers in a
//! form `as_i64` reads, so `0b101` becomes `5`). Keys are quoted scalars (TOML keys are always
//! strings, so a key `null` is not a null) spanning the key as written.
//!
//! Spans: scalars cover the value as written (quotes included); a table covers its header or
//! key and everything it holds; the document covers its first to last entry.

use std::ops::Range;

use toml_edit::{Document, Item, Table, Value as TValue};

use super::{Limits, Node, ParseError, Parsed, Style, Value, parse_int};
use crate::source::{FileId, Span};

/// Parses a TOML file into one document (an empty file gives an empty map).
///
/// TOML forbids duplicate keys, so they come back as errors rather than `duplicates`.
pub fn parse(file: FileId, text: &str, limits: &Limits) -> Parsed {
    let mut out = Parsed::default();
    let error = |start: usize, end: usize, message: String| ParseError {
        span: Span::new(file, start, end),
        message,
    };
    // toml_edit recurses into arrays and inline tables; it has its own limit, but refuse
    // deeper nesting than ours before it runs.
    if let Some(at) = too_deep(text.as_bytes(), limits.max_depth) {
        let message = format!("nesting deeper than {} levels", limits.max_depth);
        out.error = Some(error(at, at + 1, message));
        return out;
    }
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let (start, end, message) = match e.span() {
                Some(r) => (r.start, r.end, e.message().to_string()),
                // toml_edit reports overlong dotted keys (80 parts) without a span.
                None => {
                    let r = longest_dotted_key(text);
                    (
                        r.start,
                        r.end,
                        format!("{} (key has too many dotted parts)", e.message()),
                    )
                }
            };
            out.error = Some(error(start, end, message));
            return out;
        }
    };
    let mut conv = Converter {
        file,
        text,
        limits: *limits,
        nodes: 0,
    };
    match conv.table(doc.as_table(), None, 1) {
        Ok(node) => out.docs.push(node),
        Err(e) => out.error = Some(e),
    }
    out
}

struct Converter<'t> {
    file: FileId,
    text: &'t str,
    limits: Limits,
    nodes: usize,
}

impl Converter<'_> {
    fn span(&self, r: &Range<usize>) -> Span {
        Span::new(self.file, r.start, r.end)
    }

    fn count(&mut self, span: Span) -> Result<(), ParseError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(ParseError {
                span,
                message: format!("more than {} nodes", self.limits.max_nodes),
            });
        }
        Ok(())
    }

    fn check_depth(&self, span: Span, depth: usize) -> Result<(), ParseError> {
        if depth > self.limits.max_depth {
            return Err(ParseError {
                span,
                message: format!("nesting deeper than {} levels", self.limits.max_depth),
            });
        }
        Ok(())
    }

    /// A table (the document, a `[header]` table, an implicit or dotted one). `own` is its
    /// key's span when it has no span of its own. Recursion is bounded by toml_edit's own
    /// nesting limits and by `depth`.
    fn table(&mut self, t: &Table, own: Option<Span>, depth: usize) -> Result<Node, ParseError> {
        let own = t.span().map(|r| self.span(&r)).or(own);
        let at = own.unwrap_or(Span::new(self.file, 0, 0));
        self.check_depth(at, depth)?;
        self.count(at)?;
        let mut entries = Vec::new();
        for (k, item) in t.iter() {
            let key_span = t.key(k).and_then(|k| k.span());
            if let Some((key, value)) = self.entry(k, key_span, item, depth)? {
                entries.push((key, value));
            }
        }
        Ok(Node::new(cover(own, &entries, at), Value::Map(entries)))
    }

    /// One entry of a table; `None` for the empty items toml_edit may hold.
    fn entry(
        &mut self,
        k: &str,
        key_span: Option<Range<usize>>,
        item: &Item,
        depth: usize,
    ) -> Result<Option<(Node, Node)>, ParseError> {
        let key_span = key_span.map(|r| self.span(&r));
        let value = match item {
            Item::None => return Ok(None),
            Item::Value(v) => self.value(v, depth + 1)?,
            Item::Table(t) => self.table(t, key_span, depth + 1)?,
            Item::ArrayOfTables(a) => {
                let own = a.span().map(|r| self.span(&r)).or(key_span);
                let at = own.unwrap_or(Span::new(self.file, 0, 0));
                self.check_depth(at, depth + 1)?;
                self.count(at)?;
                let mut items = Vec::with_capacity(a.len());
                for t in a.iter() {
                    items.push(self.table(t, None, depth + 2)?);
                }
                let span = items.iter().fold(own, |acc, n| Some(union(acc, n.span)));
                Node::new(span.unwrap_or(at), Value::Seq(items))
            }
        };
        self.key(k, key_span, value).map(Some)
    }

    /// Pairs a value with its key node; a key without a span gets an empty one at the value.
    fn key(
        &mut self,
        k: &str,
        span: Option<Span>,
        value: Node,
    ) -> Result<(Node, Node), ParseError> {
        let at = value.span.start as usize;
        let span = span.unwrap_or(Span::new(self.file, at, at));
        self.count(span)?;
        Ok((Node::scalar(span, k, Style::Quoted), value))
    }

    fn value(&mut self, v: &TValue, depth: usize) -> Result<Node, ParseError> {
        let span = v
            .span()
            .map(|r| self.span(&r))
            .unwrap_or(Span::new(self.file, 0, 0));
        self.count(span)?;
        let source = v.span().and_then(|r| self.text.get(r));
        let plain = |fallback: String| {
            let text = source.map_or(fallback, str::to_string);
            Node::scalar(span, text, Style::Plain)
        };
        Ok(match v {
            TValue::String(s) => Node::scalar(span, s.value().as_str(), Style::Quoted),
            TValue::Integer(i) => {
                let n = *i.value();
                // Keep the source text when `as_i64` reads it back (`1_000`, `0xff`, `+5`);
                // otherwise (`0b101`) write the value in decimal.
                let text = match source {
                    Some(s) if parse_int(s) == Some(n) => s.to_string(),
                    _ => n.to_string(),
                };
                Node::scalar(span, text, Style::Plain)
            }
            TValue::Float(f) => plain(f.value().to_string()),
            TValue::Boolean(b) => plain(b.value().to_string()),
            TValue::Datetime(d) => plain(d.value().to_string()),
            TValue::Array(a) => {
                self.check_depth(span, depth)?;
                let mut items = Vec::with_capacity(a.len());
                for item in a.iter() {
                    items.push(self.value(item, depth + 1)?);
                }
                Node::new(span, Value::Seq(items))
            }
            TValue::InlineTable(t) => {
                self.check_depth(span, depth)?;
                let mut entries = Vec::with_capacity(t.len());
                for (k, item) in t.iter() {
                    let key_span = t.key(k).and_then(|k| k.span()).map(|r| self.span(&r));
                    let value = self.value(item, depth + 1)?;
                    entries.push(self.key(k, key_span, value)?);
                }
                Node::new(cover(Some(span), &entries, span), Value::Map(entries))
            }
        })
    }
}

fn union(a: Option<Span>, b: Span) -> Span {
    match a {
        None => b,
        Some(a) => Span {
            file: a.file,
            start: a.start.min(b.start),
            end: a.end.max(b.end),
        },
    }
}

/// `own` widened to cover every key and value of `entries` (`fallback` if there is nothing).
fn cover(own: Option<Span>, entries: &[(Node, Node)], fallback: Span) -> Span {
    entries
        .iter()
        .fold(own, |acc, (k, v)| {
            Some(union(Some(union(acc, k.span)), v.span))
        })
        .unwrap_or(fallback)
}

/// The byte offset of the first `[`/`{` nested deeper than `max_depth`, counting brackets
/// outside strings and comments. Table headers (`[a]`, `[[a]]`) count while they are open,
/// which only matters for limits below 3.
fn too_deep(bytes: &[u8], max_depth: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => i = string_end(bytes, i, q) - 1,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// End (exclusive) of the string whose opening quote `q` is at `s`: basic (`"`, with
/// escapes) or literal (`'`), single- or multi-line (tripled quotes). Unterminated strings
/// end at the line break (single-line) or the end of the text; toml_edit reports them.
fn string_end(bytes: &[u8], s: usize, q: u8) -> usize {
    let escapes = q == b'"';
    let triple = bytes.get(s + 1) == Some(&q) && bytes.get(s + 2) == Some(&q);
    if !triple && bytes.get(s + 1) == Some(&q) {
        return s + 2; // an empty string
    }
    let mut i = if triple { s + 3 } else { s + 1 };
    while i < bytes.len() {
        let b = bytes[i];
        if escapes && b == b'\\' {
            i += 2;
            continue;
        }
        if b == q {
            if !triple {
                return i + 1;
            }
            if bytes.get(i + 1) == Some(&q) && bytes.get(i + 2) == Some(&q) {
                // Up to two more quotes right before the closing delimiter are content.
                let mut end = i + 3;
                while end < bytes.len() && end < i + 5 && bytes[end] == q {
                    end += 1;
                }
                return end;
            }
        }
        if b == b'\n' && !triple {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

/// The key (header or left of `=`) with the most dots outside quotes, for the span of an
/// overlong-dotted-key error toml_edit reports without one.
fn longest_dotted_key(text: &str) -> Range<usize> {
    let mut best = (0usize, 0..0);
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        let key = if trimmed.starts_with('[') {
            trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
        } else {
            trimmed.split('=').next().unwrap_or("")
        };
        let key_start = line_start + lead + trimmed.find(key).unwrap_or(0);
        let dots = key.bytes().filter(|&b| b == b'.').count();
        if dots > best.0 {
            best = (dots, key_start..key_start + key.trim_end().len());
        }
        line_start += line.len();
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const F: FileId = FileId(5);

    fn doc(text: &str) -> Node {
        let mut p = parse(F, text, &Limits::default());
        assert!(p.error.is_none(), "unexpected error {:?}", p.error);
        assert!(p.duplicates.is_empty());
        assert_eq!(p.docs.len(), 1);
        p.docs.remove(0)
    }

    fn at(text: &str, span: Span) -> &str {
        assert_eq!(span.file, F);
        &text[span.start as usize..span.end as usize]
    }

    fn err(text: &str, limits: &Limits) -> ParseError {
        parse(F, text, limits).error.expect("expected an error")
    }

    #[test]
    fn scalars() {
        let t = "s = \"x\\ty\" # c\nlit = 'C:\\a'\nn = 1_000\nh = 0xff\nb = 0b101\nf = 1.5e3\nt = true\nd = 1979-05-27T07:32:00Z\nml = \"\"\"\nhi\"\"\"\n";
        let d = doc(t);
        let s = d.get("s").unwrap();
        assert_eq!(s.as_str(), Some("x\ty"));
        assert_eq!(s.as_scalar().unwrap().style, Style::Quoted);
        assert_eq!(at(t, s.span), "\"x\\ty\"");
        assert_eq!(at(t, d.get("lit").unwrap().span), "'C:\\a'");
        assert_eq!(d.get("lit").unwrap().as_str(), Some("C:\\a"));
        let n = d.get("n").unwrap();
        assert_eq!((n.as_str(), n.as_i64()), (Some("1_000"), Some(1000)));
        assert_eq!(n.as_scalar().unwrap().style, Style::Plain);
        assert_eq!(d.get("h").unwrap().as_i64(), Some(255));
        let b = d.get("b").unwrap();
        assert_eq!((b.as_str(), at(t, b.span)), (Some("5"), "0b101"));
        assert_eq!(d.get("f").unwrap().as_str(), Some("1.5e3"));
        assert_eq!(d.get("t").unwrap().as_bool(), Some(true));
        assert_eq!(d.get("d").unwrap().as_str(), Some("1979-05-27T07:32:00Z"));
        let ml = d.get("ml").unwrap();
        assert_eq!(
            (ml.as_str(), at(t, ml.span)),
            (Some("hi"), "\"\"\"\nhi\"\"\"")
        );
        let (k, _) = d.get_entry("lit").unwrap();
        assert_eq!(at(t, k.span), "lit");
        assert_eq!(k.as_scalar().unwrap().style, Style::Quoted);
    }

    #[test]
    fn tables_dotted_keys_and_arrays_of_tables() {
        let t = "\
a.b.c = true
\"q.k\" = 2
[server]
port = 80
x = {y = [1, {z = 2}]}
[[db]]
name = \"a\"
[[db]]
name = \"b\"
[p.q]
r = 1
";
        let d = doc(t);
        assert_eq!(d.path(&["a", "b", "c"]).unwrap().as_bool(), Some(true));
        assert_eq!(at(t, d.get_entry("a").unwrap().0.span), "a");
        assert_eq!(at(t, d.get("a").unwrap().span), "a.b.c = true");
        let (qk, _) = d.get_entry("q.k").unwrap();
        assert_eq!(at(t, qk.span), "\"q.k\"");
        let server = d.get("server").unwrap();
        assert_eq!(
            at(t, server.span),
            "[server]\nport = 80\nx = {y = [1, {z = 2}]}"
        );
        assert_eq!(at(t, server.get("port").unwrap().span), "80");
        let x = server.get("x").unwrap();
        assert_eq!(at(t, x.span), "{y = [1, {z = 2}]}");
        let y = x.get("y").unwrap();
        assert_eq!(at(t, y.span), "[1, {z = 2}]");
        assert_eq!(at(t, y.as_seq().unwrap()[1].get("z").unwrap().span), "2");
        let db = d.get("db").unwrap().as_seq().unwrap();
        assert_eq!(db.len(), 2);
        assert_eq!(at(t, db[1].get("name").unwrap().span), "\"b\"");
        assert_eq!(at(t, db[1].span), "[[db]]\nname = \"b\"");
        assert_eq!(d.path(&["p", "q", "r"]).unwrap().as_i64(), Some(1));
        let keys: Vec<_> = d
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap())
            .collect();
        assert_eq!(keys, ["a", "q.k", "server", "db", "p"]);
        let flat: Vec<_> = d.flatten().into_iter().map(|(k, _)| k).collect();
        assert!(flat.contains(&"db[1].name".to_string()), "{flat:?}");
    }

    #[test]
    fn keys_that_look_like_null_or_booleans_are_strings() {
        let d = doc("null = 1\ntrue = 2\n");
        assert_eq!(d.get("null").unwrap().as_i64(), Some(1));
        let flat: Vec<_> = d.flatten().into_iter().map(|(k, _)| k).collect();
        assert_eq!(flat, ["null", "true"]);
    }

    #[test]
    fn non_ascii_crlf_and_bom() {
        let t = "\u{feff}# café ☕\r\ntitle = \"naïve ☕\" # c\r\n[db]\r\npool = 20\r\n";
        let d = doc(t);
        assert_eq!(at(t, d.get("title").unwrap().span), "\"naïve ☕\"");
        assert_eq!(at(t, d.path(&["db", "pool"]).unwrap().span), "20");
        assert_eq!(at(t, d.get_entry("db").unwrap().0.span), "db");
    }

    #[test]
    fn empty_file_is_an_empty_table() {
        for t in ["", "# only a comment\n"] {
            let d = doc(t);
            assert_eq!(d.as_map().unwrap().len(), 0);
        }
    }

    #[test]
    fn duplicate_keys_are_errors_in_toml() {
        let t = "a = 1\nb = 2\na = 3\n";
        let e = err(t, &Limits::default());
        assert!(e.message.contains("duplicate"), "{}", e.message);
        assert_eq!(e.span.start, 12);
    }

    #[test]
    fn syntax_errors_have_locations() {
        let t = "# ☕\nname = \"unterminated\nport = 1\n";
        let e = err(t, &Limits::default());
        assert!(!e.message.is_empty());
        let line = t[..e.span.start as usize].matches('\n').count();
        assert_eq!(line, 1, "{e:?}");
        let t = "a = [1, 2\n";
        let e = err(t, &Limits::default());
        assert!(e.span.start as usize >= 8, "{e:?}");
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let t = format!("a = {}", "[".repeat(200_000));
        let started = Instant::now();
        let e = err(&t, &Limits::default());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(e.message, "nesting deeper than 256 levels");
        assert_eq!(e.span.start, 4 + 256);

        // Brackets in strings and comments do not count.
        let t = format!(
            "a = \"{0}\"\nb = '{0}'\n# {0}\nc = \"\"\"\n{0}\"\"\"\n",
            "[".repeat(300)
        );
        let d = doc(&t);
        assert_eq!(d.get("a").unwrap().as_str().unwrap().len(), 300);

        // Below our limit toml_edit's own (80) applies, with a location.
        let t = format!("a = {}", "[".repeat(100));
        let e = err(&t, &Limits::default());
        assert!(e.span.start > 4, "{e:?}");
    }

    #[test]
    fn overlong_dotted_keys_get_a_location() {
        let t = format!("x = 1\n{} = 1\n", vec!["k"; 200].join("."));
        let e = err(&t, &Limits::default());
        assert!(e.message.contains("too many dotted parts"), "{}", e.message);
        assert_eq!(e.span.start, 6);
        assert_eq!(e.span.end as usize, t.len() - 5);
    }

    #[test]
    fn limits_on_nodes_and_depth() {
        let t = "a = [1, 2, 3, 4]\n";
        let e = err(
            t,
            &Limits {
                max_nodes: 4,
                ..Limits::default()
            },
        );
        assert_eq!(e.message, "more than 4 nodes");
        let t = "[a.b.c]\nd = 1\n";
        let e = err(
            t,
            &Limits {
                max_depth: 3,
                ..Limits::default()
            },
        );
        assert_eq!(e.message, "nesting deeper than 3 levels");
        assert!(
            parse(
                F,
                t,
                &Limits {
                    max_depth: 4,
                    ..Limits::default()
                }
            )
            .error
            .is_none()
        );
    }

    #[test]
    fn string_end_cases() {
        let b = br#"'a' "b\"c" "" '''x''y''' """q"""" "#;
        assert_eq!(string_end(b, 0, b'\''), 3);
        assert_eq!(string_end(b, 4, b'"'), 10);
        assert_eq!(string_end(b, 11, b'"'), 13);
        assert_eq!(string_end(b, 14, b'\''), 24);
        assert_eq!(string_end(b, 25, b'"'), 33);
    }
}
