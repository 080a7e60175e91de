//! `poolguard fix`: rewrites only the bytes of the value a capacity finding points at, keeps
//! quotes, comments and formatting, writes atomically, refuses files that changed, prints a
//! unified diff, and afterwards the capacity findings are gone.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use poolguard::check::{self, Request};
use poolguard::config::Config;
use poolguard::fix;
use poolguard::report::Report;
use poolguard::source::SourceDb;
use proptest::prelude::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CAPACITY: [&str; 2] = ["capacity-exceeded", "rollout-capacity-exceeded"];

fn poolguard(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("poolguard").unwrap();
    c.current_dir(dir).env("NO_COLOR", "1");
    c
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

fn read_all(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    v
}

const FAILING: [&str; 3] = ["auth-rollout", "orders-pool-raise", "payments-surge"];

#[test]
fn incidents_pass_after_fix() {
    for name in FAILING {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(name);
        copy_dir(&Path::new(ROOT).join("fixtures/incidents").join(name), &dir);
        let out = poolguard(tmp.path())
            .args(["check", name])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name} fails before");

        let before = read_all(&dir);
        let out = poolguard(tmp.path()).args(["fix", name]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {err}");
        assert!(
            err.contains("re-checked: no capacity finding left"),
            "{err}"
        );
        let diff = String::from_utf8(out.stdout).unwrap();
        assert!(diff.starts_with(&format!("--- a/{name}/")), "{diff}");

        // One file changed, by one run of digits, on one line.
        let after = read_all(&dir);
        let changed: Vec<_> = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| b.1 != a.1)
            .collect();
        assert_eq!(changed.len(), 1, "{name}");
        let (old, new) = (&changed[0].0.1, &changed[0].1.1);
        let pre = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let suf = old
            .iter()
            .rev()
            .zip(new.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let (o, n) = (&old[pre..old.len() - suf], &new[pre..new.len() - suf]);
        assert!(
            o.iter().chain(n).all(u8::is_ascii_digit),
            "{name}: {o:?} → {n:?}"
        );

        let out = poolguard(tmp.path())
            .args(["check", name])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        // Fixing again changes nothing.
        let out = poolguard(tmp.path()).args(["fix", name]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.is_empty());
        assert_eq!(read_all(&dir), after);
    }
}

#[test]
fn the_auth_fix_keeps_the_quotes_and_prints_a_unified_diff() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(ROOT).join("fixtures/incidents/auth-rollout"),
        tmp.path(),
    );
    let out = poolguard(tmp.path())
        .args(["fix", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "--- a/auth.yaml\n+++ b/auth.yaml\n@@ -29,4 +29,4 @@\n               valueFrom:\n                 secretKeyRef: {name: auth-db-app, key: password}\n             - name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\n-              value: \"20\"\n+              value: \"15\"\n"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("would set pool size of prod/Deployment/auth: 20 → 15 in auth.yaml"),
        "{err}"
    );
}

#[test]
fn dry_run_changes_nothing_and_its_diff_applies() {
    for name in FAILING {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        let src = Path::new(ROOT).join("fixtures/incidents").join(name);
        copy_dir(&src, &a);
        copy_dir(&src, &b);
        let before = read_all(&a);
        let out = poolguard(&a).args(["fix", "--dry-run"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(read_all(&a), before, "{name}: --dry-run wrote");
        let patch = tmp.path().join("fix.patch");
        std::fs::write(&patch, &out.stdout).unwrap();
        // The diff is a patch: applied to a copy it gives what `fix` writes.
        let applied = std::process::Command::new("git")
            .current_dir(&a)
            .args(["apply", "--unsafe-paths"])
            .arg(&patch)
            .output()
            .unwrap();
        assert!(
            applied.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&applied.stderr)
        );
        assert_eq!(
            poolguard(&b).arg("fix").output().unwrap().status.code(),
            Some(0)
        );
        let strip =
            |v: Vec<(PathBuf, Vec<u8>)>| -> Vec<Vec<u8>> { v.into_iter().map(|x| x.1).collect() };
        assert_eq!(strip(read_all(&a)), strip(read_all(&b)), "{name}");
    }
}

const CLUSTER: &str = "\
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: app-db
  namespace: prod
spec:
  instances: 1
  postgresql:
    parameters:
      max_connections: \"MAXCONN\"
";

/// A Deployment with connections-per-pod set, so the only knob is maxSurge.
fn surge_app(max_conn: u32, surge: &str) -> String {
    format!(
        "{}---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: prod
spec:
  replicas: 4
  strategy:
    rollingUpdate:
      maxSurge: {surge}   # keep this comment
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
      annotations:
        poolguard.dev/connections-per-pod: \"20\"
    spec:
      containers:
        - name: api
          image: example/api:1
          env:
            - name: DATABASE_URL
              value: postgres://app-db-rw:5432/app
",
        CLUSTER.replace("MAXCONN", &max_conn.to_string())
    )
}

#[test]
fn max_surge_is_rewritten_as_an_integer_without_quotes() {
    for (written, expect) in [
        ("\"100%\"", "3"),
        ("'100%'", "3"),
        ("100%", "3"),
        ("4", "3"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let text = surge_app(150, written);
        std::fs::write(tmp.path().join("app.yaml"), &text).unwrap();
        let out = poolguard(tmp.path()).arg("fix").output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{written}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let now = std::fs::read_to_string(tmp.path().join("app.yaml")).unwrap();
        assert_eq!(
            now,
            text.replace(
                &format!("maxSurge: {written}   #"),
                &format!("maxSurge: {expect}   #")
            ),
            "{written}"
        );
    }
}

#[test]
fn what_cannot_be_fixed_is_skipped_and_said() {
    // maxSurge 0 would need maxUnavailable ≥ 1: left to the user.
    let tmp = tempfile::tempdir().unwrap();
    let text = surge_app(100, "1");
    std::fs::write(tmp.path().join("app.yaml"), &text).unwrap();
    let out = poolguard(tmp.path()).arg("fix").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("skipped app.yaml:"), "{err}");
    assert!(err.contains("maxSurge 0 needs maxUnavailable"), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("app.yaml")).unwrap(),
        text
    );

    // A pool size that is the stack's default is written nowhere.
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{}---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: api, namespace: prod}}
spec:
  replicas: 30
  strategy: {{type: Recreate}}
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec:
      containers:
        - name: api
          image: example/api:1
          env:
            - name: SPRING_DATASOURCE_URL
              value: jdbc:postgresql://app-db-rw:5432/app
