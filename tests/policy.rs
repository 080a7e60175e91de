//! Custom policies: the shipped pack passes its own tests, bad policies are rejected before
//! anything runs (exit 2, file:line), findings render like built-ins, a hostile condition
//! cannot hang the run.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn poolguard(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("poolguard").unwrap();
    c.current_dir(dir).env("NO_COLOR", "1");
    c
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_shipped_pack_passes_its_own_tests() {
    let out = poolguard(root())
        .args(["policy", "test", "policies"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(" passed, 0 failed"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    // Every shipped policy has at least one firing and one quiet case.
    for f in std::fs::read_dir(root().join("policies")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            let s = std::fs::read_to_string(&p).unwrap();
            assert!(
                s.contains("expect: []"),
                "{} has no passing case",
                p.display()
            );
            assert!(
                s.contains("expect:\n      - "),
                "{} has no firing case",
                p.display()
            );
        }
    }
}

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

const HPA: &str = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 2
  maxReplicas: 10
";

#[test]
fn a_failing_case_prints_a_diff_and_exits_1() {
    let policy = std::fs::read_to_string(root().join("policies/hpa-max-3x-min.yaml"))
        .unwrap()
        .replace(
            "{file: hpa.yaml, line: 7, message: \"from 2 to 10\"}",
            "{file: hpa.yaml, line: 6}",
        );
    let dir = repo(&[("p.yaml", &policy)]);
    let out = poolguard(dir.path())
        .args(["policy", "test", "p.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL hpa-max-3x-min :: fires on 2 → 10"),
        "{text}"
    );
    assert!(text.contains("- expected hpa.yaml:6"), "{text}");
    assert!(
        text.contains("+ got      hpa.yaml:7 “api may scale from 2 to 10 replicas"),
        "{text}"
    );
    assert!(text.contains("2 passed, 1 failed"), "{text}");
}

#[test]
fn policy_findings_appear_in_check_at_the_node_with_json_fields() {
    let policy = std::fs::read_to_string(root().join("policies/hpa-max-3x-min.yaml")).unwrap();
    let dir = repo(&[("policies/hpa.yaml", &policy), ("hpa.yaml", HPA)]);
    let out = poolguard(dir.path())
        .args(["check", ".", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["rule"], "hpa-max-3x-min");
    assert_eq!(f["severity"], "warning");
    assert_eq!(
        (f["path"].as_str(), f["line"].as_u64(), f["column"].as_u64()),
        (Some("hpa.yaml"), Some(7), Some(16))
    );
    assert_eq!(f["related"][0]["path"], "policies/hpa.yaml");
    // The policy file itself is not checked as an input.
    assert_eq!(v["summary"]["files"], 1);
    // `rules` and `explain` know it.
    let rules = poolguard(dir.path()).arg("rules").output().unwrap();
    assert!(String::from_utf8_lossy(&rules.stdout).contains("hpa-max-3x-min"));
    let explain = poolguard(dir.path())
        .args(["explain", "hpa-max-3x-min"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&explain.stdout).contains("## How to fix"));
    // And --fail-on warning fails on it.
    poolguard(dir.path())
        .args(["check", ".", "--fail-on", "warning"])
        .assert()
        .code(1);
}

fn rejected(policy: &str) -> String {
    let dir = repo(&[("policies/p.yaml", policy), ("hpa.yaml", HPA)]);
    let out = poolguard(dir.path()).args(["check", "."]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const BASE: &str = "id: p\nseverity: warning\nsummary: s\nmessage: m\ntarget: {entity: database}\n";

#[test]
fn policy_errors_are_rejected_with_file_line_before_anything_runs() {
    let e = rejected(&format!(
        "{BASE}condition: database.capacity > 1\nwhen: x\n"
    ));
    assert!(e.contains("policies/p.yaml:7:1: unknown key `when`"), "{e}");
    let e = rejected(&format!("{BASE}condition: database.capacity >\n"));
    assert!(
        e.contains("policies/p.yaml:6:12: `condition` does not compile"),
        "{e}"
    );
    let e = rejected(&format!("{BASE}condition: workload.replicas > 1\n"));
    assert!(e.contains("unknown variable `workload`"), "{e}");
    let e = rejected(&format!("{BASE}condition: database.capcity > 1\n"));
    assert!(e.contains("`database` has no field `capcity`"), "{e}");
    let e = rejected(&format!(
        "{BASE}condition: database.capacity > 1\nmessage: \"{{{{ databse.id }}}}\"\n"
    ));
    assert!(
        e.contains("duplicate key `message`") || e.contains("unknown variable `databse`"),
        "{e}"
    );
    let e = rejected(
        "id: capacity-exceeded\nseverity: error\nsummary: s\nmessage: m\ntarget: {entity: database}\ncondition: true\n",
    );
    assert!(e.contains("is a built-in rule id"), "{e}");
    let e = rejected(
        "id: p\nseverity: fatal\nsummary: s\nmessage: m\ntarget: {entity: pods}\ncondition: 'true'\n",
    );
    assert!(
        e.contains("`severity` must be") && e.contains("`entity` must be"),
        "{e}"
    );
}

#[test]
fn a_hostile_condition_cannot_hang_the_run() {
    let policy = "id: slow
severity: warning
summary: s
message: m
target: {kind: HorizontalPodAutoscaler}
condition: >-
  [0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9].all(a,
  [0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9].all(b,
  [0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9].all(c,
  [0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9].all(d,
  a + b + c + d >= 0))))
";
    let dir = repo(&[("policies/p.yaml", policy), ("hpa.yaml", HPA)]);
    let started = std::time::Instant::now();
    let out = poolguard(dir.path())
        .env("POOLGUARD_POLICY_BUDGET_MS", "300")
        .args(["check", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("exceeded its 300 ms budget (in policy `slow`)")
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // Five nested comprehensions are refused outright.
    let five = policy.replace("a + b + c + d >= 0", "[1].all(e, a + b + c + d + e >= 0)");
    let e = rejected(&five);
    assert!(e.contains("at most 4 are allowed"), "{e}");
}

#[test]
fn runtime_errors_are_policy_error_findings() {
    let policy = "id: typo
severity: error
summary: s
message: m
target: {kind: HorizontalPodAutoscaler}
condition: object.spec.maxReplicas > \"3\"
";
    let dir = repo(&[("policies/p.yaml", policy), ("hpa.yaml", HPA)]);
    let out = poolguard(dir.path())
        .args(["check", ".", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"][0]["rule"], "policy-error");
    assert_eq!(v["findings"][0]["path"], "policies/p.yaml");
}
