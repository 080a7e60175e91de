//! `poolguard init`: a commented starter `poolguard.yaml` from what the manifests tell.
//!
//! The repository is read as `check` reads it (walk, parse, model, budgets) with no config, so
//! the file describes the manifests alone: the databases found, each with its
//! `max_connections` and where that came from (as comments — they need no declaration), the
//! default thresholds written out, and — commented out, with `# TODO` where a number is
//! missing — a `databases:` entry for every endpoint that matches no database and a
//! `workloads:` entry for every container whose pool size is unknown.

use std::fmt::Write as _;
use std::path::Path;

use crate::capacity;
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::input::{self, Source};
use crate::model::{self, DatabaseSource};
use crate::redact::redact;
use crate::report::Origin;
use crate::source::SourceDb;
use crate::walk;

/// A generated config and what it says.
#[derive(Debug, Clone)]
pub struct Starter {
    /// The file's text.
    pub text: String,
    /// Databases found in the manifests.
    pub databases: usize,
    /// Commented-out `databases:` entries (unresolved endpoints).
    pub unresolved_databases: usize,
    /// Commented-out `workloads:` entries (unknown pool sizes).
    pub unresolved_pools: usize,
}

/// Reads everything under `dir` and writes the starter config for it. Locations in comments
/// are relative to `dir`, where the file goes.
pub fn starter(dir: &Path) -> Starter {
    let cfg = Config::default();
    let root = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let entries = walk::walk(
        std::slice::from_ref(&root),
        &root,
        &walk::ignore_set(&cfg.ignore),
    );
    // The config file and policy files are not inputs (their tests embed manifests).
    let policies = root.join("policies");
    let sources = entries
        .into_iter()
        .filter(|e| match e {
            walk::Entry::File { path, .. } => {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let config = matches!(name, "poolguard.yaml" | ".poolguard.yaml")
                    && path.parent() == Some(root.as_path());
                !config && !path.starts_with(&policies)
            }
            walk::Entry::Error { .. } => true,
        })
        .map(Source::Entry)
        .collect();
    let mut db = SourceDb::default();
    let inputs = input::load(sources, &root, &cfg.limits, &mut db);
    let m = model::build(&inputs.files, &mut db, &cfg);
    let budgets = capacity::evaluate(&m, &cfg);
    let reports = capacity::to_reports(&m, &budgets);

    let mut out = String::new();
    out.push_str(
        "# poolguard.yaml — written by `poolguard init`; edit freely.\n\
         # poolguard reads what the manifests tell (databases, poolers, replicas, pool sizes); this\n\
         # file declares only what they cannot. Every key: `poolguard schema config`.\n#\n",
    );
    let invalid = inputs
        .diagnostics
        .iter()
        .filter(|d| d.rule == "invalid-file")
        .count();
    let _ = writeln!(
        out,
        "# Read {} files{}; found {} workloads, {} {}, {} {}.",
        inputs.count,
        if invalid > 0 {
            format!(" ({invalid} could not be parsed: see `poolguard check`)")
        } else {
            String::new()
        },
        m.workloads.len(),
        reports.len(),
        plural(reports.len(), "database", "databases"),
        m.poolers.len(),
        plural(m.poolers.len(), "pooler", "poolers"),
    );
    if !reports.is_empty() {
        out.push_str("#\n# Databases found in the manifests (nothing to declare for them):\n");
    }
    for (b, r) in budgets.iter().zip(&reports) {
        let d = &m.databases[b.database];
        let from = match &d.max_connections.origin {
            Origin::At(span) => db.location(*span),
            Origin::Default(what) => (*what).to_string(),
        };
        let _ = writeln!(
            out,
            "#   {} ({}, {}): max_connections {} from {}",
            comment(&r.id),
            r.engine,
            source_name(d.source),
            r.max_connections,
            comment(&from)
        );
        let f = |v: Option<i64>| v.map_or("unknown".to_string(), |v| v.to_string());
        let _ = writeln!(
            out,
            "#     capacity {} (reserved {}, headroom {}); steady {}, rollout {}, all-rollouts {}: {}",
            r.capacity,
            r.reserved,
            r.headroom,
            f(r.steady),
            f(r.rollout),
            f(r.all_rollouts),
            r.status.as_str()
        );
        if !r.clients.is_empty() {
            const SHOWN: usize = 5;
            let mut names: Vec<String> = r
                .clients
                .iter()
                .take(SHOWN)
                .map(|c| match &c.via {
                    Some(p) => format!("{} (via {})", comment(&c.workload), comment(p)),
                    None => comment(&c.workload),
                })
                .collect();
            if r.clients.len() > SHOWN {
                names.push(format!("and {} more", r.clients.len() - SHOWN));
            }
            let _ = writeln!(out, "#     clients: {}", names.join(", "));
        }
    }
    for p in &m.poolers {
        let to = p.database.map_or("an unknown database".to_string(), |d| {
            m.databases[d].id.clone()
        });
        let _ = writeln!(
            out,
            "#   pooler {} ({}) → {}",
            comment(&p.id),
            p.kind,
            comment(&to)
        );
    }

    out.push_str(
        "\n# Warn when the gating sum passes this share of a database's capacity.\n\
         warn_utilization: 0.8\n\
         # Which sum fails the run: steady, rollout (one rollout at a time) or all-rollouts.\n\
         scenario: rollout\n",
    );

    // What could not be resolved.
    let mut findings: Vec<&Diagnostic> = m.diagnostics.iter().collect();
    findings.sort_by_key(|d| (d.primary.span.file, d.primary.span.start));
    let (dbs, notes) = unresolved_databases(&findings, &db);
    out.push('\n');
    if dbs.is_empty() && notes.is_empty() {
        out.push_str("# Every database endpoint matched a database the manifests define.\n");
    } else {
        out.push_str(
            "# Endpoints that match no database in the manifests (unresolved-database). Fill in\n\
             # max_connections (and the engine), then uncomment:\n# databases:\n",
        );
        for e in &dbs {
            let _ = writeln!(out, "#   - name: {}", quote(&e.name));
            let _ = writeln!(out, "#     # {}", comment(&e.why));
            out.push_str("#     engine: postgres  # or mysql\n");
            out.push_str("#     max_connections: # TODO\n");
            if let Some(h) = &e.host {
                let _ = writeln!(out, "#     hosts: [{}]", quote(h));
            }
        }
        for n in &notes {
            let _ = writeln!(out, "#   # {}", comment(n));
        }
    }
    let pools = unresolved_pools(&findings, &db);
    out.push('\n');
    if pools.is_empty() {
        out.push_str("# Every linked container's pool size is known.\n");
    } else {
        out.push_str(
            "# Containers whose pool size poolguard cannot tell (unresolved-pool-size). Fill in\n\
             # pool_max (connections per process; add `processes` for forking servers), then\n\
             # uncomment:\n# workloads:\n",
        );
        for (id, why) in &pools {
            let _ = writeln!(out, "#   - id: {}", quote(id));
            for w in why {
                let _ = writeln!(out, "#     # {}", comment(w));
            }
            out.push_str("#     pool_max: # TODO\n");
        }
    }
    Starter {
        text: out,
        databases: reports.len(),
        unresolved_databases: dbs.len(),
        unresolved_pools: pools.len(),
    }
}

