//! Databases declared in config and database servers running as workloads.

use super::mounts;
use super::objects::{Index, selects, string_map};
use super::workload::Source;
use super::{Database, DatabaseSource, Model};
use crate::config::{Config, Engine};
use crate::diag::Diagnostic;
use crate::parse::{Format, Node};
use crate::report::Fact;
use crate::source::SourceDb;

/// Adds the databases declared in `poolguard.yaml`.
pub fn declared(config: &Config, model: &mut Model) {
    for d in &config.databases {
        let max_connections = d
            .max_connections
            .clone()
            .unwrap_or_else(|| engine_max(d.engine));
        let superuser_reserved = d
            .reserved
            .clone()
            .unwrap_or_else(|| engine_reserved(d.engine));
        model.databases.push(Database {
            id: d.name.clone(),
            engine: d.engine,
            span: d.span,
            max_connections,
            superuser_reserved,
            reserved_connections: None,
            headroom: d.headroom.clone(),
            source: DatabaseSource::Declared,
            services: Vec::new(),
            server_workload: None,
        });
    }
}

fn engine_max(engine: Engine) -> Fact {
    match engine {
        Engine::Postgres => Fact::default(100, "PostgreSQL max_connections default"),
        Engine::Mysql => Fact::default(151, "MySQL max_connections default"),
    }
}

fn engine_reserved(engine: Engine) -> Fact {
    match engine {
        Engine::Postgres => Fact::default(3, "PostgreSQL superuser_reserved_connections default"),
        Engine::Mysql => Fact::default(0, "MySQL reserves its admin slot beyond max_connections"),
    }
}

/// Image names (last path segment, without tag) of database servers.
const SERVER_IMAGES: &[(&str, Engine)] = &[
    ("postgres", Engine::Postgres),
    ("postgresql", Engine::Postgres),
    ("postgis", Engine::Postgres),
    ("timescaledb", Engine::Postgres),
    ("timescaledb-ha", Engine::Postgres),
    ("postgresql-repmgr", Engine::Postgres),
    ("spilo", Engine::Postgres),
    ("mysql", Engine::Mysql),
    ("mysql-server", Engine::Mysql),
    ("mariadb", Engine::Mysql),
    ("percona-server", Engine::Mysql),
    ("percona", Engine::Mysql),
    ("percona-xtradb-cluster", Engine::Mysql),
];

/// The engine a container serves, if it is a database server: by image, or by the official
/// images' env conventions together with the engine's port (custom images built on them).
pub fn server_engine(container: &Node, ns: &str, idx: &Index) -> Option<Engine> {
    let image = container.get("image").and_then(Node::as_str).unwrap_or("");
    let last = image.rsplit('/').next().unwrap_or(image);
    let last = last.split('@').next().unwrap_or(last);
    let repo = last.split(':').next().unwrap_or(last).to_ascii_lowercase();
    if let Some((_, e)) = SERVER_IMAGES
        .iter()
        .find(|(n, _)| *n == repo || (*n == "spilo" && repo.starts_with("spilo-")))
    {
        return Some(*e);
    }
    let mut env_names: Vec<&str> = container
        .get("env")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| e.get("name").and_then(Node::as_str))
        .collect();
    // Custom images usually take POSTGRES_* from a ConfigMap through envFrom.
    for src in container
        .get("envFrom")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        let (r, secret) = match (src.get("configMapRef"), src.get("secretRef")) {
            (Some(r), _) => (r, false),
            (None, Some(r)) => (r, true),
            _ => continue,
        };
        let name = r.get("name").and_then(Node::as_str).unwrap_or("");
        if let Some(data) = idx.data(ns, name, secret) {
            env_names.extend(data.entries.iter().map(|(k, _)| k.as_str()));
        }
    }
    let ports: Vec<i64> = container
        .get("ports")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|p| p.get("containerPort").and_then(Node::as_i64))
        .collect();
    let has = |prefixes: &[&str]| {
        env_names.iter().any(|n| {
            prefixes.iter().any(|p| n.starts_with(p))
                && !n.ends_with("_HOST")
                && !n.ends_with("_URL")
        })
    };
    if ports.contains(&5432)
        && (has(&["POSTGRES_", "POSTGRESQL_"]) || env_names.contains(&"PGDATA"))
    {
        return Some(Engine::Postgres);
    }
    if ports.contains(&3306) && has(&["MYSQL_", "MARIADB_"]) {
        return Some(Engine::Mysql);
    }
    None
}

