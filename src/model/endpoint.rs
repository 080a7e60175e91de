//! Database endpoints in configuration values: URLs, JDBC URLs, libpq key/value strings,
//! ADO.NET connection strings and split `*_HOST` variables.

/// Engine hinted by an endpoint's scheme or keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineHint {
    /// postgres, postgresql, jdbc:postgresql, libpq strings.
    Postgres,
    /// mysql, mariadb.
    Mysql,
    /// Not said.
    Unknown,
}

/// A parsed endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    /// Hosts, lower-case, without port (several for multi-host URLs).
    pub hosts: Vec<String>,
    /// Engine hint.
    pub engine: EngineHint,
    /// Login user, when written.
    pub user: Option<String>,
    /// Database name, when written.
    pub database: Option<String>,
    /// Query / key-value parameters (lower-case keys), for stacks that read pool settings
    /// from the URL (`pool_max_conns`, `connection_limit`, `Maximum Pool Size`).
    pub params: Vec<(String, String)>,
}

const SCHEMES: &[(&str, EngineHint)] = &[
    ("postgres", EngineHint::Postgres),
    ("postgresql", EngineHint::Postgres),
    ("pgsql", EngineHint::Postgres),
    ("postgis", EngineHint::Postgres),
    ("jdbc:postgresql", EngineHint::Postgres),
    ("jdbc:pgsql", EngineHint::Postgres),
    ("r2dbc:postgresql", EngineHint::Postgres),
    ("r2dbc:pool:postgresql", EngineHint::Postgres),
    ("postgresql+psycopg2", EngineHint::Postgres),
    ("postgresql+psycopg", EngineHint::Postgres),
    ("postgresql+asyncpg", EngineHint::Postgres),
    ("postgres+asyncpg", EngineHint::Postgres),
    ("ecto", EngineHint::Postgres),
    ("mysql", EngineHint::Mysql),
    ("mysql2", EngineHint::Mysql),
    ("mysqlx", EngineHint::Mysql),
    ("mariadb", EngineHint::Mysql),
    ("jdbc:mysql", EngineHint::Mysql),
    ("jdbc:mariadb", EngineHint::Mysql),
    ("r2dbc:mysql", EngineHint::Mysql),
    ("r2dbc:mariadb", EngineHint::Mysql),
    ("mysql+pymysql", EngineHint::Mysql),
    ("mysql+mysqldb", EngineHint::Mysql),
    ("mysql+aiomysql", EngineHint::Mysql),
];

/// Names of variables that hold just a database host.
pub fn is_host_var(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    const EXACT: &[&str] = &[
        "PGHOST",
        "DB_HOST",
        "DATABASE_HOST",
        "DB_HOSTNAME",
        "DB_SERVER",
    ];
    const SUFFIX: &[&str] = &[
        "_DB_HOST",
        "_DATABASE_HOST",
        "POSTGRES_HOST",
        "POSTGRESQL_HOST",
        "_PG_HOST",
        "PG_HOST",
        "MYSQL_HOST",
        "MARIADB_HOST",
        "_DB_HOSTNAME",
    ];
    EXACT.contains(&n.as_str()) || SUFFIX.iter().any(|s| n.ends_with(s))
}

/// Parses a value as a database endpoint, if it is one.
pub fn parse(value: &str) -> Option<Endpoint> {
    let v = value.trim();
    if v.is_empty() || v.len() > 4096 {
        return None;
    }
    if let Some(ep) = parse_url(v) {
        return Some(ep);
    }
    if v.contains('=') {
        if (v.contains(';') || starts_with_ci(v, "server="))
            && let Some(ep) = parse_adonet(v)
        {
            return Some(ep);
        }
        return parse_keyvalue(v);
    }
    None
}

fn starts_with_ci(s: &str, p: &str) -> bool {
    s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p))
}

