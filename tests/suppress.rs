//! Suppressions as SPEC §8 specifies them: annotation, comment, config entry with reason and
//! expiry; suppressed findings are counted and listed in JSON.

use assert_cmd::Command;
use serde_json::Value;

fn run(dir: &str, today: &str, config: Option<&str>) -> (i32, Value) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(root.join(dir)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tmp.path().join(e.file_name())).unwrap();
    }
    if let Some(c) = config {
        std::fs::write(tmp.path().join("poolguard.yaml"), c).unwrap();
    }
    let out = Command::cargo_bin("poolguard")
        .unwrap()
        .current_dir(tmp.path())
        .env("POOLGUARD_TODAY", today)
        .args(["check", ".", "--format", "json"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn rules(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

const FAILING: &str = "fixtures/rules/ineffective-suppression/fail";

#[test]
fn comment_on_the_line_above_suppresses_and_is_listed() {
    let (code, v) = run(
        "fixtures/rules/ineffective-suppression/pass",
        "2026-01-01",
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(rules(&v, "findings"), Vec::<String>::new());
    assert_eq!(rules(&v, "suppressed_findings"), vec!["capacity-exceeded"]);
    assert_eq!(v["summary"]["suppressed"], 1);
}

#[test]
fn misplaced_comment_suppresses_nothing_and_says_so() {
    let (code, v) = run(FAILING, "2026-01-01", None);
    assert_eq!(code, 1);
    assert_eq!(
        rules(&v, "findings"),
        vec!["ineffective-suppression", "capacity-exceeded"]
    );
}

#[test]
fn annotation_without_reason_suppresses_with_a_warning() {
    let (code, v) = run(
        "fixtures/rules/suppression-without-reason/fail",
        "2026-01-01",
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(rules(&v, "findings"), vec!["suppression-without-reason"]);
    assert_eq!(rules(&v, "suppressed_findings"), vec!["capacity-exceeded"]);
}

#[test]
fn config_entries_expire() {
    let cfg = "ignore_findings:\n  - rule: capacity-exceeded\n    path: \"**/reports.yaml\"\n    reason: quarter-end batch\n    expires: 2026-03-31\n";
    let (code, v) = run(FAILING, "2026-03-31", Some(cfg));
    assert_eq!(code, 0, "{v}");
    assert_eq!(rules(&v, "suppressed_findings"), vec!["capacity-exceeded"]);
    // The day after, the entry no longer suppresses and is reported.
    let (code, v) = run(FAILING, "2026-04-01", Some(cfg));
    assert_eq!(code, 1);
    let f = rules(&v, "findings");
    assert!(f.contains(&"capacity-exceeded".to_string()), "{f:?}");
    let expired = v["findings"].as_array().unwrap().iter().find(|f| {
        f["rule"] == "ineffective-suppression" && f["message"].as_str().unwrap().contains("expired")
    });
    assert_eq!(expired.unwrap()["path"], "poolguard.yaml");
}

#[test]
fn unused_config_entry_without_reason_is_reported_twice() {
    let cfg = "ignore_findings:\n  - rule: duplicate-key\n    path: \"*.yaml\"\n";
    let (_, v) = run(FAILING, "2026-01-01", Some(cfg));
    let f = rules(&v, "findings");
    assert!(
        f.contains(&"suppression-without-reason".to_string()),
        "{f:?}"
    );
    assert_eq!(
        f.iter().filter(|r| *r == "ineffective-suppression").count(),
        2,
        "{f:?}"
    );
}

#[test]
fn rules_config_turns_rules_off_and_changes_severity() {
    let (code, v) = run(
        FAILING,
        "2026-01-01",
        Some("rules: {capacity-exceeded: warning, ineffective-suppression: off}\n"),
    );
    assert_eq!(code, 0);
    assert_eq!(v["findings"][0]["severity"], "warning");
    assert_eq!(rules(&v, "findings"), vec!["capacity-exceeded"]);
}
