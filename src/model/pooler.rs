//! Connection poolers: PgBouncer Deployments (pgbouncer.ini or env-configured images),
//! CloudNativePG `Pooler`s, Zalando's connection pooler and Crunchy PGO's PgBouncer.
//!
//! A pooler is a client of its database with its own server-side pool (SPEC §4):
//! `conn_pod = Σ over its (database, user) pools of (pool_size + reserve_pool_size)`, capped by
//! `max_db_connections` when > 0, times its own pods. Workloads that reach the database only
//! through the pooler count against the pooler's `max_client_conn × pods`, not the database.

use super::mounts;
use super::objects::{Index, Object, selects, string_map};
use super::workload::Source;
use super::{Client, Model, Pooler, Strategy, Surge, Workload};
use crate::config::Config;
use crate::parse::{Format, Node};
use crate::report::Fact;
use crate::source::{SourceDb, Span};

/// PgBouncer's documented defaults (pgbouncer `doc/config.md`, research/domain.md §4.1).
const DEFAULT_POOL_SIZE: i64 = 20;
const MAX_CLIENT_CONN: i64 = 100;

/// Settings read from pgbouncer.ini, env or an operator CR; `None` means PgBouncer's default.
#[derive(Default)]
struct Settings {
    default_pool_size: Option<Fact>,
    reserve_pool_size: Option<Fact>,
    max_client_conn: Option<Fact>,
    max_db_connections: Option<Fact>,
    /// Upstream hosts (from `[databases]` or env), with where they are written.
    hosts: Vec<(String, Span)>,
    /// Total server connections for the whole pooler (Zalando's maxDBConnections).
    total: Option<Fact>,
}

fn int_at(n: Option<&Node>) -> Option<Fact> {
    n.and_then(|n| n.as_i64().map(|v| Fact::at(v, n.span)))
}

/// Whether a container image is PgBouncer itself (not an exporter of it).
fn is_pgbouncer_image(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    let repo = last
        .split([':', '@'])
        .next()
        .unwrap_or(last)
        .to_ascii_lowercase();
    repo.contains("pgbouncer") && !repo.contains("exporter")
}

/// Finds poolers: adds them to `model.poolers` (with a workload each) and returns the indexes
/// of workloads that are poolers, so linking does not treat them as applications.
pub fn discover(
    idx: &Index,
    workloads: &[Source],
    db: &SourceDb,
    config: &Config,
    model: &mut Model,
) -> Vec<usize> {
    let mut pooler_workloads = Vec::new();
    for w in workloads {
        let containers = w
            .pod_spec
            .get("containers")
            .and_then(Node::as_seq)
            .unwrap_or(&[]);
        let Some(c) = containers.iter().find(|c| {
            c.get("image")
                .and_then(Node::as_str)
                .is_some_and(is_pgbouncer_image)
        }) else {
            continue;
        };
        let mut s = Settings::default();
        let files = mounts::mounted(
            c,
            w.pod_spec,
            w.object.namespace,
            idx,
            db,
            &mut model.diagnostics,
        );
        for f in files
            .iter()
            .filter(|f| f.format == Format::Ini && f.name.ends_with(".ini"))
        {
            for doc in f.docs.iter() {
                read_ini(doc, &mut s);
            }
        }
        read_env(c, &mut s);
        let mut services = Vec::new();
        let labels = w.labels();
        for o in &idx.objects {
            if o.kind == "Service" && o.group().is_empty() && o.namespace == w.object.namespace {
                let sel = string_map(o.node.path(&["spec", "selector"]));
                if selects(&sel, &labels) {
                    services.push((o.namespace.to_string(), o.name.to_string()));
                }
            }
        }
        if services.is_empty() {
            services.push((w.object.namespace.to_string(), w.object.name.to_string()));
        }
        pooler_workloads.push(w.index);
        push(
            model,
            w.index,
            w.object.name_span,
            &model.workloads[w.index].id.clone(),
            services,
            s,
            "pgbouncer",
        );
    }
    for o in &idx.objects {
        match (o.kind, o.group()) {
            ("Pooler", "postgresql.cnpg.io") => cnpg_pooler(o, model),
            ("postgresql", "acid.zalan.do") => zalando_pooler(o, model),
            ("PostgresCluster", "postgres-operator.crunchydata.com") => crunchy_pooler(o, model),
            _ => {}
        }
    }
    let _ = config;
    pooler_workloads
}

fn push(
    model: &mut Model,
    workload: usize,
    span: Span,
    id: &str,
    services: Vec<(String, String)>,
    s: Settings,
    kind: &'static str,
) {
    model.poolers.push(Pooler {
        id: id.to_string(),
        kind,
        workload,
        database: None,
        services,
        span,
        upstream: s.hosts,
        default_pool_size: s.default_pool_size.unwrap_or_else(|| {
            Fact::default(DEFAULT_POOL_SIZE, "PgBouncer default_pool_size default")
        }),
        reserve_pool_size: s
            .reserve_pool_size
            .unwrap_or_else(|| Fact::default(0, "PgBouncer reserve_pool_size default")),
        max_client_conn: s
            .max_client_conn
            .unwrap_or_else(|| Fact::default(MAX_CLIENT_CONN, "PgBouncer max_client_conn default")),
        max_db_connections: s.max_db_connections,
        total: s.total,
        pairs: Vec::new(),
    });
}

