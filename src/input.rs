//! Reading and parsing every input file, in parallel, into spanned documents.
//!
//! Problems with a file (unreadable, binary, too large, unparseable, unrendered template) become
//! `invalid-file` findings; every other file is still read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diag::{Diagnostic, Severity};
use crate::parse::{self, Format, Limits, Node};
use crate::source::{FileId, SourceDb, Span};
use crate::walk::Entry;

/// One input file after parsing.
#[derive(Debug)]
pub struct LoadedFile {
    /// Its id in the [`SourceDb`].
    pub file: FileId,
    /// Absolute path on disk (`-` for stdin), for matching attached configs.
    pub abs: PathBuf,
    /// Parser used.
    pub format: Format,
    /// Parsed documents (empty when the file is invalid).
    pub docs: Vec<Node>,
}

/// Everything read in a run.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Number of inputs read (parsed or not).
    pub count: usize,
    /// Parsed files (only those that parsed).
    pub files: Vec<LoadedFile>,
    /// `invalid-file` and `duplicate-key` findings.
    pub diagnostics: Vec<Diagnostic>,
}

/// The source of an input.
pub enum Source {
    /// Entries from [`crate::walk::walk`].
    Entry(Entry),
    /// A YAML stream read from standard input.
    Stdin(String),
}

struct Read1 {
    display: String,
    abs: PathBuf,
    text: Arc<str>,
    format: Option<Format>,
    parsed: Option<parse::Parsed>,
    problem: Option<(Option<Span>, String)>,
}

/// Reads and parses every source, adding each to `db`. `cwd` makes displayed paths relative.
pub fn load(sources: Vec<Source>, cwd: &Path, limits: &Limits, db: &mut SourceDb) -> Inputs {
    let base = db.len();
    // `std::path::absolute` asks the OS for the working directory on every call; ask once.
    let process_cwd = std::env::current_dir().ok();
    let reads: Vec<Read1> = sources
        .into_par_iter()
        .enumerate()
        .map(|(i, src)| {
            read_one(
                FileId((base + i) as u32),
                src,
                cwd,
                process_cwd.as_deref(),
                limits,
            )
        })
        .collect();
    let mut inputs = Inputs {
        count: reads.len(),
        ..Inputs::default()
    };
    for r in reads {
        let file = db.add(r.display, r.text);
        if let Some((span, msg)) = r.problem {
            let span = span.unwrap_or(Span::file_start(file));
            inputs.diagnostics.push(
                Diagnostic::new("invalid-file", Severity::Error, span, msg)
                    .with_label("cannot be read"),
            );
            continue;
        }
        let (Some(format), Some(parsed)) = (r.format, r.parsed) else {
            continue;
        };
        for d in &parsed.duplicates {
            inputs.diagnostics.push(
                Diagnostic::new(
                    "duplicate-key",
                    Severity::Warning,
                    d.span,
                    format!("key `{}` is repeated; the later value silently wins", d.key),
                )
                .with_label("this value wins")
                .related(d.first, "first written here"),
            );
        }
        if let Some(e) = &parsed.error {
            // A file that holds Kubernetes objects or a service config is an error; any other
            // YAML/JSON (a compose file, CI config, test data) is reported as a warning: it is
            // not checked, and saying so must not fail the build of a repository that only
            // shares a folder with it.
            let f = db.get(file);
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            let ours = (f.text.contains("apiVersion") && f.text.contains("kind"))
                || crate::walk::is_service_config_name(name);
            let (severity, why) = if ours {
                (Severity::Error, "")
            } else {
                (
                    Severity::Warning,
                    " (it is not a Kubernetes manifest or a service config poolguard reads)",
                )
            };
            inputs.diagnostics.push(
                Diagnostic::new(
                    "invalid-file",
                    severity,
                    e.span,
                    format!(
                        "{} cannot be parsed: {}{why}",
                        format_name(format),
                        e.message
                    ),
                )
                .with_label("here")
                .help("fix the syntax; nothing in this file was checked"),
            );
            continue;
        }
        inputs.files.push(LoadedFile {
            file,
            abs: r.abs,
            format,
            docs: parsed.docs,
        });
    }
    inputs
}

