//! The values policies see: model entities and raw objects as JSON-like data, with the span
//! of every field a finding may point at.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::capacity::{self, Budget};
use crate::model::{Model, Strategy};
use crate::parse::{Node, Style};
use crate::report::Fact;
use crate::source::Span;
use crate::stacks::SettingKind;

/// Fields of `workload`.
pub const WORKLOAD_FIELDS: &[&str] = &[
    "id",
    "kind",
    "namespace",
    "name",
    "replicas",
    "max_replicas",
    "autoscaler",
    "pods_steady",
    "pods_peak",
    "strategy",
    "max_surge",
    "labels",
    "annotations",
    "databases",
    "object",
];

/// Fields of `database`.
pub const DATABASE_FIELDS: &[&str] = &[
    "id",
    "engine",
    "max_connections",
    "reserved",
    "headroom",
    "capacity",
    "steady",
    "rollout",
    "all_rollouts",
    "rollout_pct",
    "status",
    "clients",
];

/// Fields of `container`.
pub const CONTAINER_FIELDS: &[&str] = &[
    "name",
    "workload",
    "database",
    "stack",
    "init",
    "pool_max",
    "processes",
    "conn",
    "min_idle",
    "acquire_timeout_ms",
    "concurrency",
];

/// Plain YAML/JSON data as policies see it: plain scalars typed (int, bool, null), quoted
/// scalars as strings, the last of repeated keys.
pub fn node_value(n: &Node) -> Value {
    match &n.value {
        crate::parse::Value::Scalar(s) => {
            if s.style == Style::Quoted {
                return Value::String(s.text.to_string());
            }
            if s.is_null() {
                return Value::Null;
            }
            if let Some(b) = s.as_bool() {
                return Value::Bool(b);
            }
            if let Some(i) = s.as_i64() {
                return json!(i);
            }
            if let Ok(f) = s.text.trim().parse::<f64>()
                && f.is_finite()
            {
                return json!(f);
            }
            Value::String(s.text.to_string())
        }
        crate::parse::Value::Seq(items) => Value::Array(items.iter().map(node_value).collect()),
        crate::parse::Value::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                m.insert(k.as_str().unwrap_or("").to_string(), node_value(v));
            }
            Value::Object(m)
        }
    }
}

/// The node at a dotted path below `root` (`spec.template.spec.containers[0].image`),
/// with the longest existing prefix when the full path does not exist.
pub fn node_at<'a>(root: &'a Node, path: &[&str]) -> (&'a Node, bool) {
    let mut n = root;
    for seg in path {
        let (name, idx) = match seg.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (*seg, None),
        };
        let next = if name.is_empty() {
            Some(n)
        } else {
            n.get(name)
        };
        let next = match (next, idx) {
            (Some(x), Some(i)) => x.as_seq().and_then(|s| s.get(i)),
            (x, None) => x,
            (None, _) => None,
        };
        match next {
            Some(x) => n = x,
            None => return (n, false),
        }
    }
    (n, true)
}

/// An instance's variables (`workload`, `database`, `item`, …) as JSON.
pub type Vars = std::sync::Arc<[(&'static str, Value)]>;

/// An instance of a target: variables, the spans of entity fields, and the nodes that
/// `object.…` / `config.…` paths resolve in.
pub struct Instance<'a> {
    /// Variables by name; shared, because every policy on the entity gets the same ones.
    pub vars: Vars,
    /// `database.max_connections` → span, and so on.
    pub spans: Vec<(String, Span)>,
    /// Roots for node paths (`object`, `config`, `workload.object`).
    pub nodes: Vec<(&'static str, &'a Node)>,
    /// Where to point when nothing more precise is known.
    pub default_span: Span,
    /// Workload id, for the finding.
    pub workload: Option<String>,
    /// Database id, for the finding.
    pub database: Option<String>,
}

fn fact_span(spans: &mut Vec<(String, Span)>, key: &str, f: &Fact) {
    if let Some(s) = f.span() {
        spans.push((key.to_string(), s));
    }
}

fn strategy_name(s: &Strategy) -> &'static str {
    match s {
        Strategy::Rolling { .. } => "RollingUpdate",
        Strategy::NoSurge { .. } => "NoSurge",
        Strategy::BlueGreen { .. } => "BlueGreen",
        Strategy::FullCanary { .. } => "Canary",
    }
}

