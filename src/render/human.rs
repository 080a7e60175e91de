//! `--format human`: annotated source snippets, a budget table and a summary line.
//!
//! Each finding becomes one annotate-snippets report: the title `error[rule-id]: message`, one
//! snippet per file (the primary file first, then the files of related labels in the order
//! they are first named) and the notes and help as footer lines.
//!
//! Snippets never receive a whole file. Each one is built from the window of whole lines that
//! its labels cover, masked first (Secret values recorded in [`SourceFile::secrets`] and
//! anything [`redact::secret_ranges`] finds), with the label offsets shifted to the masked text
//! and `line_start` set so the printed line numbers stay those of the file.

use std::ops::Range;

use annotate_snippets::{Annotation, AnnotationKind, Group, Level, Renderer, Snippet};
use anstyle::{AnsiColor, Effects, Style};

use super::{Summary, ceil_char_boundary, char_range, floor_char_boundary, source_file};
use crate::diag::{Diagnostic, Label, Severity};
use crate::redact::{self, MASK, redact};
use crate::report::{DatabaseReport, Report, Status};
use crate::source::{FileId, SourceDb, SourceFile};

/// Renders every finding, then the per-database budget table, then the summary line.
/// `color` selects ANSI styling.
pub fn render(report: &Report, db: &SourceDb, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for finding in &report.findings {
        out.push_str(&render_finding(&renderer, finding, db));
        out.push_str("\n\n");
    }
    // `--base`: one line per database whose figures changed (see `crate::diff`).
    out.push_str(&crate::diff::change_lines(report, db));
    if !report.databases.is_empty() {
        out.push_str(&budget_table(&report.databases, color));
        out.push('\n');
    }
    out.push_str(&summary_line(&Summary::of(report), color));
    out.push('\n');
    out
}

/// One finding as an annotate-snippets report (no trailing newline).
fn render_finding(renderer: &Renderer, d: &Diagnostic, db: &SourceDb) -> String {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };

    // Labels grouped by file, primary file first, files and labels in the order given.
    let mut files: Vec<(FileId, Vec<(&Label, bool)>)> = Vec::new();
    let labels = std::iter::once((&d.primary, true)).chain(d.related.iter().map(|l| (l, false)));
    for (label, primary) in labels {
        if source_file(db, label.span).is_none() {
            continue;
        }
        match files.iter_mut().find(|(id, _)| *id == label.span.file) {
            Some((_, group)) => group.push((label, primary)),
            None => files.push((label.span.file, vec![(label, primary)])),
        }
    }

    let mut group = Group::with_title(
        level
            .primary_title(redact(&d.message).into_owned())
            .id(d.rule.clone()),
    );
    let mut windows = Vec::with_capacity(files.len());
    for (id, labels) in &files {
        let window = Window::new(db.get(*id), labels);
        group = group.element(window.snippet(labels));
        windows.push(window);
    }
    // Notes and help are "trusted" text to annotate-snippets (not normalized), but they may
    // quote file contents, so control characters are neutralized here.
    for note in &d.notes {
        group = group.element(Level::NOTE.message(untrusted(note)));
    }
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(untrusted(help)));
    }
    fix_header_columns(&renderer.render(&[group]), &windows)
}

/// Redacted text with control characters made visible.
fn untrusted(s: &str) -> String {
    annotate_snippets::normalize_untrusted_str(&redact(s))
}

/// A replacement of `start..end` of a window's text (offsets relative to the window).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Edit {
    start: usize,
    end: usize,
    with: String,
}

impl Edit {
    fn mask(start: usize, end: usize) -> Edit {
        Edit {
            start,
            end,
            with: MASK.to_string(),
        }
    }
}