/// What a parse-only pass read; see [`parse_only`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Files walked (read or not).
    pub files: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Documents parsed.
    pub docs: usize,
    /// Files that could not be read, decoded or parsed.
    pub errors: usize,
}

/// The floor `check` is measured against: walks `paths` (honouring `.gitignore`), reads and
/// parses every file with the same parsers and limits as [`load`], in parallel, and builds
/// nothing else — no source index, no model; each file's tree is dropped once parsed.
pub fn parse_only(paths: &[PathBuf], limits: &Limits) -> ParseStats {
    let root = paths
        .first()
        .map(PathBuf::as_path)
        .unwrap_or(Path::new("."));
    let entries = crate::walk::walk(paths, root, &globset::GlobSet::empty());
    entries
        .into_par_iter()
        .enumerate()
        .map(|(i, e)| {
            let mut s = ParseStats {
                files: 1,
                ..ParseStats::default()
            };
            let Entry::File { path, format } = e else {
                s.errors = 1;
                return s;
            };
            let parsed = read_limited(&path, limits.max_file_bytes)
                .ok()
                .and_then(|bytes| {
                    s.bytes = bytes.len() as u64;
                    String::from_utf8(bytes).ok()
                })
                .map(|text| parse::parse(format, FileId(i as u32), &text, limits));
            match parsed {
                Some(p) if p.error.is_none() => s.docs = p.docs.len(),
                _ => s.errors = 1,
            }
            s
        })
        .reduce(ParseStats::default, |a, b| ParseStats {
            files: a.files + b.files,
            bytes: a.bytes + b.bytes,
            docs: a.docs + b.docs,
            errors: a.errors + b.errors,
        })
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Yaml => "YAML",
        Format::Json => "JSON",
        Format::Toml => "TOML",
        Format::Properties => ".properties",
        Format::Dotenv => ".env",
        Format::Ini => "INI",
    }
}

/// A path as shown to users: relative to `cwd` when below it, with `/` separators.
pub fn display_path(path: &Path, cwd: &Path) -> String {
    let rel = path.strip_prefix(cwd).unwrap_or(path);
    let s = rel.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

fn read_one(
    id: FileId,
    src: Source,
    cwd: &Path,
    process_cwd: Option<&Path>,
    limits: &Limits,
) -> Read1 {
    let (path, format, bytes) = match src {
        Source::Stdin(text) => {
            return finish(
                id,
                "<stdin>".into(),
                PathBuf::from("-"),
                Format::Yaml,
                text.into_bytes(),
                limits,
            );
        }
        Source::Entry(Entry::Error { path, message }) => {
            return Read1 {
                display: display_path(&path, cwd),
                abs: path,
                text: "".into(),
                format: None,
                parsed: None,
                problem: Some((None, message)),
            };
        }
        Source::Entry(Entry::File { path, format }) => {
            let bytes = read_limited(&path, limits.max_file_bytes);
            (path, format, bytes)
        }
    };
    let display = display_path(&path, cwd);
    let abs = match process_cwd {
        // The same path `std::path::absolute(&path)` makes, without a `getcwd` per file.
        Some(pc) if path.is_relative() => std::path::absolute(pc.join(&path)),
        _ => std::path::absolute(&path),
    }
    .unwrap_or_else(|_| path.clone());
    match bytes {
        Ok(bytes) => finish(id, display, abs, format, bytes, limits),
        Err(message) => Read1 {
            display,
            abs,
            text: "".into(),
            format: None,
            parsed: None,
            problem: Some((None, message)),
        },
    }
}

fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read file: {e}"))?;
    // Sized from the file's length, the read takes two calls (the data, then end of file)
    // rather than a series of doubling reads.
    let hint = f.metadata().map_or(0, |m| m.len()).min(max);
    let mut bytes = Vec::with_capacity(hint as usize + 1);
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read file: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "file is larger than the {} byte limit (raise `max_file_size` in poolguard.yaml)",
            max
        ));
    }
    Ok(bytes)
}

