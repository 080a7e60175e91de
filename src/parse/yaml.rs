//! YAML: saphyr-parser events turned into spanned [`Node`] trees.
//!
//! The tree is built with an explicit stack (never recursion), so hostile nesting cannot
//! overflow the Rust stack, and the event iterator is abandoned at the first problem.
//!
//! Span rules (all byte offsets into the original text):
//! - saphyr reports positions in characters; [`CharOffsets`] converts them to bytes.
//! - Node properties (`&anchor`, `!tag`) are not part of a node's span.
//! - Quoted scalars: saphyr's end overshoots over trailing blanks and comments, so the end is
//!   recomputed by scanning for the closing quote.
//! - Plain scalars: trailing whitespace is trimmed.
//! - Block scalars (`|`, `>`): the span starts at the first content line (the header line with
//!   the indicator is not included, matching what saphyr reports without properties) and ends
//!   at the last non-blank content character.
//! - Collections: flow collections cover their brackets; block collections run from their
//!   first token to the end of their last child.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan, Tag};

use super::{DuplicateKey, Limits, Node, ParseError, Parsed, Scalar, Style, Text, Value};
use crate::source::{FileId, Span};

/// Parses a YAML stream; every document with content becomes one entry of `docs`.
///
/// Aliases are expanded (counted against [`Limits::max_nodes`]), merge keys (`<<`) are
/// applied, and duplicate keys are reported. Documents that hold nothing at all (a bare `---`,
/// a comment-only file) are skipped; an explicit `~`/`null` document is kept.
pub fn parse(file: FileId, text: &str, limits: &Limits) -> Parsed {
    Builder::new(file, text, *limits).run()
}

/// Deepest flow nesting saphyr accepts.
const SAPHYR_FLOW_LIMIT: usize = 255;

/// Converts saphyr's character indices to byte offsets.
///
/// ASCII text needs no table. Otherwise the table holds one entry per run of consecutive
/// non-ASCII characters of the same UTF-8 length (a word of Cyrillic, a line of CJK, a lone
/// `é`), so a lookup is one binary search and the table stays small.
struct CharOffsets {
    runs: Vec<Run>,
    len: usize,
}

/// Consecutive characters that each take `1 + extra` bytes.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// Character index of the first character.
    start: u32,
    /// Number of characters.
    len: u32,
    /// Extra bytes of each character (1 to 3).
    extra: u32,
    /// Extra bytes of all the characters before the run.
    before: u32,
}

impl CharOffsets {
    fn new(text: &str) -> CharOffsets {
        let mut runs: Vec<Run> = Vec::new();
        if !text.is_ascii() {
            let mut before = 0u32;
            for (ci, c) in text.chars().enumerate() {
                let extra = c.len_utf8() as u32 - 1;
                if extra == 0 {
                    continue;
                }
                let ci = ci as u32;
                match runs.last_mut() {
                    Some(r) if r.extra == extra && r.start + r.len == ci => r.len += 1,
                    _ => runs.push(Run {
                        start: ci,
                        len: 1,
                        extra,
                        before,
                    }),
                }
                before += extra;
            }
        }
        CharOffsets {
            runs,
            len: text.len(),
        }
    }

    /// Byte offset of character index `ci` (clamped to the text length).
    fn byte(&self, ci: usize) -> usize {
        let k = self.runs.partition_point(|r| (r.start as usize) < ci);
        let extra = match k.checked_sub(1).map(|i| self.runs[i]) {
            None => 0,
            Some(r) => {
                let inside = (ci - r.start as usize).min(r.len as usize);
                r.before as usize + inside * r.extra as usize
            }
        };
        (ci + extra).min(self.len)
    }
}

/// A value under construction: an open collection. Its children so far are
/// `Builder::items[base..]` (for maps: key, value, key, value, …), so each collection is
/// allocated once, at its exact size, when it closes.
struct Frame {
    kind: FrameKind,
    /// Where its children start in `Builder::items`.
    base: usize,
    /// Byte offset where the collection starts (after its properties).
    start: usize,
    /// Whether it is a flow collection (`[…]`, `{…}`), whose end is its closing bracket.
    flow: bool,
    /// Anchor id to register when the collection completes (0: none).
    anchor: usize,
    /// Nodes in the subtree so far, this collection included.
    count: usize,
    /// Collection nesting of the subtree (1 for a collection of scalars).
    height: usize,
    /// Largest end offset of the children written so far (block collections end there).
    last_end: usize,
}

enum FrameKind {
    Seq,
    Map {
        /// Whether some key is a merge key (`<<`).
        merges: bool,
    },
}

/// A completed node with the bookkeeping its parent needs.
struct Done {
    node: Node,
    count: usize,
    height: usize,
    /// Where the node is written in the source (an alias's own span, not its anchor's).
    written_end: usize,
}

/// An anchored node, kept so aliases can be expanded.
struct Anchored {
    node: Node,
    count: usize,
    height: usize,
}

