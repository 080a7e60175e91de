//! Diff mode, `check --base REF`: the repository as of a git revision is read with git (no
//! checkout), checked with its own config, and compared — per database before/after figures,
//! new findings, and one human line per changed database. The work tree is never touched.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::{Value, json};

const INCIDENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/incidents");

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Process::new("git")
        .current_dir(dir)
        .args(["-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"])
        .args(args)
        .env("GIT_AUTHOR_NAME", "poolguard test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "poolguard test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn copy_incident(name: &str, to: &Path) {
    for e in std::fs::read_dir(Path::new(INCIDENTS).join(name)).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// A repository whose first commit is the fixed auth incident (pool 10).
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    copy_incident("auth-rollout-fixed", dir.path());
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "auth with pool 10"]);
    dir
}

/// Raises the auth pool to 20, as in the incident.
fn raise_pool(dir: &Path) {
    std::fs::copy(
        Path::new(INCIDENTS).join("auth-rollout/auth.yaml"),
        dir.join("auth.yaml"),
    )
    .unwrap();
}

fn poolguard(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("poolguard").unwrap();
    c.current_dir(dir).env("NO_COLOR", "1");
    c
}

fn check_json(dir: &Path, args: &[&str], exit: i32) -> Value {
    let out = poolguard(dir)
        .arg("check")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(exit),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn figures(d: &Value) -> Value {
    json!([
        d["capacity"],
        d["steady"],
        d["rollout"],
        d["all_rollouts"],
        d["status"]
    ])
}

const CHANGE_LINE: &str = "prod/auth-db: rollout 146 → 236 (+90, 74 % → 120 % of 197; ok → error) — moved by prod/Deployment/auth (+90)";

#[test]
fn committed_change_against_the_previous_commit() {
    let dir = repo();
    raise_pool(dir.path());
    git(dir.path(), &["commit", "-q", "-am", "auth pool 20"]);
    let head = git(dir.path(), &["rev-parse", "HEAD"]);
    let v = check_json(dir.path(), &["--base", "HEAD~1"], 1);
    let db = &v["databases"][0];
    assert_eq!(db["id"], "prod/auth-db");
    assert_eq!(figures(db), json!([197, 176, 236, 254, "error"]));
    assert_eq!(
        db["base"],
        json!({"capacity": 197, "steady": 116, "rollout": 146, "all_rollouts": 164, "status": "ok"})
    );
    let findings = v["findings"].as_array().unwrap();
    let rollout = findings
        .iter()
        .find(|f| f["rule"] == "rollout-capacity-exceeded")
        .expect("the rollout finding");
    assert_eq!(rollout["new"], json!(true));
    assert!(findings.iter().all(|f| f.get("new").is_some()), "{v}");

    let out = poolguard(dir.path())
        .args(["check", "--base", "HEAD~1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().any(|l| l == CHANGE_LINE),
        "no change line in:\n{text}"
    );
    assert!(
        text.contains(": 1 new finding, 1 database changed\n"),
        "{text}"
    );
    assert!(
        text.contains("new error[rollout-capacity-exceeded]: auth.yaml:32:23\n"),
        "{text}"
    );
    // After the findings, before the budget table.
    let at = |s: &str| text.find(s).unwrap();
    assert!(at("error[rollout-capacity-exceeded]") < at(CHANGE_LINE));
    assert!(at(CHANGE_LINE) < at("\ndatabase "));

    // Nothing in the repository moved.
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
    assert_eq!(git(dir.path(), &["rev-parse", "HEAD"]), head);
    assert!(
        std::fs::read_to_string(dir.path().join("auth.yaml"))
            .unwrap()
            .contains("value: \"20\"")
    );
}

#[test]
fn uncommitted_change_against_head() {
    let dir = repo();
    raise_pool(dir.path());
    let status = git(dir.path(), &["status", "--porcelain"]);
    assert_eq!(status, " M auth.yaml\n");
    let v = check_json(dir.path(), &["--base", "HEAD"], 1);
    let db = &v["databases"][0];
    assert_eq!(figures(db), json!([197, 176, 236, 254, "error"]));
    assert_eq!(figures(&db["base"]), json!([197, 116, 146, 164, "ok"]));
    assert_eq!(v["findings"][0]["new"], json!(true));
    // The modification is still there, uncommitted and unstaged.
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), status);
    assert_eq!(git(dir.path(), &["diff", "--cached", "--name-only"]), "");
}

