//! Java `.properties` files, read the way `java.util.Properties.load` reads them.
//!
//! - Lines end with LF, CR or CRLF; leading blanks (space, tab, form feed) are ignored.
//! - Lines whose first non-blank character is `#` or `!` are comments.
//! - The key ends at the first unescaped `=`, `:` or blank; blanks and one `=`/`:` after it
//!   are skipped, and the rest of the logical line is the value (trailing blanks are kept in
//!   the text, as Java does, but not in the span).
//! - A line ending in an odd number of backslashes continues on the next line, whose leading
//!   blanks are skipped; comment markers on a continuation line are text.
//! - Escapes: `\t`, `\n`, `\r`, `\f`, `\uXXXX`; any other escaped character is itself.
//!
//! The result is one flat map (keys keep their dots) of quoted scalars.

use super::yaml::find_duplicates;
use super::{Node, ParseError, Parsed, Style, Value};
use crate::source::{FileId, Span};

/// Parses a `.properties` file into one map document (empty for an empty file).
///
/// Repeated keys are kept (lookups take the last, as Java does) and reported. A malformed
/// `\uXXXX` escape is an error, and then `docs` is empty.
pub fn parse(file: FileId, text: &str) -> Parsed {
    let mut out = Parsed::default();
    match read(file, text) {
        Ok(entries) => {
            find_duplicates(&entries, false, &mut out.duplicates);
            let span = match (entries.first(), entries.last()) {
                (Some((k, _)), Some((_, v))) => {
                    Span::new(file, k.span.start as usize, v.span.end as usize)
                }
                _ => Span::new(file, 0, 0),
            };
            out.docs.push(Node::new(span, Value::Map(entries)));
        }
        Err(e) => out.error = Some(e),
    }
    out
}

/// Blanks as Java sees them.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x0c')
}

/// End of the content of the natural line starting at `pos`, and the start of the next one.
fn line_at(bytes: &[u8], pos: usize) -> (usize, usize) {
    let mut end = pos;
    while end < bytes.len() && bytes[end] != b'\n' && bytes[end] != b'\r' {
        end += 1;
    }
    let next = match bytes.get(end) {
        Some(b'\r') if bytes.get(end + 1) == Some(&b'\n') => end + 2,
        Some(_) => end + 1,
        None => end,
    };
    (end, next)
}

fn skip_blanks(bytes: &[u8], mut pos: usize, end: usize) -> usize {
    while pos < end && is_blank(bytes[pos]) {
        pos += 1;
    }
    pos
}

fn read(file: FileId, text: &str) -> Result<Vec<(Node, Node)>, ParseError> {
    let bytes = text.as_bytes();
    let mut entries = Vec::new();
    // The pieces of one logical line: byte ranges of the text, continuation backslashes and
    // the leading blanks of continuation lines left out. Reused from line to line.
    let mut segments: Vec<(usize, usize)> = Vec::new();
    let mut pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
    while pos < bytes.len() {
        let (end, next) = line_at(bytes, pos);
        let start = skip_blanks(bytes, pos, end);
        pos = next;
        if start == end || matches!(bytes[start], b'#' | b'!') {
            continue;
        }
        segments.clear();
        let (mut seg_start, mut seg_end) = (start, end);
        loop {
            let backslashes = bytes[seg_start..seg_end]
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count();
            if backslashes % 2 == 0 {
                segments.push((seg_start, seg_end));
                break;
            }
            segments.push((seg_start, seg_end - 1));
            if pos >= bytes.len() {
                break; // a continuation at the end of the file continues with nothing
            }
            let (end, next) = line_at(bytes, pos);
            seg_start = skip_blanks(bytes, pos, end);
            seg_end = end;
            pos = next;
        }
        entries.push(logical_line(file, text, &segments)?);
    }
    Ok(entries)
}