fn parse_url(v: &str) -> Option<Endpoint> {
    let (scheme, rest) = v.split_once("://")?;
    let scheme_l = scheme.to_ascii_lowercase();
    let engine = SCHEMES
        .iter()
        .find(|(s, _)| *s == scheme_l)
        .map(|(_, e)| *e)?;
    // Authority ends at the first '/', '?' or '#'.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let after = &rest[end..];
    let (userinfo, hostlist) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let user = userinfo
        .map(|u| u.split(':').next().unwrap_or("").to_string())
        .filter(|u| !u.is_empty());
    let mut hosts: Vec<String> = hostlist
        .split(',')
        .map(strip_port)
        .filter(|h| !h.is_empty())
        .collect();
    let params = after
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q))
        .map(parse_query)
        .unwrap_or_default();
    // libpq allows `postgresql:///db?host=/socket` and `?host=x`.
    if let Some((_, h)) = params.iter().find(|(k, _)| k == "host") {
        hosts = h
            .split(',')
            .map(strip_port)
            .filter(|h| !h.is_empty())
            .collect();
    }
    let user = user.or_else(|| {
        params
            .iter()
            .find(|(k, _)| k == "user")
            .map(|(_, v)| v.clone())
    });
    let database = after
        .strip_prefix('/')
        .map(|p| p.split(['?', '#']).next().unwrap_or(p))
        .filter(|d| !d.is_empty())
        .map(percent_decode)
        .or_else(|| {
            params
                .iter()
                .find(|(k, _)| k == "dbname")
                .map(|(_, v)| v.clone())
        });
    Some(Endpoint {
        hosts,
        engine,
        user,
        database,
        params,
    })
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split(['&', ';'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_ascii_lowercase(), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(h) = u8::from_str_radix(hex, 16)
        {
            out.push(h);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn strip_port(h: &str) -> String {
    let h = h.trim();
    let h = if let Some(inner) = h.strip_prefix('[') {
        inner.split(']').next().unwrap_or(inner)
    } else {
        h.rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map(|(h, _)| h)
            .unwrap_or(h)
    };
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// libpq / pgx key/value strings: `host=db port=5432 dbname=app pool_max_conns=10`.
fn parse_keyvalue(v: &str) -> Option<Endpoint> {
    let mut params = Vec::new();
    let mut rest = v.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_ascii_lowercase();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(q) = rest.strip_prefix('\'') {
            let mut val = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(n);
                        }
                    }
                    '\'' => {
                        end = i + 1;
                        break;
                    }
                    c => val.push(c),
                }
            }
            value = val;
            rest = q[end.min(q.len())..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            value = rest[..end].to_string();
            rest = rest[end..].trim_start();
        }
        params.push((key, value));
    }
    let known = [
        "host", "hostaddr", "dbname", "user", "port", "password", "sslmode",
    ];
    let host = params
        .iter()
        .find(|(k, _)| k == "host" || k == "hostaddr")?;
    if params
        .iter()
        .filter(|(k, _)| known.contains(&k.as_str()))
        .count()
        < 2
    {
        return None;
    }
    let hosts = host
        .1
        .split(',')
        .map(strip_port)
        .filter(|h| !h.is_empty())
        .collect();
    let user = params
        .iter()
        .find(|(k, _)| k == "user")
        .map(|(_, v)| v.clone());
    let database = params
        .iter()
        .find(|(k, _)| k == "dbname")
        .map(|(_, v)| v.clone());
    Some(Endpoint {
        hosts,
        engine: EngineHint::Postgres,
        user,
        database,
        params,
    })
}

/// ADO.NET connection strings: `Host=db;Port=5432;Database=app;Maximum Pool Size=50`.
fn parse_adonet(v: &str) -> Option<Endpoint> {
    let mut params = Vec::new();
    for part in v.split(';') {
        let Some((k, val)) = part.split_once('=') else {
            continue;
        };
        params.push((
            k.trim().to_ascii_lowercase(),
            val.trim().trim_matches(['"', '\'']).to_string(),
        ));
    }
    let host = params.iter().find(|(k, _)| {
        matches!(
            k.as_str(),
            "host" | "server" | "data source" | "datasource" | "address" | "addr"
        )
    })?;
    let raw = host.1.trim_start_matches("tcp:");
    // SQL Server style `host,port`; Npgsql allows `h1,h2` for multiple hosts.
    let hosts = raw
        .split(',')
        .filter(|h| !h.trim().bytes().all(|b| b.is_ascii_digit()))
        .map(strip_port)
        .filter(|h| !h.is_empty())
        .collect();
    let engine = if params.iter().any(|(k, _)| k == "host") {
        EngineHint::Postgres
    } else {
        EngineHint::Unknown
    };
    let user = params
        .iter()
        .find(|(k, _)| {
            matches!(
                k.as_str(),
                "username" | "user id" | "userid" | "user" | "uid"
            )
        })
        .map(|(_, v)| v.clone());
    let database = params
        .iter()
        .find(|(k, _)| matches!(k.as_str(), "database" | "initial catalog" | "db"))
        .map(|(_, v)| v.clone());
    Some(Endpoint {
        hosts,
        engine,
        user,
        database,
        params,
    })
}

