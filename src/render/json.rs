//! `--format json`: the machine-readable document of SPEC §9 (a contract).
//!
//! The document is built from `#[derive(Serialize)]` structs rather than `serde_json::json!`,
//! because struct fields serialize in declaration order while `json!` objects are sorted maps
//! (serde_json's `preserve_order` feature is off): the field order here *is* the key order of
//! the contract. Beyond the contract, each finding carries `notes` and `help`, and the document
//! lists `suppressed_findings` after `findings`.

use std::borrow::Cow;

use serde::Serialize;

use super::{Summary, position};
use crate::diag::{Diagnostic, Label, Suggestion};
use crate::redact::redact;
use crate::report::{ClientReport, DatabaseReport, Report};
use crate::source::SourceDb;

/// Version of the document's shape; bumped only on incompatible changes.
const SCHEMA_VERSION: u32 = 1;

/// Renders the JSON document, pretty-printed with a 2-space indent and a trailing newline.
/// JSON has no colour, so `_color` is ignored.
pub fn render(report: &Report, db: &SourceDb, _color: bool) -> String {
    let summary = Summary::of(report);
    let mut doc = Document {
        version: SCHEMA_VERSION,
        tool: Tool {
            name: "poolguard",
            version: env!("CARGO_PKG_VERSION"),
        },
        summary: SummaryJson {
            files: summary.files,
            errors: summary.errors,
            warnings: summary.warnings,
            suppressed: summary.suppressed,
        },
        findings: report.findings.iter().map(|d| finding(d, db)).collect(),
        suppressed_findings: report.suppressed.iter().map(|d| finding(d, db)).collect(),
        databases: report.databases.iter().map(database).collect(),
    };
    // `--base`: `findings[].new` and `databases[].base` (SPEC §9), only when a base was given.
    if let Some(base) = &report.base {
        for (f, d) in doc.findings.iter_mut().zip(&report.findings) {
            f.new = Some(base.is_new(d, db));
        }
        for (j, d) in doc.databases.iter_mut().zip(&report.databases) {
            j.base = Some(base.database(&d.id).map(BaseJson::of));
        }
    }
    // Serializing plain structs of strings and integers cannot fail.
    let mut out = serde_json::to_string_pretty(&doc).expect("JSON document serializes");
    out.push('\n');
    out
}

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    tool: Tool,
    summary: SummaryJson,
    findings: Vec<Finding<'a>>,
    suppressed_findings: Vec<Finding<'a>>,
    databases: Vec<Database<'a>>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct SummaryJson {
    files: usize,
    errors: usize,
    warnings: usize,
    suppressed: usize,
}

#[derive(Serialize)]
struct Finding<'a> {
    rule: Cow<'a, str>,
    severity: &'static str,
    message: Cow<'a, str>,
    path: Cow<'a, str>,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    database: Option<Cow<'a, str>>,
    workload: Option<Cow<'a, str>>,
    related: Vec<Related<'a>>,
    suggestion: Option<SuggestionJson>,
    notes: Vec<Cow<'a, str>>,
    help: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<bool>,
}

#[derive(Serialize)]
struct Related<'a> {
    path: Cow<'a, str>,
    line: usize,
    column: usize,
    message: Cow<'a, str>,
}

/// `{"pool_max": N}` or `{"max_surge": N}`: absent keys are left out, not `null`, so consumers
/// can test for the kind of fix by key.
#[derive(Serialize)]
struct SuggestionJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pool_max: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_surge: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    processes: Option<i64>,
}

#[derive(Serialize)]
struct Database<'a> {
    id: Cow<'a, str>,
    engine: Cow<'a, str>,
    max_connections: i64,
    reserved: i64,
    headroom: i64,
    capacity: i64,
    steady: Option<i64>,
    rollout: Option<i64>,
    all_rollouts: Option<i64>,
    status: &'static str,
    clients: Vec<Client<'a>>,
    /// `Some(None)` serializes as `null`: the database did not exist at the base revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<Option<BaseJson>>,
}

/// A database's figures at the base revision (`check` and `report` JSON alike).
#[derive(Serialize)]
pub(crate) struct BaseJson {
    capacity: i64,
    steady: Option<i64>,
    rollout: Option<i64>,
    all_rollouts: Option<i64>,
    status: &'static str,
}