/// `workload` values for every workload.
pub fn workloads<'a>(
    model: &Model,
    objects: &'a [crate::model::objects::Object<'a>],
) -> Vec<Instance<'a>> {
    let by_id = objects_by_id(objects);
    let dbs = databases_by_workload(model);
    let mut out = Vec::new();
    for (wi, w) in model.workloads.iter().enumerate() {
        let obj = by_id.get(w.id.as_str()).copied();
        let (v, spans) = workload_value(model, wi, obj.map(|o| o.node), &dbs[wi]);
        let mut nodes = Vec::new();
        if let Some(o) = obj {
            nodes.push(("workload.object", o.node));
        }
        out.push(Instance {
            vars: Vars::from([("workload", v)]),
            spans,
            nodes,
            default_span: w.span,
            workload: Some(w.id.clone()),
            database: None,
        });
    }
    out
}

/// Objects by id, the first of each id (as a search in input order finds it). Built once per
/// entity list: searching the objects for every workload was quadratic (2.4 s of a
/// 2,000-service run with the policy pack).
fn objects_by_id<'a, 'o>(
    objects: &'o [crate::model::objects::Object<'a>],
) -> HashMap<String, &'o crate::model::objects::Object<'a>> {
    let mut by_id = HashMap::with_capacity(objects.len());
    for o in objects {
        by_id.entry(o.id()).or_insert(o);
    }
    by_id
}

/// The ids of the databases each workload reaches, by workload index.
fn databases_by_workload(model: &Model) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new(); model.workloads.len()];
    for c in &model.clients {
        out[c.workload].push(model.databases[c.database].id.clone());
    }
    out
}

fn workload_value(
    model: &Model,
    wi: usize,
    object: Option<&Node>,
    databases: &[String],
) -> (Value, Vec<(String, Span)>) {
    let w = &model.workloads[wi];
    let mut spans = Vec::new();
    fact_span(&mut spans, "workload.replicas", &w.replicas);
    match &w.autoscaler {
        Some(a) => fact_span(&mut spans, "workload.max_replicas", &a.max),
        None => fact_span(&mut spans, "workload.max_replicas", &w.replicas),
    }
    let (surge, surge_text) = match &w.strategy {
        Strategy::Rolling { surge } => {
            fact_span(&mut spans, "workload.max_surge", &surge.value);
            fact_span(&mut spans, "workload.pods_peak", &surge.value);
            let r = capacity::replicas(w);
            (
                Some(capacity::surge_pods(r, surge)),
                if surge.percent {
                    format!("{}%", surge.value.value)
                } else {
                    surge.value.value.to_string()
                },
            )
        }
        _ => (None, String::new()),
    };
    let _ = surge;
    let meta = |key: &str| {
        object
            .and_then(|o| {
                o.path(&["spec", "template", "metadata", key])
                    .or_else(|| o.path(&["metadata", key]))
            })
            .map(node_value)
            .unwrap_or_else(|| json!({}))
    };
    let v = json!({
        "id": w.id,
        "kind": w.kind,
        "namespace": w.namespace,
        "name": w.name,
        "replicas": w.replicas.value,
        "max_replicas": capacity::replicas(w),
        "autoscaler": w.autoscaler.as_ref().map(|a| json!({"kind": a.kind, "id": a.id, "max": a.max.value})),
        "pods_steady": capacity::pods_steady(w),
        "pods_peak": capacity::pods_peak(w),
        "strategy": strategy_name(&w.strategy),
        "max_surge": surge_text,
        "labels": meta("labels"),
        "annotations": meta("annotations"),
        "databases": databases,
        "object": object.map(node_value).unwrap_or(Value::Null),
    });
    (v, spans)
}