struct Builder<'t> {
    file: FileId,
    text: &'t str,
    limits: Limits,
    offsets: CharOffsets,
    stack: Vec<Frame>,
    /// Children of the open collections, innermost last (see [`Frame`]).
    items: Vec<Node>,
    anchors: HashMap<usize, Anchored>,
    /// Nodes produced so far in the whole stream, alias expansion included.
    nodes: usize,
    /// Nodes produced by alias expansion alone.
    alias_nodes: usize,
    /// The current document's root once complete, and whether it is an implicit empty null.
    root: Option<(Node, bool)>,
    out: Parsed,
}

impl<'t> Builder<'t> {
    fn new(file: FileId, text: &'t str, limits: Limits) -> Builder<'t> {
        Builder {
            file,
            text,
            limits,
            offsets: CharOffsets::new(text),
            stack: Vec::new(),
            items: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            alias_nodes: 0,
            root: None,
            out: Parsed::default(),
        }
    }

    fn run(mut self) -> Parsed {
        // A leading BOM needs no special care: saphyr skips it and counts it as one character,
        // which the offset table turns into its three bytes.
        for item in Parser::new_from_str(self.text) {
            let step = match item {
                Ok((event, span)) => self.event(event, span),
                Err(e) => {
                    let at = self.offsets.byte(e.marker().index());
                    // `info()` is saphyr's message without its own " at byte … line …" suffix;
                    // the location is rendered from the span instead.
                    if e.info() == "recursion limit exceeded" {
                        // saphyr counts flow nesting in a `u8` and refuses a 256th level. Its
                        // scanner reads ahead of the events, so this can arrive before our own
                        // depth check fires, at the 256th bracket rather than the first one
                        // past our limit.
                        let depth = self.limits.max_depth.min(SAPHYR_FLOW_LIMIT);
                        let message = format!("nesting deeper than {depth} levels");
                        Err(self.error_at(at, &message))
                    } else {
                        Err(self.error_at(at, e.info()))
                    }
                }
            };
            match step {
                Ok(true) => {}
                Ok(false) => break,
                Err(err) => {
                    self.out.error = Some(err);
                    break;
                }
            }
        }
        self.out
    }

    /// Handles one event; `Ok(false)` once the stream has ended.
    fn event(&mut self, event: Event<'_>, span: YSpan) -> Result<bool, ParseError> {
        let start = self.offsets.byte(span.start.index());
        let end = self.offsets.byte(span.end.index()).max(start);
        match event {
            Event::StreamEnd => return Ok(false),
            Event::StreamStart | Event::Nothing => {}
            Event::DocumentStart(_) => self.root = None,
            Event::DocumentEnd => {
                if let Some((node, implicit_null)) = self.root.take()
                    && !implicit_null
                {
                    self.out.docs.push(node);
                }
            }
            Event::Alias(id) => self.alias(id, start, end)?,
            Event::Scalar(value, style, anchor, tag) => {
                self.count_nodes(1, start)?;
                let has_props = anchor > 0 || tag.is_some();
                let (s, e) = self.scalar_span(style, value.is_empty(), has_props, start, end);
                let quoted = style != ScalarStyle::Plain || tag.as_deref().is_some_and(is_str_tag);
                let implicit_null = value.is_empty() && !has_props && style == ScalarStyle::Plain;
                let node = Node::new(
                    self.span(s, e),
                    Value::Scalar(Scalar {
                        text: Text::from(&*value),
                        style: if quoted { Style::Quoted } else { Style::Plain },
                    }),
                );
                let done = Done {
                    node,
                    count: 1,
                    height: 0,
                    written_end: e,
                };
                self.complete(done, anchor, implicit_null);
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                let s = if anchor > 0 || tag.is_some() {
                    skip_properties(self.text.as_bytes(), start)
                } else {
                    start
                };
                if self.stack.len() >= self.limits.max_depth {
                    let message = format!("nesting deeper than {} levels", self.limits.max_depth);
                    return Err(self.error_at(s, &message));
                }
                self.count_nodes(1, s)?;
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    FrameKind::Seq
                } else {
                    FrameKind::Map { merges: false }
                };
                self.stack.push(Frame {
                    kind,
                    base: self.items.len(),
                    start: s,
                    flow: matches!(self.text.as_bytes().get(s), Some(b'[' | b'{')),
                    anchor,
                    count: 1,
                    height: 1,
                    last_end: s,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(true);
                };
                let (done, anchor) = self.close(frame, start);
                self.complete(done, anchor, false);
            }
        }
        Ok(true)
    }

    /// Expands an alias by cloning its anchored node, within the node and depth limits.
    fn alias(&mut self, id: usize, start: usize, end: usize) -> Result<(), ParseError> {
        let Some(anchored) = self.anchors.get(&id) else {
            // saphyr rejects unknown anchors itself, so this is an alias inside its own anchor.
            return Err(self.error_at(
                start,
                "alias refers to an anchor that is still being defined",
            ));
        };
        let (count, height) = (anchored.count, anchored.height);
        if self.alias_nodes.saturating_add(count) > self.limits.max_alias_nodes
            || self.nodes.saturating_add(count) > self.limits.max_nodes
        {
            let message = format!(
                "alias expansion exceeds {} nodes (possible billion-laughs)",
                self.limits.max_alias_nodes.min(self.limits.max_nodes)
            );
            return Err(self.error_at(start, &message));
        }
        self.alias_nodes += count;
        if self.stack.len() + height > self.limits.max_depth {
            let message = format!("nesting deeper than {} levels", self.limits.max_depth);
            return Err(self.error_at(start, &message));
        }
        self.nodes += count;
        let node = anchored.node.clone();
        let done = Done {
            node,
            count,
            height,
            written_end: end,
        };
        self.complete(done, 0, false);
        Ok(())
    }

    fn count_nodes(&mut self, n: usize, at: usize) -> Result<(), ParseError> {
        self.nodes += n;
        if self.nodes > self.limits.max_nodes {
            let message = format!("more than {} nodes", self.limits.max_nodes);
            return Err(self.error_at(at, &message));
        }
        Ok(())
    }

    /// The byte span of a scalar's value; see the module docs for the rules.
    fn scalar_span(
        &self,
        style: ScalarStyle,
        empty: bool,
        has_props: bool,
        start: usize,
        end: usize,
    ) -> (usize, usize) {
        let bytes = self.text.as_bytes();
        let s = if has_props {
            skip_properties(bytes, start)
        } else {
            start
        };
        match style {
            ScalarStyle::Plain if empty => {
                // An empty value (`key:`): an empty span where saphyr put it, after any
                // properties (`key: !!str`) but not on the next line.
                let e = trim_end(bytes, start, end);
                (e, e)
            }
            ScalarStyle::Plain => (s, trim_end(bytes, s, end.max(s))),
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                match closing_quote(bytes, s) {
                    Some(e) => (s, e),
                    None => (s, trim_end(bytes, s, end.max(s))),
                }
            }
            ScalarStyle::Literal | ScalarStyle::Folded => {
                let mut s = s;
                if matches!(bytes.get(s), Some(b'|' | b'>')) {
                    // With properties (or empty content) saphyr starts at the indicator: move
                    // to the content, where it starts otherwise.
                    while s < bytes.len() && bytes[s] != b'\n' {
                        s += 1;
                    }
                    s = (s + 1).min(bytes.len());
                    while s < bytes.len() && bytes[s] == b' ' {
                        s += 1;
                    }
                }
                (s, trim_end(bytes, s, end.max(s)))
            }
        }
    }