#[test]
fn unchanged_tree_has_no_new_findings_and_no_change_lines() {
    let dir = repo();
    raise_pool(dir.path());
    git(dir.path(), &["commit", "-q", "-am", "auth pool 20"]);
    let v = check_json(dir.path(), &["--base", "HEAD"], 1);
    assert_eq!(v["findings"][0]["new"], json!(false));
    assert_eq!(
        figures(&v["databases"][0]["base"]),
        figures(&v["databases"][0])
    );
    let out = poolguard(dir.path())
        .args(["check", "--base", "HEAD"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(": no new findings, no databases changed\n"),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("prod/auth-db:")),
        "{text}"
    );
    // Without --base neither field is there.
    let v = check_json(dir.path(), &[], 1);
    assert!(v["findings"][0].get("new").is_none());
    assert!(v["databases"][0].get("base").is_none());
}

#[test]
fn a_database_new_since_the_base_has_a_null_base() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    copy_incident("auth-rollout-fixed", dir.path());
    std::fs::remove_file(dir.path().join("database.yaml")).unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "clients only"]);
    copy_incident("auth-rollout-fixed", dir.path());
    let v = check_json(dir.path(), &[".", "--base", "HEAD"], 0);
    assert_eq!(v["databases"][0]["id"], "prod/auth-db");
    assert_eq!(v["databases"][0]["base"], Value::Null);
    let text = String::from_utf8(
        poolguard(dir.path())
            .args(["check", "--base", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("prod/auth-db: new database — rollout 146 (74 % of 197; ok)"),
        "{text}"
    );
}

#[test]
fn config_and_paths_as_of_the_base_from_a_subdirectory() {
    // The config sits at the repository root; the check runs in deploy/. At the base the
    // config warned at 50 %, so the same figures were a warning there.
    let dir = tempfile::tempdir().unwrap();
    let deploy = dir.path().join("deploy");
    std::fs::create_dir(&deploy).unwrap();
    git(dir.path(), &["init", "-q"]);
    copy_incident("auth-rollout-fixed", &deploy);
    std::fs::write(dir.path().join("poolguard.yaml"), "warn_utilization: 0.5\n").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "strict"]);
    std::fs::write(dir.path().join("poolguard.yaml"), "warn_utilization: 0.8\n").unwrap();
    git(dir.path(), &["commit", "-q", "-am", "relaxed"]);
    let v = check_json(&deploy, &["--base", "HEAD~1"], 0);
    let db = &v["databases"][0];
    assert_eq!(figures(db), json!([197, 116, 146, 164, "ok"]));
    assert_eq!(figures(&db["base"]), json!([197, 116, 146, 164, "warning"]));
    // The headroom warning existed at the base and is gone now: nothing is new.
    assert_eq!(v["findings"], json!([]));
    // A path argument from outside the repository's root directory works the same.
    let v = check_json(dir.path(), &["deploy", "--base", "HEAD~1"], 0);
    assert_eq!(v["databases"][0]["base"]["status"], "warning");
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
}

