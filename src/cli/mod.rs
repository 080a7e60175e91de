//! Command-line interface: clap arguments, one file per subcommand.

mod check;
mod explain;
mod fix;
mod init;
mod policy;
mod report;
mod rules;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: no finding at or above the fail level.
pub const EXIT_CLEAN: u8 = 0;
/// Exit code: at least one finding at or above the fail level.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: the tool could not do its job.
pub const EXIT_ERROR: u8 = 2;

/// Stops database connection-pool exhaustion before it ships.
#[derive(Parser, Debug)]
#[command(name = "poolguard", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check manifests and service configs for connection-capacity problems.
    Check(check::Args),
    /// Print each database's connection budget: capacity, every client's share, headroom.
    Report(report::Args),
    /// Print the documentation of a rule.
    Explain(explain::Args),
    /// Write a starter poolguard.yaml from what the manifests tell.
    Init(init::Args),
    /// Apply the suggested pool sizes (and maxSurge values) in place.
    Fix(fix::Args),
    /// List every rule (built-in and custom policies) with its default severity.
    Rules,
    /// Work with custom policies.
    #[command(subcommand)]
    Policy(policy::Command),
    /// Print the JSON Schema of poolguard.yaml (`config`) or of policy files (`policy`).
    Schema {
        /// `config` or `policy`.
        #[arg(value_parser = ["config", "policy"])]
        which: String,
    },
}

/// Runs the CLI and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check(a) => check::run(a),
        Command::Report(a) => report::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Init(a) => init::run(a),
        Command::Fix(a) => fix::run(a),
        Command::Rules => rules::run(),
        Command::Policy(c) => policy::run(c),
        Command::Schema { which } => {
            let v = if which == "policy" {
                crate::schema::policy()
            } else {
                crate::schema::config()
            };
            print(&crate::schema::render(&v));
            Ok(EXIT_CLEAN)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            let _ = writeln!(std::io::stderr(), "poolguard: error: {msg}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Writes to stdout; a closed pipe (`poolguard … | head`) ends the run quietly.
pub fn print(text: &str) {
    let mut out = anstream::stdout();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Loads the policies a run in the current directory would use (for `rules` and `explain`).
fn local_policies() -> Result<Vec<crate::policy::Policy>, String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let mut db = crate::source::SourceDb::default();
    let cfg = match crate::check::discover_config(&cwd) {
        Some(p) => {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let id = db.add(crate::input::display_path(&p, &cwd), text.into());
            crate::config::load(&db, id)
                .map_err(|e| format!("invalid config:\n{}", e.0.join("\n")))?
        }
        None => crate::config::Config::default(),
    };
    let root = crate::check::run_root(&cfg, &db, &cwd, &[]);
    let files = crate::check::policy_paths(&root, &cfg, &db, &cwd);
    crate::policy::load(&files, &mut db, &cwd)
        .map_err(|e| format!("invalid policy:\n{}", e.join("\n")))
}