/// `database` values for every database budget.
pub fn databases<'a>(model: &Model, budgets: &[Budget]) -> Vec<Instance<'a>> {
    budgets
        .iter()
        .map(|b| database_instance(model, b))
        .collect()
}

fn database_value(model: &Model, b: &Budget) -> (Value, Vec<(String, Span)>) {
    let d = &model.databases[b.database];
    let mut spans = Vec::new();
    fact_span(&mut spans, "database.max_connections", &d.max_connections);
    fact_span(&mut spans, "database.reserved", &d.superuser_reserved);
    if let Some(h) = &d.headroom {
        fact_span(&mut spans, "database.headroom", h);
    }
    let clients: Vec<Value> = b
        .clients
        .iter()
        .map(|c| {
            json!({
                "workload": model.workloads[model.clients[c.client].workload].id,
                "pods_steady": c.pods_steady,
                "pods_peak": c.pods_peak,
                "conn_pod": c.conn_pod,
                "steady": c.steady(),
                "peak": c.peak(),
            })
        })
        .collect();
    let v = json!({
        "id": d.id,
        "engine": d.engine.as_str(),
        "max_connections": d.max_connections.value,
        "reserved": d.reserved(),
        "headroom": d.headroom.as_ref().map_or(0, |h| h.value),
        "capacity": b.capacity,
        "steady": b.steady.value(),
        "rollout": b.rollout.value(),
        "all_rollouts": b.all_rollouts.value(),
        "rollout_pct": b.rollout.value().map(|r| capacity::percent(r, b.capacity)),
        "status": b.status.as_str(),
        "clients": clients,
    });
    (v, spans)
}

fn database_instance<'a>(model: &Model, b: &Budget) -> Instance<'a> {
    let d = &model.databases[b.database];
    let (v, spans) = database_value(model, b);
    Instance {
        vars: Vars::from([("database", v)]),
        spans,
        nodes: Vec::new(),
        default_span: d.span,
        workload: None,
        database: Some(d.id.clone()),
    }
}

/// `container` values: one per container demand on a database.
pub fn containers<'a>(
    model: &Model,
    budgets: &[Budget],
    objects: &'a [crate::model::objects::Object<'a>],
) -> Vec<Instance<'a>> {
    let by_id = objects_by_id(objects);
    let dbs = databases_by_workload(model);
    // A workload reaching several databases is one value, built once.
    let mut workload_values: HashMap<usize, (Value, Vec<(String, Span)>)> = HashMap::new();
    let mut out = Vec::new();
    for b in budgets {
        let (dv, dspans) = database_value(model, b);
        for n in &b.clients {
            let c = &model.clients[n.client];
            let w = &model.workloads[c.workload];
            let obj = by_id.get(w.id.as_str()).copied();
            let (wv, wspans) = workload_values.entry(c.workload).or_insert_with(|| {
                workload_value(model, c.workload, obj.map(|o| o.node), &dbs[c.workload])
            });
            let mut spans = wspans.clone();
            spans.extend(dspans.iter().cloned());
            for k in &c.containers {
                let mut spans = spans.clone();
                if let Some(p) = &k.pool_max {
                    fact_span(&mut spans, "container.pool_max", p);
                    fact_span(&mut spans, "container.conn", p);
                }
                fact_span(&mut spans, "container.processes", &k.processes);
                let setting = |kind: SettingKind| k.settings.iter().find(|s| s.kind == kind);
                let mut cv = json!({
                    "name": k.container,
                    "workload": w.id,
                    "database": model.databases[b.database].id,
                    "stack": k.stack,
                    "init": k.init,
                    "pool_max": k.pool_max.as_ref().map(|p| p.value),
                    "processes": k.processes.value,
                    "conn": capacity::container_conns(k),
                    "min_idle": Value::Null,
                    "acquire_timeout_ms": Value::Null,
                    "concurrency": Value::Null,
                });
                for (kind, key) in [
                    (SettingKind::MinIdle, "min_idle"),
                    (SettingKind::AcquireTimeoutMs, "acquire_timeout_ms"),
                    (SettingKind::Concurrency, "concurrency"),
                ] {
                    if let Some(s) = setting(kind) {
                        cv[key] = json!(s.value.value);
                        fact_span(&mut spans, &format!("container.{key}"), &s.value);
                    }
                }
                let mut nodes = Vec::new();
                if let Some(o) = obj {
                    nodes.push(("workload.object", o.node));
                }
                out.push(Instance {
                    vars: Vars::from([
                        ("container", cv),
                        ("workload", wv.clone()),
                        ("database", dv.clone()),
                    ]),
                    spans,
                    nodes,
                    default_span: k.endpoint,
                    workload: Some(w.id.clone()),
                    database: Some(model.databases[b.database].id.clone()),
                });
            }
        }
    }
    out
}

