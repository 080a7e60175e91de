//! The rule fixtures: every rule listed by `poolguard rules` has `fixtures/rules/<id>/fail/`,
//! which must produce at least one finding of that rule, and `fixtures/rules/<id>/pass/`, which
//! must produce none; and no fixture folder exists for a rule that is not listed.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn poolguard() -> Command {
    let mut c = Command::cargo_bin("poolguard").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    c
}

/// Rule ids, the first column of `poolguard rules`.
fn rule_ids() -> Vec<String> {
    let out = poolguard().arg("rules").output().unwrap();
    assert!(
        out.status.success(),
        "`poolguard rules` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        // Custom policies from ./policies are listed too; their tests are embedded in them.
        .filter(|l| l.split_whitespace().nth(2) == Some("built-in"))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(!ids.is_empty(), "`poolguard rules` listed no rules");
    ids
}

/// Runs `poolguard check <dir> --format json`; the rules each finding belongs to, or why the
/// run could not be read.
fn finding_rules(dir: &str) -> Result<Vec<String>, String> {
    let out = poolguard()
        .args(["check", dir, "--format", "json"])
        .output()
        .unwrap();
    let code = out.status.code();
    if !matches!(code, Some(0 | 1)) {
        return Err(format!(
            "exit {code:?}, stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("stdout is not JSON: {e}"))?;
    let findings = v["findings"].as_array().ok_or("no `findings` array")?;
    Ok(findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or("").to_string())
        .collect())
}

#[test]
fn every_rule_fires_on_its_fail_fixture_and_not_on_its_pass_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules");
    let mut problems = Vec::new();
    for id in rule_ids() {
        for kind in ["fail", "pass"] {
            let rel = format!("fixtures/rules/{id}/{kind}");
            if !root.join(&id).join(kind).is_dir() {
                problems.push(format!("{rel}: missing"));
                continue;
            }
            let rules = match finding_rules(&rel) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{rel}: {e}"));
                    continue;
                }
            };
            let hits = rules.iter().filter(|r| **r == id).count();
            match kind {
                "fail" if hits == 0 => {
                    problems.push(format!("{rel}: no `{id}` finding (got {rules:?})"))
                }
                "pass" if hits > 0 => {
                    problems.push(format!("{rel}: {hits} `{id}` finding(s) (got {rules:?})"))
                }
                _ => {}
            }
        }
    }
    assert!(
        problems.is_empty(),
        "rule fixtures:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn no_fixture_folder_is_orphaned() {
    let ids = rule_ids();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules");
    let mut orphans: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !ids.contains(name))
        .collect();
    orphans.sort();
    assert!(
        orphans.is_empty(),
        "fixtures/rules/ has folders for unknown rule ids: {orphans:?}"
    );
}