/// Splits one logical line into its key and value nodes.
fn logical_line(
    file: FileId,
    text: &str,
    segments: &[(usize, usize)],
) -> Result<(Node, Node), ParseError> {
    let mut chars = segments
        .iter()
        .flat_map(|&(s, e)| text[s..e].char_indices().map(move |(i, c)| (s + i, c)))
        .peekable();

    // The key, up to an unescaped separator or blank.
    let key_start = segments[0].0;
    let mut key = String::new();
    let mut key_end = key_start;
    let mut value_from = None; // where the value may start, once the key has ended
    while let Some((p, c)) = chars.next() {
        match c {
            '\\' => {
                let (decoded, end) = unescape(file, text, p, &mut chars)?;
                key.extend(decoded);
                key_end = end;
            }
            '=' | ':' => {
                value_from = Some(p + 1);
                break;
            }
            c if c.is_ascii() && is_blank(c as u8) => {
                // Blanks, then at most one separator.
                while chars
                    .next_if(|&(_, c)| c.is_ascii() && is_blank(c as u8))
                    .is_some()
                {}
                let sep = chars.next_if(|&(_, c)| c == '=' || c == ':');
                value_from = Some(sep.map_or(p + 1, |(q, _)| q + 1));
                break;
            }
            c => {
                key.push(c);
                key_end = p + c.len_utf8();
            }
        }
    }
    while chars
        .next_if(|&(_, c)| c.is_ascii() && is_blank(c as u8))
        .is_some()
    {}

    // The value: everything left. Its span ends after the last non-blank (or escaped) char.
    let mut value = String::new();
    let mut value_start = None;
    let mut value_end = value_from.unwrap_or(key_end);
    while let Some((p, c)) = chars.next() {
        value_start.get_or_insert(p);
        if c == '\\' {
            let (decoded, end) = unescape(file, text, p, &mut chars)?;
            value.extend(decoded);
            value_end = end;
        } else {
            value.push(c);
            if !(c.is_ascii() && is_blank(c as u8)) {
                value_end = p + c.len_utf8();
            }
        }
    }
    let value_start = value_start.unwrap_or(value_end);
    let key_node = Node::scalar(Span::new(file, key_start, key_end), key, Style::Quoted);
    let value_node = Node::scalar(
        Span::new(file, value_start, value_end),
        value,
        Style::Quoted,
    );
    Ok((key_node, value_node))
}

/// Decodes the escape whose backslash is at `at`; returns the character (`None` for a lone
/// backslash at the very end, which Java drops) and the byte offset after the escape.
fn unescape<I>(
    file: FileId,
    text: &str,
    at: usize,
    chars: &mut I,
) -> Result<(Option<char>, usize), ParseError>
where
    I: Iterator<Item = (usize, char)> + Clone,
{
    let Some((p, c)) = chars.next() else {
        return Ok((None, at + 1));
    };
    let decoded = match c {
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        'f' => '\x0c',
        'u' => {
            let Some((code, end)) = hex4(chars) else {
                return Err(ParseError {
                    span: Span::new(file, at, (p + 1).min(text.len())),
                    message: "malformed \\uXXXX escape".to_string(),
                });
            };
            // Java strings are UTF-16: a surrogate pair written as two escapes is one
            // character; an unpaired surrogate has no `char`.
            if (0xd800..0xdc00).contains(&code) {
                let mut ahead = chars.clone();
                if let (Some((_, '\\')), Some((_, 'u'))) = (ahead.next(), ahead.next())
                    && let Some((low, low_end)) = hex4(&mut ahead)
                    && (0xdc00..0xe000).contains(&low)
                {
                    *chars = ahead;
                    let combined = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                    return Ok((char::from_u32(combined), low_end));
                }
            }
            return Ok((
                Some(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)),
                end,
            ));
        }
        other => other,
    };
    Ok((Some(decoded), p + c.len_utf8()))
}