/// A synthetic workload for an operator-managed pooler (its Deployment is not in the repo).
fn synthetic_workload(
    model: &mut Model,
    o: &Object,
    name: &str,
    kind: &str,
    replicas: Fact,
) -> usize {
    let i = model.workloads.len();
    model.workloads.push(Workload {
        id: format!("{}/{kind}/{name}", o.namespace),
        kind: kind.to_string(),
        namespace: o.namespace.to_string(),
        name: name.to_string(),
        span: o.name_span,
        replicas,
        autoscaler: None,
        strategy: Strategy::Rolling {
            surge: Surge {
                value: Fact::default(25, "the operator's Deployment maxSurge default 25%"),
                percent: true,
            },
        },
        unbounded: None,
        cron_overlap: None,
    });
    i
}

/// PgBouncer settings from an operator CR's parameter map, with the upstream host.
fn params_settings(params: Option<&Node>, host: String, span: Span) -> Settings {
    let get = |k: &str| int_at(params.and_then(|p| p.get(k)));
    Settings {
        default_pool_size: get("default_pool_size"),
        reserve_pool_size: get("reserve_pool_size"),
        max_client_conn: get("max_client_conn"),
        max_db_connections: get("max_db_connections"),
        hosts: vec![(host, span)],
        total: None,
    }
}

/// Registers an operator-managed pooler: a synthetic workload plus the pooler.
fn push_operator(
    model: &mut Model,
    o: &Object,
    name: String,
    kind: &str,
    replicas: Fact,
    s: Settings,
    pooler: &'static str,
) {
    let w = synthetic_workload(model, o, &name, kind, replicas);
    let id = model.workloads[w].id.clone();
    push(
        model,
        w,
        o.name_span,
        &id,
        vec![(o.namespace.to_string(), name)],
        s,
        pooler,
    );
}

fn cnpg_pooler(o: &Object, model: &mut Model) {
    let spec = o.node.get("spec");
    let Some(cluster) = spec
        .and_then(|s| s.path(&["cluster", "name"]))
        .and_then(Node::as_str)
    else {
        return;
    };
    let ty = spec
        .and_then(|s| s.get("type"))
        .and_then(Node::as_str)
        .unwrap_or("rw");
    let replicas = int_at(spec.and_then(|s| s.get("instances")))
        .unwrap_or_else(|| Fact::default(1, "CNPG Pooler instances default"));
    let params = spec.and_then(|s| s.path(&["pgbouncer", "parameters"]));
    let host = if ty == "ro" {
        format!("{cluster}-ro")
    } else {
        format!("{cluster}-rw")
    };
    let s = params_settings(params, host, o.name_span);
    push_operator(
        model,
        o,
        o.name.to_string(),
        "Pooler",
        replicas,
        s,
        "cnpg-pooler",
    );
}

fn zalando_pooler(o: &Object, model: &mut Model) {
    let spec = o.node.get("spec");
    let enabled = spec
        .and_then(|s| s.get("enableConnectionPooler"))
        .and_then(Node::as_bool)
        == Some(true);
    if !enabled {
        return;
    }
    let cp = spec.and_then(|s| s.get("connectionPooler"));
    let replicas = int_at(cp.and_then(|c| c.get("numberOfInstances")))
        .unwrap_or_else(|| Fact::default(2, "Zalando connection pooler numberOfInstances default"));
    // maxDBConnections is the pooler's total, divided among its pods.
    let total = int_at(cp.and_then(|c| c.get("maxDBConnections")))
        .unwrap_or_else(|| Fact::default(60, "Zalando connection pooler maxDBConnections default"));
    let s = Settings {
        hosts: vec![(o.name.to_string(), o.name_span)],
        total: Some(total),
        ..Settings::default()
    };
    push_operator(
        model,
        o,
        format!("{}-pooler", o.name),
        "ConnectionPooler",
        replicas,
        s,
        "zalando-pooler",
    );
}

fn crunchy_pooler(o: &Object, model: &mut Model) {
    let Some(pgb) = o.node.path(&["spec", "proxy", "pgBouncer"]) else {
        return;
    };
    let replicas = int_at(pgb.get("replicas"))
        .unwrap_or_else(|| Fact::default(1, "PGO pgBouncer replicas default"));
    let global = pgb.path(&["config", "global"]);
    let s = params_settings(global, format!("{}-primary", o.name), o.name_span);
    push_operator(
        model,
        o,
        format!("{}-pgbouncer", o.name),
        "PgBouncer",
        replicas,
        s,
        "pgo-pgbouncer",
    );
}

