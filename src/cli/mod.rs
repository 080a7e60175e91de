//! Command-line interface: clap arguments, one file per subcommand.

mod check;
mod explain;
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
    /// Print the documentation of a rule.
    Explain(explain::Args),
    /// List every rule with its default severity.
    Rules,
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
        Command::Explain(a) => explain::run(a),
        Command::Rules => rules::run(),
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
