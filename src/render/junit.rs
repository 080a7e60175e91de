//! `--format junit`: JUnit XML for CI test dashboards (GitLab, Jenkins, Azure DevOps, …).
//!
//! The root `<testsuites name="poolguard">` holds one `<testsuite>` per rule: every built-in
//! rule, in `poolguard rules` order, then any other rule id a finding carries. A rule's suite
//! has one test case per file it found something in (`name` and `file` = the path, `classname` =
//! the rule id) whose single `<failure>` lists every finding of that rule in that file
//! (`type` = the highest severity, `message` = the first finding's message); a rule that found
//! nothing has one passing test case, `all files`, so dashboards show that it ran. Suppressed
//! findings are not reported.
//!
//! The XML is written by hand (no dependency): attribute and text values are escaped, line
//! breaks in attributes are kept as character references, and characters XML 1.0 cannot carry
//! (control characters other than tab, CR and LF; U+FFFE, U+FFFF) become U+FFFD. No time stamp
//! or duration is written (`time="0"`), so the output is reproducible.

use std::fmt::Write as _;

use super::position;
use crate::diag::{Diagnostic, Severity};
use crate::redact::redact;
use crate::report::Report;
use crate::rules::RULES;
use crate::source::SourceDb;

/// Name of the passing test case of a rule that found nothing.
pub const PASSING_CASE: &str = "all files";

/// A rule's findings, by file path, both in first-seen order.
type ByFile<'a> = Vec<(String, Vec<&'a Diagnostic>)>;