",
        CLUSTER.replace("MAXCONN", "200")
    );
    std::fs::write(tmp.path().join("app.yaml"), &text).unwrap();
    let out = poolguard(tmp.path()).arg("fix").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("is not written anywhere"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("app.yaml")).unwrap(),
        text
    );
}

#[test]
fn a_file_changed_since_it_was_read_is_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(ROOT).join("fixtures/incidents/auth-rollout"),
        tmp.path(),
    );
    let (report, db) = run(tmp.path());
    let plan = fix::plan(&report, &db);
    let changes = fix::changes(&plan, &db, tmp.path());
    assert_eq!(changes.len(), 1);
    let auth = tmp.path().join("auth.yaml");
    let edited = std::fs::read_to_string(&auth)
        .unwrap()
        .replace("2.14.0", "2.15.0");
    std::fs::write(&auth, &edited).unwrap();
    let err = fix::write(&changes[0]).unwrap_err();
    assert!(err.contains("changed since it was read"), "{err}");
    assert_eq!(std::fs::read_to_string(&auth).unwrap(), edited);
    // Unchanged on disk: written, and no temporary file is left behind.
    std::fs::write(&auth, &*changes[0].old).unwrap();
    fix::write(&changes[0]).unwrap();
    assert_eq!(std::fs::read_to_string(&auth).unwrap(), changes[0].new);
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

// ---------------------------------------------------------------------------------------------
// Property: for pool sizes written in every form poolguard reads, the fix replaces exactly the
// digits of the value, re-parsing reads the new value there, and the capacity findings are gone.

/// Runs the pipeline in process on `dir`, as `check` does without a config.
fn run(dir: &Path) -> (Report, SourceDb) {
    let req = Request {
        paths: vec![dir.to_path_buf()],
        stdin: None,
        cwd: dir.to_path_buf(),
    };
    check::run(req, SourceDb::default(), &Config::default(), &[]).unwrap()
}

const POOL: &str = "@POOL@";