/// A commented-out `databases:` entry.
struct DbEntry {
    name: String,
    host: Option<String>,
    why: String,
}

fn unresolved_databases(findings: &[&Diagnostic], db: &SourceDb) -> (Vec<DbEntry>, Vec<String>) {
    let mut entries: Vec<DbEntry> = Vec::new();
    let mut notes = Vec::new();
    for d in findings.iter().filter(|d| d.rule == "unresolved-database") {
        let at = db.location(d.primary.span);
        let who = d.workload.clone().unwrap_or_default();
        let host = between(&d.message, "points at `", "`")
            .or_else(|| between(&d.message, "forwards to `", "`"))
            .filter(|h| *h != "(none)");
        let linked = between(&d.message, "is linked to database `", "`");
        if let Some(host) = host {
            if entries.iter().any(|e| e.host.as_deref() == Some(host)) {
                continue;
            }
            let name = unique(&entries, &name_for(host));
            entries.push(DbEntry {
                name,
                host: Some(host.to_string()),
                why: format!("{who} connects here ({at})"),
            });
        } else if let Some(id) = linked {
            if entries.iter().any(|e| e.name == id) {
                continue;
            }
            entries.push(DbEntry {
                name: id.to_string(),
                host: None,
                why: format!("{who} is linked to it by annotation ({at})"),
            });
        } else {
            notes.push(format!("{at}: {}", d.message));
        }
    }
    (entries, notes)
}

/// Workload ids with the reasons their pool sizes are unknown.
fn unresolved_pools(findings: &[&Diagnostic], db: &SourceDb) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for d in findings.iter().filter(|d| d.rule == "unresolved-pool-size") {
        let Some(w) = &d.workload else {
            continue;
        };
        let why = format!("{} ({})", d.message, db.location(d.primary.span));
        match out.iter_mut().find(|(id, _)| id == w) {
            Some((_, whys)) => whys.push(why),
            None => out.push((w.clone(), vec![why])),
        }
    }
    out
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let rest = &s[s.find(open)? + open.len()..];
    Some(&rest[..rest.find(close)?])
}

/// A database name from a host: its first DNS label (`orders` for
/// `orders.abc.eu-west-1.rds.amazonaws.com`), or the whole address for an IP.
fn name_for(host: &str) -> String {
    let raw = if host.starts_with(|c: char| c.is_ascii_digit()) || host.contains(':') {
        format!("db-{host}")
    } else {
        host.split('.').next().unwrap_or(host).to_string()
    };
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "database".into()
    } else {
        name
    }
}

fn unique(entries: &[DbEntry], name: &str) -> String {
    let mut n = name.to_string();
    let mut i = 2;
    while entries.iter().any(|e| e.name == n) {
        n = format!("{name}-{i}");
        i += 1;
    }
    n
}

fn source_name(s: DatabaseSource) -> &'static str {
    match s {
        DatabaseSource::Declared => "declared",
        DatabaseSource::OperatorPrimary => "operator cluster",
        DatabaseSource::OperatorReplicas => "operator replicas",
        DatabaseSource::ServerWorkload => "server workload",
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// Text for a comment: one line, no control characters, secrets masked.
fn comment(s: &str) -> String {
    redact(s)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quote(s: &str) -> String {
    serde_json::to_string(&comment(s)).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_hosts() {
        assert_eq!(name_for("orders.abc.eu-west-1.rds.amazonaws.com"), "orders");
        assert_eq!(name_for("10.0.0.5"), "db-10-0-0-5");
        assert_eq!(name_for("Billing_DB"), "billing_db");
        assert_eq!(quote("a\"b\nc"), "\"a\\\"b c\"");
        assert_eq!(
            between("x points at `h.example`, which", "points at `", "`"),
            Some("h.example")
        );
    }
}
