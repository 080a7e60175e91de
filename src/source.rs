//! Source files, byte spans and line/column lookup.
//!
//! Every value a rule may point at carries a [`Span`]: a file id plus a byte range. Line and
//! column are computed on demand from the file's line index, so spans stay two words wide. The
//! line index itself is built on first use: most files of a large run are never pointed at.

use std::sync::{Arc, OnceLock};

/// Index of a file in a [`SourceDb`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The file the range belongs to.
    pub file: FileId,
    /// First byte (inclusive).
    pub start: u32,
    /// Last byte (exclusive).
    pub end: u32,
}

impl Span {
    /// A span covering `start..end` of `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// An empty span at the start of `file`, for findings about a whole file.
    pub fn file_start(file: FileId) -> Span {
        Span {
            file,
            start: 0,
            end: 0,
        }
    }
}

impl Default for Span {
    /// An empty span at the start of file 0; only for placeholders that are overwritten.
    fn default() -> Self {
        Span::file_start(FileId(0))
    }
}

/// A value together with the span it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was read.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Pairs a value with its span.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// One file's text with its line index.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path as shown to users (relative to the current directory where possible).
    pub path: String,
    /// The text. Files that could not be decoded keep an empty text.
    pub text: Arc<str>,
    line_starts: OnceLock<Vec<u32>>,
    /// Byte ranges holding secret values (Secret data, passwords); renderers mask them.
    pub secrets: Vec<(u32, u32)>,
}

impl SourceFile {
    /// A file; its line index is built when first needed.
    pub fn new(path: String, text: Arc<str>) -> SourceFile {
        SourceFile {
            path,
            text,
            line_starts: OnceLock::new(),
            secrets: Vec::new(),
        }
    }

    /// Byte offsets where lines start.
    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0u32];
            starts.extend(
                self.text
                    .bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i as u32 + 1),
            );
            starts
        })
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = offset.min(self.text.len() as u32);
        let line_starts = self.line_starts();
        let line = match line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = line_starts[line] as usize;
        let mut end = offset as usize;
        while end > start && !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text[start..end].chars().count();
        (line + 1, col + 1)
    }

    /// Byte offset of the start of 1-based `line`.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts()
            .get(line.checked_sub(1)?)
            .map(|&s| s as usize)
    }

    /// Text of 1-based `line` without its line terminator.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(start) = self.line_start(line) else {
            return "";
        };
        let end = self.line_start(line + 1).unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        let (s, e) = (span.start as usize, span.end as usize);
        self.text.get(s..e).unwrap_or("")
    }
}

/// Every file read in a run, addressed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceDb {
    files: Vec<SourceFile>,
}

impl SourceDb {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: String, text: Arc<str>) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile::new(path, text));
        id
    }

    /// The file behind an id.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Marks a span as secret: renderers print `****` in its place.
    pub fn add_secret(&mut self, span: Span) {
        if span.end > span.start {
            self.files[span.file.0 as usize]
                .secrets
                .push((span.start, span.end));
        }
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was added.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Iterates over ids and files.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// The part of `span` that is exactly the token `needle`, when it occurs there once as a
    /// whole word (`20` in `"20"`, `25` in `-Dpool=25` or `${POOL:25}`); else `span`.
    pub fn narrow(&self, span: Span, needle: &str) -> Span {
        let text = self.get(span.file).slice(span);
        if needle.is_empty() || text == needle {
            return span;
        }
        let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
        let mut hits = text.match_indices(needle).filter(|(i, _)| {
            let before = text[..*i].chars().next_back();
            let after = text[i + needle.len()..].chars().next();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        });
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Span {
                file: span.file,
                start: span.start + i as u32,
                end: span.start + (i + needle.len()) as u32,
            },
            _ => span,
        }
    }

    /// `path:line:col` of a span's start.
    pub fn location(&self, span: Span) -> String {
        let f = self.get(span.file);
        let (l, c) = f.line_col(span.start);
        format!("{}:{}:{}", f.path, l, c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let f = SourceFile::new("a".into(), "café: ☕\nx: 1\n".into());
        // "☕" starts at byte 7 (c a f é=2 : space)
        assert_eq!(f.line_col(7), (1, 7));
        assert_eq!(f.line_col(11), (2, 1));
        assert_eq!(f.line_text(2), "x: 1");
    }

    #[test]
    fn narrow_finds_a_lone_token() {
        let mut db = SourceDb::default();
        let f = db.add("a".into(), "v: \"20\"\nw: -Dx.size=25 -Dy=250\n".into());
        let whole = |s: &str| {
            let t = &db.get(f).text;
            let i = t.find(s).unwrap();
            Span::new(f, i, i + s.len())
        };
        let n = db.narrow(whole("\"20\""), "20");
        assert_eq!(db.get(f).slice(n), "20");
        let n = db.narrow(whole("-Dx.size=25 -Dy=250"), "25");
        assert_eq!(db.get(f).slice(n), "25");
        let s = whole("\"20\"");
        assert_eq!(db.narrow(s, "2"), s);
    }

    #[test]
    fn line_col_clamps_past_the_end() {
        let f = SourceFile::new("a".into(), "ab".into());
        assert_eq!(f.line_col(99), (1, 3));
    }
}