/// Finds database servers among the workloads.
pub fn servers(idx: &Index, workloads: &[Source], db: &SourceDb, model: &mut Model) {
    for w in workloads {
        // A Job running a database image is a client (a migration, a restore), not a server.
        if matches!(w.object.kind, "Job" | "CronJob") {
            continue;
        }
        let containers = w
            .pod_spec
            .get("containers")
            .and_then(Node::as_seq)
            .unwrap_or(&[]);
        let Some((container, engine)) = containers
            .iter()
            .find_map(|c| server_engine(c, w.object.namespace, idx).map(|e| (c, e)))
        else {
            continue;
        };
        let o = w.object;
        let ns = o.namespace;
        let mut services = Vec::new();
        let labels = w.labels();
        for s in idx.services_in(ns) {
            if s.group().is_empty() {
                let selector = string_map(s.node.path(&["spec", "selector"]));
                if selects(&selector, &labels) {
                    services.push((ns.to_string(), s.name.to_string()));
                }
            }
        }
        let has_service = |name: &str| idx.services_in(ns).any(|s| s.name == name);
        if let Some(sn) = o.node.path(&["spec", "serviceName"]).and_then(Node::as_str)
            && !services.iter().any(|(_, n)| n == sn)
            && !has_service(sn)
        {
            services.push((ns.to_string(), sn.to_string()));
        }
        if services.is_empty() && !has_service(o.name) {
            // No Service in the repository: clients can only reach it by a name that is
            // created elsewhere; the workload's own name is the usual one.
            services.push((ns.to_string(), o.name.to_string()));
        }
        let settings = server_settings(container, w, idx, engine, db, &mut model.diagnostics);
        model.databases.push(Database {
            id: format!("{ns}/{}", o.name),
            engine,
            span: o.name_span,
            max_connections: settings.0,
            superuser_reserved: settings.1,
            reserved_connections: settings.2,
            headroom: None,
            source: DatabaseSource::ServerWorkload,
            services,
            server_workload: Some(w.index),
        });
    }
}

type Settings = (Fact, Fact, Option<Fact>);

/// `max_connections`, superuser-reserved and reserved slots of a server container, from its
/// args (`-c max_connections=N`, `--max-connections=N`), env (`POSTGRESQL_MAX_CONNECTIONS`)
/// or a mounted `postgresql.conf` / `my.cnf`. Later sources in that list lose to earlier ones,
/// as a command-line flag overrides the config file.
fn server_settings(
    container: &Node,
    w: &Source,
    idx: &Index,
    engine: Engine,
    db: &SourceDb,
    diags: &mut Vec<Diagnostic>,
) -> Settings {
    let mut max = None;
    let mut su = None;
    let mut rc = None;
    let mut args: Vec<&Node> = Vec::new();
    for key in ["command", "args"] {
        args.extend(container.get(key).and_then(Node::as_seq).unwrap_or(&[]));
    }
    let mut take_setting = |text: &str, node: &Node| {
        let text = text.trim_start_matches('-');
        let (k, v) = text.split_once('=')?;
        let k = k.trim().replace('-', "_");
        let v = crate::parse::parse_int(v.trim())?;
        let fact = Fact::at(v, node.span);
        match k.as_str() {
            "max_connections" if max.is_none() => max = Some(fact),
            "superuser_reserved_connections" if su.is_none() => su = Some(fact),
            "reserved_connections" if rc.is_none() => rc = Some(fact),
            _ => {}
        }
        Some(())
    };
    for a in &args {
        let Some(t) = a.as_str() else { continue };
        // A shell command line (`sh -c "postgres -c max_connections=300"`) holds several;
        // `take_setting` keeps only the settings it knows, whatever the dashes.
        for word in t.split_whitespace() {
            let word = word
                .strip_prefix("-c")
                .filter(|r| !r.is_empty())
                .unwrap_or(word);
            take_setting(word, a);
        }
    }
    for e in container.get("env").and_then(Node::as_seq).unwrap_or(&[]) {
        let name = e.get("name").and_then(Node::as_str).unwrap_or("");
        if matches!(
            name,
            "POSTGRESQL_MAX_CONNECTIONS" | "POSTGRES_MAX_CONNECTIONS" | "MYSQL_MAX_CONNECTIONS"
        ) && max.is_none()
            && let Some(v) = e.get("value")
            && let Some(n) = v.as_i64()
        {
            max = Some(Fact::at(n, v.span));
        }
    }
    if max.is_none() || su.is_none() {
        let files = mounts::mounted(container, w.pod_spec, w.object.namespace, idx, db, diags);
        for f in files.iter().filter(|f| f.format == Format::Ini) {
            for doc in f.docs.iter() {
                let look = |key: &str, slot: &mut Option<Fact>| {
                    if slot.is_some() {
                        return;
                    }
                    let node = doc
                        .get(key)
                        .or_else(|| doc.path(&["mysqld", key]))
                        .or_else(|| doc.path(&["mysqld", &key.replace('_', "-")]));
                    if let Some(n) = node
                        && let Some(v) = n.as_i64()
                    {
                        *slot = Some(Fact::at(v, n.span));
                    }
                };
                look("max_connections", &mut max);
                look("superuser_reserved_connections", &mut su);
                look("reserved_connections", &mut rc);
            }
        }
    }
    let max = max.unwrap_or_else(|| engine_max(engine));
    let su = match engine {
        Engine::Postgres => su.unwrap_or_else(|| engine_reserved(engine)),
        Engine::Mysql => engine_reserved(engine),
    };
    (max, su, rc.filter(|_| engine == Engine::Postgres))
}
