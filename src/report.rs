//! The result of a run: what every renderer prints.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::config::Scenario;
use crate::diag::Diagnostic;
use crate::source::{SourceDb, Span};

/// Where a number in the model came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// Read from a file at this span.
    At(Span),
    /// A documented default; the text names it (`HikariCP maximum-pool-size default`).
    Default(&'static str),
}

/// A number with its origin.
#[derive(Clone, Debug, PartialEq)]
pub struct Fact {
    /// The value.
    pub value: i64,
    /// Where it came from.
    pub origin: Origin,
}

impl Fact {
    /// A number read at `span`.
    pub fn at(value: i64, span: Span) -> Fact {
        Fact {
            value,
            origin: Origin::At(span),
        }
    }

    /// A documented default.
    pub fn default(value: i64, what: &'static str) -> Fact {
        Fact {
            value,
            origin: Origin::Default(what),
        }
    }

    /// The span, when the number was read from a file.
    pub fn span(&self) -> Option<Span> {
        match self.origin {
            Origin::At(s) => Some(s),
            Origin::Default(_) => None,
        }
    }
}

/// Overall state of a database's budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Within budget.
    Ok,
    /// Within capacity but above the warning threshold, or a scenario is unknown.
    Warning,
    /// Over capacity in the gating scenario.
    Error,
}

impl Status {
    /// `ok`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Error => "error",
        }
    }
}

/// One client's share of a database.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientReport {
    /// Workload id (`ns/Kind/name`).
    pub workload: String,
    /// Pooler id when the client reaches the database through a pooler.
    pub via: Option<String>,
    /// Pods in steady state.
    pub pods_steady: Option<i64>,
    /// Pods at the workload's own rollout peak.
    pub pods_peak: Option<i64>,
    /// Connections one pod may open to this database.
    pub conn_pod: Option<i64>,
    /// `pods_steady × conn_pod`.
    pub steady: Option<i64>,
    /// `pods_peak × conn_pod`.
    pub peak: Option<i64>,
}

/// One database's budget.
#[derive(Clone, Debug, PartialEq)]
pub struct DatabaseReport {
    /// Database id.
    pub id: String,
    /// `postgres` or `mysql`.
    pub engine: String,
    /// Server `max_connections`.
    pub max_connections: i64,
    /// Slots reserved for superusers / reserved roles.
    pub reserved: i64,
    /// Slots kept free by configuration.
    pub headroom: i64,
    /// `max_connections − reserved − headroom`.
    pub capacity: i64,
    /// S0; `None` when a term is unknown.
    pub steady: Option<i64>,
    /// S1; `None` when a term is unknown.
    pub rollout: Option<i64>,
    /// S2; `None` when a term is unknown.
    pub all_rollouts: Option<i64>,
    /// Verdict.
    pub status: Status,
    /// Every client, in workload-id order.
    pub clients: Vec<ClientReport>,
}

/// Everything a renderer needs.
#[derive(Debug, Default)]
pub struct Report {
    /// Number of files read.
    pub files: usize,
    /// Findings that were not suppressed, sorted by file and position.
    pub findings: Vec<Diagnostic>,
    /// Findings silenced by a suppression.
    pub suppressed: Vec<Diagnostic>,
    /// Per-database budgets, by id.
    pub databases: Vec<DatabaseReport>,
    /// With `--base REF`: the same run as of that git revision, for before/after figures
    /// (`databases[].base`) and new findings (`findings[].new`). `None` without `--base`.
    pub base: Option<Baseline>,
}

/// The run as of a base revision (`--base REF`), reduced to what comparisons need.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    /// The revision as the user wrote it (`HEAD~1`, `origin/main`).
    pub git_ref: String,
    /// The commit it resolved to.
    pub commit: String,
    /// The gating scenario of the current run (the figure change lines show).
    pub scenario: Scenario,
    /// Per-database budgets at the base revision, by id.
    pub databases: Vec<DatabaseReport>,
    /// Findings at the base revision, by identity (paths as absolute paths of the work tree).
    pub findings: HashSet<FindingKey>,
    /// Directory the current run's paths are shown relative to.
    pub cwd: PathBuf,
}

/// What makes two findings the same across revisions: rule, database, workload and file —
/// not lines or messages, which move and change with the numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FindingKey {
    /// Rule id.
    pub rule: String,
    /// Database id.
    pub database: Option<String>,
    /// Workload id.
    pub workload: Option<String>,
    /// Absolute, lexically normalised path of the primary location's file.
    pub path: PathBuf,
}

impl FindingKey {
    /// The key of `d`, whose file paths in `db` are relative to `cwd`.
    pub fn of(d: &Diagnostic, db: &SourceDb, cwd: &Path) -> FindingKey {
        let path = if (d.primary.span.file.0 as usize) < db.len() {
            normalize(&cwd.join(&db.get(d.primary.span.file).path))
        } else {
            PathBuf::new()
        };
        FindingKey {
            rule: d.rule.clone(),
            database: d.database.clone(),
            workload: d.workload.clone(),
            path,
        }
    }
}

impl Baseline {
    /// The database `id` as of the base revision, if it existed there.
    pub fn database(&self, id: &str) -> Option<&DatabaseReport> {
        self.databases.iter().find(|d| d.id == id)
    }

    /// Whether finding `d` of the current run (files in `db`) did not exist at the base.
    pub fn is_new(&self, d: &Diagnostic, db: &SourceDb) -> bool {
        !self.findings.contains(&FindingKey::of(d, db, &self.cwd))
    }
}

/// `path` with `.` and `..` components resolved lexically (no file-system access).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