/// Where the pool size is written; `POOL` marks the value, `R` the replicas.
fn deployment(form: usize, noise: &str) -> (&'static str, String) {
    let head = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: auth
  namespace: prod
{noise}spec:
  replicas: @R@
  strategy:
    rollingUpdate:
      maxSurge: 50%
  selector:
    matchLabels: {{app: auth}}
  template:
    metadata:
      labels: {{app: auth}}
"
    );
    let container = |env: &str| {
        format!(
            "    spec:
      containers:
        - name: auth
          image: example/auth:1
          env:
            - name: SPRING_DATASOURCE_URL
              value: jdbc:postgresql://app-db-rw:5432/auth
{env}"
        )
    };
    match form {
        0 => (
            "app.yaml",
            head + &container(&format!(
                "            - name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\n              value: \"{POOL}\"  # sized for {POOL} threads\n"
            )),
        ),
        1 => (
            "app.yaml",
            head + &container(&format!(
                "            - name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\n              value: '{POOL}'\n"
            )),
        ),
        2 => (
            "app.yaml",
            head + &container(&format!(
                "            - name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\n              value: {POOL}\n"
            )),
        ),
        3 => (
            "app.yaml",
            head + &container(&format!(
                "            - name: JAVA_TOOL_OPTIONS\n              value: \"-Xmx1g -Dspring.datasource.hikari.maximum-pool-size={POOL} -Dx.y=7\"\n"
            )),
        ),
        4 => (
            "app.yaml",
            head.replace(
                "      labels: {app: auth}\n",
                &format!(
                    "      labels: {{app: auth}}\n      annotations:\n        poolguard.dev/pool-max: \"{POOL}\"\n"
                ),
            ) + &container(""),
        ),
        _ => (
            "app.yaml",
            format!(
                "apiVersion: v1
kind: ConfigMap
metadata:
  name: auth-config
  namespace: prod
data:
  application.yml: |
    # pool: {POOL} in production
    spring:
      datasource:
        hikari:
          maximum-pool-size: ${{DB_POOL_MAX:{POOL}}}
---
"
            ) + &head
                + "    spec:
      containers:
        - name: auth
          image: example/auth:1
          env:
            - name: SPRING_DATASOURCE_URL
              value: jdbc:postgresql://app-db-rw:5432/auth
          volumeMounts:
            - {name: config, mountPath: /config}
      volumes:
        - name: config
          configMap: {name: auth-config}
",
        ),
    }
}

/// The byte offset of the `n`th marker occurrence that holds the value the pool is read from
/// (forms 0 and 5 also mention it in a comment first or after).
fn value_marker(form: usize) -> usize {
    match form {
        5 => 1,
        _ => 0,
    }
}

/// One generated case: the pool written in `form`, `replicas` pods with `maxSurge: 50%`, a
/// pool `extra` above the largest that fits, optional noise, optionally CRLF line endings.
fn fix_case(form: usize, replicas: i64, extra: i64, noise: Option<u32>, crlf: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let peak = replicas + (replicas + 1) / 2;
    let fits = 197 / peak;
    let pool = fits + 1 + extra;
    let noise = noise.map_or(String::new(), |n| format!("  labels: {{build: \"{n}\"}}\n"));
    let (name, template) = deployment(form, &noise);
    let mut text = format!("{}---\n{template}", CLUSTER.replace("MAXCONN", "200"))
        .replace("@R@", &replicas.to_string());
    // Where the value goes: the marker the config is read from.
    let marker_at = text.match_indices(POOL).nth(value_marker(form)).unwrap().0;
    let value = pool.to_string();
    let value_at = marker_at - text[..marker_at].matches(POOL).count() * (POOL.len() - value.len());
    text = text.replace(POOL, &value);
    // Offsets above are of the LF text; CRLF shifts them by the CRs before.
    let value_at = if crlf {
        let shift = text[..value_at].matches('\n').count();
        text = text.replace('\n', "\r\n");
        value_at + shift
    } else {
        value_at
    };
    assert_eq!(
        &text[value_at..value_at + value.len()],
        value,
        "marker math"
    );

    let dir = tmp.path();
    let path = dir.join(name);
    std::fs::write(&path, &text).unwrap();
    let (report, db) = run(dir);
    assert!(
        report
            .findings
            .iter()
            .any(|d| CAPACITY.contains(&d.rule.as_str())),
        "no capacity finding"
    );
    let plan = fix::plan(&report, &db);
    assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
    assert_eq!(plan.edits.len(), 1);
    let e = &plan.edits[0];
    assert_eq!((e.start, e.end), (value_at, value_at + value.len()));
    assert_eq!(e.text, fits.to_string());

    let changes = fix::changes(&plan, &db, dir);
    fix::write(&changes[0]).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    // Every other byte is unchanged; the new value sits where the old one was.
    assert_eq!(new[..value_at], text[..value_at]);
    assert_eq!(&new[value_at..value_at + e.text.len()], e.text);
    assert_eq!(
        new[value_at + e.text.len()..],
        text[value_at + value.len()..]
    );

    // Re-parsed, the model reads the new value; the capacity findings are gone.
    let (after, _) = run(dir);
    let client = &after.databases[0].clients[0];
    assert_eq!(client.conn_pod, Some(fits), "{client:?}");
    assert!(
        after
            .findings
            .iter()
            .all(|d| !CAPACITY.contains(&d.rule.as_str())),
        "{:?}",
        after.findings
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn fixes_rewrite_exactly_the_value_in_every_form(
        form in 0usize..6,
        replicas in 1i64..=10,
        extra in 0i64..300,
        noise in proptest::option::of(0u32..100_000),
        crlf in proptest::bool::weighted(0.25),
    ) {
        fix_case(form, replicas, extra, noise, crlf);
    }
}

#[test]
fn every_form_is_fixed_at_least_once() {
    // The property above is random; each form is also pinned down once, CRLF included.
    for form in 0..6 {
        fix_case(form, 6, 5, Some(42), true);
        fix_case(form, 1, 0, None, false);
    }
}
