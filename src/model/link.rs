//! Linking: container → endpoint → Service → database, and each link's pool size.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rayon::prelude::*;

use super::endpoint::{self, Endpoint};
use super::env::{self, Env};
use super::mounts;
use super::objects::Index;
use super::operators::Operators;
use super::workload::Source;
use super::{Client, ContainerDemand, DatabaseSource, Model};
use crate::config::Config;
use crate::diag::{Diagnostic, Severity};
use crate::input::LoadedFile;
use crate::parse::Node;
use crate::report::Fact;
use crate::source::{SourceDb, Span};
use crate::stacks::{self, Arg, Ctx};

/// Annotation keys (SPEC §4).
pub const ANN_POOL_MAX: &str = "poolguard.dev/pool-max";
/// Processes per container.
pub const ANN_PROCESSES: &str = "poolguard.dev/processes";
/// Connections per pod, outright.
pub const ANN_CONN_POD: &str = "poolguard.dev/connections-per-pod";
/// Database id for a workload whose endpoint cannot be resolved.
pub const ANN_DATABASE: &str = "poolguard.dev/database";
/// Repository config file attached to the workload.
pub const ANN_CONFIG: &str = "poolguard.dev/config";

/// Whether a variable name says it holds a database endpoint, even when its value is unknown.
fn is_endpoint_var(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    const PARTS: &[&str] = &[
        "DATABASE_URL",
        "DATABASE_URI",
        "DB_URL",
        "DB_URI",
        "DATASOURCE_URL",
        "JDBC_URL",
        "POSTGRES_URL",
        "POSTGRESQL_URL",
        "PG_URL",
        "PGURL",
        "MYSQL_URL",
        "_DSN",
        "CONNECTIONSTRINGS__",
        "CONNECTION_STRING",
    ];
    n == "DSN" || PARTS.iter().any(|p| n.contains(p)) || endpoint::is_host_var(name)
}

/// Where an endpoint was found.
struct Found {
    endpoint: Endpoint,
    span: Span,
    what: String,
    /// The named datasource it belongs to (see [`stacks::ConfigEndpoint::datasource`]).
    datasource: Option<stacks::Datasource>,
}

/// A destination a container's demand goes to, where it is written, and the named
/// datasource (with its own pool) when the stack has them.
type Aim<'f> = (Dest, Span, Option<&'f stacks::Datasource>);

/// Adds `f` resolved to `dest`: once per destination, or once per destination and named
/// datasource.
fn add_aim<'f>(aims: &mut Vec<Aim<'f>>, dest: Dest, f: &'f Found) {
    let ds = f.datasource.as_ref();
    let seen = aims
        .iter()
        .any(|(t, _, d)| *t == dest && (ds.is_none() || d.map(|d| &d.name) == ds.map(|d| &d.name)));
    if !seen {
        aims.push((dest, f.span, ds));
    }
}

/// Where a link resolves to.
enum Target {
    Database(usize),
    Pooler(usize),
    Unresolved(String),
}

/// A resolved destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    Db(usize),
    Pooler(usize),
}

/// Lookup tables over the databases and poolers, built once per run (linking only reads
/// them: it adds clients, never databases or pooler Services).
struct Lookup {
    /// The first database each Service reaches, by namespace, then name.
    db_by_service: HashMap<String, HashMap<String, usize>>,
    /// The first pooler each Service reaches, by namespace, then name.
    pooler_by_service: HashMap<String, HashMap<String, usize>>,
    /// The first database of each id.
    db_by_id: HashMap<String, usize>,
}

impl Lookup {
    fn new(model: &Model) -> Lookup {
        let mut l = Lookup {
            db_by_service: HashMap::new(),
            pooler_by_service: HashMap::new(),
            db_by_id: HashMap::new(),
        };
        for (i, d) in model.databases.iter().enumerate() {
            l.db_by_id.entry(d.id.clone()).or_insert(i);
            for (ns, name) in &d.services {
                l.db_by_service
                    .entry(ns.clone())
                    .or_default()
                    .entry(name.clone())
                    .or_insert(i);
            }
        }
        for (i, p) in model.poolers.iter().enumerate() {
            for (ns, name) in &p.services {
                l.pooler_by_service
                    .entry(ns.clone())
                    .or_default()
                    .entry(name.clone())
                    .or_insert(i);
            }
        }
        l
    }