/// Renders the JUnit document with a trailing newline. XML has no colour, so `_color` is
/// ignored.
pub fn render(report: &Report, db: &SourceDb, _color: bool) -> String {
    // Built-in rules in table order, then other rule ids as they are first seen.
    let mut rules: Vec<(&str, ByFile<'_>)> = RULES.iter().map(|r| (r.id, Vec::new())).collect();
    for d in &report.findings {
        let i = match rules.iter().position(|(id, _)| *id == d.rule) {
            Some(i) => i,
            None => {
                rules.push((&d.rule, Vec::new()));
                rules.len() - 1
            }
        };
        let path = position(db, d.primary.span).path.to_string();
        let files = &mut rules[i].1;
        match files.iter_mut().find(|(p, _)| *p == path) {
            Some((_, list)) => list.push(d),
            None => files.push((path, vec![d])),
        }
    }

    let tests: usize = rules.iter().map(|(_, files)| files.len().max(1)).sum();
    let failures: usize = rules.iter().map(|(_, files)| files.len()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"poolguard\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"0\" time=\"0\">"
    );
    for (rule, files) in &rules {
        let rule = attr(rule);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{rule}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" \
             time=\"0\">",
            files.len().max(1),
            files.len()
        );
        if files.is_empty() {
            let _ = writeln!(
                out,
                "    <testcase name=\"{PASSING_CASE}\" classname=\"{rule}\" time=\"0\"/>"
            );
        }
        for (path, findings) in files {
            let path = attr(path);
            let _ = writeln!(
                out,
                "    <testcase name=\"{path}\" classname=\"{rule}\" file=\"{path}\" time=\"0\">"
            );
            let severity = findings
                .iter()
                .map(|d| d.severity)
                .max()
                .unwrap_or(Severity::Error);
            let mut message = redact(&findings[0].message).into_owned();
            if findings.len() > 1 {
                let _ = write!(message, " (and {} more)", findings.len() - 1);
            }
            let details: Vec<String> = findings.iter().map(|d| details(d, db)).collect();
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                attr(&message),
                severity.as_str(),
                text(&details.join("\n\n"))
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// A finding as plain text for a failure body: title, location, factor chain, notes, help.
fn details(d: &Diagnostic, db: &SourceDb) -> String {
    let mut out = format!(
        "{}[{}]: {}",
        d.severity.as_str(),
        redact(&d.rule),
        redact(&d.message)
    );
    let at = position(db, d.primary.span);
    if !at.path.is_empty() {
        let _ = write!(out, "\n  --> {}:{}:{}", redact(at.path), at.line, at.column);
        if !d.primary.message.is_empty() {
            let _ = write!(out, ": {}", redact(&d.primary.message));
        }
    }
    for label in &d.related {
        let at = position(db, label.span);
        let _ = write!(out, "\n  - {}", redact(&label.message));
        if !at.path.is_empty() {
            let _ = write!(out, " ({}:{}:{})", redact(at.path), at.line, at.column);
        }
    }
    for note in &d.notes {
        let _ = write!(out, "\n  = note: {}", redact(note));
    }
    if let Some(help) = &d.help {
        let _ = write!(out, "\n  = help: {}", redact(help));
    }
    out
}

/// `c` if XML 1.0 allows it, else U+FFFD.
fn xml_char(c: char) -> char {
    let allowed = matches!(c, '\t' | '\n' | '\r')
        || (!c.is_control() && c != '\u{FFFE}' && c != '\u{FFFF}')
        || ('\u{7F}'..='\u{9F}').contains(&c);
    if allowed { c } else { '\u{FFFD}' }
}

/// An attribute value (for double quotes): markup characters escaped, tab and line breaks as
/// character references so attribute normalization keeps them.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// Element text: markup characters escaped, CR as a character reference (a parser would
/// otherwise fold `\r\n` into `\n`).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_fixture::fixture;
    use crate::source::Span;

    #[test]
    fn suites_per_rule_with_passing_cases() {
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        assert!(out.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"poolguard\""
        ));
        assert!(out.ends_with("</testsuites>\n"));
        // Every built-in rule has a suite; two of them failed in one file each.
        for r in RULES {
            assert!(
                out.contains(&format!("<testsuite name=\"{}\"", r.id)),
                "{} missing",
                r.id
            );
        }
        let total = RULES.len();
        assert!(out.contains(&format!(
            "<testsuites name=\"poolguard\" tests=\"{total}\" failures=\"2\" errors=\"0\""
        )));
        assert!(out.contains(
            "  <testsuite name=\"capacity-exceeded\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\">\n    \
             <testcase name=\"all files\" classname=\"capacity-exceeded\" time=\"0\"/>\n  </testsuite>\n"
        ));
        assert!(
            out.contains(
                "<testcase name=\"deploy/auth.yaml\" classname=\"rollout-capacity-exceeded\" \
             file=\"deploy/auth.yaml\" time=\"0\">\n      <failure message=\"rollout of \
             prod/Deployment/auth needs 236 connections; prod/auth-db accepts 197\" \
             type=\"error\">error[rollout-capacity-exceeded]: rollout of prod/Deployment/auth \
             needs 236 connections; prod/auth-db accepts 197\n  --&gt; deploy/auth.yaml:6:29: \
             pool size 20\n  - replicas: 6 (deploy/auth.yaml:3:13)\n"
            ),
            "{out}"
        );
        assert!(out.contains("  = help: set the pool size to 15 or less</failure>"));
        assert!(out.contains("type=\"warning\">warning[unresolved-database]"));
        assert!(!out.contains("hunter2") && !out.contains("s3cr3t"), "{out}");
        assert!(out.contains("postgres://app:****@orders-db/app"));
    }

    #[test]
    fn findings_in_one_file_share_a_case() {
        let mut db = SourceDb::default();
        let a = db.add("a.yaml".into(), "k: 1\nk: 2\nk: 3\n".into());
        let b = db.add("b.yaml".into(), "x: 1\n".into());
        let dup = |file, start: usize, sev| {
            Diagnostic::new(
                "duplicate-key",
                sev,
                Span::new(file, start, start + 1),
                "dup <k>",
            )
        };
        let report = Report {
            files: 2,
            findings: vec![
                dup(a, 5, Severity::Warning),
                dup(a, 10, Severity::Error),
                dup(b, 0, Severity::Warning),
                Diagnostic::new("custom-policy", Severity::Note, Span::new(b, 0, 1), "n"),
            ],
            ..Report::default()
        };
        let out = render(&report, &db, false);
        assert!(
            out.contains(
                "<testsuite name=\"duplicate-key\" tests=\"2\" failures=\"2\" errors=\"0\""
            )
        );
        assert!(out.contains(
            "<failure message=\"dup &lt;k&gt; (and 1 more)\" type=\"error\">warning[duplicate-key]: \
             dup &lt;k&gt;\n  --&gt; a.yaml:2:1\n\nerror[duplicate-key]: dup &lt;k&gt;\n  --&gt; a.yaml:3:1</failure>"
        ), "{out}");
        // A rule that is not built in gets a suite of its own, after the built-in ones.
        let custom = out.find("<testsuite name=\"custom-policy\" tests=\"1\" failures=\"1\"");
        let last_builtin = out.find(&format!("<testsuite name=\"{}\"", RULES.last().unwrap().id));
        assert!(custom > last_builtin, "{out}");
        assert!(out.contains("type=\"note\""));
    }

    #[test]
    fn escaping() {
        assert_eq!(
            attr("a&b<c>\"d'\n\r\t"),
            "a&amp;b&lt;c&gt;&quot;d&apos;&#10;&#13;&#9;"
        );
        assert_eq!(text("a&b<c>\"'\n\r\t"), "a&amp;b&lt;c&gt;\"'\n&#13;\t");
        assert_eq!(
            text("nul\0 bell\u{7} ok\u{85} bad\u{FFFF}"),
            "nul\u{FFFD} bell\u{FFFD} ok\u{85} bad\u{FFFD}"
        );
        assert_eq!(attr("\u{1b}[31m"), "\u{FFFD}[31m");
    }

    #[test]
    fn empty_report_lists_every_rule_as_passing() {
        let out = render(&Report::default(), &SourceDb::default(), false);
        assert_eq!(
            out.matches("<testcase name=\"all files\"").count(),
            RULES.len()
        );
        assert!(!out.contains("<failure"));
    }
}
