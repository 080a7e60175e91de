//! The `check` pipeline: walk → parse → model → capacity + rules → findings.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::capacity;
use crate::config::{Config, RuleLevel};
use crate::diag::{Diagnostic, Severity, suppress};
use crate::input::{self, Source};
use crate::model;
use crate::policy::{self, Policy};
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

/// The directory a run is rooted at: the config file's directory, else the first path (or
/// its directory), else `cwd`. `ignore` globs and `policies/` are relative to it.
pub fn run_root(config: &Config, db: &SourceDb, cwd: &Path, paths: &[PathBuf]) -> PathBuf {
    if let Some(f) = config.file {
        return cwd
            .join(&db.get(f).path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.to_path_buf());
    }
    match paths.iter().find(|p| p.as_os_str() != "-") {
        Some(p) if p.is_dir() => cwd.join(p),
        Some(p) => cwd
            .join(p)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.to_path_buf()),
        None => cwd.to_path_buf(),
    }
}

/// Runs the pipeline. `config` and `policies` were loaded into `db` beforehand. Fails only
/// when policy evaluation exceeds its budget (the run's result could not be trusted).
pub fn run(
    req: Request,
    mut db: SourceDb,
    config: &Config,
    policies: &[Policy],
) -> Result<(Report, SourceDb), String> {
    let mut phases = crate::timings::Phases::start();
    let root = run_root(config, &db, &req.cwd, &req.paths);
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
    // Policy files are rules, not inputs: their tests' inline manifests must not be checked.
    let policy_files: Vec<PathBuf> = policies
        .iter()
        .map(|p| req.cwd.join(&db.get(p.file).path))
        .filter_map(|p| std::path::absolute(p).ok())
        .collect();
    let walked = walk::walk(&fs_paths, &root, &ignore);
    phases.mark("walk");
    for e in walked {
        if let walk::Entry::File { path, .. } = &e
            && std::path::absolute(path).is_ok_and(|a| policy_files.contains(&a))
        {
            continue;
        }
        sources.push(Source::Entry(e));
    }
    let mut inputs = input::load(sources, &req.cwd, &config.limits, &mut db);
    phases.mark("read+parse");
    let m = model::build(&inputs.files, &mut db, config);
    phases.mark("model");
    let budgets = capacity::evaluate(&m, config);
    phases.mark("capacity");
    let ctx = rules::Ctx {
        model: &m,
        budgets: &budgets,
        config,
    };
    let mut findings = std::mem::take(&mut inputs.diagnostics);
    findings.extend(m.diagnostics.iter().cloned());
    findings.extend(rules::run(&ctx));
    phases.mark("rules");
    findings.extend(policy::eval::evaluate(
        policies,
        &m,
        &budgets,
        &inputs.files,
        &db,
    )?);
    let (findings, suppressed) =
        suppress::apply(findings, &db, &m.suppressions, config, &suppress::today());
    let findings = apply_levels(findings, config);
    let mut report = Report {
        files: inputs.count,
        findings,
        suppressed,
        databases: capacity::to_reports(&m, &budgets),
        base: None,
    };
    sort(&mut report.findings, &db);
    sort(&mut report.suppressed, &db);
    phases.mark("policies+suppress+sort");
    // Freeing the parsed trees costs a few percent of a large run: free them on every core.
    inputs.files.into_par_iter().for_each(drop);
    phases.mark("free");
    Ok((report, db))
}

/// Policy files for a run: every `*.yaml` in `<root>/policies/`, plus the paths listed under
/// `policies:` in poolguard.yaml (relative to its directory).
pub fn policy_paths(root: &Path, config: &Config, db: &SourceDb, cwd: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.join("policies")];
    if let Some(f) = config.file {
        let base = cwd.join(&db.get(f).path);
        let base = base.parent().unwrap_or(Path::new("."));
        dirs.extend(config.policies.iter().map(|(p, _)| base.join(p)));
    }
    policy::discover(&dirs)
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
