//! The CI output formats (`sarif`, `junit`, `github`, `markdown`) end to end: snapshots over an
//! incident and the hostile corpus, the SARIF logs of every fixture against the official SARIF
//! 2.1.0 schema, the GitHub step summary, and no secret value of any fixture in any format.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The formats this file covers, and every format for the secret scan.
const CI_FORMATS: [&str; 4] = ["sarif", "junit", "github", "markdown"];
const ALL_FORMATS: [&str; 6] = ["human", "json", "sarif", "junit", "github", "markdown"];

/// The OASIS SARIF 2.1.0 schema (errata 01), vendored as test data.
const SARIF_SCHEMA: &str = "tests/data/sarif-schema-2.1.0.json";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn poolguard() -> Command {
    let mut c = Command::cargo_bin("poolguard").unwrap();
    c.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

/// stdout of `poolguard check DIR --format FMT`, asserting exit code 1 (findings) or 0 and that
/// nothing panicked.
fn check(dir: &str, format: &str) -> String {
    let out = poolguard()
        .args(["check", dir, "--format", format])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{dir} --format {format}: exit {:?}, stderr: {stderr}",
        out.status.code()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Every directory under `fixtures/incidents`, plus `fixtures/hostile`.
fn fixture_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(root().join("fixtures/incidents"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .map(|name| format!("fixtures/incidents/{name}"))
        .collect();
    dirs.sort();
    dirs.push("fixtures/hostile".into());
    dirs
}

/// The output with the tool's own version replaced, so a version bump does not churn snapshots.
fn unversioned(format: &str, out: &str) -> String {
    let v = env!("CARGO_PKG_VERSION");
    match format {
        "sarif" => out
            .replace(
                &format!("\"version\": \"{v}\""),
                "\"version\": \"[version]\"",
            )
            .replace(
                &format!("\"semanticVersion\": \"{v}\""),
                "\"semanticVersion\": \"[version]\"",
            ),
        "markdown" => out.replace(
            &format!("<sub>poolguard {v}</sub>"),
            "<sub>poolguard [version]</sub>",
        ),
        _ => out.to_string(),
    }
}

/// A SARIF log without what depends on the rule table: the descriptors (rule docs, checked
/// against the table by unit tests) and the result's `ruleIndex` (checked against the
/// descriptors by `sarif_of_every_fixture_matches_the_official_schema`). Adding a rule or
/// editing its docs then does not churn these snapshots.
fn sarif_for_snapshot(out: &str) -> String {
    // Line-based, so the snapshot keeps the document's own key order.
    let mut kept = Vec::new();
    let mut lines = out.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed == "\"rules\": [" {
            let close = format!("{indent}]");
            let end = lines
                .by_ref()
                .find(|l| l.starts_with(&close) && l.trim_start().len() <= 2)
                .unwrap();
            let comma = if end.ends_with(',') { "," } else { "" };
            kept.push(format!("{indent}\"rules\": \"[every rule]\"{comma}"));
        } else if trimmed.starts_with("\"ruleIndex\": ") {
            kept.push(format!("{indent}\"ruleIndex\": \"[index]\","));
        } else {
            kept.push(line.to_string());
        }
    }
    let text = kept.join("\n") + "\n";
    // Still one JSON document.
    serde_json::from_str::<Value>(&text).unwrap();
    text
}

/// A JUnit document without the passing suites of rules that found nothing (one per rule, so
/// they change whenever a rule is added; a unit test checks them) and without the root's
/// counts, which include them.
fn junit_for_snapshot(out: &str) -> String {
    let lines: Vec<&str> = out.lines().collect();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let passing = lines[i].starts_with("  <testsuite ")
            && lines
                .get(i + 1)
                .is_some_and(|l| l.contains("<testcase name=\"all files\""));
        if passing {
            i += 3;
            continue;
        }
        let line = if lines[i].starts_with("<testsuites ") {
            "<testsuites name=\"poolguard\" [counts]>"
        } else {
            lines[i]
        };
        kept.push(line);
        i += 1;
    }
    kept.join("\n") + "\n"
}

#[test]
fn snapshots() {
    for (name, dir) in [
        ("auth-rollout", "fixtures/incidents/auth-rollout"),
        ("hostile", "fixtures/hostile"),
    ] {
        for format in CI_FORMATS {
            let out = unversioned(format, &check(dir, format));
            let out = match format {
                "sarif" => sarif_for_snapshot(&out),
                "junit" => junit_for_snapshot(&out),
                _ => out,
            };
            insta::assert_snapshot!(format!("{format}-{name}"), out);
        }
    }
}

/// The official schema, compiled once.
fn sarif_validator() -> (boon::Schemas, boon::SchemaIndex) {
    let text = std::fs::read_to_string(root().join(SARIF_SCHEMA)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["id"],
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    );
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let url = "file:///sarif-schema-2.1.0.json";
    compiler.add_resource(url, schema).unwrap();
    let index = compiler.compile(url, &mut schemas).unwrap();
    (schemas, index)
}

#[test]
fn sarif_of_every_fixture_matches_the_official_schema() {
    let (schemas, index) = sarif_validator();
    let mut dirs = fixture_dirs();
    // The per-rule fixtures exercise every rule's findings.
    for e in std::fs::read_dir(root().join("fixtures/rules")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        dirs.push(format!("fixtures/rules/{name}/fail"));
    }
    let mut results = 0;
    for dir in &dirs {
        if !root().join(dir).is_dir() {
            continue;
        }
        let log: Value = serde_json::from_str(&check(dir, "sarif")).unwrap();
        if let Err(e) = schemas.validate(&log, index) {
            panic!("SARIF of {dir} does not match the schema:\n{e:#}");
        }
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for r in run["results"].as_array().unwrap() {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], r["ruleId"], "{dir}");
            results += 1;
        }
    }
    assert!(results >= 10, "only {results} results checked");
}