    /// Finishes a collection: computes its span, reports duplicates, applies merge keys.
    /// Returns the node and its anchor id.
    fn close(&mut self, frame: Frame, end_event_start: usize) -> (Done, usize) {
        let bytes = self.text.as_bytes();
        let end = if frame.flow && matches!(bytes.get(end_event_start), Some(b']' | b'}')) {
            end_event_start + 1
        } else {
            frame.last_end
        };
        let value = match frame.kind {
            FrameKind::Seq => Value::Seq(self.items.drain(frame.base..).collect()),
            FrameKind::Map { merges } => {
                let n = self.items.len() - frame.base;
                let mut entries = Vec::with_capacity(n.div_ceil(2));
                let mut children = self.items.drain(frame.base..);
                while let Some(key) = children.next() {
                    let value = children.next().unwrap_or_else(|| {
                        // saphyr always pairs keys with values; keep a dangling key as
                        // `key: null`.
                        let at = key.span.end as usize;
                        Node::scalar(Span::new(self.file, at, at), "", Style::Plain)
                    });
                    entries.push((key, value));
                }
                drop(children);
                find_duplicates(&entries, merges, &mut self.out.duplicates);
                if merges {
                    entries = apply_merges(entries);
                }
                Value::Map(entries)
            }
        };
        let done = Done {
            node: Node::new(self.span(frame.start, end), value),
            count: frame.count,
            height: frame.height,
            written_end: end,
        };
        (done, frame.anchor)
    }

    /// Registers an anchor and hands a completed node to its parent (or the document).
    fn complete(&mut self, done: Done, anchor: usize, implicit_null: bool) {
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    node: done.node.clone(),
                    count: done.count,
                    height: done.height,
                },
            );
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some((done.node, implicit_null));
            return;
        };
        parent.count += done.count;
        parent.height = parent.height.max(done.height + 1);
        parent.last_end = parent.last_end.max(done.written_end);
        if let FrameKind::Map { merges } = &mut parent.kind
            && (self.items.len() - parent.base).is_multiple_of(2)
        {
            // A key.
            *merges |= is_merge_key(&done.node);
        }
        self.items.push(done.node);
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    /// An error covering the character at byte `at` (empty at the end of the text).
    fn error_at(&self, at: usize, message: &str) -> ParseError {
        let at = at.min(self.text.len());
        let len = self.text[at..].chars().next().map_or(0, char::len_utf8);
        ParseError {
            span: self.span(at, at + len),
            message: message.to_string(),
        }
    }
}

