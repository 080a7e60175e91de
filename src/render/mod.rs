//! Renderers: turn a [`Report`] into text in one output format.
//!
//! Each format lives in its own module exposing
//! `fn render(report: &Report, db: &SourceDb, color: bool) -> String`; [`render`] dispatches on
//! [`Format`]. Renderers return strings and never print: only `render` and `cli` decide where
//! output goes. Every renderer masks secrets (see [`crate::redact`]).
//!
//! The helpers here ([`Summary`], [`Position`]) hold what several formats compute alike, so that
//! counts and line/column numbers agree between formats.

pub mod budget;
pub mod github;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;

use std::fmt;
use std::str::FromStr;

use crate::diag::Severity;
use crate::report::Report;
use crate::source::{SourceDb, SourceFile, Span};

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Annotated source snippets, a budget table and a summary line, for terminals.
    Human,
    /// The JSON document of SPEC §9.
    Json,
    /// A SARIF 2.1.0 log, for code-scanning uploads.
    Sarif,
    /// JUnit XML: one test suite per rule, for CI test dashboards.
    Junit,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`): annotations on the diff.
    Github,
    /// A Markdown summary (headline, budget table, findings by database) for PR comments.
    Markdown,
}

impl Format {
    /// Every format, in the order they are documented.
    pub const ALL: [Format; 6] = [
        Format::Human,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Github,
        Format::Markdown,
    ];

    /// The name used on the command line (`--format NAME`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Github => "github",
            Format::Markdown => "markdown",
        }
    }

    /// The format named `name` on the command line, if any (also available as [`FromStr`]).
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--format` name that names no format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        write!(
            f,
            "unknown format `{}` (expected one of: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::parse(s).ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// Renders `report` in `format`. `color` asks for terminal styling; formats that have none
/// ignore it.
pub fn render(format: Format, report: &Report, db: &SourceDb, color: bool) -> String {
    match format {
        Format::Human => human::render(report, db, color),
        Format::Json => json::render(report, db, color),
        Format::Sarif => sarif::render(report, db, color),
        Format::Junit => junit::render(report, db, color),
        Format::Github => github::render(report, db, color),
        Format::Markdown => markdown::render(report, db, color),
    }
}

/// Finding counts of a run, as every format reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files read.
    pub files: usize,
    /// Unsuppressed findings at `error`.
    pub errors: usize,
    /// Unsuppressed findings at `warning`.
    pub warnings: usize,
    /// Unsuppressed findings at `note`.
    pub notes: usize,
    /// Suppressed findings, whatever their severity.
    pub suppressed: usize,
}

impl Summary {
    /// Counts the findings of `report`.
    pub fn of(report: &Report) -> Summary {
        let mut summary = Summary {
            files: report.files,
            suppressed: report.suppressed.len(),
            ..Summary::default()
        };
        for finding in &report.findings {
            match finding.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Note => summary.notes += 1,
            }
        }
        summary
    }
}

/// Where a span sits, in the 1-based lines and 1-based character columns users and CI tools
/// count in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position<'a> {
    /// The file's path as stored in the [`SourceDb`] (empty when the span names no file).
    pub path: &'a str,
    /// Line of the first byte.
    pub line: usize,
    /// Column of the first character.
    pub column: usize,
    /// Line of the end.
    pub end_line: usize,
    /// Column just after the last character (the end is exclusive, as in SARIF).
    pub end_column: usize,
}

/// The [`Position`] of `span`. Offsets inside a multi-byte character are widened to the whole
/// character, so the end column always lies after the last character touched.
pub fn position(db: &SourceDb, span: Span) -> Position<'_> {
    let Some(file) = source_file(db, span) else {
        return Position {
            path: "",
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
        };
    };
    let (start, end) = char_range(&file.text, span);
    let (line, column) = file.line_col(start as u32);
    let (end_line, end_column) = file.line_col(end as u32);
    Position {
        path: &file.path,
        line,
        column,
        end_line,
        end_column,
    }
}

/// The file a span points into, or `None` for a file id the database does not hold (renderers
/// degrade instead of panicking on a stale span).
pub(crate) fn source_file(db: &SourceDb, span: Span) -> Option<&SourceFile> {
    ((span.file.0 as usize) < db.len()).then(|| db.get(span.file))
}

/// `span`'s byte range clamped to `text` and widened to `char` boundaries.
pub(crate) fn char_range(text: &str, span: Span) -> (usize, usize) {
    let start = floor_char_boundary(text, span.start as usize);
    let end = ceil_char_boundary(text, (span.end as usize).max(start));
    (start, end)
}

/// The largest char boundary `<= i` (clamped to the text).
pub(crate) fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary `>= i` (clamped to the text).
pub(crate) fn ceil_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// A small run shared by the renderer tests: non-ASCII text above and before findings, related
/// labels in two files, a file-start label, a Secret value and a URL with a password.
#[cfg(test)]
pub(crate) mod test_fixture {
    use crate::diag::{Diagnostic, Severity, Suggestion};
    use crate::report::{ClientReport, DatabaseReport, Report, Status};
    use crate::source::{FileId, SourceDb, Span};

    pub(crate) const AUTH: &str = "\
# Anmeldedienst für Kunden — ☕
spec:
  replicas: 6
  strategy:
  maxSurge: 50%
  pool: {team: Zürich, max: 20}
";

    pub(crate) const DB: &str = "\
kind: Cluster
parameters:
  max_connections: \"200\"
---
kind: Secret
stringData:
  password: s3cr3t
";

    pub(crate) const ENV: &str = "\
# Verbindung zur Datenbank
DB_HOST=orders-db
DB_PASSWORD=hunter2
DB_URL=postgres://app:hunter2@orders-db/app
";

