//! Parsers for every input format, all producing one spanned value tree ([`Node`]).
//!
//! Scalars are kept as text with their style; interpretation (`"20"` is 20, YAML 1.1 `on` is
//! true, `0755` is octal) happens in the accessors, so every format shares one set of rules.

pub mod dotenv;
pub mod ini;
pub mod json;
pub mod properties;
pub mod text;
pub mod toml;
pub mod yaml;

pub use text::Text;

use crate::source::{FileId, Span};

/// Limits that keep hostile input bounded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Deepest nesting of collections.
    pub max_depth: usize,
    /// Most nodes a file may produce, counting alias expansion.
    pub max_nodes: usize,
    /// Most nodes alias expansion may add to a file (billion-laughs guard; real manifests
    /// expand a few anchors, never hundreds of thousands of nodes).
    pub max_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 64 * 1024 * 1024,
            max_depth: 256,
            max_nodes: 16_000_000,
            max_alias_nodes: 100_000,
        }
    }
}

/// How a scalar was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Unquoted (YAML plain, JSON/TOML number, bool or null).
    Plain,
    /// Quoted or otherwise explicitly a string (YAML quoted/block, JSON/TOML strings,
    /// properties and .env values).
    Quoted,
}

/// A scalar: its text and how it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The decoded text (escapes resolved, quotes removed).
    pub text: Text,
    /// How it was written.
    pub style: Style,
}

/// The value of a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar of any type.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in source order. Duplicate keys are kept; lookups take the last.
    Map(Vec<(Node, Node)>),
}

/// A value with the span it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the value is written (for scalars: the value only, quotes included).
    pub span: Span,
    /// The value.
    pub value: Value,
}

/// A parse problem that makes a file unusable (syntax, limits).
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    /// Where the problem is.
    pub span: Span,
    /// One-line description.
    pub message: String,
}

/// A duplicate mapping key: the later value wins silently in most consumers.
#[derive(Clone, Debug, PartialEq)]
pub struct DuplicateKey {
    /// The key text.
    pub key: String,
    /// The later (winning) occurrence.
    pub span: Span,
    /// The earlier occurrence.
    pub first: Span,
}

/// The documents of one file, or why there are none.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Top-level documents (YAML streams may hold several; other formats hold one).
    pub docs: Vec<Node>,
    /// Duplicate keys seen anywhere in the file.
    pub duplicates: Vec<DuplicateKey>,
    /// A fatal problem; `docs` holds what was read before it (possibly nothing).
    pub error: Option<ParseError>,
}

/// Which parser reads a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML (multi-document).
    Yaml,
    /// Strict JSON.
    Json,
    /// TOML.
    Toml,
    /// Java `.properties`.
    Properties,
    /// `.env` files.
    Dotenv,
    /// INI files (`pgbouncer.ini`, `my.cnf`, `php-fpm` pools, `postgresql.conf`).
    Ini,
}

impl Format {
    /// Picks a format from a file name, if it is one poolguard reads.
    pub fn from_path(path: &str) -> Option<Format> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        match ext {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            "properties" => Some(Format::Properties),
            "ini" | "cnf" | "conf" => Some(Format::Ini),
            "env" => Some(Format::Dotenv),
            _ if lower == ".env" || lower.starts_with(".env.") => Some(Format::Dotenv),
            _ => None,
        }
    }
}

/// Parses `text` (the whole of file `file`) in the given format.
pub fn parse(format: Format, file: FileId, text: &str, limits: &Limits) -> Parsed {
    match format {
        Format::Yaml => yaml::parse(file, text, limits),
        Format::Json => json::parse(file, text, limits),
        Format::Toml => toml::parse(file, text, limits),
        Format::Properties => properties::parse(file, text),
        Format::Dotenv => dotenv::parse(file, text),
        Format::Ini => ini::parse(file, text),
    }
}

impl Node {
    /// Builds a node.
    pub fn new(span: Span, value: Value) -> Node {
        Node { span, value }
    }

