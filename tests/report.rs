//! `poolguard report`: snapshots of the table, markdown and json budgets over an incident and
//! a pooler fixture, the command's exit codes and options, and the shape of the files that
//! distribute poolguard as a pre-commit hook and a GitHub Action.

use assert_cmd::Command;
use serde_json::Value;

use poolguard::parse::{self, Format, Limits, Node};
use poolguard::source::FileId;

const AUTH: &str = "fixtures/incidents/auth-rollout";
const PGBOUNCER: &str = "fixtures/poolers/pgbouncer-ini";

fn poolguard() -> Command {
    let mut c = Command::cargo_bin("poolguard").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    c
}

/// Runs `poolguard ARGS`, expects `code`, returns (stdout, stderr).
fn run(args: &[&str], code: i32) -> (String, String) {
    let out = poolguard().args(args).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert_eq!(
        out.status.code(),
        Some(code),
        "poolguard {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

fn report_json(dir: &str) -> Value {
    serde_json::from_str(&run(&["report", dir, "--format", "json"], 0).0).unwrap()
}

#[test]
fn snapshots() {
    for (name, dir) in [("auth-rollout", AUTH), ("pgbouncer-ini", PGBOUNCER)] {
        for format in ["table", "markdown", "json"] {
            let (out, _) = run(&["report", dir, "--format", format], 0);
            insta::assert_snapshot!(format!("{name}.{format}"), out);
        }
    }
}

#[test]
fn table_is_the_default_format() {
    assert_eq!(
        run(&["report", AUTH], 0).0,
        run(&["report", AUTH, "--format", "table"], 0).0
    );
}

#[test]
fn report_is_informational_even_over_capacity() {
    // `check` fails this incident; `report` only reports it.
    run(&["check", AUTH, "--format", "json"], 1);
    let v = report_json(AUTH);
    let db = &v["databases"][0];
    assert_eq!(db["id"], "prod/auth-db");
    assert_eq!(db["status"], "error");
    assert_eq!(
        (&db["capacity"], &db["steady"], &db["rollout"]),
        (&Value::from(197), &Value::from(176), &Value::from(236))
    );
    assert_eq!(db["headroom_steady"], 21);
    assert_eq!(db["headroom_rollout"], -39);
    assert_eq!(db["utilization_rollout"], 1.198);
    assert_eq!(db["rollout_workload"], "prod/Deployment/auth");
}

#[test]
fn clients_behind_a_pooler_are_listed_but_not_counted() {
    let v = report_json(PGBOUNCER);
    let db = &v["databases"][0];
    let via = |w: &str| {
        db["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["workload"] == w)
            .unwrap_or_else(|| panic!("no client {w}"))["via"]
            .clone()
    };
    assert_eq!(via("shop/Deployment/orders"), "shop/Deployment/pgbouncer");
    assert_eq!(via("shop/Deployment/invoices"), "shop/Deployment/pgbouncer");
    assert_eq!(via("shop/Deployment/pgbouncer"), Value::Null);
    assert_eq!(via("shop/Job/migrate"), Value::Null);
    // S0 = pgbouncer 2 × 40 + migrate 10; the applications' 270 go to the pooler.
    assert_eq!(db["steady"], 90);
    assert_eq!(db["rollout"], 130);
    assert_eq!(db["headroom_rollout"], 67);
    assert_eq!(db["rollout_workload"], "shop/Deployment/pgbouncer");
    let table = run(&["report", PGBOUNCER], 0).0;
    assert!(
        table.contains(
            "  shop/Deployment/orders     shop/Deployment/pgbouncer  6 → 8        25   (150)  (200)\n"
        ),
        "{table}"
    );
}

#[test]
fn numbers_agree_with_check() {
    for dir in [AUTH, PGBOUNCER, "fixtures/incidents/payments-surge"] {
        let out = poolguard()
            .args(["check", dir, "--format", "json"])
            .output()
            .unwrap();
        let check: Value = serde_json::from_slice(&out.stdout).unwrap();
        let report = report_json(dir);
        let (a, b) = (
            check["databases"].as_array().unwrap(),
            report["databases"].as_array().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{dir}");
        for (c, r) in a.iter().zip(b) {
            for key in [
                "id",
                "engine",
                "max_connections",
                "reserved",
                "headroom",
                "capacity",
                "steady",
                "rollout",
                "all_rollouts",
                "status",
                "clients",
            ] {
                assert_eq!(c[key], r[key], "{dir}: `{key}` differs");
            }
        }
    }
}

#[test]
fn warn_utilization_comes_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["auth.yaml", "database.yaml", "accounts-api.yaml"] {
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(AUTH)
                .join(f),
            dir.path().join(f),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("poolguard.yaml"), "warn_utilization: 0.5\n").unwrap();
    let path = dir.path().to_str().unwrap();
    let v = report_json(path);
    assert_eq!(v["warn_utilization"], 0.5);
    let table = run(&["report", path], 0).0;
    assert!(table.contains("warning above 50% (98.5)"), "{table}");
    let html = run(&["report", path, "--format", "html"], 0).0;
    assert!(
        html.contains("warning 50% · 98.5"),
        "no warning marker label"
    );
}

#[test]
fn output_writes_a_file_and_nothing_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("budget.md");
    let (stdout, _) = run(
        &[
            "report",
            AUTH,
            "--format",
            "markdown",
            "--output",
            file.to_str().unwrap(),
        ],
        0,
    );
    assert!(stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        run(&["report", AUTH, "--format", "markdown"], 0).0
    );
}

#[test]
fn stdin_is_read_with_dash() {
    let mut stream = String::new();
    for f in [
        "auth.yaml",
        "database.yaml",
        "accounts-api.yaml",
        "admin-portal.yaml",
    ] {
        stream.push_str(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(AUTH)
                    .join(f),
            )
            .unwrap(),
        );
        stream.push_str("\n---\n");
    }
    let out = poolguard()
        .args(["report", "-", "--format", "json"])
        .write_stdin(stream)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["databases"][0]["rollout"], 236);
}

