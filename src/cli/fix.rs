//! `poolguard fix`: apply the suggested pool sizes (and maxSurge values) in place.
//!
//! The unified diff goes to stdout (so `poolguard fix --dry-run > fix.patch` is a patch
//! `git apply` takes); what was done, skipped and re-checked goes to stderr.

use std::path::{Path, PathBuf};

use crate::check::{self, Request};
use crate::config::{self, Config, Scenario};
use crate::fix;
use crate::policy::Policy;
use crate::source::SourceDb;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories to fix.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Config file (default: poolguard.yaml or .poolguard.yaml next to the first path or above).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Which sum the fixed values must fit: steady, rollout (default), all-rollouts.
    #[arg(long)]
    scenario: Option<String>,
    /// Print the diff and change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Rules whose findings `fix` resolves; after fixing, none of them may remain.
const CAPACITY_RULES: [&str; 2] = ["capacity-exceeded", "rollout-capacity-exceeded"];

pub fn run(a: Args) -> Result<u8, String> {
    if a.paths.iter().any(|p| p.as_os_str() == "-") {
        return Err("`poolguard fix` rewrites files; it cannot fix standard input (`-`)".into());
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let scenario = a
        .scenario
        .as_deref()
        .map(|s| {
            Scenario::parse(s).ok_or_else(|| {
                format!("--scenario must be steady, rollout or all-rollouts, not `{s}`")
            })
        })
        .transpose()?;
    let (report, db) = {
        let s = setup(&a.paths, a.config.as_deref(), scenario, &cwd)?;
        let req = Request {
            paths: a.paths.clone(),
            stdin: None,
            cwd: cwd.clone(),
        };
        check::run(req, s.db, &s.config, &s.policies)?
    };
    let plan = fix::plan(&report, &db);
    let changes = fix::changes(&plan, &db, &cwd);
    let mut diff = String::new();
    for c in &changes {
        diff.push_str(&c.diff());
    }
    super::print(&diff);
    for s in &plan.skipped {
        eprintln!("poolguard fix: skipped {} ({}): {}", s.at, s.rule, s.reason);
    }
    if changes.is_empty() {
        eprintln!("poolguard fix: nothing to change");
        return Ok(if plan.skipped.is_empty() {
            super::EXIT_CLEAN
        } else {
            super::EXIT_FINDINGS
        });
    }
    if a.dry_run {
        for c in &changes {
            for w in &c.what {
                eprintln!("poolguard fix: would set {w} in {}", c.display);
            }
        }
        return Ok(if plan.skipped.is_empty() {
            super::EXIT_CLEAN
        } else {
            super::EXIT_FINDINGS
        });
    }
    // Every file is checked before any is written, so a conflict leaves nothing half done.
    for c in &changes {
        let now = std::fs::read(&c.path).map_err(|e| format!("{}: {e}", c.display))?;
        if now != c.old.as_bytes() {
            return Err(format!(
                "{} changed since it was read; nothing was rewritten (run `poolguard fix` again)",
                c.display
            ));
        }
    }
    for c in &changes {
        fix::write(c)?;
        for w in &c.what {
            eprintln!("poolguard fix: set {w} in {}", c.display);
        }
    }
    // Re-check: the capacity findings must be gone.
    let s = setup(&a.paths, a.config.as_deref(), scenario, &cwd)?;
    let req = Request {
        paths: a.paths.clone(),
        stdin: None,
        cwd: cwd.clone(),
    };
    let (after, db) = check::run(req, s.db, &s.config, &s.policies)?;
    let left: Vec<_> = after
        .findings
        .iter()
        .filter(|d| CAPACITY_RULES.contains(&d.rule.as_str()))
        .collect();
    if left.is_empty() {
        eprintln!("poolguard fix: re-checked: no capacity finding left");
    }
    for d in &left {
        eprintln!(
            "poolguard fix: still failing: {} {}: {}",
            db.location(d.primary.span),
            d.rule,
            crate::redact::redact(&d.message)
        );
    }
    Ok(if left.is_empty() && plan.skipped.is_empty() {
        super::EXIT_CLEAN
    } else {
        super::EXIT_FINDINGS
    })
}

/// What a run needs besides its paths, set up as `check` sets it up.
pub(super) struct Setup {
    pub db: SourceDb,
    pub config: Config,
    pub policies: Vec<Policy>,
}

/// Discovers and loads the config (or `config`) and the policies for `paths`.
pub(super) fn setup(
    paths: &[PathBuf],
    config: Option<&Path>,
    scenario: Option<Scenario>,
    cwd: &Path,
) -> Result<Setup, String> {
    for p in paths {
        if !p.exists() {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    let mut db = SourceDb::default();
    let config_path = match config {
        Some(p) => Some(p.to_path_buf()),
        None => check::discover_config(paths.first().map_or(cwd, |p| p.as_path())),
    };
    let mut cfg = match config_path {
        Some(p) => {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let abs = std::path::absolute(&p).unwrap_or(p);
            let id = db.add(crate::input::display_path(&abs, cwd), text.into());
            config::load(&db, id).map_err(|e| format!("invalid config:\n{}", e.0.join("\n")))?
        }
        None => Config::default(),
    };
    if let Some(s) = scenario {
        cfg.scenario = s;
    }
    let root = check::run_root(&cfg, &db, cwd, paths);
    let policy_files = check::policy_paths(&root, &cfg, &db, cwd);
    let policies = crate::policy::load(&policy_files, &mut db, cwd)
        .map_err(|e| format!("invalid policy:\n{}", e.join("\n")))?;
    Ok(Setup {
        db,
        config: cfg,
        policies,
    })
}