#[test]
fn findings_are_matched_by_identity_not_line() {
    // Moving the finding's line (a comment added above it) does not make it new.
    let dir = repo();
    raise_pool(dir.path());
    git(dir.path(), &["commit", "-q", "-am", "auth pool 20"]);
    let auth = dir.path().join("auth.yaml");
    let text = std::fs::read_to_string(&auth).unwrap();
    std::fs::write(&auth, format!("# a comment\n# and another\n{text}")).unwrap();
    let v = check_json(dir.path(), &["--base", "HEAD"], 1);
    assert_eq!(v["findings"][0]["line"], json!(34));
    assert_eq!(v["findings"][0]["new"], json!(false));
}

#[test]
fn unknown_revision_and_no_repository_are_errors() {
    let dir = repo();
    let out = poolguard(dir.path())
        .args(["check", "--base", "no-such-branch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unknown git revision `no-such-branch`"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = poolguard(dir.path())
        .args(["check", "--base=-x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let plain = tempfile::tempdir().unwrap();
    copy_incident("auth-rollout", plain.path());
    let out = poolguard(plain.path())
        .env("GIT_CEILING_DIRECTORIES", plain.path().parent().unwrap())
        .args(["check", "--base", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("needs a git repository"), "{err}");

    let out = poolguard(dir.path())
        .args(["check", "-", "--base", "HEAD"])
        .write_stdin("a: 1\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn report_shows_before_and_after_in_every_format() {
    let dir = repo();
    raise_pool(dir.path());
    let report = |format: &str| {
        let out = poolguard(dir.path())
            .args(["report", "--base", "HEAD", "--format", format])
            .output()
            .unwrap();
        // A budget report is informational: exit 0 even over capacity.
        assert_eq!(
            out.status.code(),
            Some(0),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let table = report("table");
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("compared with HEAD (") && header.ends_with("): 1 database changed"),
        "{table}"
    );
    assert_eq!(table.lines().nth(1).unwrap(), format!("  {CHANGE_LINE}"));
    assert!(table.contains("prod/auth-db (postgres): error"), "{table}");

    let v: Value = serde_json::from_str(&report("json")).unwrap();
    assert_eq!(v["base"]["ref"], "HEAD");
    assert_eq!(v["base"]["changes"], json!([CHANGE_LINE]));
    let db = &v["databases"][0];
    assert_eq!(figures(db), json!([197, 176, 236, 254, "error"]));
    assert_eq!(figures(&db["base"]), json!([197, 116, 146, 164, "ok"]));

    let md = report("markdown");
    assert!(md.contains("1 database changed**"), "{md}");
    assert!(md.contains("\n- prod/auth-db: rollout 146 → 236"), "{md}");

    let html = report("html");
    assert!(html.contains("<section class=\"changes\">"), "{html}");
    assert!(
        html.contains("<li>prod/auth-db: rollout 146 → 236 (+90, 74 % → 120 % of 197; ok → error)"),
        "{html}"
    );

    // Without --base, no trace of it; an unknown revision is exit 2 as for check.
    let plain = String::from_utf8(
        poolguard(dir.path())
            .args(["report", "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&plain).unwrap();
    assert!(v.get("base").is_none() && v["databases"][0].get("base").is_none());
    let out = poolguard(dir.path())
        .args(["report", "--base", "no-such-branch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sarif_results_carry_their_baseline_state() {
    let dir = repo();
    raise_pool(dir.path());
    let sarif = |args: &[&str]| -> Value {
        let out = poolguard(dir.path())
            .arg("check")
            .args(args)
            .args(["--format", "sarif"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let states = |v: &Value| -> Vec<Value> {
        v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["baselineState"].clone())
            .collect()
    };
    let v = sarif(&["--base", "HEAD"]);
    assert!(!states(&v).is_empty());
    assert!(states(&v).iter().all(|s| s == "new"), "{v}");
    git(dir.path(), &["commit", "-q", "-am", "auth pool 20"]);
    let v = sarif(&["--base", "HEAD"]);
    assert!(states(&v).iter().all(|s| s == "unchanged"), "{v}");
    // Without --base the property is absent.
    assert!(states(&sarif(&[])).iter().all(Value::is_null));
}
