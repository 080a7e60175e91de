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

use std::fmt::Write as _;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
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
    for (id, labels) in &files {
        group = group.element(snippet(db.get(*id), labels));
    }
    // Notes and help are "trusted" text to annotate-snippets (not normalized), but they may
    // quote file contents, so control characters are neutralized here.
    for note in &d.notes {
        group = group.element(Level::NOTE.message(untrusted(note)));
    }
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(untrusted(help)));
    }
    renderer.render(&[group])
}

/// Redacted text with control characters made visible.
fn untrusted(s: &str) -> String {
    annotate_snippets::normalize_untrusted_str(&redact(s))
}

/// The snippet of one file showing `labels` (`true` marks the primary label).
fn snippet<'a>(
    file: &'a SourceFile,
    labels: &[(&Label, bool)],
) -> Snippet<'a, annotate_snippets::Annotation<'a>> {
    let text: &str = &file.text;
    let ranges: Vec<(usize, usize)> = labels
        .iter()
        .map(|(l, _)| char_range(text, l.span))
        .collect();

    // The window: every whole line any label touches. A label ending right after a newline
    // does not pull in the next line.
    let first_line = ranges
        .iter()
        .map(|&(s, _)| file.line_col(s as u32).0)
        .min()
        .unwrap_or(1);
    let last_line = ranges
        .iter()
        .map(|&(s, e)| file.line_col(e.saturating_sub(1).max(s) as u32).0)
        .max()
        .unwrap_or(1);
    let start = file.line_start(first_line).unwrap_or(0);
    let end = file.line_start(last_line).unwrap_or(0) + file.line_text(last_line).len();
    let window = &text[start..end];

    let masks = secret_masks(file, start, end);
    let masked = apply_masks(window, &masks);

    let annotations = labels
        .iter()
        .zip(&ranges)
        .map(|((label, primary), &(s, e))| {
            let (s, e) = (s.clamp(start, end) - start, e.clamp(start, end) - start);
            let span = map_range(s..e, &masks);
            let kind = if *primary {
                AnnotationKind::Primary
            } else {
                AnnotationKind::Context
            };
            let message = redact(&label.message);
            let annotation = kind.span(span);
            if message.is_empty() {
                annotation
            } else {
                annotation.label(message.into_owned())
            }
        });

    Snippet::source(masked)
        .line_start(first_line)
        .path(file.path.as_str())
        .annotations(annotations)
}

/// Secret ranges within the window `start..end` of `file`, relative to the window, sorted and
/// merged, on char boundaries.
fn secret_masks(file: &SourceFile, start: usize, end: usize) -> Vec<(usize, usize)> {
    let text: &str = &file.text;
    let window = &text[start..end];
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
    masks.extend(redact::secret_ranges(window));
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

/// `text` with every range of `masks` (sorted, disjoint) replaced by [`MASK`].
fn apply_masks(text: &str, masks: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for &(s, e) in masks {
        out.push_str(&text[pos..s]);
        out.push_str(MASK);
        pos = e;
    }
    out.push_str(&text[pos..]);
    out
}

/// Maps a range of the unmasked window to the masked one. An endpoint inside a masked range
/// moves to the mask's edge, so a label on a secret underlines the `****`.
fn map_range(range: Range<usize>, masks: &[(usize, usize)]) -> Range<usize> {
    let start = map_offset(range.start, masks, false);
    if range.is_empty() {
        return start..start;
    }
    start..map_offset(range.end, masks, true)
}

fn map_offset(offset: usize, masks: &[(usize, usize)], is_end: bool) -> usize {
    // `shift` is how many bytes the masks before `offset` removed (or added, for secrets
    // shorter than the mask).
    let mut shift: isize = 0;
    for &(s, e) in masks {
        if e <= offset {
            shift += e as isize - s as isize - MASK.len() as isize;
        } else if s < offset {
            let masked_start = (s as isize - shift) as usize;
            return if is_end {
                masked_start + MASK.len()
            } else {
                masked_start
            };
        } else {
            break;
        }
    }
    (offset as isize - shift) as usize
}

/// The per-database budget as an aligned table.
fn budget_table(databases: &[DatabaseReport], color: bool) -> String {
    const HEADER: [&str; 7] = [
        "database",
        "capacity",
        "steady",
        "rollout",
        "all-rollouts",
        "rollout %",
        "status",
    ];
    let rows: Vec<[String; 7]> = databases
        .iter()
        .map(|d| {
            [
                redact(&d.id).into_owned(),
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
    row: &[String; 7],
    widths: &[usize; 7],
    style: impl Fn(usize) -> Style,
) {
    for (col, (cell, &width)) in row.iter().zip(widths).enumerate() {
        let pad = " ".repeat(width - cell.chars().count());
        let s = style(col);
        let styled = format!("{s}{cell}{s:#}");
        match col {
            0 => {
                let _ = write!(out, "{styled}{pad}");
            }
            6 => {
                let _ = write!(out, "  {styled}");
            }
            _ => {
                let _ = write!(out, "  {pad}{styled}");
            }
        }
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
        Some(r) if capacity > 0 => format!("{}%", (r as f64 * 100.0 / capacity as f64).round()),
        _ => "?".to_string(),
    }
}

/// `poolguard: 2 errors, 1 warning, 0 suppressed in 12 files`, or
/// `poolguard: no findings in 12 files`.
fn summary_line(s: &Summary, color: bool) -> String {
    let files = plural(s.files, "file", "files");
    if s.errors + s.warnings + s.notes + s.suppressed == 0 {
        return format!("poolguard: no findings in {files}");
    }
    let mut parts = vec![
        plural(s.errors, "error", "errors"),
        plural(s.warnings, "warning", "warnings"),
    ];
    // Notes are rare; mention them only when there are some.
    if s.notes > 0 {
        parts.push(plural(s.notes, "note", "notes"));
    }
    parts.push(format!("{} suppressed", s.suppressed));
    let counts = parts.join(", ");
    let counts = if color && s.errors > 0 {
        let style = status_style(Status::Error);
        format!("{style}{counts}{style:#}")
    } else if color && s.warnings > 0 {
        let style = status_style(Status::Warning);
        format!("{style}{counts}{style:#}")
    } else {
        counts
    };
    format!("poolguard: {counts} in {files}")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_fixture::fixture;

    #[test]
    fn dump() {
        let (db, report) = fixture();
        println!("{}", render(&report, &db, false));
        panic!();
    }
}
