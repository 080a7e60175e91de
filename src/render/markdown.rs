//! `--format markdown`: a summary to paste into a pull-request comment or a GitHub step summary.
//!
//! A headline (✅ or ❌ with the counts), the budget table (one row per database), then the
//! findings grouped by database — databases in table order, findings in report order, findings
//! about no database last — each with its location, the factor chain as a bullet list, the help
//! line and the notes folded into a `<details>` block.
//!
//! The output is deterministic (no time, no absolute path) so it can be snapshot-tested and a
//! bot can compare it with the comment it posted last time; the first line is an HTML comment
//! marker such a bot can search for. Text from findings is redacted and escaped so that it
//! renders literally: Markdown punctuation is backslash-escaped, `@` is followed by a word
//! joiner (U+2060) so `user@host` in a message cannot mention a GitHub user or team, and
//! paths, ids and locations go into code spans. Past [`MAX_LEN`] bytes the remaining findings
//! are counted instead of listed, to stay under GitHub's 65,536-character comment limit.

use std::fmt::Write as _;

use super::{Summary, position};
use crate::diag::{Diagnostic, Label, Severity};
use crate::redact::redact;
use crate::report::{DatabaseReport, Report, Status};
use crate::source::SourceDb;

/// First line of every summary, for bots that update their own comment.
pub const MARKER: &str = "<!-- poolguard:summary -->";

/// Findings stop being listed once the text is this long (bytes).
pub const MAX_LEN: usize = 60_000;

/// Renders the summary. Markdown has no terminal colour, so `_color` is ignored.
pub fn render(report: &Report, db: &SourceDb, _color: bool) -> String {
    let summary = Summary::of(report);
    let mut out = String::new();
    out.push_str(MARKER);
    out.push('\n');
    let _ = writeln!(out, "### {}\n", headline(&summary));
    if !report.databases.is_empty() {
        out.push_str(&budget_table(&report.databases));
        out.push('\n');
    }

    let groups = groups(report);
    let total: usize = groups.iter().map(|(_, g)| g.len()).sum();
    let mut shown = 0;
    'groups: for (database, findings) in &groups {
        match database {
            Some(id) => {
                let _ = writeln!(out, "#### {}\n", code(&redact(id)));
            }
            None => out.push_str("#### Other findings\n\n"),
        }
        for d in findings {
            if out.len() > MAX_LEN {
                break 'groups;
            }
            out.push_str(&finding(d, db));
            shown += 1;
        }
    }
    if shown < total {
        let rest = total - shown;
        let _ = writeln!(
            out,
            "_… and {} not shown here; the SARIF or JSON report lists every finding._\n",
            plural(rest, "more finding", "more findings")
        );
    }
    let _ = writeln!(out, "<sub>poolguard {}</sub>", env!("CARGO_PKG_VERSION"));
    out
}

/// `✅ poolguard: no findings in 4 files` or `❌ poolguard: 1 error, 0 warnings, 0 suppressed
/// in 4 files`.
fn headline(s: &Summary) -> String {
    let icon = if s.errors > 0 { "❌" } else { "✅" };
    let files = plural(s.files, "file", "files");
    if s.errors + s.warnings + s.notes + s.suppressed == 0 {
        return format!("{icon} poolguard: no findings in {files}");
    }
    let mut parts = vec![
        plural(s.errors, "error", "errors"),
        plural(s.warnings, "warning", "warnings"),
    ];
    if s.notes > 0 {
        parts.push(plural(s.notes, "note", "notes"));
    }
    parts.push(format!("{} suppressed", s.suppressed));
    format!("{icon} poolguard: {} in {files}", parts.join(", "))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The per-database budget table, numbers right-aligned.
fn budget_table(databases: &[DatabaseReport]) -> String {
    let mut out = String::from(
        "| database | capacity | steady | rollout | all-rollouts | rollout % | status |\n\
         | :--- | ---: | ---: | ---: | ---: | ---: | :--- |\n",
    );
    for d in databases {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            code(&redact(&d.id)).replace('|', "\\|"),
            d.capacity,
            number(d.steady),
            number(d.rollout),
            number(d.all_rollouts),
            utilisation(d.rollout, d.capacity),
            status(d.status),
        );
    }
    out
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Ok => "✅ ok",
        Status::Warning => "⚠️ warning",
        Status::Error => "❌ error",
    }
}