/// `!!str` (and the non-specific `!`) make a scalar a string however it is written.
fn is_str_tag(tag: &Tag) -> bool {
    (tag.is_yaml_core_schema() && tag.suffix == "str")
        || (tag.handle == "!" && tag.suffix.is_empty())
}

fn is_merge_key(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar(s) if s.style == Style::Plain && s.text == "<<")
}

/// Applies merge keys: the entries of the merged maps are added where the `<<` entry was,
/// unless the key is written explicitly in this map (explicit keys win wherever they are) or
/// came from an earlier merged map. A `<<` whose value is not a map or a list of maps is kept
/// as an ordinary entry.
fn apply_merges(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let mut seen: HashSet<Text> = entries
        .iter()
        .filter(|(k, _)| !is_merge_key(k))
        .filter_map(|(k, _)| k.as_scalar().map(|s| s.text.clone()))
        .collect();
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        if !is_merge_key(&key) {
            out.push((key, value));
            continue;
        }
        let sources: Vec<Vec<(Node, Node)>> = match value.value {
            Value::Map(map) => vec![map],
            Value::Seq(items) if items.iter().all(|i| i.as_map().is_some()) => items
                .into_iter()
                .filter_map(|i| match i.value {
                    Value::Map(map) => Some(map),
                    _ => None,
                })
                .collect(),
            other => {
                out.push((key, Node::new(value.span, other)));
                continue;
            }
        };
        for source in sources {
            // Keys of one merged map are marked seen only after the whole map, so a map
            // that itself repeats a key passes both on (lookups still take its last).
            let mut added = Vec::new();
            for (k, v) in source {
                if let Some(s) = k.as_scalar() {
                    if seen.contains(&s.text) {
                        continue;
                    }
                    added.push(s.text.clone());
                }
                out.push((k, v));
            }
            seen.extend(added);
        }
    }
    out
}

/// Reports keys of one mapping that repeat an earlier key (compared by scalar text), each
/// against the first occurrence, in source order. Non-scalar keys are never duplicates.
/// With `skip_merge_keys`, YAML merge keys (`<<`, which may legitimately repeat) are ignored.
///
/// Shared by the other parsers of this module.
pub(super) fn find_duplicates(
    entries: &[(Node, Node)],
    skip_merge_keys: bool,
    out: &mut Vec<DuplicateKey>,
) {
    // Compared as bytes: the same order and equality as the text, without re-checking UTF-8.
    let key = |i: usize| -> Option<&[u8]> {
        let k = &entries[i].0;
        if skip_merge_keys && is_merge_key(k) {
            return None;
        }
        k.as_scalar().map(|s| s.text.as_bytes())
    };
    let report = |out: &mut Vec<DuplicateKey>, first: usize, later: usize| {
        out.push(DuplicateKey {
            key: entries[later]
                .0
                .as_scalar()
                .map(|s| s.text.to_string())
                .unwrap_or_default(),
            span: entries[later].0.span,
            first: entries[first].0.span,
        });
    };
    if entries.len() <= 16 {
        // Small maps (nearly all of them): quadratic but allocation-free.
        for later in 1..entries.len() {
            let Some(k) = key(later) else { continue };
            if let Some(first) = (0..later).find(|&i| key(i) == Some(k)) {
                report(out, first, later);
            }
        }
        return;
    }
    let mut order: Vec<usize> = (0..entries.len()).filter(|&i| key(i).is_some()).collect();
    order.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)).then(a.cmp(&b)));
    let before = out.len();
    for group in order.chunk_by(|&a, &b| key(a) == key(b)) {
        for &later in &group[1..] {
            report(out, group[0], later);
        }
    }
    out[before..].sort_by_key(|d| d.span.start);
}

/// Skips node properties (`&anchor`, `!tag`, `!<verbatim>`) and the blanks, line breaks and
/// comments after them; `p` must be at the first property.
fn skip_properties(bytes: &[u8], mut p: usize) -> usize {
    let len = bytes.len();
    // A node has at most one anchor and one tag.
    for _ in 0..2 {
        match bytes.get(p) {
            Some(b'!') if bytes.get(p + 1) == Some(&b'<') => {
                while p < len && bytes[p] != b'>' {
                    p += 1;
                }
                p = (p + 1).min(len);
            }
            Some(b'!') => {
                while p < len && !is_blank_or_break(bytes[p]) {
                    p += 1;
                }
            }
            Some(b'&') => {
                while p < len && !is_blank_or_break(bytes[p]) && !b",[]{}".contains(&bytes[p]) {
                    p += 1;
                }
            }
            _ => break,
        }
        loop {
            while p < len && is_blank_or_break(bytes[p]) {
                p += 1;
            }
            if bytes.get(p) != Some(&b'#') {
                break;
            }
            while p < len && bytes[p] != b'\n' {
                p += 1;
            }
        }
    }
    p
}

