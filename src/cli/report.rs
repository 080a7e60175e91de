//! `poolguard report`: each database's connection budget (informational: exit 0 unless the
//! tool fails).
//!
//! The run is set up exactly as `poolguard check` sets it up — the same config discovery,
//! policy loading and pipeline ([`crate::check`]) — so both commands see the same numbers;
//! only the rendering differs ([`crate::render::budget`]).

use std::io::Read;
use std::path::PathBuf;

use crate::check::{self, Request};
use crate::config::{self, Config};
use crate::render::budget::{self, BudgetFormat, Options};
use crate::source::SourceDb;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories to read (`-` reads a YAML stream from stdin).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Config file (default: poolguard.yaml or .poolguard.yaml next to the first path or above).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output format: table (aligned text), markdown (a PR comment), json, html (one
    /// self-contained page with a bar chart per database).
    #[arg(long, value_name = "FORMAT", default_value = "table",
          value_parser = ["table", "markdown", "json", "html"])]
    format: String,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also evaluate the repository as of a git revision (`origin/main`, `HEAD~1`) and show,
    /// per database, the figures before and after and which workloads moved them.
    #[arg(long, value_name = "GIT-REF")]
    base: Option<String>,
}

pub fn run(a: Args) -> Result<u8, String> {
    let format = BudgetFormat::parse(&a.format).ok_or_else(|| {
        format!(
            "unknown format `{}` (expected: table, markdown, json, html)",
            a.format
        )
    })?;
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    for p in &a.paths {
        if p.as_os_str() != "-" && !p.exists() {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    let mut db = SourceDb::default();
    let config_path = match &a.config {
        Some(p) => Some(p.clone()),
        None => {
            let first = a
                .paths
                .iter()
                .find(|p| p.as_os_str() != "-")
                .cloned()
                .unwrap_or_else(|| cwd.clone());
            check::discover_config(&first)
        }
    };
    let cfg = match &config_path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
            let id = db.add(crate::input::display_path(&abs, &cwd), text.into());
            config::load(&db, id).map_err(|e| format!("invalid config:\n{}", e.0.join("\n")))?
        }
        None => Config::default(),
    };
    let stdin = if a.paths.iter().any(|p| p.as_os_str() == "-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        Some(s)
    } else {
        None
    };
    let req = Request {
        paths: a.paths.clone(),
        stdin,
        cwd: cwd.clone(),
    };
    // Policies only add findings, which a budget report does not show; they are loaded anyway
    // so that an invalid policy fails here as it fails `check`, and so that policy files are
    // not read as inputs.
    let root = check::run_root(&cfg, &db, &cwd, &a.paths);
    let policy_files = check::policy_paths(&root, &cfg, &db, &cwd);
    let policies = crate::policy::load(&policy_files, &mut db, &cwd)
        .map_err(|e| format!("invalid policy:\n{}", e.join("\n")))?;
    let (mut report, _db) = check::run(req, db, &cfg, &policies)?;
    if let Some(git_ref) = &a.base {
        let req = crate::diff::BaseRequest {
            git_ref,
            paths: &a.paths,
            config: a.config.as_deref(),
            head_config: config_path.as_deref(),
            scenario: None,
            head_scenario: cfg.scenario,
            cwd: &cwd,
        };
        crate::diff::attach(&mut report, &req)?;
    }
    let options = Options {
        warn_utilization: cfg.warn_utilization,
    };
    let text = budget::render(format, &report, &options);
    match &a.output {
        Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))?,
        None => super::print(&text),
    }
    Ok(super::EXIT_CLEAN)
}
