//! Poolers: the database sees the pooler's server pool, not the application pools behind it;
//! the applications count against the pooler's client limit.

use assert_cmd::Command;
use serde_json::Value;

fn check(dir: &str, code: i32) -> Value {
    let out = Command::cargo_bin("poolguard")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", dir, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `(capacity, steady, rollout, all_rollouts)` and `(workload, via, conn_pod, steady, peak)`.
type Clients = Vec<(String, Option<String>, i64, i64, i64)>;

fn db(v: &Value, id: &str) -> ((i64, i64, i64, i64), Clients) {
    let d = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("{v}"));
    let n = |k: &str| d[k].as_i64().unwrap();
    let clients = d["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["workload"].as_str().unwrap().to_string(),
                c["via"].as_str().map(str::to_string),
                c["conn_pod"].as_i64().unwrap(),
                c["steady"].as_i64().unwrap(),
                c["peak"].as_i64().unwrap(),
            )
        })
        .collect();
    (
        (n("capacity"), n("steady"), n("rollout"), n("all_rollouts")),
        clients,
    )
}

fn c(
    w: &str,
    via: Option<&str>,
    conn: i64,
    steady: i64,
    peak: i64,
) -> (String, Option<String>, i64, i64, i64) {
    (w.into(), via.map(Into::into), conn, steady, peak)
}

#[test]
fn pgbouncer_deployment_with_ini_counts_its_server_pools_not_the_apps() {
    let v = check("fixtures/poolers/pgbouncer-ini", 0);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v}");
    let (sums, clients) = db(&v, "shop/orders-db");
    assert_eq!(sums, (197, 90, 130, 130));
    let pgb = "shop/Deployment/pgbouncer";
    assert_eq!(
        clients,
        vec![
            c("shop/Deployment/invoices", Some(pgb), 30, 120, 150),
            c("shop/Deployment/orders", Some(pgb), 25, 150, 200),
            // Two (database, user) pools × (default_pool_size 15 + reserve_pool_size 5).
            c(pgb, None, 40, 80, 120),
            c("shop/Job/migrate", None, 10, 10, 10),
        ]
    );
}

#[test]
fn operator_poolers_and_generated_secrets() {
    let v = check("fixtures/poolers/operators", 0);
    let (sums, clients) = db(&v, "ops/acid-orders");
    assert_eq!(sums, (147, 40, 60, 60));
    let pooler = "ops/ConnectionPooler/acid-orders-pooler";
    assert_eq!(
        clients,
        vec![
            c(pooler, None, 20, 40, 60),
            c("ops/Deployment/checkout", Some(pooler), 10, 50, 70)
        ]
    );
    assert_eq!(db(&v, "ops/acid-orders-ro").0, (147, 10, 15, 15));
    let (sums, clients) = db(&v, "zoo/hippo");
    assert_eq!(sums, (77, 15, 25, 30));
    assert!(clients.contains(&c("zoo/PgBouncer/hippo-pgbouncer", None, 10, 10, 20)));
    assert!(clients.contains(&c(
        "zoo/Deployment/zoo-api",
        Some("zoo/PgBouncer/hippo-pgbouncer"),
        20,
        20,
        40
    )));
}

#[test]
fn cnpg_pooler_client_limit() {
    let v = check("fixtures/rules/pooler-client-limit-exceeded/fail", 1);
    let f = &v["findings"][0];
    assert_eq!(f["rule"], "pooler-client-limit-exceeded");
    assert!(
        f["message"].as_str().unwrap().contains(
            "260 connections at a rollout peak (200 steady), 60 over its 200 client slots"
        )
    );
    assert_eq!(
        (f["path"].as_str(), f["line"].as_u64()),
        (
            Some("fixtures/rules/pooler-client-limit-exceeded/fail/db.yaml"),
            Some(12)
        )
    );
    let (sums, _) = db(&v, "shop/shop-db");
    assert_eq!(sums, (97, 40, 60, 60));
    let v = check("fixtures/rules/pooler-client-limit-exceeded/pass", 0);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
}

#[test]
fn mixed_stacks_beside_and_behind_pgbouncer_match_the_hand_computed_sums() {
    let v = check("fixtures/poolers/mixed-stack", 0);
    let (sums, clients) = db(&v, "mix/main-db");
    // README.md: S0 = 60 + 40 + 100, S1 = S0 + 50 (PgBouncer's own rollout), S2 = 80 + 60 + 150.
    assert_eq!(sums, (297, 200, 250, 290));
    let pgb = "mix/Deployment/pgbouncer";
    assert_eq!(
        clients,
        vec![
            c("mix/Deployment/accounts", None, 10, 60, 80),
            c("mix/Deployment/billing", None, 20, 40, 60),
            c("mix/Deployment/notifier", Some(pgb), 5, 10, 15),
            c(pgb, None, 50, 100, 150),
            c("mix/Rollout/storefront", Some(pgb), 16, 64, 128),
        ]
    );
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["rule"], "capacity-headroom-low");
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .contains("250 connections, 84% of its capacity of 297")
    );
    assert!(!serde_json::to_string(&v).unwrap().contains("not-a-secret"));
}
