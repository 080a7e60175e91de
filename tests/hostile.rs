//! Broken and adversarial input: every bad file is a finding with a location, nothing panics
//! or hangs, and the good files beside them are still checked.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn poolguard() -> Command {
    let mut c = Command::cargo_bin("poolguard").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    c
}

fn run_json(args: &[&str]) -> (i32, Value, String) {
    let out = poolguard()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v, stderr)
}

/// `(rule, file name, line)` of every finding.
fn findings(v: &Value) -> Vec<(String, String, u64)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            let name = path.rsplit('/').next().unwrap().to_string();
            (
                f["rule"].as_str().unwrap().to_string(),
                name,
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_bad_file_is_a_finding_and_the_good_one_is_still_checked() {
    let (code, v, _) = run_json(&["check", "fixtures/hostile"]);
    assert_eq!(code, 1);
    let f = findings(&v);
    let has = |rule: &str, file: &str, line: u64| {
        assert!(
            f.contains(&(rule.to_string(), file.to_string(), line)),
            "missing {rule} in {file}:{line}; got {f:#?}"
        )
    };
    has("invalid-file", "alias-bomb.yaml", 6);
    has("invalid-file", "binary.yaml", 1);
    has("invalid-file", "not-utf8.yaml", 6);
    has("invalid-file", "syntax-error.yaml", 7);
    has("invalid-file", "template.yaml", 4);
    has("invalid-file", "trailing-comma.json", 1);
    has("duplicate-key", "duplicate-key.yaml", 5);
    // good.yaml: 5 replicas × Hikari default 10 = 50 against 47 usable.
    has("capacity-exceeded", "good.yaml", 31);
    assert!(
        !f.iter().any(|(_, file, _)| file == "bom-crlf.yaml"),
        "{f:?}"
    );
    assert_eq!(v["summary"]["files"], 10);
}

#[test]
fn yaml11_forms_are_read_as_kubernetes_reads_them() {
    let (_, v, _) = run_json(&["check", "fixtures/hostile"]);
    let db = &v["databases"].as_array().unwrap()[0];
    let client = db["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"] == "h/Deployment/yaml11")
        .unwrap();
    // `replicas: 0o2` is 2; the quoted annotation "010" is ten, not octal 8.
    assert_eq!(client["pods_steady"], 2);
    assert_eq!(client["conn_pod"], 10);
}

#[test]
fn secrets_in_urls_never_print() {
    let out = poolguard()
        .args(["check", "fixtures/hostile"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("also-not-real"));
    assert!(!text.contains("not-a-real-password"));
}

fn tmp_with(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hostile/good.yaml"),
        dir.path().join("good.yaml"),
    )
    .unwrap();
    dir
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    let deep_yaml = "[".repeat(200_000).into_bytes();
    let mut deep_block = String::new();
    for i in 0..5_000 {
        deep_block.push_str(&" ".repeat(i));
        deep_block.push_str("a:\n");
    }
    let deep_json = "[".repeat(200_000).into_bytes();
    let dir = tmp_with(&[
        ("deep.yaml", deep_yaml),
        ("deep-block.yaml", deep_block.into_bytes()),
        ("deep.json", deep_json),
    ]);
    let (code, v, _) = run_json(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let f = findings(&v);
    for name in ["deep.yaml", "deep-block.yaml", "deep.json"] {
        assert!(
            f.iter().any(|(r, n, _)| r == "invalid-file" && n == name),
            "{name}: {f:?}"
        );
    }
    assert!(
        f.iter()
            .any(|(r, n, _)| r == "capacity-exceeded" && n == "good.yaml")
    );
}

#[test]
fn files_over_the_size_limit_are_findings() {
    // 50 MB is under the default 64 MiB limit: it is parsed (a ConfigMap holding a dump).
    let mut big =
        String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  dump: |\n");
    let line = "    0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    big.push_str(&line.repeat(50_000_000 / line.len()));
    let big = big.into_bytes();
    let dir = tmp_with(&[("big.yaml", big)]);
    let (code, v, _) = run_json(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(!findings(&v).iter().any(|(_, n, _)| n == "big.yaml"));
    // With a 1 MB limit it is refused, and the rest is still checked.
    std::fs::write(
        dir.path().join("poolguard.yaml"),
        "max_file_size: 1000000\n",
    )
    .unwrap();
    let (_, v, _) = run_json(&["check", dir.path().to_str().unwrap()]);
    let f = findings(&v);
    assert!(
        f.iter()
            .any(|(r, n, _)| r == "invalid-file" && n == "big.yaml"),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(r, n, _)| r == "capacity-exceeded" && n == "good.yaml")
    );
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_findings() {
    let dir = tmp_with(&[]);
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
    let (code, v, _) = run_json(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let f = findings(&v);
    assert!(
        f.iter().any(|(r, n, _)| r == "invalid-file" && n == "loop"),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(r, n, _)| r == "capacity-exceeded" && n == "good.yaml")
    );
}

#[test]
fn stdin_stream_is_checked() {
    let text =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hostile/good.yaml"))
            .unwrap();
    let out = poolguard()
        .args(["check", "-", "--format", "json"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "capacity-exceeded")
        .unwrap();
    assert_eq!(f["path"], "<stdin>");
}

#[test]
fn a_bad_config_is_exit_2_with_file_and_line() {
    let dir = tmp_with(&[(
        "poolguard.yaml",
        b"databases:\n  - name: x\n    max_conections: 10\nscenario: sometimes\nrules: {no-such-rule: off}\n".to_vec(),
    )]);
    let out = poolguard()
        .args(["check", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("poolguard.yaml:3:5: unknown key `max_conections`"),
        "{err}"
    );
    assert!(
        err.contains("poolguard.yaml:4:11: scenario must be"),
        "{err}"
    );
    assert!(
        err.contains("poolguard.yaml:5:9: unknown rule `no-such-rule`"),
        "{err}"
    );
}

#[test]
fn bad_arguments_are_exit_2() {
    poolguard().args(["check", "no/such/dir"]).assert().code(2);
    poolguard()
        .args(["check", ".", "--format", "xml"])
        .assert()
        .code(2);
    poolguard()
        .args(["check", ".", "--scenario", "never"])
        .assert()
        .code(2);
    poolguard().args(["frobnicate"]).assert().code(2);
}