/// The lines of one file a snippet shows, with secrets masked.
///
/// The window runs from the first to the last line any label touches. Lines annotate-snippets
/// would fold away anyway (runs of two or more unannotated lines) are blanked rather than
/// copied, so two labels thousands of lines apart in a large `helm template` dump cost nothing
/// to mask or lay out; blanking keeps their line breaks, so numbering is unchanged.
struct Window<'a> {
    file: &'a SourceFile,
    /// 1-based line number of the first line.
    first_line: usize,
    /// Byte offset of the window in the file.
    start: usize,
    /// Byte offset just past the window's last line (its terminator excluded).
    end: usize,
    /// Blanked gaps and masked secrets, sorted and disjoint, on char boundaries.
    edits: Vec<Edit>,
    /// The window's text with the edits applied: what annotate-snippets gets.
    text: String,
}

impl<'a> Window<'a> {
    /// The window of every whole line `labels` touch. A label ending right after a newline
    /// does not pull in the next line.
    fn new(file: &'a SourceFile, labels: &[(&Label, bool)]) -> Window<'a> {
        let text: &str = &file.text;
        // Lines to show: every line of every label, plus single-line gaps between them
        // (annotate-snippets prints a lone unannotated line rather than `...`).
        let mut lines: Vec<usize> = Vec::new();
        for &(label, _) in labels {
            let (s, e) = char_range(text, label.span);
            let first = file.line_col(s as u32).0;
            let last = file.line_col(e.saturating_sub(1).max(s) as u32).0;
            lines.extend(first..=last);
        }
        lines.sort_unstable();
        lines.dedup();
        let first_line = lines.first().copied().unwrap_or(1);
        let last_line = lines.last().copied().unwrap_or(1);
        let line_end =
            |line: usize| file.line_start(line).unwrap_or(0) + file.line_text(line).len();
        let start = file.line_start(first_line).unwrap_or(0);
        let end = line_end(last_line);

        let mut edits = Vec::new();
        let mut run_start = first_line;
        for (i, &line) in lines.iter().enumerate() {
            let next = lines.get(i + 1).copied();
            if next.is_some_and(|n| n <= line + 2) {
                continue;
            }
            // `run_start..=line` is shown: mask its secrets.
            let (rs, re) = (file.line_start(run_start).unwrap_or(0), line_end(line));
            edits.extend(
                secret_masks(file, rs, re)
                    .into_iter()
                    .map(|(s, e)| Edit::mask(s + rs - start, e + rs - start)),
            );
            if let Some(n) = next {
                // `line + 1..n` is folded: keep only its line breaks.
                let (gs, ge) = (file.line_start(line + 1).unwrap_or(0), line_end(n - 1));
                edits.push(Edit {
                    start: gs - start,
                    end: ge - start,
                    with: "\n".repeat(n - 2 - line),
                });
                run_start = n;
            }
        }
        let shown = apply_edits(&text[start..end], &edits);
        Window {
            file,
            first_line,
            start,
            end,
            edits,
            text: shown,
        }
    }

    /// The snippet showing `labels` (`true` marks the primary label), numbered as in the file.
    fn snippet(&self, labels: &[(&Label, bool)]) -> Snippet<'a, Annotation<'a>> {
        let text: &str = &self.file.text;
        let annotations = labels.iter().map(|&(label, primary)| {
            let (s, e) = char_range(text, label.span);
            let (s, e) = (
                s.clamp(self.start, self.end) - self.start,
                e.clamp(self.start, self.end) - self.start,
            );
            let kind = if primary {
                AnnotationKind::Primary
            } else {
                AnnotationKind::Context
            };
            let annotation = kind.span(map_range(s..e, &self.edits));
            let message = redact(&label.message);
            if message.is_empty() {
                annotation
            } else {
                annotation.label(message.into_owned())
            }
        });
        Snippet::source(self.text.clone())
            .line_start(self.first_line)
            .path(self.file.path.as_str())
            .annotations(annotations.collect::<Vec<_>>())
    }

    /// The file's 1-based column for the 1-based `column` annotate-snippets computed on `line`
    /// of the edited text, or `None` when that position is not in the window.
    fn original_column(&self, line: usize, column: usize) -> Option<usize> {
        let line_offset: usize = self
            .text
            .split_inclusive('\n')
            .take(line.checked_sub(self.first_line)?)
            .map(str::len)
            .sum();
        let rest = self.text.get(line_offset..)?;
        let in_line = rest
            .char_indices()
            .nth(column.checked_sub(1)?)
            .map_or(rest.len(), |(i, _)| i);
        let offset = self.start + unmap_offset(line_offset + in_line, &self.edits);
        Some(self.file.line_col(offset as u32).1)
    }
}

/// annotate-snippets prints each snippet's `--> path:line:column` header from the text it was
/// given, so a secret masked earlier on that line shifts the column. This rewrites the headers
/// (one per snippet, in snippet order, each on a line of its own) to the file's real column.
fn fix_header_columns(rendered: &str, windows: &[Window<'_>]) -> String {
    if windows.iter().all(|w| w.edits.is_empty()) {
        return rendered.to_string();
    }
    let mut windows = windows.iter();
    let mut out = String::with_capacity(rendered.len());
    for line in rendered.split_inclusive('\n') {
        // Source and label lines start with a line number or `|`, so only a header line
        // starts with an arrow once styling and indentation are stripped.
        let plain = anstream::adapter::strip_str(line).to_string();
        let plain = plain.trim();
        let header = plain
            .strip_prefix("--> ")
            .or_else(|| plain.strip_prefix("::: "));
        match header.and_then(|h| Some((h, windows.next()?))) {
            Some((header, window)) => out.push_str(&fix_header(line, header, window)),
            None => out.push_str(line),
        }
    }
    out
}

/// `line` with the column of `header` (`path:line:column`) corrected for `window`'s edits.
fn fix_header(line: &str, header: &str, window: &Window<'_>) -> String {
    let fixed = (|| {
        let (rest, column) = header.rsplit_once(':')?;
        let (_, line_no) = rest.rsplit_once(':')?;
        let (line_no, column) = (line_no.parse().ok()?, column.parse().ok()?);
        let real = window.original_column(line_no, column)?;
        (real != column).then(|| line.replacen(header, &format!("{rest}:{real}"), 1))
    })();
    fixed.unwrap_or_else(|| line.to_string())
}

/// Secret ranges within `start..end` of `file`, relative to `start`: the file's recorded
/// secrets plus whatever [`redact::secret_ranges`] finds in that text. Sorted, merged, on char
/// boundaries.
fn secret_masks(file: &SourceFile, start: usize, end: usize) -> Vec<(usize, usize)> {
    let text: &str = &file.text;
    let mut masks: Vec<(usize, usize)> = file
        .secrets
        .iter()
        .map(|&(s, e)| (s as usize, e as usize))
        .filter(|&(s, e)| s < end && e > start)
        // Widen to whole characters: masking a byte too many beats showing one.
        .map(|(s, e)| {
            (
                floor_char_boundary(text, s.max(start)) - start,
                ceil_char_boundary(text, e.min(end)) - start,
            )
        })
        .collect();
    masks.extend(redact::secret_ranges(&text[start..end]));
    masks.retain(|&(s, e)| e > s);
    masks.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(masks.len());
    for (s, e) in masks {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// `text` with `edits` (sorted, disjoint) applied.
fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for edit in edits {
        out.push_str(&text[pos..edit.start]);
        out.push_str(&edit.with);
        pos = edit.end;
    }
    out.push_str(&text[pos..]);
    out
}

/// Maps a range of the original window to the edited one. An endpoint inside an edit moves
/// to the replacement's edge, so a label on a secret underlines the `****`.
fn map_range(range: Range<usize>, edits: &[Edit]) -> Range<usize> {
    let start = map_offset(range.start, edits, false);
    if range.is_empty() {
        return start..start;
    }
    start..map_offset(range.end, edits, true)
}

fn map_offset(offset: usize, edits: &[Edit], is_end: bool) -> usize {
    // `shift` is how many bytes the edits before `offset` removed (negative when they added).
    let mut shift: isize = 0;
    for edit in edits {
        let (s, e, len) = (
            edit.start as isize,
            edit.end as isize,
            edit.with.len() as isize,
        );
        if edit.end <= offset {
            shift += e - s - len;
        } else if edit.start < offset {
            let edited_start = (s - shift) as usize;
            return if is_end {
                edited_start + edit.with.len()
            } else {
                edited_start
            };
        } else {
            break;
        }
    }
    (offset as isize - shift) as usize
}

/// Maps an offset in the edited window back to the original one; an offset inside a
/// replacement maps to the start of the text it replaced.
fn unmap_offset(offset: usize, edits: &[Edit]) -> usize {
    let mut shift: isize = 0;
    for edit in edits {
        let edited_start = (edit.start as isize - shift) as usize;
        if offset < edited_start {
            break;
        }
        if offset < edited_start + edit.with.len() {
            return edit.start;
        }
        shift += edit.end as isize - edit.start as isize - edit.with.len() as isize;
    }
    (offset as isize + shift) as usize
}

/// Columns of the budget table.
const COLUMNS: usize = 7;

/// The per-database budget as an aligned table.
fn budget_table(databases: &[DatabaseReport], color: bool) -> String {
    const HEADER: [&str; COLUMNS] = [
        "database",
        "capacity",
        "steady",
        "rollout",
        "all-rollouts",
        "rollout %",
        "status",
    ];
    let rows: Vec<[String; COLUMNS]> = databases
        .iter()
        .map(|d| {
            [
                untrusted(&d.id),
                d.capacity.to_string(),
                number(d.steady),
                number(d.rollout),
                number(d.all_rollouts),
                utilisation(d.rollout, d.capacity),
                d.status.as_str().to_string(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }

    let header_style = if color {
        Style::new().effects(Effects::BOLD)
    } else {
        Style::new()
    };
    let mut out = String::new();
    let header = HEADER.map(String::from);
    push_row(&mut out, &header, &widths, |_| header_style);
    for (row, d) in rows.iter().zip(databases) {
        let status_style = if color {
            status_style(d.status)
        } else {
            Style::new()
        };
        push_row(&mut out, row, &widths, |col| {
            if col == HEADER.len() - 1 {
                status_style
            } else {
                Style::new()
            }
        });
    }
    out
}

/// Appends one table row: the id left-aligned, numbers right-aligned, the status last and
/// unpadded (no trailing blanks). Padding is computed on the plain text so styling cannot
/// break the alignment.
fn push_row(
    out: &mut String,
    row: &[String; COLUMNS],
    widths: &[usize; COLUMNS],
    style: impl Fn(usize) -> Style,
) {
    for (col, (cell, &width)) in row.iter().zip(widths).enumerate() {
        let pad = " ".repeat(width - cell.chars().count());
        let s = style(col);
        let styled = format!("{s}{cell}{s:#}");
        let formatted = match col {
            0 => format!("{styled}{pad}"),
            _ if col == COLUMNS - 1 => format!("  {styled}"),
            _ => format!("  {pad}{styled}"),
        };
        out.push_str(&formatted);
    }
    out.push('\n');
}

fn status_style(status: Status) -> Style {
    let color = match status {
        Status::Ok => AnsiColor::Green,
        Status::Warning => AnsiColor::Yellow,
        Status::Error => AnsiColor::Red,
    };
    color.on_default().effects(Effects::BOLD)
}

/// A number, or `?` when unknown.
fn number(n: Option<i64>) -> String {
    n.map_or_else(|| "?".to_string(), |n| n.to_string())
}

/// Demand at rollout as a rounded percentage of capacity; `?` when unknown or when there is
/// no capacity to divide by.
fn utilisation(rollout: Option<i64>, capacity: i64) -> String {
    match rollout {
        Some(r) if capacity > 0 => format!("{}%", crate::capacity::percent(r, capacity)),
        _ => "?".to_string(),
    }
}

/// `poolguard: 2 errors, 1 warning, 0 suppressed in 12 files`, or
/// `poolguard: no findings in 12 files`. With `color`, non-zero error and warning counts are
/// red and yellow.
fn summary_line(s: &Summary, color: bool) -> String {
    let files = plural(s.files, "file", "files");
    if s.errors + s.warnings + s.notes + s.suppressed == 0 {
        return format!("poolguard: no findings in {files}");
    }
    let paint = |n: usize, text: String, status: Status| {
        if color && n > 0 {
            let style = status_style(status);
            format!("{style}{text}{style:#}")
        } else {
            text
        }
    };
    let mut parts = vec![
        paint(s.errors, plural(s.errors, "error", "errors"), Status::Error),
        paint(
            s.warnings,
            plural(s.warnings, "warning", "warnings"),
            Status::Warning,
        ),
    ];
    // Notes are rare; mention them only when there are some.
    if s.notes > 0 {
        parts.push(plural(s.notes, "note", "notes"));
    }
    parts.push(format!("{} suppressed", s.suppressed));
    format!("poolguard: {} in {files}", parts.join(", "))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostic;
    use crate::render::test_fixture::fixture;
    use crate::source::Span;

    const EXPECTED: &str = "\
error[rollout-capacity-exceeded]: rollout of prod/Deployment/auth needs 236 connections; prod/auth-db accepts 197
 --> deploy/auth.yaml:6:29
  |
3 |   replicas: 6
  |             - replicas: 6
4 |   strategy:
5 |   maxSurge: 50%
  |             --- maxSurge: 50% → 3 pods
6 |   pool: {team: Zürich, max: 20}
  |                             ^^ pool size 20
  |
 ::: deploy/db.yaml:1:1
  |
1 | kind: Cluster
  | - database defined here
2 | parameters:
3 |   max_connections: \"200\"
  |                    ----- max_connections: 200
  |
  = note: peak = 9 pods × 20 = 180
  = note: superuser_reserved_connections: 3 (PostgreSQL default)
  = help: set the pool size to 15 or less

warning[unresolved-database]: endpoint postgres://app:****@orders-db/app matches no known database
 --> config/app.env:4:31
  |
3 | DB_PASSWORD=****
  | ---------------- password=****
4 | DB_URL=postgres://app:****@orders-db/app
  |                            ^^^^^^^^^ host orders-db
  |
 ::: deploy/db.yaml:7:3
  |
7 |   password: ****
  |   -------------- password from Secret

database        capacity  steady  rollout  all-rollouts  rollout %  status
prod/auth-db         197     176      236           254       120%  error
prod/orders-db       141       ?        ?             ?          ?  warning

poolguard: 1 error, 1 warning, 1 suppressed in 3 files
";

    fn one_file(path: &str, text: &str) -> (SourceDb, FileId) {
        let mut db = SourceDb::default();
        let id = db.add(path.into(), text.into());
        (db, id)
    }

    fn report_of(findings: Vec<Diagnostic>) -> Report {
        Report {
            files: 1,
            findings,
            ..Report::default()
        }
    }

    #[test]
    fn plain_render_is_exact() {
        let (db, report) = fixture();
        assert_eq!(render(&report, &db, false), EXPECTED);
    }

    #[test]
    fn secrets_are_masked_everywhere() {
        let (db, report) = fixture();
        for color in [false, true] {
            let out = render(&report, &db, color);
            assert!(!out.contains("hunter2"), "{out}");
            assert!(!out.contains("s3cr3t"), "{out}");
            assert!(out.contains("password: ****"));
            assert!(out.contains("DB_PASSWORD=****"));
            assert!(out.contains("postgres://app:****@orders-db/app"));
        }
    }

    #[test]
    fn color_only_adds_styling() {
        let (db, report) = fixture();
        let colored = render(&report, &db, true);
        assert!(colored.contains('\x1b'));
        assert_eq!(
            anstream::adapter::strip_str(&colored).to_string(),
            render(&report, &db, false)
        );
        assert!(!render(&report, &db, false).contains('\x1b'));
    }

    #[test]
    fn header_column_is_the_files_after_a_masked_secret() {
        // The secret is shorter than `****` here, so a naive column would be too large.
        let (db, id) = one_file("a.env", "URL=postgres://u:pw@ü-host/db\n");
        let host = "URL=postgres://u:pw@".len();
        let d = Diagnostic::new("r", Severity::Warning, Span::new(id, host, host + 7), "m");
        let out = render(&report_of(vec![d]), &db, false);
        assert!(out.contains(" --> a.env:1:21\n"), "{out}");
        assert!(
            out.contains("1 | URL=postgres://u:****@ü-host/db\n"),
            "{out}"
        );
        assert!(out.contains("  |                       ^^^^^^\n"), "{out}");
    }

    #[test]
    fn label_on_a_secret_underlines_the_mask() {
        let (mut db, id) = one_file("s.yaml", "kind: Secret\ndata:\n  password: aHVudGVyMg==\n");
        let at = "kind: Secret\ndata:\n  password: ".len();
        let span = Span::new(id, at, at + "aHVudGVyMg==".len());
        db.add_secret(span);
        let d = Diagnostic::new("r", Severity::Error, span, "m").with_label("from here");
        let out = render(&report_of(vec![d]), &db, false);
        assert!(!out.contains("aHVudGVyMg=="), "{out}");
        assert!(
            out.contains("3 |   password: ****\n  |             ^^^^ from here\n"),
            "{out}"
        );
        assert!(out.contains(" --> s.yaml:3:13\n"), "{out}");
    }

    #[test]
    fn empty_files_file_start_and_out_of_range_spans_render() {
        let mut db = SourceDb::default();
        let empty = db.add("empty.yaml".into(), "".into());
        let short = db.add("short.yaml".into(), "a: 1\n".into());
        let d = Diagnostic::new(
            "invalid-file",
            Severity::Error,
            Span::file_start(empty),
            "bad",
        )
        .related(Span::new(short, 40, 50), "past the end")
        .related(Span::new(crate::source::FileId(9), 0, 1), "unknown file");
        let out = render(&report_of(vec![d]), &db, false);
        assert!(
            out.starts_with("error[invalid-file]: bad\n --> empty.yaml:1:1\n"),
            "{out}"
        );
        assert!(out.contains("past the end"));
        assert!(!out.contains("unknown file"));
    }

    #[test]
    fn spans_inside_multibyte_characters_are_widened() {
        let (db, id) = one_file("u.yaml", "name: ☕☕\n");
        // Byte 7 is inside the first "☕" (bytes 6..9).
        let d = Diagnostic::new("r", Severity::Note, Span::new(id, 7, 8), "cup");
        let out = render(&report_of(vec![d]), &db, false);
        assert!(out.starts_with("note[r]: cup\n --> u.yaml:1:7\n"), "{out}");
        assert!(out.contains("1 | name: ☕☕\n  |       ^^\n"), "{out}");
        assert!(out.ends_with("poolguard: 0 errors, 0 warnings, 1 note, 0 suppressed in 1 file\n"));
    }

    #[test]
    fn crlf_lines_keep_their_numbers() {
        let (db, id) = one_file("w.yaml", "a: 1\r\nb: 2\r\nc: 3\r\n");
        let d = Diagnostic::new("r", Severity::Warning, Span::new(id, 9, 10), "two")
            .related(Span::new(id, 15, 16), "three");
        let out = render(&report_of(vec![d]), &db, false);
        assert!(out.contains(" --> w.yaml:2:4\n"), "{out}");
        assert!(
            out.contains("2 | b: 2\n  |    ^\n3 | c: 3\n  |    - three\n"),
            "{out}"
        );
    }

    #[test]
    fn messages_notes_and_help_are_redacted_and_normalized() {
        let (db, id) = one_file("a.yaml", "x: 1\n");
        let d = Diagnostic::new("r", Severity::Error, Span::new(id, 3, 4), "dsn password=pw")
            .note("url mysql://root:pw@db\x1b[31m")
            .help("Pwd=pw;");
        let out = render(&report_of(vec![d]), &db, false);
        assert!(out.contains("error[r]: dsn password=****\n"), "{out}");
        assert!(out.contains("= note: url mysql://root:****@db"), "{out}");
        assert!(!out.contains('\x1b'), "{out:?}");
        assert!(out.contains("= help: Pwd=****;\n"), "{out}");
    }

    #[test]
    fn summary_lines() {
        let summary = |files, errors, warnings, notes, suppressed| Summary {
            files,
            errors,
            warnings,
            notes,
            suppressed,
        };
        assert_eq!(
            summary_line(&summary(12, 0, 0, 0, 0), false),
            "poolguard: no findings in 12 files"
        );
        assert_eq!(
            summary_line(&summary(12, 2, 1, 0, 0), false),
            "poolguard: 2 errors, 1 warning, 0 suppressed in 12 files"
        );
        assert_eq!(
            summary_line(&summary(1, 0, 0, 0, 3), false),
            "poolguard: 0 errors, 0 warnings, 3 suppressed in 1 file"
        );
        assert_eq!(
            render(&Report::default(), &SourceDb::default(), false),
            "poolguard: no findings in 0 files\n"
        );
    }

    #[test]
    fn utilisation_rounds_and_marks_unknowns() {
        assert_eq!(utilisation(Some(236), 197), "120%");
        assert_eq!(utilisation(Some(0), 197), "0%");
        assert_eq!(utilisation(None, 197), "?");
        assert_eq!(utilisation(Some(10), 0), "?");
    }

    #[test]
    fn offsets_map_through_edits_both_ways() {
        // "ab" + secret(2..9) + "cd" + secret(11..12) + "e": edited "ab****cd****e".
        let edits = [Edit::mask(2, 9), Edit::mask(11, 12)];
        assert_eq!(map_range(0..2, &edits), 0..2);
        assert_eq!(map_range(2..9, &edits), 2..6);
        assert_eq!(map_range(4..10, &edits), 2..7);
        assert_eq!(map_range(12..13, &edits), 12..13);
        assert_eq!(map_range(5..5, &edits), 2..2);
        assert_eq!(unmap_offset(1, &edits), 1);
        assert_eq!(unmap_offset(3, &edits), 2);
        assert_eq!(unmap_offset(6, &edits), 9);
        assert_eq!(unmap_offset(12, &edits), 12);
        assert_eq!(apply_edits("ab0123456cdXe", &edits), "ab****cd****e");
    }

    #[test]
    fn far_apart_labels_share_one_snippet_with_folded_gap() {
        let mut text = String::from("top: 1\n");
        for i in 0..1000 {
            text.push_str(&format!("filler{i}: password=x{i}\n"));
        }
        text.push_str("bottom: 2\nnext: 3\n");
        let (db, id) = one_file("big.yaml", &text);
        let bottom = text.find("bottom").unwrap();
        let d = Diagnostic::new("r", Severity::Error, Span::new(id, bottom, bottom + 6), "m")
            .related(Span::new(id, 0, 3), "top");
        let out = render(&report_of(vec![d]), &db, false);
        assert_eq!(
            out,
            "\
error[r]: m
    --> big.yaml:1002:1
     |
   1 | top: 1
     | --- top
...
1002 | bottom: 2
     | ^^^^^^

poolguard: 1 error, 0 warnings, 0 suppressed in 1 file
"
        );
        // The 1000 folded lines reach annotate-snippets as bare line breaks.
        let (top, bottom) = (
            Label::new(Span::new(id, 0, 3), ""),
            Label::new(Span::new(id, bottom, bottom + 6), ""),
        );
        let window = Window::new(db.get(id), &[(&top, true), (&bottom, false)]);
        assert_eq!(
            window.text,
            format!("top: 1\n{}bottom: 2", "\n".repeat(1000))
        );
    }

    #[test]
    fn a_single_unannotated_line_between_labels_is_shown_and_masked() {
        let (db, id) = one_file("g.env", "A=1\nPWD=hunter2\nB=2\n");
        let d = Diagnostic::new("r", Severity::Error, Span::new(id, 0, 1), "m")
            .related(Span::new(id, 16, 17), "b");
        let out = render(&report_of(vec![d]), &db, false);
        assert!(
            out.contains("1 | A=1\n  | ^\n2 | PWD=****\n3 | B=2\n  | - b\n"),
            "{out}"
        );
    }
}
