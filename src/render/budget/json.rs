//! `poolguard report --format json`: the budget as a stable JSON document (documented in the
//! README, section "Budget report").
//!
//! Per database: the numbers of `check --format json`'s `databases` (same names, same order)
//! plus the headroom left and the utilization at each sum and the workload whose rollout makes
//! S1. Built from `#[derive(Serialize)]` structs so that the field order is the key order.

use std::borrow::Cow;

use serde::Serialize;

use super::{Options, View, utilization};
use crate::redact::redact;
use crate::render::json::BaseJson;
use crate::report::{ClientReport, Report};

/// Version of the document's shape; bumped only on incompatible changes.
const SCHEMA_VERSION: u32 = 1;

/// Renders the budget document, pretty-printed with a 2-space indent and a trailing newline.
pub fn render(report: &Report, options: &Options) -> String {
    let doc = Document {
        version: SCHEMA_VERSION,
        tool: Tool {
            name: "poolguard",
            version: env!("CARGO_PKG_VERSION"),
        },
        warn_utilization: options.warn_utilization,
        base: report.base.as_ref().map(|b| BaseInfo {
            git_ref: redact(&b.git_ref),
            commit: &b.commit,
            // Already masked and cleaned by `crate::diff`.
            changes: crate::diff::database_changes(report),
        }),
        databases: View::all(report)
            .iter()
            .map(|v| {
                let mut d = database(v);
                // `--base`: the figures at the base revision, `null` for a database new since.
                if let Some(base) = &report.base {
                    d.base = Some(base.database(&v.db.id).map(BaseJson::of));
                }
                d
            })
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&doc).expect("JSON document serializes");
    out.push('\n');
    out
}

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    tool: Tool,
    warn_utilization: f64,
    /// Only with `--base`.
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<BaseInfo<'a>>,
    databases: Vec<Database<'a>>,
}

#[derive(Serialize)]
struct BaseInfo<'a> {
    #[serde(rename = "ref")]
    git_ref: Cow<'a, str>,
    commit: &'a str,
    /// The lines `check` prints per changed database.
    changes: Vec<String>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
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
    headroom_steady: Option<i64>,
    headroom_rollout: Option<i64>,
    headroom_all_rollouts: Option<i64>,
    utilization_steady: Option<f64>,
    utilization_rollout: Option<f64>,
    utilization_all_rollouts: Option<f64>,
    rollout_workload: Option<Cow<'a, str>>,
    status: &'static str,
    clients: Vec<Client<'a>>,
    /// Only with `--base` (`null` inside: the database is new since the base).
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<Option<BaseJson>>,
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

fn database<'a>(v: &View<'a>) -> Database<'a> {
    let db = v.db;
    Database {
        id: redact(&db.id),
        engine: redact(&db.engine),
        max_connections: db.max_connections,
        reserved: db.reserved,
        headroom: db.headroom,
        capacity: db.capacity,
        steady: db.steady,
        rollout: db.rollout,
        all_rollouts: db.all_rollouts,
        headroom_steady: v.headroom_steady,
        headroom_rollout: v.headroom_rollout,
        headroom_all_rollouts: v.headroom_all_rollouts,
        utilization_steady: utilization(db.steady, db.capacity),
        utilization_rollout: utilization(db.rollout, db.capacity),
        utilization_all_rollouts: utilization(db.all_rollouts, db.capacity),
        rollout_workload: v.rollout_workload().map(redact),
        status: db.status.as_str(),
        clients: db.clients.iter().map(client).collect(),
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
    use super::super::test_fixture;
    use super::*;
    use serde_json::Value;

    #[test]
    fn document_shape_and_numbers() {
        let out = render(&test_fixture::report(), &Options::default());
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["warn_utilization"], 0.8);
        let db = &v["databases"][0];
        assert_eq!(db["headroom_steady"], 21);
        assert_eq!(db["headroom_rollout"], -39);
        assert_eq!(db["utilization_rollout"], 1.198);
        assert_eq!(db["rollout_workload"], "prod/Deployment/auth");
        let keys: Vec<&str> = db.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 18);
        let unknown = &v["databases"][1];
        assert_eq!(unknown["steady"], Value::Null);
        assert_eq!(unknown["utilization_rollout"], Value::Null);
        assert_eq!(unknown["clients"][1]["via"], "shop/Deployment/pgbouncer");
    }
}
