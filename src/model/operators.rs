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

/// Reads a `max_connections`-style parameter from a parameters map.
pub fn param(params: Option<&Node>, key: &str) -> Option<Fact> {
    let n = params?.get(key)?;
    n.as_i64().map(|v| Fact::at(v, n.span))
}

/// Finds CloudNativePG clusters.
pub fn discover(idx: &Index, model: &mut Model) -> Operators {
    let mut ops = Operators::default();
    for o in &idx.objects {
        if o.kind == "Cluster" && o.group() == "postgresql.cnpg.io" {
            cnpg_cluster(o, model, &mut ops);
        }
    }
    ops
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
        source: DatabaseSource::CnpgPrimary,
        services: vec![(ns.clone(), format!("{name}-rw"))],
        server_workload: None,
    };
    let mut replicas = base.clone();
    replicas.id = format!("{ns}/{name}-ro");
    replicas.source = DatabaseSource::CnpgReplicas;
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
    let known = |v: String| DataValue {
        text: Some(v),
        span,
        literal: None,
    };
    let mut data = Data {
        secret: true,
        span,
        ..Data::default()
    };
    let entries = [
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
    for (k, v) in entries {
        let value = match v {
            Some(v) => known(v),
            None => DataValue {
                text: None,
                span,
                literal: None,
            },
        };
        data.entries.push((k.to_string(), value));
    }
    data
}