#[test]
fn tool_failures_exit_2() {
    let (_, err) = run(&["report", AUTH, "--format", "sarif"], 2);
    assert!(err.contains("sarif"), "{err}");
    let (_, err) = run(&["report", "no/such/dir"], 2);
    assert!(err.contains("no such file or directory"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("poolguard.yaml");
    std::fs::write(&cfg, "no_such_key: 1\n").unwrap();
    let (_, err) = run(&["report", AUTH, "--config", cfg.to_str().unwrap()], 2);
    assert!(err.contains("invalid config"), "{err}");
    let (_, err) = run(
        &["report", AUTH, "--output", "/nonexistent-dir/out.html"],
        2,
    );
    assert!(err.contains("/nonexistent-dir/out.html"), "{err}");
}

#[test]
fn help_documents_formats_and_base() {
    let (help, _) = run(&["report", "--help"], 0);
    for needle in ["table", "markdown", "json", "html", "--output", "--base"] {
        assert!(help.contains(needle), "help lacks `{needle}`:\n{help}");
    }
}

#[test]
fn secrets_never_reach_a_budget_report() {
    let dir = tempfile::tempdir().unwrap();
    // A declared database's name is free text from the user's config and ends up as the
    // database id in every format; here it is a URL with a password.
    std::fs::write(
        dir.path().join("poolguard.yaml"),
        "databases:
  - name: \"postgres://admin:hunter2@orders.internal/orders\"
    engine: postgres
    max_connections: 100
    hosts: [\"orders.internal\"]
",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: prod}
spec:
  replicas: 2
  template:
    metadata: {annotations: {poolguard.dev/pool-max: \"5\"}}
    spec:
      containers:
        - name: app
          image: app:1
          env: [{name: DATABASE_URL, value: \"postgres://app:hunter2@orders.internal:5432/app\"}]
",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    for format in ["table", "markdown", "json", "html"] {
        let (out, _) = run(&["report", path, "--format", format], 0);
        // Markdown escapes the mask's asterisks (`\*`), which render as `*`.
        let text = out.replace('\\', "");
        assert!(
            text.contains("admin:****@orders.internal"),
            "{format}: no database:\n{out}"
        );
        assert!(
            out.contains("prod/Deployment/app"),
            "{format}: no client:\n{out}"
        );
        assert!(
            !out.contains("hunter2"),
            "{format} leaks a password:\n{out}"
        );
    }
}

// --- distribution files ----------------------------------------------------------------

fn parse_yaml(path: &str) -> Node {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap();
    let parsed = parse::parse(Format::Yaml, FileId(0), &text, &Limits::default());
    assert!(parsed.error.is_none(), "{path}: {:?}", parsed.error);
    assert!(parsed.duplicates.is_empty(), "{path}: duplicate keys");
    assert_eq!(parsed.docs.len(), 1, "{path}: one document");
    parsed.docs.into_iter().next().unwrap()
}

fn str_at<'a>(node: &'a Node, key: &str) -> &'a str {
    node.get(key)
        .and_then(Node::as_str)
        .unwrap_or_else(|| panic!("missing string `{key}`"))
}

#[test]
fn pre_commit_hooks_have_the_keys_pre_commit_requires() {
    let doc = parse_yaml(".pre-commit-hooks.yaml");
    let hooks = doc.as_seq().expect("a list of hooks");
    let ids: Vec<&str> = hooks.iter().map(|h| str_at(h, "id")).collect();
    assert_eq!(ids, ["poolguard", "poolguard-policy-test"]);
    for hook in hooks {
        for key in ["id", "name", "entry", "language"] {
            assert!(!str_at(hook, key).is_empty(), "`{key}` is empty");
        }
        assert_eq!(str_at(hook, "language"), "rust");
        assert_eq!(
            hook.get("pass_filenames").and_then(Node::as_bool),
            Some(false),
            "poolguard checks the whole repository"
        );
        // The entry is a real poolguard command.
        let entry: Vec<&str> = str_at(hook, "entry").split_whitespace().collect();
        assert_eq!(entry[0], "poolguard");
        let mut args = entry[1..].to_vec();
        args.push("--help");
        run(&args, 0);
        str_at(hook, "files");
    }
    let files = str_at(&hooks[0], "files");
    let policy_files = str_at(&hooks[1], "files");
    assert_eq!(str_at(&hooks[0], "entry"), "poolguard check");
    assert_eq!(str_at(&hooks[1], "entry"), "poolguard policy test");

    // pre-commit matches `files` with Python's `re.search`; check the patterns with it when
    // Python is here (the crate has no regex dependency of its own).
    let cases = [
        (files, "deploy/auth.yaml", true),
        (files, "charts/x/values.yml", true),
        (files, "appsettings.Production.json", true),
        (files, "src/main/resources/application.properties", true),
        (files, ".env", true),
        (files, "services/api/.env.production", true),
        (files, "config/app.env", true),
        (files, "pgbouncer/pgbouncer.ini", true),
        (files, "mysql/my.cnf", true),
        (files, "postgresql.conf", true),
        (files, "config.toml", true),
        (files, "src/main.rs", false),
        (files, "README.md", false),
        (files, "environment/notes.txt", false),
        (policy_files, "policies/pool-max.yaml", true),
        (policy_files, "deploy/policies.yaml", false),
    ];
    let script = "import re, sys, json\n\
        bad = [c for c in json.load(sys.stdin) if bool(re.search(c[0], c[1])) != c[2]]\n\
        print(json.dumps(bad)); sys.exit(1 if bad else 0)\n";
    let input = serde_json::to_string(&cases).unwrap();
    match std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "`files` patterns mismatch: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        Err(e) => eprintln!("skipped the `files` pattern check: python3 not available ({e})"),
    }
}

#[test]
fn action_is_a_composite_that_checks_and_uploads_sarif() {
    let doc = parse_yaml("action.yml");
    for key in ["name", "description"] {
        assert!(!str_at(&doc, key).is_empty());
    }
    let inputs = doc.get("inputs").expect("inputs");
    for input in ["paths", "config", "args", "version", "sarif"] {
        let i = inputs
            .get(input)
            .unwrap_or_else(|| panic!("input `{input}`"));
        assert!(!str_at(i, "description").is_empty(), "{input}: description");
        assert!(i.get("default").is_some(), "{input}: default");
    }
    let runs = doc.get("runs").expect("runs");
    assert_eq!(str_at(runs, "using"), "composite");
    let steps = runs.get("steps").and_then(Node::as_seq).expect("steps");
    let scripts: Vec<&str> = steps
        .iter()
        .filter_map(|s| s.get("run")?.as_str())
        .collect();
    for step in steps.iter().filter(|s| s.get("run").is_some()) {
        assert_eq!(
            str_at(step, "shell"),
            "bash",
            "composite run steps need a shell"
        );
    }
    let all = scripts.join("\n");
    for needle in [
        "cargo install --locked poolguard --version",
        "cargo install --locked --path",
        "poolguard check",
        "--format github",
        "--format \"sarif=",
    ] {
        assert!(all.contains(needle), "no step runs `{needle}`");
    }
    let upload = steps
        .iter()
        .find(|s| {
            s.get("uses")
                .and_then(Node::as_str)
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .expect("an upload-sarif step");
    assert!(str_at(upload, "if").contains("inputs.sarif"));
}