fn severity_icon(s: Severity) -> &'static str {
    match s {
        Severity::Error => "❌",
        Severity::Warning => "⚠️",
        Severity::Note => "ℹ️",
    }
}

/// A number, or `?` when unknown.
fn number(n: Option<i64>) -> String {
    n.map_or_else(|| "?".to_string(), |n| n.to_string())
}

/// Demand at rollout as a rounded percentage of capacity (as in the human table).
fn utilisation(rollout: Option<i64>, capacity: i64) -> String {
    match rollout {
        Some(r) if capacity > 0 => format!("{}%", crate::capacity::percent(r, capacity)),
        _ => "?".to_string(),
    }
}

/// Findings by database: the report's databases in table order, then other database ids in
/// the order they first appear, then findings about no database. Empty groups are dropped.
fn groups(report: &Report) -> Vec<(Option<&str>, Vec<&Diagnostic>)> {
    let mut groups: Vec<(Option<&str>, Vec<&Diagnostic>)> = report
        .databases
        .iter()
        .map(|d| (Some(d.id.as_str()), Vec::new()))
        .collect();
    let mut other = Vec::new();
    for d in &report.findings {
        let Some(id) = d.database.as_deref() else {
            other.push(d);
            continue;
        };
        match groups.iter_mut().find(|(g, _)| *g == Some(id)) {
            Some((_, g)) => g.push(d),
            None => groups.push((Some(id), vec![d])),
        }
    }
    groups.push((None, other));
    groups.retain(|(_, g)| !g.is_empty());
    groups
}

/// One finding: title, location, factor chain, help and notes, ending in a blank line.
fn finding(d: &Diagnostic, db: &SourceDb) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "**{} {} {}**: {}\n",
        severity_icon(d.severity),
        d.severity.as_str(),
        code(&redact(&d.rule)),
        text(&d.message),
    );
    let at = location(db, &d.primary);
    match (at, d.primary.message.is_empty()) {
        (Some(at), true) => {
            let _ = writeln!(out, "at {at}");
        }
        (Some(at), false) => {
            let _ = writeln!(out, "at {at}: {}", text(&d.primary.message));
        }
        (None, false) => {
            let _ = writeln!(out, "{}", text(&d.primary.message));
        }
        (None, true) => {}
    }
    for label in &d.related {
        let _ = match location(db, label) {
            Some(at) => writeln!(out, "- {} — {at}", bullet(&label.message)),
            None => writeln!(out, "- {}", bullet(&label.message)),
        };
    }
    out.push('\n');
    if let Some(help) = &d.help {
        let _ = writeln!(out, "**help:** {}\n", text(help));
    }
    if !d.notes.is_empty() {
        out.push_str("<details><summary>notes</summary>\n\n");
        for note in &d.notes {
            let _ = writeln!(out, "- {}", bullet(note));
        }
        out.push_str("\n</details>\n\n");
    }
    out
}

/// `` `path:line:col` `` of a label, or `None` when its span names no file.
fn location(db: &SourceDb, label: &Label) -> Option<String> {
    let at = position(db, label.span);
    (!at.path.is_empty()).then(|| code(&format!("{}:{}:{}", redact(at.path), at.line, at.column)))
}

