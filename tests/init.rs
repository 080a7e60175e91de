//! `poolguard init`: the starter poolguard.yaml lists what was found (as comments), writes the
//! defaults, and carries commented-out entries for what could not be resolved. It must always
//! validate, and filling in its TODOs must resolve the findings they stand for.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use poolguard::source::SourceDb;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn poolguard(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("poolguard").unwrap();
    c.current_dir(dir).env("NO_COLOR", "1");
    c
}

/// Copies the `.yaml` files of a fixture directory (without any poolguard.yaml) into a new
/// temporary directory.
fn copy(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(Path::new(ROOT).join(fixture)).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && name != "poolguard.yaml" {
            std::fs::copy(&p, dir.path().join(&name)).unwrap();
        }
    }
    dir
}

fn validate(text: &str) -> poolguard::config::Config {
    let mut db = SourceDb::default();
    let id = db.add("poolguard.yaml".into(), text.into());
    poolguard::config::load(&db, id)
        .unwrap_or_else(|e| panic!("invalid:\n{}\n---\n{text}", e.0.join("\n")))
}

fn incidents() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("fixtures/incidents"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn check_json(dir: &Path) -> (i32, Value) {
    let out = poolguard(dir)
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

#[test]
fn incident_fixtures_get_a_valid_config_listing_their_databases() {
    for fixture in incidents() {
        let rel = fixture
            .strip_prefix(ROOT)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let dir = copy(&rel);
        let (exit_before, before) = check_json(dir.path());
        let out = poolguard(dir.path()).arg("init").output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{rel}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(dir.path().join("poolguard.yaml")).unwrap();
        let cfg = validate(&text);
        assert_eq!(cfg.warn_utilization, 0.8);
        assert!(text.contains("\nwarn_utilization: 0.8\n"), "{text}");
        assert!(text.contains("\nscenario: rollout\n"), "{text}");
        for d in before["databases"].as_array().unwrap() {
            let line = format!(
                "#   {} ({}, ",
                d["id"].as_str().unwrap(),
                d["engine"].as_str().unwrap()
            );
            assert!(text.contains(&line), "{rel}: no `{line}` in\n{text}");
            assert!(
                text.contains(&format!("max_connections {} from ", d["max_connections"])),
                "{rel}: {text}"
            );
        }
        // The written file changes nothing about the verdict.
        let (exit_after, after) = check_json(dir.path());
        assert_eq!(exit_after, exit_before, "{rel}");
        assert_eq!(after["databases"], before["databases"], "{rel}");

        // --stdout prints the same file; a second init refuses, --force overwrites.
        let out = poolguard(dir.path())
            .args(["init", "--stdout"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
        let out = poolguard(dir.path()).arg("init").output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("already exists"),
            "{rel}"
        );
        std::fs::write(dir.path().join("poolguard.yaml"), "scenario: steady\n").unwrap();
        let out = poolguard(dir.path())
            .args(["init", ".", "--force"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("poolguard.yaml")).unwrap(),
            text
        );
    }
}

#[test]
fn auth_incident_says_where_max_connections_came_from() {
    let dir = copy("fixtures/incidents/auth-rollout");
    let out = poolguard(dir.path())
        .args(["init", "--stdout"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "#   prod/auth-db (postgres, operator cluster): max_connections 200 from database.yaml:10:25\n"
        ),
        "{text}"
    );
    assert!(text.contains("steady 176, rollout 236, all-rollouts 254: error"));
    // Nothing to declare: no databases or workloads keys at all, not even commented.
    assert!(!text.contains("databases:"), "{text}");
    assert!(!text.contains("workloads:"), "{text}");
}

/// Uncomments the `# databases:` / `# workloads:` blocks and fills in the TODOs.
fn fill_in(text: &str, max_connections: u32, pool_max: u32) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line == "# databases:" || line == "# workloads:" {
            inside = true;
        } else if line.is_empty() {
            inside = false;
        }
        let line = if inside {
            line.strip_prefix("# ").unwrap_or(line).to_string()
        } else {
            line.to_string()
        };
        let line = line
            .replace(
                "max_connections: # TODO",
                &format!("max_connections: {max_connections}"),
            )
            .replace("pool_max: # TODO", &format!("pool_max: {pool_max}"));
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn unresolved_database_becomes_a_commented_entry_that_resolves_it() {
    let dir = copy("fixtures/rules/unresolved-database/fail");
    let (_, before) = check_json(dir.path());
    assert!(
        before["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "unresolved-database")
    );
    assert_eq!(
        poolguard(dir.path())
            .arg("init")
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    let text = std::fs::read_to_string(dir.path().join("poolguard.yaml")).unwrap();
    validate(&text);
    assert!(
        text.contains("\n# databases:\n#   - name: \"inventory\"\n"),
        "{text}"
    );
    assert!(text.contains("\n#     max_connections: # TODO\n"), "{text}");
    assert!(
        text.contains(
            "\n#     hosts: [\"inventory.cluster-c1example0.eu-central-1.rds.amazonaws.com\"]\n"
        ),
        "{text}"
    );
    assert!(!text.contains("FAKE-PASSWORD"), "{text}");
    // As written, nothing is declared yet: the finding is still there.
    let (_, still) = check_json(dir.path());
    assert_eq!(still["findings"], before["findings"]);

    // Filled in, it validates and the endpoint resolves.
    let filled = fill_in(&text, 500, 10);
    let cfg = validate(&filled);
    assert_eq!(cfg.databases.len(), 1);
    std::fs::write(dir.path().join("poolguard.yaml"), &filled).unwrap();
    let (exit, after) = check_json(dir.path());
    assert_eq!(exit, 0, "{after}");
    assert!(
        after["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] != "unresolved-database"),
        "{after}"
    );
    let db = &after["databases"][0];
    assert_eq!(db["id"], "inventory");
    assert_eq!(db["max_connections"], 500);
    assert_eq!(db["steady"], 40);
}

#[test]
fn unresolved_pool_size_becomes_a_commented_workload_that_resolves_it() {
    let dir = copy("fixtures/rules/unresolved-pool-size/fail");
    let out = poolguard(dir.path())
        .args(["init", "--stdout"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    validate(&text);
    assert!(
        text.contains("\n# workloads:\n#   - id: \"ledger/Deployment/ledger-sync\"\n"),
        "{text}"
    );
    assert!(text.contains("\n#     pool_max: # TODO\n"), "{text}");
    let filled = fill_in(&text, 100, 7);
    let cfg = validate(&filled);
    assert_eq!(cfg.workloads.len(), 1);
    std::fs::write(dir.path().join("poolguard.yaml"), &filled).unwrap();
    let (_, after) = check_json(dir.path());
    assert!(
        after["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] != "unresolved-pool-size"),
        "{after}"
    );
    let clients = after["databases"][0]["clients"].as_array().unwrap();
    let sync = clients
        .iter()
        .find(|c| c["workload"] == "ledger/Deployment/ledger-sync")
        .unwrap();
    assert_eq!(sync["conn_pod"], 7);
}

#[test]
fn init_needs_a_directory() {
    let dir = copy("fixtures/incidents/auth-rollout");
    let out = poolguard(dir.path())
        .args(["init", "auth.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = poolguard(dir.path())
        .args(["init", "missing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