/// Fields of `pooler`.
pub const POOLER_FIELDS: &[&str] = &[
    "id",
    "kind",
    "database",
    "default_pool_size",
    "reserve_pool_size",
    "max_client_conn",
    "max_db_connections",
    "pods_steady",
    "pods_peak",
    "server_conn_pod",
    "client_limit",
    "clients",
    "client_steady",
    "client_rollout",
];

/// `pooler` values for every pooler.
pub fn poolers<'a>(model: &Model) -> Vec<Instance<'a>> {
    let mut out = Vec::new();
    for (pi, p) in model.poolers.iter().enumerate() {
        let w = &model.workloads[p.workload];
        let mut spans = Vec::new();
        fact_span(&mut spans, "pooler.default_pool_size", &p.default_pool_size);
        fact_span(&mut spans, "pooler.reserve_pool_size", &p.reserve_pool_size);
        fact_span(&mut spans, "pooler.max_client_conn", &p.max_client_conn);
        fact_span(&mut spans, "pooler.client_limit", &p.max_client_conn);
        if let Some(m) = &p.max_db_connections {
            fact_span(&mut spans, "pooler.max_db_connections", m);
        }
        fact_span(&mut spans, "pooler.pods_steady", &w.replicas);
        let numbers: Vec<capacity::ClientNumbers> = model
            .pooler_clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.database == pi)
            .map(|(i, c)| {
                let cw = &model.workloads[c.workload];
                capacity::ClientNumbers {
                    client: i,
                    pods_steady: capacity::pods_steady(cw),
                    pods_peak: capacity::pods_peak(cw),
                    conn_pod: capacity::conn_pod(c),
                    counted: true,
                }
            })
            .collect();
        let (s0, s1, _) = capacity::sums(&numbers);
        let server = model
            .clients
            .iter()
            .find(|c| c.workload == p.workload && c.via.is_none())
            .and_then(capacity::conn_pod);
        let clients: Vec<String> = numbers
            .iter()
            .map(|n| {
                model.workloads[model.pooler_clients[n.client].workload]
                    .id
                    .clone()
            })
            .collect();
        let pods = capacity::pods_steady(w);
        let v = json!({
            "id": p.id,
            "kind": p.kind,
            "database": p.database.map(|d| model.databases[d].id.clone()),
            "default_pool_size": p.default_pool_size.value,
            "reserve_pool_size": p.reserve_pool_size.value,
            "max_client_conn": p.max_client_conn.value,
            "max_db_connections": p.max_db_connections.as_ref().map(|m| m.value),
            "pods_steady": pods,
            "pods_peak": capacity::pods_peak(w),
            "server_conn_pod": server,
            "client_limit": pods.map(|n| n * p.max_client_conn.value),
            "clients": clients,
            "client_steady": s0.value(),
            "client_rollout": s1.value(),
        });
        out.push(Instance {
            vars: Vars::from([("pooler", v)]),
            spans,
            nodes: Vec::new(),
            default_span: p.span,
            workload: Some(p.id.clone()),
            database: p.database.map(|d| model.databases[d].id.clone()),
        });
    }
    out
}
