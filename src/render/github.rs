//! `--format github`: GitHub Actions workflow commands, which the runner turns into annotations
//! on the pull request's diff.
//!
//! One line per finding:
//! `::error file=…,line=…,col=…,endLine=…,endColumn=…,title=rule-id::message` (`::warning`
//! for warnings, `::notice` for notes). The message carries the finding's message, its factor
//! chain (one `- label (path:line:col)` line per related label) and the help line; the runner
//! shows the line breaks. Positions are those of `--format json` (1-based, columns in
//! characters, end column exclusive). Findings without a file get no location properties.
//!
//! Escaping follows the runner's parser (`@actions/core`): in the message `%`, `\r` and `\n`
//! become `%25`, `%0D` and `%0A`; in property values `:` and `,` also become `%3A` and `%2C`.
//! An escaped message cannot contain a line break, so no text from a scanned file can start a
//! workflow command of its own.
//!
//! Renderers do no I/O: [`step_summary`] returns the Markdown summary that `poolguard check`
//! appends to the file named by `GITHUB_STEP_SUMMARY` when this format is selected.

use std::fmt::Write as _;

use super::{markdown, position};
use crate::diag::{Diagnostic, Severity};
use crate::redact::redact;
use crate::report::Report;
use crate::source::SourceDb;

/// Renders one workflow command per finding (nothing for a clean run). Workflow commands have
/// no colour, so `_color` is ignored.
pub fn render(report: &Report, db: &SourceDb, _color: bool) -> String {
    let mut out = String::new();
    for d in &report.findings {
        out.push_str(&command(d, db));
        out.push('\n');
    }
    out
}

/// The job summary for `GITHUB_STEP_SUMMARY`: the Markdown summary of `--format markdown`.
pub fn step_summary(report: &Report, db: &SourceDb) -> String {
    markdown::render(report, db, false)
}

/// One workflow command, without the line break.
fn command(d: &Diagnostic, db: &SourceDb) -> String {
    let name = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let at = position(db, d.primary.span);
    let mut props: Vec<(&str, String)> = Vec::new();
    if !at.path.is_empty() {
        props.push(("file", redact(at.path).into_owned()));
        props.push(("line", at.line.to_string()));
        props.push(("col", at.column.to_string()));
        props.push(("endLine", at.end_line.to_string()));
        props.push(("endColumn", at.end_column.to_string()));
    }
    props.push(("title", redact(&d.rule).into_owned()));
    let props: Vec<String> = props
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    format!(
        "::{name} {}::{}",
        props.join(","),
        escape_data(&message(d, db))
    )
}

/// The annotation text: message, factor chain, help.
fn message(d: &Diagnostic, db: &SourceDb) -> String {
    let mut text = redact(&d.message).into_owned();
    for label in &d.related {
        let at = position(db, label.span);
        let _ = write!(text, "\n- {}", redact(&label.message));
        if !at.path.is_empty() {
            let _ = write!(text, " ({}:{}:{})", redact(at.path), at.line, at.column);
        }
    }
    if let Some(help) = &d.help {
        let _ = write!(text, "\nhelp: {}", redact(help));
    }
    text
}

/// Escapes a command's message (data).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_fixture::fixture;
    use crate::source::{FileId, Span};

    #[test]
    fn one_command_per_finding() {
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(
            lines[0],
            "::error file=deploy/auth.yaml,line=6,col=29,endLine=6,endColumn=31,\
             title=rollout-capacity-exceeded::rollout of prod/Deployment/auth needs 236 \
             connections; prod/auth-db accepts 197\
             %0A- replicas: 6 (deploy/auth.yaml:3:13)\
             %0A- maxSurge: 50%25 → 3 pods (deploy/auth.yaml:5:13)\
             %0A- max_connections: 200 (deploy/db.yaml:3:20)\
             %0A- database defined here (deploy/db.yaml:1:1)\
             %0Ahelp: set the pool size to 15 or less"
        );
        assert_eq!(
            lines[1],
            "::warning file=config/app.env,line=4,col=31,endLine=4,endColumn=40,\
             title=unresolved-database::endpoint postgres://app:****@orders-db/app matches \
             no known database\
             %0A- password=**** (config/app.env:3:1)\
             %0A- password from Secret (deploy/db.yaml:7:3)"
        );
        assert!(!out.contains("hunter2") && !out.contains("s3cr3t"));
    }

    #[test]
    fn notes_and_fileless_findings() {
        let mut db = SourceDb::default();
        let id = db.add("a,b:c%.yaml".into(), "x: 1\n".into());
        let report = Report {
            files: 1,
            findings: vec![
                Diagnostic::new("r", Severity::Note, Span::new(id, 3, 4), "50% of\r\nit"),
                Diagnostic::new("r", Severity::Warning, Span::file_start(FileId(5)), "m"),
            ],
            ..Report::default()
        };
        assert_eq!(
            render(&report, &db, false),
            "::notice file=a%2Cb%3Ac%25.yaml,line=1,col=4,endLine=1,endColumn=5,title=r::\
             50%25 of%0D%0Ait\n\
             ::warning title=r::m\n"
        );
        assert_eq!(render(&Report::default(), &db, false), "");
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_data("100%\r\n::x,y"), "100%25%0D%0A::x,y");
        assert_eq!(escape_property("100%\r\n::x,y"), "100%25%0D%0A%3A%3Ax%2Cy");
    }

    #[test]
    fn step_summary_is_the_markdown_summary() {
        let (db, report) = fixture();
        assert_eq!(
            step_summary(&report, &db),
            markdown::render(&report, &db, false)
        );
    }
}
