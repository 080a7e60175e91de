//! Shared body of the `parse_*` targets.

use poolguard::parse::{Format, Limits, Node, Parsed, Value, parse};
use poolguard::source::{FileId, Span};

/// Parses `data` (lossily decoded: the input layer rejects non-UTF-8 before any parser runs)
/// and checks that every span the parser returns can be used to slice the text.
pub fn check(format: Format, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Smaller limits than the defaults so the fuzzer reaches them with small inputs.
    let limits = Limits {
        max_file_bytes: 1 << 20,
        max_depth: 64,
        max_nodes: 100_000,
        max_alias_nodes: 10_000,
    };
    let parsed = parse(format, FileId(0), &text, &limits);
    spans_ok(&text, &parsed);
}

fn span_ok(text: &str, s: Span, what: &str) {
    let (a, b) = (s.start as usize, s.end as usize);
    assert!(
        a <= b && b <= text.len(),
        "{what} span {a}..{b} outside the text (len {})",
        text.len()
    );
    assert!(
        text.is_char_boundary(a) && text.is_char_boundary(b),
        "{what} span {a}..{b} splits a character"
    );
}

fn spans_ok(text: &str, p: &Parsed) {
    if let Some(e) = &p.error {
        span_ok(text, e.span, "error");
        assert!(!e.message.is_empty(), "empty error message");
    }
    for d in &p.duplicates {
        span_ok(text, d.span, "duplicate");
        span_ok(text, d.first, "duplicate first");
    }
    // Iterative walk: documents may be as deep as the depth limit.
    let mut stack: Vec<&Node> = p.docs.iter().collect();
    while let Some(n) = stack.pop() {
        span_ok(text, n.span, "node");
        match &n.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => stack.extend(items),
            Value::Map(entries) => {
                for (k, v) in entries {
                    stack.push(k);
                    stack.push(v);
                }
            }
        }
    }
}
