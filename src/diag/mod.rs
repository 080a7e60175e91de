//! Findings: what rules produce and renderers print.

pub mod suppress;

use crate::source::Span;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational; never fails a run.
    Note,
    /// Fails the run with `--fail-on warning`.
    Warning,
    /// Fails the run by default.
    Error,
}

impl Severity {
    /// The lower-case name used in output and config.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A span with a message, pointing at one operand or cause.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there (`replicas: 6`, `max_connections: 200`).
    pub message: String,
}

impl Label {
    /// Builds a label.
    pub fn new(span: Span, message: impl Into<String>) -> Label {
        Label {
            span,
            message: message.into(),
        }
    }
}

/// A concrete change that would make a finding pass.
#[derive(Clone, Debug, PartialEq)]
pub enum Suggestion {
    /// Set the workload's per-process pool maximum to this value.
    PoolMax(i64),
    /// Set the workload's `maxSurge` to this value.
    MaxSurge(i64),
    /// Set the processes per container (PHP-FPM `pm.max_children`, workers) to this value,
    /// when the pool per process is fixed and the process count is the knob.
    Processes(i64),
}

/// One finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Rule id (kebab-case).
    pub rule: String,
    /// Severity after config overrides.
    pub severity: Severity,
    /// One-line message; never contains a secret.
    pub message: String,
    /// The location to change (primary label).
    pub primary: Label,
    /// Further operands and causes, in the order they should be read.
    pub related: Vec<Label>,
    /// Free-text notes (the factor chain, documented defaults).
    pub notes: Vec<String>,
    /// How to fix it, in words.
    pub help: Option<String>,
    /// Database id the finding is about.
    pub database: Option<String>,
    /// Workload id the finding is about.
    pub workload: Option<String>,
    /// A computed fix.
    pub suggestion: Option<Suggestion>,
}

impl Diagnostic {
    /// A finding with a primary location and message; the rest is filled by builder calls.
    pub fn new(rule: &str, severity: Severity, span: Span, message: impl Into<String>) -> Self {
        let message = message.into();
        Diagnostic {
            rule: rule.to_string(),
            severity,
            primary: Label::new(span, ""),
            message,
            related: Vec::new(),
            notes: Vec::new(),
            help: None,
            database: None,
            workload: None,
            suggestion: None,
        }
    }

    /// Sets the primary label's text.
    pub fn with_label(mut self, msg: impl Into<String>) -> Self {
        self.primary.message = msg.into();
        self
    }

    /// Adds a related location.
    pub fn related(mut self, span: Span, msg: impl Into<String>) -> Self {
        self.related.push(Label::new(span, msg));
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Sets the help text.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the database id.
    pub fn database(mut self, id: impl Into<String>) -> Self {
        self.database = Some(id.into());
        self
    }

    /// Sets the workload id.
    pub fn workload(mut self, id: impl Into<String>) -> Self {
        self.workload = Some(id.into());
        self
    }
}