fn is_blank_or_break(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// End (exclusive) of the quoted scalar whose opening quote is at `s`; quoted scalars may span
/// lines. `None` if `s` is not a quote or the quote is not closed.
fn closing_quote(bytes: &[u8], s: usize) -> Option<usize> {
    let quote = *bytes.get(s)?;
    let mut i = s + 1;
    match quote {
        b'"' => {
            while i < bytes.len() {
                match bytes[i] {
                    // An escape: the next byte cannot close the scalar. Skipping one byte of a
                    // multi-byte character is harmless, continuation bytes are never quotes.
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    _ => i += 1,
                }
            }
        }
        b'\'' => {
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2; // `''` is an escaped quote
                        continue;
                    }
                    return Some(i + 1);
                }
                i += 1;
            }
        }
        _ => {}
    }
    None
}

/// `end` moved back over trailing whitespace and line breaks, not before `start`.
fn trim_end(bytes: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && is_blank_or_break(bytes[end - 1]) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const F: FileId = FileId(7);

    fn parse_ok(text: &str) -> Vec<Node> {
        let p = parse(F, text, &Limits::default());
        assert!(p.error.is_none(), "unexpected error {:?}", p.error);
        p.docs
    }

    fn one(text: &str) -> Node {
        let mut docs = parse_ok(text);
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.remove(0)
    }

    fn at<'a>(text: &'a str, n: &Node) -> &'a str {
        assert_eq!(n.span.file, F);
        &text[n.span.start as usize..n.span.end as usize]
    }

    fn err(text: &str, limits: &Limits) -> ParseError {
        parse(F, text, limits).error.expect("expected an error")
    }

    #[test]
    fn plain_and_quoted_scalars_with_spans() {
        let t = "a: 1\nb: \"x\\\" y\"   # c\nc: 'it''s' # z\nd: plain  text   # d\ne: ~\n";
        let d = one(t);
        assert_eq!(at(t, d.get("a").unwrap()), "1");
        assert_eq!(d.get("a").unwrap().as_i64(), Some(1));
        let b = d.get("b").unwrap();
        assert_eq!(at(t, b), "\"x\\\" y\"");
        assert_eq!(
            b.as_scalar().unwrap(),
            &Scalar {
                text: "x\" y".into(),
                style: Style::Quoted
            }
        );
        let c = d.get("c").unwrap();
        assert_eq!(at(t, c), "'it''s'");
        assert_eq!(c.as_str(), Some("it's"));
        let dd = d.get("d").unwrap();
        assert_eq!(at(t, dd), "plain  text");
        assert_eq!(dd.as_scalar().unwrap().style, Style::Plain);
        assert!(d.get("e").unwrap().is_null());
        let (k, _) = d.get_entry("c").unwrap();
        assert_eq!(at(t, k), "c");
        assert_eq!(at(t, &d), t.trim_end());
    }

    #[test]
    fn quoted_scalars_in_flow_context_and_across_lines() {
        let t = "a: [ 'x' , \"y\" ]   # t\nb: \"one\n  two\" # c\nc: {k: 'v' }\n";
        let d = one(t);
        let a = d.get("a").unwrap();
        assert_eq!(at(t, a), "[ 'x' , \"y\" ]");
        let items = a.as_seq().unwrap();
        assert_eq!(at(t, &items[0]), "'x'");
        assert_eq!(at(t, &items[1]), "\"y\"");
        let b = d.get("b").unwrap();
        assert_eq!(at(t, b), "\"one\n  two\"");
        assert_eq!(b.as_str(), Some("one two"));
        assert_eq!(at(t, d.path(&["c", "k"]).unwrap()), "'v'");
        assert_eq!(at(t, d.get("c").unwrap()), "{k: 'v' }");
    }

    #[test]
    fn non_ascii_before_values_gives_byte_offsets() {
        let t = "# café ☕ 日本\nname: \"naïve ☕\" # ok\nport: 5432\nlist: [é, 'ü']\n";
        let d = one(t);
        assert_eq!(at(t, d.get("name").unwrap()), "\"naïve ☕\"");
        assert_eq!(d.get("name").unwrap().as_str(), Some("naïve ☕"));
        assert_eq!(at(t, d.get("port").unwrap()), "5432");
        let list = d.get("list").unwrap().as_seq().unwrap();
        assert_eq!(at(t, &list[0]), "é");
        assert_eq!(at(t, &list[1]), "'ü'");
    }

    #[test]
    fn crlf_and_bom() {
        let t = "\u{feff}# café\r\na: \"q\" # c\r\nb: plain   \r\nc:\r\n  - x\r\n  - 'y'\r\n";
        let d = one(t);
        assert_eq!(at(t, d.get("a").unwrap()), "\"q\"");
        assert_eq!(at(t, d.get("b").unwrap()), "plain");
        let c = d.get("c").unwrap();
        assert_eq!(at(t, &c.as_seq().unwrap()[1]), "'y'");
        assert_eq!(at(t, c), "- x\r\n  - 'y'");
        let (k, _) = d.get_entry("a").unwrap();
        assert_eq!(at(t, k), "a");
    }

    #[test]
    fn block_scalars() {
        let t = "a: |\n  line1\n  line2\n\nb: &x >-\n  folded\n  text\nc: *x\nd: |\ne: 1\n";
        let d = one(t);
        let a = d.get("a").unwrap();
        assert_eq!(a.as_str(), Some("line1\nline2\n"));
        assert_eq!(a.as_scalar().unwrap().style, Style::Quoted);
        assert_eq!(at(t, a), "line1\n  line2");
        let b = d.get("b").unwrap();
        assert_eq!(b.as_str(), Some("folded text"));
        assert_eq!(at(t, b), "folded\n  text");
        assert_eq!(d.get("c").unwrap(), b);
        assert_eq!(d.get("d").unwrap().as_str(), Some(""));
        assert_eq!(d.get("e").unwrap().as_i64(), Some(1));
    }

    #[test]
    fn properties_are_not_part_of_spans() {
        let t = "a: &an \"x\" # c\nb: !!str 5\nc: !!int \"7\"\nd: &m\n  k: v\ne: &s [1]\nf: !!str\ng: 2\n";
        let d = one(t);
        assert_eq!(at(t, d.get("a").unwrap()), "\"x\"");
        let b = d.get("b").unwrap();
        assert_eq!(at(t, b), "5");
        assert_eq!(b.as_scalar().unwrap().style, Style::Quoted);
        assert_eq!(at(t, d.get("c").unwrap()), "\"7\"");
        assert_eq!(at(t, d.get("d").unwrap()), "k: v");
        assert_eq!(at(t, d.get("e").unwrap()), "[1]");
        let f = d.get("f").unwrap();
        assert_eq!(
            f.as_scalar().unwrap(),
            &Scalar {
                text: Text::default(),
                style: Style::Quoted
            }
        );
        assert_eq!(at(t, f), "");
    }

    #[test]
    fn empty_values_are_null_with_empty_spans() {
        let t = "a:\nb: 1\n";
        let d = one(t);
        let a = d.get("a").unwrap();
        assert!(a.is_null());
        assert_eq!(a.span.start, a.span.end);
    }

    #[test]
    fn multi_document_stream() {
        let t = "---\na: 1\n---\n# nothing here\n---\n- x\n...\n--- ~\n--- \"s\"\n";
        let docs = parse_ok(t);
        assert_eq!(docs.len(), 4);
        assert_eq!(docs[0].get("a").unwrap().as_i64(), Some(1));
        assert_eq!(at(t, &docs[1]), "- x");
        assert!(docs[2].is_null());
        assert_eq!(at(t, &docs[2]), "~");
        assert_eq!(at(t, &docs[3]), "\"s\"");
    }

    #[test]
    fn empty_and_comment_only_streams_have_no_docs() {
        for t in [
            "",
            "# just a comment\n",
            "---\n",
            "\u{feff}",
            "\n\n---\n---\n",
        ] {
            let p = parse(F, t, &Limits::default());
            assert!(p.error.is_none(), "{t:?}: {:?}", p.error);
            assert!(p.docs.is_empty(), "{t:?}: {:?}", p.docs);
        }
    }

    #[test]
    fn duplicate_keys_are_kept_and_reported() {
        let t = "a: 1\nb: 2\na: 3\nm: {x: 1, x: 2}\na: 4\n";
        let p = parse(F, t, &Limits::default());
        let d = &p.docs[0];
        assert_eq!(d.get("a").unwrap().as_i64(), Some(4));
        assert_eq!(d.as_map().unwrap().len(), 5);
        let dups: Vec<_> = p
            .duplicates
            .iter()
            .map(|x| (x.key.as_str(), x.span.start, x.span.end, x.first.start))
            .collect();
        // Inner maps complete first; every repeat points at the first occurrence.
        assert_eq!(
            dups,
            [("x", 25, 26, 19), ("a", 10, 11, 0), ("a", 31, 32, 0)]
        );
    }

    #[test]
    fn duplicates_in_large_maps() {
        let mut t = String::new();
        for i in 0..40 {
            t.push_str(&format!("k{i}: {i}\n"));
        }
        t.push_str("k3: again\nk1: again\nk3: thrice\n");
        let p = parse(F, &t, &Limits::default());
        let found: Vec<_> = p
            .duplicates
            .iter()
            .map(|d| {
                (
                    d.key.as_str(),
                    &t[d.first.start as usize..d.first.end as usize],
                )
            })
            .collect();
        assert_eq!(found, [("k3", "k3"), ("k1", "k1"), ("k3", "k3")]);
        assert!(
            p.duplicates
                .windows(2)
                .all(|w| w[0].span.start < w[1].span.start)
        );
        assert_eq!(p.duplicates[2].first.start, p.duplicates[0].first.start);
        assert_eq!(p.docs[0].get("k3").unwrap().as_str(), Some("thrice"));
    }

    #[test]
    fn merge_keys_as_in_rails_database_yml() {
        let t = "\
default: &default
  adapter: postgresql
  pool: 5
  timeout: 5000
development:
  pool: 10
  <<: *default
  database: dev
extra: &extra
  encoding: utf8
  pool: 7
both:
  <<: [*extra, *default]
  database: both
";
        let p = parse(F, t, &Limits::default());
        assert!(p.error.is_none());
        assert!(p.duplicates.is_empty(), "{:?}", p.duplicates);
        let d = &p.docs[0];
        let dev = d.get("development").unwrap();
        let keys: Vec<_> = dev
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap())
            .collect();
        assert_eq!(keys, ["pool", "adapter", "timeout", "database"]);
        assert_eq!(dev.get("pool").unwrap().as_i64(), Some(10));
        assert_eq!(at(t, dev.get("pool").unwrap()), "10");
        assert_eq!(dev.get("adapter").unwrap().as_str(), Some("postgresql"));
        let both = d.get("both").unwrap();
        assert_eq!(both.get("pool").unwrap().as_i64(), Some(7));
        assert_eq!(both.get("encoding").unwrap().as_str(), Some("utf8"));
        assert_eq!(both.get("adapter").unwrap().as_str(), Some("postgresql"));
        assert!(both.get("<<").is_none());
    }

    #[test]
    fn repeated_merge_keys_are_not_duplicates() {
        let t = "a: &a {x: 1}\nb: &b {y: 2, x: 3}\nc:\n  <<: *a\n  <<: *b\n";
        let p = parse(F, t, &Limits::default());
        assert!(p.duplicates.is_empty(), "{:?}", p.duplicates);
        let c = p.docs[0].get("c").unwrap();
        assert_eq!(c.as_map().unwrap().len(), 2);
        assert_eq!(c.get("x").unwrap().as_i64(), Some(1));
        assert_eq!(c.get("y").unwrap().as_i64(), Some(2));
    }

    #[test]
    fn quoted_merge_key_and_non_map_merge_are_ordinary_keys() {
        let d = one("a:\n  '<<': 1\n  <<: 2\n");
        let a = d.get("a").unwrap();
        assert_eq!(a.as_map().unwrap().len(), 2);
    }

    #[test]
    fn aliases_clone_the_anchored_subtree() {
        let t = "base: &b {x: 1, y: [a, b]}\ncopy: *b\n";
        let d = one(t);
        assert_eq!(d.get("copy").unwrap(), d.get("base").unwrap());
        assert_eq!(at(t, d.get("copy").unwrap()), "{x: 1, y: [a, b]}");
    }

    #[test]
    fn billion_laughs_is_rejected_quickly() {
        let mut t = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let refs = vec![format!("*{}", w[0]); 9].join(",");
            t.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
        }
        let limits = Limits {
            max_alias_nodes: 200_000,
            ..Limits::default()
        };
        let started = Instant::now();
        let e = err(&t, &limits);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            e.message,
            "alias expansion exceeds 200000 nodes (possible billion-laughs)"
        );
        assert_eq!(&t[e.span.start as usize..e.span.end as usize], "*");
        // The first alias of `e` fits, the second does not.
        assert!(t[..e.span.start as usize].ends_with("f: &f [*e,"));

        let started = Instant::now();
        let e = err(&t, &Limits::default());
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(
            e.message.contains("possible billion-laughs"),
            "{}",
            e.message
        );
    }

    #[test]
    fn recursive_alias_is_an_error() {
        // saphyr knows the anchor when the alias arrives, but the node is not complete.
        let p = parse(F, "a: &x [1, *x]\n", &Limits::default());
        if let Some(e) = p.error {
            assert!(!e.message.is_empty());
        } else {
            panic!("expected an error");
        }
    }

    #[test]
    fn deep_flow_nesting_is_rejected_without_overflow() {
        let t = "[".repeat(200_000);
        let started = Instant::now();
        let e = err(&t, &Limits::default());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(e.message, "nesting deeper than 255 levels");
        assert_eq!((e.span.start, e.span.end), (255, 256));

        // saphyr's read-ahead reaches its own limit (256 brackets) before our check fires.
        let limits = Limits {
            max_depth: 10,
            ..Limits::default()
        };
        let e = err(&t, &limits);
        assert_eq!(e.message, "nesting deeper than 10 levels");
        assert_eq!((e.span.start, e.span.end), (255, 256));

        // Shallower than saphyr's limit, our check places the error at the first bracket
        // past the limit.
        let t = format!("{}{}", "[".repeat(30), "]".repeat(30));
        let e = err(&t, &limits);
        assert_eq!(e.message, "nesting deeper than 10 levels");
        assert_eq!((e.span.start, e.span.end), (10, 11));
        assert!(parse(F, &t, &Limits::default()).error.is_none());
    }

    #[test]
    fn deep_block_nesting_is_rejected() {
        let mut t = String::new();
        for i in 0..40 {
            t.push_str(&" ".repeat(i));
            t.push_str("k:\n");
        }
        let limits = Limits {
            max_depth: 20,
            ..Limits::default()
        };
        let e = err(&t, &limits);
        assert_eq!(e.message, "nesting deeper than 20 levels");
        let line = t[..e.span.start as usize].matches('\n').count();
        assert_eq!(line, 20);
        assert!(parse(F, &t, &Limits::default()).error.is_none());
    }

    #[test]
    fn alias_depth_counts_toward_the_limit() {
        let t = "a: &a [[[1]]]\nb: [[*a]]\n";
        let limits = Limits {
            max_depth: 5,
            ..Limits::default()
        };
        let e = err(t, &limits);
        assert_eq!(e.message, "nesting deeper than 5 levels");
        assert_eq!(&t[e.span.start as usize..e.span.end as usize], "*");
        assert!(
            parse(
                F,
                t,
                &Limits {
                    max_depth: 6,
                    ..Limits::default()
                }
            )
            .error
            .is_none()
        );
    }

    #[test]
    fn node_limit_without_aliases() {
        let t = "[1, 2, 3, 4, 5, 6]";
        let e = err(
            t,
            &Limits {
                max_nodes: 4,
                ..Limits::default()
            },
        );
        assert_eq!(e.message, "more than 4 nodes");
        assert_eq!(&t[e.span.start as usize..e.span.end as usize], "4");
    }

    #[test]
    fn syntax_errors_have_locations_and_keep_earlier_docs() {
        let t = "a: 1\n---\nb: [1, 2\nc: 3\n";
        let p = parse(F, t, &Limits::default());
        let e = p.error.expect("error");
        assert_eq!(p.docs.len(), 1);
        assert_eq!(p.docs[0].get("a").unwrap().as_i64(), Some(1));
        assert_eq!(e.message, "illegal placement of ':' indicator");
        assert_eq!((e.span.start, e.span.end), (19, 20));

        let t = "a:\n  - x\n - y\n";
        let e = err(t, &Limits::default());
        assert_eq!(
            e.message,
            "while parsing a block mapping, did not find expected key"
        );
        assert_eq!(e.span.start, 10);

        let t = "# ☕\nkey: \"unterminated\n";
        let e = err(t, &Limits::default());
        assert!(e.message.contains("quoted scalar"), "{}", e.message);
        assert_eq!(&t[e.span.start as usize..e.span.end as usize], "\"");

        let t = "é: b: c\n";
        let e = err(t, &Limits::default());
        assert_eq!(e.message, "mapping values are not allowed in this context");
        assert_eq!(&t[e.span.start as usize..e.span.end as usize], ":");
    }

    #[test]
    fn complex_keys() {
        let t = "? [a, b]\n: v\n";
        let d = one(t);
        let (k, v) = &d.as_map().unwrap()[0];
        assert_eq!(k.as_seq().unwrap().len(), 2);
        assert_eq!(at(t, k), "[a, b]");
        assert_eq!(v.as_str(), Some("v"));
    }

    #[test]
    fn char_offsets_table() {
        for t in [
            "aé☕b𝄞c",
            "日本語のテキスト x ☕☕ é",
            "abc",
            "",
            "ééé",
            "текст на русском, ok",
        ] {
            let o = CharOffsets::new(t);
            let expected: Vec<usize> = t.char_indices().map(|(b, _)| b).chain([t.len()]).collect();
            let got: Vec<usize> = (0..expected.len()).map(|i| o.byte(i)).collect();
            assert_eq!(got, expected, "{t:?}");
            assert_eq!(o.byte(expected.len() + 5), t.len());
        }
        assert!(CharOffsets::new("abc").runs.is_empty());
        assert_eq!(CharOffsets::new("日本語のテキスト").runs.len(), 1);
        assert_eq!(CharOffsets::new("текст на русском").runs.len(), 3);
    }

    #[test]
    fn kubernetes_manifest() {
        let t = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api   # the API
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: app
          env:
            - name: DB_POOL_SIZE
              value: \"20\"
";
        let d = one(t);
        let c = &d
            .path(&["spec", "template", "spec", "containers"])
            .unwrap()
            .as_seq()
            .unwrap()[0];
        let env = &c.get("env").unwrap().as_seq().unwrap()[0];
        assert_eq!(env.get("value").unwrap().as_i64(), Some(20));
        assert_eq!(at(t, env.get("value").unwrap()), "\"20\"");
        assert_eq!(at(t, d.path(&["metadata", "name"]).unwrap()), "api");
        assert_eq!(d.path(&["spec", "replicas"]).unwrap().as_i64(), Some(3));
        let flat: Vec<_> = d.flatten().into_iter().map(|(k, _)| k).collect();
        assert!(flat.contains(&"spec.template.spec.containers[0].env[0].value".to_string()));
    }
}
