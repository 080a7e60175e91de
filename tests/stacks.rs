//! The stack fixtures (`fixtures/stacks/<stack>/{pass,fail}`): for each stack, the exact
//! per-pod connections it reads, the sums, and — for `fail` — the rule, the location of the
//! finding (the number the stack read) and the suggested pool size. The numbers are worked
//! out by hand in each fixture's README.md.

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
        "{dir}: stdout: {} stderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
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

/// `(capacity, steady, rollout, all_rollouts)`.
fn sums(db: &Value) -> (i64, i64, i64, i64) {
    (
        db["capacity"].as_i64().unwrap(),
        db["steady"].as_i64().unwrap(),
        db["rollout"].as_i64().unwrap(),
        db["all_rollouts"].as_i64().unwrap(),
    )
}

/// `(workload, pods_steady, pods_peak, conn_pod)` of every client, in report order.
fn clients(db: &Value) -> Vec<(String, i64, i64, i64)> {
    db["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["workload"].as_str().unwrap().to_string(),
                c["pods_steady"].as_i64().unwrap(),
                c["pods_peak"].as_i64().unwrap(),
                c["conn_pod"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn c(w: &str, steady: i64, peak: i64, conn_pod: i64) -> (String, i64, i64, i64) {
    (w.to_string(), steady, peak, conn_pod)
}

/// What a fixture must produce.
struct Expect<'a> {
    dir: &'a str,
    db: &'a str,
    status: &'a str,
    sums: (i64, i64, i64, i64),
    clients: Vec<(String, i64, i64, i64)>,
    /// `(rule, file in dir, line, column, end_column, suggested pool_max)`.
    finding: Option<(&'a str, &'a str, u64, u64, u64, i64)>,
}

fn verify(e: Expect) {
    let code = if e.finding.is_some() { 1 } else { 0 };
    let v = check_json(e.dir, code);
    let db = database(&v, e.db);
    assert_eq!(sums(db), e.sums, "{}: sums", e.dir);
    assert_eq!(db["status"], e.status, "{}: status", e.dir);
    assert_eq!(clients(db), e.clients, "{}: clients", e.dir);
    match e.finding {
        None => assert!(findings(&v).is_empty(), "{}: {v}", e.dir),
        Some((rule, file, line, col, end, pool)) => {
            assert_eq!(
                findings(&v),
                vec![(
                    rule.to_string(),
                    format!("{}/{file}", e.dir),
                    line,
                    col,
                    end
                )],
                "{}",
                e.dir
            );
            let f = &v["findings"][0];
            assert_eq!(f["database"], e.db);
            assert_eq!(f["suggestion"]["pool_max"], pool, "{}: suggestion", e.dir);
        }
    }
}

#[test]
fn quarkus_reads_the_prod_profile_key_of_a_mounted_application_properties() {
    verify(Expect {
        dir: "fixtures/stacks/quarkus/fail",
        db: "catalog/catalog-db",
        status: "error",
        sums: (97, 96, 120, 120),
        clients: vec![c("catalog/Deployment/catalog", 4, 5, 24)],
        finding: Some(("rollout-capacity-exceeded", "catalog.yaml", 12, 44, 46, 19)),
    });
}

#[test]
fn quarkus_env_var_outranks_the_mounted_file() {
    verify(Expect {
        dir: "fixtures/stacks/quarkus/pass",
        db: "catalog/catalog-db",
        status: "ok",
        sums: (97, 60, 75, 75),
        clients: vec![c("catalog/Deployment/catalog", 4, 5, 15)],
        finding: None,
    });
}

#[test]
fn micronaut_reads_datasources_default_maximum_pool_size_from_env() {
    verify(Expect {
        dir: "fixtures/stacks/micronaut/fail",
        db: "billing/billing-db",
        status: "error",
        sums: (97, 120, 160, 160),
        clients: vec![c("billing/Deployment/invoices", 3, 4, 40)],
        finding: Some(("capacity-exceeded", "invoices.yaml", 25, 23, 25, 24)),
    });
}

#[test]
fn micronaut_links_through_a_mounted_application_yml_with_the_hikari_default() {
    verify(Expect {
        dir: "fixtures/stacks/micronaut/pass",
        db: "billing/billing-db",
        status: "ok",
        sums: (97, 30, 40, 40),
        clients: vec![c("billing/Deployment/invoices", 3, 4, 10)],
        finding: None,
    });
}

#[test]
fn rails_resolves_database_yml_erb_and_multiplies_puma_workers() {
    verify(Expect {
        dir: "fixtures/stacks/rails/fail",
        db: "shop/shop-db",
        status: "error",
        sums: (97, 82, 106, 111),
        clients: vec![
            c("shop/Deployment/shop-jobs", 2, 3, 5),
            c("shop/Deployment/shop-web", 3, 4, 24),
        ],
        finding: Some(("rollout-capacity-exceeded", "shop-web.yaml", 24, 23, 24, 7)),
    });
}

#[test]
fn rails_with_fewer_puma_workers_passes() {
    verify(Expect {
        dir: "fixtures/stacks/rails/pass",
        db: "shop/shop-db",
        status: "ok",
        sums: (97, 58, 74, 79),
        clients: vec![
            c("shop/Deployment/shop-jobs", 2, 3, 5),
            c("shop/Deployment/shop-web", 3, 4, 16),
        ],
        finding: None,
    });
}

#[test]
fn python_multiplies_sqlalchemy_pools_by_gunicorn_and_celery_processes() {
    verify(Expect {
        dir: "fixtures/stacks/python/fail",
        db: "crm/crm-db",
        status: "error",
        sums: (97, 94, 139, 143),
        clients: vec![
            c("crm/Deployment/crm-api", 2, 3, 45),
            c("crm/Deployment/crm-worker", 1, 2, 4),
        ],
        finding: Some(("rollout-capacity-exceeded", "crm-api.yaml", 26, 22, 25, 10)),
    });
}

#[test]
fn python_with_fewer_workers_and_less_overflow_passes() {
    verify(Expect {
        dir: "fixtures/stacks/python/pass",
        db: "crm/crm-db",
        status: "ok",
        sums: (97, 44, 64, 68),
        clients: vec![
            c("crm/Deployment/crm-api", 2, 3, 20),
            c("crm/Deployment/crm-worker", 1, 2, 4),
        ],
        finding: None,
    });
}

#[test]
fn pgx_reads_pool_max_conns_from_the_url() {
    verify(Expect {
        dir: "fixtures/stacks/pgx/fail",
        db: "ledger/ledger-db",
        status: "error",
        sums: (97, 90, 120, 120),
        clients: vec![c("ledger/Deployment/ledger-api", 3, 4, 30)],
        finding: Some((
            "rollout-capacity-exceeded",
            "ledger-api.yaml",
            22,
            108,
            110,
            24,
        )),
    });
}

#[test]
fn pgx_reads_pool_max_conns_from_a_keyword_dsn_in_a_configmap() {
    verify(Expect {
        dir: "fixtures/stacks/pgx/pass",
        db: "ledger/ledger-db",
        status: "ok",
        sums: (97, 48, 64, 64),
        clients: vec![c("ledger/Deployment/ledger-api", 3, 4, 16)],
        finding: None,
    });
}

#[test]
fn prisma_connection_limit_times_pm2_instances() {
    verify(Expect {
        dir: "fixtures/stacks/prisma/fail",
        db: "storefront/storefront-db",
        status: "error",
        sums: (97, 100, 140, 140),
        clients: vec![c("storefront/Deployment/storefront", 5, 7, 20)],
        finding: Some(("capacity-exceeded", "storefront.yaml", 22, 107, 108, 3)),
    });
}

#[test]
fn prisma_with_fewer_pm2_instances_passes() {
    verify(Expect {
        dir: "fixtures/stacks/prisma/pass",
        db: "storefront/storefront-db",
        status: "ok",
        sums: (97, 50, 70, 70),
        clients: vec![c("storefront/Deployment/storefront", 5, 7, 10)],
        finding: None,
    });
}

#[test]
fn npgsql_reads_maximum_pool_size_from_connectionstrings_env() {
    verify(Expect {
        dir: "fixtures/stacks/npgsql/fail",
        db: "orders/orders-db",
        status: "error",
        sums: (97, 120, 160, 160),
        clients: vec![c("orders/Deployment/orders-api", 3, 4, 40)],
        finding: Some(("capacity-exceeded", "orders-api.yaml", 23, 102, 104, 24)),
    });
}

#[test]
fn npgsql_reads_a_mounted_appsettings_json_and_links_through_it() {
    verify(Expect {
        dir: "fixtures/stacks/npgsql/pass",
        db: "orders/orders-db",
        status: "ok",
        sums: (97, 40, 60, 60),
        clients: vec![c("orders/Deployment/orders-api", 2, 3, 20)],
        finding: None,
    });
}

#[test]
fn ecto_reads_pool_size() {
    verify(Expect {
        dir: "fixtures/stacks/ecto/fail",
        db: "chat/chat-db",
        status: "error",
        sums: (97, 100, 125, 125),
        clients: vec![c("chat/Deployment/chat", 4, 5, 25)],
        finding: Some(("capacity-exceeded", "chat.yaml", 26, 23, 25, 19)),
    });
}

#[test]
fn ecto_defaults_to_ten() {
    verify(Expect {
        dir: "fixtures/stacks/ecto/pass",
        db: "chat/chat-db",
        status: "ok",
        sums: (97, 40, 50, 50),
        clients: vec![c("chat/Deployment/chat", 4, 5, 10)],
        finding: None,
    });
}

#[test]
fn php_fpm_counts_one_connection_per_child() {
    let v = check_json("fixtures/stacks/phpfpm/fail", 1);
    let db = database(&v, "blog/blog-db");
    assert_eq!(sums(db), (100, 120, 160, 160));
    assert_eq!(clients(db), vec![c("blog/Deployment/blog", 3, 4, 40)]);
    // The pool per child is fixed at one, so the finding points at `pm.max_children = 40`
    // and suggests the largest child count whose rollout peak fits: floor(100 / 4 pods) = 25.
    assert_eq!(
        findings(&v),
        vec![(
            "capacity-exceeded".into(),
            "fixtures/stacks/phpfpm/fail/blog.yaml".into(),
            10,
            23,
            25
        )]
    );
    assert_eq!(v["findings"][0]["suggestion"]["processes"], 25);
    assert!(
        v["findings"][0]["help"]
            .as_str()
            .unwrap()
            .contains("processes per pod of blog to 25")
    );
}

#[test]
fn php_fpm_expands_env_in_the_pool_file() {
    verify(Expect {
        dir: "fixtures/stacks/phpfpm/pass",
        db: "blog/blog-db",
        status: "ok",
        sums: (100, 40, 50, 50),
        clients: vec![c("blog/Deployment/blog", 4, 5, 10)],
        finding: None,
    });
}

#[test]
fn pgx_without_pool_max_conns_uses_the_declared_node_cpus() {
    let v = check_json("fixtures/stacks/pgx/cpu-default", 0);
    let db = database(&v, "ledger/ledger-db");
    assert_eq!(sums(db), (97, 48, 64, 64));
    assert_eq!(
        clients(db),
        vec![c("ledger/Deployment/ledger-api", 3, 4, 16)]
    );
    // Only the CPU-dependence itself may be reported.
    for (rule, ..) in findings(&v) {
        assert_eq!(rule, "cpu-dependent-pool-size", "{v}");
    }
}

#[test]
fn pgx_without_pool_max_conns_or_node_cpus_is_not_guessed() {
    let v = check_json("fixtures/stacks/pgx/cpu-unknown", 0);
    let db = database(&v, "ledger/ledger-db");
    assert!(db["steady"].is_null() && db["rollout"].is_null(), "{db}");
    assert_eq!(db["status"], "warning");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "unresolved-pool-size")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(f["path"], "fixtures/stacks/pgx/cpu-unknown/ledger-api.yaml");
    assert_eq!(f["line"], 23);
    assert!(
        f["message"].as_str().unwrap().contains("pool_max_conns"),
        "{f}"
    );
    for (rule, ..) in findings(&v) {
        assert!(
            matches!(
                rule.as_str(),
                "unresolved-pool-size" | "cpu-dependent-pool-size"
            ),
            "{v}"
        );
    }
}
