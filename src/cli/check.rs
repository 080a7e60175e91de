//! `poolguard check`.

use std::io::Read;
use std::path::PathBuf;

use crate::check::{self, Request};
use crate::config::{self, Config, Scenario};
use crate::diag::Severity;
use crate::render::{self, Format};
use crate::source::SourceDb;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories to check (`-` reads a YAML stream from stdin).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Config file (default: poolguard.yaml or .poolguard.yaml next to the first path or above).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output format, repeatable: human, json, sarif, junit, github, markdown; `FMT=FILE`
    /// writes to a file. `github` also appends the markdown summary to $GITHUB_STEP_SUMMARY.
    #[arg(long = "format", value_name = "FMT[=FILE]")]
    formats: Vec<String>,
    /// Which sum gates errors: steady, rollout (default), all-rollouts.
    #[arg(long)]
    scenario: Option<String>,
    /// Lowest severity that fails the run: error (default) or warning.
    #[arg(long, default_value = "error")]
    fail_on: String,
    /// Also evaluate the tree as of this git revision and report what changed.
    #[arg(long, value_name = "GIT-REF")]
    base: Option<String>,
}

pub fn run(a: Args) -> Result<u8, String> {
    if a.base.is_some() && a.paths.iter().any(|p| p.as_os_str() == "-") {
        return Err(
            "--base cannot compare standard input (`-`): check files in a repository".into(),
        );
    }
    let fail_on = match a.fail_on.as_str() {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        other => {
            return Err(format!(
                "--fail-on must be `error` or `warning`, not `{other}`"
            ));
        }
    };
    let mut outputs: Vec<(Format, Option<PathBuf>)> = Vec::new();
    for f in &a.formats {
        let (name, file) = match f.split_once('=') {
            Some((n, p)) => (n, Some(PathBuf::from(p))),
            None => (f.as_str(), None),
        };
        let fmt = Format::parse(name).ok_or_else(|| {
            format!(
                "unknown format `{name}` (expected: human, json, sarif, junit, github, markdown)"
            )
        })?;
        outputs.push((fmt, file));
    }
    if outputs.is_empty() {
        outputs.push((Format::Human, None));
    }
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
    let mut cfg = match config_path.clone() {
        Some(p) => {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let abs = std::path::absolute(&p).unwrap_or(p);
            let id = db.add(crate::input::display_path(&abs, &cwd), text.into());
            config::load(&db, id).map_err(|e| format!("invalid config:\n{}", e.0.join("\n")))?
        }
        None => Config::default(),
    };
    let scenario = match &a.scenario {
        Some(s) => Some(Scenario::parse(s).ok_or_else(|| {
            format!("--scenario must be steady, rollout or all-rollouts, not `{s}`")
        })?),
        None => None,
    };
    if let Some(s) = scenario {
        cfg.scenario = s;
    }
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
    let root = check::run_root(&cfg, &db, &cwd, &a.paths);
    let policy_files = check::policy_paths(&root, &cfg, &db, &cwd);
    let policies = crate::policy::load(&policy_files, &mut db, &cwd)
        .map_err(|e| format!("invalid policy:\n{}", e.join("\n")))?;
    let (mut report, db) = check::run(req, db, &cfg, &policies)?;
    if let Some(git_ref) = &a.base {
        let req = crate::diff::BaseRequest {
            git_ref,
            paths: &a.paths,
            config: a.config.as_deref(),
            head_config: config_path.as_deref(),
            scenario,
            head_scenario: cfg.scenario,
            cwd: &cwd,
        };
        crate::diff::attach(&mut report, &req)?;
    }
    if outputs.iter().any(|(fmt, _)| *fmt == Format::Github) {
        append_step_summary(&report, &db);
    }
    let mut phases = crate::timings::Phases::start();
    for (fmt, file) in outputs {
        let color = file.is_none() && fmt == Format::Human && stdout_color();
        let text = render::render(fmt, &report, &db, color);
        match file {
            Some(p) => std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?,
            None => super::print(&text),
        }
    }
    phases.mark("render");
    let failed = report.findings.iter().any(|d| d.severity >= fail_on);
    Ok(if failed {
        super::EXIT_FINDINGS
    } else {
        super::EXIT_CLEAN
    })
}

/// With `--format github` inside a GitHub Actions job, appends the markdown summary to the
/// file `GITHUB_STEP_SUMMARY` names (the job's summary page). Failing to write it only warns:
/// the check itself has been done.
fn append_step_summary(report: &crate::report::Report, db: &SourceDb) {
    use std::io::Write;
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let text = render::github::step_summary(report, db);
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "poolguard: warning: cannot append the step summary to {}: {e}",
            std::path::Path::new(&path).display()
        );
    }
}

fn stdout_color() -> bool {
    matches!(
        anstream::AutoStream::choice(&std::io::stdout()),
        anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi
    )
}
