//! Database operators: CloudNativePG `Cluster`s, their services and the Secrets they generate
//! at run time (so never in the repository).

use super::objects::{Data, DataValue, Index, Object};
use super::{Database, DatabaseSource, Model};
use crate::config::Engine;
use crate::parse::Node;
use crate::report::Fact;
use crate::source::Span;

/// A Secret an operator creates at run time, resolved by the operator's convention.
#[derive(Debug)]
pub struct GeneratedSecret {
    /// Namespace.
    pub namespace: String,
    /// Secret name.
    pub name: String,
    /// Keys the operator writes (password values are unknown).
    pub data: Data,
    /// Whether it holds superuser credentials.
    pub superuser: bool,
}

/// What operators contribute beyond databases.
#[derive(Debug, Default)]
pub struct Operators {
    /// Generated Secrets.
    pub secrets: Vec<GeneratedSecret>,
}

/// Secret data from (key, value) pairs; `None` values are unknown (passwords).
fn secret_data(entries: Vec<(&str, Option<String>)>, span: Span) -> Data {
    let mut data = Data {
        secret: true,
        span,
        ..Data::default()
    };
    for (k, text) in entries {
        data.entries.push((
            k.to_string(),
            DataValue {
                text,
                span,
                literal: None,
            },
        ));
    }
    data
}

/// Reads a `max_connections`-style parameter from a parameters map.
pub fn param(params: Option<&Node>, key: &str) -> Option<Fact> {
    let n = params?.get(key)?;
    n.as_i64().map(|v| Fact::at(v, n.span))
}

/// Finds CloudNativePG clusters.
pub fn discover(idx: &Index, model: &mut Model) -> Operators {
    let mut ops = Operators::default();
    for o in &idx.objects {
        match (o.kind, o.group()) {
            ("Cluster", "postgresql.cnpg.io") => cnpg_cluster(o, model, &mut ops),
            ("postgresql", "acid.zalan.do") => zalando(o, model, &mut ops),
            ("PostgresCluster", "postgres-operator.crunchydata.com") => crunchy(o, model, &mut ops),
            _ => {}
        }
    }
    ops
}

/// A primary and a replicas bucket for an operator cluster.
fn push_cluster(
    o: &Object,
    model: &mut Model,
    params: Option<&Node>,
    primary: Vec<String>,
    replica: Vec<String>,
    default_max: Fact,
) {
    let max_connections = param(params, "max_connections").unwrap_or(default_max);
    let superuser_reserved = param(params, "superuser_reserved_connections")
        .unwrap_or_else(|| Fact::default(3, "PostgreSQL superuser_reserved_connections default"));
    let ns = o.namespace.to_string();
    let base = Database {
        id: format!("{ns}/{}", o.name),
        engine: Engine::Postgres,
        span: o.name_span,
        max_connections,
        superuser_reserved,
        reserved_connections: param(params, "reserved_connections"),
        headroom: None,
        source: DatabaseSource::OperatorPrimary,
        services: primary.into_iter().map(|s| (ns.clone(), s)).collect(),
        server_workload: None,
    };
    let mut replicas = base.clone();
    replicas.id = format!("{ns}/{}-ro", o.name);
    replicas.source = DatabaseSource::OperatorReplicas;
    replicas.services = replica.into_iter().map(|s| (ns.clone(), s)).collect();
    model.databases.push(base);
    model.databases.push(replicas);
}

/// Zalando `postgresql`: service `<cluster>` (primary) and `<cluster>-repl` (replicas);
/// Secrets `<user>.<cluster>.credentials.postgresql.acid.zalan.do` hold only credentials.
fn zalando(o: &Object, model: &mut Model, ops: &mut Operators) {
    let params = o.node.path(&["spec", "postgresql", "parameters"]);
    push_cluster(
        o,
        model,
        params,
        vec![o.name.to_string()],
        vec![format!("{}-repl", o.name)],
        Fact::default(100, "Spilo/Patroni max_connections default"),
    );
    let users: Vec<&str> = crate::model::objects::string_map(o.node.path(&["spec", "users"]))
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    for user in users.into_iter().chain(["postgres"]) {
        let data = secret_data(
            vec![("username", Some(user.to_string())), ("password", None)],
            o.name_span,
        );
        ops.secrets.push(GeneratedSecret {
            namespace: o.namespace.to_string(),
            name: format!("{user}.{}.credentials.postgresql.acid.zalan.do", o.name),
            data,
            superuser: user == "postgres",
        });
    }
}