impl BaseJson {
    /// The figures of `b`.
    pub(crate) fn of(b: &crate::report::DatabaseReport) -> BaseJson {
        BaseJson {
            capacity: b.capacity,
            steady: b.steady,
            rollout: b.rollout,
            all_rollouts: b.all_rollouts,
            status: b.status.as_str(),
        }
    }
}

#[derive(Serialize)]
struct Client<'a> {
    workload: Cow<'a, str>,
    via: Option<Cow<'a, str>>,
    pods_steady: Option<i64>,
    pods_peak: Option<i64>,
    conn_pod: Option<i64>,
    steady: Option<i64>,
    peak: Option<i64>,
}

fn finding<'a>(d: &'a Diagnostic, db: &'a SourceDb) -> Finding<'a> {
    let at = position(db, d.primary.span);
    Finding {
        rule: redact(&d.rule),
        severity: d.severity.as_str(),
        message: redact(&d.message),
        path: redact(at.path),
        line: at.line,
        column: at.column,
        end_line: at.end_line,
        end_column: at.end_column,
        database: d.database.as_deref().map(redact),
        workload: d.workload.as_deref().map(redact),
        related: d.related.iter().map(|l| related(l, db)).collect(),
        suggestion: d.suggestion.as_ref().map(|s| match *s {
            Suggestion::PoolMax(n) => SuggestionJson {
                pool_max: Some(n),
                max_surge: None,
                processes: None,
            },
            Suggestion::MaxSurge(n) => SuggestionJson {
                pool_max: None,
                max_surge: Some(n),
                processes: None,
            },
            Suggestion::Processes(n) => SuggestionJson {
                pool_max: None,
                max_surge: None,
                processes: Some(n),
            },
        }),
        notes: d.notes.iter().map(|n| redact(n)).collect(),
        help: d.help.as_deref().map(redact),
        new: None,
    }
}

fn related<'a>(label: &'a Label, db: &'a SourceDb) -> Related<'a> {
    let at = position(db, label.span);
    Related {
        path: redact(at.path),
        line: at.line,
        column: at.column,
        message: redact(&label.message),
    }
}

fn database(d: &DatabaseReport) -> Database<'_> {
    Database {
        id: redact(&d.id),
        engine: redact(&d.engine),
        max_connections: d.max_connections,
        reserved: d.reserved,
        headroom: d.headroom,
        capacity: d.capacity,
        steady: d.steady,
        rollout: d.rollout,
        all_rollouts: d.all_rollouts,
        status: d.status.as_str(),
        clients: d.clients.iter().map(client).collect(),
        base: None,
    }
}