/// Redacted text escaped to render literally inside a paragraph or list item: Markdown
/// punctuation is backslash-escaped, `&` becomes `&amp;`, line breaks become spaces and `@`
/// gets a word joiner after it.
fn text(s: &str) -> String {
    let s = redact(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("@\u{2060}"),
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// [`text`] for the start of a list item: a leading `-`, `+` or `1.` would otherwise open a
/// nested list.
fn bullet(s: &str) -> String {
    let t = text(s);
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let starts_list =
        t.starts_with(['-', '+']) || (digits > 0 && t[digits..].starts_with(['.', ')']));
    if starts_list {
        format!("{}\\{}", &t[..digits], &t[digits..])
    } else {
        t
    }
}

/// A code span holding `s` literally: the fence is one backtick longer than the longest run
/// inside, padded with spaces when `s` starts or ends with a backtick. Line breaks become
/// spaces (a code span is inline).
fn code(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_fixture::fixture;
    use crate::source::Span;

    #[test]
    fn full_summary() {
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        let expected = format!(
            "{MARKER}
### ❌ poolguard: 1 error, 1 warning, 1 suppressed in 3 files

| database | capacity | steady | rollout | all-rollouts | rollout % | status |
| :--- | ---: | ---: | ---: | ---: | ---: | :--- |
| `prod/auth-db` | 197 | 176 | 236 | 254 | 120% | ❌ error |
| `prod/orders-db` | 141 | ? | ? | ? | ? | ⚠️ warning |

#### `prod/auth-db`

**❌ error `rollout-capacity-exceeded`**: rollout of prod/Deployment/auth needs 236 connections; prod/auth-db accepts 197

at `deploy/auth.yaml:6:29`: pool size 20
- replicas: 6 — `deploy/auth.yaml:3:13`
- maxSurge: 50% → 3 pods — `deploy/auth.yaml:5:13`
- max\\_connections: 200 — `deploy/db.yaml:3:20`
- database defined here — `deploy/db.yaml:1:1`

**help:** set the pool size to 15 or less

<details><summary>notes</summary>

- peak = 9 pods × 20 = 180
- superuser\\_reserved\\_connections: 3 (PostgreSQL default)

</details>

#### Other findings

**⚠️ warning `unresolved-database`**: endpoint postgres://app:\\*\\*\\*\\*@\u{2060}orders-db/app matches no known database

at `config/app.env:4:31`: host orders-db
- password=\\*\\*\\*\\* — `config/app.env:3:1`
- password from Secret — `deploy/db.yaml:7:3`

<sub>poolguard {}</sub>
",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(out, expected);
        assert!(!out.contains("hunter2") && !out.contains("s3cr3t"));
    }

    #[test]
    fn clean_run() {
        let out = render(&Report::default(), &SourceDb::default(), false);
        assert!(
            out.contains("### ✅ poolguard: no findings in 0 files\n"),
            "{out}"
        );
        assert!(!out.contains("| database |"));
        let warn_only = Summary {
            files: 2,
            warnings: 1,
            ..Summary::default()
        };
        assert_eq!(
            headline(&warn_only),
            "✅ poolguard: 0 errors, 1 warning, 0 suppressed in 2 files"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            text("a*b_c `d` <e> [f](g) #1 x|y ~z~ & \\"),
            "a\\*b\\_c \\`d\\` \\<e\\> \\[f\\](g) \\#1 x\\|y \\~z\\~ &amp; \\\\"
        );
        assert_eq!(text("line\nbreak\r"), "line break ");
        assert_eq!(text("ping @team"), "ping @\u{2060}team");
        assert_eq!(bullet("- leading dash"), "\\- leading dash");
        assert_eq!(bullet("3. third"), "3\\. third");
        assert_eq!(bullet("3 pods"), "3 pods");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a\nb"), "`a b`");
    }

    #[test]
    fn long_reports_are_cut_with_a_count() {
        let mut db = SourceDb::default();
        let id = db.add("a.yaml".into(), "x: 1\n".into());
        let findings: Vec<Diagnostic> = (0..2000)
            .map(|i| {
                Diagnostic::new(
                    "duplicate-key",
                    Severity::Warning,
                    Span::new(id, 0, 1),
                    format!("duplicate key number {i} with a fairly long message to fill space"),
                )
            })
            .collect();
        let report = Report {
            files: 1,
            findings,
            ..Report::default()
        };
        let out = render(&report, &db, false);
        assert!(out.len() < MAX_LEN + 2_000, "{}", out.len());
        assert!(out.contains("more findings not shown here"), "{out}");
    }
}