/// Four hex digits: their value and the byte offset after them.
fn hex4(chars: &mut impl Iterator<Item = (usize, char)>) -> Option<(u32, usize)> {
    let mut code = 0;
    let mut end = 0;
    for _ in 0..4 {
        let (q, h) = chars.next()?;
        code = code * 16 + h.to_digit(16)?;
        end = q + 1;
    }
    Some((code, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: FileId = FileId(9);

    fn doc(text: &str) -> Parsed {
        let p = parse(F, text);
        assert!(p.error.is_none(), "unexpected error {:?}", p.error);
        assert_eq!(p.docs.len(), 1);
        p
    }

    fn at(text: &str, span: Span) -> &str {
        assert_eq!(span.file, F);
        &text[span.start as usize..span.end as usize]
    }

    /// `(key, value, key as written, value as written)` of every entry.
    fn entries(text: &str) -> Vec<(String, String, &str, &str)> {
        let p = doc(text);
        p.docs[0]
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                assert_eq!(k.as_scalar().unwrap().style, Style::Quoted);
                assert_eq!(v.as_scalar().unwrap().style, Style::Quoted);
                (
                    k.as_scalar().unwrap().text.to_string(),
                    v.as_scalar().unwrap().text.to_string(),
                    at(text, k.span),
                    at(text, v.span),
                )
            })
            .collect()
    }

    fn e<'a>(k: &str, v: &str, ks: &'a str, vs: &'a str) -> (String, String, &'a str, &'a str) {
        (k.to_string(), v.to_string(), ks, vs)
    }

    #[test]
    fn separators_and_comments() {
        let t = "# comment\n! also\n  spring.datasource.url=jdbc:postgresql://db/app\nhikari.max : 20\nkey value with  spaces  \nempty=\nbare\n  \n";
        assert_eq!(
            entries(t),
            [
                e(
                    "spring.datasource.url",
                    "jdbc:postgresql://db/app",
                    "spring.datasource.url",
                    "jdbc:postgresql://db/app"
                ),
                e("hikari.max", "20", "hikari.max", "20"),
                e("key", "value with  spaces  ", "key", "value with  spaces"),
                e("empty", "", "empty", ""),
                e("bare", "", "bare", ""),
            ]
        );
        let p = doc(t);
        assert_eq!(p.docs[0].get("hikari.max").unwrap().as_i64(), Some(20));
        let (_, empty) = p.docs[0].get_entry("empty").unwrap();
        assert_eq!(empty.span.start as usize, t.find("empty=").unwrap() + 6);
    }

    #[test]
    fn continuation_lines() {
        let t = "list = a,\\\n       b,\\\n   c   \nnext=1\nodd=x\\\\\nfinal=y\\";
        assert_eq!(
            entries(t),
            [
                e("list", "a,b,c   ", "list", "a,\\\n       b,\\\n   c"),
                e("next", "1", "next", "1"),
                e("odd", "x\\", "odd", "x\\\\"),
                e("final", "y", "final", "y"),
            ]
        );
        // Comment markers on a continuation line are text.
        assert_eq!(entries("a=1\\\n# not a comment\n")[0].1, "1# not a comment");
    }

    #[test]
    fn escapes() {
        let t = "tab\\ key=a\\tb\\n\\u00e9\\uD83D\\uDE00\\:\\=\\\\ \\ \nk\\=x=1\n";
        assert_eq!(
            entries(t),
            [
                e(
                    "tab key",
                    "a\tb\né😀:=\\  ",
                    "tab\\ key",
                    "a\\tb\\n\\u00e9\\uD83D\\uDE00\\:\\=\\\\ \\ "
                ),
                e("k=x", "1", "k\\=x", "1"),
            ]
        );
    }

    #[test]
    fn malformed_unicode_escape_is_an_error() {
        let t = "a=1\nb=\\u12G4\n";
        let p = parse(F, t);
        let err = p.error.expect("error");
        assert_eq!(at(t, err.span), "\\u");
        assert!(err.message.contains("\\uXXXX"));
        assert!(p.docs.is_empty());
    }

    #[test]
    fn non_ascii_crlf_bom_and_lone_cr() {
        let t = "\u{feff}# café ☕\r\nname=naïve ☕  \r\nport = 5432\rlast:1";
        assert_eq!(
            entries(t),
            [
                e("name", "naïve ☕  ", "name", "naïve ☕"),
                e("port", "5432", "port", "5432"),
                e("last", "1", "last", "1"),
            ]
        );
        let t = "a=x\\\r\n  y\r\n";
        assert_eq!(entries(t), [e("a", "xy", "a", "x\\\r\n  y")]);
    }

    #[test]
    fn duplicates_are_reported_and_last_wins() {
        let t = "pool=5\nother=1\npool = 10\npool:15\n";
        let p = doc(t);
        assert_eq!(p.docs[0].get("pool").unwrap().as_i64(), Some(15));
        let d: Vec<_> = p
            .duplicates
            .iter()
            .map(|d| (d.key.as_str(), d.span.start, d.first.start))
            .collect();
        assert_eq!(d, [("pool", 15, 0), ("pool", 25, 0)]);
    }

    #[test]
    fn empty_file_is_an_empty_map() {
        for t in ["", "\n\n", "# only\n", "\u{feff}"] {
            let p = doc(t);
            assert_eq!(p.docs[0].as_map().unwrap().len(), 0);
        }
    }

    #[test]
    fn doc_span_and_flatten_keep_dotted_keys() {
        let t = "\n a.b.c=1\nx.y=2\n";
        let p = doc(t);
        assert_eq!(at(t, p.docs[0].span), "a.b.c=1\nx.y=2");
        let flat: Vec<_> = p.docs[0].flatten().into_iter().map(|(k, _)| k).collect();
        assert_eq!(flat, ["a.b.c", "x.y"]);
    }
}