fn client(c: &ClientReport) -> Client<'_> {
    Client {
        workload: redact(&c.workload),
        via: c.via.as_deref().map(redact),
        pods_steady: c.pods_steady,
        pods_peak: c.pods_peak,
        conn_pod: c.conn_pod,
        steady: c.steady,
        peak: c.peak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_fixture::fixture;
    use serde_json::{Value, json};

    fn parsed() -> Value {
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        assert!(out.ends_with("}\n"), "trailing newline");
        serde_json::from_str(&out).expect("valid JSON")
    }

    #[test]
    fn top_level_keys_in_contract_order() {
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        let order = [
            "\"version\"",
            "\"tool\"",
            "\"summary\"",
            "\"findings\"",
            "\"suppressed_findings\"",
            "\"databases\"",
        ];
        let positions: Vec<usize> = order.iter().map(|k| out.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        // 2-space indent.
        assert!(out.starts_with("{\n  \"version\": 1,\n  \"tool\": {\n    \"name\""));
    }

    #[test]
    fn header_and_summary() {
        let v = parsed();
        assert_eq!(v["version"], json!(1));
        assert_eq!(
            v["tool"],
            json!({"name": "poolguard", "version": env!("CARGO_PKG_VERSION")})
        );
        assert_eq!(
            v["summary"],
            json!({"files": 3, "errors": 1, "warnings": 1, "suppressed": 1})
        );
    }

    #[test]
    fn finding_fields_and_positions() {
        let v = parsed();
        let f = &v["findings"][0];
        assert_eq!(
            *f,
            json!({
                "rule": "rollout-capacity-exceeded",
                "severity": "error",
                "message": "rollout of prod/Deployment/auth needs 236 connections; prod/auth-db accepts 197",
                "path": "deploy/auth.yaml",
                "line": 6,
                "column": 29,
                "end_line": 6,
                "end_column": 31,
                "database": "prod/auth-db",
                "workload": "prod/Deployment/auth",
                "related": [
                    {"path": "deploy/auth.yaml", "line": 3, "column": 13, "message": "replicas: 6"},
                    {"path": "deploy/auth.yaml", "line": 5, "column": 13, "message": "maxSurge: 50% → 3 pods"},
                    {"path": "deploy/db.yaml", "line": 3, "column": 20, "message": "max_connections: 200"},
                    {"path": "deploy/db.yaml", "line": 1, "column": 1, "message": "database defined here"}
                ],
                "suggestion": {"pool_max": 15},
                "notes": [
                    "peak = 9 pods × 20 = 180",
                    "superuser_reserved_connections: 3 (PostgreSQL default)"
                ],
                "help": "set the pool size to 15 or less"
            })
        );
        // Key order within a finding follows the contract.
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        let keys = [
            "\"rule\"",
            "\"severity\"",
            "\"message\"",
            "\"path\"",
            "\"line\"",
            "\"column\"",
            "\"end_line\"",
            "\"end_column\"",
            "\"database\"",
            "\"workload\"",
            "\"related\"",
            "\"suggestion\"",
            "\"notes\"",
            "\"help\"",
        ];
        let positions: Vec<usize> = keys.iter().map(|k| out.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }

    #[test]
    fn secrets_are_masked() {
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(!out.contains("s3cr3t"), "{out}");
        let w = &parsed()["findings"][1];
        assert_eq!(
            w["message"],
            json!("endpoint postgres://app:****@orders-db/app matches no known database")
        );
        assert_eq!(w["related"][0]["message"], json!("password=****"));
    }

    #[test]
    fn nulls_and_other_suggestions() {
        let v = parsed();
        let w = &v["findings"][1];
        assert_eq!(w["database"], Value::Null);
        assert_eq!(w["suggestion"], json!({"max_surge": 1}));
        assert_eq!(w["help"], Value::Null);
        assert_eq!(w["notes"], json!([]));
        assert_eq!(w["line"], json!(4));
        // After the 7-character password: columns are the file's, not the masked text's.
        assert_eq!(w["column"], json!(31));
        assert_eq!(w["end_column"], json!(40));
        let s = &v["suppressed_findings"][0];
        assert_eq!(s["rule"], json!("superuser-connection"));
        assert_eq!(s["suggestion"], Value::Null);
        assert_eq!(s["line"], json!(1));
        assert_eq!(s["column"], json!(1));
        assert_eq!(s["end_column"], json!(1));
    }

    #[test]
    fn databases_and_clients() {
        let v = parsed();
        assert_eq!(
            v["databases"],
            json!([
                {
                    "id": "prod/auth-db", "engine": "postgres", "max_connections": 200,
                    "reserved": 3, "headroom": 0, "capacity": 197,
                    "steady": 176, "rollout": 236, "all_rollouts": 254, "status": "error",
                    "clients": [
                        {"workload": "prod/Deployment/auth", "via": null, "pods_steady": 6,
                         "pods_peak": 9, "conn_pod": 20, "steady": 120, "peak": 180},
                        {"workload": "prod/Deployment/worker", "via": "prod/pgbouncer",
                         "pods_steady": null, "pods_peak": null, "conn_pod": 8,
                         "steady": null, "peak": null}
                    ]
                },
                {
                    "id": "prod/orders-db", "engine": "mysql", "max_connections": 151,
                    "reserved": 0, "headroom": 10, "capacity": 141,
                    "steady": null, "rollout": null, "all_rollouts": null, "status": "warning",
                    "clients": []
                }
            ])
        );
        let (db, report) = fixture();
        let out = render(&report, &db, false);
        let keys = [
            "\"id\"",
            "\"engine\"",
            "\"max_connections\"",
            "\"reserved\"",
            "\"headroom\"",
            "\"capacity\"",
            "\"steady\"",
            "\"rollout\"",
            "\"all_rollouts\"",
            "\"status\"",
            "\"clients\"",
        ];
        let dbs = out.find("\"databases\"").unwrap();
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| dbs + out[dbs..].find(k).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }

    #[test]
    fn empty_report() {
        let db = SourceDb::default();
        let out = render(&Report::default(), &db, false);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["findings"], json!([]));
        assert_eq!(v["suppressed_findings"], json!([]));
        assert_eq!(v["databases"], json!([]));
        assert_eq!(
            v["summary"],
            json!({"files": 0, "errors": 0, "warnings": 0, "suppressed": 0})
        );
    }
}
