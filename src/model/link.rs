//! Linking: container → endpoint → Service → database, and each link's pool size.

use std::path::Path;

use super::endpoint::{self, Endpoint};
use super::env::{self, Env};
use super::mounts;
use super::objects::{Index, Object};
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
}

/// Database a link resolves to.
enum Target {
    Database(usize),
    Unresolved(String),
}

/// Links every non-server workload to the databases it reaches.
pub fn link(
    files: &[LoadedFile],
    db: &SourceDb,
    idx: &Index,
    ops: &Operators,
    workloads: &[Source],
    config: &Config,
    model: &mut Model,
) {
    let root = config
        .file
        .map(|f| {
            Path::new(&db.get(f).path)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let servers: Vec<usize> = model
        .databases
        .iter()
        .filter_map(|d| d.server_workload)
        .collect();
    for w in workloads {
        if servers.contains(&w.index) {
            continue;
        }
        link_workload(files, db, idx, ops, w, config, &root, model);
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
    model: &mut Model,
) {
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
    let ann_pool = ann_int(ANN_POOL_MAX, 0, &mut model.diagnostics);
    let ann_procs = ann_int(ANN_PROCESSES, 1, &mut model.diagnostics);
    let ann_conn = ann_int(ANN_CONN_POD, 0, &mut model.diagnostics);
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
    let attached = mounts::attached(&attach, root, files, &mut model.diagnostics, &wid);

    let mut demands: Vec<(usize, ContainerDemand)> = Vec::new();
    let mut unresolved_any = false;
    let mut first_main: Option<(ContainerDemand, bool)> = None;
    let containers = containers_of(w.pod_spec);
    for (c, init) in containers {
        let cname_node = c.get("name");
        let cname = cname_node.and_then(Node::as_str).unwrap_or("").to_string();
        let cspan = cname_node.map(|n| n.span).unwrap_or(w.object.name_span);
        let env = env::resolve(c, ns, idx, &ops.secrets);
        let args = args_of(c, &env);
        let mut cfiles = mounts::mounted(c, w.pod_spec, ns, idx, db, &mut model.diagnostics);
        cfiles.extend(attached.iter().cloned());
        let image = c.get("image").and_then(Node::as_str).unwrap_or("");
        let ctx = Ctx {
            env: &env,
            args: &args,
            files: &cfiles,
            image,
        };
        let pool = stacks::detect(&ctx);
        let mut found = endpoints_in_env(
            &env,
            &cname,
            &wid,
            declared_db.is_none(),
            &mut model.diagnostics,
        );
        if let Some(p) = &pool {
            for e in &p.endpoints {
                if let Some(ep) = endpoint::parse(&e.value) {
                    found.push(Found {
                        endpoint: ep,
                        span: e.span,
                        what: format!("`{}`", e.key),
                    });
                }
            }
        }
        // Resolve every endpoint; one demand per distinct database.
        let mut targets: Vec<(usize, Span)> = Vec::new();
        for f in &found {
            match resolve(&f.endpoint, ns, idx, config, model) {
                Target::Database(d) => {
                    if !targets.iter().any(|(t, _)| *t == d) {
                        targets.push((d, f.span));
                    }
                }
                Target::Unresolved(host) => {
                    unresolved_any = true;
                    if declared_db.is_none() {
                        model.diagnostics.push(
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
        let make = |endpoint: Span| ContainerDemand {
            container: cname.clone(),
            span: cspan,
            init,
            stack,
            pool_max: pool_max.clone(),
            processes: processes.clone(),
            endpoint,
            settings: pool
                .as_ref()
                .map(|p| p.settings.clone())
                .unwrap_or_default(),
        };
        if !init && first_main.is_none() {
            first_main = Some((make(cspan), pool.is_some()));
        }
        for (d, span) in targets {
            demands.push((d, make(span)));
            if pool_max.is_none() && ann_conn.is_none() && cfg_conn.is_none() {
                report_unknown_pool(model, &wid, &cname, span, d, unknown.clone());
            }
        }
    }
    // A declared database links the workload when its endpoint could not be resolved (or
    // none was found at all).
    if let Some((id, span)) = &declared_db
        && (unresolved_any || demands.is_empty())
    {
        match model.databases.iter().position(|d| &d.id == id) {
            Some(d) => {
                if let Some((mut demand, _)) = first_main.clone() {
                    demand.endpoint = *span;
                    if !demands.iter().any(|(x, _)| *x == d) {
                        if demand.pool_max.is_none() && ann_conn.is_none() && cfg_conn.is_none() {
                            report_unknown_pool(model, &wid, &demand.container, *span, d, None);
                        }
                        demands.push((d, demand));
                    }
                }
            }
            None => model.diagnostics.push(
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
    let mut by_db: Vec<Client> = Vec::new();
    for (d, demand) in demands {
        match by_db.iter_mut().find(|c| c.database == d) {
            Some(c) => c.containers.push(demand),
            None => by_db.push(Client {
                workload: w.index,
                database: d,
                containers: vec![demand],
                conn_pod_override: conn_override.clone(),
            }),
        }
    }
    model.clients.extend(by_db);
}

fn report_unknown_pool(
    model: &mut Model,
    wid: &str,
    container: &str,
    span: Span,
    d: usize,
    unknown: Option<(Span, String)>,
) {
    let dbid = model.databases[d].id.clone();
    let (span, why) = match unknown {
        Some((s, why)) => (s, why),
        None => (
            span,
            "no supported stack was recognised in its env, args or config files".to_string(),
        ),
    };
    model.diagnostics.push(
        Diagnostic::new(
            "unresolved-pool-size",
            Severity::Warning,
            span,
            format!("cannot tell how many connections container `{container}` of {wid} opens to {dbid}: {why}"),
        )
        .with_label("links to the database here")
        .help("annotate the pod template with `poolguard.dev/pool-max: \"N\"` (and `poolguard.dev/processes`), or set `pool_max` under `workloads:` in poolguard.yaml")
        .database(dbid)
        .workload(wid),
    );
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
                            params: Vec::new(),
                        },
                        span: v.span,
                        what: format!("`{}`", v.name),
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
fn resolve(ep: &Endpoint, ns: &str, idx: &Index, config: &Config, model: &Model) -> Target {
    let Some(first) = ep.hosts.first() else {
        return Target::Unresolved("(no host)".into());
    };
    for host in &ep.hosts {
        if let Some(d) = resolve_host(host, ns, idx, config, model, 0) {
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
        if let Some(d) = model.databases.iter().position(|d| {
            d.services
                .iter()
                .any(|(sns, sn)| *sns == cand.namespace && *sn == cand.name)
        }) {
            return Some(d);
        }
        // An ExternalName Service forwards to another host.
        if depth < 4
            && let Some(svc) = service(idx, &cand.namespace, &cand.name)
            && let Some(ext) = svc
                .node
                .path(&["spec", "externalName"])
                .and_then(Node::as_str)
            && let Some(d) = resolve_host(
                &ext.to_ascii_lowercase(),
                &cand.namespace,
                idx,
                config,
                model,
                depth + 1,
            )
        {
            return Some(d);
        }
    }
    None
}

fn service<'a>(idx: &'a Index, ns: &str, name: &str) -> Option<&'a Object<'a>> {
    idx.objects.iter().find(|o| {
        o.kind == "Service" && o.group().is_empty() && o.namespace == ns && o.name == name
    })
}
