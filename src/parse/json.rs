//! Strict JSON (RFC 8259) through `jsonc-parser` with every extension switched off.
//!
//! Numbers, booleans and `null` become plain scalars holding their source text; strings become
//! quoted scalars holding their decoded value. Spans are byte ranges of the values as written
//! (strings include their quotes). An empty (or whitespace-only) file has no documents.

use jsonc_parser::ast::{ObjectPropName, Value as JValue};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions, parse_to_ast};

use super::yaml::find_duplicates;
use super::{Limits, Node, ParseError, Parsed, Style, Value};
use crate::source::{FileId, Span};

/// Parses a strict JSON file into one document.
///
/// Comments, trailing commas, unquoted keys, single quotes and other JSON5/JSONC extensions
/// are errors. Duplicate keys are kept (lookups take the last) and reported. Nesting deeper
/// than [`Limits::max_depth`] is refused before `jsonc-parser`, which recurses, sees the text.
pub fn parse(file: FileId, text: &str, limits: &Limits) -> Parsed {
    let mut out = Parsed::default();
    // jsonc-parser does not know about byte order marks: parse after it and shift the ranges.
    let (offset, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (text.len() - rest.len(), rest),
        None => (0, text),
    };
    let err = |start: usize, end: usize, message: String| ParseError {
        span: Span::new(file, offset + start, offset + end),
        message,
    };
    let scan = prescan(body.as_bytes(), limits.max_depth);
    if let Some(at) = scan.too_deep {
        let message = format!("nesting deeper than {} levels", limits.max_depth);
        out.error = Some(err(at, at + 1, message));
        return out;
    }
    let options = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let ast = match parse_to_ast(body, &CollectOptions::default(), &options) {
        Ok(ast) => ast,
        Err(e) => {
            let range = e.range();
            out.error = Some(err(range.start, range.end, e.kind().to_string()));
            return out;
        }
    };
    if let Some((at, why)) = scan.not_strict {
        let len = body[at..].chars().next().map_or(1, char::len_utf8);
        out.error = Some(err(at, at + len, why.to_string()));
        return out;
    }
    let Some(value) = ast.value else {
        return out;
    };
    let mut conv = Converter {
        file,
        offset,
        limits: *limits,
        nodes: 0,
        out,
    };
    match conv.value(value, 1) {
        Ok(node) => conv.out.docs.push(node),
        Err(e) => conv.out.error = Some(e),
    }
    conv.out
}

/// What the pre-scan found.
#[derive(Debug, Default, PartialEq)]
struct Scan {
    /// Byte offset of the first `[`/`{` nested deeper than the limit (the scan stops there).
    too_deep: Option<usize>,
    /// The first byte that strict JSON forbids but `jsonc-parser` accepts, with why: raw
    /// control characters inside strings, and whitespace other than space, tab, CR and LF.
    not_strict: Option<(usize, &'static str)>,
}

/// Counts bracket depth outside strings (before `jsonc-parser`, which recurses, sees the text)
/// and looks for what `jsonc-parser` lets through that strict JSON does not.
fn prescan(bytes: &[u8], max_depth: usize) -> Scan {
    let mut scan = Scan::default();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                0..=0x1f if scan.not_strict.is_none() => {
                    scan.not_strict = Some((i, "control characters must be escaped in strings"));
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > max_depth {
                        scan.too_deep = Some(i);
                        return scan;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                // Anything else that is not ASCII text (a no-break space, a form feed) is
                // either whitespace to jsonc-parser or a syntax error it reports itself.
                b' ' | b'\t' | b'\n' | b'\r' | 0x21..=0x7e => {}
                _ if scan.not_strict.is_none() => {
                    scan.not_strict =
                        Some((i, "only space, tab, CR and LF may separate JSON tokens"));
                }
                _ => {}
            }
        }
        i += 1;
    }
    scan
}

struct Converter {
    file: FileId,
    /// Bytes before the parsed text (a BOM).
    offset: usize,
    limits: Limits,
    nodes: usize,
    out: Parsed,
}