    /// A scalar node.
    pub fn scalar(span: Span, text: impl Into<Text>, style: Style) -> Node {
        Node {
            span,
            value: Value::Scalar(Scalar {
                text: text.into(),
                style,
            }),
        }
    }

    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar that is not null. Numbers and booleans give their text.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) if !s.is_null() => Some(&s.text),
            _ => None,
        }
    }

    /// Integer value: plain or quoted decimal (`"20"` is 20), YAML 1.1 octal `0755`, `0o`/`0x`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_scalar().and_then(Scalar::as_i64)
    }

    /// Boolean value, reading YAML 1.1 forms (`yes`, `on`, …) of plain scalars the way
    /// Kubernetes does; quoted `"true"`/`"false"` also count.
    pub fn as_bool(&self) -> Option<bool> {
        self.as_scalar().and_then(Scalar::as_bool)
    }

    /// The entries of a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items of a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is a null scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.is_null())
    }

    /// The value under `key` in a mapping (the last one when a key repeats).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, v)| v)
    }

    /// The key node and value node under `key` in a mapping (the last one when a key repeats).
    pub fn get_entry(&self, key: &str) -> Option<(&Node, &Node)> {
        let m = self.as_map()?;
        m.iter()
            .rev()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
            .map(|(k, v)| (k, v))
    }

    /// Follows a path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    /// Every scalar leaf with its dotted key path (`a.b[0].c`), in source order. Keys that
    /// themselves contain dots are kept as written, which is what Spring and Quarkus expect of
    /// flat `.properties` files.
    pub fn flatten(&self) -> Vec<(String, &Node)> {
        let mut out = Vec::new();
        self.any_leaf(&mut |key, node| {
            out.push((key.to_string(), node));
            false
        });
        out
    }

    /// Visits the scalar leaves as [`Node::flatten`] lists them, with the key path in one
    /// buffer (no string per leaf), until `visit` returns true; returns whether it did.
    /// Nesting is bounded by the parsers' depth limit.
    pub fn any_leaf<'n>(&'n self, visit: &mut dyn FnMut(&str, &'n Node) -> bool) -> bool {
        fn walk<'n>(
            node: &'n Node,
            key: &mut String,
            visit: &mut dyn FnMut(&str, &'n Node) -> bool,
        ) -> bool {
            let len = key.len();
            let hit = match &node.value {
                Value::Scalar(_) => visit(key, node),
                Value::Seq(items) => items.iter().enumerate().any(|(i, item)| {
                    key.truncate(len);
                    key.push('[');
                    key.push_str(&i.to_string());
                    key.push(']');
                    walk(item, key, visit)
                }),
                Value::Map(entries) => entries.iter().any(|(k, v)| {
                    key.truncate(len);
                    if len > 0 {
                        key.push('.');
                    }
                    key.push_str(k.as_str().unwrap_or(""));
                    walk(v, key, visit)
                }),
            };
            key.truncate(len);
            hit
        }
        walk(self, &mut String::new(), visit)
    }
}

impl Scalar {
    /// Whether this is a null (`~`, `null`, empty plain scalar).
    pub fn is_null(&self) -> bool {
        self.style == Style::Plain
            && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }

    /// Integer value; see [`Node::as_i64`]. YAML 1.1 octal applies to plain scalars only:
    /// a quoted `"010"` is ten.
    pub fn as_i64(&self) -> Option<i64> {
        let t = self.text.trim();
        if self.style == Style::Quoted && t.len() > 1 && t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse().ok();
        }
        parse_int(t)
    }

    /// Boolean value; see [`Node::as_bool`].
    pub fn as_bool(&self) -> Option<bool> {
        let t = self.text.trim();
        match t {
            "true" | "True" | "TRUE" => return Some(true),
            "false" | "False" | "FALSE" => return Some(false),
            _ => {}
        }
        if self.style != Style::Plain {
            return None;
        }
        match t {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
            _ => None,
        }
    }
}

/// Parses an integer the way a Kubernetes or config reader would accept it.
pub fn parse_int(t: &str) -> Option<i64> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if body.is_empty() {
        return None;
    }
    let body_clean: String = body.chars().filter(|&c| c != '_').collect();
    let v = if let Some(h) = body_clean.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body_clean.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if body_clean.len() > 1
        && body_clean.starts_with('0')
        && body_clean.bytes().all(|b| b.is_ascii_digit())
    {
        // YAML 1.1 octal, as read by the Kubernetes API server.
        i64::from_str_radix(&body_clean[1..], 8).ok()?
    } else if body_clean.bytes().all(|b| b.is_ascii_digit()) {
        body_clean.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(t: &str, style: Style) -> Scalar {
        Scalar {
            text: t.into(),
            style,
        }
    }

    #[test]
    fn numbers_written_as_strings_are_numbers() {
        assert_eq!(sc("20", Style::Quoted).as_i64(), Some(20));
        assert_eq!(sc(" 20 ", Style::Plain).as_i64(), Some(20));
        assert_eq!(sc("0755", Style::Plain).as_i64(), Some(493));
        assert_eq!(sc("010", Style::Quoted).as_i64(), Some(10));
        assert_eq!(sc("0x1f", Style::Plain).as_i64(), Some(31));
        assert_eq!(sc("-3", Style::Plain).as_i64(), Some(-3));
        assert_eq!(sc("25%", Style::Plain).as_i64(), None);
        assert_eq!(sc("1e3", Style::Plain).as_i64(), None);
    }

    #[test]
    fn yaml11_booleans_only_when_plain() {
        assert_eq!(sc("on", Style::Plain).as_bool(), Some(true));
        assert_eq!(sc("on", Style::Quoted).as_bool(), None);
        assert_eq!(sc("false", Style::Quoted).as_bool(), Some(false));
    }

    #[test]
    fn formats_from_names() {
        assert_eq!(Format::from_path("a/b/values.YAML"), Some(Format::Yaml));
        assert_eq!(Format::from_path(".env"), Some(Format::Dotenv));
        assert_eq!(Format::from_path(".env.production"), Some(Format::Dotenv));
        assert_eq!(Format::from_path("pgbouncer.ini"), Some(Format::Ini));
        assert_eq!(Format::from_path("main.rs"), None);
    }
}