    /// Span of the `nth` (0-based) occurrence of `needle` in `text`.
    fn find(file: FileId, text: &str, needle: &str, nth: usize) -> Span {
        let start = text
            .match_indices(needle)
            .nth(nth)
            .expect("needle in fixture")
            .0;
        Span::new(file, start, start + needle.len())
    }

    /// The source files and the report over them.
    pub(crate) fn fixture() -> (SourceDb, Report) {
        let mut db = SourceDb::default();
        let auth = db.add("deploy/auth.yaml".into(), AUTH.into());
        let dbf = db.add("deploy/db.yaml".into(), DB.into());
        let env = db.add("config/app.env".into(), ENV.into());
        db.add_secret(find(dbf, DB, "s3cr3t", 0));

        let mut rollout = Diagnostic::new(
            "rollout-capacity-exceeded",
            Severity::Error,
            find(auth, AUTH, "20", 0),
            "rollout of prod/Deployment/auth needs 236 connections; prod/auth-db accepts 197",
        )
        .with_label("pool size 20")
        .related(find(auth, AUTH, "6", 0), "replicas: 6")
        .related(find(auth, AUTH, "50%", 0), "maxSurge: 50% → 3 pods")
        .related(find(dbf, DB, "\"200\"", 0), "max_connections: 200")
        .related(Span::file_start(dbf), "database defined here")
        .note("peak = 9 pods × 20 = 180")
        .note("superuser_reserved_connections: 3 (PostgreSQL default)")
        .help("set the pool size to 15 or less")
        .database("prod/auth-db")
        .workload("prod/Deployment/auth");
        rollout.suggestion = Some(Suggestion::PoolMax(15));

        let mut unresolved = Diagnostic::new(
            "unresolved-database",
            Severity::Warning,
            find(env, ENV, "orders-db", 1),
            "endpoint postgres://app:hunter2@orders-db/app matches no known database",
        )
        .with_label("host orders-db")
        .related(find(env, ENV, "DB_PASSWORD=hunter2", 0), "password=hunter2")
        .related(find(dbf, DB, "password: s3cr3t", 0), "password from Secret")
        .workload("prod/Deployment/auth");
        unresolved.suggestion = Some(Suggestion::MaxSurge(1));

        let suppressed = Diagnostic::new(
            "superuser-connection",
            Severity::Warning,
            Span::file_start(dbf),
            "connects as superuser",
        );

        let report = Report {
            files: 3,
            findings: vec![rollout, unresolved],
            suppressed: vec![suppressed],
            databases: vec![
                DatabaseReport {
                    id: "prod/auth-db".into(),
                    engine: "postgres".into(),
                    max_connections: 200,
                    reserved: 3,
                    headroom: 0,
                    capacity: 197,
                    steady: Some(176),
                    rollout: Some(236),
                    all_rollouts: Some(254),
                    status: Status::Error,
                    clients: vec![
                        ClientReport {
                            workload: "prod/Deployment/auth".into(),
                            via: None,
                            pods_steady: Some(6),
                            pods_peak: Some(9),
                            conn_pod: Some(20),
                            steady: Some(120),
                            peak: Some(180),
                        },
                        ClientReport {
                            workload: "prod/Deployment/worker".into(),
                            via: Some("prod/pgbouncer".into()),
                            pods_steady: None,
                            pods_peak: None,
                            conn_pod: Some(8),
                            steady: None,
                            peak: None,
                        },
                    ],
                },
                DatabaseReport {
                    id: "prod/orders-db".into(),
                    engine: "mysql".into(),
                    max_connections: 151,
                    reserved: 0,
                    headroom: 10,
                    capacity: 141,
                    steady: None,
                    rollout: None,
                    all_rollouts: None,
                    status: Status::Warning,
                    clients: Vec::new(),
                },
            ],
            base: None,
        };
        (db, report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostic;
    use crate::source::FileId;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
        let err = "xml".parse::<Format>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown format `xml` (expected one of: human, json, sarif, junit, github, markdown)"
        );
    }

    #[test]
    fn summary_counts_by_severity() {
        let span = Span::file_start(FileId(0));
        let report = Report {
            files: 3,
            findings: vec![
                Diagnostic::new("a", Severity::Error, span, "x"),
                Diagnostic::new("b", Severity::Warning, span, "x"),
                Diagnostic::new("c", Severity::Note, span, "x"),
                Diagnostic::new("d", Severity::Error, span, "x"),
            ],
            suppressed: vec![Diagnostic::new("e", Severity::Error, span, "x")],
            databases: Vec::new(),
            base: None,
        };
        assert_eq!(
            Summary::of(&report),
            Summary {
                files: 3,
                errors: 2,
                warnings: 1,
                notes: 1,
                suppressed: 1
            }
        );
    }

    #[test]
    fn position_widens_to_characters() {
        let mut db = SourceDb::default();
        let id = db.add("a.yaml".into(), "é: ☕\nx: 1\n".into());
        // "☕" is bytes 4..7; a span cut inside it still covers the whole character.
        let p = position(&db, Span::new(id, 5, 6));
        assert_eq!((p.line, p.column, p.end_line, p.end_column), (1, 4, 1, 5));
        let p = position(&db, Span::new(id, 8, 12));
        assert_eq!((p.line, p.column, p.end_line, p.end_column), (2, 1, 2, 5));
        assert_eq!(p.path, "a.yaml");
        let p = position(&db, Span::new(FileId(7), 0, 0));
        assert_eq!((p.path, p.line, p.column), ("", 1, 1));
    }
}