/// A normalised Kubernetes service reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRef {
    /// Service name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Leading pod name (`db-0` in `db-0.db.ns.svc`), when present.
    pub pod: Option<String>,
}

/// Candidate services a host may name, most likely first. `svc`, `svc.ns`, `svc.ns.svc`,
/// `svc.ns.svc.cluster.local` and `pod.svc.ns.svc.cluster.local` all resolve.
pub fn service_candidates(host: &str, own_ns: &str) -> Vec<ServiceRef> {
    let h = host.trim_end_matches('.');
    let h = h.strip_suffix(".cluster.local").unwrap_or(h);
    let labels: Vec<&str> = h.split('.').collect();
    let svc = |name: &str, ns: &str, pod: Option<&str>| ServiceRef {
        name: name.to_string(),
        namespace: ns.to_string(),
        pod: pod.map(str::to_string),
    };
    match labels.as_slice() {
        [name] => vec![svc(name, own_ns, None)],
        [name, ns] => vec![svc(name, ns, None), svc(ns, own_ns, Some(name))],
        [name, ns, "svc"] => vec![svc(name, ns, None)],
        [pod, name, ns, "svc"] => vec![svc(name, ns, Some(pod))],
        [pod, name, ns] => vec![svc(name, ns, Some(pod))],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_every_common_form() {
        let e = parse("postgres://app:pw@auth-db-rw.prod.svc:5432/auth?sslmode=require").unwrap();
        assert_eq!(e.hosts, vec!["auth-db-rw.prod.svc"]);
        assert_eq!(e.user.as_deref(), Some("app"));
        assert_eq!(e.engine, EngineHint::Postgres);
        let e = parse("jdbc:postgresql://h1:5432,h2:5433/db?targetServerType=primary").unwrap();
        assert_eq!(e.hosts, vec!["h1", "h2"]);
        let e = parse("mysql://root@[::1]:3306/x").unwrap();
        assert_eq!(e.hosts, vec!["::1"]);
        assert_eq!(e.engine, EngineHint::Mysql);
        let e = parse("postgresql:///app?host=pg&pool_max_conns=10").unwrap();
        assert_eq!(e.hosts, vec!["pg"]);
        assert!(e.params.contains(&("pool_max_conns".into(), "10".into())));
        assert!(parse("https://example.com").is_none());
        assert!(parse("hello").is_none());
    }

    #[test]
    fn keyvalue_and_adonet_strings() {
        let e = parse("host=orders-db port=5432 dbname=orders password='a b' pool_max_conns=8")
            .unwrap();
        assert_eq!(e.hosts, vec!["orders-db"]);
        assert!(e.params.contains(&("pool_max_conns".into(), "8".into())));
        let e = parse("Host=pg.ns;Port=5432;Database=x;Username=u;Password=p;Maximum Pool Size=50")
            .unwrap();
        assert_eq!(e.hosts, vec!["pg.ns"]);
        assert!(
            e.params
                .contains(&("maximum pool size".into(), "50".into()))
        );
        assert!(parse("a=b").is_none());
    }

    #[test]
    fn host_forms_resolve_to_services() {
        let c = |h| service_candidates(h, "app");
        assert_eq!(c("db")[0].name, "db");
        assert_eq!(c("db")[0].namespace, "app");
        assert_eq!(c("db.data")[0].namespace, "data");
        assert_eq!(c("db.data.svc")[0].name, "db");
        assert_eq!(c("db.data.svc.cluster.local")[0].namespace, "data");
        let p = &c("pg-0.pg.data.svc.cluster.local")[0];
        assert_eq!((p.name.as_str(), p.pod.as_deref()), ("pg", Some("pg-0")));
        assert!(c("orders.abc.eu-west-1.rds.amazonaws.com").is_empty());
    }
}
