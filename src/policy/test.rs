//! `poolguard policy test`: runs the tests embedded in policy files. Each case is a small
//! repository (inline files or a fixture directory) checked with only that policy; the
//! policy's findings must match the case's `expect` list exactly.

use std::path::{Path, PathBuf};

use super::{Expect, Policy, TestCase};
use crate::check::{self, Request};
use crate::config::Config;
use crate::source::SourceDb;

/// The outcome of one case.
#[derive(Debug)]
pub struct Outcome {
    /// Policy id.
    pub policy: String,
    /// Case name.
    pub case: String,
    /// `None` when it passed; else what differed, one line per difference.
    pub failure: Option<String>,
}

/// A finding as a case compares it.
#[derive(Debug, Clone, PartialEq)]
struct Got {
    file: String,
    line: usize,
    message: String,
}

fn matches(e: &Expect, g: &Got) -> bool {
    e.file
        .as_ref()
        .is_none_or(|f| g.file == *f || g.file.ends_with(&format!("/{f}")))
        && e.line.is_none_or(|l| l == g.line)
        && e.message
            .as_ref()
            .is_none_or(|m| g.message.contains(m.as_str()))
}

fn show_expect(e: &Expect) -> String {
    format!(
        "{}:{} {}",
        e.file.as_deref().unwrap_or("*"),
        e.line.map_or("*".to_string(), |l| l.to_string()),
        e.message
            .as_deref()
            .map_or(String::new(), |m| format!("“…{m}…”"))
    )
}

/// Runs one case.
pub fn run_case(policy: &Policy, case: &TestCase, db: &SourceDb) -> Outcome {
    let outcome = |failure| Outcome {
        policy: policy.id.clone(),
        case: case.name.clone(),
        failure,
    };
    let dir = match tempdir() {
        Ok(d) => d,
        Err(e) => return outcome(Some(format!("cannot create a temporary directory: {e}"))),
    };
    let root = dir.path().to_path_buf();
    if let Some(fx) = &case.fixture {
        let src = policy.dir.join(fx);
        if let Err(e) = copy_dir(&src, &root) {
            return outcome(Some(format!("fixture {}: {e}", src.display())));
        }
    }
    for (name, text) in &case.files {
        let p = root.join(name);
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::write(&p, text) {
            return outcome(Some(format!("{name}: {e}")));
        }
    }
    let req = Request {
        paths: vec![root.clone()],
        stdin: None,
        cwd: root.clone(),
    };
    let result = check::run(
        req,
        db.clone(),
        &Config::default(),
        std::slice::from_ref(policy),
    );
    let (report, db) = match result {
        Ok(r) => r,
        Err(e) => return outcome(Some(e)),
    };
    let mut got: Vec<Got> = report
        .findings
        .iter()
        .chain(report.suppressed.iter())
        .filter(|d| d.rule == policy.id || d.rule == "policy-error")
        .map(|d| {
            let f = db.get(d.primary.span.file);
            Got {
                file: f.path.clone(),
                line: f.line_col(d.primary.span.start).0,
                message: if d.rule == "policy-error" {
                    format!("policy-error: {}", d.message)
                } else {
                    d.message.clone()
                },
            }
        })
        .collect();
    got.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let ok =
        got.len() == case.expect.len() && case.expect.iter().zip(&got).all(|(e, g)| matches(e, g));
    if ok {
        return outcome(None);
    }
    let mut diff = String::new();
    for e in &case.expect {
        if !got.iter().any(|g| matches(e, g)) {
            diff.push_str(&format!("  - expected {}\n", show_expect(e)));
        }
    }
    for g in &got {
        if !case.expect.iter().any(|e| matches(e, g)) {
            diff.push_str(&format!(
                "  + got      {}:{} “{}”\n",
                g.file, g.line, g.message
            ));
        }
    }
    if diff.is_empty() {
        diff = format!(
            "  expected {} finding(s) in this order, got {}\n",
            case.expect.len(),
            got.len()
        );
        for g in &got {
            diff.push_str(&format!(
                "  + got      {}:{} “{}”\n",
                g.file, g.line, g.message
            ));
        }
    }
    outcome(Some(diff))
}

/// Runs every case of every policy, in order. `db` holds the policy files.
pub fn run_all(policies: &[Policy], db: &SourceDb) -> Vec<Outcome> {
    policies
        .iter()
        .flat_map(|p| p.tests.iter().map(move |c| run_case(p, c, db)))
        .collect()
}

struct TempDir(PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> std::io::Result<TempDir> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::temp_dir();
    let name = format!(
        "poolguard-policy-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let p = base.join(name);
    std::fs::create_dir_all(&p)?;
    Ok(TempDir(p))
}

fn copy_dir(src: &Path, dst: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy_dir(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), to)?;
        }
    }
    Ok(())
}