    fn get(table: &HashMap<String, HashMap<String, usize>>, ns: &str, name: &str) -> Option<usize> {
        table.get(ns)?.get(name).copied()
    }
}

/// What linking one workload adds to the model, applied in workload order so the result does
/// not depend on which thread linked which workload.
#[derive(Default)]
struct Linked {
    diagnostics: Vec<Diagnostic>,
    /// (pooler, (user, database)) pairs seen, in order.
    pairs: Vec<(usize, (String, String))>,
    clients: Vec<Client>,
    pooler_clients: Vec<Client>,
}

impl Linked {
    fn apply(self, model: &mut Model) {
        model.diagnostics.extend(self.diagnostics);
        for (p, pair) in self.pairs {
            if !model.poolers[p].pairs.contains(&pair) {
                model.poolers[p].pairs.push(pair);
            }
        }
        model.clients.extend(self.clients);
        model.pooler_clients.extend(self.pooler_clients);
    }
}

/// Links every non-server workload to the databases it reaches.
#[allow(clippy::too_many_arguments)]
pub fn link(
    files: &[LoadedFile],
    db: &SourceDb,
    idx: &Index,
    ops: &Operators,
    workloads: &[Source],
    pooler_workloads: &[usize],
    config: &Config,
    model: &mut Model,
) {
    let lookup = Lookup::new(model);
    link_poolers(idx, config, &lookup, model);
    let root = config
        .file
        .map(|f| {
            Path::new(&db.get(f).path)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let skip: HashSet<usize> = model
        .databases
        .iter()
        .filter_map(|d| d.server_workload)
        .chain(pooler_workloads.iter().copied())
        .collect();
    let todo: Vec<&Source> = workloads
        .iter()
        .filter(|w| !skip.contains(&w.index))
        .collect();
    // Workloads are linked in parallel against the read-only model; what each adds is
    // applied afterwards in input order.
    let shared: &Model = model;
    let linked: Vec<Linked> = todo
        .par_iter()
        .map(|w| link_workload(files, db, idx, ops, w, config, &root, &lookup, shared))
        .collect();
    for l in linked {
        l.apply(model);
    }
}

#[allow(clippy::too_many_arguments)]
fn link_workload(
    files: &[LoadedFile],
    db: &SourceDb,
    idx: &Index,
    ops: &Operators,
    w: &Source,
    config: &Config,
    root: &Path,
    lookup: &Lookup,
    model: &Model,
) -> Linked {
    let mut out = Linked::default();
    let o = w.object;
    let ns = o.namespace;
    let wid = model.workloads[w.index].id.clone();
    let overrides: Vec<_> = config
        .workloads
        .iter()
        .filter(|c| c.id.is_match(&wid))
        .collect();
    let ann_int = |key: &str, min: i64, diags: &mut Vec<Diagnostic>| -> Option<Fact> {
        let n = w.annotation(key)?;
        match n.as_i64() {
            Some(v) if v >= min => Some(Fact::at(v, n.span)),
            _ => {
                diags.push(
                    Diagnostic::new(
                        "unresolved-pool-size",
                        Severity::Warning,
                        n.span,
                        format!("annotation `{key}` must be an integer ≥ {min}; it is ignored"),
                    )
                    .with_label("not a number")
                    .workload(&wid),
                );
                None
            }
        }
    };
    let ann_pool = ann_int(ANN_POOL_MAX, 0, &mut out.diagnostics);
    let ann_procs = ann_int(ANN_PROCESSES, 1, &mut out.diagnostics);
    let ann_conn = ann_int(ANN_CONN_POD, 0, &mut out.diagnostics);
    let cfg_pool = overrides.iter().rev().find_map(|c| c.pool_max.clone());
    let cfg_procs = overrides.iter().rev().find_map(|c| c.processes.clone());
    let cfg_conn = overrides
        .iter()
        .rev()
        .find_map(|c| c.connections_per_pod.clone());
    let declared_db: Option<(String, Span)> = w
        .annotation(ANN_DATABASE)
        .and_then(|n| n.as_str().map(|s| (s.trim().to_string(), n.span)))
        .or_else(|| overrides.iter().rev().find_map(|c| c.database.clone()));
    let mut attach: Vec<(String, Span)> = overrides.iter().flat_map(|c| c.config.clone()).collect();
    if let Some(n) = w.annotation(ANN_CONFIG) {
        for part in n.as_str().unwrap_or("").split(',') {
            if !part.trim().is_empty() {
                attach.push((part.trim().to_string(), n.span));
            }
        }
    }
    let attached = mounts::attached(&attach, root, files, &mut out.diagnostics, &wid);

    let mut demands: Vec<(Dest, ContainerDemand)> = Vec::new();
    let mut unresolved_any = false;
    let mut first_main: Option<(ContainerDemand, bool)> = None;
    let containers = containers_of(w.pod_spec);
    for (c, init) in containers {
        let cname_node = c.get("name");
        let cname = cname_node.and_then(Node::as_str).unwrap_or("").to_string();
        let cspan = cname_node.map(|n| n.span).unwrap_or(w.object.name_span);
        let env = env::resolve(c, ns, idx, &ops.secrets);
        let args = args_of(c, &env);
        let mut cfiles = mounts::mounted(c, w.pod_spec, ns, idx, db, &mut out.diagnostics);
        cfiles.extend(attached.iter().cloned());
        let image = c.get("image").and_then(Node::as_str).unwrap_or("");
        let ctx = Ctx {
            env: &env,
            args: &args,
            files: &cfiles,
            image,
            node_cpus: config.node_cpus.clone(),
        };
        let pool = stacks::declared::detect(&ctx, &config.stacks).or_else(|| stacks::detect(&ctx));
        let mut found = endpoints_in_env(
            &env,
            &cname,
            &wid,
            declared_db.is_none(),
            &mut out.diagnostics,
        );
        if let Some(p) = &pool {
            for e in &p.endpoints {
                // An annotation or config pool is the whole container's: then the
                // datasources' own pools do not apply.
                let datasource = e
                    .datasource
                    .clone()
                    .filter(|_| ann_pool.is_none() && cfg_pool.is_none());
                // The same value read twice (env SPRING_DATASOURCE_URL is also the stack's
                // spring.datasource.url; a datasource URL written as `${DATABASE_URL}`) is one
                // endpoint — the stack says which datasource it belongs to.
                if let Some(f) = found.iter_mut().find(|f| f.span == e.span) {
                    if f.datasource.is_none() {
                        f.datasource = datasource;
                    }
                    continue;
                }
                if let Some(ep) = endpoint::parse(&e.value) {
                    found.push(Found {
                        endpoint: ep,
                        span: e.span,
                        what: format!("`{}`", e.key),
                        datasource,
                    });
                }
            }
        }
        let superuser = superuser_login(&env, &found, &ops.secrets);
        // Resolve every endpoint; one demand per distinct database or pooler — or, for named
        // datasources, one per datasource: each opens its own pool, so two datasources on
        // one database add up there.
        let mut targets: Vec<Aim> = Vec::new();
        for f in &found {
            match resolve(&f.endpoint, ns, idx, config, lookup, model) {
                Target::Database(d) => add_aim(&mut targets, Dest::Db(d), f),
                Target::Pooler(p) => {
                    let pair = (
                        f.endpoint.user.clone().unwrap_or_else(|| "?".into()),
                        f.endpoint.database.clone().unwrap_or_else(|| "?".into()),
                    );
                    out.pairs.push((p, pair));
                    add_aim(&mut targets, Dest::Pooler(p), f);
                }
                Target::Unresolved(host) => {
                    unresolved_any = true;
                    if declared_db.is_none() {
                        out.diagnostics.push(
                            Diagnostic::new(
                                "unresolved-database",
                                Severity::Warning,
                                f.span,
                                format!(
                                    "{} of container `{cname}` in {wid} points at `{host}`, which matches no known database or pooler",
                                    f.what
                                ),
                            )
                            .with_label("endpoint")
                            .help("declare the database in poolguard.yaml (`databases: [{name, max_connections, hosts}]`) or annotate the pod template with `poolguard.dev/database`")
                            .workload(&wid),
                        );
                    }
                }
            }
        }
        // Where datasources are counted one by one, a container-wide demand on the same
        // destination (an env URL the datasource reads through a placeholder) is the same
        // connections again.
        let per_datasource: Vec<Dest> = targets
            .iter()
            .filter(|(_, _, d)| d.is_some())
            .map(|(t, _, _)| *t)
            .collect();
        targets.retain(|(t, _, d)| d.is_some() || !per_datasource.contains(t));
        let (pool_max, processes, stack, unknown) = match (&pool, &ann_pool, &cfg_pool) {
            (_, Some(a), _) => (Some(a.clone()), None, "annotation", None),
            (_, None, Some(c)) => (Some(c.clone()), None, "config", None),
            (Some(p), None, None) => (
                p.pool_max.clone(),
                Some(p.processes.clone()),
                p.stack,
                p.unknown.clone(),
            ),
            (None, None, None) => (None, None, "unknown", None),
        };
        let processes = ann_procs
            .clone()
            .or_else(|| cfg_procs.clone())
            .or(processes)
            .unwrap_or_else(|| Fact::default(1, "one process per container"));
        // A named datasource's demand has its own pool and settings; any other has the
        // container's.
        let make = |endpoint: Span, ds: Option<&stacks::Datasource>| ContainerDemand {
            container: cname.clone(),
            span: cspan,
            init,
            stack,
            pool_max: ds.map_or_else(|| pool_max.clone(), |d| d.pool.clone()),
            processes: processes.clone(),
            endpoint,
            settings: match ds {
                Some(d) => d.settings.clone(),
                None => pool
                    .as_ref()
                    .map(|p| p.settings.clone())
                    .unwrap_or_default(),
            },
            superuser: superuser.clone(),
        };
        if !init && first_main.is_none() {
            first_main = Some((make(cspan, None), pool.is_some()));
        }
        for (d, span, ds) in targets {
            let demand = make(span, ds);
            let known = demand.pool_max.is_some();
            demands.push((d, demand));
            if !known && ann_conn.is_none() && cfg_conn.is_none() {
                let target = match d {
                    Dest::Db(d) => model.databases[d].id.clone(),
                    Dest::Pooler(p) => model.poolers[p].id.clone(),
                };
                let dbid = match d {
                    Dest::Db(d) => Some(model.databases[d].id.clone()),
                    Dest::Pooler(p) => model.poolers[p]
                        .database
                        .map(|d| model.databases[d].id.clone()),
                };
                report_unknown_pool(
                    &mut out.diagnostics,
                    &wid,
                    &cname,
                    span,
                    &target,
                    dbid,
                    unknown.clone(),
                );
            }
        }
    }
    // A declared database links the workload when its endpoint could not be resolved (or
    // none was found at all).
    if let Some((id, span)) = &declared_db
        && (unresolved_any || demands.is_empty())
    {
        match lookup.db_by_id.get(id).copied() {
            Some(d) => {
                if let Some((mut demand, _)) = first_main.clone() {
                    demand.endpoint = *span;
                    if !demands.iter().any(|(x, _)| *x == Dest::Db(d)) {
                        if demand.pool_max.is_none() && ann_conn.is_none() && cfg_conn.is_none() {
                            let dbid = model.databases[d].id.clone();
                            report_unknown_pool(
                                &mut out.diagnostics,
                                &wid,
                                &demand.container,
                                *span,
                                &dbid,
                                Some(dbid.clone()),
                                None,
                            );
                        }
                        demands.push((Dest::Db(d), demand));
                    }
                }
            }
            None => out.diagnostics.push(
                Diagnostic::new(
                    "unresolved-database",
                    Severity::Warning,
                    *span,
                    format!("{wid} is linked to database `{id}`, which is not known"),
                )
                .with_label("no such database")
                .workload(&wid),
            ),
        }
    }
    let conn_override = ann_conn.or(cfg_conn);
    let mut by_dest: Vec<(Dest, Client)> = Vec::new();
    for (d, demand) in demands {
        match by_dest.iter_mut().find(|(x, _)| *x == d) {
            Some((_, c)) => c.containers.push(demand),
            None => {
                let (database, via) = match d {
                    Dest::Db(d) => (d, None),
                    Dest::Pooler(p) => (p, Some(p)),
                };
                by_dest.push((
                    d,
                    Client {
                        workload: w.index,
                        database,
                        via,
                        explain: None,
                        containers: vec![demand],
                        conn_pod_override: conn_override.clone(),
                    },
                ));
            }
        }
    }
    for (d, c) in by_dest {
        match d {
            Dest::Db(_) => out.clients.push(c),
            Dest::Pooler(p) => {
                // Listed with the pooler's database (for the report), counted against the pooler.
                if let Some(db) = model.poolers[p].database {
                    out.clients.push(Client {
                        database: db,
                        ..c.clone()
                    });
                }
                out.pooler_clients.push(c);
            }
        }
    }
    out
}

/// Whether a container logs in as a superuser: `postgres`/`root` in an endpoint, or
/// credentials from an operator's superuser Secret (CNPG `-superuser`, Zalando `postgres.…`).
fn superuser_login(
    env: &Env,
    found: &[Found],
    generated: &[super::operators::GeneratedSecret],
) -> Option<(Span, String)> {
    for f in found {
        if let Some(u) = &f.endpoint.user
            && (u == "postgres" || u == "root")
        {
            return Some((f.span, format!("{} logs in as `{u}`", f.what)));
        }
    }
    for v in &env.vars {
        if let Some(name) = &v.secret_name
            && generated.iter().any(|g| g.superuser && &g.name == name)
        {
            return Some((
                v.span,
                format!("`{}` comes from the superuser Secret `{name}`", v.name),
            ));
        }
    }
    None
}

/// Resolves each pooler's upstream hosts to its database.
fn link_poolers(idx: &Index, config: &Config, lookup: &Lookup, model: &mut Model) {
    for p in 0..model.poolers.len() {
        let ns = model.workloads[model.poolers[p].workload].namespace.clone();
        let upstream = model.poolers[p].upstream.clone();
        let mut unresolved = None;
        for (host, span) in &upstream {
            match resolve_host(host, &ns, idx, config, lookup, model, 0) {
                Some(d) => {
                    model.poolers[p].database = Some(d);
                    break;
                }
                None => unresolved = unresolved.or(Some((host.clone(), *span))),
            }
        }
        if model.poolers[p].database.is_some() {
            continue;
        }
        let id = model.poolers[p].id.clone();
        let (span, message) = match unresolved {
            Some((host, span)) => (
                span,
                format!("pooler {id} forwards to `{host}`, which matches no known database"),
            ),
            None => (
                model.poolers[p].span,
                format!(
                    "pooler {id} names no upstream database (no pgbouncer.ini `[databases]` entry, no DATABASE_URL / DB_HOST)"
                ),
            ),
        };
        model.diagnostics.push(
            Diagnostic::new("unresolved-database", Severity::Warning, span, message)
            .with_label("upstream")
            .help("declare the database in poolguard.yaml (`databases: [{name, max_connections, hosts}]`)")
            .workload(id),
        );
    }
}

fn report_unknown_pool(
    diagnostics: &mut Vec<Diagnostic>,
    wid: &str,
    container: &str,
    span: Span,
    target: &str,
    dbid: Option<String>,
    unknown: Option<(Span, String)>,
) {
    let (span, why) = match unknown {
        Some((s, why)) => (s, why),
        None => (
            span,
            "no supported stack was recognised in its env, args or config files".to_string(),
        ),
    };
    let mut d = Diagnostic::new(
        "unresolved-pool-size",
        Severity::Warning,
        span,
        format!("cannot tell how many connections container `{container}` of {wid} opens to {target}: {why}"),
    )
    .with_label("links to the database here")
    .help("annotate the pod template with `poolguard.dev/pool-max: \"N\"` (and `poolguard.dev/processes`), or set `pool_max` under `workloads:` in poolguard.yaml")
    .workload(wid);
    d.database = dbid;
    diagnostics.push(d);
}

/// Containers with whether each is a classic init container. Native sidecars
/// (`restartPolicy: Always` init containers) run beside the app and count as main.
fn containers_of(pod_spec: &Node) -> Vec<(&Node, bool)> {
    let mut out = Vec::new();
    for c in pod_spec
        .get("initContainers")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        let sidecar = c.get("restartPolicy").and_then(Node::as_str) == Some("Always");
        out.push((c, !sidecar));
    }
    for c in pod_spec
        .get("containers")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        out.push((c, false));
    }
    out
}

