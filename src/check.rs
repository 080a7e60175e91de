//! The `check` pipeline: walk → parse → model → capacity + rules → findings.

use std::path::{Path, PathBuf};

use crate::capacity;
use crate::config::{Config, RuleLevel};
use crate::diag::{Diagnostic, Severity, suppress};
use crate::input::{self, Source};
use crate::model;
use crate::report::Report;
use crate::rules;
use crate::source::SourceDb;
use crate::walk;

/// What to check.
#[derive(Debug, Default)]
pub struct Request {
    /// Paths (files or directories); `-` reads a YAML stream from `stdin`.
    pub paths: Vec<PathBuf>,
    /// Text of standard input, when `-` is among the paths.
    pub stdin: Option<String>,
    /// Directory paths are shown relative to.
    pub cwd: PathBuf,
}

/// Finds `poolguard.yaml` / `.poolguard.yaml` in `start` or its nearest ancestor that has one.
pub fn discover_config(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).ok()?;
    let mut dir = if start.is_dir() {
        Some(start.as_path())
    } else {
        start.parent()
    };
    while let Some(d) = dir {
        for name in ["poolguard.yaml", ".poolguard.yaml"] {
            let p = d.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
        dir = d.parent();
    }
    None
}

/// Runs the pipeline. `config` was loaded into `db` beforehand (or is the default).
pub fn run(req: Request, mut db: SourceDb, config: &Config) -> (Report, SourceDb) {
    let root = config
        .file
        .map(|f| req.cwd.join(&db.get(f).path))
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| req.cwd.clone());
    let ignore = walk::ignore_set(&config.ignore);
    let mut sources = Vec::new();
    let mut fs_paths = Vec::new();
    for p in &req.paths {
        if p.as_os_str() == "-" {
            sources.push(Source::Stdin(req.stdin.clone().unwrap_or_default()));
        } else {
            fs_paths.push(p.clone());
        }
    }
    for e in walk::walk(&fs_paths, &root, &ignore) {
        sources.push(Source::Entry(e));
    }
    let mut inputs = input::load(sources, &req.cwd, &config.limits, &mut db);
    let m = model::build(&inputs.files, &mut db, config);
    let budgets = capacity::evaluate(&m, config);
    let ctx = rules::Ctx {
        model: &m,
        budgets: &budgets,
        config,
    };
    let mut findings = std::mem::take(&mut inputs.diagnostics);
    findings.extend(m.diagnostics.iter().cloned());
    findings.extend(rules::run(&ctx));
    let (findings, suppressed) =
        suppress::apply(findings, &db, &m.suppressions, config, &suppress::today());
    let findings = apply_levels(findings, config);
    let mut report = Report {
        files: inputs.count,
        findings,
        suppressed,
        databases: capacity::to_reports(&m, &budgets),
    };
    sort(&mut report.findings, &db);
    (report, db)
}

fn apply_levels(findings: Vec<Diagnostic>, config: &Config) -> Vec<Diagnostic> {
    findings
        .into_iter()
        .filter_map(|mut d| {
            match config.rule_level(&d.rule) {
                Some(RuleLevel::Off) => return None,
                Some(RuleLevel::Note) => d.severity = Severity::Note,
                Some(RuleLevel::Warning) => d.severity = Severity::Warning,
                Some(RuleLevel::Error) => d.severity = Severity::Error,
                None => {}
            }
            Some(d)
        })
        .collect()
}

fn sort(findings: &mut [Diagnostic], db: &SourceDb) {
    findings.sort_by(|a, b| {
        let pa = &db.get(a.primary.span.file).path;
        let pb = &db.get(b.primary.span.file).path;
        (pa, a.primary.span.start, &a.rule, &a.message).cmp(&(
            pb,
            b.primary.span.start,
            &b.rule,
            &b.message,
        ))
    });
}