/// `[pgbouncer]` settings and `[databases]` upstream hosts of a pgbouncer.ini.
fn read_ini(doc: &Node, s: &mut Settings) {
    if let Some(p) = doc.get("pgbouncer") {
        s.default_pool_size = s
            .default_pool_size
            .take()
            .or_else(|| int_at(p.get("default_pool_size")));
        s.reserve_pool_size = s
            .reserve_pool_size
            .take()
            .or_else(|| int_at(p.get("reserve_pool_size")));
        s.max_client_conn = s
            .max_client_conn
            .take()
            .or_else(|| int_at(p.get("max_client_conn")));
        s.max_db_connections = s
            .max_db_connections
            .take()
            .or_else(|| int_at(p.get("max_db_connections")));
    }
    for (_, v) in doc.get("databases").and_then(Node::as_map).unwrap_or(&[]) {
        if let Some(text) = v.as_str()
            && let Some(ep) = super::endpoint::parse(text)
            && let Some(h) = ep.hosts.first()
        {
            s.hosts.push((h.clone(), v.span));
        }
    }
}

/// Env-configured images: edoburu/pgbouncer (`DATABASE_URL`, `DB_HOST`, `DEFAULT_POOL_SIZE`, …)
/// and bitnami/pgbouncer (`POSTGRESQL_HOST`, `PGBOUNCER_DEFAULT_POOL_SIZE`, …).
fn read_env(c: &Node, s: &mut Settings) {
    for e in c.get("env").and_then(Node::as_seq).unwrap_or(&[]) {
        let name = e.get("name").and_then(Node::as_str).unwrap_or("");
        let Some(v) = e.get("value") else { continue };
        let key = name.strip_prefix("PGBOUNCER_").unwrap_or(name);
        let slot = match key {
            "DEFAULT_POOL_SIZE" => &mut s.default_pool_size,
            "RESERVE_POOL_SIZE" => &mut s.reserve_pool_size,
            "MAX_CLIENT_CONN" => &mut s.max_client_conn,
            "MAX_DB_CONNECTIONS" => &mut s.max_db_connections,
            "DATABASE_URL" | "DB_HOST" | "POSTGRESQL_HOST" => {
                if let Some(text) = v.as_str() {
                    let host = super::endpoint::parse(text)
                        .and_then(|ep| ep.hosts.first().cloned())
                        .unwrap_or_else(|| text.trim().to_ascii_lowercase());
                    if !host.is_empty() {
                        s.hosts.push((host, v.span));
                    }
                }
                continue;
            }
            _ => continue,
        };
        if slot.is_none() {
            *slot = int_at(Some(v));
        }
    }
}

/// After linking: each pooler becomes a client of its database with the server-side pool as
/// its connections per pod.
pub fn finish(model: &mut Model) {
    for p in 0..model.poolers.len() {
        let Some(d) = model.poolers[p].database else {
            continue;
        };
        let pooler = &model.poolers[p];
        let (fact, explain) = server_conns(pooler, &model.workloads[pooler.workload]);
        model.clients.push(Client {
            workload: pooler.workload,
            database: d,
            via: None,
            containers: Vec::new(),
            conn_pod_override: Some(fact),
            explain: Some(explain),
        });
    }
}

/// Server connections one pooler pod opens, and how that number was reached.
fn server_conns(p: &Pooler, w: &Workload) -> (Fact, String) {
    if let Some(total) = &p.total {
        let pods = crate::capacity::replicas(w).max(1);
        let per = (total.value + pods - 1) / pods;
        return (
            Fact {
                value: per,
                origin: total.origin.clone(),
            },
            format!(
                "{}: maxDBConnections {} shared by {pods} pods → {per} per pod",
                p.id, total.value
            ),
        );
    }
    let pairs = p.pairs.len().max(1) as i64;
    let per_pool = p.default_pool_size.value + p.reserve_pool_size.value;
    let mut conns = pairs * per_pool;
    let mut how = format!(
        "{}: {pairs} (database, user) pool{} × (default_pool_size {} + reserve_pool_size {}) = {conns}",
        p.id,
        if pairs == 1 { "" } else { "s" },
        p.default_pool_size.value,
        p.reserve_pool_size.value
    );
    if let Some(m) = p.max_db_connections.as_ref().filter(|m| m.value > 0) {
        let dbs = p
            .pairs
            .iter()
            .map(|(_, db)| db.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            .max(1) as i64;
        let cap = m.value * dbs;
        if cap < conns {
            how.push_str(&format!(
                ", capped by max_db_connections {} × {dbs} database(s) = {cap}",
                m.value
            ));
            conns = cap;
            return (
                Fact {
                    value: conns,
                    origin: m.origin.clone(),
                },
                how,
            );
        }
    }
    (
        Fact {
            value: conns,
            origin: p.default_pool_size.origin.clone(),
        },
        how,
    )
}