/// Crunchy PGO `PostgresCluster`: service `<cluster>-primary` (and `-replicas`); Secrets
/// `<cluster>-pguser-<user>` with host, port, dbname, user, uri, jdbc-uri (and the PgBouncer
/// host and uri when the proxy is enabled).
fn crunchy(o: &Object, model: &mut Model, ops: &mut Operators) {
    let params = o
        .node
        .path(&[
            "spec",
            "patroni",
            "dynamicConfiguration",
            "postgresql",
            "parameters",
        ])
        .or_else(|| o.node.path(&["spec", "config", "parameters"]));
    push_cluster(
        o,
        model,
        params,
        vec![format!("{}-primary", o.name)],
        vec![format!("{}-replicas", o.name)],
        Fact::default(100, "PostgreSQL max_connections default"),
    );
    let ns = o.namespace;
    let proxy = o.node.path(&["spec", "proxy", "pgBouncer"]).is_some();
    let mut users: Vec<(String, String)> = o
        .node
        .path(&["spec", "users"])
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|u| {
            let name = u.get("name")?.as_str()?.to_string();
            let db = u
                .get("databases")
                .and_then(Node::as_seq)
                .and_then(|d| d.first())
                .and_then(Node::as_str)
                .unwrap_or(&name)
                .to_string();
            Some((name, db))
        })
        .collect();
    if users.is_empty() {
        users.push((o.name.to_string(), o.name.to_string()));
    }
    for (user, db) in users {
        let host = format!("{}-primary.{ns}.svc", o.name);
        let mut entries = vec![
            ("user", Some(user.clone())),
            ("password", None),
            ("host", Some(host.clone())),
            ("port", Some("5432".to_string())),
            ("dbname", Some(db.clone())),
            (
                "uri",
                Some(format!("postgresql://{user}:****@{host}:5432/{db}")),
            ),
            (
                "jdbc-uri",
                Some(format!(
                    "jdbc:postgresql://{host}:5432/{db}?password=****&user={user}"
                )),
            ),
        ];
        if proxy {
            let pgb = format!("{}-pgbouncer.{ns}.svc", o.name);
            entries.push(("pgbouncer-host", Some(pgb.clone())));
            entries.push(("pgbouncer-port", Some("5432".to_string())));
            entries.push((
                "pgbouncer-uri",
                Some(format!("postgresql://{user}:****@{pgb}:5432/{db}")),
            ));
            entries.push((
                "pgbouncer-jdbc-uri",
                Some(format!(
                    "jdbc:postgresql://{pgb}:5432/{db}?password=****&prepareThreshold=0&user={user}"
                )),
            ));
        }
        let data = secret_data(entries, o.name_span);
        ops.secrets.push(GeneratedSecret {
            namespace: ns.to_string(),
            name: format!("{}-pguser-{user}", o.name),
            data,
            superuser: user == "postgres",
        });
    }
}

fn cnpg_cluster(o: &Object, model: &mut Model, ops: &mut Operators) {
    let spec = o.node.get("spec");
    let params = spec.and_then(|s| s.path(&["postgresql", "parameters"]));
    let max_connections = param(params, "max_connections")
        .unwrap_or_else(|| Fact::default(100, "PostgreSQL max_connections default"));
    let superuser_reserved = param(params, "superuser_reserved_connections")
        .unwrap_or_else(|| Fact::default(3, "PostgreSQL superuser_reserved_connections default"));
    let reserved_connections = param(params, "reserved_connections");
    let ns = o.namespace.to_string();
    let name = o.name;
    let instances = spec
        .and_then(|s| s.get("instances"))
        .and_then(Node::as_i64)
        .unwrap_or(1);
    let base = Database {
        id: format!("{ns}/{name}"),
        engine: Engine::Postgres,
        span: o.name_span,
        max_connections,
        superuser_reserved,
        reserved_connections,
        headroom: None,
        source: DatabaseSource::OperatorPrimary,
        services: vec![(ns.clone(), format!("{name}-rw"))],
        server_workload: None,
    };
    let mut replicas = base.clone();
    replicas.id = format!("{ns}/{name}-ro");
    replicas.source = DatabaseSource::OperatorReplicas;
    replicas.services = vec![(ns.clone(), format!("{name}-ro"))];
    // `-r` reaches any instance, the primary included; count it with the replicas when there
    // are replicas, else with the primary.
    let mut base = base;
    if instances > 1 {
        replicas.services.push((ns.clone(), format!("{name}-r")));
    } else {
        base.services.push((ns.clone(), format!("{name}-r")));
    }
    model.databases.push(base);
    model.databases.push(replicas);

    let initdb = spec.and_then(|s| s.path(&["bootstrap", "initdb"]));
    let dbname = initdb
        .and_then(|i| i.get("database"))
        .and_then(Node::as_str)
        .unwrap_or("app");
    let owner = initdb
        .and_then(|i| i.get("owner"))
        .and_then(Node::as_str)
        .unwrap_or(dbname);
    for (suffix, user, superuser) in [("app", owner, false), ("superuser", "postgres", true)] {
        ops.secrets.push(GeneratedSecret {
            namespace: ns.clone(),
            name: format!("{name}-{suffix}"),
            data: cnpg_secret_data(name, &ns, dbname, user, o.name_span),
            superuser,
        });
    }
}

fn cnpg_secret_data(cluster: &str, ns: &str, db: &str, user: &str, span: Span) -> Data {
    let host = format!("{cluster}-rw");
    let fqdn = format!("{host}.{ns}.svc.cluster.local");
    let entries = vec![
        ("username", Some(user.to_string())),
        ("user", Some(user.to_string())),
        ("password", None),
        ("host", Some(host.clone())),
        ("port", Some("5432".to_string())),
        ("dbname", Some(db.to_string())),
        (
            "uri",
            Some(format!("postgresql://{user}:****@{host}.{ns}:5432/{db}")),
        ),
        (
            "jdbc-uri",
            Some(format!(
                "jdbc:postgresql://{host}.{ns}:5432/{db}?password=****&user={user}"
            )),
        ),
        (
            "fqdn-uri",
            Some(format!("postgresql://{user}:****@{fqdn}:5432/{db}")),
        ),
        (
            "fqdn-jdbc-uri",
            Some(format!(
                "jdbc:postgresql://{fqdn}:5432/{db}?password=****&user={user}"
            )),
        ),
        ("pgpass", None),
    ];
    secret_data(entries, span)
}