#[test]
fn the_schema_rejects_a_broken_log() {
    // The validator is not vacuous: a region starting at line 0 and a result without a
    // message are both errors.
    let (schemas, index) = sarif_validator();
    let mut log: Value =
        serde_json::from_str(&check("fixtures/incidents/auth-rollout", "sarif")).unwrap();
    assert!(schemas.validate(&log, index).is_ok());
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    assert!(schemas.validate(&log, index).is_err());
    let mut log: Value =
        serde_json::from_str(&check("fixtures/incidents/auth-rollout", "sarif")).unwrap();
    log["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(schemas.validate(&log, index).is_err());
}

#[test]
fn sarif_positions_agree_with_json() {
    for dir in fixture_dirs() {
        let json: Value = serde_json::from_str(&check(&dir, "json")).unwrap();
        let sarif: Value = serde_json::from_str(&check(&dir, "sarif")).unwrap();
        let findings = json["findings"].as_array().unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert_eq!(findings.len(), results.len(), "{dir}");
        for (f, r) in findings.iter().zip(results) {
            assert_eq!(f["rule"], r["ruleId"]);
            let loc = &r["locations"][0]["physicalLocation"];
            assert_eq!(f["path"], loc["artifactLocation"]["uri"], "{dir}");
            assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
            let region = &loc["region"];
            for (a, b) in [
                ("line", "startLine"),
                ("column", "startColumn"),
                ("end_line", "endLine"),
                ("end_column", "endColumn"),
            ] {
                assert_eq!(f[a], region[b], "{dir}: {a}");
            }
            let related = r["relatedLocations"].as_array().map_or(0, Vec::len);
            assert_eq!(f["related"].as_array().unwrap().len(), related);
        }
    }
}

#[test]
fn format_to_file_and_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "# earlier step\n").unwrap();
    let sarif = dir.path().join("out.sarif");
    let out = poolguard()
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "check",
            "fixtures/incidents/auth-rollout",
            "--format",
            "github",
            "--format",
            &format!("sarif={}", sarif.display()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout
            .starts_with("::error file=fixtures/incidents/auth-rollout/auth.yaml,line=32,col=23,"),
        "{stdout}"
    );
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(log["version"], "2.1.0");
    // Appended after what earlier steps wrote, exactly the markdown format's text.
    let markdown = check("fixtures/incidents/auth-rollout", "markdown");
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        format!("# earlier step\n{markdown}")
    );

    // Only the github format writes the step summary.
    let untouched = dir.path().join("untouched.md");
    poolguard()
        .env("GITHUB_STEP_SUMMARY", &untouched)
        .args([
            "check",
            "fixtures/incidents/auth-rollout",
            "--format",
            "markdown",
        ])
        .assert()
        .code(1);
    assert!(!untouched.exists());

    // An unwritable summary path warns but does not fail the run.
    let out = poolguard()
        .env(
            "GITHUB_STEP_SUMMARY",
            dir.path().join("no/such/dir/summary.md"),
        )
        .args([
            "check",
            "fixtures/incidents/auth-rollout-fixed",
            "--format",
            "github",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot append the step summary"));
}

#[test]
fn unknown_format_lists_every_format() {
    let out = poolguard()
        .args([
            "check",
            "fixtures/incidents/auth-rollout",
            "--format",
            "xml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "unknown format `xml` (expected: human, json, sarif, junit, github, markdown)"
        ),
        "{stderr}"
    );
}

/// Secret values written in the fixture files under `dir`: passwords in URL userinfo,
/// `password:` keys (Secret `stringData`) and the `value:` of `*PASSWORD*` env entries.
fn secrets_in(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            secrets_in(&path, out);
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut previous = "";
        for line in text.lines() {
            let t = line.trim();
            for (i, _) in t.match_indices("://") {
                let rest = &t[i + 3..];
                let end = rest.find(['/', ' ', '"', '\'']).unwrap_or(rest.len());
                if let Some((userinfo, _)) = rest[..end].rsplit_once('@')
                    && let Some((_, pass)) = userinfo.split_once(':')
                {
                    out.push(pass.to_string());
                }
            }
            let value = |s: &str| s.trim().trim_matches(['"', '\'']).to_string();
            if let Some(v) = t.strip_prefix("password:") {
                out.push(value(v));
            }
            if previous.contains("PASSWORD")
                && let Some(v) = t.strip_prefix("value:")
            {
                out.push(value(v));
            }
            previous = t;
        }
    }
}

#[test]
fn no_secret_of_any_fixture_reaches_any_format() {
    let dirs = fixture_dirs();
    let mut secrets = Vec::new();
    for dir in &dirs {
        secrets_in(&root().join(dir), &mut secrets);
    }
    secrets.retain(|s| s.len() >= 4);
    secrets.sort();
    secrets.dedup();
    // The scan found what the fixtures are known to hold.
    for known in [
        "hunter2",
        "s3cr3t-orders-pw",
        "also-not-real",
        "not-a-real-password",
    ] {
        assert!(
            secrets.iter().any(|s| s == known),
            "{known} not found: {secrets:?}"
        );
    }
    let summary_dir = tempfile::tempdir().unwrap();
    for dir in &dirs {
        for format in ALL_FORMATS {
            let summary = summary_dir.path().join("summary.md");
            let out = poolguard()
                .env("GITHUB_STEP_SUMMARY", &summary)
                .args(["check", dir, "--format", format])
                .output()
                .unwrap();
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            if let Ok(s) = std::fs::read_to_string(&summary) {
                text.push_str(&s);
                std::fs::remove_file(&summary).unwrap();
            }
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{secret} leaked in the {format} output of {dir}"
                );
            }
        }
    }
}
