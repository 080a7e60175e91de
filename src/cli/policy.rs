//! `poolguard policy test [DIR ...]`.

use std::path::PathBuf;

use crate::policy;
use crate::source::SourceDb;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run the tests embedded in policy files (default: ./policies).
    Test {
        /// Policy files or directories.
        paths: Vec<PathBuf>,
    },
}

pub fn run(c: Command) -> Result<u8, String> {
    let Command::Test { paths } = c;
    let paths = if paths.is_empty() {
        vec![PathBuf::from("policies")]
    } else {
        paths
    };
    for p in &paths {
        if !p.exists() {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let files = policy::discover(&paths);
    if files.is_empty() {
        return Err("no policy files found".into());
    }
    let mut db = SourceDb::default();
    let policies = policy::load(&files, &mut db, &cwd)
        .map_err(|e| format!("invalid policy:\n{}", e.join("\n")))?;
    let mut out = String::new();
    let (mut passed, mut failed) = (0, 0);
    for p in &policies {
        if p.tests.is_empty() {
            out.push_str(&format!("WARN {}: no embedded tests\n", p.id));
        }
    }
    for o in policy::test::run_all(&policies, &db) {
        match &o.failure {
            None => {
                passed += 1;
                out.push_str(&format!("PASS {} :: {}\n", o.policy, o.case));
            }
            Some(diff) => {
                failed += 1;
                out.push_str(&format!("FAIL {} :: {}\n{diff}", o.policy, o.case));
            }
        }
    }
    out.push_str(&format!("\n{passed} passed, {failed} failed\n"));
    super::print(&out);
    Ok(if failed > 0 {
        super::EXIT_FINDINGS
    } else {
        super::EXIT_CLEAN
    })
}