/// `command` then `args`, `$(VAR)`-expanded.
fn args_of(c: &Node, env: &Env) -> Vec<Arg> {
    let mut out = Vec::new();
    for key in ["command", "args"] {
        for a in c.get(key).and_then(Node::as_seq).unwrap_or(&[]) {
            if let Some(t) = a.as_str() {
                out.push(Arg {
                    text: env::expand(t, env).unwrap_or_else(|| t.to_string()),
                    span: a.span,
                });
            }
        }
    }
    out
}

/// Endpoints in a container's env. Variables that look like endpoints but whose value is
/// unknown are reported when `report_unknown` (no database is declared for the workload).
fn endpoints_in_env(
    env: &Env,
    cname: &str,
    wid: &str,
    report_unknown: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Found> {
    let mut out = Vec::new();
    for v in &env.vars {
        match &v.value {
            Some(value) => {
                if let Some(ep) = endpoint::parse(value) {
                    out.push(Found {
                        endpoint: ep,
                        span: v.span,
                        what: format!("`{}`", v.name),
                        datasource: None,
                    });
                } else if endpoint::is_host_var(&v.name)
                    && !value.trim().is_empty()
                    && !value.contains("$(")
                {
                    out.push(Found {
                        endpoint: Endpoint {
                            hosts: vec![value.trim().to_ascii_lowercase()],
                            engine: endpoint::EngineHint::Unknown,
                            user: None,
                            database: None,
                            params: Vec::new(),
                        },
                        span: v.span,
                        what: format!("`{}`", v.name),
                        datasource: None,
                    });
                }
            }
            None if report_unknown && is_endpoint_var(&v.name) => {
                diags.push(
                    Diagnostic::new(
                        "unresolved-database",
                        Severity::Warning,
                        v.span,
                        format!(
                            "`{}` of container `{cname}` in {wid} looks like a database endpoint but its value is unknown: {}",
                            v.name,
                            v.unknown_reason.as_deref().unwrap_or("set at run time")
                        ),
                    )
                    .with_label("value not in the repository")
                    .help("add the ConfigMap/Secret to the scanned files, or annotate the pod template with `poolguard.dev/database`")
                    .workload(wid),
                );
            }
            None => {}
        }
    }
    out
}

/// Resolves an endpoint's first resolvable host to a database.
fn resolve(
    ep: &Endpoint,
    ns: &str,
    idx: &Index,
    config: &Config,
    lookup: &Lookup,
    model: &Model,
) -> Target {
    let Some(first) = ep.hosts.first() else {
        return Target::Unresolved("(no host)".into());
    };
    for host in &ep.hosts {
        if let Some(p) = resolve_pooler(host, ns, lookup) {
            return Target::Pooler(p);
        }
        if let Some(d) = resolve_host(host, ns, idx, config, lookup, model, 0) {
            return Target::Database(d);
        }
    }
    Target::Unresolved(first.clone())
}

fn resolve_host(
    host: &str,
    ns: &str,
    idx: &Index,
    config: &Config,
    lookup: &Lookup,
    model: &Model,
    depth: usize,
) -> Option<usize> {
    // Declared host globs first: they are the user's word.
    for d in &config.databases {
        if d.hosts.iter().any(|g| g.is_match(host)) {
            return model
                .databases
                .iter()
                .position(|m| m.id == d.name && m.source == DatabaseSource::Declared);
        }
    }
    for cand in endpoint::service_candidates(host, ns) {
        if let Some(d) = Lookup::get(&lookup.db_by_service, &cand.namespace, &cand.name) {
            return Some(d);
        }
        // An ExternalName Service forwards to another host.
        if depth < 4
            && let Some(svc) = idx.service(&cand.namespace, &cand.name)
            && let Some(ext) = svc
                .node
                .path(&["spec", "externalName"])
                .and_then(Node::as_str)
            && let Some(d) = resolve_host(
                &ext.to_ascii_lowercase(),
                &cand.namespace,
                idx,
                config,
                lookup,
                model,
                depth + 1,
            )
        {
            return Some(d);
        }
    }
    None
}

/// A pooler whose Service the host names.
fn resolve_pooler(host: &str, ns: &str, lookup: &Lookup) -> Option<usize> {
    endpoint::service_candidates(host, ns)
        .iter()
        .find_map(|cand| Lookup::get(&lookup.pooler_by_service, &cand.namespace, &cand.name))
}
