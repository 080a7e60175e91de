//! The model through the CLI: env resolution as the kubelet does it, Spring property
//! precedence, linking forms, replica and surge rules. Each test builds a tiny repo.

use assert_cmd::Command;
use serde_json::Value;

const DB: &str = "\
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: pg, namespace: ns}
spec:
  instances: 1
  postgresql:
    parameters: {max_connections: \"1000\"}
";

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn check(dir: &tempfile::TempDir) -> Value {
    let out = Command::cargo_bin("poolguard")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", ".", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `(pods_steady, pods_peak, conn_pod)` of a workload's client entry on database `db`.
fn client(v: &Value, db: &str, workload: &str) -> (i64, i64, Option<i64>) {
    let d = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == db)
        .unwrap_or_else(|| panic!("{v}"));
    let c = d["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"] == workload)
        .unwrap_or_else(|| panic!("no client {workload}: {v}"));
    (
        c["pods_steady"].as_i64().unwrap(),
        c["pods_peak"].as_i64().unwrap(),
        c["conn_pod"].as_i64(),
    )
}

fn rules(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

fn deployment(name: &str, extra_spec: &str, container: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: ns}}
spec:
{extra_spec}  template:
    spec:
      containers:
        - name: app
          image: app:1
{container}"
    )
}

#[test]
fn env_from_order_prefix_and_env_override_follow_the_kubelet() {
    let cm = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: ns}
data:
  SPRING_DATASOURCE_URL: jdbc:postgresql://pg-rw:5432/x
  SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: \"3\"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: ns}
data:
  SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: \"4\"
  HIKARI_MAXIMUMPOOLSIZE: \"99\"
";
    // b wins over a (later envFrom); the prefixed key from b does not collide.
    let w1 = deployment(
        "later-envfrom-wins",
        "",
        "          envFrom:
            - configMapRef: {name: a}
            - configMapRef: {name: b}
            - configMapRef: {name: b}
              prefix: SPRING_DATASOURCE_X_
",
    );
    // env wins over envFrom, and $(VAR) expands earlier definitions.
    let w2 = deployment(
        "env-wins",
        "",
        "          envFrom:
            - configMapRef: {name: a}
          env:
            - name: SIZE
              value: \"6\"
            - name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE
              value: $(SIZE)
",
    );
    let dir = repo(&[
        ("db.yaml", DB),
        ("cm.yaml", cm),
        ("w1.yaml", &w1),
        ("w2.yaml", &w2),
    ]);
    let v = check(&dir);
    assert_eq!(
        client(&v, "ns/pg", "ns/Deployment/later-envfrom-wins").2,
        Some(4)
    );
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/env-wins").2, Some(6));
}

#[test]
fn spring_sources_follow_spring_boot_precedence() {
    let cm = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: ns}
data:
  application.yml: |
    spring:
      datasource:
        url: jdbc:postgresql://pg-rw.ns.svc.cluster.local/x
        hikari:
          maximum-pool-size: 7
    ---
    spring:
      config:
        activate:
          on-profile: big
      datasource:
        hikari:
          maximum-pool-size: 30
  application-prod.properties: |
    spring.datasource.hikari.maximumPoolSize=${POOL:8}
";
    let mount = "          volumeMounts: [{name: c, mountPath: /config}]
      volumes: [{name: c, configMap: {name: cfg}}]
