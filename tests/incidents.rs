//! The postmortem fixtures: exact numbers, rule ids, locations and exit codes, and a snapshot
//! of the human output of each.

use assert_cmd::Command;
use serde_json::Value;

fn poolguard() -> Command {
    let mut c = Command::cargo_bin("poolguard").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    c
}

fn check_json(dir: &str, expect_exit: i32) -> Value {
    let out = poolguard()
        .args(["check", dir, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(expect_exit),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn human(dir: &str) -> String {
    let out = poolguard().args(["check", dir]).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// `(rule, path, line, column, end_column)` of every finding.
fn findings(v: &Value) -> Vec<(String, String, u64, u64, u64)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
                f["end_column"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn database<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no database {id} in {v}"))
}

fn client<'a>(db: &'a Value, workload: &str) -> &'a Value {
    db["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"] == workload)
        .unwrap_or_else(|| panic!("no client {workload}"))
}

fn sums(db: &Value) -> (i64, i64, i64, i64) {
    (
        db["capacity"].as_i64().unwrap(),
        db["steady"].as_i64().unwrap(),
        db["rollout"].as_i64().unwrap(),
        db["all_rollouts"].as_i64().unwrap(),
    )
}

#[test]
fn auth_rollout_is_caught_at_the_pool_size_line() {
    let v = check_json("fixtures/incidents/auth-rollout", 1);
    assert_eq!(
        findings(&v),
        vec![(
            "rollout-capacity-exceeded".into(),
            "fixtures/incidents/auth-rollout/auth.yaml".into(),
            32,
            23,
            25
        )]
    );
    let f = &v["findings"][0];
    assert_eq!(f["database"], "prod/auth-db");
    assert_eq!(f["workload"], "prod/Deployment/auth");
    // floor((197 − 56) / 9) = 15 (SPEC §4; domain.md §8).
    assert_eq!(f["suggestion"]["pool_max"], 15);
    let related: Vec<(u64, &str)> = f["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["message"].as_str().unwrap()))
        .collect();
    assert!(related.contains(&(8, "replicas of auth: 6")), "{related:?}");
    assert!(
        related
            .iter()
            .any(|(l, m)| *l == 12 && m.contains("3 extra pods"))
    );
    assert!(related.contains(&(10, "max_connections of prod/auth-db: 200")));

    let db = database(&v, "prod/auth-db");
    assert_eq!(db["max_connections"], 200);
    assert_eq!(db["reserved"], 3);
    assert_eq!(sums(db), (197, 176, 236, 254));
    assert_eq!(db["status"], "error");
    let auth = client(db, "prod/Deployment/auth");
    assert_eq!(
        (
            auth["pods_steady"].as_i64(),
            auth["pods_peak"].as_i64(),
            auth["conn_pod"].as_i64()
        ),
        (Some(6), Some(9), Some(20))
    );
    // accounts-api reaches the database through CloudNativePG's generated `auth-db-app` secret.
    let accounts = client(db, "prod/Deployment/accounts-api");
    assert_eq!(
        (accounts["steady"].as_i64(), accounts["peak"].as_i64()),
        (Some(40), Some(50))
    );
    let portal = client(db, "prod/Deployment/admin-portal");
    assert_eq!(portal["conn_pod"], 8);
}

#[test]
fn auth_rollout_fixed_passes() {
    let v = check_json("fixtures/incidents/auth-rollout-fixed", 0);
    assert!(findings(&v).is_empty(), "{v}");
    let db = database(&v, "prod/auth-db");
    assert_eq!(sums(db), (197, 116, 146, 164));
    assert_eq!(db["status"], "ok");
}

#[test]
fn orders_pool_raise_exceeds_steady_state_through_a_mounted_application_yml() {
    let v = check_json("fixtures/incidents/orders-pool-raise", 1);
    assert_eq!(
        findings(&v),
        vec![(
            "capacity-exceeded".into(),
            "fixtures/incidents/orders-pool-raise/orders.yaml".into(),
            12,
            44,
            46
        )]
    );
    let f = &v["findings"][0];
    // The largest pool whose rollout peak (5 pods) fits 97: floor(97 / 5) = 19.
    assert_eq!(f["suggestion"]["pool_max"], 19);
    let db = database(&v, "shop/orders-db");
    assert_eq!(db["max_connections"], 100);
    assert_eq!(sums(db), (97, 100, 125, 125));
}

#[test]
fn orders_pool_raise_fixed_passes() {
    let v = check_json("fixtures/incidents/orders-pool-raise-fixed", 0);
    assert!(findings(&v).is_empty(), "{v}");
    assert_eq!(sums(database(&v, "shop/orders-db")), (97, 60, 75, 75));
}

#[test]
fn payments_surge_reads_the_pool_from_java_tool_options() {
    let v = check_json("fixtures/incidents/payments-surge", 1);
    assert_eq!(
        findings(&v),
        vec![(
            "rollout-capacity-exceeded".into(),
            "fixtures/incidents/payments-surge/payments.yaml".into(),
            24,
            75,
            77
        )]
    );
    let f = &v["findings"][0];
    // Largest pool p with 20 + 12·p ≤ 280 is 21; the largest surge that fits is 4 pods.
    assert_eq!(f["suggestion"]["pool_max"], 21);
    assert!(
        f["help"]
            .as_str()
            .unwrap()
            .contains("maxSurge of payments to 4")
    );
    let db = database(&v, "payments-mysql");
    assert_eq!(
        (
            db["engine"].as_str(),
            db["reserved"].as_i64(),
            db["headroom"].as_i64()
        ),
        (Some("mysql"), Some(0), Some(20))
    );
    assert_eq!(sums(db), (280, 170, 320, 330));
}

#[test]
fn payments_surge_fixed_passes() {
    let v = check_json("fixtures/incidents/payments-surge-fixed", 0);
    assert!(findings(&v).is_empty(), "{v}");
    assert_eq!(sums(database(&v, "payments-mysql")), (280, 170, 220, 230));
}

#[test]
fn the_suggested_pool_size_passes_when_applied() {
    let dir = tempfile::tempdir().unwrap();
    let src =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/incidents/auth-rollout");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let auth = dir.path().join("auth.yaml");
    let text = std::fs::read_to_string(&auth).unwrap();
    std::fs::write(&auth, text.replace("value: \"20\"", "value: \"15\"")).unwrap();
    let out = poolguard()
        .args(["check", dir.path().to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let db = database(&v, "prod/auth-db");
    // 9 × 15 + 56 = 191 ≤ 197, but above 80 %: a warning, not an error.
    assert_eq!(db["rollout"], 191);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(v["findings"][0]["rule"], "capacity-headroom-low");
}

#[test]
fn scenario_flag_picks_the_gating_sum() {
    // Steady state fits, so gating on S0 turns the rollout error into a headroom warning.
    let out = poolguard()
        .args([
            "check",
            "fixtures/incidents/auth-rollout",
            "--scenario",
            "steady",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"][0]["rule"], "capacity-headroom-low");
    // The fixed repo passes even with every client at its peak at once: 164 ≤ 197.
    poolguard()
        .args([
            "check",
            "fixtures/incidents/auth-rollout-fixed",
            "--scenario",
            "all-rollouts",
        ])
        .assert()
        .code(0);
    poolguard()
        .args([
            "check",
            "fixtures/incidents/auth-rollout",
            "--fail-on",
            "warning",
            "--scenario",
            "steady",
        ])
        .assert()
        .code(1);
}

#[test]
fn human_output_snapshots() {
    for name in [
        "auth-rollout",
        "orders-pool-raise",
        "payments-surge",
        "auth-rollout-fixed",
    ] {
        let out = human(&format!("fixtures/incidents/{name}"));
        insta::assert_snapshot!(name, out);
    }
}

#[test]
fn no_secret_reaches_any_output() {
    for dir in [
        "fixtures/incidents/auth-rollout",
        "fixtures/incidents/orders-pool-raise",
    ] {
        for fmt in ["human", "json"] {
            let out = poolguard()
                .args(["check", dir, "--format", fmt])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            for secret in ["hunter2", "s3cr3t-orders-pw"] {
                assert!(
                    !text.contains(secret),
                    "{secret} leaked in {fmt} output of {dir}"
                );
            }
        }
    }
}