impl Converter {
    fn span(&self, r: jsonc_parser::common::Range) -> Span {
        Span::new(self.file, self.offset + r.start, self.offset + r.end)
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

    /// Converts one value. Recursion is bounded: the pre-scan refused anything deeper than
    /// `max_depth`, and `depth` re-checks it.
    fn value(&mut self, value: JValue<'_>, depth: usize) -> Result<Node, ParseError> {
        let span = self.span(value.range());
        self.count(span)?;
        let plain = |text: &str| Node::scalar(span, text, Style::Plain);
        Ok(match value {
            JValue::StringLit(s) => Node::scalar(span, s.value.into_owned(), Style::Quoted),
            JValue::NumberLit(n) => plain(n.value),
            JValue::BooleanLit(b) => plain(if b.value { "true" } else { "false" }),
            JValue::NullKeyword(_) => plain("null"),
            JValue::Array(a) => {
                self.check_depth(span, depth)?;
                let mut items = Vec::with_capacity(a.elements.len());
                for element in a.elements {
                    items.push(self.value(element, depth + 1)?);
                }
                Node::new(span, Value::Seq(items))
            }
            JValue::Object(o) => {
                self.check_depth(span, depth)?;
                let mut entries = Vec::with_capacity(o.properties.len());
                for prop in o.properties {
                    let key = match prop.name {
                        ObjectPropName::String(s) => {
                            Node::scalar(self.span(s.range), s.value.into_owned(), Style::Quoted)
                        }
                        // Unquoted names are rejected by the parse options; keep them anyway.
                        ObjectPropName::Word(w) => {
                            Node::scalar(self.span(w.range), w.value, Style::Quoted)
                        }
                    };
                    self.count(key.span)?;
                    let value = self.value(prop.value, depth + 1)?;
                    entries.push((key, value));
                }
                find_duplicates(&entries, false, &mut self.out.duplicates);
                Node::new(span, Value::Map(entries))
            }
        })
    }

    fn check_depth(&self, span: Span, depth: usize) -> Result<(), ParseError> {
        if depth > self.limits.max_depth {
            return Err(ParseError {
                span: Span::new(self.file, span.start as usize, span.start as usize + 1),
                message: format!("nesting deeper than {} levels", self.limits.max_depth),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Scalar;
    use std::time::{Duration, Instant};

    const F: FileId = FileId(3);

    fn ok(text: &str) -> Parsed {
        let p = parse(F, text, &Limits::default());
        assert!(p.error.is_none(), "unexpected error {:?}", p.error);
        p
    }

    fn doc(text: &str) -> Node {
        let mut p = ok(text);
        assert_eq!(p.docs.len(), 1);
        p.docs.remove(0)
    }

    fn at(text: &str, span: Span) -> &str {
        assert_eq!(span.file, F);
        &text[span.start as usize..span.end as usize]
    }

    fn err(text: &str) -> ParseError {
        parse(F, text, &Limits::default())
            .error
            .expect("expected an error")
    }

    #[test]
    fn scalars_keep_source_text_and_style() {
        let t = r#"{"s": "a\"b\u00e9", "n": 20, "f": -1.5e3, "t": true, "x": false, "z": null}"#;
        let d = doc(t);
        let s = d.get("s").unwrap();
        assert_eq!(
            s.as_scalar().unwrap(),
            &Scalar {
                text: "a\"bé".into(),
                style: Style::Quoted
            }
        );
        assert_eq!(at(t, s.span), r#""a\"b\u00e9""#);
        assert_eq!(d.get("n").unwrap().as_i64(), Some(20));
        assert_eq!(at(t, d.get("n").unwrap().span), "20");
        assert_eq!(d.get("f").unwrap().as_str(), Some("-1.5e3"));
        assert_eq!(d.get("t").unwrap().as_bool(), Some(true));
        assert_eq!(d.get("x").unwrap().as_bool(), Some(false));
        let z = d.get("z").unwrap();
        assert!(z.is_null());
        assert_eq!(z.as_scalar().unwrap().text, "null");
        assert_eq!(at(t, d.span), t);
        let (k, _) = d.get_entry("n").unwrap();
        assert_eq!(at(t, k.span), "\"n\"");
        assert_eq!(k.as_scalar().unwrap().style, Style::Quoted);
    }

    #[test]
    fn nested_values_and_arrays() {
        let t = "{\n  \"containers\": [\n    {\"name\": \"app\", \"env\": [{\"name\": \"POOL\", \"value\": \"20\"}]}\n  ]\n}\n";
        let d = doc(t);
        let c = &d.get("containers").unwrap().as_seq().unwrap()[0];
        let env = &c.get("env").unwrap().as_seq().unwrap()[0];
        assert_eq!(at(t, env.get("value").unwrap().span), "\"20\"");
        assert_eq!(at(t, env.span), "{\"name\": \"POOL\", \"value\": \"20\"}");
        assert_eq!(env.get("value").unwrap().as_i64(), Some(20));
    }

    #[test]
    fn non_ascii_crlf_and_bom() {
        let t = "\u{feff}{\r\n  \"café ☕\": \"naïve\",\r\n  \"port\": 5432\r\n}\r\n";
        let d = doc(t);
        assert_eq!(at(t, d.get("port").unwrap().span), "5432");
        assert_eq!(at(t, d.get("café ☕").unwrap().span), "\"naïve\"");
        assert_eq!(at(t, d.get_entry("café ☕").unwrap().0.span), "\"café ☕\"");
        assert_eq!(d.span.start, 3);
    }

    #[test]
    fn duplicate_keys_are_kept_and_reported() {
        let t = r#"{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}"#;
        let p = ok(t);
        let d = &p.docs[0];
        assert_eq!(d.get("a").unwrap().as_i64(), Some(3));
        assert_eq!(d.as_map().unwrap().len(), 3);
        let dups: Vec<_> = p
            .duplicates
            .iter()
            .map(|x| (x.key.as_str(), x.span.start, x.first.start))
            .collect();
        assert_eq!(dups, [("c", 23, 15), ("a", 32, 1)]);
        assert_eq!(at(t, p.duplicates[1].span), "\"a\"");
    }

    #[test]
    fn extensions_are_rejected() {
        // (text, what the error span covers, where it starts)
        for (t, found, start) in [
            ("{\"a\": 1,}", ",", 7),
            ("{\"a\": 1 // c\n}", "// c", 8),
            ("{a: 1}", "a", 1),
            ("{\"a\": 'x'}", "'", 6),
            ("{\"a\": 0x10}", "0", 6),
            ("{\"a\": +1}", "+", 6),
            ("{\"a\": .5}", ".", 6),
            ("{\"a\": NaN}", "NaN", 6),
            ("[1 2]", "", 2),
            ("{} {}", "{", 3),
        ] {
            let e = err(t);
            assert!(!e.message.is_empty());
            assert_eq!(
                (at(t, e.span), e.span.start),
                (found, start),
                "{t:?}: {e:?}"
            );
        }
        assert_eq!(
            err("{\"a\": 1,}").message,
            "Trailing commas are not allowed"
        );
    }

    #[test]
    fn what_jsonc_parser_allows_but_json_does_not() {
        let t = "[\"a\tb\"]";
        let e = err(t);
        assert_eq!(e.message, "control characters must be escaped in strings");
        assert_eq!(at(t, e.span), "\t");
        let t = "[1,\u{a0}2]";
        let e = err(t);
        assert_eq!(at(t, e.span), "\u{a0}");
        // Escaped, they are fine; so is non-ASCII text inside strings.
        let d = doc("[\"a\\tb\", \"\u{a0}☕\"]");
        assert_eq!(d.as_seq().unwrap()[0].as_str(), Some("a\tb"));
        // A syntax error comes first when the parser finds one.
        assert_eq!(err("[1 2, \"a\tb\"]").message, "Expected comma");
    }

    #[test]
    fn syntax_error_location_after_non_ascii() {
        let t = "{\"☕\": [1, 2\n";
        let e = err(t);
        assert!(e.span.start as usize <= t.len());
        let t = "{\"é\": tru}";
        let e = err(t);
        assert_eq!(at(t, e.span), "tru");
    }

    #[test]
    fn empty_file_has_no_docs() {
        for t in ["", "  \n", "\u{feff}"] {
            let p = ok(t);
            assert!(p.docs.is_empty());
        }
    }

    #[test]
    fn deep_nesting_is_rejected_before_parsing() {
        let t = "[".repeat(200_000);
        let started = Instant::now();
        let e = err(&t);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(e.message, "nesting deeper than 256 levels");
        assert_eq!((e.span.start, e.span.end), (256, 257));

        // Brackets inside strings do not count.
        let t = format!("[\"{}\"]", "[".repeat(1000));
        assert!(parse(F, &t, &Limits::default()).error.is_none());
        // Exactly at the limit is fine.
        let t = format!("{}{}", "[".repeat(256), "]".repeat(256));
        assert!(parse(F, &t, &Limits::default()).error.is_none());
        let t = format!("\u{feff}{}{}", "{\"a\":".repeat(300), "}".repeat(300));
        let e = err(&t);
        assert_eq!(at(&t, e.span), "{");
        assert_eq!(e.span.start, 3 + 5 * 256);
    }

    #[test]
    fn node_limit() {
        let t = "[1, 2, 3, 4, 5]";
        let e = parse(
            F,
            t,
            &Limits {
                max_nodes: 3,
                ..Limits::default()
            },
        )
        .error
        .unwrap();
        assert_eq!(e.message, "more than 3 nodes");
        assert_eq!(at(t, e.span), "3");
    }
}