";
    let file_only = deployment("file-only", "", mount);
    let prod = deployment(
        "profile-prod",
        "",
        &format!("          env: [{{name: SPRING_PROFILES_ACTIVE, value: prod}}]\n{mount}"),
    );
    let prod_env = deployment(
        "profile-prod-placeholder",
        "",
        &format!(
            "          env: [{{name: SPRING_PROFILES_ACTIVE, value: prod}}, {{name: POOL, value: \"9\"}}]\n{mount}"
        ),
    );
    let big = deployment(
        "profile-document",
        "",
        &format!("          args: [\"--spring.profiles.active=big\"]\n{mount}"),
    );
    let json = deployment(
        "application-json-over-env",
        "",
        &format!(
            "          env:
            - {{name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, value: \"11\"}}
            - {{name: SPRING_APPLICATION_JSON, value: '{{\"spring\":{{\"datasource\":{{\"hikari\":{{\"maximum-pool-size\":12}}}}}}}}'}}
{mount}"
        ),
    );
    let args = deployment(
        "args-over-everything",
        "",
        &format!(
            "          args: [\"--spring.datasource.hikari.maximum-pool-size=13\"]
          env:
            - {{name: JAVA_TOOL_OPTIONS, value: \"-Dspring.datasource.hikari.maximum-pool-size=14\"}}
{mount}"
        ),
    );
    let dir = repo(&[
        ("db.yaml", DB),
        ("cm.yaml", cm),
        ("a.yaml", &file_only),
        ("b.yaml", &prod),
        ("c.yaml", &prod_env),
        ("d.yaml", &big),
        ("e.yaml", &json),
        ("f.yaml", &args),
    ]);
    let v = check(&dir);
    let pool = |w: &str| client(&v, "ns/pg", &format!("ns/Deployment/{w}")).2;
    assert_eq!(pool("file-only"), Some(7));
    assert_eq!(pool("profile-prod"), Some(8));
    assert_eq!(pool("profile-prod-placeholder"), Some(9));
    assert_eq!(pool("profile-document"), Some(30));
    assert_eq!(pool("application-json-over-env"), Some(12));
    assert_eq!(pool("args-over-everything"), Some(13));
}

#[test]
fn replicas_autoscalers_and_surge() {
    let spring =
        "          env: [{name: SPRING_DATASOURCE_URL, value: \"jdbc:postgresql://pg-rw/x\"}]\n";
    let files = [
        ("db.yaml", DB.to_string()),
        ("default.yaml", deployment("no-replicas", "", spring)),
        ("int.yaml", deployment("int-surge", "  replicas: 4\n  strategy: {rollingUpdate: {maxSurge: 2}}\n", spring)),
        ("recreate.yaml", deployment("recreate", "  replicas: 4\n  strategy: {type: Recreate}\n", spring)),
        ("keda.yaml", deployment("keda", "  replicas: 2\n", spring)),
        (
            "so.yaml",
            "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s, namespace: ns}\nspec:\n  scaleTargetRef: {name: keda}\n".to_string(),
        ),
        (
            "hpa.yaml",
            "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h, namespace: ns}\nspec:\n  scaleTargetRef: {kind: Deployment, name: int-surge}\n  maxReplicas: 10\n".to_string(),
        ),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let v = check(&repo(&refs));
    // replicas default 1, 25% of 1 rounds up to 1.
    assert_eq!(
        client(&v, "ns/pg", "ns/Deployment/no-replicas"),
        (1, 2, Some(10))
    );
    // HPA v1 maxReplicas 10 replaces replicas 4; an integer surge is taken as is.
    assert_eq!(
        client(&v, "ns/pg", "ns/Deployment/int-surge"),
        (10, 12, Some(10))
    );
    assert_eq!(
        client(&v, "ns/pg", "ns/Deployment/recreate"),
        (4, 4, Some(10))
    );
    // KEDA maxReplicaCount defaults to 100; 25% of 100 = 25.
    assert_eq!(
        client(&v, "ns/pg", "ns/Deployment/keda"),
        (100, 125, Some(10))
    );
}

#[test]
fn rollouts_jobs_and_statefulsets() {
    let env =
        "          env: [{name: SPRING_DATASOURCE_URL, value: \"jdbc:postgresql://pg-rw/x\"}]\n";
    let pod = |kind: &str, name: &str, spec: &str, api: &str| {
        format!(
            "apiVersion: {api}\nkind: {kind}\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n{spec}  template:\n    spec:\n      containers:\n        - name: app\n          image: app:1\n{env}"
        )
    };
    let files = [
        ("db.yaml", DB.to_string()),
        (
            "bg.yaml",
            pod(
                "Rollout",
                "bg",
                "  replicas: 3\n  strategy:\n    blueGreen: {activeService: a}\n",
                "argoproj.io/v1alpha1",
            ),
        ),
        (
            "bgp.yaml",
            pod(
                "Rollout",
                "bg-preview",
                "  replicas: 3\n  strategy:\n    blueGreen: {previewReplicaCount: 1}\n",
                "argoproj.io/v1alpha1",
            ),
        ),
        (
            "canary.yaml",
            pod(
                "Rollout",
                "canary-tr",
                "  replicas: 4\n  strategy:\n    canary:\n      trafficRouting: {nginx: {stableIngress: x}}\n",
                "argoproj.io/v1alpha1",
            ),
        ),
        (
            "canary2.yaml",
            pod(
                "Rollout",
                "canary-plain",
                "  replicas: 4\n  strategy:\n    canary: {maxSurge: \"50%\"}\n",
                "argoproj.io/v1alpha1",
            ),
        ),
        (
            "sts.yaml",
            pod("StatefulSet", "sts", "  replicas: 3\n", "apps/v1"),
        ),
        (
            "job.yaml",
            pod("Job", "job", "  parallelism: 5\n", "batch/v1"),
        ),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let v = check(&repo(&refs));
    let c = |w: &str| client(&v, "ns/pg", w);
    assert_eq!(c("ns/Rollout/bg"), (3, 6, Some(10)));
    assert_eq!(c("ns/Rollout/bg-preview"), (3, 4, Some(10)));
    assert_eq!(c("ns/Rollout/canary-tr"), (4, 8, Some(10)));
    assert_eq!(c("ns/Rollout/canary-plain"), (4, 6, Some(10)));
    assert_eq!(c("ns/StatefulSet/sts"), (3, 3, Some(10)));
    assert_eq!(c("ns/Job/job"), (5, 5, Some(10)));
}

#[test]
fn host_forms_link_and_unknown_hosts_are_findings() {
    let url = |name: &str, u: &str| {
        deployment(
            name,
            "",
            &format!("          env: [{{name: DATABASE_URL, value: \"{u}\"}}]\n          \n"),
        )
    };
    let ann = |name: &str, u: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: other}}\nspec:\n  template:\n    metadata:\n      annotations: {{poolguard.dev/pool-max: \"2\"}}\n    spec:\n      containers:\n        - name: app\n          image: app:1\n          env: [{{name: DATABASE_URL, value: \"{u}\"}}]\n"
        )
    };
    let files = [
        ("db.yaml", DB.to_string()),
        ("a.yaml", ann("short-ns", "postgres://u:p@pg-rw.ns/x")),
        ("b.yaml", ann("svc", "postgres://u:p@pg-rw.ns.svc:5432/x")),
        (
            "c.yaml",
            ann("fqdn", "postgresql://pg-rw.ns.svc.cluster.local/x"),
        ),
        (
            "d.yaml",
            ann("kv", "host=pg-rw.ns port=5432 dbname=x user=u"),
        ),
        (
            "e.yaml",
            url("nowhere", "postgres://u:p@elsewhere.example.com/x"),
        ),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let v = check(&repo(&refs));
    for w in ["short-ns", "svc", "fqdn", "kv"] {
        assert_eq!(
            client(&v, "ns/pg", &format!("other/Deployment/{w}")).2,
            Some(2),
            "{w}"
        );
    }
    let f = &v["findings"].as_array().unwrap();
    let unresolved = f
        .iter()
        .find(|f| f["rule"] == "unresolved-database")
        .unwrap();
    assert_eq!(unresolved["workload"], "ns/Deployment/nowhere");
    assert!(!unresolved["message"].as_str().unwrap().contains(":p@"));
}

#[test]
fn annotations_and_config_overrides() {
    let cfg = "\
databases:
  - name: ext
    max_connections: 100
    hosts: [\"*.db.example.com\"]
workloads:
  - id: \"ns/Deployment/from-config*\"
    pool_max: 6
    processes: 2
";
    let go = |name: &str, ann: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n  template:\n    metadata:\n      annotations: {{{ann}}}\n    spec:\n      containers:\n        - name: app\n          image: go:1\n          env: [{{name: DATABASE_URL, value: \"postgres://a.db.example.com/x\"}}]\n"
        )
    };
    let files = [
        ("poolguard.yaml", cfg.to_string()),
        ("a.yaml", go("from-config", "")),
        (
            "b.yaml",
            go("from-config-ann", "poolguard.dev/pool-max: \"3\""),
        ),
        (
            "c.yaml",
            go("conn-pod", "poolguard.dev/connections-per-pod: \"40\""),
        ),
        ("d.yaml", go("unknown", "")),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let v = check(&repo(&refs));
    assert_eq!(client(&v, "ext", "ns/Deployment/from-config").2, Some(12));
    // The annotation wins over config for the pool; processes still come from config.
    assert_eq!(
        client(&v, "ext", "ns/Deployment/from-config-ann").2,
        Some(6)
    );
    assert_eq!(client(&v, "ext", "ns/Deployment/conn-pod").2, Some(40));
    assert_eq!(client(&v, "ext", "ns/Deployment/unknown").2, None);
    assert!(rules(&v).contains(&"unresolved-pool-size".to_string()));
    let db = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "ext")
        .unwrap();
    assert_eq!(db["steady"], Value::Null);
}

#[test]
fn database_servers_are_never_their_own_clients() {
    let sts = "\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: accounts-db, namespace: ns}
spec:
  serviceName: accounts-db
  template:
    metadata: {labels: {app: accounts-db}}
    spec:
      containers:
        - name: postgres
          image: registry.example.com/custom-db:1
          ports: [{containerPort: 5432}]
          env:
            - {name: POSTGRES_DB, value: accounts}
            - {name: POSTGRESQL_MAX_CONNECTIONS, value: \"80\"}
            - {name: DATABASE_URL, value: \"postgres://accounts-db/accounts\"}
";
    let v = check(&repo(&[("db.yaml", sts)]));
    let db = &v["databases"][0];
    assert_eq!(db["id"], "ns/accounts-db");
    assert_eq!(db["max_connections"], 80);
    assert_eq!(db["clients"].as_array().unwrap().len(), 0);
}

#[test]
fn managed_databases_by_instance_class_say_where_the_number_comes_from() {
    let cfg = "databases:
  - name: aurora
    engine: aurora-postgresql
    instance_class: db.r6g.large
    hosts: [\"aurora.example.com\"]
  - name: rds
    engine: postgres
    instance_class: db.m5.large
    hosts: [\"rds.example.com\"]
  - name: azure
    instance_class: Standard_B2s
    hosts: [\"azure.example.com\"]
";
    let v = check(&repo(&[("poolguard.yaml", cfg)]));
    let db = |id: &str| {
        v["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            db("aurora")["max_connections"].as_i64(),
            db("aurora")["capacity"].as_i64()
        ),
        (Some(1722), Some(1719))
    );
    // 8 GiB: LEAST(8 GiB / 9531392, 5000) = 901.2 nominal, 95 % = 856 (an estimate).
    assert_eq!(db("rds")["max_connections"], 856);
    // Azure reserves 15 of 429.
    assert_eq!(
        (
            db("azure")["max_connections"].as_i64(),
            db("azure")["capacity"].as_i64()
        ),
        (Some(429), Some(414))
    );
    let dir = repo(&[(
        "poolguard.yaml",
        "databases:\n  - name: x\n    instance_class: db.q1.huge\n",
    )]);
    let out = Command::cargo_bin("poolguard")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("poolguard.yaml:3:21: unknown instance_class `db.q1.huge`")
    );
}

#[test]
fn declared_stacks_read_pool_and_processes_with_expressions() {
    let cfg = "stacks:
  - name: acme-python
    match: { env: [DB_POOL_SIZE] }
    pool_max: \"int(env.DB_POOL_SIZE) + int(env.DB_MAX_OVERFLOW)\"
    processes: \"int(env.WEB_CONCURRENCY)\"
  - name: acme-go
    match: { image: \"*/acme-go-*\" }
    pool_max: \"int(env.MAX_OPEN_CONNS)\"
";
    let w = |name: &str, image: &str, env: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {image}\n          env:\n            - {{name: DATABASE_URL, value: \"postgres://pg-rw/x\"}}\n{env}"
        )
    };
    let files = [
        ("poolguard.yaml", cfg.to_string()),
        ("db.yaml", DB.to_string()),
        (
            "py.yaml",
            w(
                "py",
                "python:3.12",
                "            - {name: DB_POOL_SIZE, value: \"5\"}\n            - {name: DB_MAX_OVERFLOW, value: \"10\"}\n            - {name: WEB_CONCURRENCY, value: \"3\"}\n",
            ),
        ),
        (
            "go.yaml",
            w(
                "go",
                "registry.example.com/acme-go-orders:1",
                "            - {name: MAX_OPEN_CONNS, value: \"12\"}\n",
            ),
        ),
        (
            "broken.yaml",
            w("broken", "registry.example.com/acme-go-x:1", ""),
        ),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let v = check(&repo(&refs));
    // 3 workers × (5 + 10).
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/py").2, Some(45));
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/go").2, Some(12));
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/broken").2, None);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "unresolved-pool-size")
        .unwrap();
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("stack `acme-go`: pool_max reads `MAX_OPEN_CONNS`"),
        "{f}"
    );
    assert_eq!(f["path"], "poolguard.yaml");
}

#[test]
fn repository_configs_attach_by_annotation_and_by_config() {
    let app = "spring:\n  datasource:\n    url: jdbc:postgresql://pg-rw.ns/x\n    hikari:\n      maximum-pool-size: 17\n";
    let ann = "apiVersion: apps/v1
kind: Deployment
metadata: {name: by-annotation, namespace: ns}
spec:
  template:
    metadata:
      annotations: {poolguard.dev/config: services/orders/src/main/resources/application.yml}
    spec:
      containers: [{name: app, image: orders:1}]
";
    let cfg_attached = "apiVersion: apps/v1
kind: Deployment
metadata: {name: by-config, namespace: ns}
spec:
  template:
    spec:
      containers: [{name: app, image: orders:1}]
";
    let cfg = "workloads:\n  - id: ns/Deployment/by-config\n    config: services/orders/src/main/resources/application.yml\n";
    let missing = ann
        .replace("by-annotation", "missing")
        .replace("services/orders", "services/nope");
    let v = check(&repo(&[
        ("poolguard.yaml", cfg),
        ("db.yaml", DB),
        ("services/orders/src/main/resources/application.yml", app),
        ("deploy/a.yaml", ann),
        ("deploy/b.yaml", cfg_attached),
        ("deploy/c.yaml", &missing),
    ]));
    assert_eq!(
        client(&v, "ns/pg", "ns/Deployment/by-annotation").2,
        Some(17)
    );
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/by-config").2, Some(17));
    let f = v["findings"].as_array().unwrap();
    assert!(
        f.iter().any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("services/nope/src/main/resources/application.yml")
            && f["path"] == "deploy/c.yaml"),
        "{f:?}"
    );
}

#[test]
fn a_configmap_mounted_by_many_workloads_is_read_once_for_all() {
    // One shared application.yaml with a repeated key, mounted by three Deployments: each
    // gets the winning pool size, and the repetition is reported once, not once per mount.
    let cm = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: common, namespace: ns}
data:
  application.yaml: |
    spring:
      datasource:
        url: jdbc:postgresql://pg-rw:5432/app
        hikari:
          maximum-pool-size: 10
          maximum-pool-size: 12
";
    let mount = "          volumeMounts: [{name: cfg, mountPath: /config}]
      volumes: [{name: cfg, configMap: {name: common}}]
";
    let (a, b, c) = (
        deployment("a", "  replicas: 2\n", mount),
        deployment("b", "  replicas: 3\n", mount),
        deployment("c", "  replicas: 1\n", mount),
    );
    let dir = repo(&[
        ("db.yaml", DB),
        ("cm.yaml", cm),
        ("a.yaml", &a),
        ("b.yaml", &b),
        ("c.yaml", &c),
    ]);
    let v = check(&dir);
    for (w, pods) in [("a", 2), ("b", 3), ("c", 1)] {
        let (steady, _, conn) = client(&v, "ns/pg", &format!("ns/Deployment/{w}"));
        assert_eq!((steady, conn), (pods, Some(12)), "{w}");
    }
    let dups: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "duplicate-key")
        .collect();
    assert_eq!(dups.len(), 1, "{v}");
    assert_eq!(dups[0]["path"], "cm.yaml");
}

#[test]
fn named_datasources_open_one_pool_each() {
    // Micronaut: two datasources on one database add up there; on two databases each
    // database sees only its own datasource's pool, not the container's largest.
    let cm = |audit_host: &str| {
        format!(
            "\
apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg, namespace: ns}}
data:
  application.yml: |
    datasources:
      default:
        url: jdbc:postgresql://pg-rw:5432/app
        maximum-pool-size: 10
      audit:
        url: jdbc:postgresql://{audit_host}:5432/audit
        maximum-pool-size: 4
"
        )
    };
    let mount = "          volumeMounts: [{name: cfg, mountPath: /config}]
      volumes: [{name: cfg, configMap: {name: cfg}}]
";
    let app = deployment("app", "  replicas: 2\n", mount);
    let pg2 = DB.replace("name: pg,", "name: pg2,");

    let same = cm("pg-rw");
    let dir = repo(&[("db.yaml", DB), ("cm.yaml", &same), ("app.yaml", &app)]);
    let v = check(&dir);
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/app"), (2, 3, Some(14)));

    let split = cm("pg2-rw");
    let dir = repo(&[
        ("db.yaml", DB),
        ("db2.yaml", &pg2),
        ("cm.yaml", &split),
        ("app.yaml", &app),
    ]);
    let v = check(&dir);
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/app"), (2, 3, Some(10)));
    assert_eq!(client(&v, "ns/pg2", "ns/Deployment/app"), (2, 3, Some(4)));

    // One datasource's URL from the env, the other's from the file: still both counted.
    let env_cm = same.replace("        url: jdbc:postgresql://pg-rw:5432/app\n", "");
    let env_app = app.replace(
        "          image: app:1\n",
        "          image: app:1\n          env:\n            - {name: DATASOURCES_DEFAULT_URL, value: \"jdbc:postgresql://pg-rw:5432/app\"}\n",
    );
    assert_ne!(env_cm, same);
    assert_ne!(env_app, app);
    let dir = repo(&[
        ("db.yaml", DB),
        ("cm.yaml", &env_cm),
        ("app.yaml", &env_app),
    ]);
    let v = check(&dir);
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/app"), (2, 3, Some(14)));

    // An annotation sets the whole container's pool: it is not added up per datasource.
    let annotated = app.replace(
        "  template:\n",
        "  template:\n    metadata:\n      annotations: {poolguard.dev/pool-max: \"7\"}\n",
    );
    let dir = repo(&[
        ("db.yaml", DB),
        ("cm.yaml", &same),
        ("app.yaml", &annotated),
    ]);
    let v = check(&dir);
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/app"), (2, 3, Some(7)));
}

#[test]
fn quarkus_jdbc_and_reactive_urls_of_one_datasource_count_its_pools_once() {
    let cm = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: ns}
data:
  application.properties: |
    quarkus.datasource.jdbc.url=jdbc:postgresql://pg-rw:5432/app
    quarkus.datasource.jdbc.max-size=8
    quarkus.datasource.reactive.url=postgresql://pg-rw:5432/app
    quarkus.datasource.reactive.max-size=5
";
    let mount = "          volumeMounts: [{name: cfg, mountPath: /deployments/config}]
      volumes: [{name: cfg, configMap: {name: cfg}}]
";
    let app = deployment("app", "  replicas: 1\n", mount);
    let dir = repo(&[("db.yaml", DB), ("cm.yaml", cm), ("app.yaml", &app)]);
    let v = check(&dir);
    // 8 (JDBC) + 5 (reactive) once, not once per URL.
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/app"), (1, 2, Some(13)));
}

#[test]
fn an_init_container_with_two_datasources_counts_both() {
    // Init containers run one at a time, so a pod's demand is the larger of its main
    // containers' sum and its largest init container; an init container's own datasources
    // add up (10 + 4), they are not each an init container.
    let cm = |name: &str, body: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: ns}}\ndata:\n  application.yml: |\n    datasources:\n{body}"
        )
    };
    let two = cm(
        "two",
        "      default: {url: \"jdbc:postgresql://pg-rw:5432/app\", maximum-pool-size: 10}\n      audit: {url: \"jdbc:postgresql://pg-rw:5432/audit\", maximum-pool-size: 4}\n",
    );
    let one = cm(
        "one",
        "      default: {url: \"jdbc:postgresql://pg-rw:5432/app\", maximum-pool-size: 3}\n",
    );
    let app = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: ns}
spec:
  replicas: 1
  template:
    spec:
      initContainers:
        - name: migrate
          image: app:1
          volumeMounts: [{name: two, mountPath: /config}]
      containers:
        - name: app
          image: app:1
          volumeMounts: [{name: one, mountPath: /config}]
      volumes:
        - {name: two, configMap: {name: two}}
        - {name: one, configMap: {name: one}}
";
    let dir = repo(&[
        ("db.yaml", DB),
        ("two.yaml", &two),
        ("one.yaml", &one),
        ("app.yaml", app),
    ]);
    let v = check(&dir);
    assert_eq!(client(&v, "ns/pg", "ns/Deployment/app"), (1, 2, Some(14)));
}

#[test]
fn each_datasource_is_checked_against_its_own_pool() {
    // default: minimum-idle 20 above its maximum 10; audit's maximum is 4. The finding is
    // the default datasource's, once — not also "20 above 4" for the audit datasource.
    let cm = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: ns}
data:
  application.yml: |
    datasources:
      default: {url: \"jdbc:postgresql://pg-rw:5432/app\", maximum-pool-size: 10, minimum-idle: 20}
      audit: {url: \"jdbc:postgresql://pg-rw:5432/audit\", maximum-pool-size: 4, minimum-idle: 2}
";
    let mount = "          volumeMounts: [{name: cfg, mountPath: /config}]
      volumes: [{name: cfg, configMap: {name: cfg}}]
";
    let app = deployment("app", "  replicas: 1\n", mount);
    let dir = repo(&[("db.yaml", DB), ("cm.yaml", cm), ("app.yaml", &app)]);
    let v = check(&dir);
    let found: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "pool-min-exceeds-max")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("is 20, above the pool maximum 10"),
        "{found:?}"
    );
}
