//! Inputs that once crashed poolguard, found by the fuzz targets in `fuzz/` and the property
//! tests in `tests/properties.rs`; each is kept inline, exactly as found, and checked both
//! at the function that failed and through the CLI.

use assert_cmd::Command;
use serde_json::Value;

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// Runs `poolguard check . --format json`; asserts it did its job (exit 0 or 1, no panic).
fn check(dir: &tempfile::TempDir) -> Value {
    let out = Command::cargo_bin("poolguard")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", ".", "--format", "json"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit {:?}: {stderr}",
        out.status.code()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn deployment(strategy: &str, env_value: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: api, namespace: ns}}
spec:
  replicas: 2
{strategy}  template:
    metadata:
      annotations: {{poolguard.dev/pool-max: \"5\"}}
    spec:
      containers:
        - name: app
          image: app:1
          env:
            - name: DATABASE_URL
              value: postgres://app@db.reg.internal:5432/app
            - name: GREETING
              value: {env_value:?}
"
    )
}

const CONFIG: &str = "\
databases:
  - name: db
    engine: postgres
    max_connections: 100
    hosts: [\"*.reg.internal\"]
";

/// fuzz/endpoint, crash-436942fa…: `starts_with_ci` sliced the value at byte 7 (the length of
/// `server=`) inside the multi-byte `—`. Any env value with `=`, no `;` and a multi-byte
/// character across byte 7 (`résumé=1`) crashed `poolguard check`.
#[test]
fn endpoint_value_with_a_multibyte_character_across_byte_7() {
    let found = "p# gx \u{2014} pass\n\nom`,\nmax_connections 400, headroom 10): capacity 400 \
                 \u{2212} 3 \u{2212} 10 = 387. P4 \u{d7} 16 = 64 (66 % of 97) \u{2192} ok.\n";
    assert_eq!(found.as_bytes()[6..9], "\u{2014}".as_bytes()[..]);
    let _ = poolguard::model::endpoint::parse(found);
    for v in [
        "résumé=1",
        "Servé=x",
        "\u{2014}\u{2014}\u{2014}=1",
        "ab\u{e9}\u{e9}\u{e9}=y;z",
    ] {
        let _ = poolguard::model::endpoint::parse(v);
    }
    let v = check(&repo(&[
        ("poolguard.yaml", CONFIG),
        ("api.yaml", &deployment("", "résumé=1")),
    ]));
    assert_eq!(v["databases"][0]["steady"], 10, "{v:#}");
}

/// tests/properties.rs, `peak_pods_are_monotonic_in_replicas_and_surge` (shrunk to r = 49,
/// maxSurge 188232082384791341 %): `capacity::ceil_pct` computes `(p + 99) / 100` after a
/// saturating multiply, so `r × pct` at or near `i64::MAX` overflows — a panic in debug
/// builds, and in release a wrapped negative surge clamped to 0: a silent underestimate of
/// the rollout peak. Needs `p.saturating_add(99)` (or `p / 100 + (p % 100 != 0) as i64`) in
/// src/capacity.rs.
#[test]
fn huge_percentage_surge_does_not_overflow() {
    use poolguard::capacity::surge_pods;
    use poolguard::model::Surge;
    use poolguard::report::Fact;
    let pct = |v: i64| Surge {
        value: Fact::default(v, "test"),
        percent: true,
    };
    assert!(surge_pods(49, &pct(188_232_082_384_791_341)) >= 49);
    assert_eq!(surge_pods(2, &pct(i64::MAX)), i64::MAX / 100 + 1);
    let v = check(&repo(&[
        ("poolguard.yaml", CONFIG),
        (
            "api.yaml",
            &deployment(
                "  strategy:\n    rollingUpdate: {maxSurge: \"9223372036854775807%\"}\n",
                "x",
            ),
        ),
    ]));
    let client = &v["databases"][0]["clients"][0];
    assert!(
        client["pods_peak"].as_i64().unwrap() > 2,
        "a 9223372036854775807% surge adds pods: {client:#}"
    );
}

/// Found probing the rest of the arithmetic with `i64::MAX` after the surge overflow above:
/// `Database::reserved()` adds
/// `superuser_reserved_connections` and `reserved_connections` unchecked (src/model/mod.rs),
/// so two huge settings in a server's args overflow — a panic in debug builds, a wrapped
/// (negative) reserve and so an inflated capacity in release. Awaits a saturating add.
#[test]
fn huge_reserved_settings_do_not_overflow() {
    let db = "\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pg, namespace: ns}
spec:
  template:
    spec:
      containers:
        - name: postgres
          image: postgres:16
          args: [\"-c\", \"max_connections=9223372036854775807 -c superuser_reserved_connections=9223372036854775807 -c reserved_connections=9\"]
";
    let app = deployment("", "x").replace("db.reg.internal:5432", "pg:5432");
    let v = check(&repo(&[("db.yaml", db), ("api.yaml", &app)]));
    assert!(
        v["databases"][0]["capacity"].as_i64().unwrap() <= 0,
        "{v:#}"
    );
}

/// `capacity::capacity` subtracts reserved and headroom unchecked (src/capacity.rs), so a
/// declared `reserved` and `headroom` near `i64::MAX` overflow: a panic in debug builds, a
/// wrapped (huge positive) capacity in release — a silent pass. Awaits saturating
/// arithmetic (or an upper bound on the config values).
#[test]
fn huge_reserved_and_headroom_do_not_overflow() {
    let cfg = "\
databases:
  - name: db
    engine: postgres
    max_connections: 1
    reserved: 9223372036854775807
    headroom: 9223372036854775807
    hosts: [\"*.reg.internal\"]
";
    let v = check(&repo(&[
        ("poolguard.yaml", cfg),
        ("api.yaml", &deployment("", "x")),
    ]));
    assert_eq!(v["databases"][0]["status"], "error", "{v:#}");
}

/// `capacity-headroom-low` computes `rollout × 100 / capacity` unchecked
/// (src/rules/capacity_headroom_low.rs), so a huge replica count against a huge
/// `max_connections` overflows: a panic in debug builds, a wrong percentage in release.
#[test]
fn huge_demand_against_huge_capacity_does_not_overflow() {
    let cfg = CONFIG.replace(
        "max_connections: 100",
        "max_connections: 9223372036854775807",
    );
    // Recreate: no surge, so the percentage surge overflow above is not reached first.
    // 90 % of i64::MAX pods × pool 1 fits and is above the 80 % warning line.
    let app = deployment("  strategy: {type: Recreate}\n", "x")
        .replace("replicas: 2", "replicas: 8301034833169298227")
        .replace("pool-max: \"5\"", "pool-max: \"1\"");
    let v = check(&repo(&[("poolguard.yaml", &cfg), ("api.yaml", &app)]));
    assert_eq!(v["databases"][0]["status"], "warning", "{v:#}");
}