fn finish(
    id: FileId,
    display: String,
    abs: PathBuf,
    format: Format,
    bytes: Vec<u8>,
    limits: &Limits,
) -> Read1 {
    let fail = |text: Arc<str>, span: Option<Span>, msg: String| Read1 {
        display: display.clone(),
        abs: abs.clone(),
        text,
        format: None,
        parsed: None,
        problem: Some((span, msg)),
    };
    if bytes.len() as u64 > limits.max_file_bytes {
        return fail(
            "".into(),
            None,
            format!(
                "input is larger than the {} byte limit (raise `max_file_size` in poolguard.yaml)",
                limits.max_file_bytes
            ),
        );
    }
    // `contains` on bytes is a memchr; an iterator's `any` here was 1.5% of a check.
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return fail("".into(), None, "binary file (contains NUL bytes)".into());
    }
    let text: Arc<str> = match String::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let valid = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
            return fail(
                valid.into(),
                Some(Span::new(id, at, at)),
                format!("not valid UTF-8 (invalid byte at offset {at})"),
            );
        }
    };
    let parsed = parse::parse(format, id, &text, limits);
    // A Go template is reported as such when it breaks the YAML, or when the file is a Helm
    // chart template. Elsewhere `{{ }}` is data: Prometheus and Alertmanager rules, Argo
    // Workflows, policy messages all carry templates that are rendered at run time.
    if format == Format::Yaml
        && (parsed.error.is_some() || crate::walk::is_helm_template(&abs))
        && let Some(at) = unrendered_template(&text)
    {
        let end = text[at..].find("}}").map(|e| at + e + 2).unwrap_or(at + 2);
        return fail(
            text.clone(),
            Some(Span::new(id, at, end.min(at + 200))),
            "unrendered template: render it first (`helm template … | poolguard check -`) or add its folder to `ignore`".into(),
        );
    }
    Read1 {
        display,
        abs,
        text,
        format: Some(format),
        parsed: Some(parsed),
        problem: None,
    }
}

/// Byte offset of the first Go-template action (`{{ .Values.x }}`, `{{- if … }}`,
/// `{{ include … }}`) outside a comment, if any. Other double-brace syntaxes are data, not
/// unrendered templates: GitHub Actions `${{ … }}`, Argo Workflows `{{inputs.parameters.x}}`,
/// poolguard's own policy messages `{{ database.id }}`.
fn unrendered_template(text: &str) -> Option<usize> {
    const WORDS: &[&str] = &[
        "if", "else", "end", "range", "with", "include", "template", "define", "block", "toYaml",
        "tpl", "required", "default", "quote", "printf", "toJson", "fromYaml", "lookup", "-",
    ];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !line.trim_start().starts_with('#') {
            let mut from = 0;
            while let Some(i) = line[from..].find("{{").map(|i| i + from) {
                from = i + 2;
                if line[..i].ends_with('$') {
                    continue;
                }
                let inner = line[i + 2..].trim_start_matches('-').trim_start();
                let word: String = inner
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let go = inner.starts_with('.')
                    || inner.starts_with('$')
                    || inner.starts_with("/*")
                    || (!word.is_empty() && WORDS.contains(&word.as_str()));
                if go && line[i..].contains("}}") {
                    return Some(offset + i);
                }
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_found_outside_comments() {
        assert_eq!(unrendered_template("a: 1\n# {{ x }}\n"), None);
        assert_eq!(unrendered_template("a: {{ .Values.x }}\n"), Some(3));
        assert_eq!(unrendered_template("a: '{'\n"), None);
        assert_eq!(unrendered_template("run: echo ${{ secrets.X }}\n"), None);
        assert_eq!(
            unrendered_template("m: \"{{ database.id }} is full\"\n"),
            None
        );
        assert_eq!(unrendered_template("  {{- if .Values.x }}\n"), Some(2));
        assert_eq!(unrendered_template("x: {{ include \"a\" . }}\n"), Some(3));
    }
}
