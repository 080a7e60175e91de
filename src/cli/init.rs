//! `poolguard init [PATH]`: write a starter poolguard.yaml from what the manifests tell.

use std::path::PathBuf;

use crate::source::SourceDb;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to read and to write poolguard.yaml into.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Overwrite an existing poolguard.yaml.
    #[arg(long)]
    force: bool,
    /// Print the file instead of writing it.
    #[arg(long)]
    stdout: bool,
}

pub fn run(a: Args) -> Result<u8, String> {
    if !a.path.is_dir() {
        return Err(format!(
            "{}: not a directory (`poolguard init` writes poolguard.yaml into a directory)",
            a.path.display()
        ));
    }
    let target = a.path.join("poolguard.yaml");
    if !a.stdout && !a.force {
        for name in ["poolguard.yaml", ".poolguard.yaml"] {
            let existing = a.path.join(name);
            if existing.exists() {
                return Err(format!(
                    "{} already exists; use --force to overwrite it or --stdout to print the new one",
                    existing.display()
                ));
            }
        }
    }
    let starter = crate::init::starter(&a.path);
    // The file must be one `check` accepts; anything else is a bug here, not the user's.
    let mut db = SourceDb::default();
    let id = db.add("poolguard.yaml".into(), starter.text.as_str().into());
    if let Err(e) = crate::config::load(&db, id) {
        return Err(format!(
            "internal error: the generated poolguard.yaml does not validate:\n{}",
            e.0.join("\n")
        ));
    }
    if a.stdout {
        super::print(&starter.text);
        return Ok(super::EXIT_CLEAN);
    }
    std::fs::write(&target, &starter.text)
        .map_err(|e| format!("{}: cannot write: {e}", target.display()))?;
    let mut todo = Vec::new();
    if starter.unresolved_databases > 0 {
        todo.push(format!(
            "{} unresolved database{}",
            starter.unresolved_databases,
            if starter.unresolved_databases == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    if starter.unresolved_pools > 0 {
        todo.push(format!(
            "{} unknown pool size{}",
            starter.unresolved_pools,
            if starter.unresolved_pools == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    eprintln!(
        "poolguard init: wrote {} ({} database{} found{})",
        target.display(),
        starter.databases,
        if starter.databases == 1 { "" } else { "s" },
        if todo.is_empty() {
            String::new()
        } else {
            format!("; TODO: {}", todo.join(", "))
        }
    );
    Ok(super::EXIT_CLEAN)
}
