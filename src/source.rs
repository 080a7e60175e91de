//! Source files, byte spans and line/column lookup.
//!
//! Every value a rule may point at carries a [`Span`]: a file id plus a byte range. Line and
//! column are computed on demand from the file's line index, so spans stay two words wide.

use std::sync::Arc;

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
#[derive(Debug)]
pub struct SourceFile {
    /// Path as shown to users (relative to the current directory where possible).
    pub path: String,
    /// The text. Files that could not be decoded keep an empty text.
    pub text: Arc<str>,
    line_starts: Vec<u32>,
    /// Byte ranges holding secret values (Secret data, passwords); renderers mask them.
    pub secrets: Vec<(u32, u32)>,
}

impl SourceFile {
    /// Builds the line index of `text`.
    pub fn new(path: String, text: Arc<str>) -> SourceFile {
        let mut line_starts = vec![0u32];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        SourceFile {
            path,
            text,
            line_starts,
            secrets: Vec::new(),
        }
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = offset.min(self.text.len() as u32);
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line] as usize;
        let mut end = offset as usize;
        while end > start && !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text[start..end].chars().count();
        (line + 1, col + 1)
    }

    /// Byte offset of the start of 1-based `line`.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts
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
#[derive(Debug, Default)]
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
    fn line_col_clamps_past_the_end() {
        let f = SourceFile::new("a".into(), "ab".into());
        assert_eq!(f.line_col(99), (1, 3));
    }
}
